"""The NAS-Bench-201 network: the PyTorch module and its computation graph, built two ways.

This private module holds what :mod:`gennape_naslib.search_spaces.nb201` needs to turn a cell
(six op names in the official arch-string edge order ``0->1, 0->2, 1->2, 0->3, 1->3, 2->3``) into
the benchmark's network:

* :class:`NB201Network`, the PyTorch network the benchmark trained (see the adapter's docstring);
* :func:`build_cg_reference`, the same network described with :class:`~gennape_naslib.cg.CGBuilder`;
* :func:`build_cg_fast`, the same graph assembled from cached, immutable per-stage cell pieces
  (the nodes of a cell at a given stage never change, so they are made once and shared).

All three agree: ``build_cg_fast(ops) == build_cg_reference(ops) == from_torch(NB201Network(ops))``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, lru_cache

from gennape_naslib.cg.builder import CGBuilder
from gennape_naslib.cg.graph import ComputeGraph, Node

__all__ = [
    "CELL_EDGES",
    "INIT_CHANNELS",
    "CELLS_PER_STAGE",
    "build_cg_fast",
    "build_cg_reference",
    "stage_geometry",
]

#: Edges ``(src, dst)`` of the cell in the official arch-string order.
CELL_EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
#: Channels of the first stage (16, then 32 and 64).
INIT_CHANNELS = 16
#: Cells per stage (N = 5 in the benchmark).
CELLS_PER_STAGE = 5
#: Number of stages.
NUM_STAGES = 3
#: Input resolution (CIFAR).
INPUT_HW = 32


def stage_geometry(stage: int) -> tuple[int, int]:
    """``(channels, height)`` of the feature maps in stage ``stage`` (0, 1, 2)."""
    return INIT_CHANNELS << stage, INPUT_HW >> stage


# ---------------------------------------------------------------------------------------------
# Computation graph through the builder (reference)
# ---------------------------------------------------------------------------------------------
def _builder_edge(b: CGBuilder, op: str, src: int) -> int:
    if op == "skip_connect":
        return src
    if op == "none":
        return b.zero(src)
    if op == "avg_pool_3x3":
        return b.pool(src, "avg", 3, stride=1, padding=1)
    kernel = 3 if op == "nor_conv_3x3" else 1
    return b.act_conv_bn(src, b.out_shape(src)[2], kernel, padding=kernel // 2)


def _builder_cell(b: CGBuilder, ops: Sequence[str], x: int) -> int:
    e01, e02, e12, e03, e13, e23 = ops
    n1 = _builder_edge(b, e01, x)
    n2 = b.add(_builder_edge(b, e02, x), _builder_edge(b, e12, n1))
    return b.add(_builder_edge(b, e03, x), _builder_edge(b, e13, n1), _builder_edge(b, e23, n2))


def _builder_reduction(b: CGBuilder, x: int, c_out: int) -> int:
    main = b.act_conv_bn(x, c_out, 3, stride=2, padding=1)
    main = b.act_conv_bn(main, c_out, 3, padding=1)
    short = b.conv(b.pool(x, "avg", 2, stride=2), c_out, 1)
    return b.add(short, main)


def build_cg_reference(ops: Sequence[str], num_classes: int = 10, name: str = "") -> ComputeGraph:
    """The network's computation graph described step by step with :class:`CGBuilder`."""
    b = CGBuilder((INPUT_HW, INPUT_HW, 3), name=name)
    x = b.conv_bn(b.input_node, INIT_CHANNELS, 3, padding=1)
    for stage in range(NUM_STAGES):
        if stage:
            x = _builder_reduction(b, x, stage_geometry(stage)[0])
        for _ in range(CELLS_PER_STAGE):
            x = _builder_cell(b, ops, x)
    x = b.relu(b.bn(x))
    x = b.linear(b.mean(x), num_classes)
    return b.build(x)


# ---------------------------------------------------------------------------------------------
# Computation graph from cached pieces (fast path)
# ---------------------------------------------------------------------------------------------
# A piece is (nodes, edges, out): the nodes of a sub-network, its edges with local indices where
# -1 stands for the piece's input, and the local index of its output (-1: the input itself).
_Piece = tuple[tuple[Node, ...], tuple[tuple[int, int], ...], int]


def _piece_from_builder(b: CGBuilder, out: int) -> _Piece:
    """Turn a builder whose node 0 is a placeholder input into a piece."""
    graph = b.build(out)  # adds an output node, dropped below
    nodes = graph.nodes[1:-1]
    edges = tuple((s - 1, d - 1) for s, d in graph.edges if d != len(graph.nodes) - 1)
    return nodes, edges, out - 1


@lru_cache(maxsize=4096)
def _cell_template(ops: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[tuple[int, int], ...], int]:
    """The cell's node kinds, local edges (-1 = cell input) and output, mirroring the builder.

    Additions fold left and skip an operand equal to the running sum, as :meth:`CGBuilder.add` and
    the torch.fx lowering do (``x + x`` of one tensor is not an ``add`` node).
    """
    kinds: list[str] = []
    edges: list[tuple[int, int]] = []

    def new(kind: str, parents: Sequence[int]) -> int:
        kinds.append(kind)
        edges.extend((p, len(kinds) - 1) for p in parents)
        return len(kinds) - 1

    def edge(op: str, src: int) -> int:
        if op == "skip_connect":
            return src
        if op in ("none", "avg_pool_3x3"):
            return new("zero" if op == "none" else "avgpool", [src])
        relu = new("relu", [src])
        return new("bn", [new("conv3" if op == "nor_conv_3x3" else "conv1", [relu])])

    def add(*xs: int) -> int:
        acc = xs[0]
        for other in xs[1:]:
            if other != acc:
                acc = new("add", [acc, other])
        return acc

    e01, e02, e12, e03, e13, e23 = ops
    n1 = edge(e01, -1)
    n2 = add(edge(e02, -1), edge(e12, n1))
    out = add(edge(e03, -1), edge(e13, n1), edge(e23, n2))
    return tuple(kinds), tuple(edges), out


@cache
def _stage_nodes(stage: int) -> dict[str, Node]:
    """The (immutable, shareable) node of every cell-node kind at ``stage``, made by the builder."""
    c, h = stage_geometry(stage)
    b = CGBuilder((h, h, c))
    x = b.input_node
    made = {
        "zero": b.zero(x),
        "avgpool": b.pool(x, "avg", 3, stride=1, padding=1),
        "relu": b.relu(x),
        "conv3": b.conv(x, c, 3, padding=1),
        "conv1": b.conv(x, c, 1),
        "bn": b.bn(x),
        "add": b.add(x, b.bn(x)),
    }
    graph = b.build(x)
    return {kind: graph.nodes[index] for kind, index in made.items()}


def _cell_piece(ops: tuple[str, ...], stage: int) -> _Piece:
    kinds, edges, out = _cell_template(ops)
    node_of = _stage_nodes(stage)
    return tuple(node_of[k] for k in kinds), edges, out


@cache
def _reduction_piece(stage: int) -> _Piece:
    c, h = stage_geometry(stage - 1)
    b = CGBuilder((h, h, c))
    return _piece_from_builder(b, _builder_reduction(b, b.input_node, 2 * c))


@cache
def _stem_piece() -> _Piece:
    b = CGBuilder((INPUT_HW, INPUT_HW, 3))
    return _piece_from_builder(b, b.conv_bn(b.input_node, INIT_CHANNELS, 3, padding=1))


@cache
def _head_piece(num_classes: int) -> _Piece:
    c, h = stage_geometry(NUM_STAGES - 1)
    b = CGBuilder((h, h, c))
    x = b.linear(b.mean(b.relu(b.bn(b.input_node))), num_classes)
    return _piece_from_builder(b, x)


_INPUT_NODE = Node("input", (INPUT_HW, INPUT_HW, INPUT_HW, INPUT_HW, 3, 3), label="input")


@lru_cache(maxsize=64)
def _output_node(num_classes: int) -> Node:
    return Node("output", (1, 1, 1, 1, num_classes, num_classes), label="output")


def build_cg_fast(ops: tuple[str, ...], num_classes: int = 10, name: str = "") -> ComputeGraph:
    """The same graph as :func:`build_cg_reference`, assembled from cached per-stage pieces.

    Args:
        ops: Six op names (a tuple, so that the per-cell pieces can be cached).
        num_classes: Outputs of the classifier.
        name: Graph name.
    """
    nodes: list[Node] = [_INPUT_NODE]
    edges: list[tuple[int, int]] = []
    x = 0

    def append(piece: _Piece) -> None:
        nonlocal x
        p_nodes, p_edges, p_out = piece
        base = len(nodes)
        nodes.extend(p_nodes)
        edges.extend((x if s < 0 else base + s, base + d) for s, d in p_edges)
        if p_out >= 0:
            x = base + p_out

    append(_stem_piece())
    for stage in range(NUM_STAGES):
        if stage:
            append(_reduction_piece(stage))
        cell = _cell_piece(ops, stage)
        for _ in range(CELLS_PER_STAGE):
            append(cell)
    append(_head_piece(num_classes))
    edges.append((x, len(nodes)))
    nodes.append(_output_node(num_classes))
    return ComputeGraph(nodes, edges, name=name, input_shape=(1, INPUT_HW, INPUT_HW, 3))
