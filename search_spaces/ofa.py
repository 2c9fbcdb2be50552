"""Once-for-All subnet families: ``ofa_pn`` (ProxylessNAS), ``ofa_mbv3`` (MobileNetV3), ``ofa_resnet`` (ResNet-50).

Networks (GENNAPE_FACTS decision 3: the real benchmark networks). :meth:`to_module` builds the
static subnet that the official OFA code extracts from its supernet, written here from its facts:

* **OFA-MobileNetV3** (``OFAMobileNetV3(width_mult=1.0)``, registry default **width 1.0**, the width
  of the public OFA-MBv3 supernet whose subnet accuracies are in
  ``../shared/data/ofa_mbv3/ofa_mbv3_mit_2610.csv``; GENNAPE used 1.2): stem 3x3/2 conv -> BN ->
  h-swish; a first MBConv of expand ratio 1 (ReLU, residual when stem and block widths agree); five
  stages of 2-4 MBConv blocks (strides 2, 2, 2, 1, 2; ReLU, ReLU, h-swish x3; SE in stages 2, 4 and 5)
  at widths ``make_divisible((24, 40, 80, 112, 160) * w, 8)``; head 1x1 conv -> BN -> h-swish
  (960 w) -> global mean -> 1x1 conv without bias or BN -> h-swish (1280 w) -> dropout 0.1 -> linear.
* **OFA-ProxylessNAS** (``OFAProxylessNAS(width_mult=1.3)``, registry default **width 1.3**, GENNAPE's):
  stem 3x3/2 conv -> BN -> ReLU6; a first MBConv of expand ratio 1 without shortcut; six stages
  (strides 2, 2, 2, 1, 2, 1; the last of exactly one block) of ReLU6 MBConv blocks at widths
  ``make_divisible((24, 40, 80, 96, 192, 320) * w, 8)``; head 1x1 conv -> BN -> ReLU6
  (``make_divisible(1280 w, 8)``) -> global mean -> dropout 0.1 -> linear.
* **OFA-ResNet-50** (``OFAResNet50()``, the standard OFA supernet: depth choices {0, 1, 2}, expand
  ratios {0.2, 0.25, 0.35}, width multipliers (0.65, 0.8, 1.0) chosen by the ``w`` indices): see
  :mod:`._ofa_resnet`.

MBConv: [1x1 conv -> BN -> act] (middle width ``make_divisible(round(C_in * e), 8)``) -> depthwise
kxk (padding k // 2) -> BN -> act [-> SE: mean -> 1x1 conv (bias) -> ReLU -> 1x1 conv (bias) ->
h-sigmoid, times the tensor; squeeze width ``make_divisible(C_mid // 4, 8)``] -> 1x1 conv -> BN
[+ input when stride 1 and C_in = C_out]. 1000 classes by default; the resolution ``r`` is part of
the architecture (``module_input_shape(arch) == (3, r, r)``).

Deviations from GENNAPE's original CGs (its TF models, GENNAPE_FACTS 3.4-3.6): the node, weighted
node, edge and op counts of all Appendix A configurations are reproduced exactly (no identity-node
difference: the MBv3/PN heads have dropout, the ResNet head has none, as in GENNAPE). Only
resolutions differ where TF's operand order differed: the SE ``mul`` takes the block tensor as its
first input (OFA computes ``x * gate``), so its node shows the feature map's H and W instead of 1x1.

Encodings of ``ofa_pn`` / ``ofa_mbv3`` (``from_json`` accepts both, ``to_json`` writes the first):

* stage form ``{"r": 224, "stages": [["e3k5", "e6k3"], ...]}``: per stage the active blocks as
  ``e{expand}k{kernel}`` (GENNAPE's ``mbconv3_e3_k5`` / ``mbconv2_e3_k5`` are accepted too);
* the OFA tool dict ``{"ks": [...], "e": [...], "d": [...], "r": ...}`` (see :meth:`to_ofa_dict`):
  layer slot ``4 * s + j`` is block ``j`` of stage ``s``; MBv3 has 20 slots and 5 depths, PN 21 slots
  and 6 depths (the last always 1) as OFA's ``set_active_subnet`` takes them. ``image_size`` may
  replace ``r`` and ``r`` may be a one-element list (OFA's tutorial); a missing resolution means 224.
  Slots beyond a stage's depth are ignored (0 accepted there, as OFA's arch encoder writes) and
  written as kernel 3 / expand 3.
* text form (``to_str``/``from_str``): ``r224:e3k5-e6k3|e4k7-e3k3-e6k5|...`` (stages separated by
  ``|``, blocks by ``-``); ``from_str`` also accepts either JSON encoding.

Allowed values: kernel {3, 5, 7}, expand {3, 4, 6}, depth {2, 3, 4} (PN's last stage: 1); the
resolution a multiple of 4 in [128, 224] (OFA's search lists; the MBv3 labels use 128, 160 and 192).
:meth:`sample` draws every choice uniformly as OFA's ``sample_active_subnet`` does, plus a uniform
resolution. ``canonical_hash`` depends only on active layers (and on a non-default width).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from gennape_naslib.search_spaces import _ofa_specs as specs
from gennape_naslib.search_spaces._ofa_encoding import OFA_RESOLUTIONS, OFAFamilyBase, as_int, as_list, as_resolution
from gennape_naslib.search_spaces._ofa_resnet import OFAResNet50, OFAResNetArch
from gennape_naslib.search_spaces.base import ArchValidationError, as_rng, register_family

__all__ = [
    "OFAMobileArch",
    "OFAMobileNetV3",
    "OFAMobileNetV3Arch",
    "OFAProxylessArch",
    "OFAProxylessNAS",
    "OFAResNet50",
    "OFAResNetArch",
]

KERNELS = (3, 5, 7)
EXPANDS = (3, 4, 6)
DEPTHS = (2, 3, 4)
_BLOCK_RE = re.compile(r"^(?:mbconv(?P<v>[23])_)?e(?P<e>\d+)_?k(?P<k>\d+)$")

Stages = tuple[tuple[tuple[int, int], ...], ...]


@dataclass(frozen=True)
class OFAMobileArch:
    """An OFA mobile subnet: resolution and, per stage, the ``(expand, kernel)`` of each active block."""

    r: int
    stages: Stages

    @property
    def depths(self) -> tuple[int, ...]:
        """Active blocks per stage."""
        return tuple(len(s) for s in self.stages)


@dataclass(frozen=True)
class OFAProxylessArch(OFAMobileArch):
    """An OFA-ProxylessNAS subnet (six stages, the last of one block)."""


@dataclass(frozen=True)
class OFAMobileNetV3Arch(OFAMobileArch):
    """An OFA-MobileNetV3 subnet (five stages)."""


class _OFAMobileFamily(OFAFamilyBase):
    """Shared adapter of the two OFA mobile spaces (see the module docstring).

    Args:
        width_mult: Width multiplier of the network (default: the family's, 1.0 for MBv3, 1.3 for PN).
        resolutions: Input resolutions of the space (default: 128..224 in steps of 4).
        dropout_rate: Dropout before the classifier (default 0.1, as OFA trains them); it appears as
            one ``identity`` node in :meth:`to_cg`.
    """

    Arch: ClassVar[type] = OFAMobileArch
    stage_depths: ClassVar[tuple[tuple[int, ...], ...]] = ()
    block_prefix: ClassVar[str] = ""
    default_width: ClassVar[float] = 1.0

    def __init__(
        self,
        width_mult: float | None = None,
        resolutions: tuple[int, ...] = OFA_RESOLUTIONS,
        dropout_rate: float | None = None,
    ) -> None:
        super().__init__(resolutions, dropout_rate)
        self.width_mult = self.default_width if width_mult is None else float(width_mult)
        if not self.width_mult > 0:
            raise ValueError(f"{type(self).__name__}: width_mult must be positive, got {width_mult!r}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(width_mult={self.width_mult:g})"

    @property
    def _slot_starts(self) -> list[int]:
        starts, pos = [], 0
        for allowed in self.stage_depths:
            starts.append(pos)
            pos += max(allowed)
        return starts

    @property
    def _n_slots(self) -> int:
        return sum(max(a) for a in self.stage_depths)

    def _plan(self, arch: OFAMobileArch, num_classes: int, dropout: float) -> specs.MobilePlan:
        raise NotImplementedError

    def _hash_tag(self) -> str:
        return "" if self.width_mult == self.default_width else f"@w{self.width_mult:g}"

    # ------------------------------------------------------------------ encodings
    def _block(self, field: str, value: Any) -> tuple[int, int]:
        if isinstance(value, str):
            m = _BLOCK_RE.match(value.strip())
            if m and m.group("v") in (None, self.block_prefix[-1]):
                return self._check_block(field, int(m.group("e")), int(m.group("k")))
        elif isinstance(value, (list, tuple)) and len(value) == 2:
            pair = (as_int(self.name, field, value[0]), as_int(self.name, field, value[1]))
            return self._check_block(field, *pair)
        raise ArchValidationError(
            self.name, field, value, f"expected a block name like 'e3k5' or '{self.block_prefix}_e3_k5'"
        )

    def _check_block(self, field: str, expand: int, kernel: int) -> tuple[int, int]:
        if expand not in EXPANDS:
            raise ArchValidationError(self.name, field, f"e{expand}k{kernel}", f"expand ratio must be in {EXPANDS}")
        if kernel not in KERNELS:
            raise ArchValidationError(self.name, field, f"e{expand}k{kernel}", f"kernel size must be in {KERNELS}")
        return (expand, kernel)

    def _make(self, r: int, stages: Stages) -> OFAMobileArch:
        arch = self.Arch(r, stages)
        self.validate(arch)
        return arch

    def from_json(self, obj: Any) -> OFAMobileArch:
        """Parse the stage form or the OFA tool dict (see the module docstring)."""
        if isinstance(obj, self.Arch):
            self.validate(obj)
            return obj
        if not isinstance(obj, dict):
            raise ArchValidationError(self.name, "arch", obj, "expected a dict with 'stages' or 'ks'/'e'/'d'")
        if "stages" in obj:
            extra = set(obj) - {"r", "image_size", "stages"}
            if extra:
                raise ArchValidationError(self.name, "arch", sorted(map(str, extra)), "unknown keys in the stage form")
            r = as_resolution(self.name, obj, self.resolutions)
            raw = as_list(self.name, "stages", obj["stages"], len(self.stage_depths))
            stages = []
            for s, stage in enumerate(raw):
                blocks = as_list(self.name, f"stages[{s}]", stage)
                stages.append(tuple(self._block(f"stages[{s}][{j}]", b) for j, b in enumerate(blocks)))
            return self._make(r, tuple(stages))
        if {"ks", "e", "d"} & set(obj):
            return self.from_ofa_dict(obj)
        raise ArchValidationError(
            self.name, "arch", sorted(map(str, obj)), "expected the key 'stages' or 'ks', 'e' and 'd'"
        )

    def from_ofa_dict(self, obj: dict[str, Any]) -> OFAMobileArch:
        """Parse OFA's ``{"ks", "e", "d", "r"}`` dict; slots beyond each stage's depth are ignored."""
        if not isinstance(obj, dict):
            raise ArchValidationError(self.name, "arch", obj, "expected a dict with 'ks', 'e' and 'd'")
        missing = [k for k in ("ks", "e", "d") if k not in obj]
        if missing:
            raise ArchValidationError(self.name, "arch", sorted(map(str, obj)), f"the OFA dict lacks {missing}")
        extra = set(obj) - {"ks", "e", "d", "r", "image_size", "wid"}
        if extra:
            raise ArchValidationError(self.name, "arch", sorted(map(str, extra)), "unknown keys in the OFA dict")
        r = as_resolution(self.name, obj, self.resolutions)
        n = self._n_slots
        ks = [as_int(self.name, f"ks[{i}]", v) for i, v in enumerate(as_list(self.name, "ks", obj["ks"], n))]
        es = [as_int(self.name, f"e[{i}]", v) for i, v in enumerate(as_list(self.name, "e", obj["e"], n))]
        ds = [
            as_int(self.name, f"d[{i}]", v)
            for i, v in enumerate(as_list(self.name, "d", obj["d"], len(self.stage_depths)))
        ]
        stages = []
        for s, (start, d) in enumerate(zip(self._slot_starts, ds)):
            if d not in self.stage_depths[s]:
                raise ArchValidationError(
                    self.name, f"d[{s}]", d, f"depth of stage {s} must be in {self.stage_depths[s]}"
                )
            for i in range(start + d, start + max(self.stage_depths[s])):  # inactive slots
                if ks[i] not in (0, *KERNELS):
                    raise ArchValidationError(self.name, f"ks[{i}]", ks[i], f"kernel size must be in {KERNELS}")
                if es[i] not in (0, *EXPANDS):
                    raise ArchValidationError(self.name, f"e[{i}]", es[i], f"expand ratio must be in {EXPANDS}")
            stages.append(tuple(self._check_block(f"ks/e[{i}]", es[i], ks[i]) for i in range(start, start + d)))
        return self._make(r, tuple(stages))

    def to_json(self, arch: OFAMobileArch) -> dict[str, Any]:
        """The stage form ``{"r": ..., "stages": [["e3k5", ...], ...]}``."""
        return {"r": arch.r, "stages": [[f"e{e}k{k}" for e, k in stage] for stage in arch.stages]}

    def to_ofa_dict(self, arch: Any) -> dict[str, Any]:
        """OFA's ``{"ks", "e", "d", "r"}`` dict; inactive slots hold kernel 3 and expand 3."""
        arch = self.coerce(arch)
        ks, es = [3] * self._n_slots, [3] * self._n_slots
        for start, stage in zip(self._slot_starts, arch.stages):
            for j, (e, k) in enumerate(stage):
                ks[start + j], es[start + j] = k, e
        return {"ks": ks, "e": es, "d": list(arch.depths), "r": arch.r}

    def to_str(self, arch: OFAMobileArch) -> str:
        """Compact text ``r224:e3k5-e6k3|e4k7-...``."""
        body = "|".join("-".join(f"e{e}k{k}" for e, k in stage) for stage in arch.stages)
        return f"r{arch.r}:{body}"

    def from_str(self, text: str) -> OFAMobileArch:
        """Parse the compact text form, or either JSON encoding."""
        if not isinstance(text, str):
            raise ArchValidationError(self.name, "text", text, "expected a string")
        stripped = text.strip()
        if stripped.startswith("{"):
            try:
                return self.from_json(json.loads(stripped))
            except json.JSONDecodeError as exc:
                raise ArchValidationError(self.name, "text", text, f"not valid JSON ({exc.msg})") from None
        m = re.fullmatch(r"r(\d+):(.+)", stripped)
        if not m:
            raise ArchValidationError(self.name, "text", text, "expected 'r<res>:e3k5-e6k3|...' or JSON")
        stages = [stage.split("-") for stage in m.group(2).split("|")]
        return self.from_json({"r": int(m.group(1)), "stages": stages})

    # ------------------------------------------------------------------ validity
    def validate(self, arch: Any) -> None:
        """Check type, resolution, number of stages, depths and every block."""
        if not isinstance(arch, self.Arch):
            raise ArchValidationError(self.name, "arch", arch, f"expected a {self.Arch.__name__}")
        self._check_resolution(arch.r)
        if not isinstance(arch.stages, tuple) or len(arch.stages) != len(self.stage_depths):
            raise ArchValidationError(self.name, "stages", arch.stages, f"expected {len(self.stage_depths)} stages")
        for s, stage in enumerate(arch.stages):
            if not isinstance(stage, tuple) or len(stage) not in self.stage_depths[s]:
                raise ArchValidationError(
                    self.name, f"stages[{s}]", stage, f"depth of stage {s} must be in {self.stage_depths[s]}"
                )
            for j, block in enumerate(stage):
                ok = isinstance(block, tuple) and len(block) == 2 and all(type(v) is int for v in block)
                if not ok:
                    raise ArchValidationError(self.name, f"stages[{s}][{j}]", block, "expected (expand, kernel) ints")
                self._check_block(f"stages[{s}][{j}]", *block)

    # ------------------------------------------------------------------ search-space operations
    def sample(self, rng: Any = None) -> OFAMobileArch:
        """Uniform choices per stage depth, block kernel and expand ratio, and resolution."""
        rng = as_rng(rng)
        r = self._sample_resolution(rng)
        stages = []
        for allowed in self.stage_depths:
            d = allowed[int(rng.integers(len(allowed)))]
            blocks = [(EXPANDS[int(rng.integers(3))], KERNELS[int(rng.integers(3))]) for _ in range(d)]
            stages.append(tuple(blocks))
        return self.Arch(r, tuple(stages))

    def neighbors(self, arch: Any) -> list[OFAMobileArch]:
        """One kernel or expand ratio changed, a stage one block deeper (repeating its last block)
        or shallower, or the next smaller/larger resolution."""
        arch = self.coerce(arch)
        out = [self.Arch(r, arch.stages) for r in self._resolution_neighbors(arch.r)]
        stages = [list(s) for s in arch.stages]

        def with_stage(s: int, blocks: list[tuple[int, int]]) -> OFAMobileArch:
            new = list(arch.stages)
            new[s] = tuple(blocks)
            return self.Arch(arch.r, tuple(new))

        for s, blocks in enumerate(stages):
            for j, (e, k) in enumerate(blocks):
                for k2 in KERNELS:
                    if k2 != k:
                        out.append(with_stage(s, blocks[:j] + [(e, k2)] + blocks[j + 1 :]))
                for e2 in EXPANDS:
                    if e2 != e:
                        out.append(with_stage(s, blocks[:j] + [(e2, k)] + blocks[j + 1 :]))
            if len(blocks) + 1 in self.stage_depths[s]:
                out.append(with_stage(s, blocks + [blocks[-1]]))
            if len(blocks) - 1 in self.stage_depths[s]:
                out.append(with_stage(s, blocks[:-1]))
        return out

    def size(self) -> int:
        """Number of distinct subnets times the number of resolutions."""
        total = len(self.resolutions)
        for allowed in self.stage_depths:
            total *= sum((len(KERNELS) * len(EXPANDS)) ** d for d in allowed)
        return total

    # ------------------------------------------------------------------ networks and graphs
    def to_module(
        self, arch: Any, num_classes: int | None = None, dropout_rate: float | None = None, **kwargs: Any
    ) -> Any:
        """The subnet as a PyTorch module (``init="he_fout"`` as OFA, or ``"torch"``)."""
        from gennape_naslib.search_spaces._ofa_nets import build_mobile

        options = self._module_kwargs(num_classes, dropout_rate, kwargs)
        plan = self._plan(self.coerce(arch), options["num_classes"], options["dropout"])
        return build_mobile(plan, options["init"])

    def to_cg(self, arch: Any) -> Any:
        """The computation graph, built directly (equal to ``from_torch(to_module(arch))``)."""
        from gennape_naslib.search_spaces._ofa_cg import mobile_cg

        arch = self.coerce(arch)
        return mobile_cg(
            self._plan(arch, self.num_classes, self.dropout_rate), arch.r, f"{self.name}:{self.to_str(arch)}"
        )

    def _compute_counts(self, arch: Any) -> tuple[int, int]:
        return specs.mobile_counts(self._plan(arch, self.num_classes, 0.0), arch.r)

    # ------------------------------------------------------------------ ConfigSpace
    def configspace(self, seed: int | None = None) -> Any:
        """``r``, ``d_s`` and ``ks_s_j`` / ``e_s_j`` per slot; slot ``j`` is active only if ``d_s > j``."""
        from ConfigSpace import Categorical, ConfigurationSpace, InCondition

        cs = ConfigurationSpace(seed=seed)
        cs.add(Categorical("r", list(self.resolutions)))
        for s, allowed in enumerate(self.stage_depths):
            depth = Categorical(f"d_{s}", list(allowed)) if len(allowed) > 1 else None
            if depth is not None:
                cs.add(depth)
            for j in range(max(allowed)):
                ks, e = Categorical(f"ks_{s}_{j}", list(KERNELS)), Categorical(f"e_{s}_{j}", list(EXPANDS))
                cs.add([ks, e])
                if depth is not None and j >= min(allowed):
                    deeper = [d for d in allowed if d > j]
                    cs.add([InCondition(ks, depth, deeper), InCondition(e, depth, deeper)])
        return cs

    def from_configuration(self, config: Any) -> OFAMobileArch:
        """The architecture of a configuration of :meth:`configspace`."""
        values = dict(config)
        try:
            stages = []
            for s, allowed in enumerate(self.stage_depths):
                d = int(values[f"d_{s}"]) if len(allowed) > 1 else allowed[0]
                stages.append([[int(values[f"e_{s}_{j}"]), int(values[f"ks_{s}_{j}"])] for j in range(d)])
            r = int(values["r"])
        except KeyError as exc:
            raise ArchValidationError(self.name, "config", values, f"missing hyperparameter {exc.args[0]!r}") from None
        return self.from_json({"r": r, "stages": stages})

    def info(self) -> dict[str, Any]:
        """Family summary, with the width multiplier this adapter uses."""
        out = super().info()
        out["width_mult"] = self.width_mult
        out["encodings"] = {
            "json": '{"r": 224, "stages": [["e3k5", "e6k3"], ...]}',
            "ofa_dict": '{"ks": [...], "e": [...], "d": [...], "r": 224}',
            "text": "r224:e3k5-e6k3|e4k7-e3k3-e6k5|...",
        }
        return out


_APPENDIX_A_STAGES = (
    ((3, 5), (6, 3)),
    ((4, 7), (3, 3), (6, 5)),
    ((3, 3), (3, 3)),
    ((6, 3), (4, 5), (3, 3), (3, 7)),
    ((3, 3), (3, 3)),
    ((6, 7),),
)


@register_family("ofa_pn")
class OFAProxylessNAS(_OFAMobileFamily):
    """OFA ProxylessNAS subnets (default width multiplier 1.3, as GENNAPE used)."""

    Arch: ClassVar[type] = OFAProxylessArch
    stage_depths: ClassVar[tuple[tuple[int, ...], ...]] = (DEPTHS,) * 5 + ((1,),)
    block_prefix: ClassVar[str] = "mbconv2"
    default_width: ClassVar[float] = 1.3

    def _plan(self, arch: OFAMobileArch, num_classes: int, dropout: float) -> specs.MobilePlan:
        return specs.proxyless_plan(arch.stages, self.width_mult, num_classes, dropout)

    def example(self) -> OFAProxylessArch:
        """GENNAPE's Appendix A configuration at resolution 224."""
        return OFAProxylessArch(224 if 224 in self.resolutions else self.resolutions[-1], _APPENDIX_A_STAGES)


@register_family("ofa_mbv3")
class OFAMobileNetV3(_OFAMobileFamily):
    """OFA MobileNetV3 subnets (default width multiplier 1.0, the width of the public labels)."""

    Arch: ClassVar[type] = OFAMobileNetV3Arch
    stage_depths: ClassVar[tuple[tuple[int, ...], ...]] = (DEPTHS,) * 5
    block_prefix: ClassVar[str] = "mbconv3"
    default_width: ClassVar[float] = 1.0

    def _plan(self, arch: OFAMobileArch, num_classes: int, dropout: float) -> specs.MobilePlan:
        return specs.mbv3_plan(arch.stages, self.width_mult, num_classes, dropout)

    def example(self) -> OFAMobileNetV3Arch:
        """GENNAPE's Appendix A configuration (the first five stages) at resolution 192."""
        return OFAMobileNetV3Arch(192 if 192 in self.resolutions else self.resolutions[-1], _APPENDIX_A_STAGES[:5])


register_family("ofa_resnet")(OFAResNet50)
