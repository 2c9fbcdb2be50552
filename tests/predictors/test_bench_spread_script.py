"""scripts/bench_spread.py: one (family, seed) row of the spread study, and its summary table."""

from __future__ import annotations

import numpy as np
import pytest

SMALL = dict(
    members=("cl_fcm_t", "flops"), hidden=16, n_layers=2, cl_epochs=1, cl_max_graphs=32, n_clusters=2, epochs=2,
    reference_size=32,
)  # fmt: skip


@pytest.fixture(scope="module")
def bs(load_script):
    return load_script("bench_spread")


def test_spread_stats_hand_case(bs):
    y, mean, std = np.array([0.0, 0.5, 3.0, -1.5]), np.zeros(4), np.array([1.0, 1.0, 1.0, 1.0])
    stats = bs.spread_stats(y, mean, std)
    assert stats["cover_0.6745"] == 0.5 and stats["cover_1"] == 0.5 and stats["cover_2"] == 0.75
    assert stats["median_abs_error"] == 1.0 and stats["median_std"] == 1.0


def test_one_row_and_summary(bs):
    row = bs.run_one("nb201", 0, 40, 20, 60, params=SMALL)
    assert (row["n_train"], row["n_cal"], row["n_test"]) == (40, 20, 60) and row["scale"] > 0
    # one factor on every spread: medians scale by it, coverage can only move with it, the error ranking cannot
    assert row["after_median_std"] == pytest.approx(row["scale"] * row["before_median_std"], rel=1e-9)
    assert row["after_spearman_err_std"] == pytest.approx(row["before_spearman_err_std"], abs=1e-12)
    assert row["after_median_abs_error"] == row["before_median_abs_error"]
    narrower = row["after_cover_1"] <= row["before_cover_1"]
    wider = row["after_cover_1"] >= row["before_cover_1"]
    assert narrower if row["scale"] < 1 else wider
    table = bs.summary([row, {**row, "seed": 1}])
    assert "| nb201 | 2 |" in table and f"{row['scale']:.3f}" in table


def test_offset_study_row(load_script, nb201_sample):
    from gennape_naslib.predictors.gennape import GENNAPEPredictor

    bo = load_script("bench_offset")
    archs, y = nb201_sample(4, 60)
    model = GENNAPEPredictor(**SMALL, random_state=0).fit(archs, y)
    row = bo.run_one("nb101", 5, 20, model)
    assert (row["shots"], row["n_test"]) == (20, 272)
    assert row["offset"] != 0.0 and row["mae_offset"] != row["mae_plain"]
    # the study's "offset" column is what the library's default fine-tune (finetune_offset=True) gives
    archs, y = bo.inspace_table("nb101")
    order = np.random.default_rng(5).permutation(len(y))
    tuned = model.finetune([archs[i] for i in order[:20]], y[order[:20]], family="nb101")
    assert tuned.mean_offset_ == pytest.approx(row["offset"], abs=1e-9)
    pred = tuned.predict([archs[i] for i in order[20:]], family="nb101")
    assert float(np.mean(np.abs(y[order[20:]] - pred))) == pytest.approx(row["mae_offset"], rel=1e-9)
