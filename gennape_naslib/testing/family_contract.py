"""A conformance suite every :class:`~gennape_naslib.search_spaces.FamilyAdapter` must pass."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from gennape_naslib.search_spaces.base import ArchValidationError, FamilyAdapter

__all__ = ["FamilyContract"]


@dataclass
class FamilyContract:
    """Checks of the family-adapter contract; each method raises ``AssertionError`` with a reason.

    Args:
        family: The adapter under test.
        seed: Seed of the random architectures drawn by the checks.
    """

    family: FamilyAdapter
    seed: int = 0

    def _archs(self, n: int) -> list[Any]:
        rng = np.random.default_rng(self.seed)
        return [self.family.sample(rng) for _ in range(n)]

    def check_sampling(self, n: int = 20) -> None:
        """Samples and mutations are valid ``Arch`` objects; mutation changes the architecture."""
        rng = np.random.default_rng(self.seed + 1)
        for arch in self._archs(n):
            assert isinstance(arch, self.family.Arch), f"sample() returned {type(arch).__name__}"
            self.family.validate(arch)
            child = self.family.mutate(arch, rng)
            self.family.validate(child)
            assert child != arch, f"mutate() returned its input {self.family.to_str(arch)}"
            hash(child)

    def check_neighbors(self, n: int = 3) -> None:
        """Neighbours are valid, distinct from the architecture and from each other."""
        for arch in self._archs(n):
            nbrs = self.family.neighbors(arch)
            assert nbrs, "neighbors() returned nothing"
            assert arch not in nbrs, "neighbors() contains the architecture itself"
            assert len(set(nbrs)) == len(nbrs), "neighbors() contains duplicates"
            for other in nbrs:
                self.family.validate(other)

    def check_json_round_trip(self, n: int = 20) -> None:
        """``from_json(to_json(a)) == a`` through real JSON text, and the same for the text form."""
        for arch in self._archs(n):
            obj = json.loads(json.dumps(self.family.to_json(arch)))
            assert self.family.from_json(obj) == arch, f"JSON round trip changed {obj}"
            text = self.family.to_str(arch)
            assert self.family.from_str(text) == arch, f"text round trip changed {text}"
            assert self.family.canonical_hash(self.family.from_json(obj)) == self.family.canonical_hash(arch)

    def check_invalid_inputs(self, bad_inputs: list[Any]) -> None:
        """Every input in ``bad_inputs`` raises :class:`ArchValidationError` (never another error)."""
        for bad in bad_inputs:
            try:
                self.family.coerce(bad)
            except ArchValidationError:
                continue
            raise AssertionError(f"{self.family.name}: {bad!r} was accepted")

    def check_cg_matches_module(self, n: int = 3) -> None:
        """``to_cg(a) == from_torch(to_module(a))`` (the fast path agrees with the real network)."""
        from gennape_naslib.cg import from_torch

        for arch in self._archs(n):
            fast = self.family.to_cg(arch)
            module = self.family.to_module(arch)
            slow = from_torch(module, self.family.module_input_shape(arch))
            assert fast == slow, f"{self.family.to_str(arch)}: to_cg differs from from_torch:\n{fast.diff(slow)}"

    def check_counts(self, n: int = 3) -> None:
        """``flops``/``params`` match ``FlopCounterMode`` and ``sum(p.numel())`` on the network."""
        import torch
        from torch.utils.flop_counter import FlopCounterMode

        for arch in self._archs(n):
            module = self.family.to_module(arch).eval()
            c, h, w = self.family.module_input_shape(arch)
            with torch.no_grad(), FlopCounterMode(display=False) as counter:
                module(torch.zeros(1, c, h, w))
            assert self.family.flops(arch) == counter.get_total_flops(), self.family.to_str(arch)
            assert self.family.params(arch) == sum(p.numel() for p in module.parameters()), self.family.to_str(arch)

    def check_all(self, n: int = 3) -> None:
        """Run every check that needs no family-specific input."""
        self.check_sampling(max(n, 5))
        self.check_neighbors(min(n, 3))
        self.check_json_round_trip(max(n, 5))
        self.check_cg_matches_module(n)
        self.check_counts(n)
