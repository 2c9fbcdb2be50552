"""Compressed NPZ collections of computation graphs (the ``gennape-naslib.cg-collection`` format).

A collection stores many graphs as flat concatenated arrays, so that tens of thousands of graphs
save and load in seconds and never go through pickle (files are read with ``allow_pickle=False``).
Distinct nodes are stored once in a node table; each graph lists indices into it.

Arrays of version 1 (``G`` graphs, ``N`` node slots and ``E`` edges over all graphs, ``U`` distinct
nodes of which ``W`` are weighted and ``S`` have strides):

===================  ==============  ===================================================================
key                  shape           content
===================  ==============  ===================================================================
``format``           ()              ``"gennape-naslib.cg-collection"``
``version``          ()              ``1``
``node_offsets``     (G+1,)          graph ``g`` owns node slots ``node_offsets[g]:node_offsets[g+1]``
``edge_offsets``     (G+1,)          likewise for edges
``node_ref``         (N,)            per node slot, the row of the node table
``edges``            (E, 2)          ``(src, dst)`` node indices local to each graph
``op``               (U,)            node table: vocabulary index
``resolution``       (U, 6)          ``H_in, H_out, W_in, W_out, C_in, C_out``
``weighted``         (U,)            node has a weight shape
``shape``            (W, 4)          weight shapes of the weighted table rows, in row order
``use_bias``         (U,)            bias flag
``has_strides``      (U,)            node has strides
``strides``          (S, 2)          strides of those rows, in row order
``label_code``       (U,)            index into the label table of ``text``
``metadata_code``    (U,)            index into the metadata table of ``text``; -1 = no metadata
``maxima``           (G, 4)          ``max_h, max_w, max_hidden, max_kernel``
``input_shape``      (G, 4)          ``(1, H, W, C)``; ``has_input_shape`` (G,) marks missing ones
``text``             (bytes,)        UTF-8 JSON ``{"names": [...], "labels": [...], "metadata": [...]}``
===================  ==============  ===================================================================

Integer arrays use the smallest signed dtype that holds their values. Loaded graphs share equal
:class:`~gennape_naslib.cg.graph.Node` objects (nodes are immutable values), including their
metadata dicts, which are descriptive and must be treated as read-only.
"""

from __future__ import annotations

import gc
import itertools
import json
import os
import zipfile
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from gennape_naslib._atomic import atomic_write
from gennape_naslib.cg._format import CGFormatError, jsonable
from gennape_naslib.cg.graph import ComputeGraph, GraphError, Node
from gennape_naslib.cg.vocab import OP_INDEX, OPS

__all__ = ["NPZ_FORMAT", "NPZ_VERSION", "GraphCollection", "load_npz", "save_npz"]

NPZ_FORMAT = "gennape-naslib.cg-collection"
NPZ_VERSION = 1

_KEYS = (
    "format",
    "version",
    "node_offsets",
    "edge_offsets",
    "node_ref",
    "edges",
    "op",
    "resolution",
    "weighted",
    "shape",
    "use_bias",
    "has_strides",
    "strides",
    "label_code",
    "metadata_code",
    "maxima",
    "input_shape",
    "has_input_shape",
    "text",
)


def _compact(values: np.ndarray) -> np.ndarray:
    """Cast an integer array to the smallest signed dtype holding its values."""
    if values.size == 0:
        return values.astype(np.int8)
    low, high = int(values.min()), int(values.max())
    for dtype in (np.int8, np.int16, np.int32):
        info = np.iinfo(dtype)
        if info.min <= low and high <= info.max:
            return values.astype(dtype)
    return values.astype(np.int64)


def _int_rows(rows: list[Any], width: int) -> np.ndarray:
    return np.array(rows, dtype=np.int64).reshape(len(rows), width)


class _NodeTable:
    """Distinct nodes met while saving, found by value."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.meta_codes: list[int] = []
        self.labels: dict[str, int] = {}
        self.metadata: list[Any] = []
        self._by_value: dict[tuple[Any, ...], int] = {}
        self._meta_by_repr: dict[str, int] = {}
        self._by_tuple: dict[int, list[int]] = {}

    def _meta_code(self, node: Node) -> int:
        meta = node.metadata
        if meta is None:
            return -1
        key = repr(meta)
        code = self._meta_by_repr.get(key)
        if code is None:
            code = self._meta_by_repr[key] = len(self.metadata)
            self.metadata.append(jsonable(meta, f"save_npz: node {node.label or node.op!r}: metadata"))
        return code

    def refs(self, graph: ComputeGraph) -> list[int]:
        """Table rows of the graph's nodes."""
        # Copies of a graph share its node tuple; it stays alive until save_npz returns, so its id
        # is a valid key.
        rows = self._by_tuple.get(id(graph.nodes))
        if rows is not None:
            return rows
        rows = []
        by_value = self._by_value
        for node in graph.nodes:
            meta = -1 if node.metadata is None else self._meta_code(node)
            key = (node.op, node.resolution, node.shape, node.use_bias, node.strides, node.label, meta)
            row = by_value.get(key)
            if row is None:
                row = by_value[key] = len(self.nodes)
                self.nodes.append(node)
                self.meta_codes.append(meta)
                self.labels.setdefault(node.label, len(self.labels))
            rows.append(row)
        self._by_tuple[id(graph.nodes)] = rows
        return rows


def save_npz(graphs: Iterable[ComputeGraph], path: str | os.PathLike[str]) -> None:
    """Write graphs to one compressed NPZ collection, atomically.

    Args:
        graphs: The graphs, in the order :func:`load_npz` will return them.
        path: Destination file (written as given; parent folders are created).

    Raises:
        ValueError: If a node's metadata cannot be represented in JSON.
    """
    graphs = list(graphs)
    table = _NodeTable()
    enabled = gc.isenabled()
    gc.disable()  # many small tuples and lists, none cyclic
    try:
        refs = [row for g in graphs for row in table.refs(g)]
    finally:
        if enabled:
            gc.enable()
    node_counts = np.array([len(g.nodes) for g in graphs], dtype=np.int64)
    edge_counts = np.array([len(g.edges) for g in graphs], dtype=np.int64)
    edges = np.fromiter(
        itertools.chain.from_iterable(itertools.chain.from_iterable(g.edges for g in graphs)),
        dtype=np.int64,
        count=2 * int(edge_counts.sum()),
    ).reshape(-1, 2)
    nodes = table.nodes
    text = json.dumps(
        {"names": [g.name for g in graphs], "labels": list(table.labels), "metadata": table.metadata},
        separators=(",", ":"),
    )
    input_shape = np.zeros((len(graphs), 4), dtype=np.int64)
    has_input_shape = np.zeros(len(graphs), dtype=bool)
    for i, g in enumerate(graphs):
        if g.input_shape is not None:
            input_shape[i] = g.input_shape
            has_input_shape[i] = True
    arrays = {
        "format": np.array(NPZ_FORMAT),
        "version": np.array(NPZ_VERSION, dtype=np.int64),
        "node_offsets": np.concatenate([[0], np.cumsum(node_counts)]).astype(np.int64),
        "edge_offsets": np.concatenate([[0], np.cumsum(edge_counts)]).astype(np.int64),
        "node_ref": _compact(np.array(refs, dtype=np.int64)),
        "edges": _compact(edges),
        "op": np.array([OP_INDEX[node.op] for node in nodes], dtype=np.int8),
        "resolution": _compact(_int_rows([node.resolution for node in nodes], 6)),
        "weighted": np.array([node.shape is not None for node in nodes], dtype=bool),
        "shape": _compact(_int_rows([node.shape for node in nodes if node.shape is not None], 4)),
        "use_bias": np.array([bool(node.use_bias) for node in nodes], dtype=bool),
        "has_strides": np.array([node.strides is not None for node in nodes], dtype=bool),
        "strides": _compact(_int_rows([node.strides for node in nodes if node.strides is not None], 2)),
        "label_code": _compact(np.array([table.labels[node.label] for node in nodes], dtype=np.int64)),
        "metadata_code": _compact(np.array(table.meta_codes, dtype=np.int64)),
        "maxima": _compact(_int_rows([[g.max_h, g.max_w, g.max_hidden, g.max_kernel] for g in graphs], 4)),
        "input_shape": _compact(input_shape),
        "has_input_shape": has_input_shape,
        "text": np.frombuffer(text.encode("utf-8"), dtype=np.uint8),
    }
    with atomic_write(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)


class GraphCollection:
    """A lazily built sequence of graphs read from an NPZ collection.

    The arrays are read (and checked) once; each graph is built when it is first asked for, so
    ``len()``, :attr:`names` and :attr:`n_nodes` are cheap even for large files.

    Args:
        path: A file written by :func:`save_npz`.

    Raises:
        CGFormatError: If the file is not an NPZ collection of a supported version, or its arrays
            are inconsistent; the message names the file and the array.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        self._arrays = self._read(self.path)
        a = self._arrays
        text = a["text"]
        try:
            blob = json.loads(text.tobytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CGFormatError(f"{self.path}: text: not valid UTF-8 JSON ({exc})") from None
        keys = ("names", "labels", "metadata")
        if not isinstance(blob, dict) or not all(isinstance(blob.get(k), list) for k in keys):
            raise CGFormatError(f"{self.path}: text: expected an object with lists 'names', 'labels' and 'metadata'")
        self.names: list[str] = blob["names"]
        self._labels: list[str] = blob["labels"]
        self._metadata: list[Any] = blob["metadata"]
        self._check()
        self._nodes: list[Node] | None = None
        self._cache: dict[int, ComputeGraph] = {}

    @staticmethod
    def _read(path: str) -> dict[str, np.ndarray]:
        try:
            with open(path, "rb") as handle:
                magic = handle.read(6)
            if magic.startswith(b"\x93NUMPY"):
                raise CGFormatError(f"{path}: not an NPZ archive (a single .npy array)")
            if not magic.startswith(b"PK\x03\x04"):  # else numpy would try pickle and blame that
                raise CGFormatError(f"{path}: not an NPZ archive (it does not start with a zip header)")
            with np.load(path, allow_pickle=False) as archive:
                header = {k: archive[k] for k in ("format", "version") if k in archive.files}
                fmt = header.get("format")
                fmt_value = fmt.item() if fmt is not None and fmt.shape == () else None
                if fmt_value != NPZ_FORMAT:
                    got = "no format array" if fmt is None else repr(fmt_value if fmt_value is not None else fmt)
                    raise CGFormatError(f"{path}: format: expected {NPZ_FORMAT!r}, got {got}")
                version = header.get("version")
                if version is None or version.shape != () or version.dtype.kind not in "iu":
                    raise CGFormatError(f"{path}: version: expected an integer, got {version!r}")
                if int(version) != NPZ_VERSION:
                    hint = " (written by a newer gennape-naslib; upgrade it)" if int(version) > NPZ_VERSION else ""
                    raise CGFormatError(
                        f"{path}: version: unsupported {NPZ_FORMAT} version {int(version)}{hint}; "
                        f"this gennape-naslib reads version {NPZ_VERSION}"
                    )
                missing = [k for k in _KEYS if k not in archive.files]
                if missing:
                    raise CGFormatError(f"{path}: {missing[0]}: missing array (also missing: {missing[1:]})")
                arrays = {}
                for key in _KEYS:
                    try:
                        arrays[key] = archive[key]
                    except ValueError as exc:  # object arrays need pickle, which we refuse
                        raise CGFormatError(f"{path}: {key}: cannot be read without pickle ({exc})") from None
                return arrays
        except (CGFormatError, FileNotFoundError):
            raise
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise CGFormatError(f"{path}: not a readable NPZ file ({exc})") from None

    def _check(self) -> None:
        a, path = self._arrays, self.path

        def fail(key: str, message: str) -> None:
            raise CGFormatError(f"{path}: {key}: {message}")

        for key in _KEYS[2:-1]:
            if a[key].dtype.kind not in "iub":
                fail(key, f"expected an integer or boolean array, got dtype {a[key].dtype}")
        g, n, u = len(self.names), len(a["node_ref"]), len(a["op"])
        for key, total_key in (("node_offsets", "node_ref"), ("edge_offsets", "edges")):
            off, total = a[key], len(a[total_key])
            if off.shape != (g + 1,) or off[0] != 0 or np.any(np.diff(off) < 0) or off[-1] != total:
                fail(key, f"expected {g + 1} non-decreasing offsets from 0 to {total}")
        for key in ("op", "weighted", "use_bias", "has_strides", "label_code", "metadata_code"):
            if a[key].shape != (u,):
                fail(key, f"expected shape ({u},), got {a[key].shape}")
        if a["node_ref"].shape != (n,):
            fail("node_ref", f"expected shape ({n},), got {a['node_ref'].shape}")
        rows = {
            "edges": (len(a["edges"]), 2),
            "resolution": (u, 6),
            "shape": (int(a["weighted"].sum()), 4),
            "strides": (int(a["has_strides"].sum()), 2),
            "maxima": (g, 4),
            "input_shape": (g, 4),
        }
        for key, expected in rows.items():
            if a[key].shape != expected:
                fail(key, f"expected shape {expected}, got {a[key].shape}")
        if a["has_input_shape"].shape != (g,):
            fail("has_input_shape", f"expected shape ({g},), got {a['has_input_shape'].shape}")
        ranges = {
            "node_ref": (0, u - 1),
            "op": (0, len(OPS) - 1),
            "label_code": (0, len(self._labels) - 1),
            "metadata_code": (-1, len(self._metadata) - 1),
        }
        for key, (low, high) in ranges.items():
            if a[key].size and (a[key].min() < low or a[key].max() > high):
                fail(key, f"values must lie in {low}..{high}")
        if g and a["maxima"].min() < 1:
            fail("maxima", "maxima must be positive")
        if not all(isinstance(name, str) for name in self.names):
            fail("text", "graph names must be strings")

    def __len__(self) -> int:
        return len(self.names)

    @property
    def n_nodes(self) -> np.ndarray:
        """Node count of every graph (int64 array)."""
        return np.diff(self._arrays["node_offsets"])

    def _table(self) -> list[Node]:
        """The distinct nodes, built once (on first use)."""
        if self._nodes is None:
            a = self._arrays
            shapes = iter(a["shape"].tolist())
            strides = iter(a["strides"].tolist())
            labels, metadata = self._labels, self._metadata
            nodes = []
            for op, res, weighted, bias, has_s, lab, meta in zip(
                a["op"].tolist(),
                a["resolution"].tolist(),
                a["weighted"].tolist(),
                a["use_bias"].tolist(),
                a["has_strides"].tolist(),
                a["label_code"].tolist(),
                a["metadata_code"].tolist(),
            ):
                try:
                    node = Node(
                        OPS[op],
                        tuple(res),  # type: ignore[arg-type]
                        tuple(next(shapes)) if weighted else None,  # type: ignore[arg-type]
                        bias,
                        tuple(next(strides)) if has_s else None,  # type: ignore[arg-type]
                        labels[lab] if isinstance(labels[lab], str) else str(labels[lab]),
                        metadata[meta] if meta >= 0 else None,
                    )
                except GraphError as exc:
                    raise CGFormatError(f"{self.path}: node table row {len(nodes)}: {exc}") from None
                nodes.append(node)
            self._nodes = nodes
        return self._nodes

    def _build(self, i: int, refs: list[int], edges: Iterable[tuple[int, int]]) -> ComputeGraph:
        """Graph ``i`` from its node refs and local edges."""
        a, table = self._arrays, self._table()
        input_shape = tuple(a["input_shape"][i].tolist()) if a["has_input_shape"][i] else None
        max_h, max_w, max_hidden, max_kernel = a["maxima"][i].tolist()
        try:
            return ComputeGraph(
                [table[r] for r in refs],
                edges,
                name=self.names[i],
                input_shape=input_shape,  # type: ignore[arg-type]
                max_h=max_h,
                max_w=max_w,
                max_hidden=max_hidden,
                max_kernel=max_kernel,
            )
        except GraphError as exc:
            raise CGFormatError(f"{self.path}: graph {i}: {exc}") from None

    def _build_all(self) -> list[ComputeGraph]:
        a = self._arrays
        enabled = gc.isenabled()
        gc.disable()  # millions of new objects, none cyclic: the collector would only slow this down
        try:
            refs, src, dst = a["node_ref"].tolist(), a["edges"][:, 0].tolist(), a["edges"][:, 1].tolist()
            n_off, e_off = a["node_offsets"].tolist(), a["edge_offsets"].tolist()
            graphs = [
                self._build(
                    i,
                    refs[n_off[i] : n_off[i + 1]],
                    zip(src[e_off[i] : e_off[i + 1]], dst[e_off[i] : e_off[i + 1]]),
                )
                for i in range(len(self))
            ]
        finally:
            if enabled:
                gc.enable()
        self._cache.update(enumerate(graphs))
        return graphs

    def __getitem__(self, index: int) -> ComputeGraph:
        if not isinstance(index, (int, np.integer)):
            raise TypeError(f"GraphCollection indices must be integers, got {type(index).__name__}")
        i = int(index) + (len(self) if index < 0 else 0)
        if not 0 <= i < len(self):
            raise IndexError(f"graph index {index} out of range for a collection of {len(self)}")
        graph = self._cache.get(i)
        if graph is None:
            a = self._arrays
            lo, hi = a["node_offsets"][i], a["node_offsets"][i + 1]
            e_lo, e_hi = a["edge_offsets"][i], a["edge_offsets"][i + 1]
            refs, edges = a["node_ref"][lo:hi].tolist(), a["edges"][e_lo:e_hi].tolist()
            graph = self._cache[i] = self._build(i, refs, map(tuple, edges))
        return graph

    def __iter__(self) -> Iterator[ComputeGraph]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return f"GraphCollection({self.path!r}, {len(self)} graphs)"


def load_npz(path: str | os.PathLike[str]) -> list[ComputeGraph]:
    """Read every graph of an NPZ collection written by :func:`save_npz`.

    Raises:
        CGFormatError: If the file is not a supported collection or is inconsistent (names the
            file and the array).
    """
    return GraphCollection(path)._build_all()
