"""Checks of ``GENNAPEPredictor``'s hyperparameters, run at the start of ``fit`` and ``finetune``.

``__init__`` stores hyperparameters unchanged (the predictor contract); :func:`check_hyperparameters` rejects an
invalid one before any training starts (not after a full fit, when ``predict`` first reads it), with a message
naming the hyperparameter, what it accepts and the value given. :func:`check_calibration` and
:func:`check_zero_shot_weights` are also run by the prediction paths, since ``set_params`` may change them after
fitting.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from gennape_naslib.predictors.gennape._train import (
    check_integer,
    check_number,
    check_rank_weight,
    check_swa,
)
from gennape_naslib.predictors.gennape.align import check_embed_align
from gennape_naslib.predictors.gennape.cv_weights import FIT_WEIGHTS
from gennape_naslib.predictors.gennape.data import RES_NORMS
from gennape_naslib.predictors.gennape.finetuning import check_finetune_weights
from gennape_naslib.predictors.gennape.repeats import check_n_repeats

if TYPE_CHECKING:
    from gennape_naslib.predictors.gennape.predictor import GENNAPEPredictor

__all__ = [
    "CALIBRATIONS",
    "ZERO_SHOT_WEIGHTS",
    "check_calibration",
    "check_finetune_epochs",
    "check_hyperparameters",
    "check_zero_shot_weights",
]

#: Accepted values of ``GENNAPEPredictor(calibration=...)``.
CALIBRATIONS = ("quantile", "linear")
#: Accepted values of ``GENNAPEPredictor(zero_shot_weights=...)``.
ZERO_SHOT_WEIGHTS = ("equal", "agreement")
#: Integer hyperparameters and their least valid value (0: "none"/"off" is meaningful).
_INTEGERS = {
    "hidden": 1,
    "n_layers": 1,
    "cl_epochs": 0,
    "cl_batch_size": 1,
    "cl_proj_dim": 1,
    "cl_max_graphs": 1,
    "cl_unlabeled": 0,
    "n_clusters": 1,
    "fcm_max_iter": 1,
    "head_hidden": 1,
    "head_layers": 1,
    "min_steps": 0,
    "batch_size": 1,
    "finetune_epochs": 0,
    "finetune_batch_size": 1,
    "n_anchors": 1,
    "reference_size": 0,
}
#: Real hyperparameters that must be finite and above 0.
_POSITIVE = ("cl_lr", "cl_temperature", "cl_weight_temperature", "lr", "kgnn_lr", "kt_temperature")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        allowed = " or ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return value


def check_calibration(value: Any) -> str:
    """``value`` if it is one of :data:`CALIBRATIONS`; else ``ValueError`` naming it."""
    return _check_choice("calibration", value, CALIBRATIONS)


def check_zero_shot_weights(value: Any) -> str:
    """``value`` if it is one of :data:`ZERO_SHOT_WEIGHTS`; else ``ValueError`` naming it."""
    return _check_choice("zero_shot_weights", value, ZERO_SHOT_WEIGHTS)


def check_finetune_epochs(epochs: Any) -> None:
    """Check the ``epochs`` argument of ``finetune`` (``None``: the ``finetune_epochs`` hyperparameter).

    Raises:
        ValueError: If it is not ``None`` or an integer >= 0.
    """
    if epochs is not None:
        check_integer("epochs", epochs, 0)


def check_hyperparameters(model: GENNAPEPredictor) -> None:
    """Check every hyperparameter of ``model`` that ``fit``, ``finetune`` or ``predict`` reads, before any training.

    ``members`` are checked by the predictor itself; ``train_floor`` (which also needs the labels) by
    :func:`~gennape_naslib.predictors.gennape._train.apply_train_floor`; ``gnn`` and ``activation`` when the first
    network is built (before training); ``random_state`` and ``num_threads`` are read as given.

    Raises:
        ValueError: Naming the first invalid hyperparameter, what it accepts and the value given.
    """
    for name, minimum in _INTEGERS.items():
        check_integer(name, getattr(model, name), minimum)
    if model.epochs is not None:
        check_integer("epochs", model.epochs, 0)
    for name in _POSITIVE:
        check_number(name, getattr(model, name))
    if model.finetune_lr is not None:
        check_number("finetune_lr", model.finetune_lr)
    check_number("grad_clip", model.grad_clip, strict=False)  # 0: no clipping
    check_number("fcm_m", model.fcm_m, 1.0)  # the FCM fuzzifier
    check_number("cl_dropout", model.cl_dropout, strict=False, below=1.0)
    check_swa(model.swa)
    check_rank_weight(model.rank_weight)
    check_n_repeats(model.n_repeats)
    if model.fit_weights not in FIT_WEIGHTS:
        raise ValueError(f"fit_weights must be one of {FIT_WEIGHTS}, got {model.fit_weights!r}")
    if model.fit_weights.startswith("cv"):
        _check_cv_folds(model, f"fit_weights={model.fit_weights!r}")
    check_finetune_weights(model.finetune_weights)
    if model.finetune_weights == "cv":
        _check_cv_folds(model, "finetune_weights='cv'")
    check_calibration(model.calibration)
    check_zero_shot_weights(model.zero_shot_weights)
    model._check_pair_anchors()
    if model.res_norm not in RES_NORMS:
        raise ValueError(f"res_norm must be one of {RES_NORMS}, got {model.res_norm!r}")
    check_embed_align(model.embed_align)


def _check_cv_folds(model: GENNAPEPredictor, user: str) -> None:
    folds = model.cv_folds
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 2:
        raise ValueError(f"{user} needs cv_folds >= 2, got {folds!r}")
