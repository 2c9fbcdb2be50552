"""OFA families: GENNAPE Appendix A fidelity, the public OFA-MBv3 table, encodings, validation, ConfigSpace."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gennape_naslib import search_spaces
from gennape_naslib.search_spaces import ArchValidationError
from gennape_naslib.search_spaces.ofa import (
    OFAMobileNetV3,
    OFAMobileNetV3Arch,
    OFAProxylessArch,
    OFAProxylessNAS,
    OFAResNet50,
)
from gennape_naslib.testing import FamilyContract

MBV3_CSV = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ofa_mbv3" / "ofa_mbv3_mit_2610.csv"

# GENNAPE_FACTS Appendix A, "Exact configs used above".
APPENDIX_STAGES = [
    ["e3k5", "e6k3"],
    ["e4k7", "e3k3", "e6k5"],
    ["e3k3", "e3k3"],
    ["e6k3", "e4k5", "e3k3", "e3k7"],
    ["e3k3", "e3k3"],
    ["e6k7"],
]
APPENDIX_RESNET = {
    "r": 160,
    "d": [2, 0, 1, 2, 0],
    "e": [0.2, 0.25, 0.35, 0.25, 0.2, 0.35, 0.25, 0.25, 0.35, 0.2, 0.25, 0.25, 0.2, 0.35, 0.25, 0.2, 0.35, 0.25],
    "w": [0, 1, 2, 0, 1, 2],
}
MINIMAL_RESNET = {"r": 128, "d": [0] * 5, "e": [0.2] * 18, "w": [0] * 6}


def _mbv3_rows() -> list[dict[str, str]]:
    if not MBV3_CSV.exists():
        pytest.skip(f"shared data not available: {MBV3_CSV}")
    with MBV3_CSV.open() as fh:
        return list(csv.DictReader(fh))


def _row_obj(row: dict[str, str]) -> dict:
    return {
        "ks": json.loads(row["ks"]),
        "e": json.loads(row["e"]),
        "d": json.loads(row["d"]),
        "image_size": int(row["image_size"]),
    }


def _counts(cg) -> tuple[int, int, int, int]:
    return cg.n_nodes, cg.n_weighted, cg.n_nodes - cg.n_weighted, cg.n_edges


# ---------------------------------------------------------------------- GENNAPE Appendix A
def test_appendix_a_proxyless_w13() -> None:
    family = search_spaces.get("ofa_pn")
    assert family.width_mult == 1.3
    cg = family.to_cg({"r": 224, "stages": [[f"mbconv2_{b[:2]}_{b[2:]}" for b in s] for s in APPENDIX_STAGES]})
    assert _counts(cg) == (136, 47, 89, 143)
    ops = cg.op_counts()
    assert (ops["identity"], ops["matmul"], ops["mean"], ops["add"]) == (1, 1, 1, 8)
    assert {node.resolution[5] for node in cg.nodes if node.op == "conv"} >= {40, 24, 32, 56, 104, 128, 248, 416, 1664}


def test_appendix_a_mobilenetv3_w12() -> None:
    family = OFAMobileNetV3(width_mult=1.2)
    cg = family.to_cg({"r": 192, "stages": APPENDIX_STAGES[:5]})
    assert _counts(cg) == (204, 63, 141, 240)
    ops = cg.op_counts()
    assert (ops["mean"], ops["mul"], ops["relu6"]) == (10, 28, 28)
    assert ops["identity"] == 1  # the classifier's dropout, as in GENNAPE's graph
    assert cg.nodes[1].resolution == (192, 96, 192, 96, 3, 24)  # stem at width 1.2


@pytest.mark.parametrize(
    ("obj", "expected"), [(APPENDIX_RESNET, (157, 47, 110, 170)), (MINIMAL_RESNET, (123, 37, 86, 132))]
)
def test_appendix_a_resnet(obj: dict, expected: tuple[int, int, int, int]) -> None:
    cg = search_spaces.get("ofa_resnet").to_cg(obj)
    assert _counts(cg) == expected
    assert cg.op_counts()["identity"] == 0  # no dropout in the OFA-ResNet head, none in GENNAPE's either
    assert cg.op_counts()["avgpool"] == 4  # one avg-pool shortcut per stage (1x1 in the first stage)


@pytest.mark.slow
def test_appendix_a_graphs_equal_lowered_networks() -> None:
    from gennape_naslib.cg import from_torch

    cases = [
        (search_spaces.get("ofa_pn"), {"r": 224, "stages": APPENDIX_STAGES}),
        (OFAMobileNetV3(width_mult=1.2), {"r": 192, "stages": APPENDIX_STAGES[:5]}),
        (search_spaces.get("ofa_resnet"), APPENDIX_RESNET),
    ]
    for family, obj in cases:
        arch = family.from_json(obj)
        slow = from_torch(family.to_module(arch), family.module_input_shape(arch))
        assert family.to_cg(arch) == slow, family.to_cg(arch).diff(slow)


# ---------------------------------------------------------------------- the public OFA-MBv3 table
def test_every_mbv3_csv_row_parses() -> None:
    family = search_spaces.get("ofa_mbv3")
    rows = _mbv3_rows()
    assert len(rows) == 2610
    hashes = set()
    for row in rows:
        obj = _row_obj(row)
        arch = family.from_json(obj)
        assert arch.r == obj["image_size"] and list(arch.depths) == obj["d"]
        back = family.to_ofa_dict(arch)
        for s, d in enumerate(obj["d"]):  # active slots survive the round trip
            active = slice(4 * s, 4 * s + d)
            assert back["ks"][active] == obj["ks"][active] and back["e"][active] == obj["e"][active]
        assert family.from_json(back) == arch
        hashes.add(family.canonical_hash(arch))
    assert len(hashes) == 2610  # the table lists unique subnets


def test_mbv3_flops_are_sensible() -> None:
    family = search_spaces.get("ofa_mbv3")
    largest = family.from_json({"ks": [7] * 20, "e": [6] * 20, "d": [4] * 5, "r": 224})
    smallest = family.from_json({"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5, "r": 224})
    # MACs (= FLOPs / 2) of the w1.0 space at 224: 121.3 M for the smallest and 566.2 M for the largest subnet.
    assert family.flops(smallest) / 2 == pytest.approx(121.28e6, rel=1e-3)
    assert family.flops(largest) / 2 == pytest.approx(566.17e6, rel=1e-3)
    rows = _mbv3_rows()[:200]
    for row in rows:
        arch = family.from_json(_row_obj(row))
        r = arch.r
        lo = family.flops(OFAMobileNetV3Arch(r, smallest.stages))
        hi = family.flops(OFAMobileNetV3Arch(r, largest.stages))
        assert lo <= family.flops(arch) <= hi
        assert 3.4e6 < family.params(arch) < 7.7e6
        if r < 192:  # FLOPs grow with the resolution for the same subnet
            assert family.flops(arch) < family.flops(OFAMobileNetV3Arch(192, arch.stages))


# ---------------------------------------------------------------------- encodings
@pytest.mark.parametrize("name", ["ofa_pn", "ofa_mbv3"])
def test_mobile_encodings_round_trip(name: str) -> None:
    family = search_spaces.get(name)
    rng = np.random.default_rng(3)
    for _ in range(20):
        arch = family.sample(rng)
        ofa = family.to_ofa_dict(arch)
        n_slots = 21 if name == "ofa_pn" else 20
        assert len(ofa["ks"]) == len(ofa["e"]) == n_slots and len(ofa["d"]) == len(arch.stages)
        assert family.from_json(ofa) == arch
        assert family.from_json(json.loads(json.dumps(family.to_json(arch)))) == arch
        text = family.to_str(arch)
        assert text.startswith(f"r{arch.r}:") and family.from_str(text) == arch
        assert family.from_str(json.dumps(ofa)) == arch
        assert family.module_input_shape(arch) == (3, arch.r, arch.r)


def test_mobile_encoding_variants() -> None:
    family = search_spaces.get("ofa_mbv3")
    stages = APPENDIX_STAGES[:5]
    arch = family.from_json({"r": 192, "stages": stages})
    assert family.from_json({"image_size": 192, "stages": stages}) == arch
    assert family.from_json({"r": [192], "stages": [[f"mbconv3_{b[:2]}_{b[2:]}" for b in s] for s in stages]}) == arch
    assert family.from_str("r192:" + "|".join("-".join(s) for s in stages)) == arch
    ofa = family.to_ofa_dict(arch)
    assert ofa["d"] == [2, 3, 2, 4, 2] and ofa["ks"][:4] == [5, 3, 3, 3] and ofa["e"][:4] == [3, 6, 3, 3]
    # OFA's tutorial form: resolution as a one-element list, "wid": None; the arch encoder writes 0 in unused slots.
    zeroed = dict(ofa, r=[192], wid=None, ks=[k if i % 4 < ofa["d"][i // 4] else 0 for i, k in enumerate(ofa["ks"])])
    assert family.from_json(zeroed) == arch
    # a missing resolution means OFA's default 224
    assert family.from_json({"ks": ofa["ks"], "e": ofa["e"], "d": ofa["d"]}).r == 224


def test_unused_slots_do_not_matter() -> None:
    for name in ("ofa_mbv3", "ofa_pn"):
        family = search_spaces.get(name)
        arch = family.sample(5)
        ofa = family.to_ofa_dict(arch)
        other = dict(ofa, ks=list(ofa["ks"]), e=list(ofa["e"]))
        for s, d in enumerate(ofa["d"]):
            for j in range(d, 4 if s < 5 else 1):
                other["ks"][4 * s + j], other["e"][4 * s + j] = 7, 6
        assert family.from_json(other) == arch
        assert family.canonical_hash(other) == family.canonical_hash(arch)
    resnet = search_spaces.get("ofa_resnet")
    changed = dict(MINIMAL_RESNET, e=[0.2, 0.2, 0.35, 0.35] * 2 + [0.2] * 4 + [0.25, 0.35] + [0.2, 0.2, 0.25, 0.35])
    assert resnet.canonical_hash(changed) == resnet.canonical_hash(MINIMAL_RESNET)
    assert resnet.from_json(changed) == resnet.from_json(MINIMAL_RESNET)
    different = dict(MINIMAL_RESNET, e=[0.35] + [0.2] * 17)
    assert resnet.canonical_hash(different) != resnet.canonical_hash(MINIMAL_RESNET)


def test_resnet_stem_width_indices_0_and_1_are_one_network() -> None:
    resnet = search_spaces.get("ofa_resnet")
    j = resnet.to_json(resnet.example())
    a, b, c = (resnet.from_json(dict(j, w=[w0, *j["w"][1:]])) for w0 in (0, 1, 2))
    assert resnet.to_cg(a) == resnet.to_cg(b) and resnet.params(a) == resnet.params(b)
    assert resnet.canonical_hash(a) == resnet.canonical_hash(b) != resnet.canonical_hash(c)
    assert resnet.to_cg(a) != resnet.to_cg(c)
    for arch in (a, b):
        hashes = [resnet.canonical_hash(n) for n in resnet.neighbors(arch)]
        assert resnet.canonical_hash(arch) not in hashes
        assert len(set(hashes)) == len(hashes)
        assert [n.w[0] for n in resnet.neighbors(arch) if n.w[1:] == arch.w[1:] and n.w[0] != arch.w[0]] == [2]


def test_width_is_an_adapter_parameter() -> None:
    default, wide = search_spaces.get("ofa_mbv3"), OFAMobileNetV3(width_mult=1.2)
    arch = default.example()
    assert default.width_mult == 1.0 and default.info()["width_mult"] == 1.0
    assert wide.info()["width_mult"] == 1.2
    assert default.canonical_hash(arch) != wide.canonical_hash(arch)
    assert default.params(arch) < wide.params(arch)
    assert OFAProxylessNAS().width_mult == 1.3 and OFAProxylessNAS(width_mult=1.0).params(
        OFAProxylessNAS().example()
    ) < OFAProxylessNAS().params(OFAProxylessNAS().example())
    assert "1.0" in (OFAMobileNetV3.__doc__ or "") and "1.3" in (OFAProxylessNAS.__doc__ or "")


def test_resnet_encoding_round_trip_and_sampler() -> None:
    family = search_spaces.get("ofa_resnet")
    rng = np.random.default_rng(11)
    stem_depths = set()
    for _ in range(40):
        arch = family.sample(rng)
        stem_depths.add(arch.d[0])
        obj = json.loads(family.to_str(arch))
        assert family.from_json(obj) == arch and family.to_ofa_dict(arch) == obj
        assert all(len(stage) == base + d for stage, base, d in zip(arch.e, (2, 2, 4, 2), arch.d[1:]))
    assert stem_depths == {0, 2}  # OFA samples the stem depth from {min, max}
    by_image_size = {k: v for k, v in APPENDIX_RESNET.items() if k != "r"} | {"image_size": 160}
    assert family.from_json(by_image_size) == family.example()


# ---------------------------------------------------------------------- validation
def test_invalid_mobile_inputs() -> None:
    mbv3 = search_spaces.get("ofa_mbv3")
    good = mbv3.to_ofa_dict(mbv3.example())
    stages = APPENDIX_STAGES[:5]
    FamilyContract(mbv3).check_invalid_inputs(
        [
            {"r": 192, "stages": [["e3k9", "e3k3"]] + stages[1:]},  # kernel 9
            dict(good, ks=[9] + good["ks"][1:]),  # kernel 9 in the OFA dict
            dict(good, ks=[9] * 20),  # kernel 9 in an unused slot too
            dict(good, ks=good["ks"][:19]),  # 19 kernel sizes
            dict(good, d=good["d"][:4]),  # 4 depths
            dict(good, d=[5, 2, 2, 2, 2]),  # depth 5
            dict(good, d=[1, 2, 2, 2, 2]),  # depth 1
            dict(good, e=[5] * 20),  # expand 5
            dict(good, r=130),  # not a multiple of 4
            dict(good, r=256),  # outside [128, 224]
            dict(good, r="224"),
            dict(good, r=True),
            dict(good, ks="7" * 20),
            dict(good, e=[3.5] * 20),
            dict(good, foo=1),
            {"r": 192, "stages": stages[:4]},  # 4 stages
            {"r": 192, "stages": [["e3k5"]] + stages[1:]},  # a stage of one block
            {"r": 192, "stages": [["e3k5"] * 5] + stages[1:]},  # a stage of five blocks
            {"r": 192, "stages": [["conv3x3", "e3k3"]] + stages[1:]},  # unknown op
            {"r": 192, "stages": [["mbconv2_e3_k5", "e3k3"]] + stages[1:]},  # a PN block name
            {"r": 192, "stages": "e3k3"},
            {"r": 192, "stages": [[3, 5]] * 5},
            {"r": 192},
            {},
            None,
            42,
            [1, 2, 3],
            "r192:e3k5",
            "r192:e3k5-e3k3|e3k3-e3k3|e3k3-e3k3|e3k3-e3k3|e3k3-e3k9",
            "not an arch",
            "{broken json",
            OFAMobileNetV3Arch(192, ((3, 5),)),
            OFAMobileNetV3Arch("192", ()),  # type: ignore[arg-type]
        ]
    )
    pn = search_spaces.get("ofa_pn")
    good = pn.to_ofa_dict(pn.example())
    FamilyContract(pn).check_invalid_inputs(
        [
            dict(good, d=good["d"][:5] + [2]),  # the last stage has exactly one block
            dict(good, ks=good["ks"][:20]),  # 20 slots (MBv3's) instead of 21
            {"r": 224, "stages": APPENDIX_STAGES[:5] + [["e6k7", "e6k7"]]},
            {"r": 224, "stages": APPENDIX_STAGES[:5]},
            {"r": 224, "stages": APPENDIX_STAGES[:5] + [["e6k9"]]},
            OFAProxylessArch(224, ()),
        ]
    )
    with pytest.raises(ArchValidationError, match=r"stages\[0\]\[0\]") as info:
        mbv3.from_json({"r": 192, "stages": [["e3k9", "e3k3"]] + stages[1:]})
    assert info.value.field == "stages[0][0]" and "kernel" in info.value.reason
    with pytest.raises(ArchValidationError) as info:
        mbv3.from_json(dict(mbv3.to_ofa_dict(mbv3.example()), d=[2, 3, 9, 2, 2]))
    assert info.value.field == "d[2]" and info.value.value == 9


def test_invalid_resnet_inputs() -> None:
    family = search_spaces.get("ofa_resnet")
    FamilyContract(family).check_invalid_inputs(
        [
            dict(APPENDIX_RESNET, e=[0.3] * 18),
            dict(APPENDIX_RESNET, e=APPENDIX_RESNET["e"][:17]),
            dict(APPENDIX_RESNET, d=[1, 0, 1, 2, 0]),  # ambiguous stem depth
            dict(APPENDIX_RESNET, d=[2, 0, 3, 2, 0]),
            dict(APPENDIX_RESNET, d=[2, 0, 1, 2]),
            dict(APPENDIX_RESNET, w=[0, 1, 2, 0, 1, 3]),
            dict(APPENDIX_RESNET, w=[0, 1, 2, 0, 1]),
            dict(APPENDIX_RESNET, w="012012"),
            dict(APPENDIX_RESNET, e=["0.2"] * 18),
            dict(APPENDIX_RESNET, r=100),
            dict(APPENDIX_RESNET, r=161),
            dict(APPENDIX_RESNET, k=[3]),
            {"d": [2, 0, 1, 2, 0]},
            "{}",
            None,
            [],
        ]
    )
    with pytest.raises(ArchValidationError) as info:
        family.from_json(dict(APPENDIX_RESNET, e=[0.2] * 8 + [0.5] + [0.2] * 9))
    assert info.value.field == "e[8]" and info.value.value == 0.5


# ---------------------------------------------------------------------- search-space operations
@pytest.mark.parametrize("name", ["ofa_pn", "ofa_mbv3", "ofa_resnet"])
def test_neighbors_are_single_changes(name: str) -> None:
    family = search_spaces.get(name)
    arch = family.sample(9)
    flat = family.to_ofa_dict(arch)
    for other in family.neighbors(arch):
        changed = family.to_ofa_dict(other)
        diffs = sum(a != b for key in ("ks", "e", "d", "w") if key in flat for a, b in zip(flat[key], changed[key]))
        diffs += flat["r"] != changed["r"]
        depth_change = flat["d"] != changed["d"]
        # a depth change also fills or frees one slot (whose values may differ from the canonical filler)
        assert diffs == 1 or (depth_change and diffs <= 3), (flat, changed)


def test_sampling_respects_ofa_space() -> None:
    pn = search_spaces.get("ofa_pn")
    rng = np.random.default_rng(0)
    archs = [pn.sample(rng) for _ in range(50)]
    assert all(len(a.stages[5]) == 1 for a in archs)
    assert {d for a in archs for d in a.depths[:5]} == {2, 3, 4}
    assert {k for a in archs for s in a.stages for _, k in s} == {3, 5, 7}
    assert pn.size() == 7371**5 * 9 * 25
    assert search_spaces.get("ofa_mbv3").size() == 7371**5 * 25
    assert search_spaces.get("ofa_resnet").size() == 2 * 2 * 3**5 * 117**3 * 1053 * 25  # w[0]: two stem widths


@pytest.mark.parametrize("name", ["ofa_pn", "ofa_mbv3", "ofa_resnet"])
def test_configspace_samples_are_valid(name: str) -> None:
    family = search_spaces.get(name)
    cs = family.configspace(seed=1)
    assert cs.conditions  # depth-dependent layers are conditional
    depths = set()
    for config in cs.sample_configuration(30):
        arch = family.from_configuration(config)
        family.validate(arch)
        depths.add(tuple(arch.d) if name == "ofa_resnet" else arch.depths)
    assert len(depths) > 1
    if name != "ofa_resnet":  # slot j of stage s is active only when d_s > j
        config = dict(cs.sample_configuration())
        for s in range(5):
            assert (f"ks_{s}_3" in config) == (config[f"d_{s}"] == 4)
            assert (f"ks_{s}_2" in config) == (config[f"d_{s}"] >= 3)


def test_to_module_options() -> None:
    family = search_spaces.get("ofa_resnet")
    arch = family.from_json(MINIMAL_RESNET)
    module = family.to_module(arch, num_classes=10, init="torch")
    assert module.classifier.out_features == 10
    assert family.params(arch) == sum(p.numel() for p in family.to_module(arch).parameters())
    with pytest.raises(TypeError):
        family.to_module(arch, colour="red")
    assert isinstance(family, OFAResNet50) and family.module_input_shape(arch) == (3, 128, 128)


_KEYS = ["r", "ks", "e", "d", "w", "stages", "image_size", "x"]
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 300) | st.floats(allow_nan=True) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=22) | st.dictionaries(st.sampled_from(_KEYS), inner, max_size=5),
    max_leaves=40,
)


@pytest.mark.parametrize("name", ["ofa_pn", "ofa_mbv3", "ofa_resnet"])
def test_from_json_only_raises_validation_errors(name: str) -> None:
    family = search_spaces.get(name)
    good = family.to_ofa_dict(family.example())

    stage_form = family.to_json(family.example()) if name != "ofa_resnet" else good

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_json_values, st.sampled_from(sorted(good)), st.sampled_from(sorted(stage_form)))
    def check(value, key, stage_key) -> None:
        for obj in (value, dict(good, **{key: value}), dict(stage_form, **{stage_key: value})):
            try:
                family.from_json(obj)
            except ArchValidationError:
                pass

    check()
