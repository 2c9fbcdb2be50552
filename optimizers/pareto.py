"""Pareto dominance, non-dominated sorting, crowding distance and hypervolume.

Every function takes the points as an ``(n, d)`` array and a per-objective direction (``maximize``:
one bool per column, or a single bool for all), so accuracy (maximised) and FLOPs or latency
(minimised) can be mixed without negating columns by hand.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["crowding_distance", "dominates", "hypervolume", "non_dominated_sort", "pareto_front_mask"]


def _as_min(points: Sequence[Sequence[float]] | np.ndarray, maximize: bool | Sequence[bool]) -> np.ndarray:
    """Points as a float array with every column turned into a minimisation."""
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2:
        raise ValueError(f"points must be an (n, d) array, got shape {pts.shape}")
    signs = np.where(np.broadcast_to(np.asarray(maximize, dtype=bool), (pts.shape[1],)), -1.0, 1.0)
    return pts * signs


def dominates(a: Sequence[float], b: Sequence[float], maximize: bool | Sequence[bool] = False) -> bool:
    """Whether ``a`` is at least as good as ``b`` in every objective and strictly better in one."""
    pts = _as_min([a, b], maximize)
    return bool(np.all(pts[0] <= pts[1]) and np.any(pts[0] < pts[1]))


def non_dominated_sort(
    points: Sequence[Sequence[float]] | np.ndarray, maximize: bool | Sequence[bool] = False
) -> np.ndarray:
    """Pareto rank of each point: 0 for the non-dominated front, 1 for the front behind it, ...

    Points containing NaN get rank ``n`` (behind every front).
    """
    pts = _as_min(points, maximize)
    n = pts.shape[0]
    ranks = np.full(n, n, dtype=np.int64)
    valid = ~np.isnan(pts).any(axis=1)
    idx = np.flatnonzero(valid)
    if idx.size == 0:
        return ranks
    sub = pts[idx]
    le = np.all(sub[:, None, :] <= sub[None, :, :], axis=2)
    lt = np.any(sub[:, None, :] < sub[None, :, :], axis=2)
    dom = le & lt  # dom[i, j]: i dominates j
    count = dom.sum(axis=0)
    remaining = np.ones(len(idx), dtype=bool)
    rank = 0
    while remaining.any():
        front = remaining & (count == 0)
        ranks[idx[front]] = rank
        remaining &= ~front
        count = count - dom[front].sum(axis=0)
        rank += 1
    return ranks


def pareto_front_mask(
    points: Sequence[Sequence[float]] | np.ndarray, maximize: bool | Sequence[bool] = False
) -> np.ndarray:
    """Boolean mask of the non-dominated points (duplicates of a front point are all kept)."""
    return non_dominated_sort(points, maximize) == 0


def crowding_distance(points: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """NSGA-II crowding distance of points of one front (boundary points get ``inf``)."""
    pts = np.asarray(points, dtype=np.float64)
    n, d = pts.shape
    dist = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for j in range(d):
        order = np.argsort(pts[:, j], kind="stable")
        col = pts[order, j]
        span = col[-1] - col[0]
        dist[order[0]] = dist[order[-1]] = np.inf
        if span > 0:
            dist[order[1:-1]] += (col[2:] - col[:-2]) / span
    return dist


def _hv_min(pts: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume of minimisation points that all strictly dominate ``ref`` (slicing over the last axis)."""
    n, d = pts.shape
    if n == 0:
        return 0.0
    if d == 1:
        return float(ref[0] - pts[:, 0].min())
    pts = pts[np.argsort(pts[:, -1], kind="stable")]
    volume = 0.0
    for i in range(n):
        upper = pts[i + 1, -1] if i + 1 < n else ref[-1]
        height = upper - pts[i, -1]
        if height > 0:
            volume += height * _hv_min(pts[: i + 1, :-1], ref[:-1])
    return volume


def hypervolume(
    points: Sequence[Sequence[float]] | np.ndarray,
    reference: Sequence[float],
    maximize: bool | Sequence[bool] = False,
) -> float:
    """Volume of objective space dominated by ``points`` and bounded by the ``reference`` point.

    Points that do not strictly improve on the reference in every objective contribute nothing;
    NaN rows are ignored. Exact (recursive slicing), meant for fronts of up to a few hundred points
    in 2-3 objectives.

    Args:
        points: ``(n, d)`` objective values.
        reference: ``d`` values, the worst corner (e.g. accuracy 0 %, the largest FLOPs of interest).
        maximize: Per-objective direction.

    Raises:
        ValueError: If ``reference`` does not have one value per objective.
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.size == 0:
        return 0.0
    pts_min = _as_min(pts, maximize)
    ref = np.asarray(reference, dtype=np.float64).reshape(-1)
    if ref.shape[0] != pts_min.shape[1]:
        raise ValueError(f"reference point has {ref.shape[0]} values for {pts_min.shape[1]} objectives")
    ref_min = _as_min(ref[None, :], maximize)[0]
    keep = ~np.isnan(pts_min).any(axis=1) & np.all(pts_min < ref_min, axis=1)
    pts_min = pts_min[keep]
    if pts_min.shape[0] == 0:
        return 0.0
    pts_min = np.unique(pts_min[non_dominated_sort(pts_min) == 0], axis=0)
    return _hv_min(pts_min, ref_min)
