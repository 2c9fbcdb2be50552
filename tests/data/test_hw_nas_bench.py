"""HW-NAS-Bench's ``HW-NAS-Bench-v1_0.pickle``, read on small pickles made here in its nesting.

The nesting is ``{"nasbench201": {dataset: {metric: [value per NAS-Bench-201 index], "config": [{"arch_str":
...}, ...]}}, "fbnet": {metric: {operator key: value}}}`` (HW-NAS-Bench's API and README). CIFAR-10 values
are real: the two rows below are copied from ``shared/data/nb201/hw_nas_bench_cifar10.csv`` (rows of
NAS-Bench-201 indices 0 and 6; index 0 is also HW-NAS-Bench's README example), and one test builds a pickle
from that file's first 20 rows. CIFAR-100 and ImageNet16-120 values, the FBNet entry and the malformed
entries are placeholders.
"""

from __future__ import annotations

import ast
import csv
import gzip
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from gennape_naslib.data import DataFormatError, DataNotFoundError, load, load_file, read_format
from gennape_naslib.data._hwnas import read_hw_nas_bench
from gennape_naslib.data.formats import _NASLibGraph
from gennape_naslib.search_spaces import get

HW_CSV = Path(__file__).resolve().parents[3] / "shared" / "data" / "nb201" / "hw_nas_bench_cifar10.csv"
METRICS = (
    "edgegpu_latency", "edgegpu_energy", "raspi4_latency", "edgetpu_latency", "pixel3_latency",
    "eyeriss_latency", "eyeriss_energy", "eyeriss_arithmetic_intensity", "fpga_latency", "fpga_energy",
)  # fmt: skip
ARCH_0 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
ARCH_6 = "|nor_conv_3x3~0|+|none~0|none~1|+|avg_pool_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
ROW_0 = (5.807418537139893, 24.226614330768584, 10.481976820010459, 0.9571811309997429, 3.6058499999999998,
         3.645620000000001, 0.6872827644999999, 6.289297634665844, 2.57296, 18.01072)  # fmt: skip
ROW_6 = (5.080537796020508, 23.988605960210165, 54.293688659963664, -1.0, 17.065900000000003,
         7.577780000000003, 1.5644240285, 20.86006697108513, 5.31536, 37.20752)  # fmt: skip
FBNET = {"edgegpu_latency": {"ConvNorm_H32_W32_Cin3_Cout16_kernel3_stride1_group1": 0.5}}  # placeholder
NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}


def _config(arch_str: str, dataset: str) -> dict:
    return {"name": "infer.tiny", "C": 16, "N": 5, "arch_str": arch_str, "num_classes": NUM_CLASSES[dataset]}


def _dataset(archs, rows, dataset: str, container=list) -> dict:
    """One dataset's part: each metric a list over architecture indices, and the configs."""
    part = {m: container([row[j] for row in rows]) for j, m in enumerate(METRICS)}
    part["config"] = [_config(a, dataset) for a in archs]
    return part


def _write(path: Path, doc, protocol: int = pickle.DEFAULT_PROTOCOL) -> Path:
    path.write_bytes(pickle.dumps(doc, protocol=protocol))
    return path


def _two_rows(path: Path, container=list) -> Path:
    """Indices 0 and 6 as indices 0 and 1 of a small file: real CIFAR-10 values, placeholders elsewhere."""
    archs = [ARCH_0, ARCH_6]
    space = {
        "cifar10": _dataset(archs, [ROW_0, ROW_6], "cifar10", container),
        "cifar100": _dataset(archs, [[1.0] * 10, [2.0] * 10], "cifar100", container),
        "ImageNet16-120": _dataset(archs, [[3.0] * 10, [4.0] * 10], "ImageNet16-120", container),
    }
    return _write(path, {"nasbench201": space, "fbnet": FBNET})


@pytest.mark.skipif(not HW_CSV.is_file(), reason=f"shared benchmark data {HW_CSV} is absent")
def test_real_values_of_20_architectures_come_back_exactly(tmp_path) -> None:
    """A pickle of the CSV's first 20 rows (NAS-Bench-201 indices 0-19), its metric lists as numpy arrays.

    The values must come back exactly, and equal the packaged ``nb201`` table's columns of the same name.
    """
    adapter = get("nb201")
    with open(HW_CSV, newline="") as handle:
        rows = [row for _, row in zip(range(20), csv.DictReader(handle))]
    archs = [adapter.to_json(adapter.from_naslib(_NASLibGraph(ast.literal_eval(r["net"])))) for r in rows]
    values = [[float(r[m]) for m in METRICS] for r in rows]
    path = _write(
        tmp_path / "HW-NAS-Bench-v1_0.pickle",
        {"nasbench201": {"cifar10": _dataset(archs, values, "cifar10", np.array)}},
    )
    table = read_hw_nas_bench(path)
    assert table.family == "nb201" and table.encodings == archs  # NAS-Bench-201 index order
    packaged = load("nb201")
    rows_there = [packaged.index_of(a) for a in archs]
    for j, metric in enumerate(METRICS):
        expected = np.array([v[j] if v[j] != -1 else np.nan for v in values])
        # the reader copies numbers through float(): equal to the last bit, as the packaged table is
        np.testing.assert_array_equal(table[f"{metric}/cifar10"], expected)
        np.testing.assert_array_equal(table[f"{metric}/cifar10"], packaged[f"{metric}/cifar10"][rows_there])
    assert table.meta["not_measured"] == {"edgetpu_latency/cifar10": 7}  # the -1s of indices 6, 7, 9, ...


def _index_dict(values) -> dict:
    return dict(enumerate(values))  # the API's ``[arch_index]`` reads a dict keyed by index as well


@pytest.mark.parametrize("container", [list, np.array, _index_dict], ids=["lists", "arrays", "index-dicts"])
def test_nesting_datasets_and_column_names(tmp_path, container) -> None:
    table = read_hw_nas_bench(_two_rows(tmp_path / "HW-NAS-Bench-v1_0.pickle", container))
    assert table.encodings == [ARCH_0, ARCH_6] and table.name == "HW-NAS-Bench-v1_0"
    assert sorted(table.metric_names) == sorted(
        f"{m}/{s}" for m in METRICS for s in ("cifar10", "cifar100", "imagenet16_120")
    )
    assert table["edgegpu_latency/cifar10"].tolist() == [ROW_0[0], ROW_6[0]]
    assert table["fpga_energy/cifar100"].tolist() == [1.0, 2.0]
    assert table["raspi4_latency/imagenet16_120"].tolist() == [3.0, 4.0]
    assert table.meta["datasets"] == ["cifar10", "cifar100", "ImageNet16-120"]
    assert table.meta["units"]["edgegpu_latency"] == "ms" and table.meta["units"]["fpga_energy"] == "mJ"
    assert "eyeriss_arithmetic_intensity" not in table.meta["units"]  # HW-NAS-Bench gives it no unit


def test_dataset_picks_one_datasets_columns(tmp_path) -> None:
    path = _two_rows(tmp_path / "HW-NAS-Bench-v1_0.pickle")
    for name in ("ImageNet16-120", "imagenet16_120"):  # the file's name or the column suffix
        table = read_hw_nas_bench(path, dataset=name)
        assert table.metric_names == [f"{m}/imagenet16_120" for m in METRICS]
        assert table.meta["datasets"] == ["ImageNet16-120"]
    with pytest.raises(DataFormatError, match=r"no dataset 'svhn' .* \['cifar10', 'cifar100', 'ImageNet16-120'\]"):
        read_hw_nas_bench(path, dataset="svhn")


def test_minus_one_is_not_measured_and_other_negatives_are_malformed(tmp_path) -> None:
    table = read_hw_nas_bench(_two_rows(tmp_path / "hw.pickle"), dataset="cifar10")
    assert table["edgetpu_latency/cifar10"][0] == ROW_0[3] and np.isnan(table["edgetpu_latency/cifar10"][1])
    assert table.meta["not_measured"] == {"edgetpu_latency/cifar10": 1}
    assert "HW-NAS-Bench's -1" in table.meta["labels"]["missing"]
    bad = _dataset([ARCH_0], [(-2.5, *ROW_0[1:])], "cifar10")  # placeholder: no device reports -2.5
    with pytest.raises(DataFormatError, match=r"hw_bad.pickle: index 0: edgegpu_latency/cifar10 = -2.5 is negative"):
        read_hw_nas_bench(_write(tmp_path / "hw_bad.pickle", {"nasbench201": {"cifar10": bad}}))


def test_fbnet_is_skipped_or_refused_and_other_families_are_errors(tmp_path) -> None:
    path = _two_rows(tmp_path / "HW-NAS-Bench-v1_0.pickle")
    table = read_hw_nas_bench(path, family="nb201")
    assert table.family == "nb201" and "per-operator lookup tables" in table.meta["skipped_spaces"]["fbnet"]
    with pytest.raises(DataFormatError, match="FBNet part holds per-operator lookup tables .* no fbnet family"):
        read_hw_nas_bench(path, family="fbnet")
    with pytest.raises(DataFormatError, match="hw_nas_bench file holds nb201 architectures, not 'nb101'"):
        read_hw_nas_bench(path, family="nb101")


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_wrong_files_are_refused_clearly(tmp_path, capsys) -> None:
    naslib = _write(tmp_path / "nb201_cifar10_full_training.pickle", {ARCH_0: {"cifar10-valid": {}}})
    with pytest.raises(DataFormatError, match=r"not an HW-NAS-Bench pickle: no 'nasbench201' key .* keys are \['\|avg"):
        read_hw_nas_bench(naslib)
    with pytest.raises(DataFormatError, match="not an HW-NAS-Bench pickle: .* got a list"):
        read_hw_nas_bench(_write(tmp_path / "list.pickle", [1.0, 2.0]))
    text = tmp_path / "zc_nasbench201.json"
    text.write_text(json.dumps({"cifar10": {}}))
    with pytest.raises(DataFormatError, match="zc_nasbench201.json: not a readable pickle"):
        read_hw_nas_bench(text)
    with pytest.raises(DataFormatError, match="refusing to load builtins.print"):
        read_hw_nas_bench(_write(tmp_path / "evil.pickle", {"nasbench201": {"cifar10": {"config": [_Evil()]}}}))
    assert "pwned" not in capsys.readouterr().out
    short = _dataset([ARCH_0, ARCH_6], [ROW_0, ROW_6], "cifar10")
    short["fpga_energy"] = short["fpga_energy"][:1]
    with pytest.raises(DataFormatError, match=r"nasbench201/cifar10/fpga_energy: 1 values for 2 architectures"):
        read_hw_nas_bench(_write(tmp_path / "short.pickle", {"nasbench201": {"cifar10": short}}))
    no_config = {"nasbench201": {"cifar10": {"edgegpu_latency": [1.0]}}}
    with pytest.raises(DataFormatError, match=r"nasbench201/cifar10: expected \{metric: \[...\], 'config'"):
        read_hw_nas_bench(_write(tmp_path / "no_config.pickle", no_config))
    with pytest.raises(DataNotFoundError, match="HW-NAS-Bench-v1_0.pickle"):
        read_hw_nas_bench(tmp_path / "missing" / "HW-NAS-Bench-v1_0.pickle")


def test_strict_and_lenient_on_malformed_entries(tmp_path) -> None:
    archs = [ARCH_0, "|bogus~0|", ARCH_6, ARCH_0]  # index 1: not an arch string; index 3: repeats index 0
    rows = [ROW_0, ROW_0, (*ROW_6[:4], "n/a", *ROW_6[5:]), ROW_6]  # index 2: not a number (placeholder)
    cifar100 = _dataset(archs, [[1.0] * 10] * 4, "cifar100")
    cifar100["config"][0]["arch_str"] = ARCH_6  # index 0 names another cell in the CIFAR-100 configs
    path = _write(
        tmp_path / "hw.pickle", {"nasbench201": {"cifar10": _dataset(archs, rows, "cifar10"), "cifar100": cifar100}}
    )
    with pytest.raises(DataFormatError, match=r"hw.pickle: index 0: arch_str differs between cifar10 .* and cifar100"):
        read_hw_nas_bench(path)
    with pytest.warns(UserWarning, match="skipped 3 malformed rows"):
        table = read_hw_nas_bench(path, strict=False)
    skipped = table.meta["skipped"]
    assert "index 0: arch_str differs" in skipped[0] and "index 1: nb201: invalid arch_string" in skipped[1]
    assert "index 2: pixel3_latency/cifar10 = 'n/a' is not a number" in skipped[2]
    assert table.encodings == [ARCH_0] and table["edgegpu_latency/cifar10"].tolist() == [ROW_6[0]]  # index 3
    with pytest.raises(DataFormatError, match=r"index 1: nb201: invalid arch_string = '\|bogus~0\|'"):
        read_hw_nas_bench(path, dataset="cifar10")
    with pytest.warns(UserWarning, match="skipped 3 malformed rows"):
        table = read_hw_nas_bench(path, dataset="cifar10", strict=False)
    assert table.encodings == [ARCH_0] and "index 3: arch_str " in table.meta["skipped"][2]  # repeats index 0


def test_compressed_pickle(tmp_path) -> None:
    raw = _two_rows(tmp_path / "HW-NAS-Bench-v1_0.pickle").read_bytes()
    path = tmp_path / "HW-NAS-Bench-v1_0.pickle.gz"
    path.write_bytes(gzip.compress(raw))
    assert read_hw_nas_bench(path, dataset="cifar10")["fpga_energy/cifar10"].tolist() == [ROW_0[9], ROW_6[9]]


def test_load_file_recognises_the_file_name(tmp_path) -> None:
    path = _two_rows(tmp_path / "HW-NAS-Bench-v1_0.pickle")
    assert load_file(path).meta["format"] == "hw_nas_bench"
    renamed = _two_rows(tmp_path / "hw_nas_bench_nb201.pkl")  # nb201 in the name must not pick naslib_nb201
    assert load_file(renamed).meta["format"] == "hw_nas_bench"
    with pytest.raises(DataNotFoundError, match="HW-NAS-Bench repository"):
        read_format("hw_nas_bench", tmp_path / "elsewhere" / "HW-NAS-Bench-v1_0.pickle")


@pytest.mark.skipif(not HW_CSV.is_file(), reason=f"shared benchmark data {HW_CSV} is absent")
def test_protocol_2_pickle_of_numpy_arrays(tmp_path) -> None:
    """Protocol 2 (Python 2 era) rebuilds an array's bytes with ``_codecs.encode``: allowed, nothing else is."""
    archs = [ARCH_0, ARCH_6]
    doc = {"nasbench201": {"cifar10": _dataset(archs, [ROW_0, ROW_6], "cifar10", np.array)}}
    path = _write(tmp_path / "HW-NAS-Bench-v1_0.pickle", doc, protocol=2)
    assert b"_codecs" in path.read_bytes()
    assert read_hw_nas_bench(path)["edgegpu_latency/cifar10"].tolist() == [ROW_0[0], ROW_6[0]]
