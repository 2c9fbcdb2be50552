"""Independently trained copies of a ``GENNAPEPredictor`` (``n_repeats``; a deep ensemble, not the paper's).

With ``n_repeats=R`` a fit trains the model itself (repeat 0, exactly the model ``n_repeats=1`` fits
under the same ``random_state``) and ``R - 1`` further copies with the same hyperparameters on the
same data, each under its own seed (:func:`repeat_seed`). Every member's raw score is then the mean
of the copies' raw scores (:func:`mean_raw`), and everything downstream (standardisation on the
reference sample, member weights, the calibration map, fine-tuning weights) works on those means.
A member's spread becomes the spread of the mixture of the copies: the root of the mean squared
spread plus the variance of the copies' scores, so disagreement between copies widens it.

Cost: ``R`` times the fit, fine-tuning and prediction time of one model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from gennape_naslib.predictors.gennape.predictor import GENNAPEPredictor

__all__ = ["check_n_repeats", "first_copies", "fit_repeats", "mean_raw", "new_copy", "repeat_seed"]

Raw = dict[str, tuple[np.ndarray, np.ndarray]]


def check_n_repeats(value: Any) -> int:
    """``value`` as a positive integer.

    Raises:
        ValueError: If ``value`` is not an integer of at least 1.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 1:
        raise ValueError(f"n_repeats must be an integer >= 1, got {value!r}")
    return int(value)


def repeat_seed(random_state: int | None, k: int) -> int | None:
    """The seed of copy ``k >= 1`` of a model seeded with ``random_state`` (``None`` stays unseeded)."""
    if random_state is None:
        return None
    return int(np.random.SeedSequence([int(random_state), int(k)]).generate_state(1)[0])


def new_copy(model: GENNAPEPredictor, random_state: int | None) -> GENNAPEPredictor:
    """An unfitted copy of ``model``'s hyperparameters under ``random_state`` (one model, equal fit weights:
    the model's own weights are chosen on the mean scores)."""
    params = {**model.get_params(deep=False), "n_repeats": 1, "fit_weights": "equal"}
    return type(model)(**{**params, "random_state": random_state})


def fit_repeats(model: GENNAPEPredictor, X: Any, y: np.ndarray, family: Any, X_unlabeled: Any) -> list[Any]:
    """Fit the ``model.n_repeats - 1`` further copies of ``model`` on the same data."""
    return [
        new_copy(model, repeat_seed(model.random_state, k)).fit(X, y, family=family, X_unlabeled=X_unlabeled)
        for k in range(1, check_n_repeats(model.n_repeats))
    ]


def first_copies(model: GENNAPEPredictor, k: int) -> GENNAPEPredictor:
    """A shallow view of a fitted ``model`` with only its first ``k`` copies, with its own reference caches
    (``model`` is not changed). For architectures of a family it predicts exactly as the ``n_repeats=k``
    model fitted under the same seed (the family's reference sample is scored again); the stored training
    statistics, which only inputs without a family use, stay those of all copies.

    Raises:
        ValueError: If ``k`` is not between 1 and the model's number of copies.
    """
    n = 1 + len(model.repeats_)
    if not 1 <= int(k) <= n:
        raise ValueError(f"k must be between 1 and the model's {n} copies, got {k!r}")
    out = model._uncached_copy()
    out.repeats_ = model.repeats_[: int(k) - 1]
    return out


def mean_raw(raws: list[Raw]) -> Raw:
    """Per member, the mean score of the copies and the spread of their mixture (the first copy's
    arrays unchanged when there is one)."""
    if len(raws) == 1:
        return raws[0]
    out = {}
    for m in raws[0]:
        scores = np.stack([r[m][0] for r in raws])
        spreads = np.stack([r[m][1] for r in raws])
        out[m] = (scores.mean(0), np.sqrt((spreads**2).mean(0) + scores.var(0)))
    return out
