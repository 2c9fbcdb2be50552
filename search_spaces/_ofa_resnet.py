"""The ``ofa_resnet`` adapter: OFA ResNet-50 subnets (registered by :mod:`gennape_naslib.search_spaces.ofa`).

Network (the subnet OFA's ``OFAResNets(depth_list=[0, 1, 2], expand_ratio_list=[0.2, 0.25, 0.35],
width_mult_list=[0.65, 0.8, 1.0])`` extracts; dropout 0 as in OFA's model zoo, so no ``identity``
node, as in GENNAPE's graphs): a ResNet-D stem 3x3/2 conv -> BN -> ReLU (``mid`` channels)
[-> ``x + ReLU(BN(conv3x3(x)))`` when ``d[0] == 2``] -> 3x3 conv -> BN -> ReLU (``out`` channels) ->
max-pool 3x3/2 (padding 1); four stages of ``(2, 2, 4, 2) + d[1:]`` bottlenecks (strides 1, 2, 2, 2
on the first block) -> global mean -> linear. Widths: stem ``out`` = ``make_divisible(64 m, 8)`` =
(40, 48, 64) chosen by ``w[1]``, stem ``mid`` = ``make_divisible(out // 2, 8)`` = (24, 24, 32) chosen by
``w[0]`` (so ``w[0]`` 0 and 1 build the same network: they share a canonical hash, and neither is the other's
neighbour), stage ``s`` = ``make_divisible((256, 512, 1024, 2048)[s] * m, 8)`` chosen by ``w[2 + s]``.
Bottleneck: 1x1 -> BN -> ReLU -> 3x3 (stride) -> BN -> ReLU -> 1x1 -> BN, middle width
``make_divisible(round(C_out * e), 8)``; shortcut identity, or (first block of a stage) avg-pool of
kernel = stride = s (``ceil_mode=True``; a 1x1 pool in stage 1) -> 1x1 conv -> BN; ReLU after the add.

Encoding: ``{"r": 160, "d": [5 ints], "e": [18 floats], "w": [6 ints]}`` (OFA's ``set_active_subnet``
arguments plus the resolution; ``image_size`` may replace ``r``). ``e`` has one slot per potential
block (stage slices of 4, 4, 6, 4); slots beyond a stage's depth are ignored (0 accepted there, as
OFA's arch encoder writes) and written as 0.2. ``d[0]`` is the stem depth: OFA samples it from
{0, 2} and only 2 keeps the residual stem conv; ``d[0] == 1`` is rejected because OFA's supernet
treats it as 0 while its arch encoder treats it as 2. ``d[1:]`` in {0, 1, 2}, ``e`` in
{0.2, 0.25, 0.35}, ``w`` in {0, 1, 2}, ``r`` a multiple of 4 in [128, 224] (OFA's list).
The text form is the same dict as compact JSON.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, ClassVar

from gennape_naslib.search_spaces import _ofa_specs as specs
from gennape_naslib.search_spaces._ofa_encoding import OFA_RESOLUTIONS, OFAFamilyBase, as_int, as_list, as_resolution
from gennape_naslib.search_spaces.base import ArchValidationError, as_rng

__all__ = ["OFAResNet50", "OFAResNetArch"]

EXPANDS = (0.2, 0.25, 0.35)
STEM_DEPTHS = (0, 2)
DEPTHS = (0, 1, 2)
WIDTHS = (0, 1, 2)
BASE = specs.RESNET_BASE_DEPTHS
SLOT_STARTS = (0, 4, 8, 14)


@dataclass(frozen=True)
class OFAResNetArch:
    """An OFA ResNet-50 subnet.

    Attributes:
        r: Input resolution.
        d: The five depth choices (``d[0]`` in {0, 2}: stem residual conv off/on).
        e: Per stage, the expand ratio of each active bottleneck (``BASE[s] + d[s + 1]`` of them).
        w: The six width indices (stem middle, stem output, four stages).
    """

    r: int
    d: tuple[int, int, int, int, int]
    e: tuple[tuple[float, ...], ...]
    w: tuple[int, int, int, int, int, int]


def _expand(family: str, field: str, value: Any, allow_zero: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArchValidationError(family, field, value, f"expected a number in {EXPANDS}")
    for choice in EXPANDS + ((0.0,) if allow_zero else ()):
        if abs(float(value) - choice) < 1e-9:
            return choice
    raise ArchValidationError(family, field, value, f"expand ratio must be in {EXPANDS}")


class OFAResNet50(OFAFamilyBase):
    """OFA ResNet-50 subnets (depth, expand ratio and width-multiplier index choices)."""

    name: ClassVar[str] = "ofa_resnet"
    Arch: ClassVar[type] = OFAResNetArch
    default_dropout: ClassVar[float] = 0.0

    def __init__(self, resolutions: tuple[int, ...] = OFA_RESOLUTIONS, dropout_rate: float | None = None) -> None:
        super().__init__(resolutions, dropout_rate)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def _plan(self, arch: OFAResNetArch, num_classes: int, dropout: float) -> specs.ResNetPlan:
        return specs.resnet_plan(arch.d[0] == 2, arch.e, arch.w, num_classes, dropout)

    # ------------------------------------------------------------------ encodings
    def from_json(self, obj: Any) -> OFAResNetArch:
        """Parse ``{"r", "d", "e", "w"}`` (see the module docstring)."""
        if isinstance(obj, OFAResNetArch):
            self.validate(obj)
            return obj
        if not isinstance(obj, dict):
            raise ArchValidationError(self.name, "arch", obj, "expected a dict with 'd', 'e' and 'w'")
        missing = [k for k in ("d", "e", "w") if k not in obj]
        if missing:
            raise ArchValidationError(self.name, "arch", sorted(map(str, obj)), f"missing keys {missing}")
        extra = set(obj) - {"r", "image_size", "d", "e", "w"}
        if extra:
            raise ArchValidationError(self.name, "arch", sorted(map(str, extra)), "unknown keys")
        r = as_resolution(self.name, obj, self.resolutions)
        d = tuple(as_int(self.name, f"d[{i}]", v) for i, v in enumerate(as_list(self.name, "d", obj["d"], 5)))
        w = tuple(as_int(self.name, f"w[{i}]", v) for i, v in enumerate(as_list(self.name, "w", obj["w"], 6)))
        raw_e = as_list(self.name, "e", obj["e"], 18)
        self._check_d(d)
        stages = []
        for s in range(4):
            n_active = BASE[s] + d[s + 1]
            values = []
            for j in range(BASE[s] + 2):
                i = SLOT_STARTS[s] + j
                value = _expand(self.name, f"e[{i}]", raw_e[i], allow_zero=j >= n_active)
                if j < n_active:
                    values.append(value)
            stages.append(tuple(values))
        arch = OFAResNetArch(r, d, tuple(stages), w)  # type: ignore[arg-type]
        self.validate(arch)
        return arch

    def to_json(self, arch: OFAResNetArch) -> dict[str, Any]:
        """OFA's dict with the resolution; inactive ``e`` slots hold 0.2."""
        e = [EXPANDS[0]] * 18
        for s, stage in enumerate(arch.e):
            for j, value in enumerate(stage):
                e[SLOT_STARTS[s] + j] = value
        return {"r": arch.r, "d": list(arch.d), "e": e, "w": list(arch.w)}

    def to_ofa_dict(self, arch: Any) -> dict[str, Any]:
        """Same as :meth:`to_json` (the OFA dict is this family's JSON encoding)."""
        return self.to_json(self.coerce(arch))

    def from_ofa_dict(self, obj: dict[str, Any]) -> OFAResNetArch:
        """Same as :meth:`from_json`."""
        return self.from_json(obj)

    # ------------------------------------------------------------------ validity
    def _check_d(self, d: tuple[Any, ...]) -> None:
        if d[0] not in STEM_DEPTHS:
            raise ArchValidationError(
                self.name, "d[0]", d[0], "stem depth must be 0 or 2 (OFA samples {0, 2}; 1 is ambiguous in OFA)"
            )
        for i in range(1, 5):
            if d[i] not in DEPTHS:
                raise ArchValidationError(self.name, f"d[{i}]", d[i], f"stage depth must be in {DEPTHS}")

    def validate(self, arch: Any) -> None:
        """Check type, resolution, depths, expand ratios (count per stage) and width indices."""
        if not isinstance(arch, OFAResNetArch):
            raise ArchValidationError(self.name, "arch", arch, "expected an OFAResNetArch")
        self._check_resolution(arch.r)
        for field, value, n in (("d", arch.d, 5), ("w", arch.w, 6), ("e", arch.e, 4)):
            if not isinstance(value, tuple) or len(value) != n:
                raise ArchValidationError(self.name, field, value, f"expected a tuple of {n} entries")
        if not all(type(v) is int for v in arch.d + arch.w):
            raise ArchValidationError(self.name, "d/w", (arch.d, arch.w), "expected ints")
        self._check_d(arch.d)
        for i, v in enumerate(arch.w):
            if v not in WIDTHS:
                raise ArchValidationError(self.name, f"w[{i}]", v, f"width index must be in {WIDTHS}")
        for s, stage in enumerate(arch.e):
            n_active = BASE[s] + arch.d[s + 1]
            if not isinstance(stage, tuple) or len(stage) != n_active:
                raise ArchValidationError(self.name, f"e[stage {s}]", stage, f"expected {n_active} active ratios")
            for j, v in enumerate(stage):
                if v not in EXPANDS:
                    raise ArchValidationError(self.name, f"e[{SLOT_STARTS[s] + j}]", v, f"must be in {EXPANDS}")

    # ------------------------------------------------------------------ search-space operations
    def sample(self, rng: Any = None) -> OFAResNetArch:
        """OFA's sampler (stem depth from {0, 2}, the rest uniform) plus a uniform resolution."""
        rng = as_rng(rng)
        r = self._sample_resolution(rng)
        d = (STEM_DEPTHS[int(rng.integers(2))], *(DEPTHS[int(rng.integers(3))] for _ in range(4)))
        e = tuple(tuple(EXPANDS[int(rng.integers(3))] for _ in range(BASE[s] + d[s + 1])) for s in range(4))
        w = tuple(WIDTHS[int(rng.integers(3))] for _ in range(6))
        return OFAResNetArch(r, d, e, w)  # type: ignore[arg-type]

    def neighbors(self, arch: Any) -> list[OFAResNetArch]:
        """One expand ratio, width index or the stem depth changed, a stage one block deeper
        (repeating its last ratio) or shallower, or the next smaller/larger resolution."""
        arch = self.coerce(arch)
        out = [OFAResNetArch(r, arch.d, arch.e, arch.w) for r in self._resolution_neighbors(arch.r)]
        d0 = 2 if arch.d[0] == 0 else 0
        out.append(OFAResNetArch(arch.r, (d0, *arch.d[1:]), arch.e, arch.w))  # type: ignore[arg-type]
        mids = specs.resnet_stem_mids()
        for i, v in enumerate(arch.w):
            for v2 in WIDTHS:
                if v2 != v and not (i == 0 and mids[v2] == mids[v]):  # same stem width: the same network
                    out.append(OFAResNetArch(arch.r, arch.d, arch.e, arch.w[:i] + (v2,) + arch.w[i + 1 :]))
        for s, stage in enumerate(arch.e):

            def with_stage(values: tuple[float, ...], depth: int, s: int = s) -> OFAResNetArch:
                d = arch.d[: s + 1] + (depth,) + arch.d[s + 2 :]
                return OFAResNetArch(arch.r, d, arch.e[:s] + (values,) + arch.e[s + 1 :], arch.w)  # type: ignore[arg-type]

            depth = arch.d[s + 1]
            for j, v in enumerate(stage):
                for v2 in EXPANDS:
                    if v2 != v:
                        out.append(with_stage(stage[:j] + (v2,) + stage[j + 1 :], depth))
            if depth + 1 in DEPTHS:
                out.append(with_stage(stage + stage[-1:], depth + 1))
            if depth - 1 in DEPTHS:
                out.append(with_stage(stage[:-1], depth - 1))
        return out

    def size(self) -> int:
        """Number of distinct subnets times the number of resolutions.

        ``w[0]`` counts once per distinct stem middle width (two of its three indices give 24 channels).
        """
        total = len(STEM_DEPTHS) * len(set(specs.resnet_stem_mids())) * len(WIDTHS) ** 5 * len(self.resolutions)
        for base in BASE:
            total *= sum(len(EXPANDS) ** (base + d) for d in DEPTHS)
        return total

    def example(self) -> OFAResNetArch:
        """GENNAPE's Appendix A configuration (resolution 160)."""
        e = [0.2, 0.25, 0.35, 0.25, 0.2, 0.35, 0.25, 0.25, 0.35, 0.2, 0.25, 0.25, 0.2, 0.35, 0.25, 0.2, 0.35, 0.25]
        r = 160 if 160 in self.resolutions else self.resolutions[0]
        return self.from_json({"r": r, "d": [2, 0, 1, 2, 0], "e": e, "w": [0, 1, 2, 0, 1, 2]})

    def canonical_hash(self, arch: Any) -> str:
        """As for the other OFA families, with ``w[0]`` replaced by the lowest index of the same stem middle
        width: ``w[0]`` 0 and 1 both give 24 channels, so those subnets are one network and share the hash."""
        arch = self.coerce(arch)
        mids = specs.resnet_stem_mids()
        w0 = mids.index(mids[arch.w[0]])
        return super().canonical_hash(OFAResNetArch(arch.r, arch.d, arch.e, (w0, *arch.w[1:])))  # type: ignore[arg-type]

    # ------------------------------------------------------------------ networks and graphs
    def to_module(
        self, arch: Any, num_classes: int | None = None, dropout_rate: float | None = None, **kwargs: Any
    ) -> Any:
        """The subnet as a PyTorch module (``init="he_fout"`` as OFA, or ``"torch"``)."""
        from gennape_naslib.search_spaces._ofa_nets import build_resnet

        options = self._module_kwargs(num_classes, dropout_rate, kwargs)
        plan = self._plan(self.coerce(arch), options["num_classes"], options["dropout"])
        return build_resnet(plan, options["init"])

    def to_cg(self, arch: Any) -> Any:
        """The computation graph, built directly (equal to ``from_torch(to_module(arch))``)."""
        from gennape_naslib.search_spaces._ofa_cg import resnet_cg

        arch = self.coerce(arch)
        return resnet_cg(
            self._plan(arch, self.num_classes, self.dropout_rate), arch.r, f"{self.name}:{self.to_str(arch)}"
        )

    def _compute_counts(self, arch: Any) -> tuple[int, int]:
        return specs.resnet_counts(self._plan(arch, self.num_classes, 0.0), arch.r)

    # ------------------------------------------------------------------ ConfigSpace
    def configspace(self, seed: int | None = None) -> Any:
        """``r``, ``d_0..d_4``, ``w_0..w_5`` and ``e_s_j`` per stage slot, active only if ``BASE[s] + d_{s+1} > j``."""
        from ConfigSpace import Categorical, ConfigurationSpace, InCondition

        cs = ConfigurationSpace(seed=seed)
        cs.add(Categorical("r", list(self.resolutions)))
        cs.add(Categorical("d_0", list(STEM_DEPTHS)))
        cs.add([Categorical(f"w_{i}", list(WIDTHS)) for i in range(6)])
        for s, base in enumerate(BASE):
            depth = Categorical(f"d_{s + 1}", list(DEPTHS))
            cs.add(depth)
            for j in range(base + max(DEPTHS)):
                e = Categorical(f"e_{s}_{j}", list(EXPANDS))
                cs.add(e)
                if j >= base:
                    cs.add(InCondition(e, depth, [d for d in DEPTHS if base + d > j]))
        return cs

    def from_configuration(self, config: Any) -> OFAResNetArch:
        """The architecture of a configuration of :meth:`configspace`."""
        values = dict(config)
        try:
            d = [int(values[f"d_{i}"]) for i in range(5)]
            e = [EXPANDS[0]] * 18
            for s, base in enumerate(BASE):
                for j in range(base + d[s + 1]):
                    e[SLOT_STARTS[s] + j] = float(values[f"e_{s}_{j}"])
            obj = {"r": int(values["r"]), "d": d, "e": e, "w": [int(values[f"w_{i}"]) for i in range(6)]}
        except KeyError as exc:
            raise ArchValidationError(self.name, "config", values, f"missing hyperparameter {exc.args[0]!r}") from None
        return self.from_json(obj)

    def info(self) -> dict[str, Any]:
        """Family summary, with the width-multiplier choices the ``w`` indices select."""
        out = super().info()
        out["width_mult"] = "w indices select (0.65, 0.8, 1.0) per stem part and stage"
        out["encodings"] = {"json": '{"r": 160, "d": [5 ints], "e": [18 floats], "w": [6 ints]}'}
        return out
