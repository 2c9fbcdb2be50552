"""HiAML: GENNAPE CG fidelity (Appendix A and B of GENNAPE_FACTS), encodings, space operations."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from gennape_naslib import search_spaces
from gennape_naslib.cg import from_torch
from gennape_naslib.cg.vocab import OP_INDEX
from gennape_naslib.search_spaces.hiaml import BLOCKS, HiAMLArch
from gennape_naslib.testing import FamilyContract

FAMILY = search_spaces.get("hiaml")

# GENNAPE_FACTS Appendix A: [block]*4 at 32x32 -> nodes (weighted/regular), edges, op counts.
APPENDIX_A = {
    "hiaml_a22": (87, 26, 61, 94, {"add": 8, "batchnorm": 25, "conv": 25, "relu": 25}),
    "hiaml_z": (95, 26, 69, 102, {"add": 8, "batchnorm": 25, "conv": 25, "relu": 17, "relu6": 16}),
    "hiaml_b23": (123, 36, 87, 130, {"add": 8, "batchnorm": 35, "conv": 35, "relu": 9, "relu6": 32}),
    "hiaml_j30": (99, 28, 71, 106, {"add": 8, "batchnorm": 27, "conv": 27, "relu": 17, "relu6": 16}),
    "hiaml_g30": (147, 44, 103, 162, {"add": 16, "batchnorm": 43, "conv": 43, "relu": 9, "relu6": 32}),
    "hiaml_r30": (159, 46, 113, 182, {"add": 24, "batchnorm": 45, "conv": 45, "relu": 9, "relu6": 32}),
    "hiaml_l20": (55, 18, 37, 54, {"batchnorm": 17, "conv": 17, "relu": 17}),
    "hiaml_t20": (87, 26, 61, 94, {"add": 8, "batchnorm": 25, "conv": 25, "relu": 9, "relu6": 16}),
    "hiaml_t31": (167, 46, 121, 190, {"add": 24, "batchnorm": 45, "conv": 45, "relu": 17, "relu6": 32}),
    "hiaml_src0": (87, 26, 61, 94, {"add": 8, "batchnorm": 25, "conv": 25, "relu": 25}),
    "hiaml_src1": (87, 26, 61, 94, {"add": 8, "batchnorm": 25, "conv": 25, "relu": 25}),
    "hiaml_src3": (103, 34, 69, 110, {"add": 8, "batchnorm": 33, "conv": 33, "relu": 25}),
    "hiaml_src7": (135, 42, 93, 142, {"add": 8, "batchnorm": 41, "conv": 41, "relu": 9, "relu6": 32}),
    "hiaml_src8": (103, 34, 69, 110, {"add": 8, "batchnorm": 33, "conv": 33, "relu": 9, "relu6": 16}),
}
NORM = (256, 256, 256, 256, 512, 512)  # GENNAPE's classification-domain maxima (H, H, W, W, C, C)


def test_appendix_a_lists_all_14_blocks() -> None:
    assert sorted(APPENDIX_A) == sorted(BLOCKS)


@pytest.mark.parametrize("block", sorted(APPENDIX_A))
def test_appendix_a_counts(block: str) -> None:
    n, n_w, n_r, n_e, ops = APPENDIX_A[block]
    cg = FAMILY.to_cg(FAMILY.from_json([block] * 4))
    assert (cg.n_nodes, cg.n_weighted, cg.n_nodes - cg.n_weighted, cg.n_edges) == (n, n_w, n_r, n_e)
    expected = Counter(ops) + Counter({"input": 1, "mean": 1, "matmul": 1, "output": 1})
    assert cg.op_counts() == expected
    (dense,) = [node for node in cg.nodes if node.op == "matmul"]
    assert dense.use_bias
    stem = next(node for node in cg.nodes if node.op == "conv")
    assert stem.resolution == (32, 16, 32, 16, 3, 64)


def test_appendix_b_feature_facts() -> None:
    cg = FAMILY.to_cg(FAMILY.from_json(["hiaml_l20"] * 4))
    first = cg.nodes[0]
    assert first.op == "input" and first.resolution == (32, 32, 32, 32, 3, 3)
    assert [r / m for r, m in zip(first.resolution, NORM)] == [0.125] * 4 + [0.005859375] * 2
    weighted = [node for node in cg.nodes if node.weighted]
    regular = [node for node in cg.nodes if not node.weighted]
    stem = weighted[0]
    assert (stem.op, stem.resolution, stem.shape, stem.use_bias) == (
        "conv",
        (32, 16, 32, 16, 3, 64),
        (3, 64, 3, 3),
        False,
    )
    assert stem.kernel == (3, 3) and stem.strides == (2, 2)
    dense = weighted[-1]
    assert (dense.op, dense.resolution, dense.shape, dense.use_bias) == (
        "matmul",
        (1, 1, 1, 1, 256, 10),
        (256, 10, 0, 0),
        True,
    )
    assert [r / m for r, m in zip(dense.resolution, NORM)] == [0.00390625] * 4 + [0.5, 0.01953125]
    (mean,) = [node for node in cg.nodes if node.op == "mean"]
    assert mean.resolution == (4, 1, 4, 1, 256, 256)
    assert [r / m for r, m in zip(mean.resolution, NORM)] == [0.015625, 0.00390625, 0.015625, 0.00390625, 0.5, 0.5]
    # Regular op indices start input, bn, relu, bn, relu and end relu, mean, output.
    reg_ops = [OP_INDEX[node.op] for node in regular]
    assert reg_ops[:5] == [1, 5, 6, 5, 6] and reg_ops[-3:] == [6, 19, 2]
    # In GENNAPE's weighted-first order, weighted conv i feeds the BN at index 19, 21, 23, ...
    order = [i for i, node in enumerate(cg.nodes) if node.weighted] + [
        i for i, node in enumerate(cg.nodes) if not node.weighted
    ]
    new = {old: k for k, old in enumerate(order)}
    edges = sorted((new[s], new[d]) for s, d in cg.edges)
    assert edges[:3] == [(0, 19), (1, 21), (2, 23)]
    assert len(weighted) == 18


# Mixed-block networks (Appendix A only has [block]*4). The numbers come from running the GENNAPE
# authors' pipeline (their TF HiAMLNet frozen and read by their tf_comp_graph passes) on these
# configs: nodes, weighted nodes, edges, op counts, weight elements (product of the non-zero
# entries of every weight shape), weighted nodes with a bias, and the sums over nodes of
# H_in * W_in * C_in and of H_out * W_out * C_out (a checksum of the resolutions).
GENNAPE_MIXED = [
    (
        ["hiaml_src3", "hiaml_t31", "hiaml_t20", "hiaml_j30"],
        (117, 35, 128),
        {"add": 12, "batchnorm": 34, "conv": 34, "relu": 17, "relu6": 16},
        2453696,
        1,
        (1075466, 1051924),
    ),
    (
        ["hiaml_r30", "hiaml_src7", "hiaml_src8", "hiaml_g30"],
        (135, 41, 148),
        {"add": 14, "batchnorm": 40, "conv": 40, "relu": 9, "relu6": 28},
        2429120,
        1,
        (1255690, 1248532),
    ),
]


@pytest.mark.parametrize(("blocks", "counts", "ops", "weights", "n_bias", "act"), GENNAPE_MIXED)
def test_mixed_blocks_match_gennape_pipeline(blocks, counts, ops, weights, n_bias, act) -> None:
    cg = FAMILY.to_cg(FAMILY.from_json(blocks))
    assert (cg.n_nodes, cg.n_weighted, cg.n_edges) == counts
    assert cg.op_counts() == Counter(ops) + Counter({"input": 1, "mean": 1, "matmul": 1, "output": 1})
    assert sum(int(np.prod([v for v in n.shape if v])) for n in cg.nodes if n.weighted) == weights
    assert sum(n.use_bias for n in cg.nodes if n.weighted) == n_bias
    assert sum(n.resolution[0] * n.resolution[2] * n.resolution[4] for n in cg.nodes) == act[0]
    assert sum(n.resolution[1] * n.resolution[3] * n.resolution[5] for n in cg.nodes) == act[1]


def test_cg_equals_lowered_module_for_every_block() -> None:
    # Each block appears in a reduction stage (1 or 3) and in a normal stage (0 or 2).
    archs = [BLOCKS[i : i + 4] for i in range(0, 12, 4)] + [BLOCKS[12:14] + BLOCKS[0:2]]
    archs += [a[1:] + a[:1] for a in archs]
    for blocks in archs[:4]:
        arch = HiAMLArch(tuple(blocks))
        fast, slow = FAMILY.to_cg(arch), from_torch(FAMILY.to_module(arch), (3, 32, 32))
        assert fast == slow, f"{FAMILY.to_str(arch)}:\n{fast.diff(slow)}"


@pytest.mark.slow
def test_cg_equals_lowered_module_all_blocks_both_strides() -> None:
    archs = [BLOCKS[i : i + 4] for i in range(0, 12, 4)] + [BLOCKS[12:14] + BLOCKS[0:2]]
    for blocks in [a[1:] + a[:1] for a in archs]:
        arch = HiAMLArch(tuple(blocks))
        assert FAMILY.to_cg(arch) == from_torch(FAMILY.to_module(arch), (3, 32, 32))


def test_module_forward_and_num_classes() -> None:
    import torch

    net = FAMILY.to_module(FAMILY.example(), num_classes=7).eval()
    with torch.no_grad():
        out = net(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 7)
    assert FAMILY.params(FAMILY.example()) == sum(p.numel() for p in FAMILY.to_module(FAMILY.example()).parameters())


def test_activations_follow_the_tf_blocks() -> None:
    import torch.nn as nn

    net = FAMILY.to_module(FAMILY.from_json(["hiaml_z"] * 4))
    kinds = Counter(type(m).__name__ for m in net.modules() if isinstance(m, (nn.ReLU, nn.ReLU6)))
    assert kinds == {"ReLU": 17, "ReLU6": 16}


def test_text_forms() -> None:
    arch = FAMILY.from_str("a22-z-b23-src0")
    assert arch == FAMILY.from_json(["hiaml_a22", "hiaml_z", "hiaml_b23", "hiaml_src0"])
    assert FAMILY.to_str(arch) == "a22-z-b23-src0"
    assert FAMILY.from_str('["hiaml_a22", "hiaml_z", "hiaml_b23", "hiaml_src0"]') == arch
    assert FAMILY.from_str("hiaml_a22-hiaml_z-hiaml_b23-hiaml_src0") == arch
    assert FAMILY.from_str("HiAMLNet_a22_z_b23_src0") == arch
    assert FAMILY.from_str(FAMILY.to_cg(arch).name) == arch
    assert FAMILY.to_json(arch) == ["hiaml_a22", "hiaml_z", "hiaml_b23", "hiaml_src0"]


def test_invalid_inputs() -> None:
    FamilyContract(FAMILY).check_invalid_inputs(
        [
            ["hiaml_a22"] * 3,
            ["hiaml_a22"] * 5,
            [],
            ["hiaml_a22", "hiaml_z", "hiaml_b23", "hiaml_x"],
            ["hiaml_a22", "hiaml_z", "hiaml_b23", 4],
            [None] * 4,
            {"blocks": ["hiaml_a22"] * 4},
            None,
            42,
            "a22-z-b23",
            "a22-z-b23-src0-src1",
            "a22-z-b23-nope",
            "[1, 2, 3, 4]",
            "[not json",
            "HiAMLNet_a22_z_b23",
            HiAMLArch(("hiaml_a22",) * 3),
            HiAMLArch(("hiaml_a22", "hiaml_z", "hiaml_b23", "bogus")),
        ]
    )


def test_enumerate_and_size() -> None:
    archs = list(FAMILY.enumerate())
    assert FAMILY.size() == len(archs) == 38_416 == len(set(archs))
    assert archs[0].blocks == ("hiaml_z",) * 4 and archs[-1].blocks == ("hiaml_src8",) * 4


def test_sampler_is_uniform_per_stage() -> None:
    rng = np.random.default_rng(0)
    counts = Counter(b for _ in range(1400) for b in FAMILY.sample(rng).blocks)
    assert set(counts) == set(BLOCKS)
    assert all(250 < c < 550 for c in counts.values())  # 400 expected per block


def test_neighbors_change_one_stage() -> None:
    arch = FAMILY.example()
    nbrs = FAMILY.neighbors(arch)
    assert len(nbrs) == 52 == len(set(nbrs))
    assert all(sum(a != b for a, b in zip(n.blocks, arch.blocks)) == 1 for n in nbrs)


def test_configspace_samples_are_valid() -> None:
    cs = FAMILY.configspace()
    cs.seed(1)
    assert len(list(cs.values())) == 4
    for config in cs.sample_configuration(10):
        arch = FAMILY.from_configuration(config)
        FAMILY.validate(arch)
        assert FAMILY.to_json(arch) == [config[f"stage{i}"] for i in range(4)]


def test_flops_and_params_by_hand() -> None:
    arch = FAMILY.from_json(["hiaml_l20"] * 4)
    # l20 = conv3x3 -> BN -> ReLU -> conv1x1 -> BN -> ReLU; widths 64, 128, 128, 256 at 16, 8, 8, 4 pixels.
    flops = 2 * (
        16 * 16 * 3 * 64 * 9  # stem
        + 2 * 16 * 16 * (64 * 64 * 9 + 64 * 64)  # stage 0
        + 8 * 8 * (64 * 128 * 9 + 128 * 128)
        + 8 * 8 * (128 * 128 * 9 + 128 * 128)  # stage 1
        + 2 * 8 * 8 * (128 * 128 * 9 + 128 * 128)  # stage 2
        + 4 * 4 * (128 * 256 * 9 + 256 * 256)
        + 4 * 4 * (256 * 256 * 9 + 256 * 256)  # stage 3
        + 256 * 10  # dense
    )
    assert FAMILY.flops(arch) == flops == 149_787_648
    bn = 2 * (64 + 4 * 64 + 4 * 128 + 4 * 128 + 4 * 256)
    weights = 3 * 64 * 9 + 2 * (64 * 64 * 10) + 64 * 128 * 9 + 128 * 128 + 3 * (128 * 128 * 10)
    weights += 128 * 256 * 9 + 256 * 256 + 256 * 256 * 10 + 256 * 10 + 10
    assert FAMILY.params(arch) == bn + weights == 1_688_394
