"""GENNAPE member weights chosen at fit time: cross-validated (``fit_weights="cv"`` / ``"cv_stack"``) and agreement."""

from __future__ import annotations

import numpy as np
import pytest

from gennape_naslib.predictors.gennape import GENNAPEPredictor
from gennape_naslib.predictors.gennape.cv_weights import fold_indices, stack_weights, tau_weights
from gennape_naslib.predictors.gennape.predictor import PRETRAINED
from gennape_naslib.predictors.gennape.state import STATE_VERSION

SMALL = dict(
    members=("cl_t", "pair", "flops"), hidden=16, n_layers=2, cl_epochs=1, cl_max_graphs=32, n_clusters=2,
    epochs=2, reference_size=32, cv_folds=3, random_state=0,
)  # fmt: skip


@pytest.fixture(scope="module")
def nb201(nb201_sample):
    return nb201_sample(1, 80)


@pytest.fixture(scope="module")
def cv_model(nb201):
    archs, y = nb201
    return GENNAPEPredictor(**SMALL, fit_weights="cv").fit(archs[:30], y[:30])


def test_fold_indices_partition_and_errors():
    folds = fold_indices(23, 5, seed=0)
    assert len(folds) == 5 and sorted(np.concatenate(folds).tolist()) == list(range(23))
    assert min(map(len, folds)) >= 4
    assert all(np.array_equal(a, b) for a, b in zip(folds, fold_indices(23, 5, seed=0)))
    with pytest.raises(ValueError, match="cv_folds=5 and 9 samples"):
        fold_indices(9, 5, seed=0)
    with pytest.raises(ValueError, match="cv_folds >= 2"):
        fold_indices(10, 1, seed=0)


def test_tau_and_stack_weights_prefer_the_informative_member():
    rng = np.random.default_rng(0)
    y = rng.normal(size=300)
    z = np.stack([y + 0.2 * rng.normal(size=300), y + 2.0 * rng.normal(size=300), rng.normal(size=300)])
    tau, w = tau_weights(z, y, temperature=0.1)
    assert tau[0] > tau[1] > tau[2] and w.sum() == pytest.approx(1.0)
    assert np.allclose(w, np.exp(tau / 0.1) / np.exp(tau / 0.1).sum())
    s = stack_weights(z, y)
    assert s.sum() == pytest.approx(1.0) and np.all(s >= 0) and s[0] > 0.8 and s[2] < 0.05
    assert np.allclose(stack_weights(-z, y), 1 / 3)  # every member anti-correlated: no positive fit, equal
    tau_c, w_c = tau_weights(np.ones((2, 10)), np.arange(10.0), 0.1)  # constant member: tau 0, equal
    assert np.array_equal(tau_c, [0.0, 0.0]) and np.allclose(w_c, 0.5)


def test_cv_fit_keeps_the_model_and_sets_weights_from_out_of_fold_tau(cv_model, nb201):
    archs, y = nb201
    equal = GENNAPEPredictor(**SMALL, fit_weights="equal").fit(archs[:30], y[:30])
    assert np.allclose(equal.weights_, 1 / 3) and equal.cv_tau_ is None
    # the same model fitted on all 30 (same seed): identical member scores, only the weights differ
    assert np.array_equal(equal._member_z(archs[30:60], None)[0], cv_model._member_z(archs[30:60], None)[0])
    oof = cv_model.cv_oof_z_
    assert oof.shape == (3, 30) and np.all(np.isfinite(oof))
    tau, w = tau_weights(oof, y[:30], cv_model.kt_temperature)
    assert np.allclose(cv_model.cv_tau_, tau) and np.allclose(cv_model.weights_, w)
    assert not np.allclose(cv_model.weights_, 1 / 3)
    assert np.array_equal(cv_model.member_weights("nb201"), cv_model.weights_)
    assert cv_model.cv_cpu_s_ > 0
    stacked = GENNAPEPredictor(**SMALL, fit_weights="cv_stack").fit(archs[:30], y[:30])
    assert np.allclose(stacked.cv_oof_z_, oof)  # same folds and fold seeds
    assert np.allclose(stacked.weights_, stack_weights(oof, y[:30]))
    # fine-tuning still replaces the weights by Kendall-tau weights on its own samples
    tuned = cv_model.finetune(archs[60:72], y[60:72], epochs=1)
    assert np.all(np.isfinite(tuned.member_tau_)) and not np.allclose(tuned.weights_, cv_model.weights_)


def test_cv_weights_save_load_and_state_version_2_still_loads(cv_model, nb201, tmp_path):
    archs, _ = nb201
    loaded = GENNAPEPredictor.load(cv_model.save(tmp_path / "cv.npz"))
    assert np.array_equal(loaded.weights_, cv_model.weights_) and np.array_equal(loaded.cv_tau_, cv_model.cv_tau_)
    assert np.array_equal(loaded.predict(archs[30:50]), cv_model.predict(archs[30:50]))
    assert loaded.get_params()["fit_weights"] == "cv"
    state = cv_model._get_state()
    assert state["state_version"] == STATE_VERSION == 8
    del state["cv_tau"]
    state["state_version"] = 2  # a file written before cv weights existed
    old = GENNAPEPredictor(**SMALL, fit_weights="cv")
    old._set_state(state)
    assert (
        old.fit_weights == "equal"
        and old.cv_tau_ is None
        and np.array_equal(old.predict(archs[30:50]), cv_model.predict(archs[30:50]))
    )


@pytest.mark.skipif(not PRETRAINED.is_file(), reason="pretrained model file not built (scripts/train_pretrained.py)")
def test_pretrained_file_of_state_version_2_loads_with_equal_weights():
    model = GENNAPEPredictor.pretrained()
    assert model.cv_tau_ is None and model.fit_weights == "equal"
    assert np.allclose(model.weights_, 1 / len(model.members_))


def test_agreement_fit_weights_and_errors(nb201):
    archs, y = nb201
    model = GENNAPEPredictor(**SMALL, fit_weights="agreement").fit(archs[:30], y[:30])
    probe = GENNAPEPredictor(**SMALL, fit_weights="equal", zero_shot_weights="agreement").fit(archs[:30], y[:30])
    assert np.allclose(model.weights_, probe.member_weights("nb201"))  # the training family's reference sample
    assert np.array_equal(model.member_weights("nb201"), model.weights_)
    with pytest.raises(ValueError, match="fit_weights must be one of"):
        GENNAPEPredictor(**SMALL, fit_weights="nope").fit(archs[:30], y[:30])
    with pytest.raises(ValueError, match="needs cv_folds >= 2, got 1"):
        GENNAPEPredictor(**{**SMALL, "cv_folds": 1, "fit_weights": "cv"}).fit(archs[:30], y[:30])
    few = GENNAPEPredictor(**SMALL, fit_weights="cv").fit(archs[:5], y[:5])  # fewer than 2 * cv_folds: equal
    assert few.fit_weights == "cv" and few.cv_tau_ is None and np.allclose(few.weights_, 1 / 3)
