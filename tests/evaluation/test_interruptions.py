"""Benchmark run folders under faults: a full disk in the middle of a cell, a record cut by a kill in the
proxy cache, and two runs into one folder. Each fault is injected deterministically (a patched call at its
N-th use), never by timing."""

from __future__ import annotations

import errno
import json
import os

import pytest

from gennape_naslib import _atomic
from gennape_naslib._atomic import FolderInUseError, folder_lock
from gennape_naslib.evaluation.config import MethodSpec, PredictorBenchConfig, TableSpec, TransferBenchConfig
from gennape_naslib.evaluation.protocols import precompute_proxies, run_benchmark
from gennape_naslib.evaluation.proxy_cache import ProxyScores
from gennape_naslib.evaluation.results import RunFolder
from gennape_naslib.execution import SerialExecutor

from ._bench_predictors import LinearOnParams  # noqa: F401  (registers the test predictors)

NB201 = TableSpec("nb201_zc", "cifar10")


def _predictor_config() -> PredictorBenchConfig:
    return PredictorBenchConfig(
        table=NB201,
        methods=[MethodSpec("bench_test_linear"), MethodSpec("params")],
        train_sizes=[5, 20],
        test_size=40,
        seeds=[0, 1],
    )


def _run(config, out):
    return run_benchmark(config, out, executor=SerialExecutor(), progress=False, render=False)


class _DiskFillsUp:
    """``os.write`` that, at the ``at``-th write of a results row, writes only half of it (as a full disk or a
    file-size limit does, reporting it only by the count) and fails the next write with ENOSPC."""

    def __init__(self, at: int) -> None:
        self.real = os.write
        self.at, self.seen, self.full = at, 0, False

    def __call__(self, fd: int, data) -> int:
        data = bytes(data)
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device")
        if b"|seed=" in data and not data.startswith(b"{"):  # results rows (predictions are JSON lines)
            self.seen += 1
            if self.seen == self.at:
                self.full = True
                return self.real(fd, data[: len(data) // 2])
        return self.real(fd, data)


def test_a_full_disk_in_the_middle_of_a_cell_leaves_a_resumable_folder(tmp_path, monkeypatch):
    """Before: the short write was taken as success, leaving half a row that the next append was glued to
    (or, cut at a line end, a cell recorded with rows missing for good)."""
    config = _predictor_config()
    fresh = _run(config, tmp_path / "fresh")
    fault = _DiskFillsUp(at=3)
    monkeypatch.setattr(_atomic.os, "write", fault)
    with pytest.raises(OSError) as info:
        _run(config, tmp_path / "run")
    monkeypatch.setattr(_atomic.os, "write", fault.real)
    assert info.value.errno == errno.ENOSPC
    folder = RunFolder(tmp_path / "run")
    # the failed cell left nothing behind: whole lines only, two cells recorded with their predictions
    for name in ("results.csv", "predictions.jsonl"):
        assert (folder.path / name).read_bytes().endswith(b"\n")
    assert len(folder.done_cells()) == 2 and len(folder.read_predictions()) == 2
    assert len((folder.path / "predictions.jsonl").read_text().splitlines()) == 2
    _run(config, folder.path)  # the disk has room again: resume
    rows, expected = folder.read_results(), fresh.read_results()
    assert len(rows) == len(expected) == 6 and len({r["cell"] for r in rows}) == 6
    by_cell = {r["cell"]: r["spearman"] for r in expected}
    assert all(r["spearman"] == by_cell[r["cell"]] for r in rows)
    assert len((folder.path / "predictions.jsonl").read_text().splitlines()) == 6  # none twice
    assert folder.read_predictions() == fresh.read_predictions()


def test_a_record_cut_in_the_proxy_cache_is_dropped_before_appending(tmp_path, monkeypatch):
    """Before: the next record was appended to the cut one, making a line that is not JSON in the middle of
    ``proxy_scores.jsonl`` and losing that record."""
    from gennape_naslib.evaluation import proxy_cache

    def fake_task(task):  # what proxy_task returns, without scoring networks
        scores = {name: [float(task["row"]), 0.0] for name in task["names"]}
        keys = {"row": int(task["row"]), "seed": int(task["seed"]), "batch_size": int(task["batch_size"])}
        return {"table": task["table"]["name"], **keys, "scores": scores}

    monkeypatch.setattr(proxy_cache, "proxy_task", fake_task)
    config = TransferBenchConfig(
        train=[TableSpec("nb101")], test=[NB201], methods=[MethodSpec("synflow")], shots=[0], seeds=[0],
        test_size=6, fixed_test=True, proxy_seed=0,
    )  # fmt: skip
    path = precompute_proxies(config, tmp_path, SerialExecutor(), progress=False)
    lines = path.read_text().splitlines()
    assert len(lines) == 6
    path.write_text("\n".join(lines[:3]) + "\n" + lines[3][:25])  # killed while appending the fourth
    precompute_proxies(config, tmp_path, SerialExecutor(), progress=False)
    again = path.read_text().splitlines()
    records = [json.loads(line) for line in again]  # every line is JSON
    assert len(records) == 6 and sorted(r["row"] for r in records) == sorted(json.loads(x)["row"] for x in lines)
    assert len(ProxyScores(path)) == 6


def test_a_second_benchmark_into_a_folder_in_use_is_refused(tmp_path):
    """Before: both runs computed every cell and appended it, so each row was in ``results.csv`` twice."""
    config = _predictor_config()
    with folder_lock(tmp_path / "run"), pytest.raises(FolderInUseError, match="in use by another benchmark run"):
        _run(config, tmp_path / "run")
    assert not (tmp_path / "run" / "results.csv").exists() and not (tmp_path / "run" / "metadata.json").exists()
    assert len(_run(config, tmp_path / "run").read_results()) == 6  # the lock went with its holder


def test_an_interrupted_rerun_of_training_leaves_no_stale_metrics(tmp_path, monkeypatch):
    """Before: a rerun into a folder, killed after it had saved the new ``model.npz``, left the earlier run's
    ``metrics.json`` next to it, describing another model."""
    from gennape_naslib.predictors import workflow

    out = tmp_path / "train"
    workflow.run_training("bench_test_tunable", ["nb101"], [("nb201_zc", 5)], out_dir=out)
    assert (out / "metrics.json").is_file()
    old_model = (out / "model.npz").read_bytes()

    def interrupted(*args, **kwargs):  # stops the rerun at its first evaluation, after the model is saved
        raise KeyboardInterrupt

    monkeypatch.setattr(workflow, "_metrics", interrupted)
    with pytest.raises(KeyboardInterrupt):
        workflow.run_training("bench_test_tunable", ["nb101"], [("nb201_zc", 5)], seed=1, out_dir=out)
    assert (out / "model.npz").read_bytes() != old_model  # the new model is there ...
    assert not (out / "metrics.json").exists()  # ... and no metrics of the old one
    assert sorted(p.name for p in out.iterdir()) == ["model.npz"]  # and no temporary file


def test_a_resume_under_other_package_versions_is_recorded(tmp_path):
    """Before: a resume overwrote the recorded versions, so nothing said which rows came from which."""
    config = _predictor_config()
    folder = _run(config, tmp_path / "run")
    meta = folder.metadata()
    current = meta["versions"]
    _run(config, folder.path)
    assert "version_changes" not in folder.metadata()
    folder.write_metadata({**meta, "versions": {**current, "numpy": "1.0.0"}})
    _run(config, folder.path)
    meta = folder.metadata()
    (change,) = meta["version_changes"]
    assert change["from"]["versions"]["numpy"] == "1.0.0" and change["to"]["versions"] == current
    assert meta["versions"] == current and change["at"] == meta["resumed"][-1]
