"""The unlabelled contrastive pool of GENNAPE's semi-supervised option (``cl_unlabeled`` / ``X_unlabeled``).

Not the paper's method: the paper pretrains the encoder contrastively (Eq. 1, no labels) on the
training family's graphs. With ``cl_unlabeled=N`` the predictor also draws ``N`` architectures with
the family's own sampler (``family.sample``; never a benchmark table, so no label is ever read) and
adds them to the contrastive pretraining and the fuzzy C-means clustering, both label-free; the
supervised heads still see only the labelled training set.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from gennape_naslib.predictors._inputs import _family_of_item
from gennape_naslib.predictors.gennape.data import GraphArrays, prepare

__all__ = ["unlabeled_pool"]


def unlabeled_pool(family: str | None, n: int, seed: int | None, X_unlabeled: Any = None) -> list[GraphArrays]:
    """Records of ``n`` family samples (drawn with ``default_rng(seed)``) followed by ``X_unlabeled``.

    Args:
        family: Family name of the training architectures (``None`` for ``ComputeGraph`` inputs:
            there is no sampler, so ``n`` is ignored with a warning).
        n: Architectures to draw with ``family.sample``.
        seed: Seed of the draws.
        X_unlabeled: Optional further architectures: ``ComputeGraph`` objects, family ``Arch`` objects of any one
            family (e.g. samples of a transfer target: they name their own family), or encodings of the
            training family.

    Raises:
        ValueError: If ``n`` is negative.
    """
    n = int(n)
    if n < 0:
        raise ValueError(f"cl_unlabeled must be >= 0, got {n}")
    pool: list[GraphArrays] = []
    if n and family is None:
        warnings.warn(
            "cl_unlabeled is ignored: X holds ComputeGraphs, so there is no family sampler "
            "(pass family=... or X_unlabeled=...)",
            UserWarning,
            stacklevel=3,
        )
    elif n:
        from gennape_naslib.predictors.base import resolve_family

        adapter = resolve_family(family)
        rng = np.random.default_rng(seed)
        pool, _ = prepare([adapter.sample(rng) for _ in range(n)], adapter)
    if X_unlabeled is not None:
        items = list(X_unlabeled)
        own = bool(items) and all(_family_of_item(item) is not None for item in items)  # Arch objects of any family
        extra, _ = prepare(items, None if own else family)
        pool = pool + extra
    return pool
