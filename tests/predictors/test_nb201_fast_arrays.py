"""The NB-201 fast path of the predictors' graph inputs gives exactly the general path's arrays."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gennape_naslib import search_spaces
from gennape_naslib.predictors.gennape import data as gdata
from gennape_naslib.predictors.gennape._nb201_arrays import build_arrays, nb201_arrays, nb201_arrays_many
from gennape_naslib.search_spaces.nb201 import NB201, OPS

FIELDS = ("op", "res", "kernel", "bias", "weighted", "edges")


def _assert_same(fast: gdata.GraphArrays, ref: gdata.GraphArrays, what: object) -> None:
    for name in FIELDS:
        a, b = getattr(fast, name), getattr(ref, name)
        assert a.dtype == b.dtype and a.shape == b.shape, f"{what}: {name} {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
        assert np.array_equal(a, b), f"{what}: {name} differs"
    assert fast.gflops == ref.gflops, f"{what}: gflops {fast.gflops} vs {ref.gflops}"


def _reference(family, arch, num_classes: int = 10) -> gdata.GraphArrays:
    return gdata.graph_arrays(family.to_cg(arch, num_classes), flops=family.flops(arch, num_classes), key=None)


def _special_cells() -> list[tuple[str, ...]]:
    cells = [(op,) * 6 for op in OPS]  # all none (161 nodes), all skip (empty cell, 26 nodes), ...
    # every cell made of skip_connect and none only: folded / skipped additions, zero-only nodes
    cells += list(itertools.product(("skip_connect", "none"), repeat=6))
    cells += [
        ("skip_connect", "skip_connect", "skip_connect", "skip_connect", "skip_connect", "nor_conv_3x3"),
        ("nor_conv_1x1", "skip_connect", "none", "skip_connect", "avg_pool_3x3", "skip_connect"),
        ("none", "nor_conv_3x3", "avg_pool_3x3", "none", "skip_connect", "none"),
    ]
    return cells


def test_fast_arrays_equal_general_path_on_sample_and_degenerate_cells():
    family = search_spaces.get("nb201")
    rng = np.random.default_rng(3)
    cells = _special_cells() + [family.sample(rng).ops for _ in range(60)]
    for ops, fast in zip(cells, nb201_arrays_many(cells, 10)):  # cells of equal size share arrays
        arch = family.Arch(ops)
        _assert_same(fast, _reference(family, arch), family.to_json(arch))
    _assert_same(nb201_arrays(cells[-1]), _reference(family, family.Arch(cells[-1])), "one cell")
    arch = family.Arch(cells[-1])
    _assert_same(nb201_arrays(arch.ops, 100), _reference(family, arch, 100), "100 classes")


def test_prepare_uses_the_fast_path_and_matches_the_reference():
    family = search_spaces.get("nb201")
    archs = [family.sample(seed) for seed in range(12)]
    gdata.clear_cache()
    fast, name = gdata.prepare(archs, family)
    gdata.clear_cache()
    ref, _ = gdata.prepare(archs, family, fast=False)
    gdata.clear_cache()
    assert name == "nb201"
    for arch, a, b in zip(archs, fast, ref):
        _assert_same(a, b, arch)
        assert a.key == b.key == ("nb201", arch)


def test_builder_declines_for_subclasses_and_registry_falls_back(monkeypatch):
    class Custom(NB201):
        pass

    family = search_spaces.get("nb201")
    archs = [family.sample(0)]
    assert build_arrays(archs, Custom(), [None]) is None
    assert len(build_arrays(archs, family, [("k", 0)])) == 1

    calls = []

    def declining(archs, adapter, keys):
        calls.append(len(archs))
        return None

    monkeypatch.setitem(gdata._BUILDERS, "nb201", declining)
    gdata.clear_cache()
    recs, _ = gdata.prepare(archs, family)
    gdata.clear_cache()
    assert calls == [1]
    _assert_same(recs[0], _reference(family, archs[0]), "fallback")
    with pytest.raises(TypeError, match="must be callable or None"):
        gdata.register_arrays_builder("nb201", 3)


@pytest.mark.slow
def test_fast_arrays_equal_general_path_on_all_15625_cells():
    family = search_spaces.get("nb201")
    archs = list(family.enumerate())
    for arch, fast in zip(archs, nb201_arrays_many([a.ops for a in archs])):
        _assert_same(fast, _reference(family, arch), family.to_json(arch))
