"""`gennape search`: runs a config into --out, resumes, and reports config errors by key."""

from __future__ import annotations

import json

import pytest

from gennape_naslib.cli import main
from gennape_naslib.search import read_trials


def _config(tmp_path, **search):
    doc = {
        "search_space": "nasbench201",
        "dataset": "cifar10",
        "optimizer": "rs",
        "seed": 0,
        "search": {"epochs": 6, "checkpoint_freq": 2, **search},
    }
    path = tmp_path / "c.yaml"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.slow  # loads the NB-201 table and draws the report twice
def test_search_runs_and_resumes(tmp_path, capsys):
    path = _config(tmp_path)
    out = tmp_path / "out"
    assert main(["search", "--config", str(path), "--seed", "4", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "ignored NASLib keys (not used by discrete search): search.checkpoint_freq" in text
    assert f"report: {out / 'summary.md'}" in text and "best test_acc_200ep:" in text
    first = read_trials(out)
    assert len(first) == 6
    assert json.loads((out / "metadata.json").read_text())["identity"]["seed"] == 4
    assert main(["search", "--config", str(path), "--seed", "4", "--out", str(out)]) == 0
    assert "resumed: 6 evaluations" in capsys.readouterr().out
    assert read_trials(out) == first
    assert main(["search", "--config", str(path), "--seed", "4", "--out", str(out), "--no-resume"]) == 1
    assert "already holds a search" in capsys.readouterr().err


def test_search_config_errors_exit_2_naming_the_key(tmp_path, capsys):
    path = _config(tmp_path, epochz=3)
    assert main(["search", "--config", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "unknown key 'search.epochz'" in capsys.readouterr().err
    assert main(["search", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml does not exist" in capsys.readouterr().err


def _top_config(tmp_path, name="c.yaml", **top):
    path = _config(tmp_path)
    doc = {**json.loads(path.read_text()), **top}
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(
    ("top", "search", "message"),
    [
        ({"dataset": "mnist"}, {}, "table 'nb201' has no dataset 'mnist'; datasets: cifar10"),
        ({"optimizer": "re"}, {"population_size": 0}, "population_size and sample_size must be >= 1, got 0"),
        ({"optimizer": "bananas"}, {"acq_fn_type": "nope", "predictor_type": "flops"}, "acq_fn_type 'nope' unknown"),
        ({"optimizer": "bananas"}, {"predictor_checkpoint": "junk.npz"}, "junk.npz' is not a predictor file"),
    ],
)
def test_a_failed_config_leaves_no_folder_behind(tmp_path, capsys, top, search, message):
    (tmp_path / "junk.npz").write_text("not a predictor")
    path = tmp_path / "c.yaml"
    doc = json.loads(_config(tmp_path, **search).read_text())
    path.write_text(json.dumps({**doc, **top}))
    out = tmp_path / "o"
    assert main(["search", "--config", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gennape: error: ") and message in err[0], err
    assert not out.exists()  # nothing that would block the corrected rerun


def test_corrected_rerun_after_a_failed_config_then_report(tmp_path, capsys):
    out = tmp_path / "o"
    bad = _config(tmp_path, population_size=0, epochs=3)
    doc = json.loads(bad.read_text())
    bad.write_text(json.dumps({**doc, "optimizer": "re"}))
    assert main(["search", "--config", str(bad), "--out", str(out)]) == 2
    good = _config(tmp_path, population_size=2, sample_size=2, epochs=3)
    good.write_text(json.dumps({**json.loads(good.read_text()), "optimizer": "re"}))
    assert main(["search", "--config", str(good), "--out", str(out)]) == 0
    summary = (out / "summary.md").read_text()
    capsys.readouterr()
    # `gennape report` re-renders a search folder from its files (it used to fail with KeyError 'protocol')
    (out / "summary.md").unlink()
    (out / "errors.json").unlink()
    assert main(["report", str(out), "--no-plots"]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(out / "summary.md"), str(out / "errors.json")]
    rendered = (out / "summary.md").read_text()
    assert rendered.split("Plots:")[0] == summary.split("Plots:")[0] and "Plots: none (not drawn)" in rendered
    assert (out / "errors.json").is_file()


def test_report_of_a_folder_that_is_neither_bench_nor_search(tmp_path, capsys):
    (tmp_path / "metadata.json").write_text("{}")
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not describe a benchmark run" in err[0], err


def test_ctrl_c_says_how_to_resume(tmp_path, capsys, monkeypatch):
    import gennape_naslib.search

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(gennape_naslib.search, "run_search", interrupted)
    out = tmp_path / "o"
    assert main(["search", "--config", str(_config(tmp_path)), "--out", str(out)]) == 130
    captured = capsys.readouterr()
    assert f"interrupted: finished evaluations are saved in {out}; run the same command again to resume" in captured.out
    assert captured.err == ""
