"""What the pairwise members compare against (``GENNAPEPredictor(pair_anchors=...)``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gennape_naslib.predictors.gennape import GENNAPEPredictor
from gennape_naslib.predictors.gennape.data import prepare
from gennape_naslib.predictors.gennape.finetuning import raw_scores
from gennape_naslib.search_spaces import get

SMALL = dict(
    members=("cl_t", "pair_fcm", "pair", "pair_t", "kgnn", "flops"), hidden=16, n_layers=2, cl_epochs=1,
    cl_max_graphs=32, n_clusters=2, epochs=3, reference_size=24, n_anchors=8, random_state=0,
)  # fmt: skip


@pytest.fixture(scope="module")
def nb201(nb201_sample):
    return nb201_sample(11, 60)


@pytest.fixture(scope="module")
def fitted(nb201):
    archs, y = nb201
    train = GENNAPEPredictor(**SMALL).fit(archs[:30], y[:30])
    family = GENNAPEPredictor(**SMALL, pair_anchors="family").fit(archs[:30], y[:30])
    return train, family


def test_family_anchors_change_only_the_plain_pairwise_members(fitted, nb201):
    train, family = fitted
    test = nb201[0][30:]
    assert GENNAPEPredictor().pair_anchors == "train"
    for a, b in zip(train.net_.parameters(), family.net_.parameters()):  # anchors are not part of training
        assert torch.equal(a, b)
    records, fam = prepare(test)
    assert fam == "nb201"
    r_train, r_family = train._raw(records, fam), family._raw(records, fam)
    for m in ("cl_t", "pair_t", "kgnn", "flops"):  # pair_t reads its win rate against the training anchors
        assert np.array_equal(r_train[m][0], r_family[m][0]), m
    for m in ("pair_fcm", "pair"):
        assert not np.allclose(r_train[m][0], r_family[m][0]), m
    # the win rates against the first n_anchors architectures of the family's reference sample
    anchors = family._family_sample("nb201")[:8]
    assert len(family._family_sample("nb201")) == 24
    direct = raw_scores(train, records, anchors)
    for m in SMALL["members"]:
        assert np.array_equal(direct[m][0], r_family[m][0]), m
    # the reference sample is drawn from the family's sampler under the seed, not from the predicted batch
    assert [r.key for r in anchors] != [r.key for r in records[:8]]
    # the ensemble uses them: predictions differ, and stay pointwise
    assert not np.allclose(train.predict(test), family.predict(test))
    one = family.predict(test[3:4])
    assert one[0] == pytest.approx(family.predict(test)[3], rel=1e-6)  # float32 batches


def test_without_a_family_the_training_anchors_are_used(fitted, nb201):
    train, family = fitted
    graphs = [get("nb201").to_cg(a) for a in nb201[0][30:40]]
    records, fam = prepare(graphs)
    assert fam is None
    assert family._family_anchors(None) is None
    r_train, r_family = train._raw(records), family._raw(records)
    for m in SMALL["members"]:
        assert np.array_equal(r_train[m][0], r_family[m][0]), m
    no_pairs = GENNAPEPredictor(**{**SMALL, "members": ("cl_t", "flops")}, pair_anchors="family")
    no_pairs.fit(nb201[0][:30], nb201[1][:30])
    assert no_pairs._family_anchors("nb201") is None  # nothing to compare


def test_setting_it_on_a_fitted_model_equals_fitting_with_it(fitted, nb201, tmp_path):
    train, family = fitted
    archs, y = nb201
    test = archs[30:]
    switched = train._uncached_copy()
    switched.pair_anchors = "family"
    assert np.array_equal(switched.predict(test), family.predict(test))
    assert np.array_equal(switched.predict_members(test), family.predict_members(test))
    # set_params on a model that has predicted already: its cached reference statistics are recomputed
    toggled = train._uncached_copy()
    before = toggled.predict(test)
    assert np.array_equal(toggled.set_params(pair_anchors="family").predict(test), family.predict(test))
    assert np.array_equal(toggled.set_params(pair_anchors="train").predict(test), before)
    loaded = GENNAPEPredictor.load(family.save(tmp_path / "family.npz"))
    assert loaded.pair_anchors == "family" and np.array_equal(loaded.predict(test), family.predict(test))
    # fine-tuning scores its shots against the same anchors, and the original is unchanged
    before = family.predict(test)
    tuned = family.finetune(test[:10], y[30:40], epochs=1)
    assert tuned.pair_anchors == "family" and np.isfinite(tuned.member_tau_).all()
    assert np.array_equal(family.predict(test), before)


def test_bench_hparams_family_variant_is_the_fit_with_it(load_script, fitted, nb201):
    bh = load_script("bench_hparams")
    train, family = fitted
    archs, y = nb201
    variant = bh.anchor_variant(train, archs[:30], y[:30], 8)
    variant.pair_anchors = "family"
    assert np.array_equal(variant.predict(archs[30:]), family.predict(archs[30:]))


@pytest.mark.parametrize("bad", ["families", "", None, 1])
def test_bad_pair_anchors_is_refused(fitted, nb201, bad):
    archs, y = nb201
    with pytest.raises(ValueError, match="pair_anchors must be one of"):
        GENNAPEPredictor(**SMALL, pair_anchors=bad).fit(archs[:10], y[:10])
    model = fitted[0]._uncached_copy()
    model.pair_anchors = bad
    with pytest.raises(ValueError, match="pair_anchors must be one of"):
        model.predict(archs[30:32])
