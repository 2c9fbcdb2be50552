"""NASLib-style search configs: name mapping, unknown keys, ignored keys, optimizer arguments, shipped files."""

from __future__ import annotations

from pathlib import Path

import pytest

from gennape_naslib.optimizers import get_optimizer
from gennape_naslib.search import ConfigError, load_config, optimizer_kwargs

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_naslib_names_are_mapped():
    cfg = load_config(
        {
            "search_space": "nasbench201",
            "dataset": "ImageNet16-120",
            "optimizer": "re",
            "seed": 3,
            "search": {"epochs": 20, "population_size": 5, "sample_size": 2, "predictor_type": "gennape"},
        }
    )
    assert (cfg.search_space, cfg.dataset, cfg.optimizer, cfg.seed) == (
        "nb201",
        "imagenet16_120",
        "regularized_evolution",
        3,
    )
    assert cfg.epochs == 20 and cfg.metric == "test_acc_200ep"
    assert cfg.run_dir() == Path("run/nb201/imagenet16_120/regularized_evolution/3")
    kwargs = optimizer_kwargs(cfg)
    # The predictor key is not an argument of regularized evolution, so NASLib-style it is left out.
    assert kwargs == {
        "family": "nb201",
        "random_state": 3,
        "metric": "test_acc_200ep",
        "population_size": 5,
        "sample_size": 2,
    }


def test_bananas_keys_reach_the_optimizer():
    cfg = load_config(
        {
            "optimizer": "bananas",
            "search": {"predictor_type": "cg_trees", "num_init": 4, "k": 2, "acq_fn_type": "ucb", "num_ensemble": 1},
        },
        seed=7,
    )
    kwargs = optimizer_kwargs(cfg)
    assert kwargs["predictor"] == "cg_trees" and kwargs["acq_fn_type"] == "ucb" and kwargs["random_state"] == 7


def test_optimizer_kwargs_are_those_of_the_chosen_class_only():
    search = {"epochs": 20, "predictor_type": "flops", "calibrate_std": True, "num_init": 4, "k": 2}
    npenas = load_config({"optimizer": "npenas", "search": search})
    kwargs = optimizer_kwargs(npenas)
    # calibrate_std is a Bananas argument that Npenas (a subclass) does not take: left out.
    assert "calibrate_std" not in kwargs and kwargs["num_init"] == 4
    assert get_optimizer(npenas.optimizer, **kwargs).num_init == 4
    bananas = load_config({"optimizer": "bananas", "search": search})
    assert optimizer_kwargs(bananas)["calibrate_std"] is True


def test_optimizer_kwargs_follow_kwargs_to_the_parent(monkeypatch):
    from gennape_naslib.optimizers import base
    from gennape_naslib.optimizers.regularized_evolution import RegularizedEvolution

    class Forwarding(RegularizedEvolution):
        def __init__(self, family, tag: str = "", **kwargs):
            super().__init__(family, **kwargs)
            self.tag = tag

    monkeypatch.setitem(base._REGISTRY, "forwarding_stand_in", Forwarding)
    cfg = load_config(
        {"optimizer": "forwarding_stand_in", "search": {"population_size": 5, "k": 3, "predictor_type": "flops"}}
    )
    kwargs = optimizer_kwargs(cfg)
    assert kwargs["population_size"] == 5 and "k" not in kwargs and "predictor" not in kwargs
    assert get_optimizer("forwarding_stand_in", **kwargs).population_size == 5


def test_the_direction_of_the_metric_comes_from_its_objective():
    objectives = ["edgegpu_latency:min", "test_acc_200ep:max"]
    first = load_config({"optimizer": "multi_objective", "search": {"objectives": objectives}})
    assert (first.metric, first.maximize) == ("edgegpu_latency", False)
    second = load_config({"optimizer": "re", "search": {"objectives": objectives, "metric": "test_acc_200ep"}})
    assert (second.metric, second.maximize) == ("test_acc_200ep", True)
    explicit = load_config({"optimizer": "multi_objective", "search": {"objectives": objectives, "maximize": True}})
    assert explicit.maximize is True
    assert load_config({"search": {"metric": "edgegpu_latency", "maximize": False}}).maximize is False
    assert load_config({}).maximize is True
    kwargs = optimizer_kwargs(load_config({"optimizer": "re", "search": {"objectives": objectives}}))
    assert (kwargs["metric"], kwargs["maximize"]) == ("edgegpu_latency", False)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"search_space": "nb201", "optimiser": "re"}, "unknown key 'optimiser'"),
        ({"search": {"epochz": 3}}, r"unknown key 'search.epochz'"),
        ({"search_space": "nasbench999"}, "search_space 'nasbench999' is not a family"),
        ({"optimizer": "gradient_descent"}, "could not resolve optimizer 'gradient_descent'"),
        ({"search": {"epochs": 0}}, "search.epochs must be a positive integer"),
        ({"search": [1, 2]}, "search: expected a mapping"),
    ],
)
def test_bad_configs_name_the_key(doc, message):
    with pytest.raises(ConfigError, match=message):
        load_config(doc)


def test_yaml_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="nope.yaml does not exist"):
        load_config(missing)
    bad = tmp_path / "bad.yaml"
    bad.write_text("search: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_config(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n")
    with pytest.raises(ConfigError, match="list.yaml: expected a mapping"):
        load_config(listy)


def test_training_keys_are_accepted_and_reported_as_ignored():
    cfg = load_config({"config_type": "nas", "search": {"checkpoint_freq": 5, "batch_size": 64, "epochs": 3}})
    assert sorted(cfg.ignored) == ["config_type", "search.batch_size", "search.checkpoint_freq"]
    assert "checkpoint_freq" not in cfg.search


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("search_*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_load(path):
    cfg = load_config(path)
    assert cfg.search_space in ("nb201", "nb301") and cfg.epochs >= 100
    kwargs = optimizer_kwargs(cfg)
    assert kwargs["family"] == cfg.search_space


def test_the_four_required_configs_are_shipped():
    optimizers = {load_config(p).optimizer for p in CONFIGS.glob("search_*.yaml")}
    assert {"regularized_evolution", "bananas", "npenas", "multi_objective"} <= optimizers
    predictors = {load_config(p).search.get("predictor") for p in CONFIGS.glob("search_*.yaml")}
    assert "gennape" in predictors
