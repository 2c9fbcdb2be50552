"""Small training utilities shared by the GNN predictors (seeding, threads, batching)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["batch_indices", "seeded", "threads"]


@contextlib.contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Run the block with torch's global RNG seeded (and restored afterwards)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0 if seed is None else int(seed) % (2**63))
        yield


@contextlib.contextmanager
def threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch threads and ``n`` BLAS threads (``None``: 1).

    The graphs are small, so one thread per process is usually fastest: measured on 2 busy cores, a
    training step of 32 NB-201 graphs took 0.2 s with one thread and 2 s with two, and a 200-node
    eigendecomposition 10 ms with one BLAS thread and 100 ms with two. Raise ``n`` for large
    prediction batches on an idle machine.
    """
    old = torch.get_num_threads()
    n = 1 if n is None else max(1, min(int(n), os.cpu_count() or 1))
    torch.set_num_threads(n)
    try:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - optional
            limits: Any = contextlib.nullcontext()
        else:
            limits = threadpool_limits(n)
        with limits:
            yield
    finally:
        torch.set_num_threads(old)


def batch_indices(n: int, batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Index batches of ``range(n)``, shuffled when ``rng`` is given (the last batch may be smaller)."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    return [order[i : i + batch_size] for i in range(0, n, max(1, int(batch_size)))]


def take(records: Sequence[Any], idx: np.ndarray) -> list[Any]:
    """``[records[i] for i in idx]``."""
    return [records[int(i)] for i in idx]
