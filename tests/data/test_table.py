"""BenchmarkTable behaviour: selection, splits, lookup, export, files, user tables."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from gennape_naslib import data
from gennape_naslib.data import BenchmarkTable, DataFormatError, DataNotFoundError

ARCHS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|",
]


def _table() -> BenchmarkTable:
    return BenchmarkTable("nb201", ARCHS, {"acc/cifar10": [94.37, 85.8, 10.0, None], "flops": [1, 2, 3, 4]}, name="t")


def test_columns_are_read_only_and_nan_for_missing() -> None:
    table = _table()
    assert np.isnan(table["acc/cifar10"][3])
    with pytest.raises(ValueError):
        table["flops"][0] = 5
    with pytest.raises(KeyError, match="columns: acc/cifar10, flops"):
        table["accuracy"]
    with pytest.raises(DataFormatError, match="has 1 values for 4 rows"):
        BenchmarkTable("nb201", ARCHS, {"x": [1]})


def test_subset_split_dropna() -> None:
    table = _table()
    sub = table.subset([2, 0])
    assert sub.encodings == [ARCHS[2], ARCHS[0]] and sub["flops"].tolist() == [3, 1]
    assert len(table.subset(table["flops"] > 2)) == 2
    parts = table.split(0, [2, 1])
    assert [len(p) for p in parts] == [2, 1, 1]
    assert sorted(e for p in parts for e in p.encodings) == sorted(ARCHS)
    assert [p.encodings for p in table.split(0, [0.5])] == [p.encodings for p in table.split(0, [0.5])]
    with pytest.raises(ValueError, match="ask for 5 rows"):
        table.split(0, [5])
    assert len(table.dropna("acc/cifar10")) == 3


def test_lookup_by_arch_text_and_hash() -> None:
    table = _table()
    arch = table.archs[1]
    assert table.lookup(arch)["flops"] == 2
    assert table.index_of(ARCHS[1]) == 1
    assert table.index_of(table.adapter.canonical_hash(arch)) == 1
    assert ARCHS[0] in table
    missing = "|nor_conv_1x1~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|nor_conv_1x1~0|nor_conv_1x1~1|nor_conv_1x1~2|"
    assert missing not in table
    with pytest.raises(KeyError, match="no architecture"):
        table.lookup(missing)


def test_to_pandas() -> None:
    frame = _table().to_pandas()
    assert list(frame.columns) == ["arch", "acc/cifar10", "flops"] and len(frame) == 4


def test_save_is_deterministic_and_round_trips(tmp_path) -> None:
    a, b = tmp_path / "a.json.gz", tmp_path / "b.json.gz"
    _table().save(a)
    _table().save(b)
    assert a.read_bytes() == b.read_bytes()
    again = BenchmarkTable.load(a)
    assert again.encodings == ARCHS and np.array_equal(again["acc/cifar10"], _table()["acc/cifar10"], equal_nan=True)


def test_bad_files(tmp_path) -> None:
    with pytest.raises(DataNotFoundError, match="does not exist"):
        BenchmarkTable.load(tmp_path / "nope.json.gz")
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(b"not gzip")
    with pytest.raises(DataFormatError, match="bad.json.gz"):
        BenchmarkTable.load(bad)
    other = tmp_path / "other.json.gz"
    doc = _table().to_dict()
    doc["version"] = 99
    other.write_bytes(gzip.compress(json.dumps(doc).encode()))
    with pytest.raises(DataFormatError, match="version: .* 99"):
        BenchmarkTable.load(other)


def test_user_tables_under_gennape_home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GENNAPE_HOME", str(tmp_path / "home"))
    with pytest.raises(DataNotFoundError, match="gennape data import"):
        data.load("mine")
    data.import_table(_table(), "mine")
    assert "mine" in data.list_tables()
    assert data.load("mine", dataset="cifar10")["acc"].tolist() == [94.37, 85.8, 10.0]
    with pytest.raises(ValueError, match="already exists"):
        data.import_table(_table(), "mine")
    with pytest.raises(ValueError, match="packaged"):
        data.import_table(_table(), "nb201")
    with pytest.raises(KeyError, match="datasets: cifar10"):
        data.load("mine", dataset="cifar100")
    info = data.table_info("mine")
    assert info["rows"] == 4 and info["columns"]["acc/cifar10"]["count"] == 3


def test_loading_and_parsing_is_light() -> None:
    """Loading a packaged table and parsing its architectures needs neither torch nor a network."""
    import subprocess
    import sys

    code = (
        "import sys; from gennape_naslib import data; t = data.load('nb201'); a = t.archs; "
        "assert len(a) == 15625; assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
