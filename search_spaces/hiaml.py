"""HiAML: GENNAPE's family of networks built from 14 GA-NAS blocks (GENNAPE_FACTS 3.7).

Encoding: a list of 4 block names, one per stage, each from :data:`BLOCKS` (``"hiaml_a22"``, ...);
14^4 = 38,416 networks, all enumerable. Text form: the short names joined by ``-``
(``"a22-z-b23-src0"``); the JSON list and GENNAPE's CG name (``"HiAMLNet_a22_z_b23_src0"``, also
the name :meth:`HiAML.to_cg` gives) are accepted as text too.

Network (GENNAPE's TensorFlow ``HiAMLNet``, which produced the labels and the CGs; 32x32 input, 10
classes): stem conv3x3 stride 2 (3 -> 64, no bias) -> BN -> ReLU; 4 stages of 2 copies of the
stage's block; the first block of stages 1 and 3 reduces (stride 2, channels x2), so widths are
64, 128, 128, 256 at 16, 8, 8, 4 pixels; global average pool -> dense(10, bias). No dropout, so no
``identity`` node (as in GENNAPE's HiAML CGs).

Block notation (all convs without bias, followed by BN): ``A`` = conv -> BN -> ReLU, ``B`` = conv ->
BN, ``IS`` = conv 1x3 (stride s in both axes) -> BN -> ReLU6 -> conv 3x1 -> BN -> ReLU6, ``P`` = a
1x1 projection ``B`` (stride s) when s = 2 or C_in != C_out, else the identity; every block ends
with a plain ReLU. The activations are the TF blocks' (ReLU in ``A`` and at the block output,
ReLU6 inside ``IS``); GENNAPE's PyTorch twin uses ReLU6 everywhere and is not what the labels
describe.

Deviations from the original CGs: none in the graph (Appendix A counts are reproduced exactly for
all 14 blocks). Numerically, stride-2 layers pad symmetrically (PyTorch) instead of bottom/right
(TF "same"); see :mod:`gennape_naslib.search_spaces._gennape_blocks`.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from gennape_naslib.search_spaces._gennape_blocks import Program, ProgramFamily
from gennape_naslib.search_spaces.base import ArchValidationError, as_rng, register_family

if TYPE_CHECKING:  # pragma: no cover
    pass

__all__ = ["BLOCKS", "HiAML", "HiAMLArch", "build_program"]

#: The 14 block names in GENNAPE's order.
BLOCKS: tuple[str, ...] = (
    "hiaml_z",
    "hiaml_a22",
    "hiaml_b23",
    "hiaml_j30",
    "hiaml_g30",
    "hiaml_r30",
    "hiaml_l20",
    "hiaml_t20",
    "hiaml_t31",
    "hiaml_src0",
    "hiaml_src1",
    "hiaml_src3",
    "hiaml_src7",
    "hiaml_src8",
)
N_STAGES = 4
BLOCKS_PER_STAGE = 2
REDUCTION_STAGES = (1, 3)
C_INIT = 64


#: TF batch norm (momentum 0.9, epsilon 1e-3) in PyTorch terms.
BN = {"bn_momentum": 0.1, "bn_eps": 1e-3}


@dataclass(frozen=True)
class HiAMLArch:
    """A HiAML network: the block of each of the 4 stages (full names, e.g. ``"hiaml_a22"``)."""

    blocks: tuple[str, ...]


# ---------------------------------------------------------------------- blocks
def _a(p: Program, x: int, c: int, k: int, s: int = 1, name: str = "a") -> int:
    return p.cba(x, c, k, s, act="relu", name=name)


def _b(p: Program, x: int, c: int, k: int, s: int = 1, name: str = "b") -> int:
    return p.cba(x, c, k, s, act=None, name=name)


def _is(p: Program, x: int, c: int, s: int = 1, name: str = "inception_s") -> int:
    y = p.cba(x, c, (1, 3), s, act="relu6", name=f"{name}_conv1")
    return p.cba(y, c, (3, 1), 1, act="relu6", name=f"{name}_conv2")


def _proj(p: Program, x: int, c_in: int, c: int, s: int, name: str = "proj") -> int:
    return _b(p, x, c, 1, s, name=name) if (s == 2 or c_in != c) else x


@functools.cache
def _block_program(block: str, c_in: int, c: int, s: int) -> Program:
    p = Program(c_in, key=("hiaml", block, c_in, c, s), **BN)
    x = 0
    kind = block[len("hiaml_") :]
    if kind == "a22":
        o1 = _a(p, x, c, 3, s, "conv33_1")
        o3 = _b(p, _a(p, o1, c, 1, name="conv11_2"), c, 1, name="conv11_3")
        out = p.add(o1, o3)
    elif kind == "z":
        o1 = _a(p, x, c, 3, s, "conv33_1")
        out = p.add(o1, _is(p, o1, c, name="inception_s_2"))
    elif kind == "b23":
        i3 = _proj(p, x, c_in, c, s, "proj_3")
        o1 = _is(p, x, c, s, "inception_s_1")
        out = p.add(i3, _is(p, o1, c, name="inception_s_2"))
    elif kind == "j30":
        i3 = _proj(p, x, c_in, c, s, "proj_3")
        o1 = _a(p, x, c, 3, s, "conv33_1")
        out = p.add(i3, _is(p, o1, c, name="inception_s_2"))
    elif kind == "g30":
        i2 = _proj(p, x, c_in, c, s, "proj_2")
        o1 = _is(p, x, c, s, "inception_s_1")
        o2 = _is(p, p.add(i2, o1), c, name="inception_s_2")
        out = p.add(o1, _b(p, o2, c, 1, name="conv11_3"))
    elif kind == "r30":
        i2 = _proj(p, x, c_in, c, s, "proj_2")
        i4 = _proj(p, x, c_in, c, s, "proj_4")
        o1 = _is(p, x, c, s, "inception_s_1")
        o2 = _b(p, p.add(i2, o1), c, 1, name="conv11_2")
        o3 = _is(p, o1, c, name="inception_s_3")
        out = p.add(p.add(i4, o2), o3)
    elif kind == "l20":
        out = _b(p, _a(p, x, c, 3, s, "conv33_1"), c, 1, name="conv11_2")
    elif kind == "t20":
        out = p.add(_b(p, x, c, 1, s, "conv11_1"), _is(p, x, c, s, "inception_s_2"))
    elif kind == "t31":
        i3 = _proj(p, x, c_in, c, s, "proj_3")
        i4 = _proj(p, x, c_in, c, s, "proj_4")
        o1 = _is(p, x, c, s, "inception_s_1")
        o2 = _a(p, o1, c, 1, name="conv11_2")
        o3 = _is(p, p.add(i3, o2), c, name="inception_s_3")
        out = p.add(p.add(i4, o2), o3)
    elif kind == "src0":
        y = _a(p, x, c, 1, s, "conv11_1")
        out = p.add(y, _b(p, _a(p, y, c, 3, name="conv33_2"), c, 3, name="conv33_3"))
    elif kind == "src1":
        sc = _a(p, x, c, 1, s, "conv11_1")
        out = p.add(sc, _b(p, _a(p, x, c_in, 3, name="conv33_2"), c, 3, s, "conv33_3"))
    elif kind == "src3":
        sc = _b(p, x, c, 1, s, "conv11_1")
        o3 = _a(p, _a(p, x, c_in, 1, name="conv11_2"), c, 3, s, "conv33_3")
        out = p.add(sc, _b(p, o3, c, 1, name="conv11_4"))
    elif kind == "src7":
        y = _b(p, x, c, 1, s, "conv11_1")
        out = p.add(y, _is(p, _is(p, y, c, name="inception_s_1"), c, name="inception_s_2"))
    elif kind == "src8":
        y = _b(p, x, c, 1, s, "conv11_1")
        out = p.add(y, _b(p, _is(p, y, c, name="inception_s_2"), c, 1, name="conv11_3"))
    else:  # pragma: no cover - validated before
        raise ValueError(f"unknown HiAML block {block!r}")
    p.act(out, "relu", name="relu")
    return p


def build_program(arch: HiAMLArch, num_classes: int = 10) -> Program:
    """The layer program of ``arch`` (stem, 8 blocks, head)."""
    p = Program(3, **BN)
    x = p.cba(0, C_INIT, 3, 2, act="relu", name="stem")
    c = C_INIT
    for si, block in enumerate(arch.blocks):
        for bi in range(BLOCKS_PER_STAGE):
            reduce = si in REDUCTION_STAGES and bi == 0
            c_out = 2 * c if reduce else c
            x = p.sub(x, _block_program(block, c, c_out, 2 if reduce else 1), f"stage{si}_block{bi}")
            c = c_out
    p.linear(p.mean(x), num_classes)
    return p


# ---------------------------------------------------------------------- adapter
def _short(name: str) -> str:
    return name[len("hiaml_") :]


@register_family("hiaml")
class HiAML(ProgramFamily):
    """HiAML: 4 stages of GA-NAS blocks (14 choices per stage, 38,416 networks), CIFAR-10."""

    Arch = HiAMLArch
    input_shape = (3, 32, 32)
    num_classes = 10

    # ------------------------------------------------------------------ encodings
    def _normalise(self, value: Any, field: str) -> str:
        if not isinstance(value, str):
            raise ArchValidationError(self.name, field, value, "a block name must be a string")
        name = value.strip().lower()
        if not name.startswith("hiaml_"):
            name = "hiaml_" + name
        if name not in BLOCKS:
            raise ArchValidationError(self.name, field, value, f"unknown block; choose from {list(BLOCKS)}")
        return name

    def from_json(self, obj: Any) -> HiAMLArch:
        """Parse a list of 4 block names (``"hiaml_a22"``; the short ``"a22"`` is accepted too)."""
        if not isinstance(obj, (list, tuple)):
            raise ArchValidationError(self.name, "blocks", obj, "expected a list of 4 block names")
        if len(obj) != N_STAGES:
            raise ArchValidationError(self.name, "blocks", obj, f"expected {N_STAGES} block names, got {len(obj)}")
        return HiAMLArch(tuple(self._normalise(v, f"blocks[{i}]") for i, v in enumerate(obj)))

    def to_json(self, arch: HiAMLArch) -> list[str]:
        """The list of 4 full block names."""
        return list(arch.blocks)

    def from_str(self, text: str) -> HiAMLArch:
        """Parse ``"a22-z-b23-src0"`` (short or full names), the JSON list, or GENNAPE's CG name
        ``"HiAMLNet_a22_z_b23_src0"``."""
        if not isinstance(text, str):
            raise ArchValidationError(self.name, "text", text, "expected a string")
        stripped = text.strip()
        if stripped.startswith("["):
            try:
                return self.from_json(json.loads(stripped))
            except json.JSONDecodeError as exc:
                raise ArchValidationError(self.name, "text", text, f"not valid JSON ({exc.msg})") from None
        if stripped.startswith("HiAMLNet_"):  # GENNAPE's CG name of an exhaustive HiAML cache
            return self.from_json(stripped[len("HiAMLNet_") :].split("_"))
        return self.from_json(stripped.split("-"))

    def to_str(self, arch: HiAMLArch) -> str:
        """Short names joined by ``-``, e.g. ``"a22-z-b23-src0"``."""
        return "-".join(_short(b) for b in arch.blocks)

    def validate(self, arch: HiAMLArch) -> None:
        """Check there are 4 known block names."""
        if not isinstance(arch, HiAMLArch) or not isinstance(arch.blocks, tuple):
            raise ArchValidationError(self.name, "arch", arch, "expected a HiAMLArch with a tuple of block names")
        if len(arch.blocks) != N_STAGES:
            raise ArchValidationError(self.name, "blocks", arch.blocks, f"expected {N_STAGES} block names")
        for i, block in enumerate(arch.blocks):
            if block not in BLOCKS:
                raise ArchValidationError(self.name, f"blocks[{i}]", block, f"unknown block; choose from {BLOCKS}")

    # ------------------------------------------------------------------ space
    def sample(self, rng: np.random.Generator | int | None = None) -> HiAMLArch:
        """Four independent uniform block choices (GENNAPE's sampler)."""
        gen = as_rng(rng)
        return HiAMLArch(tuple(BLOCKS[int(i)] for i in gen.integers(len(BLOCKS), size=N_STAGES)))

    def neighbors(self, arch: HiAMLArch) -> list[HiAMLArch]:
        """The 52 architectures that differ in one stage's block."""
        out = []
        for si, current in enumerate(arch.blocks):
            for block in BLOCKS:
                if block != current:
                    out.append(HiAMLArch(arch.blocks[:si] + (block,) + arch.blocks[si + 1 :]))
        return out

    def enumerate(self) -> Iterator[HiAMLArch]:
        """All 38,416 architectures, in GENNAPE's block order (last stage fastest)."""
        for combo in itertools.product(BLOCKS, repeat=N_STAGES):
            yield HiAMLArch(combo)

    def size(self) -> int:
        """14^4 = 38,416."""
        return len(BLOCKS) ** N_STAGES

    def example(self) -> HiAMLArch:
        """``a22-z-b23-src0``."""
        return HiAMLArch(("hiaml_a22", "hiaml_z", "hiaml_b23", "hiaml_src0"))

    # ------------------------------------------------------------------ networks and graphs
    def build_program(self, arch: HiAMLArch, num_classes: int, dropout: float = 0.0) -> Program:
        """GENNAPE's TF ``HiAMLNet`` as a layer program (HiAML has no dropout)."""
        if dropout:
            raise TypeError(f"hiaml networks have no dropout layer, got dropout={dropout}")
        return build_program(arch, num_classes)

    def graph_name(self, arch: HiAMLArch) -> str:
        return "HiAMLNet_" + "_".join(_short(x) for x in arch.blocks)

    # ------------------------------------------------------------------ ConfigSpace
    def configspace(self) -> Any:
        """Four categorical hyperparameters ``stage0`` .. ``stage3`` over the 14 block names."""
        from ConfigSpace import Categorical, ConfigurationSpace

        cs = ConfigurationSpace(name="hiaml")
        cs.add([Categorical(f"stage{i}", list(BLOCKS)) for i in range(N_STAGES)])
        return cs

    def from_configuration(self, config: Any) -> HiAMLArch:
        """The architecture of a configuration of :meth:`configspace`."""
        values = dict(config)
        return self.from_json([str(values.get(f"stage{i}")) for i in range(N_STAGES)])
