"""Ranking and regression metrics for performance predictors.

Conventions shared by every function here:

* ``y_true`` are the measured accuracies, ``y_pred`` the predictor's outputs (scores), both 1-D and
  of equal length. Correlations are **signed**: a predictor that ranks architectures in reverse
  gets a negative value (no ``abs()`` anywhere).
* NaN in either input raises :class:`ValueError` (filter rows first; silently dropping them would
  hide a broken predictor). ``+/-inf`` is allowed in *predictions* for the rank metrics (it orders
  like any other value) and rejected by the regression metrics.
* Undefined results are ``nan`` and never an exception: fewer than two items, or a constant input
  for a correlation (its rank variance is zero), or a constant ``y_true`` for NDCG (no relevance
  scale). Callers average with ``nanmean`` and report the count of undefined values.

The GENNAPE-specific metrics (:func:`gennape_tau`, :func:`ndcg_at_k`) follow the definitions of the
GENNAPE reference code's final report (GENNAPE_FACTS 2.10a); the NASLib ones (:func:`precision_at_k`,
:func:`rmse`) follow NASLib's predictor evaluator with its known bugs fixed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

__all__ = [
    "ERROR_METRICS",
    "RANK_METRICS",
    "evaluate_predictions",
    "gennape_tau",
    "kendall_tau",
    "mae",
    "mape",
    "ndcg_at_k",
    "pearson",
    "precision_at_k",
    "rmse",
    "spearman",
    "to_fraction",
]

ArrayLike = Sequence[float] | np.ndarray


def _pair(y_true: ArrayLike, y_pred: ArrayLike, *, finite_pred: bool = False) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64).reshape(-1)
    p = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} values but y_pred has {p.size}")
    if np.isnan(t).any() or np.isinf(t).any():
        raise ValueError(f"y_true has {int((~np.isfinite(t)).sum())} non-finite values (NaN/inf); filter them first")
    if np.isnan(p).any():
        raise ValueError(f"y_pred has {int(np.isnan(p).sum())} NaN values; filter them first")
    if finite_pred and np.isinf(p).any():
        raise ValueError(f"y_pred has {int(np.isinf(p).sum())} infinite values; regression errors are undefined")
    return t, p


def _is_constant(x: np.ndarray) -> bool:
    return bool(x.size == 0 or np.all(x == x[0]))


def _rankable(p: np.ndarray) -> np.ndarray:
    # Ranks of +/-inf are well defined; scipy's correlation routines choke on inf, so map them to
    # values just outside the finite range (this keeps the order and the ties).
    if not np.isinf(p).any():
        return p
    finite = p[np.isfinite(p)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    span = max(hi - lo, 1.0)
    return np.where(p == np.inf, hi + span, np.where(p == -np.inf, lo - span, p))


# ---------------------------------------------------------------------- correlations
def spearman(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Signed Spearman rank correlation (``scipy.stats.spearmanr``, average ranks for ties).

    Returns:
        The coefficient in [-1, 1]; ``nan`` for fewer than 2 items or a constant input.
    """
    t, p = _pair(y_true, y_pred)
    if t.size < 2 or _is_constant(t) or _is_constant(p):
        return float("nan")
    return float(stats.spearmanr(t, _rankable(p)).statistic)


def kendall_tau(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Signed Kendall tau-b (``scipy.stats.kendalltau``), as NASLib's ``kendalltau``.

    Returns:
        The coefficient in [-1, 1]; ``nan`` for fewer than 2 items or a constant input.
    """
    t, p = _pair(y_true, y_pred)
    if t.size < 2 or _is_constant(t) or _is_constant(p):
        return float("nan")
    return float(stats.kendalltau(t, _rankable(p)).statistic)


def pearson(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Signed Pearson correlation (NASLib reports its absolute value; we do not).

    Returns:
        The coefficient in [-1, 1]; ``nan`` for fewer than 2 items, a constant input or infinite predictions.
    """
    t, p = _pair(y_true, y_pred)
    if t.size < 2 or _is_constant(t) or _is_constant(p) or np.isinf(p).any():
        return float("nan")
    return float(stats.pearsonr(t, p).statistic)


def gennape_tau(y_true: ArrayLike, y_pred: ArrayLike, threshold: float = 1e-4) -> float:
    """GENNAPE's filtered pairwise Kendall-tau-like score ("KT0.0001").

    Targets, predictions and threshold are multiplied by 1e6 and targets/predictions rounded to
    integers. Items are ordered by target, descending (stable). Every pair ``(i, j)`` with ``i``
    before ``j`` votes +1 if ``pred_i >= pred_j`` else -1; when ``threshold`` is non-zero, pairs
    whose target gap ``t_i - t_j`` is below the threshold abstain. The score is the sum of votes
    over the number of voting pairs, rounded to 4 decimals.

    The threshold is meant for accuracies as **fractions** (1e-4 = 0.01 percentage points); convert
    percentages with :func:`to_fraction` first.

    Args:
        y_true: Accuracies as fractions.
        y_pred: Predicted scores (any scale; only their order after rounding at 1e-6 matters).
        threshold: Minimum target gap for a pair to count (0 counts every pair; target ties then
            count as concordant when ``pred_i >= pred_j``).

    Returns:
        The score in [-1, 1]; ``nan`` when no pair votes (fewer than 2 items, or all gaps below the threshold).
    """
    t, p = _pair(y_true, y_pred)
    if threshold < 0:
        raise ValueError(f"threshold must be >= 0, got {threshold}")
    t_int = np.round(t * 1e6)
    p_int = np.round(p * 1e6)  # inf stays inf and keeps its order
    thr = threshold * 1e6
    order = np.argsort(-t_int, kind="stable")
    t_int, p_int = t_int[order], p_int[order]
    total, voters = 0, 0
    for i in range(t_int.size - 1):  # O(n) memory per row: fine for 15,625 items
        tj, pj = t_int[i + 1 :], p_int[i + 1 :]
        vote = np.where(p_int[i] >= pj, 1, -1)
        if thr > 0:
            vote = vote[(t_int[i] - tj) >= thr]
        total += int(vote.sum())
        voters += int(vote.size)
    if voters == 0:
        return float("nan")
    return round(total / voters, 4)


# ---------------------------------------------------------------------- top-k metrics
def _dcg_tie_aware(relevance: np.ndarray, scores: np.ndarray, k: int) -> float:
    # Items tied in score share the average discount of the positions they jointly occupy
    # (McSherry & Najork 2008; scikit-learn's ndcg_score with ignore_ties=False).
    discount = 1.0 / np.log2(np.arange(relevance.size) + 2.0)
    discount[k:] = 0.0
    cumulative = np.concatenate([[0.0], np.cumsum(discount)])
    uniq, inverse = np.unique(-scores, return_inverse=True)
    group_gain = np.bincount(inverse, weights=relevance, minlength=uniq.size)
    group_size = np.bincount(inverse, minlength=uniq.size)
    ends = np.cumsum(group_size)
    starts = ends - group_size
    return float(np.sum(group_gain / group_size * (cumulative[ends] - cumulative[starts])))


def ndcg_at_k(y_true: ArrayLike, y_pred: ArrayLike, k: int = 10) -> float:
    """NDCG@k with GENNAPE's relevance: ``clip((t - min t) / (max t - min t), 0, 1) * 20``.

    Equivalent to ``sklearn.metrics.ndcg_score(relevance[None], y_pred[None], k=k, ignore_ties=False)``
    (ties in the predictions share their positions' average discount).

    Args:
        y_true: Accuracies (any scale: the relevance is min-max scaled on these items).
        y_pred: Predicted scores.
        k: Cut-off; ``k < 1`` or ``k >= n`` means all items.

    Returns:
        NDCG in [0, 1]; ``nan`` for fewer than 2 items or a constant ``y_true``.
    """
    t, p = _pair(y_true, y_pred)
    if t.size < 2 or _is_constant(t):
        return float("nan")
    k = t.size if k < 1 else min(int(k), t.size)
    relevance = np.clip((t - t.min()) / (t.max() - t.min()), 0.0, 1.0) * 20.0
    ideal = _dcg_tie_aware(np.sort(relevance)[::-1], np.arange(t.size, 0, -1, dtype=np.float64), k)
    if ideal == 0.0:
        return 0.0
    return _dcg_tie_aware(relevance, _rankable(p), k) / ideal


def precision_at_k(y_true: ArrayLike, y_pred: ArrayLike, k: int = 10) -> float:
    """Top-k overlap: ``|top-k by prediction ∩ top-k by truth| / k`` (NASLib's ``precision_k``).

    Ties are broken by a stable sort on the descending value (earlier items first), as in
    GENNAPE's ``top_overlap``.

    Args:
        k: Cut-off; clipped to the number of items.

    Returns:
        The fraction in [0, 1]; ``nan`` for no items.
    """
    t, p = _pair(y_true, y_pred)
    if t.size == 0:
        return float("nan")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    k = min(int(k), t.size)
    top_true = np.argsort(-t, kind="stable")[:k]
    top_pred = np.argsort(-_rankable(p), kind="stable")[:k]
    return len(np.intersect1d(top_true, top_pred)) / k


# ---------------------------------------------------------------------- regression errors
def mae(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute error (``nan`` for no items)."""
    t, p = _pair(y_true, y_pred, finite_pred=True)
    return float(np.mean(np.abs(t - p))) if t.size else float("nan")


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error (as ``sklearn.metrics.root_mean_squared_error``; ``nan`` for no items)."""
    t, p = _pair(y_true, y_pred, finite_pred=True)
    return float(np.sqrt(np.mean((t - p) ** 2))) if t.size else float("nan")


def mape(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute percentage error as a **fraction** (scikit-learn's definition, used by GENNAPE).

    ``mean(|t - p| / max(|t|, eps))`` with ``eps`` the float64 machine epsilon; ``nan`` for no items.
    """
    t, p = _pair(y_true, y_pred, finite_pred=True)
    if not t.size:
        return float("nan")
    return float(np.mean(np.abs(t - p) / np.maximum(np.abs(t), np.finfo(np.float64).eps)))


# ---------------------------------------------------------------------- helpers
def to_fraction(y: ArrayLike, units: str | None = None) -> np.ndarray:
    """Accuracies as fractions.

    Args:
        y: Accuracies.
        units: ``"percent"`` or ``"fraction"``; ``None`` guesses percent when any value exceeds 1.

    Raises:
        ValueError: For other units.
    """
    a = np.asarray(y, dtype=np.float64)
    return a * _fraction_factor(a, units)


def _fraction_factor(a: np.ndarray, units: str | None) -> float:
    if units is None:
        units = "percent" if a.size and np.nanmax(np.abs(a)) > 1.0 else "fraction"
    if units == "percent":
        return 0.01
    if units == "fraction":
        return 1.0
    raise ValueError(f"units must be 'percent' or 'fraction', got {units!r}")


RANK_METRICS = (
    "spearman",
    "kendall_tau",
    "pearson",
    "gennape_tau",
    "ndcg_10",
    "ndcg_50",
    "precision_10",
    "precision_20",
)
ERROR_METRICS = ("mae", "rmse", "mape")


def evaluate_predictions(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    units: str | None = None,
    regression: bool = True,
) -> dict[str, float]:
    """Every metric of a benchmark row for one set of predictions.

    Args:
        y_true: Accuracies in ``units``.
        y_pred: Predictions on the same scale (or any scores when ``regression`` is False).
        units: Units of ``y_true`` (see :func:`to_fraction`); the GENNAPE tau uses fractions, and
            predictions are scaled by the same factor.
        regression: Compute MAE/RMSE/MAPE (False for proxies, whose scores are not accuracies:
            those columns are then ``nan``).

    Returns:
        ``{"spearman", "kendall_tau", "pearson", "gennape_tau", "ndcg_10", "ndcg_50",
        "precision_10", "precision_20", "mae", "rmse", "mape"}``.
    """
    t, p = _pair(y_true, y_pred)
    factor = _fraction_factor(t, units)
    out = {
        "spearman": spearman(t, p),
        "kendall_tau": kendall_tau(t, p),
        "pearson": pearson(t, p),
        "gennape_tau": gennape_tau(t * factor, p * factor if regression else p),
        "ndcg_10": ndcg_at_k(t, p, 10),
        "ndcg_50": ndcg_at_k(t, p, 50),
        "precision_10": precision_at_k(t, p, 10) if t.size else float("nan"),
        "precision_20": precision_at_k(t, p, 20) if t.size else float("nan"),
    }
    finite = regression and bool(np.isfinite(p).all())
    out["mae"] = mae(t, p) if finite else float("nan")
    out["rmse"] = rmse(t, p) if finite else float("nan")
    out["mape"] = mape(t, p) if finite else float("nan")
    return out
