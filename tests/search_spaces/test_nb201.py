"""NAS-Bench-201: published numbers, encodings, canonical form and the fast computation graph."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from gennape_naslib import search_spaces
from gennape_naslib.search_spaces import ArchValidationError
from gennape_naslib.search_spaces import _nb201_net as net
from gennape_naslib.search_spaces.nb201 import NASLIB_OPS, NB201Arch, canonical_form
from gennape_naslib.testing import FamilyContract

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nb201"
ZC_FILE = DATA / "zc_nasbench201_725.json"
NATS_FILE = DATA / "nats_bench.csv"

EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


@pytest.fixture(scope="module")
def nb201():
    return search_spaces.get("nb201")


@pytest.fixture(scope="module")
def zc():
    if not ZC_FILE.exists():
        pytest.skip(f"shared data file {ZC_FILE} is absent (it lives beside the repository)")
    return json.loads(ZC_FILE.read_text())


@pytest.fixture(scope="module")
def nats_rows():
    if not NATS_FILE.exists():
        pytest.skip(f"shared data file {NATS_FILE} is absent (it lives beside the repository)")
    with NATS_FILE.open(newline="") as fh:
        return list(csv.DictReader(fh))


def arch(nb201, text: str) -> NB201Arch:
    return nb201.from_str(text)


def cell(**edges: str) -> NB201Arch:
    """A cell with the given edges (``e01="nor_conv_3x3"``); the other edges are ``none``."""
    ops = ["none"] * 6
    for key, op in edges.items():
        ops[net.CELL_EDGES.index((int(key[1]), int(key[2])))] = op
    return NB201Arch(tuple(ops))


# --------------------------------------------------------------------------- published numbers
@pytest.mark.parametrize(("dataset", "num_classes"), [("cifar10", 10), ("cifar100", 100)])
def test_params_equal_published(nb201, zc, dataset: str, num_classes: int) -> None:
    records = zc[dataset]
    assert len(records) == 725
    for key, rec in records.items():
        a = nb201.from_str(key)
        ours = nb201.params(a, num_classes=num_classes) / 1e6
        assert round(ours, 3) == round(rec["params"]["score"], 3), key
        assert ours == pytest.approx(rec["params"]["score"], abs=5e-7), key  # exact to the published 6 decimals


def test_flops_rank_correlation_and_convention(nb201, zc) -> None:
    records = zc["cifar10"]
    archs = [nb201.from_str(k) for k in records]
    published = np.array([rec["flops"]["score"] for rec in records.values()])
    elementwise = np.array([nb201.published_flops(a) for a in archs], dtype=float)
    # The published convention (documented in published_flops): equal up to a constant 5,184.
    np.testing.assert_allclose(published * 1e6 - elementwise, 5184.0, atol=1e-3)
    assert spearmanr(elementwise, published)[0] >= 0.999
    # FlopCounterMode convention (flops()): pooling counts nothing there, so cells that differ only
    # in avg_pool_3x3 tie; the docstring states the figures checked here.
    torch_flops = np.array([nb201.flops(a) for a in archs])
    rho = spearmanr(torch_flops, published)[0]
    assert 0.995 <= rho < 0.999
    ratio = torch_flops / 1e6 / published
    assert 1.18 < ratio.min() and ratio.max() < 1.98 and 1.90 < np.median(ratio) < 1.91


def test_naslib_op_indices_follow_the_benchmark(nb201, zc, nats_rows) -> None:
    """Read through our NASLib mapping, the zero-cost file's validation accuracies rank like the
    NATS-Bench test accuracies of the same cells; read with the edges unpermuted they do not."""
    test_acc = {r["ArchitectureString"]: float(r["CIFAR10TestAccuracy200Epochs"]) for r in nats_rows}
    val, ours, naive = [], [], []
    for key, rec in zc["cifar10"].items():
        idx = json.loads(key.replace("(", "[").replace(")", "]"))
        val.append(rec["val_accuracy"])
        ours.append(test_acc[nb201.to_str(nb201.from_naslib(idx))])
        naive.append(test_acc[nb201.to_str(NB201Arch(tuple(NASLIB_OPS[i] for i in idx)))])
    rho_ours, rho_naive = spearmanr(val, ours)[0], spearmanr(val, naive)[0]
    assert rho_ours > 0.95
    assert rho_ours > rho_naive + 0.1


# --------------------------------------------------------------------------- canonical form
def test_canonical_classes_contain_the_nats_bench_classes(nb201, nats_rows) -> None:
    assert len(nats_rows) == 15625
    ours_of_nats: dict[str, set[str]] = defaultdict(set)
    ours = set()
    for row in nats_rows:
        form = canonical_form(nb201.from_str(row["ArchitectureString"]).ops)
        ours_of_nats[row["UniqueString"]].add(form)
        ours.add(form)
    assert len(ours_of_nats) == 6466  # the benchmark's count of unique cells
    assert all(len(forms) == 1 for forms in ours_of_nats.values())  # never split a NATS class
    assert len(ours) == 4930  # the figure in canonical_form's docstring


def test_canonical_hash_examples(nb201) -> None:
    h = nb201.canonical_hash
    conv3, conv1, pool, skip = "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3", "skip_connect"
    # Node 1 dead (both of its out-edges are none): the op into it does not matter.
    assert h(cell(e01=conv3, e03=conv1)) == h(cell(e01=pool, e03=conv1)) == h(cell(e03=conv1))
    # Node 2 dead (2->3 is none): the ops into it do not matter.
    assert h(cell(e02=conv3, e12=pool, e01=skip, e13=conv1)) == h(cell(e01=skip, e13=conv1))
    # Everything zero: a cell of all none equals any cell whose output edges are none.
    assert h(cell()) == h(cell(e01=conv3, e02=conv1, e12=skip)) != h(cell(e03=skip))
    # A conv on a zero node contributes nothing (NAS-Bench-201's rule).
    assert h(cell(e13=conv3, e03=skip)) == h(cell(e03=skip))
    # Summands commute, skips flatten: x + conv3(x) + conv1(x) written three ways.
    a = cell(e03=skip, e01=conv3, e13=skip, e02=conv1, e23=skip)
    b = cell(e03=skip, e01=conv1, e13=skip, e02=conv3, e23=skip)
    c = cell(e01=skip, e13=skip, e02=conv3, e12=skip, e23=skip)  # x + conv3(x) + x
    assert h(a) == h(b)
    assert h(a) != h(c)
    # none and skip differ; x + x differs from x; conv sizes differ.
    assert h(cell(e03=skip)) != h(cell(e03=skip, e01=skip, e13=skip))
    assert h(cell(e03=conv3)) != h(cell(e03=conv1))
    # A pool of a sum is not a sum of pools (the networks differ).
    sum_then_pool = cell(e01=conv3, e02=conv1, e12=skip, e23=pool)
    pool_each = cell(e01=conv3, e02=conv1, e13=pool, e23=pool)
    assert h(sum_then_pool) != h(pool_each)
    assert canonical_form(cell(e01=conv3, e02=conv1, e12=skip, e23=pool).ops) == (
        "avg_pool_3x3(nor_conv_1x1(x)+nor_conv_3x3(x))"
    )
    assert canonical_form(cell().ops) == "0"


# --------------------------------------------------------------------------- encodings
def test_arch_string_and_naslib_round_trips(nb201) -> None:
    a = nb201.from_json(EXAMPLE)
    assert a == nb201.example()
    assert nb201.to_json(a) == EXAMPLE == str(a)
    assert a.edge_op(2, 3) == "skip_connect" and a.edge_op(1, 2) == "avg_pool_3x3"
    # The NASLib tuple of the first key of zc_nasbench201.json, by hand.
    b = nb201.from_str("(0, 2, 3, 2, 3, 1)")
    assert nb201.to_str(b) == (
        "|skip_connect~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_1x1~0|nor_conv_1x1~1|none~2|"
    )
    assert nb201.to_naslib(b) == (0, 2, 3, 2, 3, 1)
    assert nb201.from_json([0, 2, 3, 2, 3, 1]) == b
    assert nb201.from_str(json.dumps(EXAMPLE)) == a
    # Inputs of a node may be listed in any order; the text form is normalised.
    shuffled = "|nor_conv_3x3~0|+|avg_pool_3x3~1|nor_conv_3x3~0|+|skip_connect~2|skip_connect~0|nor_conv_3x3~1|"
    assert nb201.from_str(shuffled) == a
    everything = list(nb201.enumerate())
    assert len(everything) == len(set(everything)) == nb201.size() == 15625
    assert {nb201.to_naslib(x) for x in everything} == {tuple(int(v) for v in t) for t in np.ndindex(*(5,) * 6)}
    for x in everything[::97]:
        assert nb201.from_naslib(nb201.to_naslib(x)) == x
        assert nb201.from_str(nb201.to_str(x)) == x


class _NaslibGraphStandIn:
    """What NASLib's NasBench201SearchSpace exposes that from_naslib may use."""

    def __init__(self, op_indices: list[int]) -> None:
        self._ops = op_indices

    def get_op_indices(self) -> list[int]:
        return list(self._ops)


def test_from_naslib_graph(nb201) -> None:
    graph = _NaslibGraphStandIn([1, 4, 4, 0, 2, 3])
    a = nb201.from_naslib(graph)
    assert a.edge_op(0, 1) == "none" and a.edge_op(0, 2) == "avg_pool_3x3" and a.edge_op(0, 3) == "avg_pool_3x3"
    assert a.edge_op(1, 2) == "skip_connect" and a.edge_op(1, 3) == "nor_conv_3x3" and a.edge_op(2, 3) == "nor_conv_1x1"
    assert nb201.to_naslib(a) == (1, 4, 4, 0, 2, 3)
    with pytest.raises(ArchValidationError, match="op_indices"):
        nb201.from_naslib(_NaslibGraphStandIn([0, 1, 2, 3, 4, 5]))


def test_invalid_inputs(nb201) -> None:
    FamilyContract(nb201).check_invalid_inputs(
        [
            "",
            "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|",  # two nodes only
            "|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|",  # unknown op
            "|none~0|+|none~0|none~2|+|none~0|none~1|none~2|",  # input from a later node
            "|none~0|+|none~0|none~0|+|none~0|none~1|none~2|",  # repeated input
            "|none~0|+|none~0|+|none~0|none~1|none~2|",  # wrong fan-in
            "none~0|+|none~0|none~1|+|none~0|none~1|none~2|",  # missing bar
            "|none~a|+|none~0|none~1|+|none~0|none~1|none~2|",  # bad index
            "(0, 1, 2, 3, 4)",  # NASLib tuple too short
            "(0, 1, 2, 3, 4, 5)",  # op index out of range
            "(0, 1, x, 3, 4, 0)",
            [0, 1, 2, 3, 4, -1],
            ["none"] * 5,
            ["none"] * 5 + ["conv"],
            ["none"] * 5 + [3],
            [True] * 6,
            [0.0] * 6,
            42,
            None,
            {"ops": ["none"] * 6},
            NB201Arch(("none",) * 5),  # type: ignore[arg-type]
            NB201Arch(("none",) * 5 + ("max_pool_3x3",)),  # type: ignore[arg-type]
        ]
    )
    with pytest.raises(ArchValidationError, match=r"conv_5x5"):
        nb201.from_str("|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|")


def test_configspace_samples_valid_cells(nb201) -> None:
    space = nb201.configspace()
    space.seed(3)
    archs = [nb201.from_configuration(c) for c in space.sample_configuration(20)]
    for a in archs:
        nb201.validate(a)
    assert len(set(archs)) > 15
    assert nb201.from_configuration({f"edge_{s}_{d}": "skip_connect" for s, d in net.CELL_EDGES}) == NB201Arch(
        ("skip_connect",) * 6
    )
    with pytest.raises(ArchValidationError, match="edge_2_3"):
        nb201.from_configuration({f"edge_{s}_{d}": "none" for s, d in net.CELL_EDGES[:5]})


def test_neighbors_change_one_edge(nb201) -> None:
    a = nb201.example()
    nbrs = nb201.neighbors(a)
    assert len(nbrs) == 24 == len(set(nbrs))
    assert all(sum(x != y for x, y in zip(n.ops, a.ops)) == 1 for n in nbrs)


# --------------------------------------------------------------------------- networks and graphs
@pytest.mark.parametrize(
    "text",
    [
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
        "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|",
        "|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|skip_connect~0|none~1|avg_pool_3x3~2|",
    ],
)
def test_cg_equals_lowered_network(nb201, text: str) -> None:
    from gennape_naslib.cg import from_torch

    a = nb201.from_str(text)
    fast = nb201.to_cg(a)
    slow = from_torch(nb201.to_module(a), nb201.input_shape)
    assert fast == slow, fast.diff(slow)


def test_fast_cg_equals_builder_reference(nb201) -> None:
    rng = np.random.default_rng(11)
    archs = [nb201.sample(rng) for _ in range(150)] + [cell(), NB201Arch(("skip_connect",) * 6)]
    for a in archs:
        fast = nb201.to_cg(a)
        ref = net.build_cg_reference(a.ops)
        assert fast == ref, f"{a}: {fast.diff(ref)}"
        assert fast.nodes == ref.nodes and fast.edges == ref.edges  # same order too


def test_cg_structure(nb201) -> None:
    none_cg = nb201.to_cg(cell())
    skip_cg = nb201.to_cg(NB201Arch(("skip_connect",) * 6))
    # none is a zero op (one per edge and cell), never confused with skip_connect.
    assert none_cg.op_counts()["zero"] == 6 * 15
    assert "zero" not in skip_cg.op_counts()
    assert (skip_cg.n_nodes, skip_cg.n_edges) == (26, 27)
    assert (none_cg.n_nodes, none_cg.n_edges) == (161, 207)
    ex = nb201.to_cg(nb201.example())
    counts = ex.op_counts()
    assert counts["avgpool"] == 15 + 2  # one per cell plus the two 2x2 shortcut pools
    assert counts["conv"] == 3 * 15 + 1 + 2 * 3  # three conv edges per cell, stem, reductions
    assert counts["batchnorm"] == 3 * 15 + 1 + 2 * 2 + 1
    assert counts["mean"] == counts["matmul"] == 1
    assert ex.nodes[-2].resolution == (1, 1, 1, 1, 64, 10) and ex.nodes[-2].use_bias


def test_module_matches_counts_for_other_class_counts(nb201) -> None:
    a = nb201.example()
    module = nb201.to_module(a, num_classes=100)
    assert sum(p.numel() for p in module.parameters()) == nb201.params(a, num_classes=100)
    assert nb201.to_cg(a, num_classes=100).nodes[-2].resolution[5] == 100
    with pytest.raises(TypeError, match="width"):
        nb201.to_module(a, width=2)
