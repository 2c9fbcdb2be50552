"""Search runs: result folders, NASLib errors.json, resume after a kill, executors, predictor-only search."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gennape_naslib.search import TabularObjective, load_config, read_trials, run_search
from gennape_naslib.search.objectives import FunctionObjective, PredictorObjective, _load_table

RE_CONFIG = {
    "search_space": "nasbench201",
    "dataset": "cifar10",
    "optimizer": "re",
    "seed": 1,
    "search": {"epochs": 30, "population_size": 8, "sample_size": 3},
}
FIELDS = {"trial", "hash", "arch", "arch_str", "objectives", "predicted_mean", "predicted_std", "wall_time", "elapsed"}


@pytest.fixture(scope="module")
def table():
    return _load_table("nb201", "cifar10")


def _key(records):
    return [
        (r["trial"], r["hash"], r["objectives"]["test_acc_200ep"]) for r in sorted(records, key=lambda r: r["trial"])
    ]


def test_result_folder_layout(tmp_path, table):
    result = run_search(load_config(RE_CONFIG), folder=tmp_path / "run", table=table)
    folder = result.folder
    trials = read_trials(folder)
    assert len(trials) == 30 and all(FIELDS <= set(t) for t in trials)
    # as JSON text: the table has NaN cells (e.g. edgetpu_latency), and NaN != NaN as floats
    assert json.dumps(trials, sort_keys=True) == json.dumps(result.trials, sort_keys=True)
    for t in trials:
        assert t["objectives"]["test_acc_200ep"] == pytest.approx(table.lookup(t["arch"])["test_acc_200ep"])
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["identity"]["optimizer"] == "regularized_evolution" and meta["objective"]["kind"] == "tabular"
    config, errors = json.loads((folder / "errors.json").read_text())
    assert config["search_space"] == "nb201"
    assert {"train_acc", "valid_acc", "test_acc", "runtime", "train_time"} <= set(errors)
    assert len(errors["test_acc"]) == 30
    best = max(t["objectives"]["test_acc_200ep"] for t in trials)
    assert errors["test_acc"][-1] == pytest.approx(best)
    assert errors["test_acc"] == sorted(errors["test_acc"])
    summary = (folder / "summary.md").read_text()
    assert f"{best:.4f}" in summary and "optimum of the table: 94.3733" in summary
    pytest.importorskip("matplotlib")
    assert (folder / "best_so_far.png").stat().st_size > 0 and (folder / "regret.png").is_file()


def test_resume_after_a_torn_write_gives_the_uninterrupted_trials(tmp_path, table):
    full = run_search(load_config(RE_CONFIG), folder=tmp_path / "full", table=table, report=False)
    part = tmp_path / "part"
    part.mkdir()
    (part / "metadata.json").write_text((full.folder / "metadata.json").read_text())
    lines = (full.folder / "trials.jsonl").read_text().splitlines()
    (part / "trials.jsonl").write_text("\n".join(lines[:12]) + "\n" + lines[12][:40])  # killed mid-write
    resumed = run_search(load_config(RE_CONFIG), folder=part, table=table, report=False)
    assert resumed.resumed == 12
    assert _key(read_trials(part)) == _key(full.trials)
    assert len((part / "trials.jsonl").read_text().splitlines()) == 30


def test_resume_refuses_other_settings_and_no_resume(tmp_path, table):
    run_search(load_config({**RE_CONFIG, "search": {"epochs": 5}}), folder=tmp_path / "r", table=table, report=False)
    other = load_config({**RE_CONFIG, "seed": 2, "search": {"epochs": 5}})
    with pytest.raises(ValueError, match="holds a search with other settings"):
        run_search(other, folder=tmp_path / "r", table=table, report=False)
    with pytest.raises(FileExistsError, match="already holds a search"):
        run_search(
            load_config({**RE_CONFIG, "search": {"epochs": 5}}), folder=tmp_path / "r", resume=False, table=table
        )


def test_resume_refuses_another_ask_batch_and_keeps_old_folders(tmp_path, table):
    serial = {**RE_CONFIG, "search": {"epochs": 5, "population_size": 8, "sample_size": 3}}
    run_search(load_config(serial), folder=tmp_path / "s", table=table, report=False)
    # max_parallel sets the ask batch (no parallel_batch), which changes the trials
    batched = {**serial, "search": {**serial["search"], "max_parallel": 4, "epochs": 6}}
    with pytest.raises(ValueError, match="holds a search with other settings"):
        run_search(load_config(batched), folder=tmp_path / "s", table=table, report=False)
    assert len(read_trials(tmp_path / "s")) == 5
    # Only the executor's parallelism: the ask batch stays 1, the search resumes.
    pooled = {**serial, "search": {**serial["search"], "max_parallel": 4, "parallel_batch": 1, "epochs": 6}}
    assert run_search(load_config(pooled), folder=tmp_path / "s", table=table, report=False).resumed == 5
    # A batched folder written before identities recorded ask_batch resumes with its own batch only
    # (random search: its batched proposals did not change, so it has no revision either).
    serial = {**serial, "optimizer": "random_search", "search": {"epochs": 5}}
    batched = {**serial, "search": {**serial["search"], "max_parallel": 4, "epochs": 6}}
    run_search(load_config(batched), folder=tmp_path / "b", table=table, report=False)
    meta_path = tmp_path / "b" / "metadata.json"
    meta = json.loads(meta_path.read_text())
    assert meta["identity"].pop("ask_batch") == 4
    meta_path.write_text(json.dumps(meta))
    longer = {**batched, "search": {**batched["search"], "epochs": 8}}
    assert run_search(load_config(longer), folder=tmp_path / "b", table=table, report=False).resumed == 6
    with pytest.raises(ValueError, match="holds a search with other settings"):
        run_search(load_config(serial), folder=tmp_path / "b", table=table, report=False)
    # Such identities held parallel_batch in their search block.
    explicit = {**serial, "search": {**serial["search"], "parallel_batch": 2}}
    run_search(load_config(explicit), folder=tmp_path / "p", table=table, report=False)
    meta = json.loads((tmp_path / "p" / "metadata.json").read_text())
    del meta["identity"]["ask_batch"]
    meta["identity"]["search"]["parallel_batch"] = 2
    (tmp_path / "p" / "metadata.json").write_text(json.dumps(meta))
    assert run_search(load_config(explicit), folder=tmp_path / "p", table=table, report=False).resumed == 5


def _multi_objective_config(epochs: int, objectives: list[str], reference_point: list[float]):
    search = {"epochs": epochs, "objectives": objectives, "reference_point": reference_point}
    search.update(num_init=10, population_size=10)
    return load_config({"search_space": "nb201", "optimizer": "multi_objective", "search": search})


def test_report_ranks_a_minimised_first_objective_as_the_optimizer_does(tmp_path, table):
    from gennape_naslib.search.report import write_report

    cfg = _multi_objective_config(20, ["edgegpu_latency:min", "test_acc_200ep:max"], [12.0, 80.0])
    objective = TabularObjective(table)
    result = run_search(cfg, folder=tmp_path / "mo", objective=objective, report=False)
    write_report(result.folder, cfg, result.trials, objective, plots=False)
    latencies = [r["objectives"]["edgegpu_latency"] for r in result.trials]
    assert result.optimizer.best().metrics["edgegpu_latency"] == min(latencies)
    summary = (result.folder / "summary.md").read_text()
    assert "`edgegpu_latency` (min)" in summary and f"best: {min(latencies):.4f}" in summary
    assert f"optimum of the table: {objective.optimum('edgegpu_latency', False):.4f}" in summary
    _, errors = json.loads((result.folder / "errors.json").read_text())
    assert errors["test_acc"] == sorted(errors["test_acc"], reverse=True)  # incumbent: a running min
    assert errors["test_acc"][-1] == pytest.approx(min(latencies))


EVAL_FILE = """
import time
from gennape_naslib.search.objectives import _load_table

def evaluate(arch):
    time.sleep({delay})
    row = _load_table("nb201", "cifar10").lookup(arch)
    return {{"test_acc_200ep": row["test_acc_200ep"]}}
"""


def _eval_file(tmp_path: Path, delay: float) -> str:
    path = tmp_path / "user_eval.py"
    path.write_text(textwrap.dedent(EVAL_FILE.format(delay=delay)))
    return f"{path}:evaluate"


@pytest.mark.slow  # starts a process pool whose workers load the NB-201 table
def test_function_objective_through_a_process_pool_matches_serial(tmp_path, table):
    spec = _eval_file(tmp_path, 0.0)
    cfg = {
        **RE_CONFIG,
        "search": {"epochs": 12, "population_size": 4, "sample_size": 2, "objective": "function", "evaluate": spec},
    }
    serial = run_search(load_config(cfg), folder=tmp_path / "serial", report=False)
    cfg["search"] = {**cfg["search"], "executor": "process", "max_parallel": 2, "parallel_batch": 1}
    pooled = run_search(load_config(cfg), folder=tmp_path / "pool", report=False)
    assert _key(serial.trials) == _key(pooled.trials)
    assert json.loads((tmp_path / "pool" / "metadata.json").read_text())["objective"]["executor"] == "process"


def test_function_objective_bounds_parallel_evaluations(tmp_path):
    seen = []

    def evaluate(arch):
        seen.append(arch)
        return {"text_length": float(len(str(arch)))}

    objective = FunctionObjective(evaluate, "nb201", executor="serial", max_parallel=1)
    cfg = load_config(
        {
            **RE_CONFIG,
            "search": {
                "epochs": 8,
                "population_size": 4,
                "sample_size": 2,
                "metric": "text_length",
                "parallel_batch": 4,
            },
        }
    )
    result = run_search(cfg, folder=tmp_path / "f", objective=objective, report=False)
    assert len(seen) == 8 and len({r["hash"] for r in result.trials}) == 8
    with pytest.raises(ValueError, match="max_parallel must be >= 1"):
        FunctionObjective(evaluate, "nb201", max_parallel=0)


def test_predictor_only_search_minimises_flops_with_the_flops_baseline(tmp_path):
    cfg = load_config(
        {
            "search_space": "nb201",
            "optimizer": "re",
            "search": {
                "epochs": 25,
                "population_size": 5,
                "sample_size": 3,
                "objective": "predictor",
                "predictor": "flops",
                "metric": "predicted_flops",
                "maximize": False,
            },
        }
    )
    result = run_search(cfg, folder=tmp_path / "p")
    values = [r["objectives"]["predicted_flops"] for r in result.trials]
    assert result.optimizer.best().metrics["predicted_flops"] == min(values)
    assert min(values[5:]) <= min(values[:5])
    assert isinstance(PredictorObjective("flops", "nb201").describe()["predictor"], str)


@pytest.mark.slow  # draws four plots
def test_multi_objective_config_reports_hypervolume(tmp_path, table):
    cfg = _multi_objective_config(30, ["test_acc_200ep:max", "edgegpu_latency:min"], [80.0, 12.0])
    result = run_search(cfg, folder=tmp_path / "mo", table=table)
    summary = (tmp_path / "mo" / "summary.md").read_text()
    assert f"final hypervolume: {result.optimizer.hypervolume():.6g}" in summary
    pytest.importorskip("matplotlib")
    assert (tmp_path / "mo" / "pareto_front.png").is_file() and (tmp_path / "mo" / "hypervolume.png").is_file()


def test_tabular_objective_names_missing_columns(table):
    with pytest.raises(KeyError, match="no metric 'nope'"):
        TabularObjective(table, columns=["nope"])


@pytest.mark.slow
def test_killed_subprocess_resumes_without_losing_evaluations(tmp_path, table):
    """Kill a real `gennape search` process mid-run, resume it, compare with an uninterrupted run."""
    spec = _eval_file(tmp_path, 0.15)
    doc = {
        **RE_CONFIG,
        "search": {"epochs": 24, "population_size": 6, "sample_size": 3, "objective": "function", "evaluate": spec},
    }
    config_path = tmp_path / "search.yaml"
    config_path.write_text(json.dumps(doc))  # JSON is YAML
    folder = tmp_path / "killed"
    cmd = [sys.executable, "-c", "import sys; from gennape_naslib.cli import main; sys.exit(main())"]
    cmd += ["search", "--config", str(config_path), "--out", str(folder)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 240
    trials = folder / "trials.jsonl"
    while time.time() < deadline and (not trials.is_file() or len(trials.read_text().splitlines()) < 8):
        if proc.poll() is not None:
            pytest.fail(f"search ended before it was killed: {proc.stdout.read().decode()}")
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(read_trials(folder))
    assert 8 <= done_before < 24
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert f"resumed: {done_before} evaluations" in out.stdout
    reference = run_search(load_config(config_path), folder=tmp_path / "straight", report=False)
    assert _key(read_trials(folder)) == _key(reference.trials)


def test_a_metric_the_objective_does_not_report_is_named(tmp_path, table):
    cfg = load_config(
        {
            "optimizer": "multi_objective",
            "search": {"epochs": 5, "objectives": ["test_acc_200ep:max", "flops:min"], "reference_point": [80, 3e8]},
        }
    )
    with pytest.raises(ValueError, match=r"needs \['flops'\]; .*extra_metrics"):
        run_search(cfg, folder=tmp_path / "x", objective=TabularObjective(table), report=False)


def test_initial_archs_are_evaluated_first_and_once(tmp_path, table):
    start = ["|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"]
    start.append("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    cfg = load_config(
        {**RE_CONFIG, "search": {"epochs": 6, "population_size": 3, "sample_size": 2, "initial_archs": start + start}}
    )
    result = run_search(cfg, folder=tmp_path / "i", table=table, report=False)
    assert [r["arch_str"] for r in result.trials[:2]] == start
    assert len({r["hash"] for r in result.trials}) == 6
    bad = load_config({**RE_CONFIG, "search": {"initial_archs": ["|bad~0|"]}})
    with pytest.raises(ValueError, match="nb201"):
        run_search(bad, folder=tmp_path / "b", table=table)


@pytest.mark.parametrize(
    ("optimizer", "search"),
    [("local_search", {"num_init": 4}), ("re", {"population_size": 8, "sample_size": 3, "parallel_batch": 2})],
)
def test_a_folder_from_before_an_optimizer_revision_is_not_resumed(tmp_path, table, optimizer, search):
    config = {**RE_CONFIG, "optimizer": optimizer, "search": {"epochs": 6, **search}}
    run_search(load_config(config), folder=tmp_path / "s", table=table, report=False)
    meta_path = tmp_path / "s" / "metadata.json"
    meta = json.loads(meta_path.read_text())
    assert meta["identity"].pop("revision") == 2  # as written before the revision existed
    meta_path.write_text(json.dumps(meta))
    longer = {**config, "search": {**config["search"], "epochs": 8}}
    with pytest.raises(ValueError, match=r"another revision of .*'s proposals \(1, this version makes 2\)"):
        run_search(load_config(longer), folder=tmp_path / "s", table=table, report=False)
    assert len(read_trials(tmp_path / "s")) == 6


def test_a_second_run_into_a_folder_in_use_is_refused(tmp_path, table):
    """Two runs into one folder each appended every trial (600 lines for a 300-evaluation search)."""
    from gennape_naslib._atomic import FolderInUseError, folder_lock

    config = load_config({**RE_CONFIG, "search": {"epochs": 5}})
    with folder_lock(tmp_path / "run"), pytest.raises(FolderInUseError, match="in use by another search"):
        run_search(config, folder=tmp_path / "run", table=table, report=False)
    assert not (tmp_path / "run" / "trials.jsonl").exists()
    # the lock goes with the run that held it: the next run (or a resume) proceeds
    run_search(config, folder=tmp_path / "run", table=table, report=False)
    again = run_search(config, folder=tmp_path / "run", table=table, report=False)
    assert again.resumed == 5 and len((tmp_path / "run" / "trials.jsonl").read_text().splitlines()) == 5


def test_killed_search_leaves_no_lock_behind(tmp_path, table):
    code = textwrap.dedent(
        f"""
        import os, signal
        from gennape_naslib.search import load_config, run_search
        from gennape_naslib.search import runner
        told = runner._check_metrics
        count = [0]
        def check(*args):
            count[0] += 1
            if count[0] == 4:
                os.kill(os.getpid(), signal.SIGKILL)
            told(*args)
        runner._check_metrics = check
        run_search(load_config({RE_CONFIG!r}), folder={str(tmp_path / "run")!r}, report=False)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL
    assert len(read_trials(tmp_path / "run")) == 4
    resumed = run_search(load_config(RE_CONFIG), folder=tmp_path / "run", table=table, report=False)
    assert resumed.resumed == 4 and len(resumed.trials) == 30


def test_a_resume_under_other_package_versions_is_recorded(tmp_path, table):
    """Before: the folder kept the versions of its first run only, with no trace of the later ones."""
    config = load_config({**RE_CONFIG, "search": {"epochs": 5}})
    run_search(config, folder=tmp_path / "run", table=table, report=False)
    meta_path = tmp_path / "run" / "metadata.json"
    meta = json.loads(meta_path.read_text())
    current = meta["versions"]
    run_search(config, folder=tmp_path / "run", table=table, report=False)  # same versions: nothing to record
    assert "version_changes" not in json.loads(meta_path.read_text())
    meta["versions"] = {**current, "gennape_naslib": "0.0.1"}  # as if the first part ran under an older package
    meta_path.write_text(json.dumps(meta))
    longer = load_config({**RE_CONFIG, "search": {"epochs": 8}})
    assert run_search(longer, folder=tmp_path / "run", table=table, report=False).resumed == 5
    meta = json.loads(meta_path.read_text())
    (change,) = meta["version_changes"]
    assert change["from"]["gennape_naslib"] == "0.0.1" and change["to"] == current == meta["versions"]
    assert [c["to"] for c in meta["budget_changes"]] == [8]


def test_a_plot_interrupted_while_drawing_keeps_the_previous_picture(tmp_path, table, monkeypatch):
    """Before: ``savefig`` wrote straight into the PNG, so a kill while drawing left half a picture."""
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from gennape_naslib.search.report import render_search_report

    run_search(load_config({**RE_CONFIG, "search": {"epochs": 5}}), folder=tmp_path / "run", table=table)
    picture = tmp_path / "run" / "best_so_far.png"
    before = picture.read_bytes()
    real = Figure.savefig

    def killed_while_drawing(self, fname, *args, **kwargs):
        if hasattr(fname, "write"):
            fname.write(before[:100])
        else:
            Path(fname).write_bytes(before[:100])
        raise KeyboardInterrupt

    monkeypatch.setattr(Figure, "savefig", killed_while_drawing)
    with pytest.raises(KeyboardInterrupt):
        render_search_report(tmp_path / "run")
    monkeypatch.setattr(Figure, "savefig", real)
    assert picture.read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "run").iterdir() if p.name.startswith(".")) == []
