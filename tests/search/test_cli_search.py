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
