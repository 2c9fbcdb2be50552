"""Giving a predictor's spread (``predict(X, return_std=True)``) a scale fitted on held-out labels.

A predictor's spread (GENNAPE's member and head disagreement, a forest's tree spread, an ensemble's
variance) says which predictions are less certain, but its *size* is not fitted to anything. The
functions here fit one factor ``c`` so that ``c * std`` behaves like the standard deviation of a
normal error on labelled architectures the predictor was not trained on:

``c = median(|y - mean| / std) / 0.6745`` (0.6745 is the median of ``|z|`` for a standard normal),

so that half of the errors fall within ``0.6745 * c * std``. The median, not the mean square, is used
because accuracy errors are heavy-tailed (a few degenerate architectures with errors of tens of
points would otherwise set the scale). Used by
:meth:`~gennape_naslib.predictors.gennape.GENNAPEPredictor.calibrate_std` (held-out labels),
``GENNAPEPredictor.finetune(..., calibrate=True)`` (out-of-fold predictions of the shots) and BANANAS'
``calibrate_std`` option (online, on the surrogate's earlier predictions).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["NORMAL_MEDIAN_ABS_Z", "coverage", "spread_scale"]

#: Median of ``|z|`` for a standard normal ``z`` (``scipy.stats.norm.ppf(0.75)``).
NORMAL_MEDIAN_ABS_Z = 0.6744897501960817


def _arrays(y: Any, mean: Any, std: Any, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    arrays = [np.asarray(v, dtype=np.float64).reshape(-1) for v in (y, mean, std)]
    if len({a.size for a in arrays}) != 1:
        raise ValueError(
            f"{where}: y, mean and std must have the same length, got {', '.join(str(a.size) for a in arrays)}"
        )
    for name, a in zip(("y", "mean", "std"), arrays):
        bad = np.flatnonzero(~np.isfinite(a))
        if bad.size:
            raise ValueError(f"{where}: {name} is not finite at index {int(bad[0])} ({a[bad[0]]})")
    if np.any(arrays[2] < 0):
        raise ValueError(f"{where}: std is negative at index {int(np.flatnonzero(arrays[2] < 0)[0])}")
    return arrays[0], arrays[1], arrays[2]


def spread_scale(y: Any, mean: Any, std: Any, where: str = "spread_scale") -> float:
    """The factor ``c`` making ``c * std`` a normal-like standard deviation of ``y - mean`` (module docstring).

    Args:
        y: True values of held-out architectures.
        mean, std: The predictor's mean and spread for them (``predict(X, return_std=True)``), in the
            units of ``y``. Pairs with ``std == 0`` carry no information on the scale and are skipped.
        where: Name used in error messages.

    Returns:
        ``c > 0``.

    Raises:
        ValueError: For inputs of different lengths, non-finite or negative values, no pair with a
            positive spread, or when more than half of the predictions are exact (a median error of
            0, e.g. the training data itself), which leaves no scale to fit.
    """
    y, mean, std = _arrays(y, mean, std, where)
    keep = std > 0
    if not np.any(keep):
        raise ValueError(f"{where}: no prediction has a positive spread ({y.size} given); nothing to calibrate")
    ratio = np.median(np.abs(y[keep] - mean[keep]) / std[keep])
    if not ratio > 0:
        raise ValueError(
            f"{where}: more than half of the {int(keep.sum())} predictions are exact (median error 0); "
            "calibrate on architectures the predictor was not trained on"
        )
    return float(ratio / NORMAL_MEDIAN_ABS_Z)


def coverage(y: Any, mean: Any, std: Any, k: float = 1.0) -> float:
    """Fraction of ``y`` within ``k`` spreads of ``mean`` (``|y - mean| <= k * std``).

    Raises:
        ValueError: As :func:`spread_scale` for bad inputs, or an empty input.
    """
    y, mean, std = _arrays(y, mean, std, "coverage")
    if y.size == 0:
        raise ValueError("coverage: no predictions given")
    return float(np.mean(np.abs(y - mean) <= k * std))
