"""Tests of GENNAPE's quantile calibration (ensemble score -> accuracy) and the unlabelled contrastive pool."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import kendalltau, rankdata, spearmanr

from gennape_naslib import search_spaces
from gennape_naslib.predictors.gennape import GENNAPEPredictor
from gennape_naslib.predictors.gennape.calibration import LinearMap, QuantileMap
from gennape_naslib.predictors.gennape.predictor import PRETRAINED
from gennape_naslib.predictors.gennape.state import STATE_VERSION

FAST = dict(
    members=("cl_fcm_t", "pair"), hidden=16, n_layers=2, cl_epochs=1, cl_max_graphs=64, n_clusters=2, epochs=3,
    reference_size=48, random_state=0,
)  # fmt: skip


@pytest.fixture(scope="module")
def nb201(nb201_sample):
    return nb201_sample(1, 300)


@pytest.fixture(scope="module")
def fitted(nb201):
    archs, y = nb201
    return GENNAPEPredictor(**FAST).fit(archs[:60], y[:60])


# ---------------------------------------------------------------------- the map itself
def test_quantile_map_sends_reference_quantiles_to_target_quantiles():
    rng = np.random.default_rng(0)
    source = rng.normal(size=500)
    target = 94.0 - rng.exponential(3.0, size=500)  # skewed, long lower tail, like NB-201 accuracies
    f = QuantileMap(source, target)
    mapped = f(source)
    # the mapped reference sample has the target's distribution (quantile by quantile)
    qs = np.linspace(0.05, 0.95, 19)
    assert np.allclose(np.quantile(mapped, qs), np.quantile(target, qs), atol=0.05)
    # the linear map of the old rule overshoots the top; the quantile map does not
    linear = LinearMap(target.mean(), target.std())
    assert linear(source.max()) > target.max() + 1.0
    assert f(source.max()) <= target.max() + 0.05
    # rank preserving, element-wise shapes kept
    z = rng.normal(size=(3, 40)) * 2
    assert f(z).shape == (3, 40)
    assert np.array_equal(rankdata(f(z[0])), rankdata(z[0]))


def test_quantile_map_strictly_increasing_with_ties_and_beyond_the_sample():
    source = np.array([0.0, 1.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    target = np.array([10.0, 10.0, 10.0, 10.0, 90.0, 91.0, 93.0, 93.0])  # ties: flat quantile stretches
    f = QuantileMap(source, target)
    z = np.linspace(-5.0, 12.0, 4001)
    out = f(z)
    assert np.all(np.diff(out) > 0), "the map must be strictly increasing everywhere"
    assert f.slope_lo >= 0 and f.slope_hi >= 0
    # inside the sample it follows the quantile part up to the small linear blend
    assert abs(f(np.array([0.5]))[0] - 10.0) < 0.2
    # spreads are symmetric differences, non-negative, zero for a zero spread
    s = f.spread(np.array([0.0, 3.0]), np.array([0.5, 0.0]))
    assert s[0] > 0 and s[1] == 0
    # near-ties split or merged by float rounding (isomorphic cells) barely move the map, tails included
    rng = np.random.default_rng(3)
    base = np.sort(rng.normal(size=256))
    base[-2] = base[-1]
    split = base.copy()
    split[-2] -= 1e-9
    t = 94.0 - rng.exponential(3.0, size=256)
    grid = np.linspace(-6.0, 6.0, 241)
    # (at most half of one quantile step, where the merged knot averages two quantiles)
    assert np.abs(QuantileMap(base, t)(grid) - QuantileMap(split, t)(grid)).max() < 0.01
    # fewer than 3 distinct reference scores: the linear map alone
    g = QuantileMap(np.array([1.0, 1.0]), np.array([80.0, 90.0]))
    assert np.allclose(g(np.array([0.0, 1.0])), [85.0, 90.0])
    with pytest.raises(ValueError, match="source sample"):
        QuantileMap(np.array([]), target)
    with pytest.raises(ValueError, match="target sample"):
        QuantileMap(source, np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="blend"):
        QuantileMap(source, target, blend=0.0)


# ---------------------------------------------------------------------- in the predictor
def test_calibration_keeps_ranks_and_changes_the_scale(fitted, nb201):
    archs, y = nb201
    test = archs[60:300]
    for family in ("nb201", None):  # the family's reference sample, and the training set
        xs = test if family else [search_spaces.get("nb201").to_cg(a) for a in test[:80]]
        fitted.set_params(calibration="linear")
        lin_mean, lin_std = fitted.predict(xs, return_std=True)
        lin_rows = fitted.predict_members(xs)
        fitted.set_params(calibration="quantile")
        q_mean, q_std = fitted.predict(xs, return_std=True)
        q_rows = fitted.predict_members(xs)
        assert not np.allclose(q_mean, lin_mean)
        assert np.array_equal(rankdata(q_mean), rankdata(lin_mean))
        yt = y[60 : 60 + len(xs)]
        assert spearmanr(q_mean, yt).statistic == spearmanr(lin_mean, yt).statistic
        assert kendalltau(q_mean, yt).statistic == kendalltau(lin_mean, yt).statistic
        assert np.all(q_std >= 0) and np.all(np.isfinite(q_std))
        for q_row, lin_row in zip(q_rows, lin_rows):
            assert np.array_equal(rankdata(q_row), rankdata(lin_row))
        # the weighted mean of the calibrated rows stays close to the prediction (same map, nonlinear)
        assert np.abs(fitted.weights_ @ q_rows - q_mean).mean() < 0.5 * np.abs(q_mean - q_mean.mean()).mean()
    fitted.set_params(calibration="nope")
    with pytest.raises(ValueError, match="calibration must be"):
        fitted.predict(test[:3])
    fitted.set_params(calibration="quantile")


def test_quantile_calibration_without_family_matches_training_distribution(fitted, nb201):
    archs, y = nb201
    cgs = [search_spaces.get("nb201").to_cg(a) for a in archs[:60]]
    pred = fitted.predict(cgs)  # the training set is the reference: its accuracies are the target
    qs = np.linspace(0.1, 0.9, 9)
    assert np.allclose(np.quantile(pred, qs), np.quantile(y[:60], qs), atol=1.0)
    assert fitted.train_ref_["y"].shape == (60,) and set(fitted.train_ref_["raw"]) == set(fitted.members_)


def test_save_load_keeps_calibration_and_reads_state_version_1(fitted, nb201, tmp_path):
    archs, _ = nb201
    cgs = [search_spaces.get("nb201").to_cg(a) for a in archs[60:80]]
    loaded = GENNAPEPredictor.load(fitted.save(tmp_path / "g.npz"))
    assert np.array_equal(loaded.predict(archs[60:120]), fitted.predict(archs[60:120]))
    assert np.array_equal(loaded.predict(cgs), fitted.predict(cgs))
    state = fitted._get_state()
    assert state["state_version"] == STATE_VERSION
    old = {k: v for k, v in state.items() if k not in ("state_version", "train_ref")}  # a version-1 file
    v1 = GENNAPEPredictor(**fitted.get_params())
    v1._set_state(old)
    assert v1.train_ref_ is None
    assert np.array_equal(v1.predict(archs[60:120]), fitted.predict(archs[60:120]))  # family: quantile map
    fitted.set_params(calibration="linear")
    try:
        assert np.array_equal(v1.predict(cgs), fitted.predict(cgs))  # no family, no training sample: linear
    finally:
        fitted.set_params(calibration="quantile")
    with pytest.raises(ValueError, match="state version"):
        GENNAPEPredictor(**fitted.get_params())._set_state({**state, "state_version": STATE_VERSION + 1})


def test_finetuned_copy_is_calibrated_on_its_own_reference(fitted, nb201):
    archs, y = nb201
    in_family = fitted.finetune(archs[100:120], y[100:120], epochs=1)
    assert in_family.train_ref_["y"].shape == (60,)  # a family: its reference sample, the stored one is kept
    cgs = [search_spaces.get("nb201").to_cg(a) for a in archs[100:120]]
    tuned = fitted.finetune(cgs, y[100:120], epochs=1)
    pred = tuned.predict(cgs)  # without a family the fine-tuning set is the reference
    assert tuned.train_ref_["y"].shape == (20,)
    assert np.allclose(np.sort(pred), np.sort(y[100:120]), atol=0.1 * y[100:120].std())
    assert fitted.train_ref_["y"].shape == (60,)  # the original is unchanged


@pytest.mark.skipif(not PRETRAINED.is_file(), reason="pretrained model file not built (scripts/train_pretrained.py)")
def test_shipped_pretrained_model_loads_with_the_quantile_map(nb201):
    archs, y = nb201
    model = GENNAPEPredictor.pretrained()  # state version 2: stores its training reference
    assert model.calibration == "quantile" and model.train_ref_["y"].shape == (1024,)
    q = model.predict(archs[:200])
    model.set_params(calibration="linear")
    lin = model.predict(archs[:200])
    assert np.array_equal(rankdata(q), rankdata(lin))
    assert np.abs(q - y[:200]).mean() < np.abs(lin - y[:200]).mean()  # it was trained on NB-201 (cells >= 80 %)
    assert q.max() < 94.37 < lin.max()  # the linear map overshoots the best cell (94.37 %), the quantile map not


# ---------------------------------------------------------------------- unlabelled contrastive pool
def test_unlabelled_pool_is_family_samples_or_given_architectures(nb201):
    archs, y = nb201
    params = {**FAST, "members": ("cl_fcm_t",), "epochs": 1}
    base = GENNAPEPredictor(**params).fit(archs[:30], y[:30])
    pooled = GENNAPEPredictor(**params, cl_unlabeled=16).fit(archs[:30], y[:30])
    assert not np.array_equal(base.predict(archs[30:60]), pooled.predict(archs[30:60]))
    # the pool is exactly 16 draws of the family's sampler under random_state + 13: passing them explicitly
    # gives the same model
    rng = np.random.default_rng(FAST["random_state"] + 13)
    drawn = [search_spaces.get("nb201").sample(rng) for _ in range(16)]
    explicit = GENNAPEPredictor(**params).fit(archs[:30], y[:30], X_unlabeled=drawn)
    assert np.array_equal(explicit.predict(archs[30:60]), pooled.predict(archs[30:60]))
    with pytest.raises(ValueError, match="cl_unlabeled must be an integer >= 0"):
        GENNAPEPredictor(**params, cl_unlabeled=-1).fit(archs[:30], y[:30])
    cgs = [search_spaces.get("nb201").to_cg(a) for a in archs[:30]]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        GENNAPEPredictor(**params, cl_unlabeled=8).fit(cgs, y[:30])
    assert any("cl_unlabeled is ignored" in str(w.message) for w in caught)


def test_unlabelled_architectures_may_come_from_another_family(nb201):
    # e.g. samples of a transfer target: their records join the pretraining; no label of them is read
    from gennape_naslib.predictors.gennape.data import prepare
    from gennape_naslib.predictors.gennape.pool import unlabeled_pool

    archs, y = nb201
    params = {**FAST, "members": ("cl_fcm_t",), "epochs": 1}
    target = [search_spaces.get("nb301").sample(np.random.default_rng(i)) for i in range(6)]
    pool = unlabeled_pool("nb201", 0, 0, target)
    assert [r.key for r in pool] == [r.key for r in prepare(target)[0]] and pool[0].key[0] == "nb301"
    base = GENNAPEPredictor(**params).fit(archs[:30], y[:30])
    adapted = GENNAPEPredictor(**params).fit(archs[:30], y[:30], X_unlabeled=target)
    assert not np.array_equal(base.predict(target), adapted.predict(target))
    # encodings of the training family still read with the training family
    encoded = [search_spaces.get("nb201").to_json(a) for a in archs[30:34]]
    assert [r.key for r in unlabeled_pool("nb201", 0, 0, encoded)] == [r.key for r in prepare(archs[30:34])[0]]


def test_quantile_map_never_extrapolates_non_negative_targets_below_zero() -> None:
    # ten labels with one failed-training cell (10 %): std ~ 21, so min - std would be about -11
    target = np.array([10.0, 80.0, 82.0, 84.0, 85.0, 86.0, 88.0, 89.0, 90.0, 91.0])
    source = np.linspace(-1.0, 1.0, 10)
    qmap = QuantileMap(source, target)
    assert qmap.bounds[0] == 0.0
    z = np.array([-3.0, -10.0, -100.0])
    assert np.all(qmap.quantile_part(z) >= 0.0)
    low = qmap(z[:2])  # only the 1e-3 linear blend, which keeps the map strictly increasing, reaches below 0
    assert np.all(low > -0.2) and low[1] < low[0]
    signed = QuantileMap(source, target - 50.0)  # targets with negative values keep min - std
    assert signed.bounds[0] == pytest.approx(float((target - 50.0).min() - (target - 50.0).std()))
