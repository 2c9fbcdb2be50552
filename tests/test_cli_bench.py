"""``gennape bench predictors|transfer|proxies`` and ``gennape report``."""

from __future__ import annotations

import pytest

from gennape_naslib.cli import main
from gennape_naslib.evaluation.config import load_config
from gennape_naslib.evaluation.results import RunFolder


def test_bench_predictors_then_report(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    args = ["bench", "predictors", "--table", "nb201_zc/cifar10", "--methods", "params,flops", "--test-size", "30"]
    args += ["--seeds", "0,1", "--executor", "serial", "--no-progress", "--out", str(out)]
    args += ["--save-config", str(tmp_path / "config.yaml"), "--naslib-errors"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "4 cells" in text and "summary.md" in text
    rows = RunFolder(out).read_results()
    assert {(r["method"], r["seed"]) for r in rows} == {("params", 0), ("params", 1), ("flops", 0), ("flops", 1)}
    config = load_config(tmp_path / "config.yaml")
    assert config.train_sizes == [5, 8, 14, 24, 42, 71, 121, 205, 348, 589]  # NASLib's sweep cut to 725 - 30 rows
    (out / "summary.md").unlink()
    assert main(["report", str(out)]) == 0
    assert (out / "summary.md").is_file() and "summary.md" in capsys.readouterr().out
    # the saved configuration re-runs into the same folder: every cell is already there
    assert main(["bench", "predictors", "--config", str(tmp_path / "config.yaml"), "--out", str(out),
                 "--executor", "serial", "--no-progress"]) == 0  # fmt: skip
    assert len(RunFolder(out).read_results()) == 4


def test_bench_proxies_published(tmp_path, capsys) -> None:
    out = tmp_path / "proxies"
    args = ["bench", "proxies", "--table", "nb201_zc/cifar100", "--published", "synflow,snip", "--out", str(out)]
    assert main([*args, "--executor", "serial", "--no-progress"]) == 0
    assert {r["method"] for r in RunFolder(out).read_results()} == {"synflow", "snip"}
    assert "| snip | published |" in (out / "summary.md").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bench", "predictors", "--table", "nb201", "--methods", "nosuchpredictor"], "could not resolve predictor"),
        (["bench", "predictors", "--table", "nosuchtable"], "no table 'nosuchtable'"),
        (["bench", "predictors", "--table", "nb201/mnist"], "no dataset 'mnist'"),
        (["bench", "predictors", "--table", "nb101", "--train-sizes", "500"], "292 labelled rows"),
        (["bench", "predictors"], "--table is required"),
        (["bench", "predictors", "--table", "nb201", "--methods", "flops", "--params", "flops=[1]"], "JSON object"),
        (["bench", "transfer", "--train", "nb201"], "--train and --test are required"),
        (["bench", "proxies", "--table", "nb201_zc", "--published", "zen"], "no proxy column 'zen'"),
        (["bench", "proxies", "--table", "nb201_zc", "--seeds", "x"], "comma-separated integers"),
        (["report", "/nonexistent/run"], "no such folder"),
    ],
)
def test_bad_input_is_a_one_line_error_with_exit_2(tmp_path, capsys, args, message) -> None:
    if args[0] == "bench":
        args = [*args, "--out", str(tmp_path / "x"), "--executor", "serial", "--no-progress"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_bench_transfer(tmp_path, capsys) -> None:
    out = tmp_path / "transfer"
    args = ["bench", "transfer", "--train", "nb201_zc/cifar10", "--test", "nb101,nb301", "--methods", "params"]
    args += ["--shots", "0,10", "--seeds", "0", "--test-size", "50", "--out", str(out), "--executor", "serial"]
    assert main([*args, "--no-progress"]) == 0
    rows = RunFolder(out).read_results()
    assert {(r["test_family"], r["shots"]) for r in rows} == {("nb101", 0), ("nb101", 10), ("nb301", 0), ("nb301", 10)}
    assert "nb301 10-shot" in (out / "summary.md").read_text()


def test_bench_transfer_fixed_test_proxy_seed_and_load(tmp_path, capsys) -> None:
    out = tmp_path / "fixed"
    args = ["bench", "transfer", "--train", "nb201_zc/cifar10", "--test", "nb101", "--methods", "flops"]
    args += ["--fixed-test", "--proxy-seed", "0", "--test-size", "20", "--shots", "0,5", "--seeds", "0,1"]
    args += ["--executor", "serial", "--no-progress"]
    assert main([*args, "--out", str(out), "--save-config", str(tmp_path / "config.yaml")]) == 0
    config = load_config(tmp_path / "config.yaml")
    assert config.fixed_test and config.proxy_seed == 0 and config.test_size == 20
    rows = RunFolder(out).read_results()
    assert {r["n_test"] for r in rows} == {20} and len(
        {r["spearman"] for r in rows}
    ) == 1  # one test set for both seeds
    capsys.readouterr()
    for load, message in [
        ("gennape=pretrained", "--load names 'gennape', which is not among --methods ['flops']"),
        ("flops", "--load 'flops': expected NAME=pretrained or NAME=PATH"),
    ]:
        assert main([*args, "--out", str(tmp_path / "bad"), "--load", load]) == 2
        assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("load", "message"),
    [("missing.npz", "load='missing.npz' is not a file"), ("junk.npz", "is not a gennape-naslib predictor file")],
)
def test_bench_transfer_with_a_bad_load_leaves_no_folder_behind(tmp_path, capsys, monkeypatch, load, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "junk.npz").write_text("not a predictor")
    args = ["bench", "transfer", "--train", "nb101", "--test", "nb301", "--methods", "gennape"]
    args += ["--load", f"gennape={load}", "--out", "b_x4", "--executor", "serial", "--no-progress"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "b_x4").exists()  # a metadata.json of the failed config would refuse the corrected rerun


def test_bench_into_a_folder_in_use_is_a_one_line_error(tmp_path, capsys) -> None:
    from gennape_naslib._atomic import folder_lock

    out = tmp_path / "run"
    args = ["bench", "proxies", "--table", "nb201_zc/cifar10", "--published", "synflow", "--out", str(out)]
    with folder_lock(out):  # another run holds it
        assert main([*args, "--executor", "serial", "--no-progress"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("gennape: error:") and "in use by another benchmark run" in err and "\n" not in err
    assert main([*args, "--executor", "serial", "--no-progress"]) == 0
