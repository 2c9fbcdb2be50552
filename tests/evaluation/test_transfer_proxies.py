"""Transfer runs with a fixed test set, zero-cost proxies computed once per architecture, loaded models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gennape_naslib import proxies
from gennape_naslib.evaluation import evaluate_predictions, to_fraction
from gennape_naslib.evaluation.config import MethodSpec, TableSpec, TransferBenchConfig, config_from_dict
from gennape_naslib.evaluation.protocols import load_table, plan_cells, plan_proxy_tasks, run_benchmark
from gennape_naslib.evaluation.proxy_cache import CACHE_NAME, ProxyScores, append_record
from gennape_naslib.evaluation.sampling import transfer_split
from gennape_naslib.execution import SerialExecutor

from ._bench_predictors import LinearOnParams  # noqa: F401  (registers the test predictors)

NB201 = TableSpec("nb201_zc", "cifar10")


def _config(**kwargs) -> TransferBenchConfig:
    base = {
        "train": [TableSpec("nb101")],
        "test": [NB201],
        "methods": [MethodSpec("l2_norm"), MethodSpec("synflow"), MethodSpec("bench_test_tunable")],
        "shots": [0, 3],
        "seeds": [0, 1],
        "train_limit": 30,
        "test_size": 5,
        "fixed_test": True,
        "proxy_seed": 0,
    }
    return TransferBenchConfig(**(base | kwargs))


def _run(config, out):
    return run_benchmark(config, out, executor=SerialExecutor(), progress=False)


def test_fixed_test_set_is_the_same_at_every_seed_and_finetune_rows_differ():
    loaded = load_table(NB201)
    ft0, test0 = transfer_split(loaded, 0, 50, 100, fixed_test=True)
    ft1, test1 = transfer_split(loaded, 1, 50, 100, fixed_test=True)
    assert np.array_equal(test0, test1) and np.array_equal(test0, np.sort(test0)) and test0.size == 100
    assert ft0.size == ft1.size == 50 and not np.array_equal(np.sort(ft0), np.sort(ft1))
    assert not set(ft0) & set(test0) and not set(ft1) & set(test0)
    # without fixed_test the test set moves with the seed (the earlier protocol, unchanged)
    assert not np.array_equal(
        np.sort(transfer_split(loaded, 0, 50, 100)[1]), np.sort(transfer_split(loaded, 1, 50, 100)[1])
    )
    with pytest.raises(ValueError, match="too few for a fixed test set of 700 plus 50"):
        transfer_split(loaded, 0, 50, 700, fixed_test=True)
    with pytest.raises(ValueError, match="fixed_test needs a test_size"):
        _config(test_size=None).validate()


def test_config_round_trip_keeps_load_fixed_test_and_proxy_seed():
    config = _config(methods=[MethodSpec("gennape", {"finetune_epochs": 3}, "G", load="pretrained")])
    again = config_from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config and again.methods[0].load == "pretrained" and again.fixed_test and again.proxy_seed == 0
    assert MethodSpec.from_dict("flops").load == ""


def test_proxy_cache_lookup_and_truncated_line(tmp_path):
    path = tmp_path / CACHE_NAME
    append_record(
        path,
        {"table": "t", "row": 3, "seed": 0, "batch_size": 32, "scores": {"a": [1.5, 0.2], "b": [float("nan"), 0.1]}},
    )
    append_record(path, {"table": "t", "row": 4, "seed": 0, "batch_size": 32, "scores": {"a": [2.5, 0.4]}})
    with path.open("a") as handle:
        handle.write('{"table": "t", "row": 5, "se')  # an interrupted append
    cache = ProxyScores(path)
    assert len(cache) == 3 and cache.has("t", 3, "b", 0, 32) and not cache.has("t", 3, "b", 1, 32)
    values, seconds = cache.lookup("t", [4, 3], "a", 0, 32)
    assert values.tolist() == [2.5, 1.5] and seconds == pytest.approx(0.3)
    assert cache.lookup("t", [3], "b", 0, 32)[0].tolist() == [proxies.NAN_SCORE]  # as proxies.score reports NaN
    assert cache.lookup("t", [3, 4], "b", 0, 32) is None and cache.lookup("t", [5], "a", 0, 32) is None
    assert len(ProxyScores(tmp_path / "missing.jsonl")) == 0


@pytest.mark.slow
def test_proxies_are_computed_once_per_architecture_and_reused(tmp_path):
    config = _config()
    folder = _run(config, tmp_path / "run")
    records = [json.loads(line) for line in (folder.path / CACHE_NAME).read_text().splitlines()]
    loaded = load_table(NB201)
    _, test = transfer_split(loaded, 0, 3, 5, fixed_test=True)
    # one record per test architecture (the same at both seeds), holding both proxies
    assert sorted(r["row"] for r in records) == sorted(test.tolist())
    assert all(set(r["scores"]) == {"l2_norm", "synflow"} and r["seed"] == 0 for r in records)
    rows = folder.read_results()
    assert len(rows) == 3 * 2 * 2
    synflow = [r for r in rows if r["method"] == "synflow"]
    assert len({r["spearman"] for r in synflow}) == 1  # proxy_seed 0 at every seed, unaffected by shots
    direct = proxies.score("synflow", "nb201", loaded.archs(test), seed=0)
    y = to_fraction(loaded.labels[test], loaded.units)
    expected = evaluate_predictions(y, direct, units="fraction", regression=False)
    assert synflow[0]["spearman"] == pytest.approx(expected["spearman"])
    assert synflow[0]["query_time"] > 0
    tuned = {(r["seed"], r["shots"]): r["n_train"] for r in rows if r["method"] == "bench_test_tunable"}
    assert tuned == {(0, 0): 30, (0, 3): 33, (1, 0): 30, (1, 3): 33}
    # a second run over the same cache computes nothing new
    assert plan_proxy_tasks(config, ProxyScores(folder.path / CACHE_NAME)) == []
    assert len(plan_proxy_tasks(config, ProxyScores(tmp_path / "none.jsonl"))) == 5
    other = tmp_path / "again"
    other.mkdir()
    (other / CACHE_NAME).write_text((folder.path / CACHE_NAME).read_text())
    again = _run(config, other).read_results()
    assert len((other / CACHE_NAME).read_text().splitlines()) == 5
    assert {(r["cell"], r["shots"]): r["spearman"] for r in again} == {
        (r["cell"], r["shots"]): r["spearman"] for r in rows
    }


@pytest.mark.slow
def test_without_proxy_seed_each_seed_scores_its_own_networks(tmp_path):
    config = _config(methods=[MethodSpec("synflow")], proxy_seed=None, shots=[0])
    folder = _run(config, tmp_path / "run")
    records = [json.loads(line) for line in (folder.path / CACHE_NAME).read_text().splitlines()]
    assert sorted({r["seed"] for r in records}) == [0, 1] and len(records) == 10
    scores = {(r["row"], r["seed"]): r["scores"]["synflow"][0] for r in records}
    assert all(scores[row, 0] != scores[row, 1] for row, _ in scores)  # other initial weights and images
    assert {r["seed"] for r in folder.read_results()} == {0, 1}


@pytest.mark.slow
def test_loaded_model_is_not_refitted_and_is_fine_tuned(tmp_path):
    from gennape_naslib.predictors import get_predictor

    loaded = load_table(NB201)
    model = get_predictor("kgnn", epochs=1, random_state=0)
    model.fit(loaded.archs(range(12)), to_fraction(loaded.labels[:12], loaded.units), family="nb201")
    path = model.save(tmp_path / "kgnn.npz")
    method = MethodSpec("kgnn", {"finetune_epochs": 1}, "kgnn_loaded", load=str(path))
    config = _config(methods=[method], seeds=[0])
    rows = {r["shots"]: r for r in _run(config, tmp_path / "run").read_results()}
    assert rows[0]["source"].startswith("loaded:") and rows[0]["train_families"] == "(pretrained)"
    assert rows[0]["n_train"] is None and rows[0]["fit_time"] == 0.0 and rows[3]["fit_time"] > 0
    _, test = transfer_split(loaded, 0, 3, 5, fixed_test=True)
    expected = evaluate_predictions(
        to_fraction(loaded.labels[test], loaded.units), model.predict(loaded.archs(test), family="nb201"),
        units="fraction", regression=True,
    )  # fmt: skip
    assert rows[0]["spearman"] == pytest.approx(expected["spearman"])
    with pytest.raises(ValueError, match="is not a file"):
        _run(_config(methods=[MethodSpec("kgnn", load=str(tmp_path / "nope.npz"))]), tmp_path / "bad")
    with pytest.raises(ValueError, match="no shipped pretrained model"):
        _run(_config(methods=[MethodSpec("kgnn", load="pretrained")]), tmp_path / "bad2")
    assert len(plan_cells(config)) == 1


def test_loaded_percent_model_is_fine_tuned_in_percent_and_read_as_fractions(tmp_path):
    """A model trained on percent accuracies (as the shipped GENNAPE model) gets percent fine-tuning labels."""
    from gennape_naslib.predictors import get_predictor

    loaded = load_table(NB201)
    model = get_predictor("kgnn", epochs=1, random_state=0)
    model.fit(loaded.archs(range(12)), 100.0 * to_fraction(loaded.labels[:12], loaded.units), family="nb201")
    path = model.save(tmp_path / "kgnn_percent.npz")
    method = MethodSpec("kgnn", {"finetune_epochs": 2}, "kgnn_percent", load=str(path))
    rows = {r["shots"]: r for r in _run(_config(methods=[method], seeds=[0]), tmp_path / "run").read_results()}
    ft, test = transfer_split(loaded, 0, 3, 5, fixed_test=True)
    y = to_fraction(loaded.labels[test], loaded.units)
    archs = loaded.archs(test)
    zero = evaluate_predictions(y, model.predict(archs, family="nb201") / 100.0, units="fraction", regression=True)
    tuned = model.set_params(finetune_epochs=2).finetune(
        loaded.archs(ft[:3]), 100.0 * to_fraction(loaded.labels[ft[:3]], loaded.units), family="nb201"
    )
    three = evaluate_predictions(y, tuned.predict(archs, family="nb201") / 100.0, units="fraction", regression=True)
    for shots, expected in ((0, zero), (3, three)):
        assert rows[shots]["mae"] == pytest.approx(expected["mae"])
        assert rows[shots]["spearman"] == pytest.approx(expected["spearman"])
    assert rows[0]["mae"] < 0.5  # read back as fractions, not percent against fractions


def test_proxy_averaged_over_draws_is_scored_by_its_own_predict(tmp_path):
    config = _config(methods=[MethodSpec("synflow", {"draws": 2}, "synflow2")], seeds=[0], shots=[0])
    folder = _run(config, tmp_path / "run")
    assert not (folder.path / CACHE_NAME).exists()  # the single-draw cache would give other scores
    loaded = load_table(NB201)
    _, test = transfer_split(loaded, 0, 0, 5, fixed_test=True)
    direct = proxies.score("synflow", "nb201", loaded.archs(test), seed=0, draws=2)
    y = to_fraction(loaded.labels[test], loaded.units)
    (row,) = folder.read_results()
    assert row["spearman"] == pytest.approx(evaluate_predictions(y, direct, units="fraction")["spearman"])
