"""NATS-Bench topology files (``read_nats_tss``), tested on small files made here in the release's layouts.

The layouts are those nats_bench reads (nats_bench/api_topology.py, api_utils.py) and the release's
writer produced (D-X-Y/AutoDL-Projects exps/NATS-Bench/tss-collect.py): a folder of ``meta.pickle.pbz2``
plus one ``NNNNNN.pickle.pbz2`` per architecture, or one ``.pickle.pbz2`` benchmark file. The records are
made with the package's own ``ArchResults``/``ResultsCount`` and written with its ``pickle_save``. The
arch strings are real NAS-Bench-201 cells and the seeds per budget (12 epochs: 111, 777; 200 epochs:
777, 888, 999) are the release's; every accuracy, cost and curve value is a placeholder, not a
benchmark result.
"""

from __future__ import annotations

import math
import pickle
import sys
from collections import OrderedDict

import numpy as np
import pytest

from gennape_naslib._optional import MissingDependencyError
from gennape_naslib.data import DataFormatError, DataNotFoundError, load_file
from gennape_naslib.data._nats import read_nats_tss

A1 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
A2 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
A3 = "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"

SEEDS = {"12": (111, 777), "200": (777, 888, 999)}
SPLITS = {  # the evaluation sets each dataset's runs hold (nats_bench ArchResults.get_metrics)
    "cifar10-valid": ("x-valid", "ori-test"),
    "cifar10": ("ori-test",),
    "cifar100": ("x-valid", "x-test", "ori-test"),
    "ImageNet16-120": ("x-valid", "x-test", "ori-test"),
}
# (arch, {dataset: (final test accuracy, final validation accuracy)} after 200 epochs, flops, params, latency)
A1_ACCS = {"cifar10-valid": (91.5, 90.5), "cifar10": (94.0, None), "cifar100": (72.0, 71.0),
           "ImageNet16-120": (46.0, 45.0)}  # fmt: skip
ROWS = [
    (A1, A1_ACCS, 184.0, 1.5, 0.02),
    (A2, {"cifar10": (85.0, None)}, 50.0, 0.4, 0.01),
    (A3, {"cifar10-valid": (80.0, 79.0), "cifar100": (50.0, 49.0)}, 20.0, 0.1, 0.005),
]
TWELVE_EPOCHS_LOWER = 20.0  # the 12-epoch placeholders are the 200-epoch ones minus this


@pytest.fixture
def nats():
    return pytest.importorskip("nats_bench", reason="the nb201 extra (nats_bench) is not installed")


def _budget(nats, index, arch, hp, accs, flops, params, latency, weights):
    """One budget's ArchResults state; the runs' final accuracies spread around ``accs`` (their mean)."""
    epochs, seeds = int(hp), SEEDS[hp]
    lower = 0.0 if hp == "200" else TWELVE_EPOCHS_LOWER
    results = nats.ArchResults(index, arch)
    for dataset, (test, valid) in accs.items():
        for k, seed in enumerate(seeds):
            spread = k - (len(seeds) - 1) / 2
            final = {"ori-test": test - lower + spread, "x-test": test - lower + spread}
            if valid is not None:
                final["x-valid"] = valid - lower + spread
            curve = dict.fromkeys(range(epochs), 50.0)
            config = {"channel": 16, "num_cells": 5, "arch_str": arch, "class_num": 10}
            run = nats.ResultsCount(dataset, weights, curve, curve, params, flops, config, seed, epochs, [latency])
            keys = [f"{s}@{e}" for s in SPLITS[dataset] for e in range(epochs)]
            values = {key: final[key.split("@")[0]] if key.endswith(f"@{epochs - 1}") else 10.0 for key in keys}
            run.update_eval(values, dict.fromkeys(keys, 1.0), dict.fromkeys(keys, 0.1))
            results.update(dataset, seed, run)
    return results.state_dict()


def _records(nats, rows, weights=None):
    return {
        index: OrderedDict((hp, _budget(nats, index, row[0], hp, *row[1:], weights)) for hp in ("12", "200"))
        for index, row in enumerate(rows)
    }


def _write_folder(nats, folder, rows=ROWS, weights=None):
    """An archive folder as tss-collect.py writes it (``-simple``; ``-full`` when ``weights`` are given)."""
    folder.mkdir()
    archs = [row[0] for row in rows]
    meta = {"meta_archs": archs, "total_archs": len(archs), "arch2infos": None, "evaluated_indexes": set()}
    nats.pickle_save(meta, str(folder / "meta.pickle"))  # pickle_save appends ".pbz2"
    for index, record in _records(nats, rows, weights).items():
        nats.pickle_save(record, str(folder / f"{index:06d}.pickle"))
    return folder


def _write_file(nats, path, rows=ROWS):
    """A single benchmark file ``NATS-tss-v1_0-<md5>.pickle.pbz2`` (what ``fast_mode=False`` reads)."""
    archs = [row[0] for row in rows]
    doc = {"meta_archs": archs, "total_archs": len(archs), "arch2infos": _records(nats, rows),
           "evaluated_indexes": set(range(len(archs)))}  # fmt: skip
    nats.pickle_save(doc, str(path).removesuffix(".pbz2"))
    return path


def _same(a, b) -> bool:
    return a.keys() == b.keys() and all(np.allclose(a[k], b[k], equal_nan=True) for k in a)


def test_simple_folder(nats, tmp_path) -> None:
    folder = _write_folder(nats, tmp_path / "NATS-tss-v1_0-3ffb9-simple")
    table = read_nats_tss(folder)
    assert table.family == "nb201" and table.encodings == [A1, A2, A3] and table.name == folder.name
    suffixes = ("cifar10_valid", "cifar10", "cifar100", "imagenet16_120")
    expected = {f"test_acc_200ep/{s}" for s in suffixes} | {f"val_acc_200ep/{s}" for s in suffixes if s != "cifar10"}
    expected |= {f"{cost}/{s}" for cost in ("flops", "params", "latency") for s in suffixes}
    assert set(table.metric_names) == expected
    assert table["test_acc_200ep/cifar10"][:2] == pytest.approx([94.0, 85.0])  # the mean of the three runs
    assert table["val_acc_200ep/cifar10_valid"][[0, 2]] == pytest.approx([90.5, 79.0])
    assert table["test_acc_200ep/imagenet16_120"][0] == pytest.approx(46.0)
    assert table["flops/cifar100"][[0, 2]] == pytest.approx([184.0, 20.0])
    assert table["params/cifar10"] == pytest.approx([1.5, 0.4, math.nan], nan_ok=True)
    assert table["latency/cifar10"][1] == pytest.approx(0.01)
    for column in ("test_acc_200ep/cifar100", "val_acc_200ep/cifar10_valid", "latency/imagenet16_120"):
        assert np.isnan(table[column][1])  # A2 has runs on CIFAR-10 only
    assert np.isnan(table["test_acc_200ep/cifar10"][2]) and np.isnan(table["flops/imagenet16_120"][2])
    assert table.meta["units"] == {"test_acc_200ep": "percent", "val_acc_200ep": "percent"}
    assert table.meta["format"] == "nats_tss" and table.meta["skipped"] == []
    # the package's own fast mode reads the same folder to the same numbers
    api = nats.create(str(folder), "tss", fast_mode=True, verbose=False)
    info = api.get_more_info(2, "cifar100", hp="200", is_random=False)
    assert table["test_acc_200ep/cifar100"][2] == info["test-accuracy"]
    assert table["val_acc_200ep/cifar100"][2] == info["valid-accuracy"]
    assert table["latency/cifar100"][2] == api.get_cost_info(2, "cifar100", hp="200")["latency"]


def test_benchmark_file_and_full_archive_read_like_the_simple_folder(nats, tmp_path) -> None:
    import torch

    simple = read_nats_tss(_write_folder(nats, tmp_path / "NATS-tss-v1_0-3ffb9-simple"))
    single = read_nats_tss(_write_file(nats, tmp_path / "NATS-tss-v1_0-3ffb9.pickle.pbz2"))
    weights = OrderedDict(weight=torch.ones(3, 3), bias=torch.nn.Parameter(torch.zeros(3)))
    full = read_nats_tss(_write_folder(nats, tmp_path / "NATS-tss-v1_0-3ffb9-full", weights=weights))
    assert single.name == "NATS-tss-v1_0-3ffb9" and single.meta["layout"] == "benchmark file"
    for table in (single, full):
        assert table.encodings == simple.encodings and _same(table.metrics, simple.metrics)
    # load_file picks the reader for the folder and the .pickle.pbz2 file, as `gennape data import` does
    assert load_file(tmp_path / "NATS-tss-v1_0-3ffb9-simple").meta["format"] == "nats_tss"
    assert load_file(tmp_path / "NATS-tss-v1_0-3ffb9.pickle.pbz2").meta["format"] == "nats_tss"


def test_twelve_epoch_budget(nats, tmp_path) -> None:
    table = read_nats_tss(_write_folder(nats, tmp_path / "NATS-tss-v1_0-3ffb9-simple"), hp="12")
    assert table["test_acc_12ep/cifar10"][:2] == pytest.approx([94.0 - 20.0, 85.0 - 20.0])
    assert table.meta["units"] == {"test_acc_12ep": "percent", "val_acc_12ep": "percent"}
    with pytest.raises(DataFormatError, match=r"index 0: .*no results for hp='90' \(the record has hp \['12', '200'\]"):
        read_nats_tss(tmp_path / "NATS-tss-v1_0-3ffb9-simple", hp="90")


def test_same_columns_and_values_as_the_nb201_pth(nats, tmp_path) -> None:
    """The same records as a NAS-Bench-201 ``.pth`` (budgets ``less``/``full``) read by ``read_nb201_pth``."""
    pytest.importorskip("nas_201_api", reason="the nb201 extra (nas-bench-201) is not installed")
    import torch

    from gennape_naslib.data.formats import read_nb201_pth

    records = _records(nats, ROWS)
    infos = {index: {"less": record["12"], "full": record["200"]} for index, record in records.items()}
    pth = tmp_path / "NAS-Bench-201-v1_1-096897.pth"
    torch.save({"meta_archs": [row[0] for row in ROWS], "arch2infos": infos, "evaluated_indexes": [0, 1, 2]}, pth)
    old = read_nb201_pth(pth)
    new = read_nats_tss(_write_folder(nats, tmp_path / "NATS-tss-v1_0-3ffb9-simple"))
    assert new.encodings == old.encodings and _same(new.metrics, old.metrics)


def test_what_is_not_a_topology_benchmark_is_refused(nats, tmp_path) -> None:
    with pytest.raises(DataNotFoundError, match="NATS-tss-v1_0-3ffb9-simple"):
        read_nats_tss(tmp_path / "absent")
    other = tmp_path / "my_results"
    other.mkdir()
    (other / "000000.pickle.pbz2").write_bytes(b"")
    with pytest.raises(DataFormatError, match=r"my_results: not a NATS-Bench archive folder \(no meta.pickle.pbz2\)"):
        read_nats_tss(other)
    text = tmp_path / "notes.pickle.pbz2"
    text.write_text("not a pickle")
    with pytest.raises(DataFormatError, match="notes.pickle.pbz2: not a readable NATS-Bench pickle"):
        read_nats_tss(text)
    folder = _write_folder(nats, tmp_path / "NATS-tss-v1_0-3ffb9-simple")
    with pytest.raises(DataFormatError, match="meta file: pass the folder"):
        read_nats_tss(folder / "meta.pickle.pbz2")
    with pytest.raises(DataFormatError, match="holds nb201 architectures, not 'nb101'"):
        read_nats_tss(folder, family="nb101")
    assert len(read_nats_tss(folder, family="nb201")) == 3


def test_size_space_is_refused(nats, tmp_path) -> None:
    named = tmp_path / "NATS-sss-v1_0-50262-simple"
    named.mkdir()
    with pytest.raises(DataFormatError, match=r"size-space \(sss\) benchmark \(its name says so\)"):
        read_nats_tss(named)
    renamed = tmp_path / "mine.pickle.pbz2"
    doc = {"meta_archs": ["64:64:64:64:64", "8:16:24:32:40"], "arch2infos": {}, "evaluated_indexes": set()}
    nats.pickle_save(doc, str(renamed).removesuffix(".pbz2"))
    with pytest.raises(DataFormatError, match="mine.pickle.pbz2: a NATS-Bench size-space .* '64:64:64:64:64'"):
        read_nats_tss(renamed)


def test_strict_and_lenient_records(nats, tmp_path) -> None:
    folder = _write_folder(nats, tmp_path / "NATS-tss-v1_0-3ffb9-simple")
    (folder / "000001.pickle.pbz2").unlink()
    nats.pickle_save(_records(nats, [ROWS[0]])[0], str(folder / "000002.pickle"))  # A1's record under A3's index
    with pytest.raises(DataFormatError, match=r"simple: index 1: .*no 000001.pickle.pbz2 in the folder"):
        read_nats_tss(folder)
    with pytest.warns(UserWarning, match="skipped 2 malformed rows"):
        table = read_nats_tss(folder, strict=False)
    assert table.encodings == [A1] and "index 2" in table.meta["skipped"][1]
    assert f"the record is of {A1}, the meta data lists {A3}" in table.meta["skipped"][1]


class _Payload:
    def __init__(self, marker) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


def test_a_pickle_of_code_is_refused_not_run(nats, tmp_path) -> None:
    folder = _write_folder(nats, tmp_path / "NATS-tss-v1_0-3ffb9-simple")
    marker = tmp_path / "ran"
    with open(folder / "000001.pickle.pbz2", "wb") as handle:
        import bz2

        handle.write(bz2.compress(pickle.dumps({"200": _Payload(marker)})))
    with pytest.raises(DataFormatError, match=r"index 1: .*000001.pickle.pbz2: refusing to load (posix|nt).system"):
        read_nats_tss(folder)
    assert not marker.exists()


def test_missing_package_names_the_extra(tmp_path, monkeypatch) -> None:
    folder = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    folder.mkdir()
    monkeypatch.setitem(sys.modules, "nats_bench", None)  # makes the import fail
    with pytest.raises(MissingDependencyError, match=r"gennape-naslib\[nb201\]"):
        read_nats_tss(folder)
