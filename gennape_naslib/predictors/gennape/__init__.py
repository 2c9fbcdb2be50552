"""The GENNAPE predictor (Mills et al., AAAI-23): CG encoder, contrastive pretraining, fuzzy C-means,
per-cluster MLP heads, the FLOPs-aware target and the 6-member ensemble.

``GENNAPEPredictor`` is registered as ``"gennape"``. ``KGNNPredictor`` (the k-GNN baseline,
``"kgnn"``, defined in :mod:`gennape_naslib.predictors.kgnn`) is also available from here; it is
imported on first access, so that either module can be imported first.
"""

from __future__ import annotations

from typing import Any

from gennape_naslib.predictors.gennape.predictor import (
    ALL_MEMBERS,
    DEFAULT_MEMBERS,
    FAST_MEMBERS,
    GENNAPEPredictor,
)

__all__ = ["ALL_MEMBERS", "DEFAULT_MEMBERS", "FAST_MEMBERS", "GENNAPEPredictor", "KGNNPredictor"]


def __getattr__(name: str) -> Any:
    if name == "KGNNPredictor":
        from gennape_naslib.predictors.kgnn import KGNNPredictor

        return KGNNPredictor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
