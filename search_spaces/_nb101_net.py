"""The NAS-Bench-101 network: cell plan, PyTorch module, direct computation graph, exact counts.

Everything here works on a *pruned* cell ``(matrix, ops)`` (tuples; see :mod:`.nb101`). The cell
logic follows the official NAS-Bench-101 model builder (``nasbench/lib/model_builder.py``) as
described in GENNAPE_FACTS 3.1; :func:`cell_plan` computes it once and the three consumers (the
torch module, the CG builder and the analytic parameter/FLOP counts) read the same plan, so they
cannot drift apart.

The torch module imports :mod:`torch` lazily (through :func:`build_module`), so importing the
family does not import torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from gennape_naslib.cg.builder import CGBuilder
from gennape_naslib.cg.graph import ComputeGraph

__all__ = [
    "BN_EPS",
    "BN_MOMENTUM",
    "CellPlan",
    "NetConfig",
    "build_cg",
    "build_module",
    "cell_plan",
    "count_flops",
    "count_naslib_flops",
    "count_params",
    "vertex_channels",
]

CONV3X3 = "conv3x3-bn-relu"
CONV1X1 = "conv1x1-bn-relu"
MAXPOOL3X3 = "maxpool3x3"
KERNEL = {CONV3X3: 3, CONV1X1: 1}

#: Batch-norm settings of the official builder (TF momentum 0.997 is PyTorch momentum 0.003).
BN_MOMENTUM = 1.0 - 0.997
BN_EPS = 1e-5

Matrix = Sequence[Sequence[int]]


@dataclass(frozen=True)
class NetConfig:
    """The macro skeleton of the NAS-Bench-101 network (defaults: the benchmark's).

    Attributes:
        num_classes: Size of the dense head.
        stem_channels: Output channels of the 3x3 stem (also the channels of stack 1).
        num_stacks: Stacks of cells; a 2x2 max-pool (stride 2) and a doubling of the channels
            precede every stack but the first.
        cells_per_stack: Cells (modules) per stack.
        input_hwc: ``(H, W, C)`` of the input image.
    """

    num_classes: int = 10
    stem_channels: int = 128
    num_stacks: int = 3
    cells_per_stack: int = 3
    input_hwc: tuple[int, int, int] = (32, 32, 3)


@dataclass(frozen=True)
class CellPlan:
    """How one cell with ``c_in`` input and ``c_out`` output channels computes.

    Attributes:
        channels: Channels of every vertex (input ``c_in``, output ``c_out``).
        inputs: Per vertex, the interior predecessors summed into it (index order); the input
            projection, if any, is added last (``projected[v]``).
        projected: Per vertex, whether the cell input reaches it through a 1x1 conv-BN-ReLU
            projection (for the output vertex: the projection added to the concatenation).
        concat: Interior vertices concatenated into the cell output (index order).
    """

    channels: tuple[int, ...]
    inputs: tuple[tuple[int, ...], ...]
    projected: tuple[bool, ...]
    concat: tuple[int, ...]


def vertex_channels(c_in: int, c_out: int, matrix: Matrix) -> list[int]:
    """Channels of every vertex of a pruned cell (the official allocation rule).

    The output's channels are split evenly over the interior vertices that feed it (the first
    ``c_out % fan_in`` of them, in index order, get one more); every other interior vertex takes
    the largest channel count among its interior successors, going backwards.
    """
    n = len(matrix)
    channels = [0] * n
    channels[0], channels[-1] = c_in, c_out
    if n == 2:
        return channels
    fan_in = sum(matrix[v][n - 1] for v in range(1, n - 1))
    base, extra = divmod(c_out, fan_in)
    for v in range(1, n - 1):
        if matrix[v][n - 1]:
            channels[v] = base + (1 if extra > 0 else 0)
            extra -= 1
    for v in range(n - 3, 0, -1):
        if not matrix[v][n - 1]:
            for dst in range(v + 1, n - 1):
                if matrix[v][dst]:
                    channels[v] = max(channels[v], channels[dst])
    return channels


def cell_plan(matrix: Matrix, c_in: int, c_out: int) -> CellPlan:
    """The :class:`CellPlan` of a pruned cell."""
    n = len(matrix)
    channels = vertex_channels(c_in, c_out, matrix)
    inputs = tuple(tuple(s for s in range(1, t) if matrix[s][t]) for t in range(n))
    projected = tuple(bool(matrix[0][t]) if t > 0 else False for t in range(n))
    concat = tuple(t for t in range(1, n - 1) if matrix[t][n - 1])
    for t in range(1, n - 1):
        for s in inputs[t]:
            if not 0 <= channels[s] - channels[t] <= 1:  # pragma: no cover - guaranteed by the rule
                raise AssertionError(f"vertex {s} -> {t}: {channels[s]} -> {channels[t]} channels")
    return CellPlan(tuple(channels), inputs, projected, concat)


def _stack_channels(cfg: NetConfig) -> list[tuple[int, int, bool]]:
    """Per cell: ``(c_in, c_out, pooled_before)`` in network order."""
    cells: list[tuple[int, int, bool]] = []
    c = cfg.stem_channels
    for stack in range(cfg.num_stacks):
        c_out = c if stack == 0 else 2 * c
        for i in range(cfg.cells_per_stack):
            cells.append((c, c_out, stack > 0 and i == 0))
            c = c_out
    return cells


def _cells(matrix: Matrix, cfg: NetConfig) -> tuple[tuple[CellPlan, bool], ...]:
    """The plans of all cells, with whether a 2x2 max-pool precedes each (plans are shared)."""
    return _cells_cached(tuple(tuple(int(v) for v in row) for row in matrix), cfg)


@lru_cache(maxsize=4096)
def _cells_cached(matrix: tuple[tuple[int, ...], ...], cfg: NetConfig) -> tuple[tuple[CellPlan, bool], ...]:
    plans: dict[tuple[int, int], CellPlan] = {}
    out = []
    for c_in, c_out, pooled in _stack_channels(cfg):
        if (c_in, c_out) not in plans:
            plans[(c_in, c_out)] = cell_plan(matrix, c_in, c_out)
        out.append((plans[(c_in, c_out)], pooled))
    return tuple(out)


# ---------------------------------------------------------------------- exact counts
def count_params(matrix: Matrix, ops: Sequence[str], cfg: NetConfig) -> int:
    """Parameters of :func:`build_module` (conv weights, BN scale and shift, dense weight and bias)."""

    def cbr(c_in: int, c_out: int, k: int) -> int:
        return c_in * c_out * k * k + 2 * c_out

    total = cbr(cfg.input_hwc[2], cfg.stem_channels, 3)
    n = len(ops)
    c_last = cfg.stem_channels
    for plan, _ in _cells(matrix, cfg):
        ch = plan.channels
        for t in range(1, n):
            if plan.projected[t]:
                total += cbr(ch[0], ch[t], 1)
            if t < n - 1 and ops[t] in KERNEL:
                total += cbr(ch[t], ch[t], KERNEL[ops[t]])
        c_last = ch[-1]
    return total + c_last * cfg.num_classes + cfg.num_classes


def count_flops(matrix: Matrix, ops: Sequence[str], cfg: NetConfig) -> int:
    """FLOPs as ``FlopCounterMode`` counts them: 2 per multiply-accumulate of convs and the dense layer."""
    h, w = cfg.input_hwc[0], cfg.input_hwc[1]
    macs = h * w * cfg.input_hwc[2] * cfg.stem_channels * 9
    n = len(ops)
    c_last = cfg.stem_channels
    for plan, pooled in _cells(matrix, cfg):
        if pooled:
            h, w = h // 2, w // 2
        ch = plan.channels
        cell = 0
        for t in range(1, n):
            if plan.projected[t]:
                cell += ch[0] * ch[t]
            if t < n - 1 and ops[t] in KERNEL:
                cell += ch[t] * ch[t] * KERNEL[ops[t]] ** 2
        macs += h * w * cell
        c_last = ch[-1]
    return 2 * (macs + c_last * cfg.num_classes)


def count_naslib_flops(matrix: Matrix, ops: Sequence[str], cfg: NetConfig) -> int:
    """Operations as NASLib's zero-cost data counts them (see ``NB101.published_flops``).

    Multiply-accumulates of convs and the dense layer, plus 3 per output element of every
    conv-BN-ReLU and ``k * k`` per output element of every ``k x k`` max-pool.
    """
    h, w = cfg.input_hwc[0], cfg.input_hwc[1]
    total = count_flops(matrix, ops, cfg) // 2 + 3 * h * w * cfg.stem_channels
    n = len(ops)
    for plan, pooled in _cells(matrix, cfg):
        ch = plan.channels
        if pooled:
            h, w = h // 2, w // 2
            total += 4 * h * w * ch[0]
        elems = 0
        for t in range(1, n):
            if plan.projected[t]:
                elems += 3 * ch[t]
            if t < n - 1:
                elems += (3 if ops[t] in KERNEL else 9) * ch[t]
        total += h * w * elems
    return total


# ---------------------------------------------------------------------- computation graph
def _cbr_node(b: CGBuilder, x: int, in_hwc: tuple[int, int, int], c_out: int, k: int) -> int:
    """conv(k, same) -> BN -> ReLU on ``x`` seen with geometry ``in_hwc`` (it may be a channel slice)."""
    h, w, c = in_hwc
    pad = k // 2
    conv = b.node(
        "conv",
        x,
        (h, w, c_out),
        in_hwc=in_hwc,
        shape=(c, c_out, k, k),
        strides=(1, 1),
        label="conv",
        metadata={"padding": [pad, pad]},
    )
    return b.relu(b.bn(conv))


def _cell_nodes(b: CGBuilder, x: int, plan: CellPlan, ops: Sequence[str]) -> int:
    n = len(ops)
    h, w, _ = b.out_shape(x)
    ch = plan.channels
    x_hwc = b.out_shape(x)
    states: list[tuple[int, int]] = [(x, ch[0])]  # (node, channels)
    for t in range(1, n - 1):
        summands = [(states[s][0], ch[t]) for s in plan.inputs[t]]  # truncated views of the predecessors
        if plan.projected[t]:
            summands.append((_cbr_node(b, x, x_hwc, ch[t], 1), ch[t]))
        acc, acc_c = summands[0]
        for other, _ in summands[1:]:
            acc = b.node("add", [acc, other], (h, w, ch[t]), in_hwc=(h, w, acc_c), label="add")
            acc_c = ch[t]
        if ops[t] == MAXPOOL3X3:
            node = b.node(
                "maxpool",
                acc,
                (h, w, ch[t]),
                in_hwc=(h, w, acc_c),
                strides=(1, 1),
                label="maxpool",
                metadata={"ksize": [3, 3], "padding": [1, 1]},
            )
        else:
            node = _cbr_node(b, acc, (h, w, acc_c), ch[t], KERNEL[ops[t]])
        states.append((node, ch[t]))
    if not plan.concat:
        return _cbr_node(b, x, x_hwc, ch[-1], 1)
    outs = [states[t][0] for t in plan.concat]
    out = outs[0] if len(outs) == 1 else b.concat(outs)
    if plan.projected[n - 1]:
        out = b.add(out, _cbr_node(b, x, x_hwc, ch[-1], 1))
    return out


def build_cg(matrix: Matrix, ops: Sequence[str], cfg: NetConfig, name: str = "NB101") -> ComputeGraph:
    """The computation graph of the network, built directly (equal to lowering :func:`build_module`)."""
    b = CGBuilder(cfg.input_hwc, name=name)
    x = b.conv_bn_act(b.input_node, cfg.stem_channels, 3, padding=1)
    for plan, pooled in _cells(matrix, cfg):
        if pooled:
            x = b.pool(x, "max", 2, 2)
        x = _cell_nodes(b, x, plan, ops)
    return b.build(b.linear(b.mean(x), cfg.num_classes))


# ---------------------------------------------------------------------- torch module
def build_module(matrix: Matrix, ops: Sequence[str], cfg: NetConfig, init: str = "torch") -> Any:
    """The PyTorch NAS-Bench-101 network (in train mode).

    Args:
        matrix, ops: A pruned cell.
        cfg: The macro skeleton.
        init: ``"torch"`` keeps PyTorch's default initialisation (fast); ``"tf"`` re-initialises like
            the official TensorFlow builder (convs: truncated normal with variance 1/fan_in, dense:
            Glorot uniform, BN: 1 and 0).
    """
    from gennape_naslib.search_spaces._nb101_torch import NB101Network

    if init not in ("tf", "torch"):
        raise ValueError(f"init must be 'tf' or 'torch', got {init!r}")
    plans = _cells(matrix, cfg)
    return NB101Network(plans, tuple(ops), cfg, tf_init=init == "tf")
