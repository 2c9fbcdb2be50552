"""The Inception family's space definition and network program (GENNAPE_FACTS 3.9).

Kept apart from :mod:`gennape_naslib.search_spaces.inception` (the adapter) so that each module has
one job: this one knows GENNAPE's constants, the channel rules of a block and how a block becomes
layers; the adapter handles encodings, validation, sampling and neighbours.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from gennape_naslib.search_spaces._gennape_blocks import Program

__all__ = [
    "CONV_OPS",
    "SUPP_OPS",
    "InceptionArch",
    "InceptionPath",
    "InceptionStage",
    "build_program",
    "c_internal_options",
    "can_change_channels",
    "path_channels",
    "stage_skeleton",
]

C_INIT = 32
N_STAGES = 4
REDUCTION_STAGES = (1, 2, 3)
MIN_CHANNELS = 16
MIN_BLOCKS, MAX_BLOCKS = 2, 6
N_PATHS = (1, 2, 3, 4)
MAX_BLOCK_OPS = {1: 3, 2: 4, 3: 8, 4: 10}
MIN_PATH_OPS = {1: 1, 2: 1, 3: 2, 4: 2}
#: Probabilities of the internal channel change of a path: halve, keep, double.
C_CHANGE_PROBS = (0.3, 0.6, 0.1)

CONV_OPS: tuple[str, ...] = (
    "conv3x3",
    "inception_s3x3",
    "inception_p3x3",
    "depthwise3x3",
    "conv5x5",
    "depthwise5x5",
    "inception_s5x5",
    "inception_p5x5",
)
SUPP_OPS: tuple[str, ...] = ("conv1x1", "avgpool3x3", "maxpool3x3", "double1x1")
C_CHANGE_SUPP_OPS: tuple[str, ...] = ("conv1x1", "double1x1")
OPS = CONV_OPS + SUPP_OPS


#: TF batch norm (momentum 0.99, epsilon 1e-3) in PyTorch terms.
BN = {"bn_momentum": 0.01, "bn_eps": 1e-3}


@dataclass(frozen=True)
class InceptionPath:
    """One path of a block: its ops, its internal width and its output width."""

    ops: tuple[str, ...]
    c_internal: int
    c_out: int


@dataclass(frozen=True)
class InceptionStage:
    """A stage: ``n_blocks`` copies of one block (the first with the stage's stride and ``c_in``)."""

    n_blocks: int
    c_in: int
    c_out: int
    stride: int
    paths: tuple[InceptionPath, ...]


@dataclass(frozen=True)
class InceptionArch:
    """An Inception network: its 4 stages."""

    stages: tuple[InceptionStage, ...]


# ---------------------------------------------------------------------- channel rules
def stage_skeleton() -> list[tuple[int, int, int]]:
    """``(c_in, c_out, stride)`` of each stage: (32, 32, 1), (32, 64, 2), (64, 128, 2), (128, 256, 2)."""
    out, c = [], C_INIT
    for si in range(N_STAGES):
        c_out, stride = (2 * c, 2) if si in REDUCTION_STAGES else (c, 1)
        out.append((c, c_out, stride))
        c = c_out
    return out


def path_channels(c: int, n_paths: int) -> list[int]:
    """GENNAPE's split of a block's width over its paths (before shuffling), floored at 16."""
    if n_paths == 3:
        q = c // 4
        values = [2 * q, q, q + c - 4 * q]
    else:
        q = c // n_paths
        values = [q] * n_paths
        values[-1] += c - q * n_paths
    return [max(v, MIN_CHANNELS) for v in values]


def _changers(ops: Sequence[str]) -> list[int]:
    return [i for i, op in enumerate(ops) if op in CONV_OPS or op in C_CHANGE_SUPP_OPS]


def can_change_channels(ops: Sequence[str]) -> bool:
    """Whether a path has two different channel-change-capable ops (so ``c_internal`` may differ)."""
    return len(_changers(ops)) >= 2


def c_internal_options(ops: Sequence[str], c_out: int) -> tuple[int, ...]:
    """The internal widths GENNAPE's sampler can give a path (halve, keep, double; floored at 16)."""
    if not can_change_channels(ops):
        return (max(c_out, MIN_CHANNELS),)
    return tuple(sorted({max(c_out // 2, MIN_CHANNELS), c_out, max(2 * c_out, MIN_CHANNELS)}))


def _path_plan(ops: Sequence[str], c_in: int, c_internal: int, c_out: int, stride: int) -> list[tuple[int, int]]:
    """Per op ``(c_out, stride)``: the first channel changer maps to ``c_internal``, the first conv op
    carries the stride, the last channel changer maps to ``c_out`` (GENNAPE's ``_build_path``)."""
    changers = _changers(ops)
    first_change, last_change = changers[0], changers[-1]
    first_conv = next(i for i, op in enumerate(ops) if op in CONV_OPS)
    plan, c = [], c_in
    for i in range(len(ops)):
        if i == first_change == first_conv:
            c, s = c_internal, stride
        elif i == first_conv == last_change:
            c, s = c_out, stride
        elif i == first_change:
            c, s = c_internal, 1
        elif i == first_conv:
            s = stride
        elif i == last_change:
            c, s = c_out, 1
        else:
            s = 1
        plan.append((c, s))
    return plan


# ---------------------------------------------------------------------- layers
def _op(p: Program, x: int, op: str, c_out: int, s: int, name: str) -> int:
    if op in ("conv3x3", "conv5x5", "conv1x1"):
        return p.cba(x, c_out, int(op[4]), s, act="relu6", bias=True, name=name)
    if op.startswith("depthwise"):
        if p.channels[x] != c_out:
            x = p.conv(x, c_out, 1, bias=False, name=f"{name}_in_proj")
        y = p.bn(p.conv(x, c_out, int(op[-1]), s, bias=True, groups=c_out, name=f"{name}_depth_conv"), f"{name}_bn")
        return p.act(y, "relu6", f"{name}_relu6")
    if op.startswith("inception_s"):
        k = int(op[-1])
        y = p.cba(x, c_out, (1, k), (1, s), act="relu6", bias=True, name=f"{name}_conv1")
        return p.cba(y, c_out, (k, 1), (s, 1), act="relu6", bias=True, name=f"{name}_conv2")
    if op.startswith("inception_p"):
        k, c1 = int(op[-1]), c_out // 2
        if s == 1:
            a = p.cba(x, c1, (1, k), 1, bias=True, name=f"{name}_conv1")
            b = p.cba(x, c_out - c1, (k, 1), 1, bias=True, name=f"{name}_conv2")
        else:
            a = p.cba(x, c1, (1, k), (1, s), bias=True, name=f"{name}_conv1_p1")
            a = p.cba(a, c1, (k, 1), (s, 1), bias=True, name=f"{name}_conv1_p2")
            b = p.cba(x, c_out - c1, (k, 1), (s, 1), bias=True, name=f"{name}_conv2_p1")
            b = p.cba(b, c_out - c1, (1, k), (1, s), bias=True, name=f"{name}_conv2_p2")
        return p.act(p.concat([a, b]), "relu6", f"{name}_relu6")
    if op == "double1x1":
        y = p.cba(x, c_out, 1, 1, act="relu6", bias=True, name=f"{name}_c1")
        return p.cba(y, c_out, 1, s, act="relu6", bias=True, name=f"{name}_c2")
    if op in ("maxpool3x3", "avgpool3x3"):
        return p.bn(p.pool(x, op[:3], s, name=f"{name}_pool"), f"{name}_bn")
    raise ValueError(f"unknown Inception op {op!r}")  # pragma: no cover - validated before


@functools.lru_cache(maxsize=4096)
def block_program(paths: tuple[InceptionPath, ...], c_in: int, c_out: int, stride: int) -> Program:
    """The layers of one block: its paths from the block input, concat, projection, residual."""
    p = Program(c_in, key=("inception", paths, c_in, c_out, stride), **BN)
    ends = []
    for pi, path in enumerate(paths):
        x = 0
        for oi, (op, (c, s)) in enumerate(
            zip(path.ops, _path_plan(path.ops, c_in, path.c_internal, path.c_out, stride))
        ):
            x = _op(p, x, op, c, s, f"path{pi}_{op}_{oi}")
        ends.append(x)
    out = p.concat(ends)
    if sum(path.c_out for path in paths) != c_out:
        out = p.cba(out, c_out, 1, 1, bias=True, name="c_proj")
    if stride == 1 and c_in == c_out:
        p.add(out, 0)
    return p


def build_program(arch: InceptionArch, num_classes: int = 10, dropout: float = 0.0) -> Program:
    """The layer program of ``arch``: stem, the blocks of every stage, post conv and head."""
    p = Program(3, **BN)
    x = p.cba(0, C_INIT, 3, 1, act="relu6", bias=True, name="stem")
    c = C_INIT
    for si, stage in enumerate(arch.stages):
        for bi in range(stage.n_blocks):
            stride = stage.stride if bi == 0 else 1
            x = p.sub(x, block_program(stage.paths, c, stage.c_out, stride), f"stage{si}_block{bi}")
            c = stage.c_out
    x = p.cba(x, 512, 3, 1, act="relu6", bias=True, name="post_conv")
    p.linear(p.dropout(p.mean(x), dropout), num_classes)
    return p


# ---------------------------------------------------------------------- counting
def _path_count(n_ops: int, c_out: int) -> int:
    """Number of (op sequence, c_internal) choices of a path with ``n_ops`` ops."""
    if n_ops == 1:
        return len(CONV_OPS)
    n_conv, k = len(CONV_OPS), len(c_internal_options(("conv3x3", "conv3x3"), c_out))
    all_conv = n_conv**n_ops * k
    with_changer = n_ops * len(C_CHANGE_SUPP_OPS) * n_conv ** (n_ops - 1) * k
    n_pools = len(SUPP_OPS) - len(C_CHANGE_SUPP_OPS)
    with_pool = n_ops * n_pools * n_conv ** (n_ops - 1) * (k if n_ops - 1 >= 2 else 1)
    return all_conv + with_changer + with_pool


def block_count(c: int) -> int:
    """Number of distinct block encodings of a block of width ``c``."""
    total = 0
    for n in N_PATHS:
        lo, hi = MIN_PATH_OPS[n], MAX_BLOCK_OPS[n]
        for widths in set(itertools.permutations(path_channels(c, n))):
            for counts in itertools.product(range(lo, hi + 1), repeat=n):
                if sum(counts) <= hi:
                    term = 1
                    for n_ops, w in zip(counts, widths):
                        term *= _path_count(n_ops, w)
                    total += term
    return total
