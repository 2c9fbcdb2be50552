"""scripts/bench_search.py: the method settings it runs and how short runs are aggregated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gennape_naslib.predictors.gennape.predictor import PRETRAINED
from gennape_naslib.search import load_config, optimizer_kwargs


@pytest.fixture(scope="module")
def bench(load_script):
    return load_script("bench_search")


def test_gennape_methods(bench):
    pretrained = load_config(bench.method_config("bananas_gennape_pretrained", 3, 50))
    assert pretrained.search["predictor_checkpoint"] == "pretrained" and pretrained.search["fit_predictor"] is False
    finetune = load_config(bench.method_config("bananas_gennape_finetune", 3, 50))
    assert finetune.search["fit_predictor"] == "finetune"
    pinned = {"finetune_epochs": bench.FINETUNE_EPOCHS, "finetune_lr": bench.FINETUNE_LR}
    assert finetune.search["predictor_kwargs"] == pinned
    saved = str(PRETRAINED)  # any saved model file (the config checks that it exists)
    other = load_config(bench.method_config("bananas_gennape_finetune", 3, 50, checkpoint=saved))
    assert other.search["predictor_checkpoint"] == saved
    online = load_config(bench.method_config("npenas_gennape", 3, 50))
    assert online.optimizer == "npenas" and "predictor_checkpoint" not in online.search
    kwargs = optimizer_kwargs(online)
    assert kwargs["predictor"] == "gennape" and kwargs["predictor_kwargs"] == bench.ONLINE_GENNAPE
    with pytest.raises(ValueError, match="unknown method 'bananas_cg_trees_pretrained'"):
        bench.method_config("bananas_cg_trees_pretrained", 0, 10)
    trees = load_config(bench.method_config("bananas_cg_trees", 0, 10))
    assert trees.search["predictor"] == "cg_trees" and trees.search["predictor_kwargs"] == {"n_estimators": 20}


def test_short_runs_are_continued_with_their_last_value(bench):
    curve = np.array([90.0, 93.0, 94.37])
    assert np.array_equal(bench._padded(curve, 5), [90.0, 93.0, 94.37, 94.37, 94.37])
    assert bench._padded(curve, 3) is curve


def test_datasets_map_to_the_table_columns(bench):
    for name, column in (("cifar10", "cifar10"), ("cifar100", "cifar100"), ("ImageNet16-120", "imagenet16_120")):
        assert load_config(bench.method_config("re", 0, 50, dataset=name)).dataset == column
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'"):
        bench.method_config("re", 0, 50, dataset="imagenet")


def test_online_gennape_variants(bench):
    light = load_config(bench.method_config("bananas_gennape", 1, 50))
    assert light.search["predictor_kwargs"] == bench.ONLINE_GENNAPE
    assert {k: light.search[k] for k in bench.BANANAS_CANDIDATES} == {
        "num_arches_to_mutate": 2,
        "max_mutations": 1,
        "num_candidates": 100,
    }
    for name, (predictor_kwargs, candidates) in bench.ONLINE_VARIANTS.items():
        config = load_config(bench.method_config(f"bananas_{name}", 1, 50, dataset="cifar100"))
        kwargs = optimizer_kwargs(config)
        assert kwargs["predictor"] == "gennape" and kwargs["predictor_kwargs"] == predictor_kwargs
        assert {k: kwargs[k] for k in candidates} == candidates
        assert "predictor_checkpoint" not in config.search
    wide = bench.ONLINE_VARIANTS["gennape_wide"][1]
    assert wide["num_arches_to_mutate"] > 2 and wide["max_mutations"] == 2
    pretrained = load_config(bench.method_config("bananas_gennape_pretrained", 1, 50))
    assert "predictor_kwargs" not in pretrained.search and pretrained.search["num_arches_to_mutate"] == 2
    with pytest.raises(ValueError, match="online GENNAPE variants"):
        bench.method_config("bananas_gennape_nonsense", 0, 10)


def test_stop_at_optimum_ends_a_run_after_the_optimum(bench, tmp_path):
    from gennape_naslib.search import read_trials, run_search

    config = load_config(bench.method_config("re", 4, 30))
    full = run_search(config, folder=tmp_path / "full", report=False).trials
    values = [t["objectives"][bench.METRIC] for t in full]
    target = values[int(np.argmax(values[:12]))]  # stands in for the optimum: the best of the first 12
    first = int(np.flatnonzero(np.isclose(values, target))[0])
    objective = bench._StopAtOptimum("nb201", dataset="cifar10")
    objective.start(target)
    with pytest.raises(bench._OptimumFound):
        run_search(config, folder=tmp_path / "stopped", objective=objective, report=False)
    stopped = read_trials(tmp_path / "stopped")
    assert len(stopped) == first + 1
    assert [t["hash"] for t in stopped] == [t["hash"] for t in full[: first + 1]]
    objective.start(float("nan"))  # re-armed: a run that never meets the optimum is not stopped
    assert len(run_search(config, folder=tmp_path / "again", objective=objective, report=False).trials) == 30


def test_online_config_is_the_chosen_variant(bench):
    shipped = load_config(Path(__file__).resolve().parents[2] / "configs" / "search_nb201_bananas_gennape_online.yaml")
    bench_config = load_config(bench.method_config("bananas_gennape_wide", 0, 150))
    kwargs = optimizer_kwargs(shipped)
    assert kwargs.pop("fit_predictor") is True  # the Bananas default, stated in the file
    assert kwargs == optimizer_kwargs(bench_config)
    assert shipped.epochs == 150 and shipped.dataset == "cifar10"
