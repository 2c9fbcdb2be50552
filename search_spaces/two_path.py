"""Two-Path: GENNAPE's two-branch family of single-path blocks (GENNAPE_FACTS 3.8).

Encoding (JSON; also the text form)::

    {"path1": [["conv3x3", "maxpool3x3"], ["double3x3"], ...],   # 2-4 blocks, 1-3 ops each
     "path2": [...],
     "path1_reduce": [i, j], "path2_reduce": [k, l]}             # two distinct block positions

Block ops are the 8 *conv* ops (:data:`CONV_OPS`) and the 5 *supplementary* ops (:data:`SUPP_OPS`); a
block holds at least one conv op and at most one supp op (1,624 distinct blocks). The op type is a
function of the name, so GENNAPE's separate ``op_types`` lists are implied; GENNAPE's state-dict
form (blocks as ``{"op_names", "op_types"}``, ``path1_reduce_inds``) is accepted by ``from_json``
and GENNAPE's ``str(config)`` text (``Path1:[SPBlock(...), ...]``) by ``from_str``.
Reduction indices are stored sorted.

Network (GENNAPE's TensorFlow ``TwoPathNet``, which produced the labels and CGs; 32x32 input, 10
classes): stem conv3x3 (3 -> 32) -> BN -> ReLU6 -> conv3x3 stride 2 (32 -> 32) -> BN -> ReLU6; both
paths start from the stem output (32 channels, 16x16); in each path a block at a reduction position
has stride 2 and doubles the width (32 -> 64 -> 128), so both end at 128 channels, 4x4; concat (256)
-> conv3x3 (512) -> BN -> ReLU6 -> global average pool -> dropout(0) -> dense(10). No conv has a bias.

A block runs its ops in order: the first conv-type op maps C_in -> C_out with the block stride, all
other ops keep the current width at stride 1; a residual add follows when the block keeps the shape
(stride 1). Ops: ``convKxK`` = conv KxK -> BN -> ReLU6; ``double3x3`` = conv3x3 (C_in, stride s) ->
BN -> ReLU6 -> conv3x3 (C_out) -> BN -> ReLU6; ``bottleneck-rR-kK`` / ``bottleneck-eE-kK`` = conv KxK
(C_in -> C_h, stride s) -> BN -> conv KxK (C_h -> C_out) -> BN with C_h = max(1, C_in // R) or
C_in * E and **no activation** (the TF version; GENNAPE's PyTorch twin adds ReLU6s and hard-codes
256 input channels in its post conv, neither of which the labels describe); ``inception_sKxK`` =
conv 1xK (stride s in both axes) -> BN -> ReLU6 -> conv Kx1 -> BN -> ReLU6; ``maxpool3x3`` /
``avgpool3x3`` = pool 3x3 -> BN.

Deviations from GENNAPE's CGs: none known (the dropout at inference is an ``identity`` node, as in
GENNAPE). Numerically, stride-2 layers pad symmetrically instead of TF's bottom/right "same"
padding (same shapes, counts and graph). ``canonical_hash`` treats swapping the two paths (with
their reduction indices) as the same network: the only difference is the order of the concat's
channels, which the following 3x3 conv absorbs. ``configspace()`` describes the same set of
architectures (one categorical per block over the 1,624 blocks), not GENNAPE's sampling law; use
:meth:`TwoPath.sample` for that.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from gennape_naslib.search_spaces._gennape_blocks import Program, ProgramFamily
from gennape_naslib.search_spaces.base import ArchValidationError, as_rng, register_family

if TYPE_CHECKING:  # pragma: no cover
    pass

__all__ = ["CONV_OPS", "SUPP_OPS", "TwoPath", "TwoPathArch", "build_program"]

CONV_OPS: tuple[str, ...] = (
    "conv3x3",
    "double3x3",
    "conv5x5",
    "bottleneck-r2-k3",
    "bottleneck-r4-k3",
    "bottleneck-e2-k3",
    "inception_s3x3",
    "inception_s5x5",
)
SUPP_OPS: tuple[str, ...] = ("conv1x1", "bottleneck-r2-k1", "bottleneck-e2-k1", "avgpool3x3", "maxpool3x3")
OPS = CONV_OPS + SUPP_OPS
MIN_BLOCKS, MAX_BLOCKS = 2, 4
MIN_OPS, MAX_OPS = 1, 3
N_REDUCTIONS = 2
C_STEM = 32

PathT = tuple[tuple[str, ...], ...]


#: TF batch norm (momentum 0.9, epsilon 1e-3) in PyTorch terms.
BN = {"bn_momentum": 0.1, "bn_eps": 1e-3}


@dataclass(frozen=True)
class TwoPathArch:
    """A Two-Path network: per path, the op names of each block, and the two reduction positions."""

    path1: PathT
    path2: PathT
    path1_reduce: tuple[int, ...]
    path2_reduce: tuple[int, ...]


def _block_ok(ops: tuple[str, ...]) -> bool:
    n_supp = sum(op in SUPP_OPS for op in ops)
    return MIN_OPS <= len(ops) <= MAX_OPS and n_supp <= 1 and n_supp < len(ops) and all(op in OPS for op in ops)


#: Every valid block op sequence (1,624), in a fixed order.
ALL_BLOCKS: tuple[tuple[str, ...], ...] = tuple(
    ops for n in range(MIN_OPS, MAX_OPS + 1) for ops in itertools.product(OPS, repeat=n) if _block_ok(ops)
)


# ---------------------------------------------------------------------- network
def _op(p: Program, x: int, op: str, c_in: int, c_out: int, s: int, name: str) -> int:
    if op in ("conv3x3", "conv5x5", "conv1x1"):
        return p.cba(x, c_out, int(op[4]), s, act="relu6", name=name)
    if op == "double3x3":
        y = p.cba(x, c_in, 3, s, act="relu6", name=f"{name}_c1")
        return p.cba(y, c_out, 3, 1, act="relu6", name=f"{name}_c2")
    if op.startswith("bottleneck"):
        _, ratio, kernel = op.split("-")
        c_h = max(1, c_in // int(ratio[1:])) if ratio[0] == "r" else c_in * int(ratio[1:])
        k = int(kernel[1:])
        y = p.cba(x, c_h, k, s, act=None, name=f"{name}_s_conv")
        return p.cba(y, c_out, k, 1, act=None, name=f"{name}_e_conv")
    if op.startswith("inception_s"):
        k = int(op[-1])
        y = p.cba(x, c_out, (1, k), s, act="relu6", name=f"{name}_conv1")
        return p.cba(y, c_out, (k, 1), 1, act="relu6", name=f"{name}_conv2")
    if op in ("maxpool3x3", "avgpool3x3"):
        return p.bn(p.pool(x, op[:3], s, name=f"{name}_pool"), name=f"{name}_bn")
    raise ValueError(f"unknown Two-Path op {op!r}")  # pragma: no cover - validated before


@functools.lru_cache(maxsize=8192)
def _block_program(ops: tuple[str, ...], c_in: int, c_out: int, stride: int) -> Program:
    p = Program(c_in, key=("two_path", ops, c_in, c_out, stride), **BN)
    x, c, first_conv = 0, c_in, True
    for i, op in enumerate(ops):
        name = f"{op.replace('-', '_')}_{i}"
        if first_conv and op in CONV_OPS:
            x, c, first_conv = _op(p, x, op, c, c_out, stride, name), c_out, False
        else:
            x = _op(p, x, op, c, c, 1, name)
    if stride == 1 and c_in == c_out:
        p.add(x, 0)
    return p


def build_program(arch: TwoPathArch, num_classes: int = 10, dropout: float = 0.0) -> Program:
    """The layer program of ``arch`` (stem, both paths, post conv, head)."""
    p = Program(3, **BN)
    x = p.cba(0, C_STEM, 3, 1, act="relu6", name="stem_proj")
    x = p.cba(x, C_STEM, 3, 2, act="relu6", name="stem_reduce")
    ends = []
    for pi, (path, reduce) in enumerate(((arch.path1, arch.path1_reduce), (arch.path2, arch.path2_reduce))):
        y, c = x, C_STEM
        for bi, ops in enumerate(path):
            c_out, stride = (2 * c, 2) if bi in reduce else (c, 1)
            y = p.sub(y, _block_program(ops, c, c_out, stride), f"path{pi + 1}_block{bi}")
            c = c_out
        ends.append(y)
    x = p.cba(p.concat(ends), 512, 3, 1, act="relu6", name="post_conv")
    p.linear(p.dropout(p.mean(x), dropout), num_classes)
    return p


# ---------------------------------------------------------------------- adapter
def _path_key(path: PathT, reduce: tuple[int, ...]) -> str:
    return json.dumps([[list(b) for b in path], list(reduce)], separators=(",", ":"))


@register_family("two_path")
class TwoPath(ProgramFamily):
    """Two-Path: two chains of 2-4 single-path blocks (1-3 ops each), concatenated; CIFAR-10."""

    Arch = TwoPathArch
    input_shape = (3, 32, 32)
    num_classes = 10

    # ------------------------------------------------------------------ encodings
    def _parse_path(self, obj: Any, field: str) -> PathT:
        if not isinstance(obj, (list, tuple)):
            raise ArchValidationError(self.name, field, obj, "expected a list of blocks (lists of op names)")
        blocks = []
        for bi, block in enumerate(obj):
            f = f"{field}[{bi}]"
            if isinstance(block, dict):  # GENNAPE's SinglePathBlockConfig state dict
                names, types = block.get("op_names"), block.get("op_types")
                if types is not None and (
                    not isinstance(types, (list, tuple))
                    or not isinstance(names, (list, tuple))
                    or list(types) != ["conv" if n in CONV_OPS else "supp" for n in names]
                ):
                    raise ArchValidationError(self.name, f"{f}.op_types", types, "do not match the op names")
                block = names
            if not isinstance(block, (list, tuple)) or not all(isinstance(op, str) for op in block):
                raise ArchValidationError(self.name, f, block, "expected a list of op names")
            blocks.append(tuple(block))
        return tuple(blocks)

    def _parse_reduce(self, obj: Any, field: str) -> tuple[int, ...]:
        ints = (
            all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in obj)
            if isinstance(obj, (list, tuple))
            else False
        )
        if not ints:
            raise ArchValidationError(self.name, field, obj, "expected a list of 2 block positions")
        return tuple(sorted(int(i) for i in obj))

    def from_json(self, obj: Any) -> TwoPathArch:
        """Parse ``{"path1", "path2", "path1_reduce", "path2_reduce"}`` (or GENNAPE's state dict)."""
        if not isinstance(obj, dict):
            raise ArchValidationError(self.name, "arch", obj, "expected a dict with path1/path2/path1_reduce/...")
        values = {}
        for key in ("path1", "path2", "path1_reduce", "path2_reduce"):
            value = obj.get(key, obj.get(f"{key}_inds")) if key.endswith("reduce") else obj.get(key)
            if value is None:
                raise ArchValidationError(self.name, key, None, "missing")
            values[key] = value
        unknown = set(obj) - {
            "path1",
            "path2",
            "path1_reduce",
            "path2_reduce",
            "path1_reduce_inds",
            "path2_reduce_inds",
        }
        if unknown:
            raise ArchValidationError(self.name, "arch", sorted(unknown), "unknown keys")
        arch = TwoPathArch(
            self._parse_path(values["path1"], "path1"),
            self._parse_path(values["path2"], "path2"),
            self._parse_reduce(values["path1_reduce"], "path1_reduce"),
            self._parse_reduce(values["path2_reduce"], "path2_reduce"),
        )
        self.validate(arch)
        return arch

    def to_json(self, arch: TwoPathArch) -> dict[str, Any]:
        """The JSON encoding (lists of lists of op names, sorted reduction positions)."""
        return {
            "path1": [list(b) for b in arch.path1],
            "path2": [list(b) for b in arch.path2],
            "path1_reduce": list(arch.path1_reduce),
            "path2_reduce": list(arch.path2_reduce),
        }

    def from_str(self, text: str) -> TwoPathArch:
        """Parse the JSON text, or GENNAPE's ``str(TwoPathNetConfig)`` form
        (``Path1:[SPBlock(conv3x3+maxpool3x3;conv+supp), ...]`` / ``Path1ReduceInds:[0, 1]`` / ...)."""
        if not isinstance(text, str):
            raise ArchValidationError(self.name, "text", text, "expected a string")
        if not text.lstrip().startswith("Path1:"):
            return super().from_str(text)
        obj: dict[str, Any] = {}
        for p in ("1", "2"):
            found = re.search(rf"Path{p}:\[(.*?)\]\s*Path{p}ReduceInds:\[([^\]]*)\]", text, re.S)
            if found is None:
                raise ArchValidationError(self.name, f"text.Path{p}", text, "no Path/PathReduceInds pair found")
            blocks = re.findall(r"SPBlock\(([^;)]*);([^)]*)\)", found.group(1))
            obj[f"path{p}"] = [{"op_names": n.split("+"), "op_types": t.split("+")} for n, t in blocks]
            try:
                obj[f"path{p}_reduce"] = [int(v) for v in found.group(2).split(",") if v.strip()]
            except ValueError:
                raise ArchValidationError(self.name, f"path{p}_reduce", found.group(2), "not integers") from None
        return self.from_json(obj)

    def validate(self, arch: TwoPathArch) -> None:
        """Check path lengths, block contents and the reduction positions."""
        if not isinstance(arch, TwoPathArch):
            raise ArchValidationError(self.name, "arch", arch, "expected a TwoPathArch")
        for field in ("path1", "path2"):
            path = getattr(arch, field)
            if not isinstance(path, tuple) or not MIN_BLOCKS <= len(path) <= MAX_BLOCKS:
                raise ArchValidationError(self.name, field, path, f"expected {MIN_BLOCKS}-{MAX_BLOCKS} blocks")
            for bi, ops in enumerate(path):
                f = f"{field}[{bi}]"
                if not isinstance(ops, tuple) or not MIN_OPS <= len(ops) <= MAX_OPS:
                    raise ArchValidationError(self.name, f, ops, f"a block holds {MIN_OPS}-{MAX_OPS} ops")
                for oi, op in enumerate(ops):
                    if op not in OPS:
                        raise ArchValidationError(self.name, f"{f}[{oi}]", op, f"unknown op; choose from {OPS}")
                n_supp = sum(op in SUPP_OPS for op in ops)
                if n_supp == len(ops):
                    raise ArchValidationError(self.name, f, ops, f"a block needs a conv op from {CONV_OPS}")
                if n_supp > 1:
                    raise ArchValidationError(self.name, f, ops, f"a block holds at most one op from {SUPP_OPS}")
            reduce = getattr(arch, f"{field}_reduce")
            if (
                not isinstance(reduce, tuple)
                or len(reduce) != N_REDUCTIONS
                or not all(isinstance(i, int) and 0 <= i < len(path) for i in reduce)
                or list(reduce) != sorted(set(reduce))
            ):
                raise ArchValidationError(
                    self.name, f"{field}_reduce", reduce, f"expected 2 distinct sorted positions in 0..{len(path) - 1}"
                )

    def canonical_hash(self, arch: TwoPathArch) -> str:
        """Hash that ignores which path is called path1 (the network is the same)."""
        keys = sorted([_path_key(arch.path1, arch.path1_reduce), _path_key(arch.path2, arch.path2_reduce)])
        return hashlib.sha256(f"{self.name}:{keys[0]}|{keys[1]}".encode()).hexdigest()

    # ------------------------------------------------------------------ space
    def _sample_block(self, gen: np.random.Generator) -> tuple[str, ...]:
        n_ops = int(gen.integers(MIN_OPS, MAX_OPS + 1))
        ops = [CONV_OPS[int(gen.integers(len(CONV_OPS)))]]
        p_supp = len(SUPP_OPS) / len(OPS)
        supp_added = False
        for _ in range(n_ops - 1):
            if not supp_added and gen.random() < p_supp:
                ops.append(SUPP_OPS[int(gen.integers(len(SUPP_OPS)))])
                supp_added = True
            else:
                ops.append(CONV_OPS[int(gen.integers(len(CONV_OPS)))])
        return tuple(ops[i] for i in gen.permutation(len(ops)))

    def _sample_path(self, gen: np.random.Generator) -> tuple[PathT, tuple[int, ...]]:
        length = int(gen.integers(MIN_BLOCKS, MAX_BLOCKS + 1))
        path = tuple(self._sample_block(gen) for _ in range(length))
        reduce = tuple(sorted(int(i) for i in gen.permutation(length)[:N_REDUCTIONS]))
        return path, reduce

    def sample(self, rng: np.random.Generator | int | None = None) -> TwoPathArch:
        """GENNAPE's sampler: per path a uniform length in 2..4, blocks drawn independently (uniform op
        count 1..3; first op a uniform conv op, each further op a supp op with probability 5/13 while
        the block has none, else a uniform conv op; then shuffled), 2 uniform reduction positions."""
        gen = as_rng(rng)
        path1, r1 = self._sample_path(gen)
        path2, r2 = self._sample_path(gen)
        return TwoPathArch(path1, path2, r1, r2)

    def _path_neighbors(self, path: PathT, reduce: tuple[int, ...]) -> list[tuple[PathT, tuple[int, ...]]]:
        out = []
        for bi, ops in enumerate(path):
            candidates = []
            for oi in range(len(ops)):
                candidates += [ops[:oi] + (op,) + ops[oi + 1 :] for op in OPS if op != ops[oi]]  # substitute
                candidates.append(ops[:oi] + ops[oi + 1 :])  # remove
            if len(ops) < MAX_OPS:
                candidates += [ops[:oi] + (op,) + ops[oi:] for oi in range(len(ops) + 1) for op in OPS]  # insert
            seen = set()
            for new in candidates:
                if new != ops and new not in seen and _block_ok(new):
                    seen.add(new)
                    out.append((path[:bi] + (new,) + path[bi + 1 :], reduce))
        for ri in range(N_REDUCTIONS):  # move one reduction position to a free block
            for pos in range(len(path)):
                if pos not in reduce:
                    out.append((path, tuple(sorted(reduce[:ri] + (pos,) + reduce[ri + 1 :]))))
        return out

    def neighbors(self, arch: TwoPathArch) -> list[TwoPathArch]:
        """Single-op substitutions, insertions and removals that keep the block valid, and moves of
        one reduction position, in either path."""
        out = [
            TwoPathArch(p, arch.path2, r, arch.path2_reduce)
            for p, r in self._path_neighbors(arch.path1, arch.path1_reduce)
        ]
        out += [
            TwoPathArch(arch.path1, p, arch.path1_reduce, r)
            for p, r in self._path_neighbors(arch.path2, arch.path2_reduce)
        ]
        return out

    def size(self) -> int:
        """Number of distinct encodings: (sum over lengths L of 1624^L * C(L, 2))^2, about 1.7e27."""
        per_path = sum(len(ALL_BLOCKS) ** n * (n * (n - 1) // 2) for n in range(MIN_BLOCKS, MAX_BLOCKS + 1))
        return per_path**2

    def example(self) -> TwoPathArch:
        """A fixed three-block / two-block example."""
        return self.from_json(
            {
                "path1": [["conv3x3"], ["inception_s3x3", "maxpool3x3"], ["double3x3"]],
                "path2": [["bottleneck-r2-k3", "conv1x1"], ["conv5x5"]],
                "path1_reduce": [0, 2],
                "path2_reduce": [0, 1],
            }
        )

    # ------------------------------------------------------------------ networks and graphs
    def build_program(self, arch: TwoPathArch, num_classes: int, dropout: float = 0.0) -> Program:
        """GENNAPE's TF ``TwoPathNet`` as a layer program (dropout before the head)."""
        return build_program(arch, num_classes, dropout)

    def graph_name(self, arch: TwoPathArch) -> str:
        return "TwoPathNet"

    # ------------------------------------------------------------------ ConfigSpace
    def configspace(self) -> Any:
        """Per path: ``path{p}_len`` in {2, 3, 4}; ``path{p}_block{i}`` (active when the path is long
        enough) over the 1,624 blocks written ``"op+op"``; ``path{p}_reduce_len{L}`` over the position
        pairs ``"i-j"`` of a path of length L (L = 3, 4; length 2 reduces at 0 and 1)."""
        from ConfigSpace import Categorical, ConfigurationSpace, EqualsCondition, InCondition

        cs = ConfigurationSpace(name="two_path")
        blocks = ["+".join(b) for b in ALL_BLOCKS]
        for p in (1, 2):
            length = Categorical(f"path{p}_len", list(range(MIN_BLOCKS, MAX_BLOCKS + 1)))
            cs.add(length)
            for i in range(MAX_BLOCKS):
                hp = Categorical(f"path{p}_block{i}", blocks)
                cs.add(hp)
                if i >= MIN_BLOCKS:
                    cs.add(InCondition(hp, length, [n for n in range(i + 1, MAX_BLOCKS + 1)]))
            for n in range(MIN_BLOCKS + 1, MAX_BLOCKS + 1):
                pairs = [f"{a}-{b}" for a, b in itertools.combinations(range(n), 2)]
                hp = Categorical(f"path{p}_reduce_len{n}", pairs)
                cs.add(hp, EqualsCondition(hp, length, n))
        return cs

    def from_configuration(self, config: Any) -> TwoPathArch:
        """The architecture of a configuration of :meth:`configspace`."""
        values = dict(config)
        obj: dict[str, Any] = {}
        for p in (1, 2):
            try:
                n = int(values[f"path{p}_len"])
                obj[f"path{p}"] = [str(values[f"path{p}_block{i}"]).split("+") for i in range(n)]
                pair = "0-1" if n == MIN_BLOCKS else str(values[f"path{p}_reduce_len{n}"])
                obj[f"path{p}_reduce"] = [int(v) for v in pair.split("-")]
            except (KeyError, ValueError, TypeError) as exc:
                raise ArchValidationError(self.name, f"config.path{p}", values, f"incomplete ({exc})") from None
        return self.from_json(obj)
