"""NAS-Bench-301's surrogate models as a search objective, tested against a stand-in ``nasbench301``.

The real package and its models are not available here. The stand-in module mimics the facts the
objective relies on (``load_ensemble(folder)``; ``predict(config=genotype, representation="genotype",
with_noise=...)``), checks the genotype it is given the way the real converter reads it, records every
call, and answers with a deterministic function of the genotype (plus noise when asked for).
"""

from __future__ import annotations

import json
import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from gennape_naslib._optional import MissingDependencyError
from gennape_naslib.cli import main
from gennape_naslib.data import DataNotFoundError
from gennape_naslib.search import (
    ConfigError,
    SearchConfig,
    build_objective,
    load_config,
    read_trials,
    run_search,
    surrogates,
)
from gennape_naslib.search.surrogates import NB301SurrogateObjective, to_genotype
from gennape_naslib.search_spaces import get

#: The DARTS ops of NAS-Bench-301, in NASLib's compact op-id order (written out, not imported).
DARTS_OPS = ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
             "dil_conv_3x3", "dil_conv_5x5")  # fmt: skip
CS = "NetworkSelectorDatasetInfo:darts:"
CONFIG = Path(__file__).resolve().parents[2] / "configs" / "search_nb301_re_surrogate.yaml"


def _check_genotype(genotype) -> None:
    """What the real package's genotype converter needs: a DARTS Genotype with 8 pairs per cell."""
    assert type(genotype).__name__ == "Genotype"
    assert genotype._fields == ("normal", "normal_concat", "reduce", "reduce_concat")
    for cell in ("normal", "reduce"):
        pairs = getattr(genotype, cell)
        assert len(pairs) == 8
        for k, (op, node) in enumerate(pairs):
            assert type(op) is str and op in DARTS_OPS
            assert type(node) is int and 0 <= node <= k // 2 + 1
        for k in range(0, 8, 2):  # the converter keys an edge by its input: two equal inputs would collide
            assert pairs[k][1] != pairs[k + 1][1]
        assert list(getattr(genotype, f"{cell}_concat")) == [2, 3, 4, 5]


def _configspace_dict(genotype) -> dict[str, str]:
    """NB-301's configuration of a genotype: node ``i``'s edges start at 0, 2, 5, 9 and are keyed by
    input; nodes 3..5 name their sorted input pair ``"a_b"``."""
    config = {}
    for cell in ("normal", "reduce"):
        pairs = getattr(genotype, cell)
        start = 0
        for node in range(4):
            two = pairs[2 * node : 2 * node + 2]
            config.update({f"{CS}edge_{cell}_{start + i}": op for op, i in two})
            if node:
                config[f"{CS}inputs_node_{cell}_{node + 2}"] = "_".join(str(i) for i in sorted(i for _, i in two))
            start += node + 2
    return config


def standin_value(genotype, runtime: bool = False) -> float:
    """The stand-in's answer: a deterministic function of the configuration the genotype describes."""
    config = _configspace_dict(genotype)
    score = sum((j + 1) * (DARTS_OPS.index(v) + 1) for j, (_, v) in enumerate(sorted(config.items())) if "edge" in _)
    return 1000.0 + 7.0 * score if runtime else 85.0 + (score % 97) / 10.0


class StandinEnsemble:
    def __init__(self, folder: str, calls: list) -> None:
        self.runtime = "runtime" in Path(folder).name
        self.calls = calls

    def predict(self, config, representation, with_noise=True):
        assert representation == "genotype"
        _check_genotype(config)
        self.calls.append({"runtime": self.runtime, "with_noise": with_noise, "genotype": config})
        value = standin_value(config, self.runtime)
        return np.float64(value + (np.random.normal(0.0, 0.5) if with_noise else 0.0))


@pytest.fixture
def standin(monkeypatch):
    """A stand-in ``nasbench301`` in ``sys.modules`` and an empty ensemble cache; records loads and calls."""
    module = types.ModuleType("nasbench301")
    module.__version__ = "0.0-standin"
    module.loads = []
    module.calls = []

    def load_ensemble(folder):
        module.loads.append(str(folder))
        return StandinEnsemble(folder, module.calls)

    module.load_ensemble = load_ensemble
    monkeypatch.setitem(sys.modules, "nasbench301", module)
    monkeypatch.setattr(surrogates, "_ENSEMBLES", {})
    return module


def _ensemble_folder(path: Path, members: int = 2) -> Path:
    for m in range(members):
        member = path / f"surrogate_model_{m}"
        member.mkdir(parents=True)
        (member / "surrogate_model.model").write_bytes(b"")
        (member / "data_config.json").write_text('{"seed": 0}')
        (member / "model_config.json").write_text('{"model": "xgb"}')
    return path


@pytest.fixture
def model_dirs(tmp_path):
    return _ensemble_folder(tmp_path / "xgb_v1.0"), _ensemble_folder(tmp_path / "lgb_runtime_v1.0")


def test_objective_reports_the_standins_values(standin, model_dirs):
    family = get("nb301")
    objective = NB301SurrogateObjective(model_dirs[0], runtime_dir=model_dirs[1], extra_metrics=["params"])
    archs = [family.example()] + [family.sample(seed) for seed in range(4)]
    for arch in archs:
        # the genotype written out from the architecture's own (op, input) pairs
        genotype = surrogates.Genotype(list(arch.normal), [2, 3, 4, 5], list(arch.reduce), [2, 3, 4, 5])
        metrics = objective.evaluate(arch)
        assert metrics == {
            "val_acc_surrogate": pytest.approx(standin_value(genotype)),
            "train_time_surrogate": pytest.approx(standin_value(genotype, runtime=True)),
            "params": float(family.params(arch)),
        }
    assert len(standin.calls) == 2 * len(archs)
    assert sorted(standin.loads) == sorted(str(p.resolve()) for p in model_dirs)
    described = objective.describe()
    assert described["kind"] == "surrogate" and described["family"] == "nb301"
    assert described["model_dir"] == str(model_dirs[0].resolve()) and described["with_noise"] is False
    assert described["nasbench301_version"] == "0.0-standin"
    assert described["metrics"] == ["val_acc_surrogate", "train_time_surrogate"]


def test_without_a_runtime_model_only_accuracy_is_reported(standin, model_dirs):
    objective = NB301SurrogateObjective(model_dirs[0])
    assert set(objective.evaluate(get("nb301").example())) == {"val_acc_surrogate"}
    assert objective.describe()["runtime_dir"] is None and standin.loads == [str(model_dirs[0].resolve())]


def test_genotype_of_a_known_arch_is_the_one_derived_by_hand():
    # the first NAS-Bench-301 row of NASLib's zero-cost file, compact (input, op_id) pairs; op ids
    # 0 max_pool_3x3, 1 avg_pool_3x3, 2 skip_connect, 3 sep_conv_3x3, 4 sep_conv_5x5, 5 dil_conv_3x3, 6 dil_conv_5x5
    compact = (
        "[[(0, 0), (1, 5), (1, 1), (0, 1), (1, 3), (0, 3), (1, 3), (3, 2)], "
        "[(1, 0), (0, 2), (1, 3), (0, 3), (3, 0), (0, 1), (2, 0), (3, 6)]]"
    )
    genotype = to_genotype(get("nb301").from_compact(compact))
    assert genotype == (
        [
            ("max_pool_3x3", 0),
            ("dil_conv_3x3", 1),
            ("avg_pool_3x3", 1),
            ("avg_pool_3x3", 0),
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 0),
            ("sep_conv_3x3", 1),
            ("skip_connect", 3),
        ],
        [2, 3, 4, 5],
        [
            ("max_pool_3x3", 1),
            ("skip_connect", 0),
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 0),
            ("max_pool_3x3", 3),
            ("avg_pool_3x3", 0),
            ("max_pool_3x3", 2),
            ("dil_conv_5x5", 3),
        ],
        [2, 3, 4, 5],
    )
    _check_genotype(genotype)


def test_genotype_describes_the_same_nb301_configuration():
    family = get("nb301")
    for seed in range(20):
        arch = family.sample(seed)
        genotype = to_genotype(arch)
        _check_genotype(genotype)
        back = family.from_configuration(_configspace_dict(genotype))
        assert family.canonical_hash(back) == family.canonical_hash(arch)


def test_another_concat_list_is_refused_not_predicted_as_the_default():
    # the surrogate reads no concat list: it would predict the [2, 3, 4, 5] architecture instead
    family = get("nb301")
    darts = family.example()  # its node 5 takes state 2, so [3, 4, 5] leaves no node dead
    trimmed = family.from_json({**family.to_json(darts), "normal_concat": [3, 4, 5]})
    with pytest.raises(ValueError, match=r"normal_concat.*needs \[2, 3, 4, 5\]"):
        to_genotype(trimmed)


def test_deterministic_by_default_and_noisy_on_request(standin, model_dirs):
    arch = get("nb301").sample(3)
    plain = NB301SurrogateObjective(model_dirs[0])
    assert plain.evaluate(arch) == plain.evaluate(arch)
    assert [c["with_noise"] for c in standin.calls] == [False, False]
    noisy = NB301SurrogateObjective(model_dirs[0], with_noise=True)
    draws = {noisy.evaluate(arch)["val_acc_surrogate"] for _ in range(5)}
    assert len(draws) == 5 and standin.calls[-1]["with_noise"] is True
    assert noisy.describe()["with_noise"] is True
    with pytest.raises(ValueError, match="with_noise must be true or false, got 'false'"):
        NB301SurrogateObjective(model_dirs[0], with_noise="false")  # a truthy string is not taken as true


def test_each_model_folder_is_loaded_once_per_process(standin, model_dirs):
    first = NB301SurrogateObjective(model_dirs[0], runtime_dir=model_dirs[1])
    second = NB301SurrogateObjective(str(model_dirs[0]), runtime_dir=model_dirs[1])
    copy = pickle.loads(pickle.dumps(first))  # what a worker process receives: folders, no models
    arch = get("nb301").example()
    assert first.evaluate(arch) == second.evaluate(arch) == copy.evaluate(arch)
    assert len(standin.loads) == 2
    surrogates._ENSEMBLES.clear()  # a fresh process: the copy loads its folders on first use
    copy.evaluate(arch)
    assert len(standin.loads) == 4


def test_a_failed_load_names_the_folder_and_is_tried_again(standin, model_dirs, monkeypatch):
    def broken(folder):
        standin.loads.append(str(folder))
        raise ValueError("model file written by another xgboost")

    monkeypatch.setattr(standin, "load_ensemble", broken)
    for attempt in (1, 2):
        with pytest.raises(ValueError, match="another xgboost") as info:
            NB301SurrogateObjective(model_dirs[0])
        assert len(standin.loads) == attempt  # not cached: a fixed install loads it next time
        if sys.version_info >= (3, 11):
            assert str(model_dirs[0].resolve()) in " ".join(info.value.__notes__)


def test_missing_package_names_it_and_how_to_install(monkeypatch, model_dirs):
    monkeypatch.setitem(sys.modules, "nasbench301", None)  # import nasbench301 -> ImportError
    with pytest.raises(MissingDependencyError, match=r"'nasbench301'.*pip install nasbench301") as info:
        NB301SurrogateObjective(model_dirs[0])
    assert isinstance(info.value, ImportError) and "xgboost" in str(info.value)


def test_missing_or_incomplete_model_folders_are_named(standin, tmp_path, model_dirs):
    missing = tmp_path / "nb_models" / "xgb_v1.0"
    with pytest.raises(DataNotFoundError, match="performance model folder .* does not exist") as info:
        NB301SurrogateObjective(missing)
    assert str(missing) in str(info.value) and "surrogate_model.model" in str(info.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataNotFoundError, match=r"holds no surrogate_model.model"):
        NB301SurrogateObjective(empty)
    (model_dirs[1] / "surrogate_model_1" / "model_config.json").unlink()
    with pytest.raises(DataNotFoundError, match=r"runtime model member .*surrogate_model_1 lacks model_config.json"):
        NB301SurrogateObjective(model_dirs[0], runtime_dir=model_dirs[1])
    assert standin.loads == []  # nothing is loaded before every folder checks out
    doc = {"search_space": "nasbench301", "search": {"objective": "surrogate", "surrogate_dir": str(missing)}}
    with pytest.raises(ConfigError, match=r"search.surrogate_dir .*: no such folder"):
        build_objective(load_config(doc))


def test_other_families_are_refused(standin, model_dirs):
    with pytest.raises(ValueError, match=r"family nb301; family 'nb201' is not one"):
        NB301SurrogateObjective(model_dirs[0], family="nb201")
    doc = {"search_space": "nasbench201", "search": {"objective": "surrogate", "surrogate_dir": str(model_dirs[0])}}
    with pytest.raises(ConfigError, match=r"set search_space: nasbench301 \(got family 'nb201'\)"):
        load_config(doc)
    direct = SearchConfig(search_space="nb101", search={"objective": "surrogate", "surrogate_dir": str(model_dirs[0])})
    with pytest.raises(ValueError, match=r"family 'nb101' has none"):
        build_objective(direct)
    assert standin.loads == []


@pytest.mark.parametrize(
    ("search", "message"),
    [
        ({"objective": "surrogate"}, "needs search.surrogate_dir"),
        ({"surrogate_dir": "m"}, "search.surrogate_dir is only read with search.objective: surrogate"),
        ({"objective": "predictor", "runtime_dir": "m"}, "search.runtime_dir is only read with"),
        ({"objective": "surrogate", "surrogate_dir": "m", "surrogate_noise": "yes"}, "surrogate_noise must be"),
        ({"objective": "surrogate", "surrogate_dir": ""}, "search.surrogate_dir must be the path of a folder"),
        (
            {"objective": "surrogate", "surrogate_dir": "m", "surrogate_model": "x"},
            "unknown key 'search.surrogate_model'",
        ),
    ],
)
def test_surrogate_keys_are_checked_by_name(search, message):
    with pytest.raises(ConfigError, match=message):
        load_config({"search_space": "nasbench301", "search": search})


def test_surrogate_needs_cifar10():
    doc = {"search_space": "darts", "dataset": "cifar100", "search": {"objective": "surrogate", "surrogate_dir": "m"}}
    with pytest.raises(ConfigError, match=r"predict CIFAR-10 accuracy; set dataset: cifar10"):
        load_config(doc)


def test_search_end_to_end_through_the_cli(standin, tmp_path, capsys):
    # folders given relative to the config file, which is not the working directory
    _ensemble_folder(tmp_path / "cfg" / "nb_models" / "xgb_v1.0")
    _ensemble_folder(tmp_path / "cfg" / "nb_models" / "lgb_runtime_v1.0")
    doc = {
        "search_space": "nasbench301",
        "dataset": "cifar10",
        "optimizer": "re",
        "seed": 2,
        "search": {
            "epochs": 12,
            "population_size": 4,
            "sample_size": 2,
            "objective": "surrogate",
            "surrogate_dir": "nb_models/xgb_v1.0",
            "runtime_dir": "nb_models/lgb_runtime_v1.0",
            "extra_metrics": ["flops"],
        },
    }
    path = tmp_path / "cfg" / "search.yaml"
    path.write_text(json.dumps(doc))
    out = tmp_path / "out"
    assert main(["search", "--config", str(path), "--out", str(out)]) == 0
    assert "best val_acc_surrogate:" in capsys.readouterr().out
    trials = read_trials(out)
    family = get("nb301")
    assert len(trials) == 12 and len(standin.calls) == 24
    for trial in trials:
        genotype = to_genotype(family.from_json(trial["arch"]))
        assert trial["objectives"]["val_acc_surrogate"] == pytest.approx(standin_value(genotype))
        assert trial["objectives"]["train_time_surrogate"] == pytest.approx(standin_value(genotype, runtime=True))
        assert trial["objectives"]["flops"] > 0
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["objective"]["kind"] == "surrogate" and meta["objective"]["nasbench301_version"] == "0.0-standin"
    assert meta["objective"]["runtime_dir"] == str((tmp_path / "cfg" / "nb_models" / "lgb_runtime_v1.0").resolve())
    assert (out / "summary.md").is_file() and (out / "errors.json").is_file()
    # candidates come from the whole DARTS space, not from the 725 architectures of the packaged table
    from gennape_naslib.search.objectives import _load_table

    table = _load_table("nb301", None)
    in_table = {family.canonical_hash(a) for a in table.archs}
    assert sum(t["hash"] not in in_table for t in trials) >= 10


def test_search_through_the_runner_api_resumes_without_querying_again(standin, tmp_path, model_dirs):
    doc = {
        "search_space": "nasbench301",
        "optimizer": "rs",
        "seed": 0,
        "search": {"epochs": 5, "objective": "surrogate", "surrogate_dir": str(model_dirs[0])},
    }
    first = run_search(load_config(doc), folder=tmp_path / "run", report=False)
    assert [set(t["objectives"]) for t in first.trials] == [{"val_acc_surrogate"}] * 5
    calls = len(standin.calls)
    again = run_search(load_config(doc), folder=tmp_path / "run", report=False)
    assert again.resumed == 5 and len(standin.calls) == calls
    assert [t["objectives"] for t in again.trials] == [t["objectives"] for t in first.trials]


def test_shipped_config_parses_and_names_its_placeholder_folders(standin, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the placeholders exist neither here nor beside the config
    config = load_config(CONFIG)
    assert config.search_space == "nb301" and config.optimizer == "regularized_evolution"
    assert config.objective == "surrogate" and config.metric == "val_acc_surrogate"
    assert config.search["surrogate_noise"] is False
    with pytest.raises(ConfigError, match=r"search.surrogate_dir 'nb_models/xgb_v1.0': no such folder"):
        build_objective(config)
    assert standin.loads == []
