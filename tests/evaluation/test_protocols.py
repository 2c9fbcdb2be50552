"""Benchmark protocols on the packaged tables with tiny predictors: numbers, files, resume, fairness."""

from __future__ import annotations

import csv
import importlib.util
import json

import numpy as np
import pytest
from scipy import stats

from gennape_naslib.evaluation import spearman
from gennape_naslib.evaluation.config import (
    MethodSpec,
    PredictorBenchConfig,
    ProxyBenchConfig,
    TableSpec,
    TransferBenchConfig,
)
from gennape_naslib.evaluation.protocols import load_table, plan_cells, run_benchmark, split_for_seed
from gennape_naslib.evaluation.report import render_report
from gennape_naslib.evaluation.results import RunFolder
from gennape_naslib.execution import SerialExecutor

from ._bench_predictors import LinearOnParams, TunableLinear

#: Figures are written only with the [plot] extra (matplotlib); the tables and files are checked without it.
PLOTS = importlib.util.find_spec("matplotlib") is not None


def _predictor_config(**kwargs) -> PredictorBenchConfig:
    base = {
        "table": TableSpec("nb201_zc", "cifar10"),
        "methods": [MethodSpec("bench_test_linear"), MethodSpec("params")],
        "train_sizes": [5, 20],
        "test_size": 40,
        "seeds": [0, 1],
    }
    return PredictorBenchConfig(**(base | kwargs))


def _run(config, out, **kwargs):
    return run_benchmark(config, out, executor=SerialExecutor(), progress=False, **kwargs)


def test_predictor_protocol_rows_numbers_and_files(tmp_path):
    folder = _run(_predictor_config(), tmp_path / "run", naslib_errors=True)
    rows = folder.read_results()
    # linear: 2 sizes x 2 seeds; params needs no fit: one cell per seed at train size 0
    assert sorted((r["method"], r["train_size"], r["seed"]) for r in rows) == [
        ("bench_test_linear", 5, 0),
        ("bench_test_linear", 5, 1),
        ("bench_test_linear", 20, 0),
        ("bench_test_linear", 20, 1),
        ("params", 0, 0),
        ("params", 0, 1),
    ]
    loaded = load_table(TableSpec("nb201_zc", "cifar10"))
    predictions = folder.read_predictions()
    for row in rows:
        rec = predictions[(row["cell"], "")]
        assert row["n_test"] == len(rec["y_true"]) == 40
        assert row["spearman"] == pytest.approx(stats.spearmanr(rec["y_true"], rec["y_pred"]).statistic)
        assert np.isfinite(row["kendall_tau"]) and np.isfinite(row["gennape_tau"])
        assert np.isnan(row["mae"]) == (row["method"] == "params")
    # the params row is the signed correlation of parameter counts on the seed's test set
    test, _ = split_for_seed(loaded, 0, 40, 20)
    counts = [loaded.table.adapter.params(a) for a in loaded.archs(test)]
    params_row = next(r for r in rows if r["method"] == "params" and r["seed"] == 0)
    assert params_row["spearman"] == pytest.approx(spearman(loaded.labels[test], counts))
    meta = folder.metadata()
    assert meta["config"]["protocol"] == "predictors" and meta["seeds"] == [0, 1]
    assert meta["data"][0]["metric"] == "val_acc" and meta["data"][0]["rows"] == 725
    assert "numpy" in meta["versions"] and meta["machine"]["cpu_count"]
    summary = (folder.path / "summary.md").read_text()
    assert "Spearman" in summary and "| bench_test_linear |" in summary
    for name in ("spearman_vs_train_size.png", "scatter_nb201_zc.png") if PLOTS else ():
        assert (folder.path / name).read_bytes()[:4] == b"\x89PNG"
    errors = json.loads((folder.path / "naslib" / "bench_test_linear" / "seed_1" / "errors.json").read_text())
    assert errors[0]["search_space"] == "nasbench201" and [e["train_size"] for e in errors[1:]] == [5, 20]
    assert len(errors[1]["full_ytest"]) == 40 and {"kt_2dec", "precision_20", "query_time"} <= set(errors[1])


def test_seeds_change_the_sample_and_a_rerun_gives_the_same_numbers(tmp_path):
    a = _run(_predictor_config(), tmp_path / "a").read_results()
    b = _run(_predictor_config(), tmp_path / "b").read_results()
    key = lambda r: r["cell"]
    for ra, rb in zip(sorted(a, key=key), sorted(b, key=key)):
        assert ra["spearman"] == rb["spearman"]
        np.testing.assert_equal(ra["mae"], rb["mae"])  # NaN for params
    s0 = [r["spearman"] for r in a if r["method"] == "params"]
    assert s0[0] != s0[1]


def test_interrupted_run_resumes_without_recomputing_finished_cells(tmp_path):
    config = _predictor_config(methods=[MethodSpec("bench_test_linear")], train_sizes=[5, 20, 30])
    LinearOnParams.calls.clear()
    LinearOnParams.fail_on_size = 30
    try:
        with pytest.raises(KeyboardInterrupt):
            _run(config, tmp_path / "run")
    finally:
        LinearOnParams.fail_on_size = None
    done = RunFolder(tmp_path / "run").done_cells()
    assert done == {
        "bench_test_linear|n=5|seed=0",
        "bench_test_linear|n=5|seed=1",
        "bench_test_linear|n=20|seed=0",
        "bench_test_linear|n=20|seed=1",
    }
    # a crash in the middle of an append leaves half a line: it is dropped on resume
    with (tmp_path / "run" / "results.csv").open("a") as handle:
        handle.write("bench_test_linear|n=30|seed=0,predictors,bench")
    LinearOnParams.calls.clear()
    folder = _run(config, tmp_path / "run")
    assert sorted(c[3] for c in LinearOnParams.calls) == [30, 30]  # only the missing cells ran
    rows = folder.read_results()
    assert len(rows) == 6 and len({r["cell"] for r in rows}) == 6
    fresh = _run(config, tmp_path / "fresh").read_results()
    by_cell = {r["cell"]: r["spearman"] for r in fresh}
    assert all(by_cell[r["cell"]] == r["spearman"] for r in rows)
    with open(tmp_path / "run" / "results.csv", newline="") as handle:
        assert all(len(line) == len(fresh[0]) for line in csv.DictReader(handle))


def test_a_folder_of_another_configuration_is_refused(tmp_path):
    _run(_predictor_config(methods=[MethodSpec("params")]), tmp_path / "run")
    with pytest.raises(ValueError, match="different configuration"):
        _run(_predictor_config(methods=[MethodSpec("flops")]), tmp_path / "run")


@pytest.mark.slow  # parses and hashes the 15,625 NB-201 cells
def test_mutation_sampling_and_size_errors():
    loaded = load_table(TableSpec("nb201", "cifar10"))
    test, train = split_for_seed(loaded, 3, 50, 15, sampling="mutation")
    assert len(set(train.tolist())) == 15 and not set(train.tolist()) & set(test.tolist())
    adapter = loaded.table.adapter
    hashes = [adapter.canonical_hash(a) for a in loaded.archs(train)]
    # every architecture after the first is a neighbour of an earlier one
    for i, arch in enumerate(loaded.archs(train)[1:], start=1):
        neighbours = {adapter.canonical_hash(n) for n in adapter.neighbors(arch)}
        assert neighbours & set(hashes[:i])
    with pytest.raises(ValueError, match="mutation sampling found only"):
        split_for_seed(load_table(TableSpec("nb301")), 0, 100, 50, sampling="mutation")
    with pytest.raises(ValueError, match="292 labelled rows"):
        plan_cells(_predictor_config(table=TableSpec("nb101"), train_sizes=[100], test_size=200))


def test_transfer_uses_the_same_finetune_samples_for_every_method(tmp_path):
    config = TransferBenchConfig(
        train=[TableSpec("nb201_zc", "cifar10")],
        test=[TableSpec("nb101")],
        methods=[
            MethodSpec("bench_test_tunable", {"tag": "a"}, "tuned_a"),
            MethodSpec("bench_test_tunable", {"tag": "b"}, "tuned_b"),
            MethodSpec("bench_test_linear", {"tag": "c"}, "refit_c"),
            MethodSpec("params"),
        ],
        shots=[0, 10],
        seeds=[0, 1],
        train_limit=60,
        test_size=100,
    )
    TunableLinear.tuned.clear()
    LinearOnParams.calls.clear()
    folder = _run(config, tmp_path / "run")
    rows = folder.read_results()
    assert len(rows) == 4 * 2 * 2  # methods x shots x seeds
    assert {r["n_test"] for r in rows} == {100}
    tuned = {(tag, seed): hashes for tag, seed, hashes in TunableLinear.tuned}
    assert set(tuned) == {("a", 0), ("a", 1), ("b", 0), ("b", 1)}
    assert tuned["a", 0] == tuned["b", 0] and tuned["a", 1] == tuned["b", 1] and tuned["a", 0] != tuned["a", 1]
    assert all(len(h) == 10 for h in tuned.values())
    # the method without finetune is refitted on the training rows plus the 10 samples
    assert sorted(n for kind, tag, _, n in LinearOnParams.calls if tag == "c") == [60, 60, 70, 70]
    zero = {(r["method"], r["seed"]): r for r in rows if r["shots"] == 0}
    assert (
        zero["params", 0]["spearman"]
        == next(r for r in rows if r["method"] == "params" and r["shots"] == 10 and r["seed"] == 0)["spearman"]
    )
    assert all(abs(r["mae"]) < 1 for r in rows if r["method"] != "params")  # labels as fractions
    summary = (folder.path / "summary.md").read_text()
    assert "nb101 10-shot" in summary and "Trained on: nb201_zc" in summary
    assert (folder.path / "scatter_nb101.png").is_file() == PLOTS


def test_proxy_protocol_on_published_columns(tmp_path):
    config = ProxyBenchConfig(TableSpec("nb201_zc", "cifar10"), published=["synflow", "nwot", "flops"])
    folder = _run(config, tmp_path / "run")
    rows = {r["method"]: r for r in folder.read_results()}
    assert set(rows) == {"synflow", "nwot", "flops"} and all(r["source"] == "published" for r in rows.values())
    loaded = load_table(TableSpec("nb201_zc", "cifar10"))
    synflow = loaded.table.metric("synflow")
    known = ~np.isnan(synflow)  # one published synflow score is missing: that row is left out
    expected = stats.spearmanr(loaded.labels[known], synflow[known]).statistic
    assert rows["synflow"]["spearman"] == pytest.approx(expected)
    assert rows["synflow"]["spearman"] > 0.5 and rows["synflow"]["n_test"] == 724 and rows["nwot"]["n_test"] == 725
    assert np.isfinite(rows["nwot"]["spearman"])  # -inf scores rank last instead of breaking the metric
    assert (folder.path / "proxy_correlations.png").is_file() == PLOTS
    assert "| synflow | published | 724 |" in (folder.path / "summary.md").read_text()
    all_columns = plan_cells(ProxyBenchConfig(TableSpec("nb201_zc", "cifar10")))
    assert len(all_columns) == 12
    with pytest.raises(ValueError, match="no proxy column 'zen'"):
        plan_cells(ProxyBenchConfig(TableSpec("nb201_zc", "cifar10"), published=["zen"]))


def test_report_re_renders_from_the_files(tmp_path):
    folder = _run(_predictor_config(methods=[MethodSpec("params")]), tmp_path / "run")
    (folder.path / "summary.md").unlink()
    (folder.path / "spearman_vs_train_size.png").unlink(missing_ok=not PLOTS)
    written = render_report(tmp_path / "run", naslib_errors=True)
    assert (folder.path / "summary.md").is_file() and (folder.path / "spearman_vs_train_size.png").is_file() == PLOTS
    assert (folder.path / "naslib" / "params" / "seed_0" / "errors.json") in written
    with pytest.raises(FileNotFoundError, match="metadata.json"):
        render_report(tmp_path)


@pytest.mark.slow
def test_ray_executor_gives_the_serial_numbers(tmp_path):
    pytest.importorskip("ray", reason="Ray is optional (the [ray] extra)")
    from gennape_naslib.execution.ray_executor import RayExecutor

    config = _predictor_config(methods=[MethodSpec("params"), MethodSpec("flops")], seeds=[0, 1, 2])
    serial = _run(config, tmp_path / "serial").read_results()
    with RayExecutor(max_workers=2, init_kwargs={"num_cpus": 2}) as executor:
        ray_rows = run_benchmark(config, tmp_path / "ray", executor=executor, progress=False).read_results()
    assert len(ray_rows) == len(serial) == 6
    by_cell = {r["cell"]: r for r in serial}
    for row in ray_rows:
        for metric in ("spearman", "kendall_tau", "gennape_tau", "ndcg_10", "precision_10"):
            assert row[metric] == by_cell[row["cell"]][metric], (row["cell"], metric)


def test_transfer_from_two_families_trains_on_computation_graphs(tmp_path):
    config = TransferBenchConfig(
        train=[TableSpec("nb201_zc", "cifar10"), TableSpec("nb301")],
        test=[TableSpec("nb101")],
        methods=[MethodSpec("cg_trees", {"n_estimators": 10}), MethodSpec("flops")],
        shots=[0, 5],
        seeds=[0],
        train_limit=15,
        test_size=25,
    )
    rows = _run(config, tmp_path / "run").read_results()
    assert {(r["method"], r["shots"]) for r in rows} == {("cg_trees", 0), ("cg_trees", 5), ("flops", 0), ("flops", 5)}
    assert {r["train_families"] for r in rows} == {"nb201_zc+nb301"}
    assert all(np.isfinite(r["spearman"]) and r["n_test"] == 25 for r in rows)
    assert next(r for r in rows if r["method"] == "cg_trees" and r["shots"] == 5)["n_train"] == 35


def test_computed_proxy_cells(tmp_path):
    config = ProxyBenchConfig(TableSpec("nb201_zc", "cifar10"), published=["synflow"], computed=["synflow"], n_archs=6)
    rows = {r["source"]: r for r in _run(config, tmp_path / "run").read_results()}
    assert rows["computed"]["n_test"] == 6 and rows["published"]["n_test"] == 724
    assert rows["computed"]["query_time"] > 0 and np.isnan(rows["published"]["query_time"])
    assert -1 <= rows["computed"]["spearman"] <= 1


def test_declared_orientation_and_prediction_shape(tmp_path):
    config = _predictor_config(
        methods=[MethodSpec("bench_test_linear"), MethodSpec("bench_test_lower")],
        seeds=[0],
    )
    rows = {(r["method"], r["train_size"]): r for r in _run(config, tmp_path / "run").read_results()}
    for size in (5, 20):
        assert rows["bench_test_lower", size]["spearman"] == pytest.approx(rows["bench_test_linear", size]["spearman"])
    bad = _predictor_config(methods=[MethodSpec("bench_test_wrong_shape")])
    with pytest.raises(ValueError, match=r"shape \(41,\) for 40 architectures"):
        _run(bad, tmp_path / "bad")
