"""The GENNAPE predictor (Mills et al., AAAI-23): CG encoder, contrastive pretraining, fuzzy C-means,
per-cluster MLP heads, the FLOPs-aware target and the 6-member ensemble.

``GENNAPEPredictor`` is registered as ``"gennape"``; importing this package also registers the
k-GNN baseline ``"kgnn"``.
"""

from __future__ import annotations

from gennape_naslib.predictors.gennape.predictor import (
    ALL_MEMBERS,
    DEFAULT_MEMBERS,
    FAST_MEMBERS,
    GENNAPEPredictor,
)
from gennape_naslib.predictors.kgnn import KGNNPredictor

__all__ = ["ALL_MEMBERS", "DEFAULT_MEMBERS", "FAST_MEMBERS", "GENNAPEPredictor", "KGNNPredictor"]
