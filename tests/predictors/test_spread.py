"""The spread scale fitted on held-out labels (``predictors.spread``) and GENNAPE's ``calibrate_std``."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from scipy.stats import norm

from gennape_naslib.predictors import NotFittedError
from gennape_naslib.predictors.gennape import GENNAPEPredictor
from gennape_naslib.predictors.gennape.state import STATE_VERSION
from gennape_naslib.predictors.spread import NORMAL_MEDIAN_ABS_Z, coverage, spread_scale

FAST = dict(
    members=("cl_fcm_t", "pair", "flops"), hidden=16, n_layers=2, cl_epochs=1, cl_max_graphs=64, n_clusters=2,
    epochs=3, reference_size=48, random_state=0,
)  # fmt: skip


def test_normal_median_constant():
    assert NORMAL_MEDIAN_ABS_Z == pytest.approx(norm.ppf(0.75), abs=1e-15)


def test_spread_scale_recovers_the_factor_of_normal_errors():
    rng = np.random.default_rng(0)
    std = rng.uniform(0.5, 3.0, size=20000)
    mean = rng.normal(size=std.size)
    for factor in (0.25, 1.0, 4.0):
        y = mean + factor * std * rng.standard_normal(std.size)
        c = spread_scale(y, mean, std)
        assert c == pytest.approx(factor, rel=0.03)
        # after scaling, the coverages are those of a normal error
        assert coverage(y, mean, c * std, NORMAL_MEDIAN_ABS_Z) == pytest.approx(0.5, abs=1e-3)
        assert coverage(y, mean, c * std, 1.0) == pytest.approx(norm.cdf(1) - norm.cdf(-1), abs=0.015)
        assert coverage(y, mean, c * std, 2.0) == pytest.approx(norm.cdf(2) - norm.cdf(-2), abs=0.01)


def test_spread_scale_is_robust_to_a_few_huge_errors_and_skips_zero_spreads():
    rng = np.random.default_rng(1)
    std = np.ones(2001)
    mean = np.zeros(std.size)
    y = 2.0 * rng.standard_normal(std.size)
    clean = spread_scale(y, mean, std)
    y[:40] = 80.0  # 2 % degenerate architectures, errors of 80 points
    assert spread_scale(y, mean, std) == pytest.approx(clean, rel=0.06)
    std2 = np.concatenate([std, [0.0, 0.0]])
    y2, mean2 = np.concatenate([y, [5.0, -5.0]]), np.concatenate([mean, [0.0, 0.0]])
    assert spread_scale(y2, mean2, std2) == spread_scale(y, mean, std)


def test_coverage_hand_case():
    y, mean, std = np.array([1.0, 2.0, 5.0, 0.0]), np.zeros(4), np.array([1.0, 1.0, 1.0, 0.0])
    assert coverage(y, mean, std) == 0.5  # 1 <= 1 and 0 <= 0 are in; 2 and 5 are out
    assert coverage(y, mean, std, 2.0) == 0.75


@pytest.mark.parametrize(
    "args, message",
    [
        (([1.0, 2.0], [1.0], [1.0, 1.0]), "same length, got 2, 1, 2"),
        (([1.0, np.nan], [1.0, 1.0], [1.0, 1.0]), "y is not finite at index 1"),
        (([1.0, 2.0], [1.0, 1.0], [1.0, -1.0]), "std is negative at index 1"),
        (([1.0, 2.0], [1.0, 1.0], [0.0, 0.0]), "no prediction has a positive spread"),
        (([1.0, 2.0, 3.0], [1.0, 2.0, 0.0], [1.0, 1.0, 1.0]), "more than half .* are exact"),
    ],
)
def test_spread_scale_rejects_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        spread_scale(*args)


# ---------------------------------------------------------------------- GENNAPE
@pytest.fixture(scope="module")
def nb201(nb201_sample):
    return nb201_sample(2, 260)


@pytest.fixture(scope="module")
def fitted(nb201):
    archs, y = nb201
    return GENNAPEPredictor(**FAST).fit(archs[:60], y[:60])


def test_calibrate_std_scales_the_spread_only_and_fits_the_median(fitted, nb201, tmp_path):
    archs, y = nb201
    model = copy.deepcopy(fitted)
    mean0, std0 = model.predict(archs[100:], return_std=True)
    assert model.calibrate_std(archs[60:100], y[60:100]) is model
    c = model.std_scale_
    assert c > 0 and c != 1.0
    mean1, std1 = model.predict(archs[100:], return_std=True)
    assert np.array_equal(mean1, mean0) and np.allclose(std1, c * std0, rtol=1e-12)
    assert np.array_equal(model.predict(archs[100:]), mean0)
    # on the calibration set itself half of the errors lie within 0.6745 spreads (the median rule)
    m, s = model.predict(archs[60:100], return_std=True)
    assert np.median(np.abs(y[60:100] - m) / s) == pytest.approx(NORMAL_MEDIAN_ABS_Z, rel=1e-9)
    # saved with the model
    path = tmp_path / "cal.npz"
    model.save(path)
    loaded = GENNAPEPredictor.load(path)
    assert loaded.std_scale_ == c
    assert np.allclose(loaded.predict(archs[100:], return_std=True)[1], std1)
    # calibrating again starts from the raw spread (not compounding)
    model.calibrate_std(archs[60:100], y[60:100])
    assert model.std_scale_ == pytest.approx(c, rel=1e-12)
    # a fine-tuned copy is a new model: scale 1; the original keeps its scale
    tuned = model.finetune(archs[60:80], y[60:80], epochs=1)
    assert tuned.std_scale_ == 1.0 and model.std_scale_ == pytest.approx(c, rel=1e-12)


def test_calibrate_std_state_version_5_loads_with_scale_one(fitted, nb201):
    archs, y = nb201
    model = copy.deepcopy(fitted).calibrate_std(archs[60:100], y[60:100])
    state = model._get_state()
    assert state["state_version"] == STATE_VERSION and state["std_scale"] == model.std_scale_
    state["state_version"] = 5
    old = copy.deepcopy(fitted)
    old._set_state(state)
    assert old.std_scale_ == 1.0
    assert np.allclose(
        old.predict(archs[100:120], return_std=True)[1], fitted.predict(archs[100:120], return_std=True)[1]
    )


def test_calibrate_std_errors(fitted, nb201):
    archs, y = nb201
    with pytest.raises(ValueError, match="X and y have different lengths: 10 architectures but 5 targets"):
        copy.deepcopy(fitted).calibrate_std(archs[60:70], y[60:65])
    with pytest.raises(NotFittedError, match="not fitted yet"):
        GENNAPEPredictor(**FAST).calibrate_std(archs[60:70], y[60:70])
    # a calibration that fails (exact predictions) leaves the model's factor as it was
    model = copy.deepcopy(fitted).calibrate_std(archs[60:100], y[60:100])
    before = model.std_scale_
    exact = model.predict(archs[60:70])
    with pytest.raises(ValueError, match="more than half of the 10 predictions are exact"):
        model.calibrate_std(archs[60:70], exact)
    assert model.std_scale_ == before


def test_finetune_removes_the_copys_offset_on_its_shots_by_default(fitted, nb201):
    archs, y = nb201
    shots, ys = archs[100:120], y[100:120]
    assert fitted.finetune_offset is True
    raw = copy.deepcopy(fitted).set_params(finetune_offset=False).finetune(shots, ys, epochs=1)
    tuned = fitted.finetune(shots, ys, epochs=1)
    assert raw.mean_offset_ == 0.0 and tuned.std_scale_ == 1.0
    # the offset: the plain copy's median error on the shots, added to every prediction (ranks unchanged)
    assert tuned.mean_offset_ != 0.0
    assert tuned.mean_offset_ == pytest.approx(float(np.median(ys - raw.predict(shots))), abs=1e-9)
    assert np.median(ys - tuned.predict(shots)) == pytest.approx(0.0, abs=1e-9)
    m_t, s_t = tuned.predict(archs[150:200], return_std=True)
    m_r, s_r = raw.predict(archs[150:200], return_std=True)
    assert np.allclose(m_t, m_r + tuned.mean_offset_, rtol=0, atol=1e-9) and np.array_equal(s_t, s_r)
    assert np.allclose(tuned.predict_members(shots), raw.predict_members(shots) + tuned.mean_offset_, atol=1e-9)
    assert fitted.mean_offset_ == 0.0  # the original is unchanged


def test_finetune_calibrate_cross_fits_the_factor(fitted, nb201, tmp_path):
    archs, y = nb201
    shots, ys = archs[100:120], y[100:120]
    tuned = fitted.finetune(shots, ys, epochs=1, calibrate=True)
    plain = fitted.finetune(shots, ys, epochs=1)
    assert plain.std_scale_ == 1.0 and tuned.std_scale_ != 1.0 and tuned.mean_offset_ == plain.mean_offset_
    m_t, s_t = tuned.predict(archs[150:200], return_std=True)
    m_p, s_p = plain.predict(archs[150:200], return_std=True)
    assert np.array_equal(m_t, m_p) and np.allclose(s_t, tuned.std_scale_ * s_p, rtol=1e-12)
    # the same factor through the public API: leave each of cv_folds (5) folds out (each fold copy with its own
    # offset, as finetune gives it), predict the fold, pool
    order = np.random.default_rng(fitted.random_state + 17).permutation(20)
    means, stds = np.empty(20), np.empty(20)
    for held in np.array_split(order, 5):
        keep = np.setdiff1d(order, held)
        fold = fitted.finetune([shots[i] for i in keep], ys[keep], epochs=1)
        means[held], stds[held] = fold.predict([shots[i] for i in held], return_std=True)
    assert tuned.std_scale_ == pytest.approx(spread_scale(ys, means, stds), rel=1e-9)
    assert (fitted.std_scale_, fitted.mean_offset_) == (1.0, 0.0)  # the original is unchanged
    path = tmp_path / "tuned.npz"
    tuned.save(path)
    loaded = GENNAPEPredictor.load(path)
    assert (loaded.std_scale_, loaded.mean_offset_) == (tuned.std_scale_, tuned.mean_offset_)
    assert np.allclose(loaded.predict(archs[150:160]), tuned.predict(archs[150:160]), atol=1e-9)
    with pytest.raises(ValueError, match=r"at least 2 \* cv_folds samples; got cv_folds=5 and 9 samples"):
        fitted.finetune(shots[:9], ys[:9], epochs=1, calibrate=True)
