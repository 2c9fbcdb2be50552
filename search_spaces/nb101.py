"""NAS-Bench-101: cells of up to 7 vertices and 9 edges in the official NAS-Bench-101 network.

**Encoding.** ``{"matrix": V x V 0/1 strictly upper-triangular, "ops": ["input", ..., "output"]}``
with interior ops from ``conv3x3-bn-relu``, ``conv1x1-bn-relu``, ``maxpool3x3`` (V <= 7). An
:class:`NB101Arch` always holds the *pruned* spec: :meth:`NB101.from_json` accepts unpruned specs
(as NASLib and the benchmark's sampler produce them) and deletes the vertices that lie on no
input -> output path, exactly as NAS-Bench-101's ``ModelSpec`` does. As in the benchmark, the limit
of 9 edges applies to the pruned cell (raw specs in NASLib's data have up to 16 edges), the limit
of 7 vertices to the raw spec. The space holds 423,624 unique cells.

**Identity.** :meth:`NB101.canonical_hash` is NAS-Bench-101's own module hash (an MD5
Weisfeiler-Lehman hash over in/out degrees and op labels of the pruned cell), so isomorphic cells
share it and it equals the key of the cell's record in the benchmark files.

**Network** (GENNAPE_FACTS decision 3: the official NAS-Bench-101 network, ``model_builder.py``):
stem conv3x3(128)-BN-ReLU; 3 stacks x 3 cells; a 2x2 max-pool (stride 2) before stacks 2 and 3,
where the channels double (128, 256, 512; 32 -> 16 -> 8 pixels); global average pool; dense(10).
In a cell with ``C_in`` -> ``C_out`` channels the vertices feeding the output split ``C_out``
evenly (the first ``C_out mod k`` in index order get one more); other interior vertices take the
largest count among their interior successors; an interior vertex sums its interior predecessors
(truncated to its own channel count, at most one channel dropped) followed by a 1x1
conv-BN-ReLU projection of the cell input if the input feeds it; conv vertices are conv-BN-ReLU
("same" padding, no bias), maxpool3x3 is a 3x3 max-pool with stride 1; the output concatenates the
vertices that feed it (index order) and adds a 1x1 projection of the cell input if the input feeds
the output directly (for a cell with no interior vertex on a path, the output is that projection).
BN: eps 1e-5, momentum 0.003 (TF 0.997). Parameters: :meth:`NB101.params` equals NAS-Bench-101's
``trainable_parameters`` exactly (tested on the benchmark's records).

**Counting.** :meth:`NB101.flops` uses the ``FlopCounterMode`` convention (2 FLOPs per
multiply-accumulate of convs and the dense layer; BN, pooling, ReLU, additions not counted). The
``params`` published with NASLib's zero-cost data (``zc_nasbench101.json``) are parameters in
millions (``params / 1e6``, exact on all 500 rows). Its ``flops`` are millions of operations in a
different convention: multiply-accumulates of convs and dense (``flops / 2``) plus 3 per output
element of each conv-BN-ReLU and k*k per output element of each k x k max-pool;
:meth:`NB101.published_flops` computes it and reproduces all 500 published values to the printed
6 decimals. ``flops / 2e6`` is 0.2-13 % below the published figure (Spearman 0.9986 on the 500 rows).

**Deviations from GENNAPE's original CGs** (built from this network by the TF pipeline):

* A vertex summing k > 2 inputs is a left fold of k - 1 binary ``add`` nodes (how PyTorch computes
  and how :func:`~gennape_naslib.cg.from_torch` lowers it), where TensorFlow's ``add_n`` shows one
  ``add`` node with k parents: such CGs have k - 2 more nodes and edges per vertex. Cells whose
  vertices have at most two inputs (e.g. both cells of GENNAPE_FACTS Appendix A) are identical.
* No softmax after the dense layer (it is invisible in GENNAPE's CGs anyway). No dropout identity
  node (GENNAPE's NB-101 CGs have none either).

**NASLib.** :meth:`NB101.to_naslib` gives NASLib's 56-int hash tuple (7x7 adjacency row-major and 7
op ids: 0 input, 1 output, 2 maxpool3x3, 3 conv1x1-bn-relu, 4 conv3x3-bn-relu); cells with fewer
than 7 vertices are padded as NASLib's ``convert_to_cell`` does (the output moves to vertex 6, the
free vertices become unconnected ``conv3x3-bn-relu`` vertices). :meth:`NB101.to_naslib_spec` gives
the ``{"matrix", "ops"}`` spec; :meth:`NB101.from_naslib` reads ``graph.get_spec()``.

**ConfigSpace.** NB-101 validity (a path, at most 9 edges after pruning) cannot be expressed with
conditions and forbidden clauses of reasonable size, so :meth:`NB101.configspace` holds 21 edge
booleans ``edge_i_j`` and 5 op categoricals ``op_t`` (sampled uniformly it is the benchmark's own
sampler), and :meth:`NB101.from_configuration` checks validity (reject and resample on
:class:`ArchValidationError`).
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from gennape_naslib.search_spaces._nb101_net import NetConfig, build_cg, build_module, count_flops, count_params
from gennape_naslib.search_spaces.base import ArchValidationError, FamilyAdapter, as_rng, register_family

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from gennape_naslib.cg.graph import ComputeGraph

__all__ = ["NB101", "NB101Arch", "module_hash", "prune_spec", "OPS", "NASLIB_OPS"]

FAMILY = "nb101"
INPUT, OUTPUT = "input", "output"
#: Interior ops in NAS-Bench-101's order (its hash labels them 0, 1, 2).
OPS: tuple[str, ...] = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
#: NASLib's op ids.
NASLIB_OPS: tuple[str, ...] = ("input", "output", "maxpool3x3", "conv1x1-bn-relu", "conv3x3-bn-relu")
MAX_VERTICES = 7
MAX_EDGES = 9
SPACE_SIZE = 423_624


@dataclass(frozen=True)
class NB101Arch:
    """A pruned NAS-Bench-101 cell.

    Attributes:
        matrix: ``V x V`` strictly upper-triangular 0/1 adjacency (row = source vertex).
        ops: ``V`` op names, ``"input"`` first and ``"output"`` last.
    """

    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]

    @property
    def num_vertices(self) -> int:
        """Number of vertices, input and output included."""
        return len(self.ops)

    @property
    def num_edges(self) -> int:
        """Number of edges."""
        return sum(map(sum, self.matrix))


# ---------------------------------------------------------------------- spec helpers
def _bad(field: str, value: Any, reason: str) -> ArchValidationError:
    return ArchValidationError(FAMILY, field, value, reason)


def _as_bit(value: Any, field: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (Real, np.number)) and not isinstance(value, complex) and value in (0, 1):
        return int(value)
    raise _bad(field, value, "adjacency entries must be 0 or 1")


def _parse_matrix(raw: Any) -> list[list[int]]:
    if isinstance(raw, np.ndarray):
        raw = raw.tolist()
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence):
        raise _bad("matrix", raw, "expected a square list of lists of 0/1")
    n = len(raw)
    if n > MAX_VERTICES:
        raise _bad("matrix", raw, f"has {n} vertices; NAS-Bench-101 cells have at most {MAX_VERTICES}")
    if n < 2:
        raise _bad("matrix", raw, "needs at least the input and the output vertex")
    rows = []
    for i, row in enumerate(raw):
        if isinstance(row, np.ndarray):
            row = row.tolist()
        if isinstance(row, (str, bytes)) or not isinstance(row, Sequence) or len(row) != n:
            raise _bad(f"matrix[{i}]", row, f"expected a row of {n} entries (the matrix must be square)")
        rows.append([_as_bit(v, f"matrix[{i}][{j}]") for j, v in enumerate(row)])
    for i in range(n):
        for j in range(i + 1):
            if rows[i][j]:
                raise _bad(
                    f"matrix[{i}][{j}]", 1, "the matrix must be strictly upper-triangular (edges go to later vertices)"
                )
    return rows


def _parse_ops(raw: Any, n: int) -> list[str]:
    if isinstance(raw, np.ndarray):
        raw = raw.tolist()
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence):
        raise _bad("ops", raw, "expected a list of op names")
    if len(raw) != n:
        raise _bad("ops", raw, f"has {len(raw)} entries but the matrix has {n} vertices")
    ops = []
    for i, op in enumerate(raw):
        if not isinstance(op, str):
            raise _bad(f"ops[{i}]", op, "op names are strings")
        ops.append(str(op))
    if ops[0] != INPUT:
        raise _bad("ops[0]", ops[0], "the first vertex must be 'input'")
    if ops[-1] != OUTPUT:
        raise _bad(f"ops[{n - 1}]", ops[-1], "the last vertex must be 'output'")
    for i in range(1, n - 1):
        if ops[i] not in OPS:
            raise _bad(f"ops[{i}]", ops[i], f"unknown op; choose from {list(OPS)}")
    return ops


def prune_spec(matrix: Sequence[Sequence[int]], ops: Sequence[str]) -> tuple[list[list[int]], list[str]] | None:
    """Delete the vertices that lie on no input -> output path (NAS-Bench-101's pruning).

    Returns:
        The pruned ``(matrix, ops)``, or ``None`` if no path joins the input to the output.
    """
    n = len(ops)
    forward, stack = {0}, [0]
    while stack:
        v = stack.pop()
        for w in range(v + 1, n):
            if matrix[v][w] and w not in forward:
                forward.add(w)
                stack.append(w)
    backward, stack = {n - 1}, [n - 1]
    while stack:
        v = stack.pop()
        for w in range(v):
            if matrix[w][v] and w not in backward:
                backward.add(w)
                stack.append(w)
    keep = sorted(forward & backward)
    if n - 1 not in forward:
        return None
    return [[matrix[i][j] for j in keep] for i in keep], [ops[i] for i in keep]


def module_hash(matrix: Sequence[Sequence[int]], ops: Sequence[str]) -> str:
    """NAS-Bench-101's hash of a pruned cell (isomorphic cells share it).

    Labels are -1 (input), -2 (output) and the index in :data:`OPS`; every vertex starts from the
    MD5 of ``str((out_degree, in_degree, label))`` and is refined V times by hashing its sorted
    in-neighbour hashes, its sorted out-neighbour hashes and its own hash; the cell hash is the
    MD5 of the sorted final vertex hashes.
    """
    n = len(ops)
    labels = [-1] + [OPS.index(op) for op in ops[1:-1]] + [-2]
    ins = [sum(matrix[i][j] for i in range(n)) for j in range(n)]
    outs = [sum(row) for row in matrix]

    def md5(text: str) -> str:
        return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()

    hashes = [md5(str((outs[v], ins[v], labels[v]))) for v in range(n)]
    for _ in range(n):
        hashes = [
            md5(
                "".join(sorted(hashes[w] for w in range(n) if matrix[w][v]))
                + "|"
                + "".join(sorted(hashes[w] for w in range(n) if matrix[v][w]))
                + "|"
                + hashes[v]
            )
            for v in range(n)
        ]
    return md5(str(sorted(hashes)))


def _arch(matrix: Sequence[Sequence[int]], ops: Sequence[str]) -> NB101Arch:
    """Prune a structurally valid raw spec and check the benchmark's limits."""
    pruned = prune_spec(matrix, ops)
    if pruned is None:
        raise _bad("matrix", [list(r) for r in matrix], "no path joins the input to the output")
    pm, pops = pruned
    edges = sum(map(sum, pm))
    if edges > MAX_EDGES:
        raise _bad("matrix", pm, f"has {edges} edges after pruning; NAS-Bench-101 allows at most {MAX_EDGES}")
    return NB101Arch(tuple(tuple(r) for r in pm), tuple(pops))


def _pad_to_7(arch: NB101Arch) -> tuple[list[list[int]], list[str]]:
    """NASLib's padding of a smaller cell to 7 vertices (output moved to vertex 6)."""
    n = arch.num_vertices
    matrix = [[0] * MAX_VERTICES for _ in range(MAX_VERTICES)]
    for i in range(n):
        for j in range(n):
            if arch.matrix[i][j]:
                matrix[i][j if j < n - 1 else MAX_VERTICES - 1] = 1
    ops = list(arch.ops[:-1]) + [OPS[0]] * (MAX_VERTICES - n) + [OUTPUT]
    return matrix, ops


# ---------------------------------------------------------------------- the adapter
@register_family(FAMILY)
class NB101(FamilyAdapter):
    """NAS-Bench-101 cells (423,624) in the official NAS-Bench-101 CIFAR-10 network."""

    Arch: ClassVar[type] = NB101Arch
    input_shape: ClassVar[tuple[int, int, int]] = (3, 32, 32)
    num_classes: ClassVar[int] = 10
    naslib_ss_type: ClassVar[str | None] = "nasbench101"

    # ------------------------------------------------------------------ encodings
    def from_json(self, obj: Any) -> NB101Arch:
        """Parse ``{"matrix", "ops"}`` (unpruned specs are pruned; numpy arrays are accepted).

        Raises:
            ArchValidationError: Naming the field (``matrix``, ``matrix[i][j]``, ``ops[i]``, ...).
        """
        if isinstance(obj, NB101Arch):
            self.validate(obj)
            return obj
        if not isinstance(obj, dict):
            raise _bad("spec", obj, "expected a dict with keys 'matrix' and 'ops'")
        missing = [k for k in ("matrix", "ops") if k not in obj]
        if missing:
            raise _bad("spec", obj, f"missing key(s) {missing}")
        extra = sorted(map(str, set(obj) - {"matrix", "ops"}))
        if extra:
            raise _bad("spec", obj, f"unknown key(s) {extra}; expected only 'matrix' and 'ops'")
        matrix = _parse_matrix(obj["matrix"])
        ops = _parse_ops(obj["ops"], len(matrix))
        return _arch(matrix, ops)

    def to_json(self, arch: NB101Arch) -> dict[str, Any]:
        """``{"matrix": [[0/1]], "ops": [...]}`` of the pruned cell."""
        return {"matrix": [list(r) for r in arch.matrix], "ops": list(arch.ops)}

    def from_str(self, text: str) -> NB101Arch:
        """Parse the JSON spec, or a NASLib hash tuple such as ``"(0, 1, ..., 4, 1)"``."""
        if not isinstance(text, str):
            raise _bad("text", text, "expected a string")
        stripped = text.strip()
        if stripped.startswith("("):
            try:
                value = ast.literal_eval(stripped)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                raise _bad("text", text, "not a tuple of integers") from None
            return self.from_naslib(value)
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise _bad("text", text, f"not valid JSON ({exc.msg})") from None
        return self.from_naslib(value) if isinstance(value, list) else self.from_json(value)

    def to_naslib(self, arch: NB101Arch) -> tuple[int, ...]:
        """NASLib's 56-int hash tuple (``convert_spec_to_tuple`` of the 7-vertex padded spec)."""
        self.validate(arch)
        matrix, ops = _pad_to_7(arch)
        return tuple(v for row in matrix for v in row) + tuple(NASLIB_OPS.index(op) for op in ops)

    def to_naslib_spec(self, arch: NB101Arch) -> dict[str, Any]:
        """NASLib's spec ``{"matrix": 7x7 int ndarray, "ops": [...]}`` (padded as NASLib pads)."""
        self.validate(arch)
        matrix, ops = _pad_to_7(arch)
        return {"matrix": np.array(matrix, dtype=np.int64), "ops": ops}

    def from_naslib(self, graph: Any) -> NB101Arch:
        """Read a cell from a NASLib graph (``graph.get_spec()``), a spec dict or a hash tuple.

        Raises:
            ArchValidationError: If the object holds no valid cell.
        """
        if hasattr(graph, "get_spec"):
            return self.from_json(graph.get_spec())
        if isinstance(graph, dict):
            return self.from_json(graph)
        if isinstance(graph, (tuple, list, np.ndarray)):
            values = list(graph.tolist() if isinstance(graph, np.ndarray) else graph)
            n = next((k for k in range(1, 9) if k * k + k == len(values)), None)
            if n is None:
                raise _bad("naslib", graph, "a NASLib hash tuple has n*n + n entries (56 for 7 vertices)")
            ids = values[n * n :]
            ops = []
            for i, op_id in enumerate(ids):
                if isinstance(op_id, bool) or not isinstance(op_id, (int, np.integer)) or not 0 <= op_id < 5:
                    raise _bad(f"naslib[{n * n + i}]", op_id, "NASLib op ids are 0..4")
                ops.append(NASLIB_OPS[int(op_id)])
            matrix = [values[i * n : (i + 1) * n] for i in range(n)]
            return self.from_json({"matrix": matrix, "ops": ops})
        raise _bad("graph", graph, "expected a NASLib graph with get_spec(), a spec dict or a hash tuple")

    # ------------------------------------------------------------------ validity and identity
    def validate(self, arch: Any) -> None:
        """Check that ``arch`` is a valid *pruned* cell within the benchmark's limits."""
        if not isinstance(arch, NB101Arch):
            raise _bad("arch", arch, f"expected an {NB101Arch.__name__}")
        matrix = _parse_matrix(arch.matrix)
        ops = _parse_ops(arch.ops, len(matrix))
        pruned = _arch(matrix, ops)
        if pruned != NB101Arch(tuple(tuple(r) for r in matrix), tuple(ops)):
            raise _bad("matrix", arch.matrix, "is not pruned (a vertex lies on no input -> output path)")

    def canonical_hash(self, arch: NB101Arch) -> str:
        """NAS-Bench-101's module hash (32 hex digits); isomorphic cells share it."""
        return module_hash(arch.matrix, arch.ops)

    # ------------------------------------------------------------------ search-space operations
    def sample(self, rng: np.random.Generator | int | None = None) -> NB101Arch:
        """The benchmark's sampler: every upper-triangle edge with p = 0.5 and uniform interior ops,
        pruned, redrawn until valid (uniform over valid *specs*, as NAS-Bench-101 samples)."""
        gen = as_rng(rng)
        while True:
            matrix = np.triu(gen.integers(0, 2, size=(MAX_VERTICES, MAX_VERTICES)), 1).tolist()
            ops = [INPUT] + [OPS[i] for i in gen.integers(0, len(OPS), size=MAX_VERTICES - 2)] + [OUTPUT]
            try:
                return _arch(matrix, ops)
            except ArchValidationError:
                continue

    def neighbors(self, arch: NB101Arch) -> list[NB101Arch]:
        """Cells one local change away, one per isomorphism class, never isomorphic to ``arch``.

        Changes: another op at one interior vertex; one edge flipped (then pruned); and, for
        cells of fewer than 7 vertices, a new vertex (any op) inserted on a new path ``i -> new
        -> j`` (in NASLib's 7-vertex view, two edge flips that connect an unused vertex).
        """
        self.validate(arch)
        n = arch.num_vertices
        base = [list(r) for r in arch.matrix]
        candidates: list[tuple[list[list[int]], list[str]]] = []
        for v in range(1, n - 1):
            for op in OPS:
                if op != arch.ops[v]:
                    ops = list(arch.ops)
                    ops[v] = op
                    candidates.append((base, ops))
        for i in range(n - 1):
            for j in range(i + 1, n):
                m = [list(r) for r in base]
                m[i][j] = 1 - m[i][j]
                candidates.append((m, list(arch.ops)))
        if n < MAX_VERTICES and arch.num_edges + 2 <= MAX_EDGES:
            for i in range(n - 1):
                for j in range(i + 1, n):
                    for op in OPS:
                        # new vertex at index i + 1; old vertices >= i + 1 shift by one
                        m = [[0] * (n + 1) for _ in range(n + 1)]
                        for a in range(n):
                            for b in range(n):
                                m[a + (a > i)][b + (b > i)] = base[a][b]
                        m[i][i + 1] = 1
                        m[i + 1][j + 1] = 1
                        ops = list(arch.ops[: i + 1]) + [op] + list(arch.ops[i + 1 :])
                        candidates.append((m, ops))
        seen = {self.canonical_hash(arch)}
        result = []
        for m, ops in candidates:
            try:
                child = _arch(m, ops)
            except ArchValidationError:
                continue
            h = self.canonical_hash(child)
            if h not in seen:
                seen.add(h)
                result.append(child)
        return result

    def enumerate(self) -> Iterator[NB101Arch]:
        """Not available: the space holds 423,624 cells; use :meth:`sample` or the benchmark's hashes."""
        raise NotImplementedError(
            "nb101: enumerating the 423,624 NAS-Bench-101 cells is not supported (it needs the "
            "isomorphism classes of all specs); sample() or iterate over the benchmark's records instead"
        )

    def size(self) -> int:
        """423,624 unique cells."""
        return SPACE_SIZE

    def example(self) -> NB101Arch:
        """The Inception-like cell of the NAS-Bench-101 README (also GENNAPE_FACTS Appendix A)."""
        return self.from_json(
            {
                "matrix": [
                    [0, 1, 1, 1, 0, 1, 0],
                    [0, 0, 0, 0, 0, 0, 1],
                    [0, 0, 0, 0, 0, 0, 1],
                    [0, 0, 0, 0, 1, 0, 0],
                    [0, 0, 0, 0, 0, 0, 1],
                    [0, 0, 0, 0, 0, 0, 1],
                    [0, 0, 0, 0, 0, 0, 0],
                ],
                "ops": [INPUT, OPS[1], OPS[0], OPS[0], OPS[0], OPS[2], OUTPUT],
            }
        )

    # ------------------------------------------------------------------ networks and graphs
    def _cfg(self, num_classes: int | None, **kwargs: Any) -> NetConfig:
        unknown = set(kwargs) - {"stem_channels", "num_stacks", "cells_per_stack", "input_hwc"}
        if unknown:
            raise TypeError(f"nb101: unknown network option(s) {sorted(unknown)}")
        if "input_hwc" in kwargs:
            kwargs["input_hwc"] = tuple(int(v) for v in kwargs["input_hwc"])
        return NetConfig(num_classes=self.num_classes if num_classes is None else int(num_classes), **kwargs)

    def to_module(
        self, arch: NB101Arch, num_classes: int | None = None, init: str = "torch", **kwargs: Any
    ) -> torch.nn.Module:
        """The NAS-Bench-101 network of ``arch`` (train mode, freshly initialised).

        Args:
            arch: The cell.
            num_classes: Classes of the dense head (default 10).
            init: ``"torch"`` (PyTorch's default initialisation, the default) or ``"tf"`` (the official
                TF builder's initialisers; about 10x slower to build because of the truncated normal).
            **kwargs: ``stem_channels`` (128), ``num_stacks`` (3), ``cells_per_stack`` (3),
                ``input_hwc`` ((32, 32, 3)) to change the macro skeleton.
        """
        self.validate(arch)
        return build_module(arch.matrix, arch.ops, self._cfg(num_classes, **kwargs), init=init)

    def to_cg(self, arch: NB101Arch, num_classes: int | None = None, **kwargs: Any) -> ComputeGraph:
        """The computation graph of :meth:`to_module`'s network, built directly."""
        return build_cg(arch.matrix, arch.ops, self._cfg(num_classes, **kwargs))

    def module_input_shape(self, arch: NB101Arch) -> tuple[int, int, int]:
        """``(3, 32, 32)``."""
        return self.input_shape

    def flops(self, arch: NB101Arch, num_classes: int | None = None, **kwargs: Any) -> float:
        """FLOPs of one forward pass (``FlopCounterMode`` convention), computed analytically."""
        return float(count_flops(arch.matrix, arch.ops, self._cfg(num_classes, **kwargs)))

    def params(self, arch: NB101Arch, num_classes: int | None = None, **kwargs: Any) -> int:
        """Parameters of :meth:`to_module` (= NAS-Bench-101's ``trainable_parameters``), analytically."""
        return count_params(arch.matrix, arch.ops, self._cfg(num_classes, **kwargs))

    def published_flops(self, arch: NB101Arch) -> float:
        """FLOPs in millions as NASLib's zero-cost data (``zc_nasbench101.json``) counts them.

        That convention counts, for the benchmark network: multiply-accumulates of the
        convolutions and the dense layer (no bias), 3 per output element of every conv-BN-ReLU
        (BN 2, ReLU 1) and ``k * k`` per output element of every ``k x k`` max-pool; additions,
        concatenations and the global pool count nothing. It reproduces the published ``flops``
        of all 500 rows to the printed precision (tested).
        """
        total = self.flops(arch) / 2
        for node in self.to_cg(arch).nodes:
            _, h, _, w, _, c = node.resolution
            if node.op == "batchnorm":
                total += 2 * h * w * c
            elif node.op == "relu":
                total += h * w * c
            elif node.op == "maxpool":
                kh, kw = node.metadata["ksize"] if node.metadata else (1, 1)
                total += h * w * c * kh * kw
        return total / 1e6

    # ------------------------------------------------------------------ ConfigSpace
    def configspace(self, seed: int | None = None) -> Any:
        """21 edge booleans ``edge_i_j`` (i < j < 7) and 5 op categoricals ``op_1`` .. ``op_5``.

        Validity cannot be expressed here: :meth:`from_configuration` raises
        :class:`ArchValidationError` for a configuration without an input -> output path or with
        more than 9 edges after pruning; reject and resample such configurations.
        """
        from ConfigSpace import Categorical, ConfigurationSpace

        cs = ConfigurationSpace(name=FAMILY, seed=seed)
        cs.add(
            [
                Categorical(f"edge_{i}_{j}", [False, True])
                for i in range(MAX_VERTICES)
                for j in range(i + 1, MAX_VERTICES)
            ]
        )
        cs.add([Categorical(f"op_{t}", list(OPS)) for t in range(1, MAX_VERTICES - 1)])
        return cs

    def from_configuration(self, config: Any) -> NB101Arch:
        """The cell of a :meth:`configspace` configuration (pruned).

        Raises:
            ArchValidationError: If the configuration is not a valid cell.
        """
        try:
            values = dict(config)
        except (TypeError, ValueError):
            raise _bad("config", config, "expected a mapping of hyperparameter names to values") from None
        matrix = [[0] * MAX_VERTICES for _ in range(MAX_VERTICES)]
        ops = [INPUT] + [""] * (MAX_VERTICES - 2) + [OUTPUT]
        for i in range(MAX_VERTICES):
            for j in range(i + 1, MAX_VERTICES):
                key = f"edge_{i}_{j}"
                if key not in values:
                    raise _bad("config", key, "missing edge hyperparameter")
                matrix[i][j] = _as_bit(values[key], key)
        for t in range(1, MAX_VERTICES - 1):
            key = f"op_{t}"
            if key not in values:
                raise _bad("config", key, "missing op hyperparameter")
            ops[t] = str(values[key])
        return self.from_json({"matrix": matrix, "ops": ops})
