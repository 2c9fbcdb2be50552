"""Fuzzy C-means in numpy (PAPER_FACTS 1.5, Eqs. 2-3).

Memberships (Eq. 2): ``U_ik = 1 / sum_j (d_ik^2 / d_ij^2)^(1/(m-1))``; centroids (Eq. 3):
``v_k = sum_i U_ik^m h_i / sum_i U_ik^m``. The two steps alternate until the largest change of a
membership is at most ``tol`` (the paper's 1e-9) or ``max_iter`` is reached. New points get
memberships from fixed centroids with Eq. 2 alone (:func:`fcm_memberships`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["fcm_fit", "fcm_memberships"]


def fcm_memberships(x: np.ndarray, centroids: np.ndarray, m: float = 2.0) -> np.ndarray:
    """Eq. 2 memberships of points ``x`` ``(n, d)`` to ``centroids`` ``(C, d)``; rows sum to 1.

    A point that coincides with a centroid gets membership 1 there (split evenly among coinciding centroids).

    Raises:
        ValueError: If ``m <= 1`` or the dimensions disagree.
    """
    if m <= 1:
        raise ValueError(f"the fuzzifier m must be > 1, got {m}")
    x = np.asarray(x, dtype=np.float64)
    v = np.asarray(centroids, dtype=np.float64)
    if x.ndim != 2 or v.ndim != 2 or x.shape[1] != v.shape[1]:
        raise ValueError(f"points {x.shape} and centroids {v.shape} must be 2-D with the same width")
    d2 = ((x[:, None, :] - v[None, :, :]) ** 2).sum(-1)
    zero = d2 <= 1e-300
    d2 = np.maximum(d2, 1e-300)
    # U_ik = d_ik^(-2/(m-1)) / sum_j d_ij^(-2/(m-1)), computed in log space for stability.
    logw = -np.log(d2) / (m - 1.0)
    logw -= logw.max(axis=1, keepdims=True)
    u = np.exp(logw)
    u /= u.sum(axis=1, keepdims=True)
    rows = zero.any(axis=1)
    if rows.any():
        u[rows] = zero[rows] / zero[rows].sum(axis=1, keepdims=True)
    return u


def fcm_fit(
    x: np.ndarray,
    n_clusters: int,
    m: float = 2.0,
    tol: float = 1e-9,
    max_iter: int = 300,
    random_state: int | None = 0,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Fit fuzzy C-means.

    Args:
        x: Points ``(n, d)``.
        n_clusters: Number of clusters ``C`` (at most ``n``).
        m: Fuzzifier (> 1).
        tol: Stop when ``max |U(t+1) - U(t)| <= tol``.
        max_iter: Iteration cap.
        random_state: Seed of the initial memberships.

    Returns:
        ``(centroids (C, d), memberships (n, C), iterations)``.

    Raises:
        ValueError: If ``n_clusters`` is not in ``1..n`` or ``m <= 1``.
    """
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if not 1 <= n_clusters <= n:
        raise ValueError(f"n_clusters must be between 1 and the number of points ({n}), got {n_clusters}")
    if m <= 1:
        raise ValueError(f"the fuzzifier m must be > 1, got {m}")
    rng = np.random.default_rng(random_state)
    u = rng.random((n, n_clusters))
    u /= u.sum(axis=1, keepdims=True)
    iterations = 0
    v = np.zeros((n_clusters, x.shape[1]))
    for _ in range(max_iter):
        iterations += 1
        um = u**m
        v = (um.T @ x) / np.maximum(um.sum(axis=0)[:, None], 1e-300)
        u_new = fcm_memberships(x, v, m)
        delta = np.abs(u_new - u).max()
        u = u_new
        if delta <= tol:
            break
    return v, u, iterations
