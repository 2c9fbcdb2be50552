"""Predict many architectures on several CPU cores: the input is cut into ``n_jobs`` contiguous parts,
``n_jobs - 1`` of them predicted by forked worker processes (each with one torch thread) while the
calling process predicts the last one, then put back in order.

One process per core beats one process with several torch threads here: the GNN's per-batch work is
small, so threads mostly wait on each other, while processes also split the CG construction, which is
pure Python. Workers are forked (Linux, macOS with ``fork``), so they share the fitted predictor and its
caches without pickling it; where ``fork`` is unavailable the prediction runs in this process.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
from typing import Any

import numpy as np

__all__ = ["predict_parallel"]

_JOB: dict[str, Any] = {}


def _work(bounds: tuple[int, int]) -> Any:
    from gennape_naslib._threads import threads

    start, stop = bounds
    with threads(1):
        return _JOB["predictor"].predict(_JOB["X"][start:stop], **_JOB["kwargs"])


def predict_parallel(
    predictor: Any,
    X: Any,
    n_jobs: int | None = None,
    family: Any = None,
    return_std: bool = False,
    min_per_job: int = 256,
) -> Any:
    """``predictor.predict(X, family=..., return_std=...)`` split over ``n_jobs`` processes.

    Args:
        predictor: A fitted predictor.
        X: A sequence of architectures (anything the predictor accepts).
        n_jobs: Worker processes (``None``: the CPUs this process may use; 1: no workers).
        family: Passed to ``predict``.
        return_std: Passed to ``predict``; then ``(mean, std)`` is returned.
        min_per_job: Fewer architectures per worker than this are not worth a process.

    Returns:
        What ``predict`` returns for all of ``X``, in the order of ``X``.

    Raises:
        ValueError: If ``n_jobs`` is below 1.
    """
    if n_jobs is None:
        n_jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be >= 1, got {n_jobs}")
    X = list(X)
    kwargs: dict[str, Any] = {"family": family}
    if return_std:
        kwargs["return_std"] = True
    n_jobs = min(n_jobs, max(1, len(X) // max(1, min_per_job)))
    if n_jobs == 1 or "fork" not in mp.get_all_start_methods():
        return predictor.predict(X, **kwargs)
    predictor.predict(X[:1], **kwargs)  # fill the predictor's per-family caches once, before forking
    edges = np.linspace(0, len(X), n_jobs + 1).round().astype(int)
    bounds = list(zip(edges[:-1].tolist(), edges[1:].tolist()))
    _JOB.update(predictor=predictor, X=X, kwargs=kwargs)
    gc.freeze()  # the workers' garbage collector then leaves the inherited objects' pages shared
    try:
        with mp.get_context("fork").Pool(n_jobs - 1) as pool:
            pending = pool.map_async(_work, bounds[:-1])
            last = _work(bounds[-1])  # this process takes the last part instead of waiting
            parts = [*pending.get(), last]
    finally:
        gc.unfreeze()
        _JOB.clear()
    if return_std:
        return np.concatenate([m for m, _ in parts]), np.concatenate([s for _, s in parts])
    return np.concatenate([np.asarray(p) for p in parts])
