"""NAS-Bench-101 family: published numbers, GENNAPE CG fidelity, encodings, validation."""

from __future__ import annotations

import collections
import csv
import itertools
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from gennape_naslib import search_spaces
from gennape_naslib.search_spaces.base import ArchValidationError
from gennape_naslib.search_spaces.nb101 import NB101Arch, module_hash, prune_spec
from gennape_naslib.testing import FamilyContract

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nb101"
C3, C1, MP = "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"
#: A small macro skeleton that keeps torch-based checks fast (the cell logic is the same).
SMALL = {"stem_channels": 16, "num_stacks": 2, "cells_per_stack": 1}

INCEPTION = {
    "matrix": [
        [0, 1, 1, 1, 0, 1, 0],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 1, 0, 0],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 0],
    ],
    "ops": ["input", C1, C3, C3, C3, MP, "output"],
}
MINIMAL = {"matrix": [[0, 1, 1], [0, 0, 1], [0, 0, 0]], "ops": ["input", C3, "output"]}
# Three vertices feed the output (uneven channel split), so 1 -> 3 and 2 -> 3 truncate, and vertex 3
# sums three inputs (two truncated predecessors and the input projection).
TRUNCATING = {
    "matrix": [
        [0, 1, 1, 1, 0],
        [0, 0, 0, 1, 1],
        [0, 0, 0, 1, 1],
        [0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0],
    ],
    "ops": ["input", C3, MP, C1, "output"],
}
ONLY_PROJECTION = {"matrix": [[0, 1], [0, 0]], "ops": ["input", "output"]}


@pytest.fixture(scope="module")
def fam():
    return search_spaces.get("nb101")


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared benchmark data {path} is not available (clone ../shared beside the repo)")
    return path


class _NumpyOnly(pickle.Unpickler):
    """Unpickle the raw NAS-Bench-101 records, allowing numpy arrays and nothing else."""

    ALLOWED = {("numpy", "dtype"), ("numpy", "ndarray"), ("numpy.core.multiarray", "_reconstruct")}
    ALLOWED |= {("numpy._core.multiarray", "_reconstruct")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def _zc() -> dict[str, dict]:
    with open(_need(DATA / "zc_nasbench101_500.json")) as fh:
        return json.load(fh)["nasbench101"]["cifar10"]


# ---------------------------------------------------------------------- published numbers
def test_params_and_hash_match_raw_benchmark_records(fam) -> None:
    with open(_need(DATA / "nb101_records_30.pkl"), "rb") as fh:
        records = _NumpyOnly(fh).load()
    assert len(records) == 30
    for key, (fixed, _) in records.items():
        arch = fam.from_json({"matrix": fixed["module_adjacency"], "ops": fixed["module_operations"]})
        assert fam.params(arch) == int(fixed["trainable_parameters"]), key
        assert fam.canonical_hash(arch) == key  # our hash is the benchmark's own module hash


def test_published_params_and_flops_of_naslib_zero_cost_data(fam) -> None:
    from scipy.stats import spearmanr

    zc = _zc()
    assert len(zc) == 500
    ours, theirs = [], []
    for key, row in zc.items():
        arch = fam.from_str(key)
        # params: millions, exact to the printed 6 decimals
        assert abs(fam.params(arch) / 1e6 - row["params"]) < 5e-7, key
        # flops: the published convention, reproduced to the printed precision
        assert abs(fam.published_flops(arch) - row["flops"]) < 5e-7, key
        ours.append(fam.flops(arch))
        theirs.append(row["flops"])
    ratio = np.array(ours) / 2e6 / np.array(theirs)
    assert 0.85 < ratio.min() and ratio.max() < 1.0  # MACs only are always below the published count
    assert spearmanr(ours, theirs).statistic > 0.998


def _flops_counted_on_the_cg(cg) -> float:
    """The published convention read off the CG: MACs + 3 per conv-BN-ReLU output + k*k per pool output."""
    total = 0
    for node in cg.nodes:
        _, h, _, w, _, c = node.resolution
        if node.shape is not None:
            total += h * w * node.shape[0] * node.shape[1] * max(node.shape[2], 1) * max(node.shape[3], 1)
        elif node.op in ("batchnorm", "relu"):
            total += (2 if node.op == "batchnorm" else 1) * h * w * c
        elif node.op == "maxpool":
            total += h * w * c * node.metadata["ksize"][0] * node.metadata["ksize"][1]
    return total / 1e6


def test_published_flops_convention_read_off_the_cg(fam) -> None:
    for key, row in list(_zc().items())[:40]:
        arch = fam.from_str(key)
        assert abs(_flops_counted_on_the_cg(fam.to_cg(arch)) - row["flops"]) < 5e-7, key


def test_pruning_matches_the_published_pruned_specs(fam) -> None:
    with open(_need(DATA / "zc_nasbench101_500_pruned.csv")) as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        arch = fam.from_str(row["naslib_tuple"])
        assert [list(r) for r in arch.matrix] == json.loads(row["pruned_adjacency"])
        assert list(arch.ops) == json.loads(row["pruned_ops"])
        assert arch.num_vertices == int(row["n_nodes"]) and arch.num_edges == int(row["n_edges"])


def test_sampler_matches_the_benchmark_sampler_statistics(fam) -> None:
    with open(_need(DATA / "zc_nasbench101_500_pruned.csv")) as fh:
        published = collections.Counter(int(r["n_nodes"]) for r in csv.DictReader(fh))
    rng = np.random.default_rng(0)
    ours = collections.Counter(fam.sample(rng).num_vertices for _ in range(2000))
    for n in range(2, 8):
        assert abs(ours[n] / 2000 - published[n] / 500) < 0.07, (n, ours, published)


# ---------------------------------------------------------------------- GENNAPE CG fidelity (Appendix A)
def test_appendix_a_inception_like_cell(fam) -> None:
    cg = fam.to_cg(fam.from_json(INCEPTION))
    assert (cg.n_nodes, cg.n_weighted, cg.n_edges) == (243, 74, 269)
    ops = cg.op_counts()
    assert ops["concat"] == 9 and ops["maxpool"] == 11 and ops.get("add", 0) == 0
    assert ops["conv"] == ops["batchnorm"] == ops["relu"] == 73
    assert ops["matmul"] == ops["mean"] == ops["input"] == ops["output"] == 1
    assert fam.params(fam.from_json(INCEPTION)) == 2_694_282  # the NAS-Bench-101 README's figure


def test_appendix_a_minimal_cell(fam) -> None:
    cg = fam.to_cg(fam.from_json(MINIMAL))
    assert (cg.n_nodes, cg.n_weighted, cg.n_edges) == (99, 29, 107)
    ops = cg.op_counts()
    assert ops["add"] == 9 and ops["maxpool"] == 2
    assert ops["conv"] == 28 and ops.get("concat", 0) == 0


def test_stem_and_head_geometry(fam) -> None:
    cg = fam.to_cg(fam.example())
    stem = next(n for n in cg.nodes if n.op == "conv")
    assert stem.resolution == (32, 32, 32, 32, 3, 128) and stem.shape == (3, 128, 3, 3)
    dense = next(n for n in cg.nodes if n.op == "matmul")
    assert dense.resolution == (1, 1, 1, 1, 512, 10) and dense.use_bias
    pools = [n.resolution for n in cg.nodes if n.op == "maxpool" and n.strides == (2, 2)]
    assert pools == [(32, 16, 32, 16, 128, 128), (16, 8, 16, 8, 256, 256)]


@pytest.mark.parametrize("spec", [TRUNCATING, ONLY_PROJECTION, MINIMAL], ids=["truncating", "projection", "minimal"])
def test_cg_equals_lowered_module_on_edge_cases(fam, spec) -> None:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from gennape_naslib.cg import from_torch

    arch = fam.from_json(spec)
    module = fam.to_module(arch, **SMALL)
    fast, slow = fam.to_cg(arch, **SMALL), from_torch(module, (3, 32, 32))
    assert fast == slow, fast.diff(slow)
    assert fam.params(arch, **SMALL) == sum(p.numel() for p in module.parameters())
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module.eval()(torch.zeros(1, 3, 32, 32))
    assert fam.flops(arch, **SMALL) == counter.get_total_flops()


def test_truncating_cell_slices_channels_and_folds_adds(fam) -> None:
    cg = fam.to_cg(fam.from_json(TRUNCATING), **SMALL)
    # stack 1 splits 16 output channels 6/5/5; vertex 3 sums three inputs with two binary adds
    assert cg.op_counts()["add"] == 2 * 2
    assert any(n.op == "add" and n.resolution[4:] == (5, 5) for n in cg.nodes)


def test_tf_initialisation_option(fam) -> None:
    import torch

    module = fam.to_module(fam.from_json(MINIMAL), init="tf", **SMALL)
    conv = next(m for m in module.modules() if isinstance(m, torch.nn.Conv2d))
    bound = 2 * (1.0 / (conv.in_channels * 9)) ** 0.5 / 0.8796256610342398
    assert float(conv.weight.detach().abs().max()) <= bound + 1e-6
    with pytest.raises(ValueError, match="init"):
        fam.to_module(fam.from_json(MINIMAL), init="xavier")


# ---------------------------------------------------------------------- encodings and identity
def test_from_json_prunes_unpruned_specs(fam) -> None:
    spec = {
        "matrix": [
            [0, 1, 0, 1, 0],
            [0, 0, 0, 0, 1],
            [0, 0, 0, 1, 0],  # vertex 2 has no input: dangling
            [0, 0, 0, 0, 0],  # vertex 3 reaches nothing: dangling
            [0, 0, 0, 0, 0],
        ],
        "ops": ["input", C3, C1, MP, "output"],
    }
    arch = fam.from_json(spec)
    assert arch == NB101Arch(((0, 1, 0), (0, 0, 1), (0, 0, 0)), ("input", C3, "output"))
    assert prune_spec(spec["matrix"], spec["ops"]) == ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", C3, "output"])
    with pytest.raises(ArchValidationError, match="not pruned"):
        fam.validate(NB101Arch(tuple(map(tuple, spec["matrix"])), tuple(spec["ops"])))


def test_edge_limit_applies_after_pruning(fam) -> None:
    # 11 raw edges; vertex 5 reaches no output, so its 2 edges are pruned and 9 remain (as NAS-Bench-101 counts)
    m = [[0] * 7 for _ in range(7)]
    for v in range(1, 5):
        m[0][v] = m[v][6] = 1
    m[0][6] = m[1][5] = m[2][5] = 1
    assert sum(map(sum, m)) == 11
    arch = fam.from_json({"matrix": m, "ops": ["input", C3, C3, C3, C3, C1, "output"]})
    assert arch.num_edges == 9 and arch.num_vertices == 6


def test_isomorphic_cells_share_the_canonical_hash(fam) -> None:
    base = fam.from_json(INCEPTION)
    n = base.num_vertices
    seen_matrices = set()
    for perm in itertools.permutations(range(1, n - 1)):
        order = [0, *perm, n - 1]  # new vertex k is old vertex order[k]
        matrix = [[base.matrix[order[i]][order[j]] for j in range(n)] for i in range(n)]
        if any(matrix[i][j] for i in range(n) for j in range(i + 1)):
            continue  # not a topological relabelling
        arch = fam.from_json({"matrix": matrix, "ops": [base.ops[k] for k in order]})
        seen_matrices.add(arch)
        assert fam.canonical_hash(arch) == fam.canonical_hash(base)
        assert fam.to_cg(arch) == fam.to_cg(base)
    assert len(seen_matrices) > 10
    other = fam.from_json({**INCEPTION, "ops": ["input", C3, C3, C3, C3, MP, "output"]})
    assert fam.canonical_hash(other) != fam.canonical_hash(base)
    assert module_hash(base.matrix, base.ops) == fam.canonical_hash(base)


def test_json_text_and_naslib_tuple_forms(fam) -> None:
    arch = fam.from_json(MINIMAL)
    assert fam.from_str(fam.to_str(arch)) == arch
    tup = fam.to_naslib(arch)
    # NASLib pads like convert_to_cell: output moved to vertex 6, free vertices are unconnected conv3x3
    expected = [[0] * 7 for _ in range(7)]
    expected[0][1] = expected[0][6] = expected[1][6] = 1
    assert tup == tuple(v for r in expected for v in r) + (0, 4, 4, 4, 4, 4, 1)
    assert fam.from_naslib(tup) == arch
    assert fam.from_str(str(tup)) == arch and fam.from_str(json.dumps(list(tup))) == arch


class _NaslibStandIn:
    """Mirrors what NASLib's NasBench101SearchSpace exposes: get_spec() and get_hash()."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec

    def get_spec(self) -> dict:
        return self.spec

    def get_hash(self) -> tuple:
        return tuple(np.asarray(self.spec["matrix"]).flatten().tolist()) + tuple(
            ["input", "output", MP, C1, C3].index(op) for op in self.spec["ops"]
        )


def test_naslib_round_trips(fam) -> None:
    rng = np.random.default_rng(3)
    for _ in range(30):
        arch = fam.sample(rng)
        spec = fam.to_naslib_spec(arch)
        assert spec["matrix"].shape == (7, 7) and len(spec["ops"]) == 7
        graph = _NaslibStandIn(spec)
        assert fam.from_naslib(graph) == arch
        assert graph.get_hash() == fam.to_naslib(arch)
    # NASLib's own float matrices (np.triu(np.ones(...))) are accepted
    dense = _NaslibStandIn({"matrix": np.triu(np.ones((3, 3)), 1), "ops": ["input", C1, "output"]})
    assert fam.from_naslib(dense).ops == ("input", C1, "output")


def test_every_published_key_round_trips(fam) -> None:
    for key in _zc():
        arch = fam.from_str(key)
        assert fam.from_naslib(fam.to_naslib(arch)) == arch
        assert fam.from_json(json.loads(json.dumps(fam.to_json(arch)))) == arch


# ---------------------------------------------------------------------- invalid inputs
def _spec(matrix, ops):
    return {"matrix": matrix, "ops": ops}


BAD = [
    None,
    5,
    "not json",
    "[1, 2, 3]",
    [],
    {"matrix": MINIMAL["matrix"]},
    {**MINIMAL, "extra": 1},
    _spec("abc", MINIMAL["ops"]),
    _spec([[0, 1], [0, 0], [0, 0]], ["input", C3, "output"]),  # not square
    _spec([[0]], ["input"]),  # one vertex
    _spec(np.triu(np.ones((8, 8), dtype=int), 1).tolist(), ["input"] + [C3] * 6 + ["output"]),  # 8 vertices
    _spec(np.triu(np.ones((6, 6), dtype=int), 1).tolist(), ["input"] + [C3] * 4 + ["output"]),  # 15 edges
    _spec([[0, 1, 1], [0, 0, 1], [1, 0, 0]], MINIMAL["ops"]),  # cycle / lower triangle
    _spec([[1, 1, 1], [0, 0, 1], [0, 0, 0]], MINIMAL["ops"]),  # self loop
    _spec([[0, 2, 1], [0, 0, 1], [0, 0, 0]], MINIMAL["ops"]),  # not 0/1
    _spec([[0, 0.5, 1], [0, 0, 1], [0, 0, 0]], MINIMAL["ops"]),
    _spec([[0, "1", 1], [0, 0, 1], [0, 0, 0]], MINIMAL["ops"]),
    _spec([[0, None, 1], [0, 0, 1], [0, 0, 0]], MINIMAL["ops"]),
    _spec(MINIMAL["matrix"], ["input", "conv5x5-bn-relu", "output"]),  # unknown op
    _spec(MINIMAL["matrix"], ["output", C3, "input"]),  # wrong first / last
    _spec(MINIMAL["matrix"], ["input", C3, C3]),
    _spec(MINIMAL["matrix"], ["input", 3, "output"]),
    _spec(MINIMAL["matrix"], ["input", "output"]),  # length mismatch
    _spec([[0, 1, 0], [0, 0, 0], [0, 0, 0]], MINIMAL["ops"]),  # no path to the output
    "(0, 1, 2)",  # NASLib tuple of a wrong length
    "(" + ", ".join(["0"] * 49 + ["0", "9", "4", "4", "4", "4", "1"]) + ")",  # op id 9
]


def test_invalid_inputs_raise_validation_errors(fam) -> None:
    FamilyContract(fam).check_invalid_inputs(BAD)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (_spec(np.triu(np.ones((8, 8), dtype=int), 1).tolist(), ["input"] + [C3] * 6 + ["output"]), "matrix"),
        (_spec(np.triu(np.ones((6, 6), dtype=int), 1).tolist(), ["input"] + [C3] * 4 + ["output"]), "matrix"),
        (_spec([[0, 1, 1], [0, 0, 1], [1, 0, 0]], MINIMAL["ops"]), "matrix[2][0]"),
        (_spec([[0, 2, 1], [0, 0, 1], [0, 0, 0]], MINIMAL["ops"]), "matrix[0][1]"),
        (_spec(MINIMAL["matrix"], ["input", "conv5x5-bn-relu", "output"]), "ops[1]"),
        (_spec(MINIMAL["matrix"], ["output", C3, "output"]), "ops[0]"),
        (_spec(MINIMAL["matrix"], ["input", C3, C3]), "ops[2]"),
    ],
)
def test_validation_errors_name_the_field(fam, spec, field) -> None:
    with pytest.raises(ArchValidationError) as info:
        fam.from_json(spec)
    assert info.value.field == field and info.value.family == "nb101"


# ---------------------------------------------------------------------- search-space operations
def test_neighbors_and_mutation(fam) -> None:
    arch = fam.from_json(MINIMAL)
    nbrs = fam.neighbors(arch)
    hashes = {fam.canonical_hash(a) for a in nbrs}
    assert len(hashes) == len(nbrs) and fam.canonical_hash(arch) not in hashes
    assert fam.from_json({**MINIMAL, "ops": ["input", C1, "output"]}) in nbrs  # op change
    assert fam.from_json(_spec([[0, 1, 0], [0, 0, 1], [0, 0, 0]], MINIMAL["ops"])) in nbrs  # edge removed
    assert any(a.num_vertices == 4 for a in nbrs)  # vertex inserted
    # the cell with no interior vertex still has neighbours (inserted vertices)
    assert fam.neighbors(fam.from_json(ONLY_PROJECTION))
    rng = np.random.default_rng(0)
    for _ in range(20):
        arch = fam.mutate(arch, rng)
        fam.validate(arch)


def test_space_size_and_enumerate(fam) -> None:
    assert fam.size() == 423_624
    with pytest.raises(NotImplementedError, match="423,624"):
        fam.enumerate()


def test_configspace_sampling(fam) -> None:
    cs = fam.configspace(seed=1)
    assert len(list(cs.values())) == 26
    valid = 0
    for config in cs.sample_configuration(200):
        try:
            arch = fam.from_configuration(config)
        except ArchValidationError:
            continue
        fam.validate(arch)
        valid += 1
    assert 20 < valid < 200  # validity is checked on sampling, some configurations are rejected
    with pytest.raises(ArchValidationError):
        fam.from_configuration({"edge_0_1": True})
