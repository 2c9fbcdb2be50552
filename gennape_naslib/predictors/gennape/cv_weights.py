"""Member weights chosen on the training data by K-fold cross-validation (an option; the paper uses equal weights).

``GENNAPEPredictor(fit_weights="cv")`` (or ``"cv_stack"``) first fits the ensemble on all the
training data exactly as with ``fit_weights="equal"`` (same seed, same model), then fits ``K``
further copies (``cv_folds``, default 5), each on the training data without one fold, and records
every member's standardised score on the fold it did not see (out-of-fold, OOF). Each copy
standardises its members with its own reference sample (the predicted family's, as at prediction
time; its own training set for ``ComputeGraph`` inputs), so the ``K`` folds' scores are on one scale
and are pooled into ``(M, n)`` OOF scores. From these:

* ``"cv"``: ``softmax(tau_m / kt_temperature)`` of each member's Kendall tau between its pooled OOF
  scores and ``y`` -- the rule :meth:`GENNAPEPredictor.finetune` applies to fine-tuning samples;
* ``"cv_stack"``: non-negative least squares of the centred ``y`` on the centred OOF scores
  (stacking; the weights normalised to sum 1, equal weights if all are 0).

The fold models are then discarded: predictions come from the model fitted on all the data, with
the new weights (refit rather than averaging the fold models, so prediction cost is unchanged and
the weights are the only difference to ``"equal"``). Cost: ``K`` extra fits on ``(K-1)/K`` of the
data, about ``1 + 0.8 K`` times the CPU time of one fit. No label outside the training set is read.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from scipy.optimize import nnls
from scipy.stats import kendalltau

__all__ = ["FIT_WEIGHTS", "fold_indices", "out_of_fold_z", "stack_weights", "tau_weights"]

#: Accepted values of ``GENNAPEPredictor(fit_weights=...)``.
FIT_WEIGHTS = ("equal", "agreement", "cv", "cv_stack")


def fold_indices(n: int, k: int, seed: int | None) -> list[np.ndarray]:
    """``k`` disjoint held-out index sets covering ``range(n)`` (random order under ``seed``).

    Raises:
        ValueError: If ``k < 2`` or ``n < 2 * k`` (every fold model needs a training set and every
            fold at least two architectures).
    """
    if k < 2 or n < 2 * k:
        raise ValueError(f"cross-validated weights need cv_folds >= 2 and at least 2 * cv_folds samples, got "
                         f"cv_folds={k} and {n} samples")  # fmt: skip
    order = np.random.default_rng(seed).permutation(n)
    return [np.sort(f) for f in np.array_split(order, k)]


def out_of_fold_z(
    estimator: Any, X: list[Any], y: np.ndarray, family: Any, X_unlabeled: Any, k: int
) -> tuple[np.ndarray, float]:
    """Pooled out-of-fold standardised member scores ``(M, n)`` and the CPU seconds they took.

    Args:
        estimator: The fitted :class:`~gennape_naslib.predictors.gennape.GENNAPEPredictor`; its
            hyperparameters are copied (with ``fit_weights="equal"`` and a seed per fold).
        X, y: The training architectures and labels the estimator was fitted on.
        family, X_unlabeled: As given to ``fit``.
        k: Number of folds.
    """
    c0 = time.process_time()
    params = {**estimator.get_params(deep=False), "fit_weights": "equal"}
    z = np.full((len(estimator.members_), len(X)), np.nan)
    for i, held in enumerate(fold_indices(len(X), k, estimator._seed(17))):
        keep = np.setdiff1d(np.arange(len(X)), held)
        fold = type(estimator)(**{**params, "random_state": estimator._seed(100 + i)})
        fold.fit([X[j] for j in keep], y[keep], family=family, X_unlabeled=X_unlabeled)
        z[:, held] = fold._member_z([X[j] for j in held], family)[0]
    return z, time.process_time() - c0


def tau_weights(z: np.ndarray, y: np.ndarray, temperature: float) -> tuple[np.ndarray, np.ndarray]:
    """Each member's Kendall tau against ``y`` (non-finite -> 0) and ``softmax(tau / temperature)``."""
    tau = np.array([kendalltau(row, y).statistic for row in z], dtype=np.float64)
    tau = np.where(np.isfinite(tau), tau, 0.0)
    logits = tau / max(float(temperature), 1e-6)
    e = np.exp(logits - logits.max())
    return tau, e / e.sum()


def stack_weights(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative least-squares weights of the centred member rows ``z`` for the centred ``y``, summing to 1."""
    a = np.asarray(z, dtype=np.float64)
    a = (a - a.mean(1, keepdims=True)).T
    b = np.asarray(y, dtype=np.float64)
    b = (b - b.mean()) / (b.std() or 1.0)
    w, _ = nnls(a, b)
    return w / w.sum() if w.sum() > 1e-12 else np.full(a.shape[1], 1.0 / a.shape[1])
