"""Graph inputs of the GNN predictors: compact per-graph arrays, a cache, and fast batching.

Every architecture becomes a :class:`GraphArrays` record (GENNAPE's node features of
:mod:`gennape_naslib.cg.features` in compact dtypes, the edges and the FLOPs). Records are cached
per ``(family, arch)`` so repeated predictions skip CG construction. :func:`collate` concatenates
records into one PyG :class:`~torch_geometric.data.Batch` with numpy (much faster than building one
``Data`` object per graph and calling ``Batch.from_data_list``); the batch has the fields of
:func:`gennape_naslib.cg.features.to_pyg` (``op``, ``res``, ``kernel``, ``bias``, ``weighted``,
``edge_index``) plus ``batch`` and ``num_graphs``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from gennape_naslib.cg.counting import count_flops
from gennape_naslib.cg.graph import ComputeGraph
from gennape_naslib.cg.vocab import OP_INDEX

__all__ = ["GraphArrays", "clear_cache", "collate", "graph_arrays", "prepare"]

_CACHE: OrderedDict[Any, GraphArrays] = OrderedDict()
_CACHE_MAX = 40000
_LOCK = threading.Lock()


class GraphArrays(NamedTuple):
    """Compact GENNAPE features of one computation graph.

    Attributes:
        op: int64 ``(N,)`` vocabulary indices.
        res: float32 ``(N, 6)`` normalised resolution values.
        kernel: int64 ``(N, 2)`` kernel sizes (0 for regular nodes and dense layers), clipped to ``max_kernel``.
        bias: bool ``(N,)`` bias flag (weighted nodes only).
        weighted: bool ``(N,)``.
        edges: int64 ``(2, E)`` source and target rows (data-flow direction).
        gflops: FLOPs of the network in GFLOPs (family count when known, else counted on the graph).
        key: Cache / identity key (``(family, arch)`` or the graph's content hash).
    """

    op: np.ndarray
    res: np.ndarray
    kernel: np.ndarray
    bias: np.ndarray
    weighted: np.ndarray
    edges: np.ndarray
    gflops: float
    key: Any


def graph_arrays(cg: ComputeGraph, flops: float | None = None, key: Any = None) -> GraphArrays:
    """Compute the compact features of ``cg`` (same numbers as :func:`~gennape_naslib.cg.features.gennape_features`).

    Args:
        cg: The computation graph.
        flops: FLOPs of the network; counted on the graph when ``None``.
        key: Identity stored in the record (defaults to the graph's content hash).

    Raises:
        ValueError: If a normalisation constant of ``cg`` is not positive, or an op is not in the vocabulary.
    """
    if cg.max_h <= 0 or cg.max_w <= 0 or cg.max_hidden <= 0:
        raise ValueError(f"graph {cg.name!r}: normalisation constants must be positive")
    nodes = cg.nodes
    n = len(nodes)
    try:
        op = np.fromiter((OP_INDEX[node.op] for node in nodes), dtype=np.int64, count=n)
    except KeyError as exc:
        raise ValueError(f"graph {cg.name!r}: op {exc.args[0]!r} is not in the CG vocabulary") from None
    res = np.array([node.resolution for node in nodes], dtype=np.float32).reshape(n, 6)
    res *= np.array([1 / cg.max_h] * 2 + [1 / cg.max_w] * 2 + [1 / cg.max_hidden] * 2, dtype=np.float32)
    weighted = np.fromiter((node.shape is not None for node in nodes), dtype=bool, count=n)
    kernel = np.zeros((n, 2), dtype=np.int64)
    bias = np.zeros(n, dtype=bool)
    for i in np.flatnonzero(weighted):
        node = nodes[i]
        kernel[i] = node.shape[2:]
        bias[i] = bool(node.use_bias)
    np.clip(kernel, 0, max(int(cg.max_kernel), 0), out=kernel)
    edges = np.array(cg.edges, dtype=np.int64).reshape(-1, 2).T.copy()
    gflops = float(count_flops(cg) if flops is None else flops) / 1e9
    return GraphArrays(op, res, kernel, bias, weighted, edges, gflops, cg.content_hash() if key is None else key)


def clear_cache() -> None:
    """Drop every cached :class:`GraphArrays` record."""
    with _LOCK:
        _CACHE.clear()


def _cache_get(key: Any) -> GraphArrays | None:
    with _LOCK:
        rec = _CACHE.get(key)
        if rec is not None:
            _CACHE.move_to_end(key)
        return rec


def _cache_put(key: Any, rec: GraphArrays) -> None:
    with _LOCK:
        _CACHE[key] = rec
        while len(_CACHE) > _CACHE_MAX:
            _CACHE.popitem(last=False)


def prepare(X: Any, family: Any = None) -> tuple[list[GraphArrays], str | None]:
    """Turn architectures in any accepted form into :class:`GraphArrays` records (cached).

    Args:
        X: Sequence of family ``Arch`` objects, NASLib graph objects, JSON/text encodings (with
            ``family``) or ``ComputeGraph`` objects (FLOPs then counted on the graph).
        family: Family name or adapter (see :func:`gennape_naslib.predictors.base.as_archs_and_family`).

    Returns:
        ``(records, family_name)``; ``family_name`` is ``None`` when ``X`` holds only graphs.

    Raises:
        ValueError, TypeError: As :func:`~gennape_naslib.predictors.base.as_archs_and_family`.
    """
    from gennape_naslib.predictors.base import as_archs_and_family, check_x

    items = check_x(X)
    if all(isinstance(item, ComputeGraph) for item in items):
        out = []
        for cg in items:
            key = ("cg", cg.content_hash())
            rec = _cache_get(key)
            if rec is None:
                rec = graph_arrays(cg, key=key)
                _cache_put(key, rec)
            out.append(rec)
        return out, None
    if any(isinstance(item, ComputeGraph) for item in items):
        raise TypeError("X mixes ComputeGraph objects and architectures; pass one kind per call")
    archs, adapter = as_archs_and_family(items, family)
    name = adapter.name
    out = []
    for arch in archs:
        try:
            key = (name, arch)
            hash(key)
        except TypeError:
            key = (name, adapter.canonical_hash(arch))
        rec = _cache_get(key)
        if rec is None:
            rec = graph_arrays(adapter.to_cg(arch), flops=adapter.flops(arch), key=key)
            _cache_put(key, rec)
        out.append(rec)
    return out, name


def collate(records: Sequence[GraphArrays]) -> Any:
    """Concatenate records into one PyG ``Batch`` (node fields stacked, edges offset, ``batch`` vector).

    Args:
        records: The graphs of the batch (at least one).

    Returns:
        ``torch_geometric.data.Batch`` with ``op``, ``res``, ``kernel``, ``bias`` (float one-hot
        ``(N, 2)``), ``weighted``, ``edge_index``, ``batch``, ``gflops`` (``(B,)``) and ``num_graphs``.
    """
    import torch
    from torch_geometric.data import Batch

    if not records:
        raise ValueError("collate needs at least one graph")
    sizes = np.fromiter((len(r.op) for r in records), dtype=np.int64, count=len(records))
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    edge_index = np.concatenate([r.edges + off for r, off in zip(records, offsets)], axis=1)
    has_bias = np.concatenate([r.bias for r in records])
    bias = np.zeros((len(has_bias), 2), dtype=np.float32)
    bias[np.arange(len(has_bias)), has_bias.astype(np.int64)] = 1.0
    batch = Batch(
        op=torch.from_numpy(np.concatenate([r.op for r in records])),
        res=torch.from_numpy(np.concatenate([r.res for r in records])),
        kernel=torch.from_numpy(np.concatenate([r.kernel for r in records])),
        bias=torch.from_numpy(bias),
        weighted=torch.from_numpy(np.concatenate([r.weighted for r in records])),
        edge_index=torch.from_numpy(edge_index),
        batch=torch.from_numpy(np.repeat(np.arange(len(records), dtype=np.int64), sizes)),
        gflops=torch.tensor([r.gflops for r in records], dtype=torch.float32),
    )
    batch._num_graphs = len(records)
    return batch
