"""scripts/bench_hparams.py: anchor variants of a fit are exactly the fits with that many anchors."""

from __future__ import annotations

import numpy as np
import pytest

from gennape_naslib.predictors.gennape import GENNAPEPredictor

SMALL = dict(
    members=("cl_t", "pair", "pair_fcm", "flops"), hidden=16, n_layers=2, cl_epochs=1, cl_max_graphs=32,
    n_clusters=2, epochs=2, reference_size=32, random_state=3,
)  # fmt: skip


@pytest.fixture(scope="module")
def bh(load_script):
    return load_script("bench_hparams")


def test_anchor_variant_predicts_as_a_fit_with_that_many_anchors(bh, nb201_sample):
    archs, y = nb201_sample(7, 70)
    xtr, ytr, test = archs[:30], y[:30], archs[30:]
    model = GENNAPEPredictor(**SMALL).fit(xtr, ytr)
    before = model.predict(test)
    for k in (4, 30):
        variant = bh.anchor_variant(model, xtr, ytr, k)
        direct = GENNAPEPredictor(**{**SMALL, "n_anchors": k}).fit(xtr, ytr)
        assert len(variant.anchors_) == len(direct.anchors_) == k
        assert np.array_equal(variant.predict(test), direct.predict(test))
        assert np.array_equal(variant.predict_members(test), direct.predict_members(test))
    assert not np.array_equal(bh.anchor_variant(model, xtr, ytr, 4).predict(test), before)  # anchors matter
    assert np.array_equal(model.predict(test), before) and len(model.anchors_) == 16  # the model is unchanged
    with pytest.raises(ValueError, match="n_repeats=1"):
        bh.anchor_variant(GENNAPEPredictor(**{**SMALL, "n_repeats": 2}).fit(xtr, ytr), xtr, ytr, 4)
    with pytest.raises(ValueError, match="not fine-tuned"):
        bh.anchor_variant(model.finetune(test[:8], y[30:38], epochs=1), xtr, ytr, 4)


def test_combine_averages_the_saved_scores_of_separate_models(bh):
    y = [1.0, 2.0, 3.0, 4.0]
    row = dict(family="f", seed=0, size=10, mode="transfer", fit_cpu_s=1.0, y_test=y)
    rows = [
        {**row, "config": "a", "z": {"m1": [4.0, 3.0, 2.0, 1.0]}},  # the reverse order
        {**row, "config": "b", "z": {"m2": [0.0, 2.0, 4.0, 6.0], "m3": [0.0, 2.0, 4.0, 6.0]}},
        {**row, "config": "a", "seed": 1, "z": {"m1": [1.0, 2.0, 3.0, 4.0]}},  # seed 1 lacks "b": skipped
    ]
    (out,) = bh.combine(rows, "ab", ["a", "b"])
    # mean over the three member rows: [4/3, 7/3, 10/3, 13/3], increasing
    assert out["config"] == "ab" and out["seed"] == 0 and out["spearman"] == pytest.approx(1.0)
    assert out["fit_cpu_s"] == 2.0 and out["n_test"] == 4
    (only_a,) = bh.combine(rows[:1], "a", ["a"])
    assert only_a["spearman"] == pytest.approx(-1.0)
    rows[1]["y_test"] = [1.0, 2.0, 3.0, 5.0]
    with pytest.raises(ValueError, match="different architectures"):
        bh.combine(rows, "ab", ["a", "b"])


def test_transfer_task_tests_one_fit_on_every_target(bh, monkeypatch):
    from scipy.stats import spearmanr

    full = {f: bh.inspace_table(f) for f in ("nb101", "nb301", "nb201")}
    sizes = {"nb101": 40, "nb301": 25, "nb201": 30}
    monkeypatch.setattr(bh, "_table", lambda f: (full[f][0][: sizes[f]], full[f][1][: sizes[f]]))
    params = {k: v for k, v in SMALL.items() if k != "random_state"}
    task = {"config": "c", "params": params, "family": "nb101:nb301+nb201", "seed": 0, "size": 1000,
            "mode": "transfer", "model": "", "anchors": [], "family_anchors": []}  # fmt: skip
    rows = bh.run_task(task)
    assert [r["family"] for r in rows] == ["nb101:nb201", "nb101:nb301"]
    order = np.random.default_rng(0).permutation(40)  # the task's split: all 40, in its shuffled order
    xs, ys = full["nb101"]
    model = GENNAPEPredictor(**params, random_state=0).fit([xs[i] for i in order], ys[order])
    for r in rows:
        target = r["family"].split(":")[1]
        archs, y = full[target][0][: sizes[target]], full[target][1][: sizes[target]]
        assert r["n_test"] == sizes[target] and r["config"] == "c"
        assert r["spearman"] == pytest.approx(spearmanr(y, model.predict(archs)).statistic, abs=1e-9)
    assert bh.task_families("nb101:nb301+nb201", "transfer") == ["nb101:nb301", "nb101:nb201"]
    assert bh.task_families("nb101", "inspace") == ["nb101"]
    with pytest.raises(SystemExit, match="empty target"):
        bh.task_families("nb101:nb301+", "transfer")


def test_target_pool_draws_unlabelled_architectures_of_the_target(bh):
    from gennape_naslib.search_spaces import family_of

    task = {"family": "nb101:nb301", "mode": "transfer", "seed": 2, "target_pool": 5}
    pool = bh.target_pool(task)
    assert len(pool) == 5 and {family_of(a).name for a in pool} == {"nb301"}
    again = bh.target_pool(task)
    assert pool == again  # seeded by the task's seed
    assert bh.target_pool({**task, "target_pool": 0}) is None
