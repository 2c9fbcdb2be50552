"""Inception: network structure of GENNAPE's TF builder, sampler rules, encodings, space operations."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from gennape_naslib import search_spaces
from gennape_naslib.cg import from_torch
from gennape_naslib.search_spaces import _inception_net as net
from gennape_naslib.search_spaces.inception import CONV_OPS, SUPP_OPS, InceptionArch, InceptionPath, InceptionStage
from gennape_naslib.testing import FamilyContract

FAMILY = search_spaces.get("inception")
SKELETON = [(32, 32, 1), (32, 64, 2), (64, 128, 2), (128, 256, 2)]


def make(stage_paths, n_blocks=(2, 2, 2, 2)) -> InceptionArch:
    """An architecture from per-stage lists of (ops, c_internal, c_out)."""
    stages = []
    for (c_in, c_out, stride), paths, n in zip(SKELETON, stage_paths, n_blocks):
        stages.append(
            {
                "n_blocks": n,
                "c_in": c_in,
                "c_out": c_out,
                "stride": stride,
                "paths": [{"ops": list(ops), "c_internal": ci, "c_out": co} for ops, ci, co in paths],
            }
        )
    return FAMILY.from_json({"stages": stages})


def single(op: str) -> list:
    return [[([op], c, c)] for _, c, _ in SKELETON]


def test_minimal_network_structure() -> None:
    cg = FAMILY.to_cg(make(single("conv3x3")))
    # stage 0: 2 residual blocks (conv, bn, relu6, add); stages 1-3: a reducing block (3) + a residual one (4)
    assert cg.n_nodes == 3 + 8 + 3 * 7 + 3 + 3 + 2
    assert cg.op_counts()["add"] == 5 and cg.op_counts()["identity"] == 1
    assert all(n.use_bias for n in cg.nodes if n.weighted)  # TF InceptionNet: every conv has a bias
    convs = [n for n in cg.nodes if n.op == "conv"]
    assert convs[0].resolution == (32, 32, 32, 32, 3, 32)
    assert [n.resolution for n in convs if n.strides == (2, 2)] == [
        (32, 16, 32, 16, 32, 64),
        (16, 8, 16, 8, 64, 128),
        (8, 4, 8, 4, 128, 256),
    ]
    assert convs[-1].shape == (256, 512, 3, 3)
    (dense,) = [n for n in cg.nodes if n.op == "matmul"]
    assert dense.resolution == (1, 1, 1, 1, 512, 10)


def test_projection_when_path_widths_do_not_sum() -> None:
    # stage 0 with 3 paths: split [16, 8, 8] is floored to [16, 16, 16] -> 48 channels -> conv1x1 projection
    three = [(["conv3x3", "conv3x3"], 16, 16)] * 3  # 3 paths: at least 2 ops each
    stages = [three] + single("conv3x3")[1:]
    cg = FAMILY.to_cg(make(stages))
    projections = [n for n in cg.nodes if n.op == "conv" and n.shape == (48, 32, 1, 1)]
    assert len(projections) == 2 and all(p.use_bias for p in projections)
    concat = [n for n in cg.nodes if n.op == "concat"]
    assert len(concat) == 2 and concat[0].resolution == (32, 32, 32, 32, 16, 48)


def test_channel_plan_of_a_path() -> None:
    # conv1x1 (first channel changer) -> c_internal; conv3x3 (first conv, last changer) -> c_out with the stride
    stages = single("conv3x3")
    stages[1] = [(["conv1x1", "conv3x3"], 128, 64)]
    cg = FAMILY.to_cg(make(stages))
    convs = [n for n in cg.nodes if n.op == "conv"]
    assert (32, 128, 1, 1) in [c.shape for c in convs]
    assert [c.resolution for c in convs if c.shape == (128, 64, 3, 3)] == [
        (32, 16, 32, 16, 128, 64),  # first block of the stage: stride 2
        (16, 16, 16, 16, 128, 64),
    ]


def test_depthwise_and_inception_p_ops() -> None:
    stages = single("depthwise5x5")
    stages[2] = [(["inception_p3x3"], 128, 128)]
    cg = FAMILY.to_cg(make(stages))
    dw = [n for n in cg.nodes if n.op == "depthwise"]
    assert {n.shape for n in dw} == {(32, 1, 5, 5), (64, 1, 5, 5), (256, 1, 5, 5)} and all(n.use_bias for n in dw)
    adapters = [n for n in cg.nodes if n.op == "conv" and n.shape in ((32, 64, 1, 1), (128, 256, 1, 1))]
    assert len(adapters) == 2 and not any(n.use_bias for n in adapters)  # width change: conv1x1, no bias/BN
    # inception_p3x3: stride 2 -> two branches of two convs; stride 1 -> two single convs
    p_convs = [n for n in cg.nodes if n.op == "conv" and n.shape[2:] in ((1, 3), (3, 1))]
    assert [(n.shape, n.strides) for n in p_convs[:4]] == [
        ((64, 64, 1, 3), (1, 2)),
        ((64, 64, 3, 1), (2, 1)),
        ((64, 64, 3, 1), (2, 1)),
        ((64, 64, 1, 3), (1, 2)),
    ]
    assert [n.shape for n in p_convs[4:]] == [(128, 64, 1, 3), (128, 64, 3, 1)]


def test_every_op_matches_the_lowered_module() -> None:
    stages_a = [
        [(["inception_s3x3", "maxpool3x3"], 16, 16), (["double1x1", "conv5x5"], 32, 16)],
        [(["inception_p5x5", "avgpool3x3"], 32, 32), (["depthwise3x3", "conv1x1"], 16, 32)],
        [(["inception_p3x3"], 128, 128)],
        [(["conv1x1", "inception_s5x5"], 512, 256)],
    ]
    stages_b = [
        [(["depthwise5x5"], 32, 32)],
        [(["conv1x1", "depthwise3x3"], 16, 32), (["avgpool3x3", "inception_s3x3"], 32, 32)],
        [(["maxpool3x3", "inception_p5x5"], 64, 64), (["double1x1", "conv3x3"], 64, 64)],
        [
            (["conv5x5", "maxpool3x3"], 64, 64),
            (["conv3x3", "conv3x3"], 32, 64),
            (["conv3x3", "double1x1"], 128, 64),
            (["depthwise5x5", "conv3x3"], 64, 64),
        ],
    ]
    for a in (make(stages_a, (2, 3, 2, 2)), make(stages_b)):
        fast, slow = FAMILY.to_cg(a), from_torch(FAMILY.to_module(a), (3, 32, 32))
        assert fast == slow, fast.diff(slow)
        assert FAMILY.params(a) == sum(p.numel() for p in FAMILY.to_module(a).parameters())


# The numbers come from running the GENNAPE authors' pipeline (their TF InceptionNet frozen and read
# by their tf_comp_graph passes) on these two sampled networks (all 12 ops, 1-4 paths, projections,
# an expanded c_internal, depthwise width adapters, stride-2 inception_p): nodes, weighted nodes,
# edges, op counts, weight elements (product of the non-zero entries of every weight shape) and
# weighted nodes with a bias (all but the depthwise 1x1 adapters), and the sums over nodes of
# H_in * W_in * C_in and of H_out * W_out * C_out (a checksum of the resolutions).
GENNAPE_SAMPLES = [
    (
        [
            [(["conv1x1", "conv3x3"], 32, 16), (["conv5x5", "depthwise5x5", "conv5x5"], 16, 16)]
            + [(["inception_s5x5", "double1x1"], 16, 16)],
            [(["avgpool3x3", "depthwise3x3"], 16, 16), (["conv3x3", "depthwise5x5"], 16, 16)]
            + [(["inception_p5x5", "depthwise3x3", "inception_p5x5"], 16, 16)]
            + [(["depthwise3x3", "inception_p5x5", "inception_s3x3"], 16, 16)],
            [(["maxpool3x3", "conv5x5", "inception_p3x3"], 128, 128)],
            [(["inception_s3x3"], 128, 128), (["inception_s5x5", "conv5x5", "avgpool3x3"], 128, 128)],
        ],
        (6, 2, 4, 3),
        (393, 122, 435),
        {"add": 12, "avgpool": 5, "batchnorm": 126, "concat": 21, "conv": 107, "depthwise": 14, "maxpool": 4},
        (99, 5315008, 118),
        (5311498, 4909076),
    ),
    (
        [
            [(["inception_s5x5"], 32, 32)],
            [(["depthwise5x5"], 64, 64)],
            [(["depthwise5x5", "inception_p5x5", "conv3x3"], 64, 64), (["inception_p5x5"], 64, 64)],
            [(["inception_s5x5", "inception_s5x5", "depthwise3x3", "double1x1"], 64, 64)]
            + [(["inception_s3x3", "depthwise5x5"], 64, 64), (["inception_p3x3", "maxpool3x3"], 64, 64)]
            + [(["conv5x5", "maxpool3x3"], 64, 64)],
        ],
        (2, 2, 2, 3),
        (215, 66, 238),
        {"add": 6, "batchnorm": 69, "concat": 12, "conv": 55, "depthwise": 10, "maxpool": 6},
        (52, 3142112, 64),
        (1181194, 1082388),
    ),
]


@pytest.mark.parametrize(("stage_paths", "n_blocks", "counts", "ops", "extra", "act"), GENNAPE_SAMPLES)
def test_samples_match_gennape_pipeline(stage_paths, n_blocks, counts, ops, extra, act) -> None:
    cg = FAMILY.to_cg(make(stage_paths, n_blocks))
    assert (cg.n_nodes, cg.n_weighted, cg.n_edges) == counts
    n_relu6, weights, n_bias = extra
    rest = {"input": 1, "relu6": n_relu6, "mean": 1, "identity": 1, "matmul": 1, "output": 1}
    assert cg.op_counts() == Counter(ops) + Counter(rest)
    assert sum(int(np.prod([v for v in n.shape if v])) for n in cg.nodes if n.weighted) == weights
    assert sum(n.use_bias for n in cg.nodes if n.weighted) == n_bias
    assert sum(n.resolution[0] * n.resolution[2] * n.resolution[4] for n in cg.nodes) == act[0]
    assert sum(n.resolution[1] * n.resolution[3] * n.resolution[5] for n in cg.nodes) == act[1]


def test_random_samples_node_counts_near_gennape_range() -> None:
    # GENNAPE_FACTS Appendix A: random Inception samples have 456-571 nodes.
    rng = np.random.default_rng(2023)
    counts = sorted(FAMILY.to_cg(FAMILY.sample(rng)).n_nodes for _ in range(30))
    median = counts[len(counts) // 2]
    assert 400 <= median <= 620, counts
    assert 100 <= counts[0] and counts[-1] <= 1100, counts


def test_sampler_follows_gennape_rules() -> None:
    rng = np.random.default_rng(0)
    n_paths, n_blocks = Counter(), Counter()
    for _ in range(200):
        a = FAMILY.sample(rng)
        assert [(s.c_in, s.c_out, s.stride) for s in a.stages] == SKELETON
        for s in a.stages:
            n_blocks[s.n_blocks] += 1
            n_paths[len(s.paths)] += 1
            assert sorted(p.c_out for p in s.paths) == sorted(net.path_channels(s.c_out, len(s.paths)))
            assert sum(len(p.ops) for p in s.paths) <= net.MAX_BLOCK_OPS[len(s.paths)]
            for p in s.paths:
                assert len(p.ops) >= net.MIN_PATH_OPS[len(s.paths)]
                assert sum(op in SUPP_OPS for op in p.ops) <= 1 and any(op in CONV_OPS for op in p.ops)
                assert p.c_internal in net.c_internal_options(p.ops, p.c_out)
    assert set(n_blocks) == {2, 3, 4, 5, 6} and set(n_paths) == {1, 2, 3, 4}
    assert all(150 < v < 250 for v in n_paths.values())  # 800 stages: 200 expected each


def test_path_count_formula_matches_brute_force() -> None:
    for c in (16, 32, 64):
        for n_ops in (1, 2, 3):
            brute = 0
            for ops in itertools.product(net.OPS, repeat=n_ops):
                n_supp = sum(op in SUPP_OPS for op in ops)
                if n_supp <= 1 and n_supp < n_ops:
                    brute += len(net.c_internal_options(ops, c))
            assert net._path_count(n_ops, c) == brute, (c, n_ops)
    assert FAMILY.size() > 10**50


def test_gennape_state_dict_form() -> None:
    a = FAMILY.sample(5)
    sd = {
        "stages": [
            {
                "block": {
                    "paths": [
                        {
                            "ops": list(p.ops),
                            "op_types": ["conv" if op in CONV_OPS else "supp" for op in p.ops],
                            "C_internal": p.c_internal,
                            "C_out": p.c_out,
                        }
                        for p in s.paths
                    ]
                },
                "n_blocks": s.n_blocks,
                "C_in": s.c_in,
                "C_out": s.c_out,
                "stride": s.stride,
            }
            for s in a.stages
        ]
    }
    assert FAMILY.from_json(sd) == a


def test_invalid_inputs() -> None:
    good = FAMILY.to_json(make(single("conv3x3")))

    def edit(fn) -> dict:
        obj = FAMILY.to_json(make(single("conv3x3")))
        fn(obj)
        return obj

    def set_path(si: int, **kw):
        return lambda o: o["stages"][si]["paths"][0].update(kw)

    def set_stage(si: int, **kw):
        return lambda o: o["stages"][si].update(kw)

    FamilyContract(FAMILY).check_invalid_inputs(
        [
            None,
            [],
            {"stages": "x"},
            {"stages": good["stages"][:3]},
            edit(set_stage(1, c_in=64)),
            edit(set_stage(1, stride=1)),
            edit(set_stage(0, c_out=48)),
            edit(set_stage(2, n_blocks=1)),
            edit(set_stage(2, n_blocks=7)),
            edit(set_stage(2, n_blocks="3")),
            edit(set_stage(2, paths=[])),
            edit(set_stage(2, paths="conv3x3")),
            edit(set_path(1, ops=["conv7x7"])),
            edit(set_path(1, ops=["maxpool3x3"])),
            edit(set_path(1, ops=["conv3x3", "conv1x1", "maxpool3x3"])),
            edit(set_path(1, ops=["conv3x3"] * 4)),  # 1 path holds at most 3 ops
            edit(set_path(1, ops=[])),
            edit(set_path(1, c_out=32)),  # width split of a 64-wide block with one path is [64]
            edit(set_path(1, c_internal=32)),  # a single conv cannot change the internal width
            edit(set_path(1, ops=["conv3x3", "conv3x3"], c_internal=48)),  # not half/same/double
            edit(set_path(1, c_internal=64.0)),
            edit(lambda o: o["stages"][1]["paths"][0].pop("c_out")),
            edit(lambda o: o["stages"][1].pop("n_blocks")),
            edit(set_path(1, op_types=["supp"])),
        ]
    )
    a = make(single("conv3x3"))
    s1 = a.stages[1]
    floaty = InceptionStage(s1.n_blocks, s1.c_in, s1.c_out, s1.stride, (InceptionPath(("conv3x3",), 64.0, 64),))
    FamilyContract(FAMILY).check_invalid_inputs(
        [
            InceptionArch((a.stages[0], floaty, *a.stages[2:])),
            InceptionArch((a.stages[0], InceptionStage(2, 32.0, 64, 2, s1.paths), *a.stages[2:])),
            InceptionArch(a.stages[:3]),
        ]
    )


def test_neighbors_are_valid_single_changes() -> None:
    a = FAMILY.example()
    nbrs = FAMILY.neighbors(a)
    assert len(nbrs) == len(set(nbrs)) > 50
    for n in nbrs:
        FAMILY.validate(n)
        assert sum(x != y for x, y in zip(n.stages, a.stages)) == 1


def test_no_configspace() -> None:
    with pytest.raises(NotImplementedError):
        FAMILY.configspace()
