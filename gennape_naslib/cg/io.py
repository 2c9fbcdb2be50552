"""Reading and writing computation graphs: versioned JSON, NPZ collections and GENNAPE state dicts.

Three formats, each with its own use:

* **JSON, one graph** (:func:`save_json`, :func:`load_json`, :func:`to_dict`, :func:`from_dict`): a
  readable, versioned document ``{"format": "gennape-naslib.cg", "version": 1, "name", "input_shape",
  "maxima", "nodes", "edges"}``. Nodes are listed in the graph's topological order with ``op``,
  ``label``, ``resolution``, ``shape``, ``use_bias``, ``strides`` and ``metadata``.
* **NPZ, many graphs** (:func:`save_npz`, :func:`load_npz`, :class:`GraphCollection`): flat
  concatenated numpy arrays, compressed, for tens of thousands of graphs (see
  :mod:`gennape_naslib.cg._npz`).
* **GENNAPE state dicts** (:func:`to_gennape_state_dict`, :func:`from_gennape_state_dict`): the
  version-independent dict that the GENNAPE authors store inside their labelled JSON files
  (GENNAPE_FACTS 1.11), with nodes in GENNAPE's "weighted first, then regular" order.

Reading never trusts its input: a file of another format or version, or a malformed field, raises
:class:`CGFormatError` naming the file (or source) and the field, e.g.
``graph.json: nodes[3].resolution: expected 6 integers, got [1, 2]``.
"""

from __future__ import annotations

import heapq
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gennape_naslib._atomic import atomic_write
from gennape_naslib.cg._format import (
    CGFormatError,
    check_int,
    check_ints,
    jsonable,
    node_from_fields,
)
from gennape_naslib.cg._npz import GraphCollection, load_npz, save_npz
from gennape_naslib.cg.graph import ComputeGraph, GraphError
from gennape_naslib.cg.vocab import MAX_H, MAX_HIDDEN, MAX_KERNEL, MAX_W, OP_INDEX, OPS

__all__ = [
    "CGFormatError",
    "JSON_FORMAT",
    "JSON_VERSION",
    "GraphCollection",
    "from_dict",
    "from_gennape_state_dict",
    "load_json",
    "load_npz",
    "save_json",
    "save_npz",
    "to_dict",
    "to_gennape_state_dict",
]

JSON_FORMAT = "gennape-naslib.cg"
JSON_VERSION = 1

_MAXIMA = ("max_h", "max_w", "max_hidden", "max_kernel")


# ---------------------------------------------------------------------------------------- JSON
def to_dict(cg: ComputeGraph) -> dict[str, Any]:
    """Describe a graph as a JSON-compatible dict in the versioned ``gennape-naslib.cg`` format.

    Args:
        cg: The graph.

    Returns:
        ``{"format", "version", "name", "input_shape", "maxima", "nodes", "edges"}``; tuples become
        lists and numpy scalars Python numbers.

    Raises:
        ValueError: If a node's metadata holds a value that JSON cannot represent.
    """
    nodes = []
    for i, node in enumerate(cg.nodes):
        nodes.append(
            {
                "op": node.op,
                "label": node.label,
                "resolution": [int(v) for v in node.resolution],
                "shape": [int(v) for v in node.shape] if node.shape is not None else None,
                "use_bias": bool(node.use_bias),
                "strides": [int(v) for v in node.strides] if node.strides is not None else None,
                "metadata": jsonable(node.metadata, f"graph {cg.name!r}: nodes[{i}].metadata"),
            }
        )
    return {
        "format": JSON_FORMAT,
        "version": JSON_VERSION,
        "name": cg.name,
        "input_shape": [int(v) for v in cg.input_shape] if cg.input_shape is not None else None,
        "maxima": {key: int(getattr(cg, key)) for key in _MAXIMA},
        "nodes": nodes,
        "edges": [[s, d] for s, d in cg.edges],
    }


def check_header(data: Mapping[str, Any], expected_format: str, expected_version: int, source: str) -> None:
    """Check the ``format`` and ``version`` fields of a versioned document.

    Raises:
        CGFormatError: Naming ``source`` and the field, if either does not match.
    """
    fmt = data.get("format")
    if fmt != expected_format:
        got = "no format field" if fmt is None else repr(fmt)
        raise CGFormatError(f"{source}: format: expected {expected_format!r}, got {got}")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise CGFormatError(f"{source}: version: expected an integer, got {version!r}")
    if version != expected_version:
        hint = " (written by a newer gennape-naslib; upgrade it)" if version > expected_version else ""
        raise CGFormatError(
            f"{source}: version: unsupported {expected_format} version {version}{hint}; "
            f"this gennape-naslib reads version {expected_version}"
        )


def from_dict(data: Mapping[str, Any], source: str = "<dict>") -> ComputeGraph:
    """Rebuild a graph from :func:`to_dict`'s output (e.g. parsed JSON).

    Args:
        data: The document.
        source: Where the document came from, used in error messages (a file name).

    Returns:
        The graph.

    Raises:
        CGFormatError: If the format or version differs, or a field is missing or malformed.
    """
    if not isinstance(data, Mapping):
        raise CGFormatError(f"{source}: expected a JSON object, got {type(data).__name__}")
    check_header(data, JSON_FORMAT, JSON_VERSION, source)
    name = data.get("name", "")
    if not isinstance(name, str):
        raise CGFormatError(f"{source}: name: expected a string, got {name!r}")
    input_shape = check_ints(data.get("input_shape"), 4, source, "input_shape", optional=True)
    maxima_raw = data.get("maxima", {})
    if not isinstance(maxima_raw, Mapping):
        raise CGFormatError(f"{source}: maxima: expected an object, got {maxima_raw!r}")
    defaults = {"max_h": MAX_H, "max_w": MAX_W, "max_hidden": MAX_HIDDEN, "max_kernel": MAX_KERNEL}
    maxima = {key: check_int(maxima_raw.get(key, defaults[key]), source, f"maxima.{key}", low=1) for key in _MAXIMA}
    raw_nodes = data.get("nodes")
    if not isinstance(raw_nodes, list):
        raise CGFormatError(f"{source}: nodes: expected a list, got {type(raw_nodes).__name__}")
    nodes = []
    for i, raw in enumerate(raw_nodes):
        where = f"nodes[{i}]"
        if not isinstance(raw, Mapping):
            raise CGFormatError(f"{source}: {where}: expected an object, got {raw!r}")
        op = raw.get("op")
        if not isinstance(op, str) or op not in OP_INDEX:
            raise CGFormatError(f"{source}: {where}.op: expected a vocabulary op name, got {op!r}")
        use_bias = raw.get("use_bias", False)
        if not isinstance(use_bias, bool):
            raise CGFormatError(f"{source}: {where}.use_bias: expected true or false, got {use_bias!r}")
        nodes.append(
            node_from_fields(
                op,
                resolution=raw.get("resolution"),
                shape=raw.get("shape"),
                use_bias=use_bias,
                strides=raw.get("strides"),
                label=raw.get("label", ""),
                metadata=raw.get("metadata"),
                source=source,
                where=where,
            )
        )
    raw_edges = data.get("edges")
    if not isinstance(raw_edges, list):
        raise CGFormatError(f"{source}: edges: expected a list, got {type(raw_edges).__name__}")
    edges = [check_ints(e, 2, source, f"edges[{j}]") for j, e in enumerate(raw_edges)]
    try:
        return ComputeGraph(nodes, edges, name=name, input_shape=input_shape, **maxima)
    except GraphError as exc:
        raise CGFormatError(f"{source}: edges: {exc}") from None


def save_json(cg: ComputeGraph, path: str | os.PathLike[str], indent: int | None = None) -> None:
    """Write one graph as versioned JSON, atomically.

    Args:
        cg: The graph.
        path: Destination file (parent folders are created).
        indent: JSON indentation; ``None`` writes a compact file.
    """
    text = json.dumps(to_dict(cg), indent=indent, separators=None if indent else (",", ":"))
    with atomic_write(path, "w") as handle:
        handle.write(text)


def load_json(path: str | os.PathLike[str]) -> ComputeGraph:
    """Read a graph written by :func:`save_json`.

    Raises:
        CGFormatError: If the file is not JSON, or not a version-1 ``gennape-naslib.cg`` document,
            or a field is malformed; the message names the file and the field.
    """
    source = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CGFormatError(f"{source}: not a valid JSON file ({exc})") from None
    return from_dict(data, source=source)


# ----------------------------------------------------------------------- GENNAPE state dicts
def to_gennape_state_dict(cg: ComputeGraph) -> dict[str, Any]:
    """Describe a graph as a GENNAPE version-independent state dict (GENNAPE_FACTS 1.11).

    Nodes are listed in GENNAPE's order, weighted nodes first and then regular ones, each group in
    our topological order. ``str_id`` is ``"<k>|<label>"`` with ``k`` the node's index in our order
    (unique, and it lets :func:`from_gennape_state_dict` restore that order). Strides become
    ``(1, s_h, s_w, 1)``; the bias flag is stored as ``metadata["use_bias"] = True`` as GENNAPE does
    (absent when false); other metadata is copied as is.

    Args:
        cg: The graph.

    Returns:
        ``{"name", "input_shape", "max_hidden_size", "max_kernel_size", "max_derived_H",
        "max_derived_W", "edge_pairs", "regular_nodes", "weighted_nodes"}``.
    """
    weighted = [i for i, node in enumerate(cg.nodes) if node.shape is not None]
    regular = [i for i, node in enumerate(cg.nodes) if node.shape is None]
    position = {old: new for new, old in enumerate(weighted + regular)}

    def describe(i: int) -> dict[str, Any]:
        node = cg.nodes[i]
        meta = dict(node.metadata) if node.metadata else {}
        meta.pop("use_bias", None)
        if node.use_bias:
            meta["use_bias"] = True
        entry: dict[str, Any] = {
            "str_id": f"{i}|{node.label or node.op}",
            "op_type_idx": OP_INDEX[node.op],
            "label": node.label or node.op,
            "resolution": tuple(int(v) for v in node.resolution),
            "strides": (1, int(node.strides[0]), int(node.strides[1]), 1) if node.strides is not None else None,
            "metadata": meta or None,
        }
        if node.shape is not None:
            entry["shape"] = [int(v) for v in node.shape]
        return entry

    return {
        "name": cg.name,
        "input_shape": tuple(int(v) for v in cg.input_shape) if cg.input_shape is not None else None,
        "max_hidden_size": cg.max_hidden,
        "max_kernel_size": cg.max_kernel,
        "max_derived_H": cg.max_h,
        "max_derived_W": cg.max_w,
        "edge_pairs": sorted((position[s], position[d]) for s, d in cg.edges),
        "regular_nodes": [describe(i) for i in regular],
        "weighted_nodes": [describe(i) for i in weighted],
    }


def _graphdef_position(str_id: Any) -> int | None:
    """GENNAPE's ``str_id`` starts with the node's GraphDef position (``"12|conv2d"``)."""
    if not isinstance(str_id, str):
        return None
    if str_id.startswith("/added_input|"):
        return -1  # the synthetic input node GENNAPE adds in front of everything
    head = str_id.split("|", 1)[0]
    return int(head) if head.isdigit() else None


def from_gennape_state_dict(state: Mapping[str, Any], source: str = "<state dict>") -> ComputeGraph:
    """Rebuild a graph from a GENNAPE state dict (the inverse of :func:`to_gennape_state_dict`).

    The nodes are put in topological order; ties are broken by the GraphDef position in ``str_id``
    (GENNAPE's creation order) when every node has one, else by GENNAPE's list order. The op comes
    from ``op_type_idx``, the bias flag from ``metadata["use_bias"]`` (removed from the stored
    metadata), strides ``(1, s_h, s_w, 1)`` become ``(s_h, s_w)`` (``(1, 1, s_h, s_w)`` for
    ``data_format`` NCHW). The stored maxima are kept, as GENNAPE does when loading.

    Args:
        state: The state dict (lists instead of tuples, as JSON gives them, are accepted).
        source: Where it came from, for error messages.

    Returns:
        The graph.

    Raises:
        CGFormatError: If a field is missing or malformed, or the edges form a cycle.
    """
    if not isinstance(state, Mapping):
        raise CGFormatError(f"{source}: expected a state dict (mapping), got {type(state).__name__}")
    for key in ("weighted_nodes", "regular_nodes", "edge_pairs"):
        if key not in state:
            raise CGFormatError(f"{source}: {key}: missing")
    entries: list[tuple[str, Any]] = []
    for group in ("weighted_nodes", "regular_nodes"):
        items = state[group]
        if not isinstance(items, Sequence) or isinstance(items, str):
            raise CGFormatError(f"{source}: {group}: expected a list, got {type(items).__name__}")
        entries.extend((f"{group}[{i}]", item) for i, item in enumerate(items))
    n_weighted = len(state["weighted_nodes"])

    nodes = []
    positions: list[int | None] = []
    for k, (where, raw) in enumerate(entries):
        if not isinstance(raw, Mapping):
            raise CGFormatError(f"{source}: {where}: expected a mapping, got {type(raw).__name__}")
        idx = check_int(raw.get("op_type_idx"), source, f"{where}.op_type_idx", low=0, high=len(OPS) - 1)
        meta = raw.get("metadata")
        if meta is not None and not isinstance(meta, Mapping):
            raise CGFormatError(f"{source}: {where}.metadata: expected a mapping or None, got {meta!r}")
        meta = dict(meta) if meta else {}
        use_bias = bool(meta.pop("use_bias", False))
        strides = raw.get("strides")
        if strides is not None:
            four = check_ints(strides, 4, source, f"{where}.strides")
            nchw = str(meta.get("data_format", "")).upper() == "NCHW"
            strides = four[2:] if nchw else four[1:3]
        weighted = k < n_weighted
        if weighted and raw.get("shape") is None:
            raise CGFormatError(f"{source}: {where}.shape: a weighted node needs a weight shape")
        label = raw.get("label", "")
        nodes.append(
            node_from_fields(
                OPS[idx],
                resolution=raw.get("resolution"),
                shape=raw.get("shape") if weighted else None,
                use_bias=use_bias and weighted,
                strides=strides,
                label=label if isinstance(label, str) else str(label),
                metadata=meta or None,
                source=source,
                where=where,
            )
        )
        positions.append(_graphdef_position(raw.get("str_id")))

    n = len(nodes)
    raw_pairs = state["edge_pairs"]
    if isinstance(raw_pairs, (str, bytes)) or not hasattr(raw_pairs, "__iter__"):
        raise CGFormatError(f"{source}: edge_pairs: expected a list of pairs, got {type(raw_pairs).__name__}")
    pairs = set()
    for j, pair in enumerate(raw_pairs):
        s, d = check_ints(pair, 2, source, f"edge_pairs[{j}]")
        if not (0 <= s < n and 0 <= d < n) or s == d:
            raise CGFormatError(
                f"{source}: edge_pairs[{j}]: ({s}, {d}) is a self loop or names a node outside 0..{n - 1}"
            )
        pairs.add((s, d))

    # Stable topological order (Kahn), GraphDef order first when known.
    use_positions = all(p is not None for p in positions) and len(set(positions)) == n
    priority = positions if use_positions else list(range(n))
    children: list[list[int]] = [[] for _ in range(n)]
    indeg = [0] * n
    for s, d in pairs:
        children[s].append(d)
        indeg[d] += 1
    heap = [(priority[i], i) for i in range(n) if indeg[i] == 0]
    heapq.heapify(heap)
    order: list[int] = []
    while heap:
        _, i = heapq.heappop(heap)
        order.append(i)
        for c in children[i]:
            indeg[c] -= 1
            if indeg[c] == 0:
                heapq.heappush(heap, (priority[c], c))
    if len(order) != n:
        raise CGFormatError(f"{source}: edge_pairs: the edges form a cycle")
    new_index = {old: new for new, old in enumerate(order)}

    name = state.get("name", "")
    input_shape = check_ints(state.get("input_shape"), 4, source, "input_shape", optional=True)
    maxima = {
        ours: check_int(state.get(theirs, default), source, theirs, low=1)
        for ours, theirs, default in (
            ("max_h", "max_derived_H", MAX_H),
            ("max_w", "max_derived_W", MAX_W),
            ("max_hidden", "max_hidden_size", MAX_HIDDEN),
            ("max_kernel", "max_kernel_size", MAX_KERNEL),
        )
    }
    try:
        return ComputeGraph(
            [nodes[i] for i in order],
            [(new_index[s], new_index[d]) for s, d in pairs],
            name=name if isinstance(name, str) else str(name),
            input_shape=input_shape,
            **maxima,
        )
    except GraphError as exc:  # pragma: no cover - the checks above should make this unreachable
        raise CGFormatError(f"{source}: {exc}") from None
