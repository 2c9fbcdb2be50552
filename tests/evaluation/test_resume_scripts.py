"""``scripts/bench_hparams.py`` and ``scripts/validate_proxies.py`` resume after a kill: a torn last line is
dropped (not a crash, not glued to the next row), and the rows of one task land together. Faults are injected
by patched calls, never by timing; the workers run in threads in place of the scripts' process pools."""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest


@pytest.fixture(scope="module")
def hparams(load_script):
    return load_script("bench_hparams")


@pytest.fixture(scope="module")
def validate(load_script):
    return load_script("validate_proxies")


def _fake_task(task: dict) -> list[dict]:
    """What ``run_task`` returns for a config with two copies: the main row first, then the ``NAME:1`` row."""
    base = {**task, "spearman": 0.5 + task["seed"] / 10, "fit_cpu_s": 1.0}
    return [base, {**base, "config": f"{task['config']}:1", "spearman": 0.4}]


def _run_hparams(hparams, monkeypatch, tmp_path, seeds: int = 2) -> None:
    configs = tmp_path / "configs.json"
    configs.write_text(json.dumps({"c": {"n_repeats": 2}}))
    argv = ["bench_hparams.py", "--configs", str(configs), "--families", "nb101", "--seeds", str(seeds)]
    monkeypatch.setattr(sys, "argv", [*argv, "--size", "10", "--out", str(tmp_path / "rows.jsonl"), "--quiet"])
    monkeypatch.setattr(hparams, "ProcessPoolExecutor", ThreadPoolExecutor)
    monkeypatch.setattr(hparams, "run_task", _fake_task)
    hparams.main()


def _names(path) -> list[tuple[str, int]]:
    return sorted((r["config"], r["seed"]) for r in map(json.loads, path.read_text().splitlines()))


def test_bench_hparams_writes_a_task_whole_and_resumes_after_a_torn_line(hparams, monkeypatch, tmp_path):
    """Before: rows went out one line at a time, and a kill after a task's main row left the task counted as
    done without its ``NAME:k`` rows for good; a torn last line made every later run fail to start."""
    real = json.dumps
    calls = [0]

    def killed_at_the_second_row(obj, *args, **kwargs):
        calls[0] += isinstance(obj, dict) and "spearman" in obj  # result rows only
        if calls[0] == 2:
            raise KeyboardInterrupt  # the process stops between the rows of the first task
        return real(obj, *args, **kwargs)

    monkeypatch.setattr(hparams.json, "dumps", killed_at_the_second_row)
    with pytest.raises(KeyboardInterrupt):
        _run_hparams(hparams, monkeypatch, tmp_path, seeds=1)
    monkeypatch.setattr(hparams.json, "dumps", real)
    out = tmp_path / "rows.jsonl"
    assert out.read_text() == ""  # nothing of the interrupted task
    _run_hparams(hparams, monkeypatch, tmp_path, seeds=1)
    assert _names(out) == [("c", 0), ("c:1", 0)]
    with out.open("a") as handle:  # a kill in the middle of a line
        handle.write('{"config": "c", "family": "nb1')
    _run_hparams(hparams, monkeypatch, tmp_path, seeds=2)
    assert _names(out) == [("c", 0), ("c", 1), ("c:1", 0), ("c:1", 1)]  # every line JSON, seed 0 not rerun
    assert len(hparams.read_json_lines(out)) == 4
    out.write_text(out.read_text().replace('"c:1"', '"c:1', 1))  # damage in the middle is an error
    with pytest.raises(ValueError, match="not a JSON line"):
        hparams.read_json_lines(out)


def test_validate_proxies_resumes_after_a_torn_line(validate, monkeypatch, tmp_path):
    """Before: the torn last line made ``run`` and ``report`` fail with a JSONDecodeError, and an append after it
    was glued onto it."""
    keys = [str((i, 1, 2, 3, 0, 4)) for i in range(5)]
    monkeypatch.setattr(validate, "load_published", lambda: dict.fromkeys(keys, {}))
    monkeypatch.setattr(validate, "ProcessPoolExecutor", lambda *a, **k: ThreadPoolExecutor(1))

    def score(key, seed, batch_size, names=None):
        return {"key": key, "arch": key, "scores": {"synflow": float(len(key))}, "seconds": {"synflow": 0.0}}

    monkeypatch.setattr(validate, "_score_cell", score)
    out = tmp_path / "rows.jsonl"
    parser_args = dict(order_seed=0, limit=3, proxies=None, tag="", out=out, workers=1, threads=1, seed=0)
    args = type("Args", (), {**parser_args, "batch_size": 64})()
    validate.cmd_run(args)
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:2]) + "\n" + lines[2][:20])  # killed while writing the third row
    assert len(validate._done_keys(out)) == 2 and len(validate.merged_rows(out)) == 2
    args.limit = 5
    validate.cmd_run(args)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["key"] for r in rows) == sorted(keys)  # each cell once, every line JSON
