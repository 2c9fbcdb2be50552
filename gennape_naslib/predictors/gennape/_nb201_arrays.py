"""Fast :class:`~gennape_naslib.predictors.gennape.data.GraphArrays` of NAS-Bench-201 cells.

The general path builds the :class:`~gennape_naslib.cg.graph.ComputeGraph` of a cell
(:meth:`NB201.to_cg`) and reads the features of its ~210 nodes one by one
(:func:`~gennape_naslib.predictors.gennape.data.graph_arrays`), about 0.6 ms per cell in pure Python.
NB-201 networks are one fixed skeleton (input, stem, three stages of five identical cells, two
reduction blocks, head, output) in which only the cell changes, so this builder assembles the
arrays directly:

* a feature table holds one row per distinct node of the skeleton (input, stem, reduction blocks,
  head, output) and per cell-node kind and stage (``relu``, ``conv3``, ``conv1``, ``bn``, ``zero``,
  ``avgpool``, ``add``); its rows are computed once by ``graph_arrays`` itself on those very
  :class:`~gennape_naslib.cg.graph.Node` objects, so every value is the general path's;
* the cell's node kinds and local edges are made from per-op blocks by :func:`_template` (the
  rules of the family's ``_nb201_net._cell_template``), placed with numpy offsets in the node
  order of ``build_cg_fast``; the edges are sorted and de-duplicated as ``ComputeGraph`` stores them;
* the FLOPs are the family's count, which is affine in the numbers of 3x3 and 1x1 convolutions
  (coefficients taken from :meth:`NB201.flops`, exact integers).

The result equals ``graph_arrays(family.to_cg(arch), flops=family.flops(arch))`` field by field
(checked on all 15,625 cells by ``tests/predictors/test_nb201_fast_arrays.py``), at a few tens of
microseconds per cell. :func:`build_arrays` declines (returns ``None``) for adapters that are not
exactly :class:`~gennape_naslib.search_spaces.nb201.NB201`, so subclasses keep the general path.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, NamedTuple

import numpy as np

from gennape_naslib.cg.graph import ComputeGraph
from gennape_naslib.predictors.gennape.data import GraphArrays, graph_arrays

__all__ = ["build_arrays", "nb201_arrays", "nb201_arrays_many"]

#: Cell-node kinds of ``_nb201_net._cell_template``, in table order within a stage.
_KINDS = ("relu", "conv3", "conv1", "bn", "zero", "avgpool", "add")
_KIND_ID = {kind: i for i, kind in enumerate(_KINDS)}


class _Tables(NamedTuple):
    op: np.ndarray
    res: np.ndarray
    kernel: np.ndarray
    bias: np.ndarray
    weighted: np.ndarray
    stage_base: tuple[int, ...]  # first table row of each stage's cell kinds
    pieces: tuple[tuple[np.ndarray, np.ndarray, int], ...]  # stem, reduction 1, reduction 2, head: rows, edges, out
    output_row: int
    flops: tuple[int, int, int]  # FLOPs = f0 + f3 * (# 3x3 convs) + f1 * (# 1x1 convs)


def _net() -> Any:
    from gennape_naslib.search_spaces import _nb201_net

    return _nb201_net


@cache
def _tables(num_classes: int) -> _Tables:
    """Feature rows of every distinct skeleton node, computed by ``graph_arrays`` (the general path)."""
    from gennape_naslib.search_spaces import get

    net, family = _net(), get("nb201")
    nodes = [net._INPUT_NODE]
    pieces = []

    def add_piece(piece: Any) -> None:
        p_nodes, p_edges, p_out = piece
        rows = np.arange(len(nodes), len(nodes) + len(p_nodes), dtype=np.int64)
        nodes.extend(p_nodes)
        pieces.append((rows, np.array(p_edges, dtype=np.int64).reshape(-1, 2), int(p_out)))

    add_piece(net._stem_piece())
    add_piece(net._reduction_piece(1))
    add_piece(net._reduction_piece(2))
    add_piece(net._head_piece(num_classes))
    stage_base = []
    for stage in range(net.NUM_STAGES):
        stage_base.append(len(nodes))
        kinds = net._stage_nodes(stage)
        nodes.extend(kinds[kind] for kind in _KINDS)
    output_row = len(nodes)
    nodes.append(net._output_node(num_classes))
    # the normalisation constants of the family's real graphs
    ref = family.to_cg(family.example(), num_classes)
    table = ComputeGraph(
        nodes, [], input_shape=ref.input_shape, max_h=ref.max_h, max_w=ref.max_w,
        max_hidden=ref.max_hidden, max_kernel=ref.max_kernel,
    )  # fmt: skip
    rec = graph_arrays(table, flops=0.0, key="nb201-table")
    cells = net.CELL_EDGES

    def count(ops: Sequence[str]) -> int:
        return int(family.flops(family.Arch(tuple(ops)), num_classes))

    none = ["none"] * len(cells)
    f0 = count(none)
    f3 = count(["nor_conv_3x3"] + none[1:]) - f0
    f1 = count(["nor_conv_1x1"] + none[1:]) - f0
    return _Tables(
        rec.op, rec.res, rec.kernel, rec.bias, rec.weighted, tuple(stage_base), tuple(pieces), output_row, (f0, f3, f1)
    )


class _Layout(NamedTuple):
    n: int
    rows: np.ndarray  # table rows of the skeleton nodes; cell slots hold the stage base
    cell_slots: np.ndarray  # (3, 5, k) node positions of the cells' nodes
    bases: np.ndarray  # (15,) position of every cell's first node
    inputs: np.ndarray  # (15,) position of every cell's input
    fixed_pairs: np.ndarray  # (F,) ``src * n + dst`` of the edges of the skeleton pieces and the output


@cache
def _layout(num_classes: int, k: int, out: int) -> _Layout:
    """Node positions of the skeleton for cells of ``k`` nodes whose output is local node ``out``."""
    net, t = _net(), _tables(num_classes)
    stem, red1, red2, head = t.pieces
    n_cells = net.CELLS_PER_STAGE
    rows: list[np.ndarray] = [np.zeros(1, dtype=np.int64)]
    edges: list[np.ndarray] = []
    slots = np.zeros((net.NUM_STAGES, n_cells, k), dtype=np.int64)
    bases, inputs = [], []
    pos, x = 1, 0

    def place(piece: tuple[np.ndarray, np.ndarray, int]) -> None:
        nonlocal pos, x
        p_rows, p_edges, p_out = piece
        rows.append(p_rows)
        if len(p_edges):
            src = np.where(p_edges[:, 0] < 0, x, p_edges[:, 0] + pos)
            edges.append(np.stack([src, p_edges[:, 1] + pos]))
        if p_out >= 0:
            x = pos + p_out
        pos += len(p_rows)

    place(stem)
    for stage in range(net.NUM_STAGES):
        if stage:
            place(red1 if stage == 1 else red2)
        for j in range(n_cells):
            slots[stage, j] = np.arange(pos, pos + k)
            rows.append(np.full(k, t.stage_base[stage], dtype=np.int64))
            bases.append(pos)
            inputs.append(x)
            if out >= 0:
                x = pos + out
            pos += k
    place(head)
    edges.append(np.array([[x], [pos]], dtype=np.int64))
    rows.append(np.array([t.output_row], dtype=np.int64))
    fixed = np.concatenate(edges, axis=1)
    return _Layout(
        pos + 1, np.concatenate(rows), slots, np.array(bases, dtype=np.int64), np.array(inputs, dtype=np.int64),
        fixed[0] * (pos + 1) + fixed[1],
    )  # fmt: skip


# Node kinds (ids into _KINDS) of every edge op, and the position of the op's value in the block.
_BLOCKS: dict[str, tuple[int, ...]] = {
    "skip_connect": (),
    "none": (_KIND_ID["zero"],),
    "avg_pool_3x3": (_KIND_ID["avgpool"],),
    "nor_conv_1x1": (_KIND_ID["relu"], _KIND_ID["conv1"], _KIND_ID["bn"]),
    "nor_conv_3x3": (_KIND_ID["relu"], _KIND_ID["conv3"], _KIND_ID["bn"]),
}
_ADD = _KIND_ID["add"]


def _template(ops: Sequence[str]) -> tuple[list[int], list[int], list[int]]:
    """Kind ids, edge sources and edge targets (local; -1 = cell input) of a cell.

    The same cell as ``_nb201_net._cell_template`` (node order included): each edge op appends its
    nodes (a chain), node 2 and the output fold their inputs left with ``add`` nodes, skipping an
    operand equal to the running sum.
    """
    kinds: list[int] = []
    src: list[int] = []
    dst: list[int] = []

    def edge(op: str, x: int) -> int:
        block = _BLOCKS[op]
        for kind in block:
            src.append(x)
            x = len(kinds)
            dst.append(x)
            kinds.append(kind)
        return x

    def add(acc: int, other: int) -> int:
        if other == acc:
            return acc
        node = len(kinds)
        kinds.append(_ADD)
        src.extend((acc, other))
        dst.extend((node, node))
        return node

    e01, e02, e12, e03, e13, e23 = ops
    n1 = edge(e01, -1)
    n2 = add(edge(e02, -1), edge(e12, n1))
    v03 = edge(e03, -1)
    v13 = edge(e13, n1)
    v23 = edge(e23, n2)
    add(add(v03, v13), v23)
    return kinds, src, dst


def _decode(pair: np.ndarray, n: int) -> np.ndarray:
    """``src * n + dst`` codes ``(..., E)`` back to edges ``(..., 2, E)``."""
    edges = np.empty((*pair.shape[:-1], 2, pair.shape[-1]), dtype=np.int64)
    np.floor_divide(pair, n, out=edges[..., 0, :])
    np.subtract(pair, edges[..., 0, :] * n, out=edges[..., 1, :])
    return edges


def nb201_arrays(ops: Sequence[str], num_classes: int = 10, key: Any = None) -> GraphArrays:
    """The :class:`GraphArrays` of the NB-201 cell ``ops`` (six op names, arch-string edge order).

    Equal to ``graph_arrays(NB201().to_cg(arch, num_classes), flops=NB201().flops(arch, num_classes))``.

    Args:
        ops: The six edge ops.
        num_classes: Classifier outputs.
        key: Identity stored in the record.

    Raises:
        KeyError: If an op is not one of the five NB-201 ops.
    """
    return nb201_arrays_many([ops], num_classes, [key])[0]


def nb201_arrays_many(
    cells: Sequence[Sequence[str]], num_classes: int = 10, keys: Sequence[Any] | None = None
) -> list[GraphArrays]:
    """:func:`nb201_arrays` of many cells, vectorised over the cells of equal size.

    The records of a group of cells with the same numbers of nodes and edges are rows of shared
    arrays (contiguous views; records are never written to).

    Raises:
        KeyError: If an op is not one of the five NB-201 ops.
    """
    t = _tables(num_classes)
    keys = [None] * len(cells) if keys is None else list(keys)
    groups: dict[tuple[int, int], list[int]] = {}
    templates = []
    for i, ops in enumerate(cells):
        tpl = _template(ops)
        templates.append(tpl)
        groups.setdefault((len(tpl[0]), len(tpl[1])), []).append(i)
    f0, f3, f1 = t.flops
    out: list[GraphArrays | None] = [None] * len(cells)
    for (k, m), members in groups.items():
        # the cell output is its last node (an add) unless the cell is empty (all skip_connect)
        lay = _layout(num_classes, k, k - 1)
        g = len(members)
        rows = np.tile(lay.rows, (g, 1))
        if k:
            kinds = np.array([templates[i][0] for i in members], dtype=np.int64)  # (g, k)
            rows[:, lay.cell_slots] += kinds[:, None, None, :]
            ce = np.array([templates[i][1] + templates[i][2] for i in members], dtype=np.int64)  # (g, 2m)
            src = np.where(ce[:, None, :m] < 0, lay.inputs[None, :, None], ce[:, None, :m] + lay.bases[None, :, None])
            dst = ce[:, None, m:] + lay.bases[None, :, None]
            pair = np.concatenate([np.broadcast_to(lay.fixed_pairs, (g, len(lay.fixed_pairs))),
                                   (src * lay.n + dst).reshape(g, -1)], axis=1)  # fmt: skip
        else:
            pair = np.tile(lay.fixed_pairs, (g, 1))
        pair.sort(axis=1)
        if pair.shape[1] > 1 and (pair[:, 1:] == pair[:, :-1]).any():  # pragma: no cover - never for NB-201
            edges = [_decode(np.unique(p), lay.n) for p in pair]  # ComputeGraph stores each edge once
        else:
            edges = _decode(pair, lay.n)
        op, res, kernel = t.op[rows], t.res[rows], t.kernel[rows]
        bias, weighted = t.bias[rows], t.weighted[rows]
        for j, i in enumerate(members):
            ops = cells[i]
            flops = f0 + f3 * ops.count("nor_conv_3x3") + f1 * ops.count("nor_conv_1x1")
            out[i] = GraphArrays(op[j], res[j], kernel[j], bias[j], weighted[j], edges[j], float(flops) / 1e9, keys[i])
    return out  # type: ignore[return-value]


def build_arrays(archs: Sequence[Any], adapter: Any, keys: Sequence[Any]) -> list[GraphArrays] | None:
    """The family hook of :func:`~gennape_naslib.predictors.gennape.data.register_arrays_builder` for ``nb201``.

    Returns ``None`` (use the general path) unless ``adapter`` is exactly the built-in
    :class:`~gennape_naslib.search_spaces.nb201.NB201`.
    """
    from gennape_naslib.search_spaces.nb201 import NB201

    if type(adapter) is not NB201:
        return None
    nc = int(adapter.num_classes)
    return nb201_arrays_many([arch.ops for arch in archs], nc, keys)
