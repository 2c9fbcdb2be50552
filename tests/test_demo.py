"""The predictor, proxy and search steps of ``gennape demo``, run with small sizes."""

from __future__ import annotations

import csv
import functools
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from gennape_naslib import demo
from gennape_naslib._demo_steps import (
    LIGHT_GENNAPE,
    TARGETS,
    ProxySettings,
    SearchSettings,
    TransferSettings,
    search_config,
    step_proxies,
    step_search,
    step_transfer,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
needs_plot = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None, reason="drawing needs the [plot] extra (matplotlib)"
)
TINY_GENNAPE = {"members": ["cl_fcm_t", "flops"], "cl_epochs": 1, "epochs": 2, "reference_size": 16}
SMALL_TRANSFER = TransferSettings(
    families=("nb101",), n_test=24, shots=8, finetune_families=("nb101",), finetune_epochs=1
)
SMALL_PROXIES = ProxySettings(n_archs=6, proxies=("l2_norm", "params", "flops"), shots=8)
SMALL_SEARCH = SearchSettings(budget=8, num_init=4, k=2, num_candidates=8, predictor_kwargs=TINY_GENNAPE)


@functools.lru_cache(maxsize=1)
def _small_reference_model() -> object:
    """The pretrained model with a 16-architecture reference sample instead of 256 (test speed only)."""
    from gennape_naslib.predictors.gennape import GENNAPEPredictor

    model = GENNAPEPredictor.pretrained()
    model.reference_size = 16
    return model


def _ctx(tmp_path: Path) -> demo.DemoContext:
    return demo.DemoContext(tmp_path, engine="matplotlib", cache={"pretrained": _small_reference_model()})


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_demo_steps_order_search_last() -> None:
    runs = [step.run for step in demo.STEPS]
    assert runs[:3] == [demo.step_torch_graph, demo.step_tf_graph, demo.step_families]
    assert runs[3:] == [step_transfer, step_proxies, step_search]


def test_demo_default_sizes_match_the_issues() -> None:
    transfer = TransferSettings()
    assert set(transfer.families) == {"nb101", "nb301", "ofa_mbv3"} and transfer.shots == 50
    assert transfer.finetune_epochs is None  # the model's default (100 epochs)
    assert ProxySettings().family != "nb201"  # the pretrained model has seen every NB-201 label
    search = SearchSettings()
    config = search_config(search)
    assert config["search"]["predictor_type"] == "gennape" and "predictor_checkpoint" not in config["search"]
    assert config["search"]["predictor_kwargs"] == LIGHT_GENNAPE and 20 <= search.budget <= 60


@pytest.mark.slow
def test_transfer_step_writes_the_numbers_it_prints(tmp_path: Path) -> None:
    from gennape_naslib import data
    from gennape_naslib.evaluation.metrics import spearman

    ctx = _ctx(tmp_path)
    out = step_transfer(ctx, SMALL_TRANSFER)
    rows = _rows(tmp_path / "transfer.csv")
    assert [(r["family"], r["method"], r["shots"]) for r in rows] == [
        ("nb101", "GENNAPE 0-shot", "0"),
        ("nb101", "FLOPs", "0"),
        ("nb101", "params", "0"),
        ("nb101", "GENNAPE 8-shot", "8"),
    ]
    assert all(r["n_test"] == "24" and -1 <= float(r["spearman"]) <= 1 for r in rows)
    # the zero-shot row is the pretrained model's ranking of the same 24 held-out cells
    table = data.load("nb101", dataset="cifar10")
    perm = np.random.default_rng(0).permutation(len(table))
    test = perm[8:32]
    expected = spearman(table.metric("val_acc")[test], ctx.cache["pretrained"].predict([table.archs[i] for i in test]))
    assert float(rows[0]["spearman"]) == pytest.approx(expected, abs=1e-4)
    assert f"{expected:6.3f}" in "\n".join(out.lines)
    assert "| nb101 | GENNAPE 8-shot | 8 | 24 |" in (tmp_path / "transfer.md").read_text()


def test_transfer_step_rejects_unknown_family(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no demo table for \\['nb201'\\]"):
        step_transfer(_ctx(tmp_path), TransferSettings(families=("nb201",)))


@needs_plot
def test_proxy_step_plot_and_table(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    out = step_proxies(ctx, SMALL_PROXIES)
    rows = _rows(tmp_path / "proxies_vs_gennape.csv")
    assert [r["method"] for r in rows] == ["GENNAPE 0-shot", "l2_norm", "params", "FLOPs"]
    assert all(r["n_archs"] == "6" for r in rows)
    assert rows[0]["seconds_per_arch"] == "" and float(rows[1]["seconds_per_arch"]) >= 0
    assert (tmp_path / "proxies_vs_gennape.png").read_bytes()[:8] == PNG_SIGNATURE
    text = "\n".join(out.lines)
    # the NB-101 table carries the published scores; params is a pure count, so ours match exactly
    assert "ours vs published NAS-Bench-Suite-Zero scores (Spearman):" in text and "params 1.000" in text


def test_proxy_step_skips_without_matplotlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(demo.DemoSkip, match=r"gennape-naslib\[plot\]"):
        step_proxies(_ctx(tmp_path), SMALL_PROXIES)
    assert not list(tmp_path.iterdir())  # nothing computed or written before the skip


@pytest.mark.slow
def test_search_step_is_deterministic_and_points_at_its_report(tmp_path: Path) -> None:
    out = step_search(_ctx(tmp_path / "a"), SMALL_SEARCH)
    folder = tmp_path / "a" / "search_nb201_bananas_gennape"
    text = "\n".join(out.lines)
    assert f"report: {folder / 'summary.md'}" in text and "94.37 %" in text
    trials = [json.loads(line) for line in (folder / "trials.jsonl").read_text().splitlines()]
    assert len(trials) == 8 and len({t["hash"] for t in trials}) == 8
    best = max(t["objectives"]["test_acc_200ep"] for t in trials)
    assert f"best test accuracy found: {best:.2f} %" in text
    assert any(t["predicted_mean"] is not None for t in trials[4:])  # proposals after the first fit are predicted
    # a rerun replaces the folder and repeats the same search
    again = step_search(_ctx(tmp_path / "a"), SMALL_SEARCH)
    assert again.lines == out.lines
    assert [json.loads(line)["hash"] for line in (folder / "trials.jsonl").read_text().splitlines()] == [
        t["hash"] for t in trials
    ]
    from gennape_naslib.search import load_config

    config = load_config(tmp_path / "a" / "search_demo.yaml")  # what `gennape search --config` reads
    assert (config.search_space, config.optimizer, config.epochs) == ("nb201", "bananas", 8)
    assert config.search["predictor_kwargs"] == TINY_GENNAPE


def test_demo_runner_reads_steps_at_call_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    monkeypatch.setattr(demo, "STEPS", (demo.DemoStep("only", lambda ctx: seen.append(ctx) or demo.StepOutput()),))
    reports = demo.run_demo(tmp_path, echo=lambda line: None)
    assert [r.title for r in reports] == ["only"] and len(seen) == 1
    assert reports[0].cpu_seconds >= 0


def test_targets_name_real_columns() -> None:
    from gennape_naslib import data

    for family, (dataset, metric) in TARGETS.items():
        assert metric in data.load(family, dataset=dataset).metric_names


def _small_steps() -> tuple[demo.DemoStep, ...]:
    """The demo with its predictor, proxy and search steps at test sizes."""
    sizes = {step_transfer: SMALL_TRANSFER, step_proxies: SMALL_PROXIES, step_search: SMALL_SEARCH}
    return tuple(
        demo.DemoStep(s.title, functools.partial(s.run, settings=sizes[s.run])) if s.run in sizes else s
        for s in demo.STEPS
    )


@needs_plot
@pytest.mark.slow
def test_demo_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """``gennape demo`` through the CLI, every step at test sizes (the full-size demo takes minutes)."""
    from gennape_naslib.cli import main

    monkeypatch.setattr(demo, "STEPS", _small_steps())
    out_dir = tmp_path / "demo"
    assert main(["demo", "--out", str(out_dir), "--engine", "matplotlib"]) == 0
    text = capsys.readouterr().out
    assert "torch.fx lowering == direct builder: yes" in text
    assert (out_dir / "small_resnet.json").is_file()
    assert (out_dir / "small_resnet.png").read_bytes()[:8] == PNG_SIGNATURE
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        assert "skipped: TensorFlow is not installed" in text
    else:
        assert "TensorFlow import == direct builder: yes" in text
        assert (out_dir / "small_keras_net.pb").stat().st_size > 0
        assert (out_dir / "small_keras_net.png").read_bytes()[:8] == PNG_SIGNATURE
    for name in ("transfer.csv", "transfer.md", "proxies_vs_gennape.csv", "search_demo.yaml"):
        assert (out_dir / name).is_file(), name
    assert (out_dir / "proxies_vs_gennape.png").read_bytes()[:8] == PNG_SIGNATURE
    assert "6 ok, 0 skipped, 0 failed" in text
    last = text[text.rindex("[6/6]") :]
    assert "BANANAS" in last and f"report: {out_dir / 'search_nb201_bananas_gennape' / 'summary.md'}" in last
