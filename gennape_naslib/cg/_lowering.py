"""The part of every importer that does not depend on the source framework.

An importer (torch.fx, ONNX, TensorFlow GraphDef) turns each framework node into a :class:`RawNode`
with a vocabulary op (or ``None`` for plumbing that vanishes: reshapes, constants, slices, ...), its
first-input and output geometry, and its parents. :func:`finalize` then applies GENNAPE's rules:

1. nodes marked ``None`` are contracted (their parents connect to their children);
2. ``add``/``mul`` nodes with fewer than two distinct parents are contracted (arithmetic with a
   constant, ``x + x``);
3. internal ``input``/``output`` nodes are contracted, so that one source and one sink remain;
4. nodes that do not reach the output are dropped, the rest are ordered topologically (stable in
   the framework's order) and become a :class:`~gennape_naslib.cg.graph.ComputeGraph`.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gennape_naslib.cg.graph import ComputeGraph, GraphError, Node

__all__ = [
    "RawNode",
    "SpaceToBatch",
    "any_rank_hwc",
    "dense_rows_hwc",
    "finalize",
    "hwc_of",
    "rows_hwc_of",
    "space_to_batch",
    "split_dilated_conv",
]

logger = logging.getLogger(__name__)

HWC = tuple[int, int, int]


def hwc_of(shape: Sequence[int] | None, layout: str = "NCHW") -> HWC | None:
    """``(H, W, C)`` of a tensor shape: 4-D by ``layout``, 2-D as ``(1, 1, dim1)``, else ``None``."""
    if shape is None:
        return None
    dims = [int(d) if d is not None and int(d) >= 0 else 1 for d in shape]
    if len(dims) == 4:
        if layout == "NCHW":
            return (dims[2], dims[3], dims[1])
        return (dims[1], dims[2], dims[3])
    if len(dims) == 2:
        return (1, 1, dims[1])
    if len(dims) == 3:  # (N, L, C) sequences: treat length as height
        return (dims[1], 1, dims[2]) if layout != "NCHW" else (dims[2], 1, dims[1])
    if len(dims) == 1:
        return (1, 1, dims[0])
    return None


def rows_hwc_of(shape: Sequence[int | None] | None) -> HWC | None:
    """``(H, W, C)`` of the input or output of a dense layer (``Linear``, ``MatMul``) on ``shape``.

    A dense layer acts on the last axis, so C is the last axis and the axes between the batch and
    it are the rows the layer is applied to: ``(N, C)`` gives ``(1, 1, C)``, tokens ``(N, L, C)``
    ``(L, 1, C)``, a channels-last map ``(N, H, W, C)`` ``(H, W, C)`` (more row axes fold into H).
    """
    if shape is None:
        return None
    dims = [int(d) if d is not None and int(d) >= 0 else 1 for d in shape]
    if not dims:
        return None
    rows = dims[1:-1]
    if not rows:
        return (1, 1, dims[-1])
    h = 1
    for d in rows[:-1]:
        h *= d
    return (h, rows[-1], dims[-1]) if len(rows) > 1 else (rows[0], 1, dims[-1])


def any_rank_hwc(shape: Sequence[int | None] | None) -> HWC | None:
    """``(H, W, C)`` of an NCHW-like tensor of any rank (``None`` only for an unknown shape).

    Ranks 1 to 4 are read by :func:`hwc_of`; a scalar is ``(1, 1, 1)``;
    a tensor of rank 5 or more (``(N, C, D1, ..., Dk)``: 3-D maps, windowed attention) keeps axis 1
    as C and the last axis as W and folds the axes between them into H. Without this, an op on such a
    tensor (MaxViT's ``einsum``) left its node without geometry and the whole import failed.
    """
    hwc = hwc_of(shape)
    if hwc is not None or shape is None:
        return hwc
    dims = [int(d) if d is not None and int(d) >= 0 else 1 for d in shape]
    if not dims:
        return (1, 1, 1)
    h = 1
    for d in dims[2:-1]:
        h *= d
    return (h, dims[-1], dims[1])


def dense_rows_hwc(shape: Sequence[int | None] | None) -> HWC | None:
    """``(H, W, C)`` of a dense layer's operand in a batch-1 graph: every axis but the last is rows.

    :func:`rows_hwc_of` reads axis 0 as the batch. The graphs are built
    for one input, so when axis 0 is not 1 it holds rows too: a sequence-first ``(L, 1, C)`` tensor
    (``nn.MultiheadAttention`` and ``nn.Transformer*`` with ``batch_first=False``) or a flattened
    ``(L, C)`` matrix has L rows, not one.
    """
    if shape is None:
        return None
    dims = [int(d) if d is not None and int(d) >= 0 else 1 for d in shape]
    if len(dims) >= 2 and dims[0] != 1:
        dims = [1, *dims]
    return rows_hwc_of(dims)


@dataclass
class RawNode:
    """A framework node on its way into a computation graph.

    Attributes:
        key: Unique name in the source graph.
        op: Vocabulary op, or ``None`` to contract the node away.
        parents: Keys of the nodes whose outputs feed this one, first (data) input first.
        in_hwc: Geometry of the first input tensor (``None``: take the first parent's output).
        out_hwc: Geometry of the output tensor (``None``: take the first child's input).
        shape, use_bias, strides, metadata: As in :class:`~gennape_naslib.cg.graph.Node`.
    """

    key: str
    op: str | None
    parents: list[str] = field(default_factory=list)
    in_hwc: HWC | None = None
    out_hwc: HWC | None = None
    shape: tuple[int, int, int, int] | None = None
    use_bias: bool = False
    strides: tuple[int, int] | None = None
    metadata: dict[str, Any] | None = None
    label: str = ""


@dataclass(frozen=True)
class SpaceToBatch:
    """TensorFlow's form of a dilated stride-1 convolution (GENNAPE_FACTS 1.7), one axis pair at a time.

    TF runs ``conv(x, dilation=d)`` as ``spacetobatchnd`` (pad, then cut the map into ``d_h x d_w``
    interleaved blocks) ``-> conv (dilation 1, valid padding) on each block -> batchtospacend``
    (reassemble, cropping the extra padding). ``pad_h``/``pad_w`` are the ``[start, end]`` paddings of
    ``spacetobatchnd``: the convolution's own, plus at the end what makes the padded side a multiple
    of ``d``; ``block`` is the side of one block, ``block_out`` the convolution's output on it.
    """

    block: tuple[int, int]
    block_out: tuple[int, int]
    pad_h: tuple[int, int]
    pad_w: tuple[int, int]


def space_to_batch(
    hw: Sequence[int], kernel: Sequence[int], dilation: Sequence[int], pads: Sequence[Sequence[int]]
) -> SpaceToBatch | None:
    """The :class:`SpaceToBatch` geometry of a dilated stride-1 convolution, or ``None`` when not dilated.

    Args:
        hw: Input ``(H, W)``.
        kernel: ``(k_h, k_w)``.
        dilation: ``(d_h, d_w)``.
        pads: ``((top, bottom), (left, right))`` zero padding of the convolution.

    Returns ``None`` also for a block smaller than the kernel (no output; the caller keeps one node).
    """
    if all(int(d) == 1 for d in dilation):
        return None
    block, block_out, padded = [], [], []
    for size, k, d, (start, end) in zip(hw, kernel, dilation, pads):
        full = int(size) + int(start) + int(end)
        extra = -full % int(d)
        block.append((full + extra) // int(d))
        block_out.append(block[-1] - int(k) + 1)
        padded.append((int(start), int(end) + extra))
    if min(block_out) < 1:
        return None
    return SpaceToBatch((block[0], block[1]), (block_out[0], block_out[1]), padded[0], padded[1])


def split_dilated_conv(
    conv: RawNode, dilation: Sequence[int], pads: Sequence[Sequence[int]], stride: Sequence[int] = (1, 1)
) -> list[RawNode]:
    """``[conv]``, or TF's ``spacetobatchnd -> conv -> batchtospacend`` for a dilated stride-1 ``conv``.

    Every importer lowers a dilated convolution as TensorFlow's frozen graphs hold it (GENNAPE_FACTS
    1.7, decision 1: one network, one graph): the inner convolution has dilation 1 and the resolution of
    one block. The last node keeps ``conv.key``, so the convolution's consumers read the reassembled map.
    Grouped convolutions split alike (Keras' grouped ``Conv2D`` holds the same form); strided dilated
    convolutions stay one node with ``metadata["dilation"]``: TF's atrous ops refuse a stride with a dilation.
    """
    if conv.op not in ("conv", "depthwise") or conv.shape is None or conv.in_hwc is None or conv.out_hwc is None:
        return [conv]
    if any(int(s) != 1 for s in stride):
        return [conv]
    geometry = space_to_batch(conv.in_hwc[:2], conv.shape[2:], dilation, pads)
    if geometry is None:
        return [conv]
    (h, w, c_in), (h_out, w_out, c_out) = conv.in_hwc, conv.out_hwc
    (bh, bw), (oh, ow) = geometry.block, geometry.block_out
    crop_h, crop_w = geometry.pad_h[1] - pads[0][1], geometry.pad_w[1] - pads[1][1]
    if (oh * dilation[0] - crop_h, ow * dilation[1] - crop_w) != (h_out, w_out):
        return [conv]  # the traced output disagrees with the arithmetic: keep what the framework reported
    s2b_key = conv.key + "/spacetobatchnd"
    inner_key = conv.key + "/" + conv.op
    metadata = {k: v for k, v in (conv.metadata or {}).items() if k not in ("dilation", "padding", "pads")}
    metadata["padding"] = "valid"
    return [
        RawNode(
            s2b_key,
            "spacetobatchnd",
            conv.parents[:1],
            (h, w, c_in),
            (bh, bw, c_in),
            metadata={"pad_h": list(geometry.pad_h), "pad_w": list(geometry.pad_w)},
            label="spacetobatchnd",
        ),
        RawNode(
            inner_key,
            conv.op,
            [s2b_key],
            (bh, bw, c_in),
            (oh, ow, c_out),
            shape=conv.shape,
            use_bias=conv.use_bias,
            strides=(1, 1),
            metadata=metadata,
            label=conv.label,
        ),
        RawNode(
            conv.key, "batchtospacend", [inner_key], (oh, ow, c_out), (h_out, w_out, c_out), label="batchtospacend"
        ),
    ]


def finalize(raw: Sequence[RawNode], name: str, input_hwc: HWC | None = None) -> ComputeGraph:
    """Contract plumbing, order topologically and build the graph (see the module docstring).

    Raises:
        GraphError: If the graph has no source/sink, a cycle, or a node with unknown geometry.
    """
    nodes = {n.key: n for n in raw}
    order = {n.key: i for i, n in enumerate(raw)}
    parents: dict[str, list[str]] = {}
    for n in raw:
        seen: list[str] = []
        for p in n.parents:
            if p in nodes and p not in seen and p != n.key:
                seen.append(p)
        parents[n.key] = seen
    children: dict[str, list[str]] = {k: [] for k in nodes}
    for k, ps in parents.items():
        for p in ps:
            children[p].append(k)

    def contract(key: str) -> None:
        ps, cs = parents.pop(key), children.pop(key)
        for p in ps:
            children[p] = [c for c in children[p] if c != key]
        for c in cs:
            new = []
            for p in parents[c]:
                if p == key:
                    new.extend(q for q in ps if q not in new and q not in parents[c])
                elif p not in new:
                    new.append(p)
            parents[c] = new
            for q in ps:
                if c not in children[q]:
                    children[q].append(c)
        del nodes[key]

    for key in [n.key for n in raw if n.op is None]:
        contract(key)
    changed = True
    while changed:
        changed = False
        for key in list(nodes):
            node = nodes[key]
            degenerate = node.op in ("add", "mul") and len(parents[key]) < 2
            internal_io = node.op in ("input", "output") and parents[key] and children[key]
            if degenerate or internal_io:
                contract(key)
                changed = True

    sources = [k for k in nodes if not parents[k]]
    sinks = [k for k in nodes if not children[k]]
    inputs = [k for k in sources if nodes[k].op == "input"]
    if len(inputs) != 1:
        raise GraphError(f"graph {name!r}: expected exactly one input node, found {len(inputs)} ({inputs})")
    outputs = [k for k in sinks if nodes[k].op == "output"]
    if len(outputs) != 1:
        raise GraphError(f"graph {name!r}: expected exactly one output node, found {len(outputs)} ({outputs})")

    # Keep what lies on a path from the input to the output (drops dead code and stray constants).
    def reach(start: str, step: dict[str, list[str]]) -> set[str]:
        seen, stack = {start}, [start]
        while stack:
            for nxt in step[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen

    live = reach(inputs[0], children) & reach(outputs[0], parents)
    dropped = [k for k in nodes if k not in live]
    if dropped:
        logger.debug("graph %r: dropping %d nodes off the input-output paths: %s", name, len(dropped), dropped[:5])

    # Stable Kahn topological sort in source order.
    indeg = {k: sum(1 for p in parents[k] if p in live) for k in live}
    heap = [(order[k], k) for k in live if indeg[k] == 0]
    heapq.heapify(heap)
    topo: list[str] = []
    while heap:
        _, k = heapq.heappop(heap)
        topo.append(k)
        for c in children[k]:
            if c in live:
                indeg[c] -= 1
                if indeg[c] == 0:
                    heapq.heappush(heap, (order[c], c))
    if len(topo) != len(live):
        raise GraphError(f"graph {name!r}: the graph has a cycle")
    if topo[0] != inputs[0] or topo[-1] != outputs[0]:
        # Input first and output last is guaranteed by reachability, but guard the contract.
        raise GraphError(f"graph {name!r}: input must come first and output last")

    index = {k: i for i, k in enumerate(topo)}
    built: list[Node] = []
    out_of: dict[str, HWC] = {}
    for k in topo:
        n = nodes[k]
        live_parents = [p for p in parents[k] if p in live]
        in_hwc = n.in_hwc
        if in_hwc is None and live_parents:
            in_hwc = out_of[live_parents[0]]
        if in_hwc is None:
            in_hwc = input_hwc or n.out_hwc
        out_hwc = n.out_hwc
        if n.op == "output":
            out_hwc = in_hwc
        if out_hwc is None:
            kids = [c for c in children[k] if c in live]
            out_hwc = nodes[kids[0]].in_hwc if kids else None
        if in_hwc is None or out_hwc is None:
            raise GraphError(f"graph {name!r}: cannot determine the geometry of node {k!r} ({n.op})")
        out_of[k] = out_hwc
        built.append(
            Node(
                n.op,  # type: ignore[arg-type]
                (in_hwc[0], out_hwc[0], in_hwc[1], out_hwc[1], in_hwc[2], out_hwc[2]),
                shape=n.shape,
                use_bias=n.use_bias,
                strides=n.strides,
                label=n.label or k,
                metadata=n.metadata,
            )
        )
    edges = [(index[p], index[k]) for k in topo for p in parents[k] if p in live]
    h, w, c = built[0].resolution[0], built[0].resolution[2], built[0].resolution[4]
    return ComputeGraph(built, edges, name=name, input_shape=(1, h, w, c))
