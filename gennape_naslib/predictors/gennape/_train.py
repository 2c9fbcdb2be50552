"""Small training utilities shared by the GNN predictors (seeding, threads, batching).

``threads`` lives in :mod:`gennape_naslib._threads` (the proxies use it too) and is re-exported here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from gennape_naslib._threads import threads

__all__ = ["batch_indices", "seeded", "threads"]


@contextlib.contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Run the block with torch's global RNG seeded (and restored afterwards)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0 if seed is None else int(seed) % (2**63))
        yield


def batch_indices(n: int, batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Index batches of ``range(n)``, shuffled when ``rng`` is given (the last batch may be smaller)."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    return [order[i : i + batch_size] for i in range(0, n, max(1, int(batch_size)))]


def take(records: Sequence[Any], idx: np.ndarray) -> list[Any]:
    """``[records[i] for i in idx]``."""
    return [records[int(i)] for i in idx]
