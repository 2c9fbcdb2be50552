"""Benchmark configurations: YAML/JSON round trips and errors that name the key."""

from __future__ import annotations

import pytest

from gennape_naslib.evaluation.config import (
    MethodSpec,
    PredictorBenchConfig,
    ProxyBenchConfig,
    TableSpec,
    TransferBenchConfig,
    config_from_dict,
    load_config,
)


def test_table_spec_parse():
    assert TableSpec.parse("nb201/cifar100:test_acc_200ep") == TableSpec("nb201", "cifar100", "test_acc_200ep")
    assert TableSpec.parse("nb101") == TableSpec("nb101")
    assert str(TableSpec("nb201", "cifar10")) == "nb201/cifar10"
    with pytest.raises(ValueError, match="NAME"):
        TableSpec.parse("/cifar10")


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_round_trip(tmp_path, suffix):
    configs = [
        PredictorBenchConfig(TableSpec("nb201", "cifar10"), [MethodSpec("gennape", {"epochs": 3}, "g3")], [5, 10]),
        TransferBenchConfig([TableSpec("nb201")], [TableSpec("nb101")], [MethodSpec("flops")], shots=[0, 10]),
        ProxyBenchConfig(TableSpec("nb201_zc"), published=["synflow"], computed=["nwot"], n_archs=20),
    ]
    for config in configs:
        path = config.save(tmp_path / f"{config.protocol}{suffix}")
        assert load_config(path) == config
        assert config_from_dict(config.to_dict()) == config


def test_friendly_forms_and_errors():
    config = config_from_dict({"protocol": "predictors", "table": "nb201/cifar10", "methods": ["flops"]})
    assert config.table == TableSpec("nb201", "cifar10") and config.methods == [MethodSpec("flops")]
    with pytest.raises(ValueError, match="unknown key 'train_size'"):
        config_from_dict({"protocol": "predictors", "table": "nb201", "methods": ["flops"], "train_size": 5})
    with pytest.raises(ValueError, match="missing key 'methods'"):
        config_from_dict({"protocol": "predictors", "table": "nb201"})
    with pytest.raises(ValueError, match="'protocol' must be one of"):
        config_from_dict({"table": "nb201"})
    with pytest.raises(ValueError, match="sampling must be"):
        config_from_dict({"protocol": "predictors", "table": "nb201", "methods": ["flops"], "sampling": "greedy"})
    with pytest.raises(ValueError, match="labels repeat"):
        config_from_dict({"protocol": "transfer", "train": ["nb201"], "test": ["nb101"], "methods": ["flops", "flops"]})
    with pytest.raises(ValueError, match="seeds"):
        config_from_dict({"protocol": "proxies", "table": "nb201_zc", "seeds": []})
