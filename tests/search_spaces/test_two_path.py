"""Two-Path: network structure of GENNAPE's TF builder, sampler rules, encodings, space operations."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from gennape_naslib import search_spaces
from gennape_naslib.cg import from_torch
from gennape_naslib.search_spaces.two_path import ALL_BLOCKS, CONV_OPS, OPS, SUPP_OPS, TwoPathArch
from gennape_naslib.testing import FamilyContract

FAMILY = search_spaces.get("two_path")


def arch(path1, path2, r1=(0, 1), r2=(0, 1)) -> TwoPathArch:
    return FAMILY.from_json({"path1": path1, "path2": path2, "path1_reduce": list(r1), "path2_reduce": list(r2)})


def test_minimal_network_structure() -> None:
    a = arch([["conv3x3"], ["conv3x3"]], [["conv3x3"], ["conv3x3"]])
    cg = FAMILY.to_cg(a)
    # stem 2x(conv,bn,relu6) + 4 blocks x 3 + concat + post conv 3 + mean, identity (dropout), matmul + in/out
    assert cg.n_nodes == 6 + 12 + 1 + 3 + 3 + 2
    assert cg.op_counts() == Counter(
        {"conv": 7, "batchnorm": 7, "relu6": 7, "concat": 1, "mean": 1, "identity": 1, "matmul": 1}
    ) + Counter({"input": 1, "output": 1})
    assert not any(n.use_bias for n in cg.nodes if n.op == "conv")
    (concat,) = [n for n in cg.nodes if n.op == "concat"]
    assert concat.resolution == (4, 4, 4, 4, 128, 256)
    post = [n for n in cg.nodes if n.op == "conv"][-1]
    assert post.shape == (256, 512, 3, 3) and post.resolution == (4, 4, 4, 4, 256, 512)
    (dense,) = [n for n in cg.nodes if n.op == "matmul"]
    assert dense.resolution == (1, 1, 1, 1, 512, 10) and dense.use_bias
    stems = [n for n in cg.nodes if n.op == "conv"][:2]
    assert [s.resolution for s in stems] == [(32, 32, 32, 32, 3, 32), (32, 16, 32, 16, 32, 32)]


def test_residual_only_on_shape_keeping_blocks_and_first_conv_takes_the_stride() -> None:
    a = arch([["maxpool3x3", "conv5x5"], ["inception_s3x3"], ["bottleneck-r4-k3"]], [["conv3x3"], ["conv3x3"]], (0, 2))
    cg = FAMILY.to_cg(a)
    assert cg.op_counts()["add"] == 1  # only path1 block 1 keeps its shape
    (pool,) = [n for n in cg.nodes if n.op == "maxpool"]
    assert pool.resolution == (16, 16, 16, 16, 32, 32) and pool.strides == (1, 1)  # supp op before the conv
    convs = [n for n in cg.nodes if n.op == "conv"]
    conv5 = next(n for n in convs if n.shape[2:] == (5, 5))
    assert conv5.resolution == (16, 8, 16, 8, 32, 64)
    # inception_s3x3 in a stride-1 block: 1x3 then 3x1, each -> BN -> ReLU6
    assert [n.shape for n in convs if n.shape[2:] in ((1, 3), (3, 1))] == [(64, 64, 1, 3), (64, 64, 3, 1)]
    # bottleneck-r4-k3 (stride 2, 64 -> 16 -> 128), no activation in the TF version
    assert [(n.shape, n.resolution) for n in convs if n.shape in ((64, 16, 3, 3), (16, 128, 3, 3))] == [
        ((64, 16, 3, 3), (8, 4, 8, 4, 64, 16)),
        ((16, 128, 3, 3), (4, 4, 4, 4, 16, 128)),
    ]


def test_inception_s_strides_both_axes_and_double_keeps_c_in() -> None:
    cg = FAMILY.to_cg(arch([["inception_s5x5"], ["double3x3"]], [["conv3x3"], ["conv3x3"]]))
    convs = [n for n in cg.nodes if n.op == "conv"]
    assert convs[2].shape == (32, 64, 1, 5) and convs[2].resolution == (16, 8, 16, 8, 32, 64)
    assert convs[3].shape == (64, 64, 5, 1) and convs[3].resolution == (8, 8, 8, 8, 64, 64)
    assert convs[4].shape == (64, 64, 3, 3) and convs[4].resolution == (8, 4, 8, 4, 64, 64)  # double: C_in, stride
    assert convs[5].shape == (64, 128, 3, 3)


def test_every_op_matches_the_lowered_module() -> None:
    conv_blocks = [[op] for op in CONV_OPS]
    supp_blocks = [["conv3x3", op] for op in SUPP_OPS]
    a = arch(conv_blocks[:4], conv_blocks[4:], (1, 3), (0, 2))
    b = arch(supp_blocks[:4], supp_blocks[4:] + [["double3x3", "bottleneck-e2-k3", "conv5x5"]], (0, 2), (0, 1))
    for x in (a, b):
        fast, slow = FAMILY.to_cg(x), from_torch(FAMILY.to_module(x), (3, 32, 32))
        assert fast == slow, fast.diff(slow)
        assert FAMILY.params(x) == sum(p.numel() for p in FAMILY.to_module(x).parameters())


def test_random_samples_node_counts_near_gennape_range() -> None:
    # GENNAPE_FACTS Appendix A: random Two-Path samples have 59-72 nodes.
    rng = np.random.default_rng(2023)
    counts = sorted(FAMILY.to_cg(FAMILY.sample(rng)).n_nodes for _ in range(40))
    median = counts[len(counts) // 2]
    assert 59 <= median <= 72, counts
    assert 30 <= counts[0] and counts[-1] <= 130, counts


# The numbers come from running the GENNAPE authors' pipeline (their TF TwoPathNet frozen and read by
# their tf_comp_graph passes) on these configs: nodes, weighted nodes, edges, op counts, weight
# elements (product of the non-zero entries of every weight shape), weighted nodes with a bias, and
# the sums over nodes of H_in * W_in * C_in and of H_out * W_out * C_out (a resolution checksum).
# Together they hold all 13 ops, supp ops before and after the strided conv, and residual blocks.
GENNAPE_SAMPLES = [
    (
        {
            "path1": [
                ["conv3x3", "inception_s3x3", "maxpool3x3"],
                ["bottleneck-e2-k1", "bottleneck-r4-k3"],
                ["double3x3"],
                ["conv5x5", "avgpool3x3", "double3x3"],
            ],
            "path2": [
                ["bottleneck-r2-k3"],
                ["bottleneck-r2-k3", "bottleneck-e2-k3"],
                ["inception_s5x5", "bottleneck-r2-k1", "bottleneck-r4-k3"],
                ["maxpool3x3", "bottleneck-r4-k3", "conv3x3"],
            ],
            "path1_reduce": [2, 3],
            "path2_reduce": [1, 3],
        },
        (90, 31, 94),
        {"add": 4, "avgpool": 1, "batchnorm": 33, "concat": 1, "conv": 30, "maxpool": 2, "relu6": 14},
        2155360,
        (519690, 510484),
    ),
    (
        {
            "path1": [["maxpool3x3", "inception_s3x3"], ["conv5x5", "conv5x5", "double3x3"], ["conv3x3", "conv3x3"]],
            "path2": [["conv1x1", "inception_s3x3"], ["double3x3", "bottleneck-r2-k1", "inception_s5x5"]],
            "path1_reduce": [0, 1],
            "path2_reduce": [0, 1],
        },
        (67, 21, 68),
        {"add": 1, "batchnorm": 21, "concat": 1, "conv": 20, "maxpool": 1, "relu6": 18},
        2727776,
        (321546, 312340),
    ),
]


@pytest.mark.parametrize(("config", "counts", "ops", "weights", "act"), GENNAPE_SAMPLES)
def test_samples_match_gennape_pipeline(config, counts, ops, weights, act) -> None:
    cg = FAMILY.to_cg(FAMILY.from_json(config))
    assert (cg.n_nodes, cg.n_weighted, cg.n_edges) == counts
    head = {"input": 1, "mean": 1, "identity": 1, "matmul": 1, "output": 1}
    assert cg.op_counts() == Counter(ops) + Counter(head)
    assert sum(int(np.prod([v for v in n.shape if v])) for n in cg.nodes if n.weighted) == weights
    assert [n.op for n in cg.nodes if n.use_bias] == ["matmul"]  # only the dense layer has a bias
    assert sum(n.resolution[0] * n.resolution[2] * n.resolution[4] for n in cg.nodes) == act[0]
    assert sum(n.resolution[1] * n.resolution[3] * n.resolution[5] for n in cg.nodes) == act[1]


def test_sampler_follows_gennape_rules() -> None:
    rng = np.random.default_rng(0)
    lengths, n_ops, first_supp = Counter(), Counter(), 0
    for _ in range(400):
        a = FAMILY.sample(rng)
        for path, reduce in ((a.path1, a.path1_reduce), (a.path2, a.path2_reduce)):
            lengths[len(path)] += 1
            assert len(reduce) == 2 and reduce[0] < reduce[1] < len(path)
            for ops in path:
                n_ops[len(ops)] += 1
                assert sum(op in SUPP_OPS for op in ops) <= 1 and any(op in CONV_OPS for op in ops)
                first_supp += ops[0] in SUPP_OPS
    assert set(lengths) == {2, 3, 4} and all(200 < v < 340 for v in lengths.values())  # 267 expected each
    total = sum(n_ops.values())
    assert all(abs(n_ops[k] / total - 1 / 3) < 0.05 for k in (1, 2, 3))
    assert first_supp > 0  # ops are shuffled after drawing a conv op first


def test_block_space_has_1624_members() -> None:
    assert len(ALL_BLOCKS) == 1624 == len(set(ALL_BLOCKS))
    per_path = sum(1624**n * math.comb(n, 2) for n in (2, 3, 4))
    assert FAMILY.size() == per_path**2
    assert 1.7e27 < FAMILY.size() < 1.8e27


def test_canonical_hash_ignores_path_order() -> None:
    a = arch([["conv3x3"], ["double3x3"], ["conv5x5"]], [["conv3x3", "maxpool3x3"], ["conv5x5"]], (0, 2), (0, 1))
    swapped = TwoPathArch(a.path2, a.path1, a.path2_reduce, a.path1_reduce)
    assert FAMILY.canonical_hash(a) == FAMILY.canonical_hash(swapped)
    assert FAMILY.to_cg(a) == FAMILY.to_cg(swapped)
    assert FAMILY.canonical_hash(a) != FAMILY.canonical_hash(TwoPathArch(a.path1, a.path2, (1, 2), a.path2_reduce))


def test_gennape_state_dict_form_and_reduce_order() -> None:
    gennape = {
        "path1": [{"op_names": ["conv3x3", "conv1x1"], "op_types": ["conv", "supp"]}, {"op_names": ["conv5x5"]}],
        "path2": [["inception_s3x3"], ["double3x3"], ["conv3x3"]],
        "path1_reduce_inds": [1, 0],
        "path2_reduce_inds": [2, 0],
    }
    a = FAMILY.from_json(gennape)
    assert a.path1 == (("conv3x3", "conv1x1"), ("conv5x5",)) and a.path1_reduce == (0, 1) and a.path2_reduce == (0, 2)
    assert FAMILY.to_json(a)["path2_reduce"] == [0, 2]


def test_invalid_inputs() -> None:
    good = {"path1": [["conv3x3"], ["conv3x3"]], "path2": [["conv3x3"], ["conv3x3"]]}
    ok = {**good, "path1_reduce": [0, 1], "path2_reduce": [0, 1]}
    FamilyContract(FAMILY).check_invalid_inputs(
        [
            None,
            [],
            "not json",
            {**ok, "path1": [["conv3x3"]], "path1_reduce": [0, 0]},  # one block
            {**ok, "path1": [["conv3x3"]] * 5},  # five blocks
            {**ok, "path1": [["conv3x3"], ["conv7x7"]]},  # unknown op
            {**ok, "path1": [["conv3x3"], []]},  # empty block
            {**ok, "path1": [["conv3x3"], ["conv3x3"] * 4]},  # four ops
            {**ok, "path1": [["conv3x3"], ["maxpool3x3"]]},  # no conv op
            {**ok, "path1": [["conv3x3"], ["conv3x3", "maxpool3x3", "conv1x1"]]},  # two supp ops
            {**ok, "path1": [["conv3x3"], "conv3x3"]},
            {**ok, "path1": "conv3x3"},
            {**ok, "path1": [["conv3x3"], [3]]},
            {**ok, "path1_reduce": [0]},
            {**ok, "path1_reduce": [1, 1]},
            {**ok, "path1_reduce": [0, 2]},  # out of range
            {**ok, "path1_reduce": [0, -1]},
            {**ok, "path1_reduce": [0, True]},
            {**ok, "path1_reduce": [0, 1.0]},
            {**ok, "path1_reduce": "0,1"},
            good,  # missing reductions
            {**ok, "extra": 1},
            {**ok, "path1": [{"op_names": ["conv3x3"], "op_types": ["supp"]}, ["conv3x3"]]},
            TwoPathArch((("conv3x3",),) * 2, (("conv3x3",),) * 2, (1, 0), (0, 1)),
        ]
    )


def test_neighbors_are_single_changes() -> None:
    a = FAMILY.example()
    nbrs = FAMILY.neighbors(a)
    assert len(nbrs) == len(set(nbrs)) > 100
    for n in nbrs:
        FAMILY.validate(n)
        changed = [n.path1 != a.path1, n.path2 != a.path2, n.path1_reduce != a.path1_reduce]
        changed.append(n.path2_reduce != a.path2_reduce)
        assert sum(changed) == 1


@pytest.mark.parametrize("seed", [0, 1])
def test_configspace_samples_are_valid(seed: int) -> None:
    cs = FAMILY.configspace()
    cs.seed(seed)
    for config in cs.sample_configuration(8):
        a = FAMILY.from_configuration(config)
        FAMILY.validate(a)
        assert len(a.path1) == config["path1_len"]


def test_op_lists_cover_gennape_constants() -> None:
    assert len(CONV_OPS) == 8 and len(SUPP_OPS) == 5 and len(OPS) == 13


def test_gennape_text_form() -> None:
    text = (
        "Path1:[SPBlock(conv3x3+maxpool3x3;conv+supp), SPBlock(double3x3;conv)]\n"
        "Path1ReduceInds:[0, 1]\n"
        "Path2:[SPBlock(inception_s5x5;conv), SPBlock(conv1x1+bottleneck-r2-k3;supp+conv), SPBlock(conv5x5;conv)]\n"
        "Path2ReduceInds:[0, 2]\n"
    )
    a = FAMILY.from_str(text)
    assert a == arch(
        [["conv3x3", "maxpool3x3"], ["double3x3"]],
        [["inception_s5x5"], ["conv1x1", "bottleneck-r2-k3"], ["conv5x5"]],
        (0, 1),
        (0, 2),
    )
    FamilyContract(FAMILY).check_invalid_inputs(
        [text.replace("conv+supp", "conv+conv"), text.replace("[0, 2]", "[0, x]"), "Path1:[SPBlock(conv3x3;conv)]"]
    )
