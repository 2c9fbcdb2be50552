"""``GENNAPEPredictor(n_repeats=R)``: independently trained copies whose raw member scores are averaged."""

from __future__ import annotations

import numpy as np
import pytest

from gennape_naslib.predictors.gennape import GENNAPEPredictor
from gennape_naslib.predictors.gennape.data import prepare
from gennape_naslib.predictors.gennape.finetuning import raw_scores
from gennape_naslib.predictors.gennape.predictor import PRETRAINED
from gennape_naslib.predictors.gennape.repeats import first_copies, mean_raw, repeat_seed

SMALL = dict(
    members=("cl_t", "pair", "kgnn", "flops"), hidden=16, n_layers=2, cl_epochs=1, cl_max_graphs=32,
    n_clusters=2, epochs=3, reference_size=32, random_state=0,
)  # fmt: skip


@pytest.fixture(scope="module")
def nb201(nb201_sample):
    return nb201_sample(2, 90)


@pytest.fixture(scope="module")
def single(nb201):
    archs, y = nb201
    return GENNAPEPredictor(**SMALL).fit(archs[:30], y[:30])


@pytest.fixture(scope="module")
def triple(nb201):
    archs, y = nb201
    return GENNAPEPredictor(**SMALL, n_repeats=3).fit(archs[:30], y[:30])


def test_copy_zero_is_the_single_model_and_the_others_differ(single, triple, nb201):
    archs, _ = nb201
    assert len(triple.repeats_) == 2 and single.repeats_ == []
    test = archs[30:60]
    # copy 0 is trained exactly as n_repeats=1 under the same seed
    state_1, state_3 = single.net_.state_dict(), triple.net_.state_dict()
    assert all(np.array_equal(state_1[k].numpy(), state_3[k].numpy()) for k in state_1)
    assert triple.repeats_[0].random_state == repeat_seed(0, 1) != repeat_seed(0, 2) == triple.repeats_[1].random_state
    assert not np.allclose(triple.repeats_[0].predict(test), single.predict(test))  # another seed, another model
    # the ensemble's raw member scores are the copies' means
    records, _ = prepare(test, None)
    each = [raw_scores(m, records) for m in [triple, *triple.repeats_]]
    mean = triple._raw(records)
    for m in triple.members_:
        assert np.allclose(mean[m][0], np.mean([e[m][0] for e in each], axis=0))
    assert np.allclose(mean["flops"][0], each[0]["flops"][0])  # the FLOPs member is the same in every copy


def test_first_copies_predict_as_the_model_with_fewer_copies(single, triple, nb201):
    archs, y = nb201
    test = archs[30:60]
    before = triple.predict(test)
    double = GENNAPEPredictor(**SMALL, n_repeats=2).fit(archs[:30], y[:30])
    assert np.array_equal(first_copies(triple, 1).predict(test), single.predict(test))
    assert np.array_equal(first_copies(triple, 2).predict(test), double.predict(test))
    assert np.array_equal(triple.predict(test), before) and len(triple.repeats_) == 2  # the model is unchanged
    for bad in (0, 4):
        with pytest.raises(ValueError, match="k must be between 1 and the model's 3 copies"):
            first_copies(triple, bad)


def test_mean_raw_spread_is_the_mixture_spread():
    a = {"m": (np.array([1.0, 2.0]), np.array([0.5, 0.0]))}
    b = {"m": (np.array([3.0, 2.0]), np.array([0.5, 0.0]))}
    score, spread = mean_raw([a, b])["m"]
    assert np.allclose(score, [2.0, 2.0])
    assert np.allclose(spread, [np.sqrt(0.25 + 1.0), 0.0])  # mean variance + variance of the means
    assert mean_raw([a]) is a


def test_save_load_finetune_and_std_with_copies(triple, nb201, tmp_path):
    archs, y = nb201
    test = archs[60:90]
    loaded = GENNAPEPredictor.load(triple.save(tmp_path / "r3.npz"))
    assert loaded.n_repeats == 3 and len(loaded.repeats_) == 2
    assert np.array_equal(loaded.predict(test), triple.predict(test))
    before = triple.predict(test)
    tuned = triple.finetune(archs[30:60], y[30:60], epochs=2)
    assert np.array_equal(triple.predict(test), before)  # the original and its copies are unchanged
    assert len(tuned.repeats_) == 2 and tuned.repeats_[0] is not triple.repeats_[0]
    assert not np.allclose(tuned.repeats_[1].predict(test), triple.repeats_[1].predict(test))  # copies tuned too
    assert np.isfinite(tuned.member_tau_).all() and np.isclose(tuned.weights_.sum(), 1.0)
    mean, std = triple.predict(test, return_std=True)
    assert mean.shape == std.shape == (30,) and (std > 0).all()


def test_bad_n_repeats_is_refused_before_training(nb201):
    archs, y = nb201
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="n_repeats must be an integer >= 1"):
            GENNAPEPredictor(**SMALL, n_repeats=bad).fit(archs[:10], y[:10])


@pytest.mark.skipif(not PRETRAINED.is_file(), reason="pretrained model file not built (scripts/train_pretrained.py)")
def test_files_before_copies_load_as_one_model():
    model = GENNAPEPredictor.pretrained()
    assert model.n_repeats == 1 and model.repeats_ == []
