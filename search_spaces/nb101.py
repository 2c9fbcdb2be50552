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
BN: eps 1e-5, momentum 0.003 (TF 0.997). Initialisation: PyTorch's defaults unless
``to_module(..., init="tf")`` (the official TF initialisers; ten times slower to build).
Parameters: :meth:`NB101.params` equals NAS-Bench-101's ``trainable_parameters`` exactly (tested
on the benchmark's records).

**Counting.** :meth:`NB101.flops` uses the ``FlopCounterMode`` convention (2 FLOPs per
multiply-accumulate of convs and the dense layer; BN, pooling, ReLU, additions not counted). The
``params`` published with NASLib's zero-cost data (``zc_nasbench101.json``) are parameters in
millions (``params / 1e6``, exact on all 500 rows). Its ``flops`` are millions of operations in a
different convention: multiply-accumulates of convs and dense (``flops / 2``) plus 3 per output
element of each conv-BN-ReLU and k*k per output element of each k x k max-pool;
:meth:`NB101.published_flops` computes it and reproduces all 500 published values to the printed
6 decimals. ``flops / 2e6`` is 0.2-13 % below the published figure (Spearman 0.9986 on the 500 rows).

**Search operations.** :meth:`NB101.sample` is the benchmark's sampler (each of the 21 edges with
p = 0.5, uniform ops, pruned, redrawn until valid): uniform over valid specs, not over the 423,624
isomorphism classes; its vertex-count histogram matches NASLib's 500 published samples (tested).
:meth:`NB101.neighbors` changes one op, flips one edge, or (below 7 vertices) inserts a vertex on a
new path, keeping one cell per isomorphism class.

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
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from gennape_naslib.search_spaces._nb101_net import (
    NetConfig,
    build_cg,
    build_module,
    count_flops,
    count_naslib_flops,
    count_params,
)
from gennape_naslib.search_spaces._nb101_spec import (
    FAMILY,
    INPUT,
    MAX_EDGES,
    MAX_VERTICES,
    NASLIB_OPS,
    OPS,
    OUTPUT,
    SPACE_SIZE,
    NB101Arch,
    arch_from_raw,
    as_bit,
    invalid,
    module_hash,
    pad_to_7,
    parse_matrix,
    parse_ops,
    prune_spec,
)
from gennape_naslib.search_spaces.base import ArchValidationError, FamilyAdapter, as_rng, register_family

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from gennape_naslib.cg.graph import ComputeGraph

__all__ = ["NB101", "NB101Arch", "module_hash", "prune_spec", "OPS", "NASLIB_OPS"]


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
            raise invalid("spec", obj, "expected a dict with keys 'matrix' and 'ops'")
        missing = [k for k in ("matrix", "ops") if k not in obj]
        if missing:
            raise invalid("spec", obj, f"missing key(s) {missing}")
        extra = sorted(map(str, set(obj) - {"matrix", "ops"}))
        if extra:
            raise invalid("spec", obj, f"unknown key(s) {extra}; expected only 'matrix' and 'ops'")
        matrix = parse_matrix(obj["matrix"])
        ops = parse_ops(obj["ops"], len(matrix))
        return arch_from_raw(matrix, ops)

    def to_json(self, arch: NB101Arch) -> dict[str, Any]:
        """``{"matrix": [[0/1]], "ops": [...]}`` of the pruned cell."""
        return {"matrix": [list(r) for r in arch.matrix], "ops": list(arch.ops)}

    def from_str(self, text: str) -> NB101Arch:
        """Parse the JSON spec, or a NASLib hash tuple such as ``"(0, 1, ..., 4, 1)"``."""
        if not isinstance(text, str):
            raise invalid("text", text, "expected a string")
        stripped = text.strip()
        if stripped.startswith("("):
            try:
                value = ast.literal_eval(stripped)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                raise invalid("text", text, "not a tuple of integers") from None
            return self.from_naslib(value)
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise invalid("text", text, f"not valid JSON ({exc.msg})") from None
        return self.from_naslib(value) if isinstance(value, list) else self.from_json(value)

    def to_naslib(self, arch: NB101Arch) -> tuple[int, ...]:
        """NASLib's 56-int hash tuple (``convert_spec_to_tuple`` of the 7-vertex padded spec)."""
        self.validate(arch)
        matrix, ops = pad_to_7(arch)
        return tuple(v for row in matrix for v in row) + tuple(NASLIB_OPS.index(op) for op in ops)

    def to_naslib_spec(self, arch: NB101Arch) -> dict[str, Any]:
        """NASLib's spec ``{"matrix": 7x7 int ndarray, "ops": [...]}`` (padded as NASLib pads)."""
        self.validate(arch)
        matrix, ops = pad_to_7(arch)
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
                raise invalid("naslib", graph, "a NASLib hash tuple has n*n + n entries (56 for 7 vertices)")
            ids = values[n * n :]
            ops = []
            for i, op_id in enumerate(ids):
                if isinstance(op_id, bool) or not isinstance(op_id, (int, np.integer)) or not 0 <= op_id < 5:
                    raise invalid(f"naslib[{n * n + i}]", op_id, "NASLib op ids are 0..4")
                ops.append(NASLIB_OPS[int(op_id)])
            matrix = [values[i * n : (i + 1) * n] for i in range(n)]
            return self.from_json({"matrix": matrix, "ops": ops})
        raise invalid("graph", graph, "expected a NASLib graph with get_spec(), a spec dict or a hash tuple")

    # ------------------------------------------------------------------ validity and identity
    def validate(self, arch: Any) -> None:
        """Check that ``arch`` is a valid *pruned* cell within the benchmark's limits."""
        if not isinstance(arch, NB101Arch):
            raise invalid("arch", arch, f"expected an {NB101Arch.__name__}")
        matrix = parse_matrix(arch.matrix)
        ops = parse_ops(arch.ops, len(matrix))
        pruned = arch_from_raw(matrix, ops)
        if pruned != NB101Arch(tuple(tuple(r) for r in matrix), tuple(ops)):
            raise invalid("matrix", arch.matrix, "is not pruned (a vertex lies on no input -> output path)")

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
                return arch_from_raw(matrix, ops)
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
                child = arch_from_raw(m, ops)
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
        (BN and ReLU together) and ``k * k`` per output element of every ``k x k`` max-pool; additions,
        concatenations and the global pool count nothing. It reproduces the published ``flops``
        of all 500 rows to the printed precision (tested).
        """
        return count_naslib_flops(arch.matrix, arch.ops, self._cfg(None)) / 1e6

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
            raise invalid("config", config, "expected a mapping of hyperparameter names to values") from None
        matrix = [[0] * MAX_VERTICES for _ in range(MAX_VERTICES)]
        ops = [INPUT] + [""] * (MAX_VERTICES - 2) + [OUTPUT]
        for i in range(MAX_VERTICES):
            for j in range(i + 1, MAX_VERTICES):
                key = f"edge_{i}_{j}"
                if key not in values:
                    raise invalid("config", key, "missing edge hyperparameter")
                matrix[i][j] = as_bit(values[key], key)
        for t in range(1, MAX_VERTICES - 1):
            key = f"op_{t}"
            if key not in values:
                raise invalid("config", key, "missing op hyperparameter")
            ops[t] = str(values[key])
        return self.from_json({"matrix": matrix, "ops": ops})
