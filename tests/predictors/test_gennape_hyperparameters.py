"""Invalid hyperparameters of ``GENNAPEPredictor`` and ``KGNNPredictor`` are rejected before any training."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gennape_naslib.predictors.gennape import GENNAPEPredictor, KGNNPredictor
from gennape_naslib.predictors.gennape.hyperparameters import check_hyperparameters

SMALL = dict(
    members=("cl_fcm_t", "kgnn", "flops"), hidden=16, n_layers=2, cl_epochs=1, cl_max_graphs=32, n_clusters=2,
    epochs=1, reference_size=16, n_anchors=6, random_state=0,
)  # fmt: skip

INVALID = [
    ("calibration", "foo", r"calibration must be 'quantile' or 'linear', got 'foo'"),
    ("zero_shot_weights", "bogus", r"zero_shot_weights must be 'equal' or 'agreement', got 'bogus'"),
    ("finetune_weights", "bogus", r"finetune_weights must be one of \('shots', 'cv'\), got 'bogus'"),
    ("fit_weights", "bogus", r"fit_weights must be one of"),
    ("epochs", -1, r"epochs must be an integer >= 0, got -1"),
    ("epochs", 2.5, r"epochs must be an integer >= 0, got 2.5"),
    ("n_clusters", 0, r"n_clusters must be an integer >= 1, got 0"),
    ("n_clusters", -3, r"n_clusters must be an integer >= 1, got -3"),
    ("n_clusters", True, r"n_clusters must be an integer >= 1, got True"),
    ("lr", -1e-3, r"lr must be a finite number > 0, got -0.001"),
    ("kgnn_lr", math.nan, r"kgnn_lr must be a finite number > 0, got nan"),
    ("cl_lr", 0.0, r"cl_lr must be a finite number > 0"),
    ("finetune_lr", 0.0, r"finetune_lr must be a finite number > 0"),
    ("batch_size", 0, r"batch_size must be an integer >= 1, got 0"),
    ("cl_batch_size", 0, r"cl_batch_size must be an integer >= 1"),
    ("finetune_batch_size", 0, r"finetune_batch_size must be an integer >= 1"),
    ("cl_epochs", -1, r"cl_epochs must be an integer >= 0, got -1"),
    ("finetune_epochs", -1, r"finetune_epochs must be an integer >= 0, got -1"),
    ("kt_temperature", 0.0, r"kt_temperature must be a finite number > 0, got 0.0"),
    ("kt_temperature", -0.1, r"kt_temperature must be a finite number > 0"),
    ("cl_temperature", "0.1", r"cl_temperature must be a finite number > 0, got '0.1'"),
    ("cl_dropout", 1.0, r"cl_dropout must be a finite number >= 0 and < 1, got 1.0"),
    ("fcm_m", 1.0, r"fcm_m must be a finite number > 1, got 1.0"),
    ("grad_clip", -1.0, r"grad_clip must be a finite number >= 0"),
    ("hidden", 0, r"hidden must be an integer >= 1"),
    ("n_anchors", 0, r"n_anchors must be an integer >= 1"),
    ("reference_size", -1, r"reference_size must be an integer >= 0"),
    ("min_steps", -5, r"min_steps must be an integer >= 0"),
    ("cl_unlabeled", -1, r"cl_unlabeled must be an integer >= 0"),
    ("res_norm", "bogus", r"res_norm must be one of"),
]


@pytest.fixture(scope="module")
def nb201(nb201_sample):
    return nb201_sample(4, 40)


@pytest.fixture
def no_training(monkeypatch):
    """Make reading the architectures (the first step after the checks) fail, so a test sees where fit stops."""

    def fail(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(GENNAPEPredictor, "_prepare", fail)


@pytest.mark.parametrize(("name", "value", "message"), INVALID)
def test_fit_rejects_invalid_hyperparameters_before_training(nb201, no_training, name, value, message):
    archs, y = nb201
    with pytest.raises(ValueError, match=message):
        GENNAPEPredictor(**{**SMALL, name: value}).fit(archs[:20], y[:20])


def test_valid_hyperparameters_reach_training(nb201, no_training):
    archs, y = nb201
    for params in ({}, {"epochs": None, "finetune_lr": 1e-4, "reference_size": 0, "cl_dropout": 0.0, "grad_clip": 0}):
        with pytest.raises(AssertionError, match="training started"):
            GENNAPEPredictor(**{**SMALL, **params}).fit(archs[:20], y[:20])
    with pytest.raises(AssertionError, match="training started"):  # numpy numbers are numbers
        GENNAPEPredictor(**{**SMALL, "n_clusters": np.int64(2), "lr": np.float32(1e-3)}).fit(archs[:20], y[:20])


def test_cross_validated_fine_tuning_weights_need_two_folds(nb201, no_training):
    archs, y = nb201
    with pytest.raises(ValueError, match=r"finetune_weights='cv' needs cv_folds >= 2, got 1"):
        GENNAPEPredictor(**SMALL, finetune_weights="cv", cv_folds=1).fit(archs[:20], y[:20])


def test_resolved_epochs_rejects_negative_epochs():
    assert GENNAPEPredictor(epochs=0).resolved_epochs(100) == 0
    with pytest.raises(ValueError, match="epochs must be an integer >= 0, got -1"):
        GENNAPEPredictor(epochs=-1).resolved_epochs(100)


def test_finetune_checks_before_training(nb201, monkeypatch):
    archs, y = nb201
    model = GENNAPEPredictor(**SMALL).fit(archs[:20], y[:20])

    def fail(*args, **kwargs):
        raise AssertionError("fine-tuning started")

    monkeypatch.setattr("gennape_naslib.predictors.gennape.predictor.finetuned_copy", fail)
    with pytest.raises(ValueError, match="epochs must be an integer >= 0, got -2"):
        model.finetune(archs[20:30], y[20:30], epochs=-2)
    for name, value in (("finetune_epochs", -1), ("finetune_lr", -1.0), ("kt_temperature", 0), ("calibration", "x")):
        previous = getattr(model, name)
        model.set_params(**{name: value})
        with pytest.raises(ValueError, match=name):
            model.finetune(archs[20:30], y[20:30])
        model.set_params(**{name: previous})
    with pytest.raises(AssertionError, match="fine-tuning started"):
        model.finetune(archs[20:30], y[20:30], epochs=0)


def test_shipped_model_hyperparameters_pass():
    check_hyperparameters(GENNAPEPredictor.pretrained())


@pytest.mark.parametrize(
    ("name", "value"),
    [("epochs", -1), ("batch_size", 0), ("lr", 0.0), ("lr", -1e-4), ("hidden", 0), ("grad_clip", -1.0),
     ("weight_decay", -0.1), ("finetune_epochs", -1), ("finetune_batch_size", 0), ("mlp_layers", 0)],
)  # fmt: skip
def test_kgnn_rejects_invalid_hyperparameters_before_training(nb201, monkeypatch, name, value):
    archs, y = nb201

    def fail(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr("gennape_naslib.predictors.kgnn.prepare", fail)
    with pytest.raises(ValueError, match=rf"{name} must be"):
        KGNNPredictor(**{name: value}).fit(archs[:10], y[:10])


def test_kgnn_finetune_rejects_negative_epochs(nb201):
    archs, y = nb201
    model = KGNNPredictor(hidden=8, n_layers=2, epochs=1, random_state=0).fit(archs[:10], y[:10])
    with pytest.raises(ValueError, match="epochs must be an integer >= 0, got -1"):
        model.finetune(archs[10:15], y[10:15], epochs=-1)
