"""Graph inputs of the GNN predictors: compact per-graph arrays, a cache, and fast batching.

Every architecture becomes a :class:`GraphArrays` record (GENNAPE's node features of
:mod:`gennape_naslib.cg.features` in compact dtypes, the edges and the FLOPs). Records are cached
per ``(family, arch)`` so repeated predictions skip CG construction. A family may register a fast
builder of its records (:func:`register_arrays_builder`; built in for ``nb201``) that
:func:`prepare` uses instead of building the CG; :func:`graph_arrays` on the family's CG stays the
reference it must reproduce exactly. :func:`collate` concatenates
records into one PyG :class:`~torch_geometric.data.Batch` with numpy (much faster than building one
``Data`` object per graph and calling ``Batch.from_data_list``); the batch has the fields of
:func:`gennape_naslib.cg.features.to_pyg` (``op``, ``res``, ``kernel``, ``bias``, ``weighted``,
``edge_index``) plus ``batch`` and ``num_graphs``.
"""

from __future__ import annotations

import importlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from gennape_naslib.cg.counting import count_flops
from gennape_naslib.cg.graph import ComputeGraph
from gennape_naslib.cg.vocab import OP_INDEX

__all__ = [
    "ArraysBuilder",
    "GraphArrays",
    "RES_NORMS",
    "arrays_builder",
    "clear_cache",
    "collate",
    "graph_arrays",
    "prepare",
    "register_arrays_builder",
    "renormalised",
]

#: Normalisations of the resolution features (``GENNAPEPredictor(res_norm=...)``): ``"fixed"`` keeps the graph's
#: constants (GENNAPE: H and W / 256, channels / 512), ``"graph"`` divides each graph's H, W and channel
#: columns by that graph's own maxima.
RES_NORMS = ("fixed", "graph")

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


#: A family's fast path: ``builder(archs, adapter, keys)`` returns one :class:`GraphArrays` per
#: architecture (``key`` set from ``keys``), equal to ``graph_arrays(adapter.to_cg(arch),
#: flops=adapter.flops(arch), key=key)``, or ``None`` to decline (e.g. an adapter it does not know).
ArraysBuilder = Callable[[Sequence[Any], Any, Sequence[Any]], "list[GraphArrays] | None"]

_BUILDERS: dict[str, ArraysBuilder | None] = {}
#: Built-in fast builders, imported on first use: family name -> ``"module:function"``.
_BUILTIN_BUILDERS = {"nb201": "gennape_naslib.predictors.gennape._nb201_arrays:build_arrays"}


def register_arrays_builder(family: str, builder: ArraysBuilder | None) -> None:
    """Register (or, with ``None``, disable) the fast :class:`GraphArrays` builder of ``family``.

    :func:`prepare` calls ``builder(archs, adapter, keys)`` on the architectures missing from the
    cache and falls back to the general path (CG + :func:`graph_arrays`) when it returns ``None``.

    Raises:
        TypeError: If ``builder`` is neither callable nor ``None``.
    """
    if builder is not None and not callable(builder):
        raise TypeError(f"arrays builder for family {family!r} must be callable or None, got {type(builder).__name__}")
    _BUILDERS[str(family)] = builder


def arrays_builder(family: str) -> ArraysBuilder | None:
    """The fast builder registered for ``family`` (built-in ones are imported here), or ``None``."""
    if family not in _BUILDERS:
        spec = _BUILTIN_BUILDERS.get(family)
        if spec is None:
            return None
        module, _, name = spec.partition(":")
        _BUILDERS[family] = getattr(importlib.import_module(module), name)
    return _BUILDERS[family]


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


def prepare(X: Any, family: Any = None, fast: bool = True) -> tuple[list[GraphArrays], str | None]:
    """Turn architectures in any accepted form into :class:`GraphArrays` records (cached).

    Args:
        X: Sequence of family ``Arch`` objects, NASLib graph objects, JSON/text encodings (with
            ``family``) or ``ComputeGraph`` objects (FLOPs then counted on the graph).
        family: Family name or adapter (see :func:`gennape_naslib.predictors.base.as_archs_and_family`).
        fast: Use the family's registered fast builder (:func:`register_arrays_builder`) for
            architectures not in the cache; ``False`` always builds the CG (the reference path).

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
            # the content hash covers nodes and edges; the normalisation constants change the features too
            key = ("cg", cg.content_hash(), cg.max_h, cg.max_w, cg.max_hidden, cg.max_kernel)
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
    out: list[GraphArrays | None] = []
    missing: list[int] = []
    keys = []
    for arch in archs:
        try:
            key = (name, arch)
            hash(key)
        except TypeError:
            key = (name, adapter.canonical_hash(arch))
        keys.append(key)
        rec = _cache_get(key)
        if rec is None:
            missing.append(len(out))
        out.append(rec)
    if missing:
        todo = [archs[i] for i in missing]
        todo_keys = [keys[i] for i in missing]
        builder = arrays_builder(name) if fast else None
        made = builder(todo, adapter, todo_keys) if builder is not None else None
        if made is None:
            made = [graph_arrays(adapter.to_cg(a), flops=adapter.flops(a), key=k) for a, k in zip(todo, todo_keys)]
        elif len(made) != len(todo):
            raise ValueError(f"the arrays builder of family {name!r} returned {len(made)} records for {len(todo)}")
        for i, key, rec in zip(missing, todo_keys, made):
            _cache_put(key, rec)
            out[i] = rec
    return out, name  # type: ignore[return-value]


def renormalised(records: Sequence[GraphArrays], res_norm: str = "fixed") -> list[GraphArrays]:
    """``records`` with their resolution features under ``res_norm`` (:data:`RES_NORMS`).

    ``"fixed"`` returns the records unchanged. ``"graph"`` (not GENNAPE's) rescales each record's two H columns
    (``H_in``, ``H_out``), two W columns and two channel columns so that the graph's largest value of each pair
    is 1: the features become relative to the graph's input resolution and widest layer, whatever constants
    normalised them. A pair that is 0 everywhere stays 0. New records are returned; the inputs (possibly
    cached or shared) are not written to.

    Raises:
        ValueError: If ``res_norm`` is not one of :data:`RES_NORMS`.
    """
    if res_norm not in RES_NORMS:
        raise ValueError(f"res_norm must be one of {RES_NORMS}, got {res_norm!r}")
    if res_norm == "fixed":
        return list(records)
    out = []
    for r in records:
        peak = r.res.reshape(-1, 3, 2).max(axis=(0, 2)) if len(r.res) else np.ones(3, dtype=np.float32)
        scale = np.repeat(np.divide(1.0, peak, out=np.ones(3), where=peak > 0), 2).astype(np.float32)
        out.append(r._replace(res=r.res * scale))
    return out


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
