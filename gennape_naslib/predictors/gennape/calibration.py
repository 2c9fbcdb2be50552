"""Rank-preserving calibration of the ensemble score to the accuracy scale (quantile mapping).

The ensemble averages standardised member scores ``z`` (each member's score minus its mean, divided
by its std, over a reference sample). A linear map ``mean + std * z`` back to accuracy assumes the
accuracies are as symmetric as ``z``; they are not (NB-201 has a long tail of ~10 % cells), so the
linear map overshoots at the top (e.g. ~98 % predicted for the best cells, whose true accuracy is
~94 %). :class:`QuantileMap` instead sends a score to the accuracy with the same quantile:

``f(z) = (1 - blend) * Q_t(F_s(z)) + blend * (mean_t + std_t * z)``

with ``F_s`` the empirical CDF of the ensemble scores on the reference sample (plotting positions
``(i + 0.5) / n`` of the sorted scores, ties averaged), ``Q_t`` the quantile function of a target
sample on the accuracy scale (numpy's ``"hazen"`` quantiles at the same positions, linearly
interpolated between them), and ``mean_t`` / ``std_t`` the target sample's mean and std. Beyond the
smallest and largest reference score ``Q_t(F_s(.))`` continues linearly with the least-squares slope
of the quantiles against the scores over the outer ``tail`` fraction of the sorted sample (at least
2 points; computed on the sample with its ties, so that near-identical scores, e.g. of isomorphic
cells, that float rounding merges or splits barely move it), kept between 0 and the slope of the
linear map ``std_t / std_s`` (``std_s``: the scores' std), and stops one ``std_t`` beyond the target
sample's smallest and largest value, and at 0 when the target sample has no negative value (a gap such
as NB-201's ~10 % cells must not be extrapolated into negative accuracies; the top, which search cares
about, stays linear). The small linear
part (``blend``, 1e-3) makes ``f`` strictly increasing, so flat stretches of the quantile function
(ties in the target, or extrapolation with a zero slope) never merge two different scores: the
ranking of any set of architectures, and with it Spearman and Kendall tau, is exactly that of
``z``. With fewer than 3 distinct reference scores the map is the linear one alone.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LinearMap", "QuantileMap"]


def _ls_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of ``y`` on ``x``, at least 0 (0 when ``x`` is constant)."""
    dx = x - x.mean()
    var = float(dx @ dx)
    return max(0.0, float(dx @ (y - y.mean())) / var) if var > 1e-300 else 0.0


class LinearMap:
    """The linear map ``mean + std * z`` (the ``calibration="linear"`` option and the fallback).

    Args:
        mean: Accuracy at ``z = 0``.
        std: Accuracy units per score unit (> 0).
    """

    def __init__(self, mean: float, std: float) -> None:
        self.mean, self.std = float(mean), float(std)

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """``mean + std * z``."""
        return self.mean + self.std * np.asarray(z, dtype=np.float64)

    def spread(self, z: np.ndarray, s: np.ndarray) -> np.ndarray:
        """``std * |s|``."""
        return self.std * np.abs(np.asarray(s, dtype=np.float64))


class QuantileMap:
    """A strictly increasing map from ensemble scores to the accuracy scale (module docstring).

    Args:
        source: Ensemble scores on the reference sample, ``(n,)``.
        target: Accuracy-scale values whose distribution the scores are mapped onto, ``(m,)``
            (the accuracy member's predictions on the same sample, or the training accuracies).
        blend: Weight of the linear map ``mean_t + std_t * z`` (> 0 keeps the map strictly increasing).
        tail: Fraction of the sorted reference sample at each end whose least-squares slope continues
            the map beyond it.

    Raises:
        ValueError: If ``source`` or ``target`` is empty or not finite, or ``blend`` is not in (0, 1].
    """

    def __init__(self, source: np.ndarray, target: np.ndarray, blend: float = 1e-3, tail: float = 0.05) -> None:
        s = np.asarray(source, dtype=np.float64).ravel()
        t = np.asarray(target, dtype=np.float64).ravel()
        for name, v in (("source", s), ("target", t)):
            if v.size == 0 or not np.all(np.isfinite(v)):
                raise ValueError(f"QuantileMap: the {name} sample must be non-empty and finite (got {v.size} values)")
        if not 0.0 < blend <= 1.0:
            raise ValueError(f"QuantileMap: blend must be in (0, 1], got {blend}")
        self.blend = float(blend)
        self.mean = float(t.mean())
        std = float(t.std())
        self.std = std if std > 1e-12 else 1.0
        s = np.sort(s)
        positions = (np.arange(s.size) + 0.5) / s.size
        q = np.quantile(t, positions, method="hazen")
        self.knots_x, inverse = np.unique(s, return_inverse=True)
        self.knots_y = np.bincount(inverse, weights=q) / np.bincount(inverse)
        self.slope_lo = self.slope_hi = 0.0
        lowest = float(t.min()) - self.std
        if t.min() >= 0.0:  # non-negative targets (accuracies): the lower tail never crosses zero
            lowest = max(lowest, 0.0)
        self.bounds = (lowest, float(t.max()) + self.std)
        if self.knots_x.size < 3:
            self.blend = 1.0
            return
        k = max(2, int(np.ceil(tail * s.size)))
        cap = self.std / max(float(s.std()), 1e-12)
        self.slope_lo = min(cap, _ls_slope(s[:k], q[:k]))
        self.slope_hi = min(cap, _ls_slope(s[-k:], q[-k:]))

    def quantile_part(self, z: np.ndarray) -> np.ndarray:
        """``Q_t(F_s(z))`` with the linear continuation at both ends (non-decreasing)."""
        z = np.asarray(z, dtype=np.float64)
        flat = z.ravel()
        x, y = self.knots_x, self.knots_y
        out = np.interp(flat, x, y)
        lo, hi = flat < x[0], flat > x[-1]
        out[lo] = np.maximum(y[0] + self.slope_lo * (flat[lo] - x[0]), min(self.bounds[0], y[0]))
        out[hi] = np.minimum(y[-1] + self.slope_hi * (flat[hi] - x[-1]), max(self.bounds[1], y[-1]))
        return out.reshape(z.shape)

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """Map scores ``z`` (any shape) to the accuracy scale; strictly increasing in ``z``."""
        z = np.asarray(z, dtype=np.float64)
        linear = self.mean + self.std * z
        if self.blend >= 1.0:
            return linear
        return (1.0 - self.blend) * self.quantile_part(z) + self.blend * linear

    def spread(self, z: np.ndarray, s: np.ndarray) -> np.ndarray:
        """A spread ``s`` around ``z`` (score units) on the accuracy scale: ``(f(z + s) - f(z - s)) / 2``."""
        z, s = np.asarray(z, dtype=np.float64), np.abs(np.asarray(s, dtype=np.float64))
        return (self(z + s) - self(z - s)) / 2.0
