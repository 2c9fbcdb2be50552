"""The computation-graph (CG) value types: :class:`Node` and :class:`ComputeGraph`.

A CG is GENNAPE's representation of a network: a directed acyclic graph of primitive ops (the
vocabulary of :mod:`gennape_naslib.cg.vocab`), each node carrying the geometry of its first input and
of its output as ``[H_in, H_out, W_in, W_out, C_in, C_out]``. Weighted nodes (conv, depthwise,
matmul) also carry their weight shape ``[C_in, C_out, k1, k2]`` and a bias flag.

Graphs are immutable: nodes are frozen dataclasses held in a tuple, in topological order (every
edge goes from a lower to a higher index, the input first and the output last). Building, copying
and comparing are cheap. Equality and :meth:`ComputeGraph.content_hash` depend only on the graph's
content (op, resolution, weight shape, bias flag and the edge structure); node names, labels,
strides, metadata and the order of independent nodes do not matter.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from gennape_naslib.cg.vocab import MAX_H, MAX_HIDDEN, MAX_KERNEL, MAX_W, OP_INDEX, WEIGHTED_OPS

__all__ = ["Node", "ComputeGraph", "GraphError"]


class GraphError(ValueError):
    """A computation graph is malformed (bad op, resolution, shape or edge)."""


@dataclass(frozen=True, slots=True)
class Node:
    """One primitive op of a computation graph.

    Attributes:
        op: Vocabulary op name (``"conv"``, ``"batchnorm"``, ...; see :data:`~gennape_naslib.cg.vocab.OPS`).
        resolution: ``(H_in, H_out, W_in, W_out, C_in, C_out)``; the input is the op's first input.
        shape: Weight shape ``(C_in, C_out, k1, k2)`` for weighted nodes (conv: ``C_in`` per group,
            depthwise: ``(C, multiplier, k, k)``, matmul: ``(C_in, C_out, 0, 0)``); ``None`` for
            regular nodes.
        use_bias: Whether a bias is folded into the op (weighted nodes only).
        strides: ``(s_h, s_w)`` for convolutions and pools, else ``None``.
        label: Free-form name from the source framework, descriptive only.
        metadata: Extra descriptive attributes (padding, kernel window, dilation, ...), JSON-compatible.
    """

    op: str
    resolution: tuple[int, int, int, int, int, int]
    shape: tuple[int, int, int, int] | None = None
    use_bias: bool = False
    strides: tuple[int, int] | None = None
    label: str = ""
    metadata: Mapping[str, Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.op not in OP_INDEX:
            raise GraphError(f"node op {self.op!r} is not in the GENNAPE vocabulary")
        if len(self.resolution) != 6:
            raise GraphError(f"node {self.label or self.op!r}: resolution needs 6 values, got {self.resolution!r}")
        if self.shape is not None and len(self.shape) != 4:
            raise GraphError(f"node {self.label or self.op!r}: weight shape needs 4 values, got {self.shape!r}")
        if self.shape is None and self.op in WEIGHTED_OPS:
            raise GraphError(f"node {self.label or self.op!r}: op {self.op!r} is weighted but has no weight shape")

    @property
    def weighted(self) -> bool:
        """True for nodes with a weight shape (conv, depthwise, matmul)."""
        return self.shape is not None

    @property
    def op_idx(self) -> int:
        """Index of :attr:`op` in the vocabulary."""
        return OP_INDEX[self.op]

    @property
    def kernel(self) -> tuple[int, int]:
        """``(k1, k2)`` of a weighted node, ``(0, 0)`` for dense layers and regular nodes."""
        return (self.shape[2], self.shape[3]) if self.shape is not None else (0, 0)

    def descriptor(self) -> tuple[Any, ...]:
        """The content that equality and hashing see: op, resolution, shape, bias flag."""
        return (self.op, self.resolution, self.shape, bool(self.use_bias))

    def __str__(self) -> str:
        text = f"{self.label or self.op}[{self.op} res={list(self.resolution)}"
        if self.shape is not None:
            text += f" shape={list(self.shape)}" + (" bias" if self.use_bias else "")
        return text + "]"


def _digest(*parts: object) -> bytes:
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).digest()


class ComputeGraph:
    """An immutable computation graph with nodes in topological order.

    Args:
        nodes: The nodes, ordered so that every edge goes forward.
        edges: ``(src, dst)`` index pairs in data-flow direction; stored sorted and de-duplicated.
        name: Human-readable name.
        input_shape: ``(1, H, W, C)`` of the network input (NHWC as in GENNAPE); derived from the
            first node if omitted.
        max_h, max_w, max_hidden, max_kernel: Normalisation constants of the feature vectors
            (GENNAPE's classification domain: 256, 256, 512, 7).

    Raises:
        GraphError: If an edge points backwards, loops, or names a missing node.
    """

    __slots__ = ("nodes", "edges", "name", "input_shape", "max_h", "max_w", "max_hidden", "max_kernel", "_hash")

    def __init__(
        self,
        nodes: Sequence[Node],
        edges: Iterable[tuple[int, int]],
        name: str = "",
        input_shape: tuple[int, int, int, int] | None = None,
        max_h: int = MAX_H,
        max_w: int = MAX_W,
        max_hidden: int = MAX_HIDDEN,
        max_kernel: int = MAX_KERNEL,
    ) -> None:
        self.nodes: tuple[Node, ...] = tuple(nodes)
        n = len(self.nodes)
        pairs = sorted({(int(s), int(d)) for s, d in edges})
        for s, d in pairs:
            if not (0 <= s < n and 0 <= d < n):
                raise GraphError(f"graph {name!r}: edge ({s}, {d}) names a node outside 0..{n - 1}")
            if s >= d:
                raise GraphError(
                    f"graph {name!r}: edge ({s}, {d}) does not go forward; nodes must be in topological order"
                )
        self.edges: tuple[tuple[int, int], ...] = tuple(pairs)
        self.name = name
        if input_shape is None and n:
            r = self.nodes[0].resolution
            input_shape = (1, r[0], r[2], r[4])
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.max_h, self.max_w, self.max_hidden, self.max_kernel = max_h, max_w, max_hidden, max_kernel
        self._hash: str | None = None

    # ------------------------------------------------------------------ basic queries
    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.nodes)

    @property
    def n_edges(self) -> int:
        """Number of edges."""
        return len(self.edges)

    @property
    def n_weighted(self) -> int:
        """Number of weighted nodes (conv, depthwise, matmul)."""
        return sum(1 for node in self.nodes if node.weighted)

    def __len__(self) -> int:
        return len(self.nodes)

    def parents(self) -> list[list[int]]:
        """Per node, the indices of its parents in ascending order."""
        result: list[list[int]] = [[] for _ in self.nodes]
        for s, d in self.edges:
            result[d].append(s)
        return result

    def children(self) -> list[list[int]]:
        """Per node, the indices of its children in ascending order."""
        result: list[list[int]] = [[] for _ in self.nodes]
        for s, d in self.edges:
            result[s].append(d)
        return result

    def op_counts(self) -> Counter[str]:
        """Histogram of op names."""
        return Counter(node.op for node in self.nodes)

    def weighted_shapes(self) -> Counter[tuple[int, int, int, int]]:
        """Multiset of weight shapes of the weighted nodes."""
        return Counter(node.shape for node in self.nodes if node.shape is not None)

    def op_resolutions(self) -> Counter[tuple[str, tuple[int, ...]]]:
        """Multiset of ``(op, resolution)`` pairs, the main test of agreement between lowerings."""
        return Counter((node.op, node.resolution) for node in self.nodes)

    # ------------------------------------------------------------------ identity
    def content_hash(self) -> str:
        """A stable hex digest of the graph's content, independent of node order and names.

        Each node is summarised by its descriptor together with digests of everything upstream of
        it and everything downstream of it; the graph digest hashes the sorted node summaries. The
        result is the same in every process and Python version.
        """
        if self._hash is None:
            parents, children = self.parents(), self.children()
            descs = [node.descriptor() for node in self.nodes]
            up: list[bytes] = []
            for i, desc in enumerate(descs):
                up.append(_digest(desc, sorted(up[p] for p in parents[i])))
            down: list[bytes] = [b""] * len(descs)
            for i in range(len(descs) - 1, -1, -1):
                down[i] = _digest(descs[i], sorted(down[c] for c in children[i]))
            summary = sorted(_digest(u, d) for u, d in zip(up, down))
            self._hash = hashlib.sha256(b"".join(summary) + repr((len(descs), len(self.edges))).encode()).hexdigest()
        return self._hash

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ComputeGraph):
            return NotImplemented
        if self.n_nodes != other.n_nodes or self.n_edges != other.n_edges:
            return False
        if self.edges == other.edges and all(a.descriptor() == b.descriptor() for a, b in zip(self.nodes, other.nodes)):
            return True
        return self.content_hash() == other.content_hash()

    def __hash__(self) -> int:
        return hash(self.content_hash())

    def diff(self, other: ComputeGraph) -> str:
        """Describe how this graph differs from ``other`` (empty string when equal); for test messages."""
        lines = []
        if self.n_nodes != other.n_nodes or self.n_edges != other.n_edges:
            lines.append(f"sizes: {self.n_nodes} nodes/{self.n_edges} edges vs {other.n_nodes}/{other.n_edges}")
        mine, theirs = Counter(n.descriptor() for n in self.nodes), Counter(n.descriptor() for n in other.nodes)
        for desc, count in sorted((mine - theirs).items(), key=repr)[:10]:
            lines.append(f"only in self ({count}x): {desc}")
        for desc, count in sorted((theirs - mine).items(), key=repr)[:10]:
            lines.append(f"only in other ({count}x): {desc}")
        if not lines and self != other:
            lines.append("same node multiset, different connectivity")
        return "\n".join(lines)

    # ------------------------------------------------------------------ derived graphs
    def copy(self, **changes: Any) -> ComputeGraph:
        """Return a copy, optionally with some attributes changed (``name``, ``max_h``, ...)."""
        kwargs = dict(
            name=self.name,
            input_shape=self.input_shape,
            max_h=self.max_h,
            max_w=self.max_w,
            max_hidden=self.max_hidden,
            max_kernel=self.max_kernel,
        )
        nodes = changes.pop("nodes", self.nodes)
        edges = changes.pop("edges", self.edges)
        unknown = set(changes) - set(kwargs)
        if unknown:
            raise TypeError(f"copy() got unknown attributes: {sorted(unknown)}")
        kwargs.update(changes)
        return ComputeGraph(nodes, edges, **kwargs)

    def relabel(self, index: int, **changes: Any) -> ComputeGraph:
        """Return a copy with node ``index`` replaced by ``dataclasses.replace(node, **changes)``."""
        nodes = list(self.nodes)
        nodes[index] = replace(nodes[index], **changes)
        return self.copy(nodes=nodes)

    # ------------------------------------------------------------------ presentation
    def summary(self) -> str:
        """One line in GENNAPE's form, ``ComputeGraph[name](n_nodes: N, n_edges: E)``."""
        return f"ComputeGraph[{self.name}](n_nodes: {self.n_nodes}, n_edges: {self.n_edges})"

    def describe(self) -> str:
        """A few lines: sizes, weighted count and the op histogram."""
        counts = ", ".join(f"{op} {n}" for op, n in sorted(self.op_counts().items(), key=lambda kv: (-kv[1], kv[0])))
        return (
            f"{self.summary()}\n"
            f"  weighted/regular: {self.n_weighted}/{self.n_nodes - self.n_weighted}, input {self.input_shape}\n"
            f"  ops: {counts}"
        )

    def __repr__(self) -> str:
        return self.summary()
