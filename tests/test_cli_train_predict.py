"""``gennape train`` / ``predict`` and the CLI's error handling: one clear line and exit 2 for bad input."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from gennape_naslib import _cli_predict
from gennape_naslib.cli import main


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {lines}"
    assert lines[0].startswith("gennape: error: "), lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def flops_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A FLOPs predictor saved by ``gennape train`` (also: a predictor without random_state trains)."""
    out = tmp_path_factory.mktemp("flops")
    assert main(["train", "--model", "flops", "--train", "nb101", "--out", str(out)]) == 0
    return out / "model.npz"


def test_train_a_predictor_without_random_state(flops_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert flops_model.is_file()
    assert json.loads((flops_model.parent / "metrics.json").read_text())["rows"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["predict", "--model", "pretrained", "--family", "nb999", "--file", "a.jsonl"],
            "gennape: error: could not resolve family 'nb999' among choices {",
        ),
        (["train", "--model", "nope", "--train", "nb101"], "gennape: error: could not resolve predictor 'nope'"),
        (
            ["train", "--model", "kgnn", "--train", "nb101", "--config", "params.json"],
            "gennape: error: invalid hyperparameter 'nosuch' for KGNNPredictor; valid ones: [",
        ),
        (
            ["bench", "predictors", "--table", "nb101", "--methods", "kgnn", "--params", 'kgnn={"nosuch": 1}'],
            "gennape: error: method 'kgnn': invalid hyperparameter 'nosuch' for KGNNPredictor; valid ones: [",
        ),
        (["cg", "draw", "g.json", "--family", "hiaml", "--out", "d"], "give either FILE.json|FILE.npz or --family"),
    ],
)
def test_named_errors_are_one_clean_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.json").write_text(json.dumps({"params": {"nosuch": 1}}))
    assert main(argv) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert message in line and "\"'" not in line and "'\"" not in line, line
    assert not (tmp_path / "d").exists() and not (tmp_path / "bench_predictors").exists()


def test_a_bare_key_error_is_a_bug_and_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(args: object) -> int:
        raise KeyError("internal")

    monkeypatch.setattr(_cli_predict, "_cmd_predict", broken)
    with pytest.raises(KeyError, match="internal"):
        main(["predict", "--model", "pretrained", "--family", "nb201", "--arch", "[0,0,0,0,0,0]"])


def test_shot_count_is_checked_before_training(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t_big"
    argv = ["train", "--model", "kgnn", "--train", "nb101", "--test", "nb301#5000", "--epochs", "1", "--out", str(out)]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "5000 shots leave fewer than 2 of" in _one_error_line(captured.err)
    assert "trained" not in captured.out and not out.exists()


def test_train_config_params_must_be_a_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"train": "nb101", "params": [1, 2]}))
    assert main(["train", "--config", str(config)]) == 2
    assert "'params' must be a mapping of hyperparameters, got [1, 2]" in _one_error_line(capsys.readouterr().err)


def test_predict_std_without_uncertainty_is_refused(flops_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["predict", "--model", str(flops_model), "--family", "nb201", "--arch", "[0,1,2,3,4,0]"]
    assert main([*argv, "--std"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "--std: FlopsPredictor" in line and "does not estimate its uncertainty" in line
    assert main(argv) == 0
    assert "prediction" in json.loads(capsys.readouterr().out)


def test_checkpoint_without_training(tmp_path: Path, flops_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["train", "--checkpoint", str(flops_model), "--test", "nb101", "--out", str(tmp_path / "t")]
    assert main([*argv, "--epochs", "0"]) == 0
    out = capsys.readouterr().out
    assert "using the checkpoint FlopsPredictor as it is (no training)" in out and "trained" not in out
    assert main([*argv, "--epochs", "5"]) == 2
    assert "epochs 5 would fine-tune the checkpoint on --train families" in _one_error_line(capsys.readouterr().err)


def test_paths_of_the_wrong_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file, a_folder = tmp_path / "ro2", tmp_path / "adir"
    a_file.write_text("")
    a_folder.mkdir()
    assert main(["train", "--model", "flops", "--train", "nb101", "--out", str(a_file)]) == 2
    assert _one_error_line(capsys.readouterr().err) == f"gennape: error: --out {a_file} is a file, expected a folder"
    for option in ("--out", "--draw"):
        assert main(["cg", "build", "--family", "nb201", option, str(a_folder)]) == 2
        line = _one_error_line(capsys.readouterr().err)
        assert line == f"gennape: error: {option} {a_folder} is a folder, expected a file path"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir", "ro2"] and not any(a_folder.iterdir())


def test_import_of_a_file_that_is_no_nb201_pth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("nas_201_api")
    monkeypatch.setenv("GENNAPE_HOME", str(tmp_path / "home"))
    junk = tmp_path / "junk.pb"
    junk.write_text("junk\n")
    assert main(["data", "import", "nb201_pth", str(junk), "--name", "x"]) == 2
    assert f"{junk}: not a readable NAS-Bench-201 .pth file" in _one_error_line(capsys.readouterr().err)


def test_shape_propagation_failure_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    net = tmp_path / "net.py"
    net.write_text(
        textwrap.dedent(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.conv = nn.Conv2d(3, 8, 3)

                def forward(self, x):
                    return self.conv(x)
            """
        )
    )
    assert main(["cg", "build", f"{net}:Net", "--input-shape", "4,32,32"]) == 2
    line = _one_error_line(capsys.readouterr().err)  # no torch traceback before it
    assert "expected input[1, 4, 32, 32] to have 3 channels" in line and "check input_shape" in line


def test_help_texts_describe_the_commands(load_script, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "six-step tour" in capsys.readouterr().out
    assert main(["report", "--help"]) == 0
    assert "'gennape search'" in " ".join(capsys.readouterr().out.split())
    script_help = load_script("run_cg_kgnn_predictor").build_parser().format_help()
    assert 'fine-tuned ("FT") metrics on others.' in " ".join(script_help.split())
