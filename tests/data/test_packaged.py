"""Packaged tables hold exactly the published numbers of the shared benchmark files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from gennape_naslib import data
from gennape_naslib.search_spaces import get

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is not present")


def test_list_tables() -> None:
    assert {"nb201", "nb201_zc", "nb101", "nb301", "ofa_mbv3"} <= set(data.list_tables())


@needs_shared
def test_nb201_equals_nats_bench_csv() -> None:
    table = data.load("nb201")
    assert len(table) == 15625 and table.family == "nb201"
    with open(SHARED / "nb201" / "nats_bench.csv", newline="") as handle:
        rows = {r["ArchitectureString"]: r for r in csv.DictReader(handle)}
    columns = {
        "test_acc_200ep/cifar10": "CIFAR10TestAccuracy200Epochs",
        "test_acc_200ep/cifar100": "CIFAR100TestAccuracy200Epochs",
        "test_acc_200ep/imagenet16_120": "ImageNetTestAccuracy200Epochs",
    }
    for i, encoding in enumerate(table.encodings):
        row = rows[encoding]
        for ours, theirs in columns.items():
            assert table[ours][i] == float(row[theirs]), (encoding, ours)
    assert not np.isnan(table["edgegpu_latency/cifar10"]).any()


@needs_shared
def test_best_nb201_cifar10_cell_is_the_published_optimum() -> None:
    table = data.load("nb201", dataset="cifar10")
    best = int(np.argmax(table["test_acc_200ep"]))
    assert round(float(table["test_acc_200ep"][best]), 2) == 94.37


@needs_shared
def test_hw_latency_matches_source_through_naslib_keys() -> None:
    table = data.load("nb201")
    adapter = get("nb201")
    with open(SHARED / "nb201" / "hw_nas_bench_cifar10.csv", newline="") as handle:
        for k, row in enumerate(csv.DictReader(handle)):
            if k % 997:
                continue
            arch = adapter.from_naslib(type("G", (), {"get_op_indices": lambda self, r=row: eval(r["net"])})())
            assert table.lookup(arch)["pixel3_latency/cifar10"] == float(row["pixel3_latency"])


@needs_shared
def test_hw_not_measured_code_becomes_nan() -> None:
    table = data.load("nb201", dataset="cifar10")
    adapter = get("nb201")
    with open(SHARED / "nb201" / "hw_nas_bench_cifar10.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    missing = [r for r in rows if float(r["edgetpu_latency"]) < 0]
    assert len(missing) == int(np.isnan(table["edgetpu_latency"]).sum()) > 0  # HW-NAS-Bench's -1 only
    assert np.nanmin(table["edgetpu_latency"]) > 0
    for row in missing[::500]:
        arch = adapter.from_naslib(type("G", (), {"get_op_indices": lambda self, r=row: eval(r["net"])})())
        metrics = table.lookup(arch)
        assert np.isnan(metrics["edgetpu_latency"]) and metrics["edgegpu_latency"] == float(row["edgegpu_latency"])


@needs_shared
def test_zero_cost_tables_match_json() -> None:
    doc = json.loads((SHARED / "nb201" / "zc_nasbench201_725.json").read_text())
    table = data.load("nb201_zc")
    assert len(table) == 725
    adapter = get("nb201")
    for key, record in list(doc["cifar10"].items())[::50]:
        arch = adapter.from_naslib(type("G", (), {"get_op_indices": lambda self, k=key: eval(k)})())
        row = table.lookup(arch)
        assert row["val_acc/cifar10"] == record["val_accuracy"]
        assert row["synflow/cifar10"] == record["synflow"]["score"]
    assert np.isnan(table["val_acc/imagenet16_120"]).sum() == 1  # 724 of 725 cells have ImageNet16-120 data
    cifar100 = data.load("nb201_zc", dataset="cifar100")
    assert "val_acc" in cifar100.metric_names and "synflow/cifar10" not in cifar100.metric_names


def _isomorphism_classes(specs: list[tuple[list[list[int]], list[str]]]) -> int:
    """Count classes of labelled DAGs up to isomorphism, independently of our hash (networkx)."""
    import networkx as nx

    graphs = []
    for matrix, ops in specs:
        g = nx.DiGraph()
        g.add_nodes_from((i, {"op": op}) for i, op in enumerate(ops))
        g.add_edges_from((i, j) for i, row in enumerate(matrix) for j, v in enumerate(row) if v)
        graphs.append(g)
    reps: list[nx.DiGraph] = []
    for g in graphs:
        if not any(nx.is_isomorphic(g, r, node_match=lambda a, b: a["op"] == b["op"]) for r in reps):
            reps.append(g)
    return len(reps)


@needs_shared
def test_nb101_is_pruned_and_deduplicated() -> None:
    table = data.load("nb101")
    counts = table["n_duplicates"]
    assert counts.sum() == 500
    with open(SHARED / "nb101" / "zc_nasbench101_500_pruned.csv", newline="") as handle:
        specs = {(r["pruned_adjacency"], r["pruned_ops"]) for r in csv.DictReader(handle)}
    assert len(table) == _isomorphism_classes([(json.loads(m), json.loads(o)) for m, o in specs])
    adapter = get("nb101")
    assert len({adapter.canonical_hash(a) for a in table.archs}) == len(table)
    assert 80 < np.nanmean(table["val_acc/cifar10"]) < 95


@needs_shared
def test_nb301_marks_surrogate_labels() -> None:
    table = data.load("nb301")
    assert len(table) == 725 and table.meta["surrogate_labels"] is True
    assert "val_acc_surrogate/cifar10" in table.metric_names


@needs_shared
def test_ofa_mbv3_rows() -> None:
    table = data.load("ofa_mbv3")
    assert len(table) == 2610
    with open(SHARED / "ofa_mbv3" / "ofa_mbv3_mit_2610.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [float(r["top1_acc"]) for r in rows] == table["top1_acc/imagenet"].tolist()
    assert set(table["resolution"].tolist()) <= {128.0, 160.0, 192.0}


@needs_shared
@pytest.mark.slow
def test_build_script_reproduces_files_byte_for_byte(load_script) -> None:
    module = load_script("build_packaged_data")
    assert module.main(["--shared", str(SHARED), "--check"]) == 0
