"""Every registered family passes the shipped conformance suite."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gennape_naslib import search_spaces
from gennape_naslib.testing import FamilyContract

BUILTIN = sorted(search_spaces.base.BUILTIN_FAMILIES)


def _family(name: str):
    try:
        return search_spaces.get(name)
    except ModuleNotFoundError as exc:  # a family module not written yet
        if exc.name == search_spaces.base.BUILTIN_FAMILIES[name]:
            pytest.skip(f"family {name} is not implemented yet")
        raise


@pytest.mark.parametrize("name", BUILTIN)
def test_contract(name: str) -> None:
    family = _family(name)
    n = int(os.environ.get("GENNAPE_CONTRACT_N", "3"))
    FamilyContract(family, seed=7).check_all(n)


@pytest.mark.parametrize("name", BUILTIN)
def test_properties(name: str) -> None:
    family = _family(name)

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.integers(0, 2**32 - 1))
    def check(seed: int) -> None:
        rng = np.random.default_rng(seed)
        arch = family.sample(rng)
        family.validate(arch)
        child = family.mutate(arch, rng)
        family.validate(child)
        assert family.from_json(family.to_json(child)) == child
        family.to_cg(child)  # never fails on a valid architecture

    check()


@pytest.mark.parametrize("name", BUILTIN)
def test_hash_stable_across_processes(name: str) -> None:
    family = _family(name)
    archs = [family.sample(np.random.default_rng(s)) for s in range(3)]
    texts = [family.to_str(a) for a in archs]
    code = (
        "import sys, json; from gennape_naslib import search_spaces as s; f = s.get(sys.argv[1]); "
        "print(json.dumps([f.canonical_hash(f.from_str(t)) for t in json.loads(sys.argv[2])]))"
    )
    import json

    out = subprocess.run(
        [sys.executable, "-c", code, name, json.dumps(texts)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "123"},
    )
    assert json.loads(out.stdout) == [family.canonical_hash(a) for a in archs]


def test_unknown_family_lists_choices() -> None:
    with pytest.raises(search_spaces.UnknownFamilyError, match="nb201"):
        search_spaces.get("nb999")


def test_list_families_has_all_nine() -> None:
    assert set(BUILTIN) <= set(search_spaces.list_families())
    assert len(BUILTIN) == 9
    assert search_spaces.list_families("ofa_*") == ["ofa_mbv3", "ofa_pn", "ofa_resnet"]


def test_family_of_finds_each_family() -> None:
    for name in BUILTIN:
        family = search_spaces.get(name)
        assert search_spaces.family_of(family.sample(0)) is family
    with pytest.raises(TypeError, match="not the Arch type"):
        search_spaces.family_of((1, 2, 3))
