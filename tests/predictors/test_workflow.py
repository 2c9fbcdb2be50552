"""``gennape train`` / ``gennape predict`` and the training workflow behind them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gennape_naslib.cli import main
from gennape_naslib.predictors import Predictor
from gennape_naslib.predictors.workflow import load_family_data, parse_family_list, run_training

ROOT = Path(__file__).resolve().parents[2]
FAST = {"epochs": 1, "batch_size": 64}


def test_parse_family_list():
    assert parse_family_list("nb101 + nb301") == [("nb101", 0), ("nb301", 0)]
    assert parse_family_list("nb201c10#50+nb301#5.0", with_shots=True) == [("nb201c10", 50), ("nb301", 5)]
    assert parse_family_list(["nb101", "nb101"]) == [("nb101", 0)]
    with pytest.raises(ValueError, match="only allowed for test"):
        parse_family_list("nb101#50")
    with pytest.raises(ValueError, match="must be a number"):
        parse_family_list("nb101#x", with_shots=True)
    with pytest.raises(ValueError, match="no family"):
        parse_family_list(" + ")


def test_load_family_data_names_the_problem():
    fam = load_family_data("nb101")
    assert fam.metric == "val_acc" and len(fam.archs) == len(fam.y) == 292
    nb201 = load_family_data("nb201c100")
    assert nb201.metric == "test_acc_200ep" and nb201.y.max() < 80  # CIFAR-100 accuracies
    mbv3 = load_family_data("ofa_mbv3")  # top-1 stored as fractions, returned in percent like the others
    assert mbv3.metric == "top1_acc" and 60 < mbv3.y.min() < mbv3.y.max() < 80
    with pytest.raises(ValueError, match="'hiaml'.*no table"):
        load_family_data("hiaml")
    with pytest.raises(ValueError, match="metric 'top1' is not a column"):
        load_family_data("nb101", metric="top1")


def test_run_training_rows_and_original_unchanged(tmp_path):
    result = run_training(
        "kgnn", ["nb101"], [("nb101", 20)], seed=3, params=FAST, finetune_epochs=1, out_dir=tmp_path,
        save_finetuned=True,
    )  # fmt: skip
    settings = [(r["family"], r["setting"], r["n"]) for r in result["rows"]]
    assert settings == [("nb101", "dev", 29), ("nb101", "test", 29), ("nb101", "NoFT", 272), ("nb101", "FT", 272)]
    assert all(np.isfinite(r["spearman"]) and np.isfinite(r["mae"]) for r in result["rows"])
    saved = Predictor.load(tmp_path / "model.npz")
    fam = load_family_data("nb101")
    np.testing.assert_allclose(saved.predict(fam.archs[:30]), result["model"].predict(fam.archs[:30]), rtol=1e-6)
    assert (tmp_path / "nb101_ft.npz").is_file()
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["rows"] == json.loads(json.dumps(result["rows"])) and written["seed"] == 3
    with pytest.raises(ValueError, match="fewer than 2"):
        run_training(result["model"], [], [("nb101", 291)], epochs=0)


def test_cli_train_config_and_predict(tmp_path, capsys):
    config = tmp_path / "train.yaml"
    keys = "model: kgnn\ntrain: nb101\ntest: nb101#10\nepochs: 1\nfinetune_epochs: 1\n"
    config.write_text(keys + f"out: {tmp_path / 'run'}\n")
    assert main(["train", "--config", str(config), "--seed", "1"]) == 0
    assert "nb101 FT" in capsys.readouterr().out
    model = tmp_path / "run" / "model.npz"
    fam = load_family_data("nb101")
    archs = tmp_path / "archs.jsonl"
    archs.write_text("\n".join(json.dumps(fam.family.to_json(a)) for a in fam.archs[:3]) + "\n")
    assert main(["predict", "--model", str(model), "--family", "nb101", "--file", str(archs)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    expected = Predictor.load(model).predict(fam.archs[:3])
    assert [round(x["prediction"], 6) for x in lines] == [round(float(v), 6) for v in expected]

    config.write_text("model: kgnn\ntrain: nb101\nlearning_rate: 0.1\n")
    assert main(["train", "--config", str(config)]) == 2
    assert "unknown key(s) 'learning_rate'" in capsys.readouterr().err
    archs.write_text('"not an nb101 arch"\n{oops\n')
    assert main(["predict", "--model", str(model), "--family", "nb101", "--file", str(archs)]) == 2
    assert f"{archs}:2: not a JSON line" in capsys.readouterr().err
    archs.write_text('"not an nb101 arch"\n')
    assert main(["predict", "--model", str(model), "--family", "nb101", "--file", str(archs)]) == 2
    assert f"{archs}:1: not a nb101 architecture" in capsys.readouterr().err
    assert main(["predict", "--model", str(tmp_path / "missing.npz"), "--family", "nb101", "--arch", "1"]) == 2


def test_cli_predict_pretrained_with_std(capsys):
    arch = '"|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"'
    assert main(["predict", "--model", "pretrained", "--family", "nb201", "--arch", arch, "--std"]) == 0
    row = json.loads(capsys.readouterr().out)
    from gennape_naslib import search_spaces
    from gennape_naslib.predictors.gennape import GENNAPEPredictor

    fam = search_spaces.get("nb201")
    mean, std = GENNAPEPredictor.pretrained().predict([fam.from_json(json.loads(arch))], return_std=True)
    assert row == {"arch": json.loads(arch), "prediction": float(mean[0]), "std": float(std[0])}
    assert row["std"] > 0


@pytest.mark.slow
def test_demo_script_writes_log_and_checkpoints(tmp_path, monkeypatch, load_script):
    module = load_script("run_cg_kgnn_predictor")
    monkeypatch.chdir(tmp_path)
    argv = ["-family_train", "nb101", "-family_test", "nb101#5", "-epochs", "1", "-fine_tune_epochs", "1"]
    assert module.main(argv) == 0
    run = "gpi_acc_predictor_Demo_seed1"
    log = (tmp_path / "logs" / f"{run}.txt").read_text()
    assert "nb101-FT MSE:" in log and "Test MSE:" in log and "Spearman Rho:" in log
    assert (tmp_path / "saved_models" / f"{run}_latest.npz").is_file()
    assert (tmp_path / "saved_models" / f"{run}_nb101_ft.npz").is_file()
    with pytest.raises(SystemExit, match="only cpu"):
        module.main(["-device_str", "cuda:0"])
