"""``scripts/transfer_table.py``: its configurations load, and the merged table reads run folders."""

from __future__ import annotations

import pytest

from gennape_naslib.evaluation import load_config
from gennape_naslib.evaluation.config import TransferBenchConfig
from gennape_naslib.evaluation.results import RunFolder


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("transfer_table")


def test_shipped_configurations(script):
    configs = {p.stem: load_config(p) for p in sorted(script.CONFIGS.glob("*.yaml"))}
    assert set(configs) == {"from_nb101", "from_nb201"}
    assert all(isinstance(c, TransferBenchConfig) and c.fixed_test and c.proxy_seed == 0 for c in configs.values())
    a, b = configs["from_nb101"], configs["from_nb201"]
    # the NB-201 column never uses the pretrained model (it has seen every NB-201 label)
    assert [t.name for t in a.test] == ["nb201"] and not any(m.load for m in a.methods)
    assert "nb201" not in [t.name for t in b.test]
    assert next(m for m in b.methods if m.name == "gennape").load == "pretrained"
    assert len(a.seeds) >= 3 and a.shots == b.shots == [0, 50]


def _record(folder: RunFolder, method: str, source: str, family: str, seed: int, values: dict[int, float]) -> None:
    rows = [
        {"protocol": "transfer", "method": method, "source": source, "test_family": family, "shots": shots,
         "seed": seed, "n_test": 50, "spearman": value}
        for shots, value in values.items()
    ]  # fmt: skip
    folder.record_cell(f"{method}|seed={seed}", rows, [])


def test_markdown_merges_folders_and_averages_seeds(script, tmp_path):
    learned, proxies = RunFolder(tmp_path / "learned"), RunFolder(tmp_path / "proxies")
    for folder in (learned, proxies):
        folder.path.mkdir()
    _record(learned, "gennape", "fit", "nb301", 0, {0: 0.5, 50: 0.8})
    _record(learned, "gennape", "fit", "nb301", 1, {0: 0.7, 50: 0.9})
    _record(proxies, "synflow", "zero-cost", "nb301", 0, {0: 0.4, 50: 0.4})
    _record(proxies, "synflow", "zero-cost", "nb101", 0, {0: 0.3, 50: 0.3})
    text = script.markdown(script._rows([learned.path, proxies.path, tmp_path / "missing"]))
    lines = text.splitlines()
    assert lines[0] == "| method | NB-101 0-shot | NB-101 50-shot | NB-301 0-shot | NB-301 50-shot |"
    assert lines[2] == "| gennape |  |  | 0.600 ± 0.141 | 0.850 ± 0.071 |"
    assert lines[3] == "| synflow | 0.300 | 0.300 | 0.400 | 0.400 |"
