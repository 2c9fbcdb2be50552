"""Thread limits for a block of torch / BLAS work, shared by the predictors and the zero-cost proxies."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import torch

__all__ = ["threads"]


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
