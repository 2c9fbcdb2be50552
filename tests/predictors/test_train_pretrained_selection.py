"""The paper's model selection in ``scripts/train_pretrained.py``: fits under several seeds, the best on val-2."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from scipy.stats import spearmanr

from gennape_naslib.predictors.gennape import GENNAPEPredictor


def test_holdout_is_a_fixed_sorted_tenth_of_the_kept_cells(load_script):
    script = load_script("train_pretrained")
    kept = np.flatnonzero(np.arange(1000) % 3 != 0)  # 666 cells
    val = script.holdout(kept, 0.1)
    assert len(val) == 67 and np.all(np.diff(val) > 0) and np.isin(val, kept).all()
    assert np.array_equal(val, script.holdout(kept, 0.1))  # the same split on every run
    assert not np.array_equal(val, kept[-67:])  # drawn, not the tail
    assert len(script.holdout(kept, 0.0)) == 0


def test_best_seed_prefers_the_highest_score_then_the_lower_seed(load_script):
    best = load_script("train_pretrained").best_seed
    assert best([0.5, 0.7, 0.7, 0.6]) == 1
    assert best([np.nan, 0.2, 0.1]) == 1
    assert best([np.nan, np.nan]) == 0
    assert best([0.3]) == 0


def test_fit_one_writes_the_fit_and_scores_it_on_val2(load_script, tmp_path):
    from gennape_naslib import data

    script = load_script("train_pretrained")
    y = np.asarray(data.load("nb201", dataset="cifar10").metric("test_acc_200ep"), dtype=float)
    train, val = np.arange(0, 48), np.arange(48, 80)
    assert (y[train] < 80).any()  # the fit's own floor drops these
    settings = dict(members=("cl_t",), epochs=1, cl_epochs=1, min_steps=1, num_threads=1, train_floor=80.0)
    score, line = script.fit_one((3, settings, train, val, tmp_path / "seed3.npz"))
    model = GENNAPEPredictor.load(tmp_path / "seed3.npz")
    assert model.random_state == 3 and model.n_train_dropped_ == int((y[train] < 80).sum())
    assert line.startswith(f"trained on {48 - model.n_train_dropped_} cells")
    archs = data.load("nb201", dataset="cifar10").archs
    assert score == pytest.approx(spearmanr(model.predict([archs[i] for i in val]), y[val])[0])
    again = script.fit_one((3, settings, train, val, tmp_path / "seed3.npz"))  # a rerun keeps the finished fit
    assert again == (score, f"kept from {tmp_path / 'seed3.npz'} (not refitted)")
    other = script.fit_one((3, settings, np.arange(0, 47), val, tmp_path / "seed3.npz"))  # another training set
    assert other[1].startswith("trained on") and GENNAPEPredictor.load(tmp_path / "seed3.npz").y_mean_ != model.y_mean_


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--fits", "0"], "at least 1"),
        (["--val-fraction", "1"], "in [0, 1)"),
        (["--val-fraction", "0"], "above 0 to choose among --fits 5"),
    ],
)
def test_bad_selection_options_are_refused_before_any_work(load_script, monkeypatch, capsys, argv, message):
    script = load_script("train_pretrained")
    monkeypatch.setattr(sys, "argv", ["train_pretrained.py", *argv])
    with pytest.raises(SystemExit):
        script.main()
    assert message in capsys.readouterr().err
