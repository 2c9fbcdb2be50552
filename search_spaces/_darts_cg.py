"""Computation graphs and parameter counts of the DARTS evaluation network, without torch.

Private helper of :mod:`gennape_naslib.search_spaces.nb301`: :func:`network_cg` builds with
:class:`~gennape_naslib.cg.builder.CGBuilder` the same graph that lowering
:class:`~gennape_naslib.search_spaces._darts_ops.DartsNetwork` with ``from_torch`` gives, and
:func:`count_params` counts that network's parameters analytically. Genotypes arrive validated;
``genotype.cell(kind)`` returns ``(pairs, concat)`` for ``kind`` in ``"normal"``/``"reduce"``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from gennape_naslib.cg.builder import CGBuilder, conv_out

if TYPE_CHECKING:  # pragma: no cover
    from gennape_naslib.cg.graph import ComputeGraph

__all__ = ["cell_layout", "count_params", "network_cg"]

Pairs = Sequence[tuple[str, int]]


# ---------------------------------------------------------------------- parameter counts
def _op_params(name: str, c: int, stride: int) -> int:
    if name in ("sep_conv_3x3", "sep_conv_5x5"):
        k = int(name[-1])
        return 2 * (c * k * k + c * c + 2 * c)
    if name in ("dil_conv_3x3", "dil_conv_5x5"):
        k = int(name[-1])
        return c * k * k + c * c + 2 * c
    if name == "skip_connect" and stride == 2:
        return 2 * c * (c // 2) + 2 * c
    return 0  # pools, identity, none


def cell_layout(layers: int) -> Iterator[tuple[int, bool, bool]]:
    """``(index, reduction, reduction_prev)`` of every cell."""
    reduction_prev = False
    for i in range(layers):
        reduction = i in (layers // 3, 2 * layers // 3)
        yield i, reduction, reduction_prev
        reduction_prev = reduction


# ---------------------------------------------------------------------- computation graph
def _factorized_reduce_cg(b: CGBuilder, x: int, c_out: int) -> int:
    r = b.relu(x)
    h, w, c_in = b.out_shape(r)
    half = c_out // 2
    left = b.conv(r, half, 1, 2)
    # conv_2 sees x[:, :, 1:, 1:]; the slice vanishes but sets the conv's input geometry.
    right = b.node(
        "conv",
        r,
        (conv_out(h - 1, 1, 2), conv_out(w - 1, 1, 2), half),
        in_hwc=(h - 1, w - 1, c_in),
        shape=(c_in, half, 1, 1),
        strides=(2, 2),
        metadata={"padding": [0, 0]},
    )
    return b.bn(b.concat([left, right]))


def _op_cg(b: CGBuilder, name: str, x: int, c: int, stride: int) -> int:
    if name == "max_pool_3x3":
        return b.pool(x, "max", 3, stride, 1)
    if name == "avg_pool_3x3":
        return b.pool(x, "avg", 3, stride, 1)
    if name == "skip_connect":
        return x if stride == 1 else _factorized_reduce_cg(b, x, c)
    if name in ("sep_conv_3x3", "sep_conv_5x5"):
        k = int(name[-1])
        y = b.conv(b.relu(x), c, k, stride, k // 2, groups=c)
        y = b.bn(b.conv(y, c, 1))
        y = b.conv(b.relu(y), c, k, 1, k // 2, groups=c)
        return b.bn(b.conv(y, c, 1))
    if name in ("dil_conv_3x3", "dil_conv_5x5"):
        k = int(name[-1])
        y = b.conv(b.relu(x), c, k, stride, k - 1, dilation=2, groups=c)
        return b.bn(b.conv(y, c, 1))
    if name == "none":
        return b.zero(x, stride)
    raise ValueError(f"unknown DARTS op {name!r}")


def _cell_cg(
    b: CGBuilder,
    pairs: Pairs,
    concat: Sequence[int],
    s0: int,
    s1: int,
    c: int,
    reduction: bool,
    reduction_prev: bool,
) -> int:
    p0 = _factorized_reduce_cg(b, s0, c) if reduction_prev else b.conv_bn(b.relu(s0), c, 1)
    states = [p0, b.conv_bn(b.relu(s1), c, 1)]
    for i in range(len(pairs) // 2):
        hs = [
            _op_cg(b, name, states[index], c, 2 if reduction and index < 2 else 1)
            for name, index in pairs[2 * i : 2 * i + 2]
        ]
        states.append(b.add(*hs))
    return b.concat([states[k] for k in concat])


def network_cg(
    arch: Any, init_channels: int, layers: int, num_classes: int, auxiliary: bool, name: str
) -> ComputeGraph:
    b = CGBuilder((32, 32, 3), name=name)
    stem = b.conv_bn(b.input_node, 3 * init_channels, 3, 1, 1)
    s0 = s1 = stem
    c = init_channels
    aux_out = None
    for i, reduction, reduction_prev in cell_layout(layers):
        if reduction:
            c *= 2
        pairs, concat = arch.cell("reduce" if reduction else "normal")
        s0, s1 = s1, _cell_cg(b, pairs, concat, s0, s1, c, reduction, reduction_prev)
        if auxiliary and i == 2 * layers // 3:
            y = b.pool(b.relu(s1), "avg", 5, 3, 0)
            y = b.conv_bn_act(y, 128, 1)
            y = b.conv_bn_act(y, 768, 2)
            aux_out = b.linear(y, num_classes)
    logits = b.linear(b.mean(s1), num_classes)
    return b.build(logits if aux_out is None else [logits, aux_out])


def count_params(arch: Any, init_channels: int, layers: int, num_classes: int, auxiliary: bool) -> int:
    """``sum(p.numel())`` of the DARTS evaluation network of ``arch``, counted analytically."""
    c, nc = init_channels, num_classes
    stem = 3 * c
    total = 3 * stem * 9 + 2 * stem
    c_prev_prev, c_prev, c_aux = stem, stem, stem
    for i, reduction, reduction_prev in cell_layout(layers):
        if reduction:
            c *= 2
        pairs, concat = arch.cell("reduce" if reduction else "normal")
        total += 2 * c_prev_prev * (c // 2) + 2 * c if reduction_prev else c_prev_prev * c + 2 * c
        total += c_prev * c + 2 * c
        total += sum(_op_params(name, c, 2 if reduction and index < 2 else 1) for name, index in pairs)
        c_prev_prev, c_prev = c_prev, len(concat) * c
        if i == 2 * layers // 3:
            c_aux = c_prev
    total += c_prev * nc + nc
    if auxiliary:
        total += c_aux * 128 + 2 * 128 + 128 * 768 * 4 + 2 * 768 + 768 * nc + nc
    return total
