"""NAS-Bench-201: the 15,625 cells of the NAS-Bench-201 topology search space.

**Cell.** A DAG of four nodes; every edge ``i -> j`` (``i < j``) carries one of five ops:
``none``, ``skip_connect``, ``nor_conv_1x1``, ``nor_conv_3x3``, ``avg_pool_3x3``. Node ``j`` is the
sum of ``op_ij(node_i)`` over ``i < j``; node 0 is the cell input and node 3 its output.

**Encodings.**

* JSON and text: the official arch string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, listing the
  edges ``0->1 | 0->2, 1->2 | 0->3, 1->3, 2->3``. :attr:`NB201Arch.ops` stores the six ops in this
  order.
* NASLib (:meth:`NB201.to_naslib`): the op-index tuple of ``graph.get_op_indices()`` with the edge
  order ``0->1, 0->2, 0->3, 1->2, 1->3, 2->3`` and the op ids 0 ``skip_connect``, 1 ``none``,
  2 ``nor_conv_3x3``, 3 ``nor_conv_1x1``, 4 ``avg_pool_3x3`` (the keys of NAS-Bench-Suite-Zero's
  ``zc_nasbench201.json`` and of HW-NAS-Bench).

**Network** (:meth:`NB201.to_module`, GENNAPE_FACTS decision 3: the official benchmark network, the
``TinyNetwork`` of NAS-Bench-201 with C = 16 and N = 5):

* stem: conv 3x3 (3 -> 16, no bias) -> BN;
* three stages of five cells with C = 16, 32, 64 at 32x32, 16x16 and 8x8;
* between stages the benchmark's residual reduction block (C -> 2C): ReLU-Conv3x3(stride 2)-BN ->
  ReLU-Conv3x3-BN, shortcut AvgPool 2x2 (stride 2) -> Conv1x1 (no bias, no BN), output = shortcut +
  main path (no activation after the sum);
* cell ops: ``nor_conv_kxk`` = ReLU -> conv kxk (no bias) -> BN; ``avg_pool_3x3`` = AvgPool 3x3,
  stride 1, padding 1, ``count_include_pad=False`` (no BN: inside a cell C_in == C_out, so the
  benchmark adds no preprocessing); ``skip_connect`` = identity; ``none`` = ``x * 0``;
* head: BN -> ReLU -> global average pooling -> linear (``num_classes``, default 10, with bias).

``forward`` returns the logits (the benchmark's module also returns the pooled features).

**Computation graph** (:meth:`NB201.to_cg`): the graph :func:`~gennape_naslib.cg.from_torch`
produces for that network, built directly from cached per-stage pieces in well under a millisecond.
Deviations from GENNAPE's original NB-201 CGs (GENNAPE_FACTS 3.2 and section 5, item 21), all
because GENNAPE's TensorFlow network differs from the benchmark's:

* the reduction block is the benchmark's (ReLU-Conv-BN twice, AvgPool 2x2 + Conv1x1 shortcut, no
  final ReLU) instead of GENNAPE's (convs without BN, AvgPool 3x3 shortcut, final ReLU);
* ``avg_pool_3x3`` has no BN after it;
* ``none`` is a ``zero`` node instead of vanishing, so ``none`` and ``skip_connect`` give different
  graphs (GENNAPE's all-none and all-skip networks gave the same graph);
* the stem has no ReLU in either, but our head has GENNAPE's missing BN -> ReLU, and no ``identity``
  node from an inference-time dropout;
* node 3 sums its inputs in the benchmark's order, ``(e03 + e13) + e23``, where GENNAPE's TF cell sums
  ``(e23 + e13) + e03``: the ``add`` nodes pair different summands, and where the first pair is the
  same tensor twice (``skip~0`` into node 1 and ``skip~1`` into node 3) our ``x + x`` is one add fewer
  (degenerate arithmetic vanishes), e.g. ``|skip_connect~0|+|skip_connect~0|nor_conv_1x1~1|+|skip_connect~0|
  skip_connect~1|nor_conv_1x1~2|`` (found by comparing 30 random cells with a rebuild of GENNAPE's pipeline).

Node counts therefore differ from GENNAPE_FACTS Appendix A: the all-``skip_connect`` cell gives 26
nodes and 27 edges (GENNAPE: 21 and 22), the all-``none`` cell 161 nodes and 207 edges.

**Identity** (:meth:`NB201.canonical_hash`): see :func:`canonical_form`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from gennape_naslib.search_spaces import _nb201_net as net
from gennape_naslib.search_spaces.base import ArchValidationError, FamilyAdapter, as_rng, register_family

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from gennape_naslib.cg.graph import ComputeGraph

__all__ = ["NB201", "NB201Arch", "OPS", "NASLIB_OPS", "EDGES", "NASLIB_EDGES", "canonical_form"]

#: The five ops, in the benchmark's order.
OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: NASLib's op ids: ``NASLIB_OPS[i]`` is the op of index ``i``.
NASLIB_OPS: tuple[str, ...] = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
#: Edges in the arch-string order (the order of :attr:`NB201Arch.ops`).
EDGES: tuple[tuple[int, int], ...] = net.CELL_EDGES
#: Edges in NASLib's order.
NASLIB_EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
# NASLib position -> arch-string position (the permutation is its own inverse).
_NASLIB_PERM = tuple(EDGES.index(e) for e in NASLIB_EDGES)
_NASLIB_INDEX = {op: i for i, op in enumerate(NASLIB_OPS)}
_OP_SET = frozenset(OPS)
_TOKEN = re.compile(r"^([a-z0-9_]+)~(\d+)$")


@dataclass(frozen=True)
class NB201Arch:
    """One NAS-Bench-201 cell.

    Attributes:
        ops: Six op names for the edges ``0->1, 0->2, 1->2, 0->3, 1->3, 2->3`` (arch-string order).
    """

    ops: tuple[str, str, str, str, str, str]

    def __str__(self) -> str:
        return _arch_string(self.ops)

    def edge_op(self, src: int, dst: int) -> str:
        """The op on edge ``src -> dst``."""
        return self.ops[EDGES.index((src, dst))]


def _arch_string(ops: Sequence[str]) -> str:
    groups = []
    for dst in (1, 2, 3):
        groups.append("|" + "|".join(f"{ops[EDGES.index((src, dst))]}~{src}" for src in range(dst)) + "|")
    return "+".join(groups)


def canonical_form(ops: Sequence[str]) -> str:
    """A text that two cells share when they compute the same function (up to the rule on zeros below).

    Every node's value is written as a sorted sum of terms, from the input ``x`` forward:

    * ``none`` contributes nothing; a node with nothing flowing in is zero;
    * ``skip_connect`` contributes the terms of its source node unchanged (``x + (a + b)`` is
      ``x + a + b``), so chains and sums through skips are flattened;
    * a conv or pool on a non-zero node is one term ``op(<terms of the source>)``; on a zero node
      it contributes nothing. That is exact for the pool and NAS-Bench-201's own rule for convs
      (strictly, ReLU-Conv-BN of zeros outputs the BN shift, a learned per-channel constant);
    * repeated terms are kept (``x + x`` differs from ``x``).

    The cell's form is the form of node 3 (``"0"`` when the cell outputs zeros). So edges whose
    output cannot reach the cell output because of ``none`` ops, and ops that feed only such dead
    nodes, do not change the form. It is the NATS-Bench "unique string" rule, except that a zero
    input adds no term here (NATS-Bench writes a ``#`` term for it, which keeps ``x + 0`` apart from
    ``x``), and an op on a zero node is zero for every node (NATS-Bench only checks single-input
    nodes). The 15,625 cells fall into 4,930 classes; NATS-Bench's 6,466 classes (the
    "unique" count of the NAS-Bench-201 paper) each lie inside one of them.
    """
    values: list[tuple[str, ...]] = [("x",)]
    for dst in (1, 2, 3):
        terms: list[str] = []
        for src in range(dst):
            op, value = ops[EDGES.index((src, dst))], values[src]
            if op == "none" or not value:
                continue
            if op == "skip_connect":
                terms.extend(value)
            else:
                terms.append(f"{op}({'+'.join(value)})")
        values.append(tuple(sorted(terms)))
    return "+".join(values[3]) or "0"


@register_family("nb201")
class NB201(FamilyAdapter):
    """NAS-Bench-201: 15,625 cells of 6 edges x 5 ops, the official CIFAR network (C = 16, N = 5)."""

    Arch = NB201Arch
    input_shape = (3, 32, 32)
    num_classes = 10
    naslib_ss_type = "nasbench201"

    # ------------------------------------------------------------------ encodings
    def _make(self, ops: Sequence[Any], field: str) -> NB201Arch:
        if len(ops) != 6:
            raise ArchValidationError(self.name, field, list(ops), f"needs 6 edge ops, got {len(ops)}")
        for i, op in enumerate(ops):
            if not isinstance(op, str) or op not in _OP_SET:
                raise ArchValidationError(self.name, f"{field}[{i}]", op, f"unknown op; expected one of {list(OPS)}")
        return NB201Arch(tuple(ops))  # type: ignore[arg-type]

    def from_json(self, obj: Any) -> NB201Arch:
        """Parse an encoding into an :class:`NB201Arch`.

        Accepts the official arch string (the JSON encoding), a list of six op names in the
        arch-string edge order, or a list of six NASLib op indices.

        Raises:
            ArchValidationError: If ``obj`` is none of these or names an unknown op.
        """
        if isinstance(obj, NB201Arch):
            self.validate(obj)
            return obj
        if isinstance(obj, str):
            return self._parse_arch_string(obj)
        if isinstance(obj, (list, tuple)):
            if obj and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in obj):
                return self.from_naslib(obj)
            return self._make(obj, "ops")
        raise ArchValidationError(
            self.name, "arch", obj, f"expected an arch string '|op~0|+|op~0|op~1|+...', got {type(obj).__name__}"
        )

    def to_json(self, arch: NB201Arch) -> str:
        """The official arch string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``."""
        return _arch_string(arch.ops)

    def from_str(self, text: str) -> NB201Arch:
        """Parse the arch string, a JSON-quoted arch string, or a NASLib tuple such as ``(0, 2, 3, 2, 3, 1)``."""
        if not isinstance(text, str):
            raise ArchValidationError(self.name, "text", text, "expected a string")
        stripped = text.strip()
        if stripped.startswith(("(", "[")):
            body = stripped[1:-1] if stripped[-1:] in (")", "]") else None
            try:
                values = [int(v) for v in body.split(",") if v.strip()] if body is not None else None
            except ValueError:
                values = None
            if values is None:
                raise ArchValidationError(self.name, "text", text, "expected a NASLib tuple of 6 op indices")
            return self.from_naslib(values)
        if stripped.startswith('"'):
            try:
                stripped = json.loads(stripped)
            except json.JSONDecodeError:
                raise ArchValidationError(self.name, "text", text, "not a valid JSON string") from None
        return self.from_json(stripped)

    def to_str(self, arch: NB201Arch) -> str:
        """The official arch string."""
        return _arch_string(arch.ops)

    def _parse_arch_string(self, text: str) -> NB201Arch:
        groups = text.strip().split("+")
        if len(groups) != 3:
            raise ArchValidationError(self.name, "arch_string", text, f"needs 3 '+'-separated nodes, got {len(groups)}")
        ops: list[str | None] = [None] * 6
        for dst, group in enumerate(groups, start=1):
            if not (group.startswith("|") and group.endswith("|") and len(group) > 2):
                raise ArchValidationError(self.name, f"arch_string node {dst}", group, "must look like '|op~i|...|'")
            tokens = group[1:-1].split("|")
            if len(tokens) != dst:
                raise ArchValidationError(
                    self.name, f"arch_string node {dst}", group, f"needs {dst} inputs, got {len(tokens)}"
                )
            for token in tokens:
                match = _TOKEN.match(token)
                if match is None:
                    raise ArchValidationError(self.name, f"arch_string node {dst}", token, "must look like 'op~i'")
                op, src = match.group(1), int(match.group(2))
                if op not in _OP_SET:
                    raise ArchValidationError(
                        self.name, f"arch_string node {dst}", op, f"unknown op; expected one of {list(OPS)}"
                    )
                if src >= dst:
                    raise ArchValidationError(
                        self.name, f"arch_string node {dst}", token, f"input {src} must be an earlier node"
                    )
                slot = EDGES.index((src, dst))
                if ops[slot] is not None:
                    raise ArchValidationError(self.name, f"arch_string node {dst}", token, f"input {src} repeated")
                ops[slot] = op
        return NB201Arch(tuple(ops))  # type: ignore[arg-type]

    def to_naslib(self, arch: NB201Arch) -> tuple[int, ...]:
        """NASLib's op-index tuple (edge order 0->1, 0->2, 0->3, 1->2, 1->3, 2->3)."""
        return tuple(_NASLIB_INDEX[arch.ops[_NASLIB_PERM[i]]] for i in range(6))

    def from_naslib(self, graph: Any) -> NB201Arch:
        """Read a cell from a NASLib ``NasBench201SearchSpace`` graph (or its op-index list).

        Args:
            graph: An object with ``get_op_indices()`` (duck-typed, NASLib is not imported), or the
                six op indices themselves.

        Raises:
            ArchValidationError: If the indices are not six integers in 0..4.
        """
        indices = graph.get_op_indices() if hasattr(graph, "get_op_indices") else graph
        try:
            values = list(indices)
        except TypeError:
            raise ArchValidationError(self.name, "op_indices", indices, "expected 6 NASLib op indices") from None
        if len(values) != 6:
            raise ArchValidationError(self.name, "op_indices", values, f"needs 6 op indices, got {len(values)}")
        for i, v in enumerate(values):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= int(v) < len(NASLIB_OPS):
                raise ArchValidationError(self.name, f"op_indices[{i}]", v, "must be an integer in 0..4")
        ops = [NASLIB_OPS[int(values[_NASLIB_PERM[i]])] for i in range(6)]
        return NB201Arch(tuple(ops))  # type: ignore[arg-type]

    # ------------------------------------------------------------------ validity and identity
    def validate(self, arch: Any) -> None:
        """Raise :class:`ArchValidationError` unless ``arch`` is an :class:`NB201Arch` of 6 known ops."""
        if not isinstance(arch, NB201Arch):
            raise ArchValidationError(self.name, "arch", arch, f"expected NB201Arch, got {type(arch).__name__}")
        if not isinstance(arch.ops, tuple):
            raise ArchValidationError(self.name, "ops", arch.ops, "must be a tuple")
        self._make(arch.ops, "ops")

    def canonical_hash(self, arch: NB201Arch) -> str:
        """Digest of :func:`canonical_form`: cells that compute the same function share it."""
        return hashlib.sha256(f"{self.name}:{canonical_form(arch.ops)}".encode()).hexdigest()

    # ------------------------------------------------------------------ search-space operations
    def sample(self, rng: np.random.Generator | int | None = None) -> NB201Arch:
        """A uniformly random cell (each edge's op drawn uniformly)."""
        draws = as_rng(rng).integers(len(OPS), size=6)
        return NB201Arch(tuple(OPS[int(i)] for i in draws))  # type: ignore[arg-type]

    def neighbors(self, arch: NB201Arch) -> list[NB201Arch]:
        """The 24 cells that differ from ``arch`` in the op of one edge (NASLib's neighbourhood).

        Some may compute the same function as ``arch`` (an edge into a node cut off by ``none`` ops) and so
        share its :meth:`canonical_hash`; the benchmark lists them separately, so they are kept.
        """
        out = []
        for i, current in enumerate(arch.ops):
            for op in OPS:
                if op != current:
                    out.append(NB201Arch(arch.ops[:i] + (op,) + arch.ops[i + 1 :]))  # type: ignore[arg-type]
        return out

    def enumerate(self) -> Iterator[NB201Arch]:
        """All 15,625 cells, lexicographically over :data:`OPS` in the arch-string edge order."""
        for ops in itertools.product(OPS, repeat=6):
            yield NB201Arch(ops)  # type: ignore[arg-type]

    def size(self) -> int:
        """15,625."""
        return len(OPS) ** 6

    def example(self) -> NB201Arch:
        """Cell 1 of the benchmark (also a GENNAPE_FACTS Appendix A example)."""
        return self._parse_arch_string(
            "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
        )

    # ------------------------------------------------------------------ networks and graphs
    def to_module(self, arch: NB201Arch, num_classes: int | None = None, **kwargs: Any) -> torch.nn.Module:
        """The benchmark's network of ``arch`` (see the module docstring), freshly initialised.

        Args:
            arch: The cell.
            num_classes: Classifier outputs (default 10).

        Raises:
            TypeError: On an unknown keyword argument.
        """
        if kwargs:
            raise TypeError(f"nb201.to_module() got unexpected keyword arguments {sorted(kwargs)}")
        self.validate(arch)
        from gennape_naslib.search_spaces._nb201_torch import NB201Network

        return NB201Network(arch.ops, num_classes or self.num_classes)

    def to_cg(self, arch: NB201Arch, num_classes: int | None = None) -> ComputeGraph:
        """The computation graph of :meth:`to_module` (equal to ``from_torch(to_module(arch))``)."""
        return net.build_cg_fast(arch.ops, num_classes or self.num_classes, name=f"nb201:{_arch_string(arch.ops)}")

    def flops(self, arch: NB201Arch, num_classes: int | None = None) -> float:
        """FLOPs of one forward pass on a 32x32 image, as ``torch.utils.flop_counter.FlopCounterMode`` counts.

        Convention: 2 FLOPs per multiply-accumulate of convolutions and of the classifier; bias,
        BN, ReLU, pooling and additions count 0. The count is exact and analytic (microseconds).

        Relation to the published numbers: NAS-Bench-Suite-Zero's ``flops`` (in
        ``zc_nasbench201.json``, millions) counts 1 per multiply-accumulate and also counts BN
        (2 per element), ReLU (1 per element) and pooling (k*k per output element). Over its 725
        CIFAR-10 cells, ``flops(arch) / 1e6 / published`` lies between 1.188 and 1.975 (median 1.904;
        near 2 for conv-heavy cells, lower where BN, ReLU and pooling dominate), and the Spearman rank
        correlation is 0.9960: cells that differ only in where
        ``avg_pool_3x3`` replaces ``skip_connect``/``none`` tie here but not there. :meth:`published_flops`
        reproduces the published convention (rank correlation 1.0).

        Args:
            arch: The cell.
            num_classes: Classifier outputs (default 10).
        """
        return float(_analytic_counts(arch.ops, num_classes or self.num_classes)[0])

    def published_flops(self, arch: NB201Arch, num_classes: int | None = None) -> int:
        """FLOPs in the convention of NAS-Bench-Suite-Zero's published ``flops`` (not FlopCounterMode's).

        One per multiply-accumulate of convolutions and of the classifier (no bias), plus 2 per BN
        output element, 1 per ReLU input element and k*k per output element of a k x k pooling.
        On the 725 CIFAR-10 cells of ``zc_nasbench201.json`` the published value (millions) equals
        ``(published_flops(arch) + 5184) / 1e6`` for every cell; the constant 5,184 is not
        attributed to a layer and is left out.

        Args:
            arch: The cell.
            num_classes: Classifier outputs (default 10).
        """
        return int(_analytic_counts(arch.ops, num_classes or self.num_classes)[2])

    def params(self, arch: NB201Arch, num_classes: int | None = None) -> int:
        """Parameters of :meth:`to_module` (``sum(p.numel())``, BN affine weights included), analytic.

        Equals NAS-Bench-201's published ``params`` (millions, CIFAR-10, 10 classes) times 1e6.
        """
        return int(_analytic_counts(arch.ops, num_classes or self.num_classes)[1])

    # ------------------------------------------------------------------ optional extras
    def configspace(self) -> Any:
        """A ConfigSpace ``ConfigurationSpace`` with one categorical ``edge_<i>_<j>`` per edge."""
        import ConfigSpace as cs_mod  # a core dependency, imported lazily (slow to import)

        space = cs_mod.ConfigurationSpace(name="nb201")
        for src, dst in EDGES:
            space.add(cs_mod.Categorical(f"edge_{src}_{dst}", list(OPS)))
        return space

    def from_configuration(self, config: Any) -> NB201Arch:
        """The cell of a configuration of :meth:`configspace` (a ``Configuration`` or a dict)."""
        values = dict(config)
        ops = []
        for src, dst in EDGES:
            key = f"edge_{src}_{dst}"
            if key not in values:
                raise ArchValidationError(self.name, key, None, "missing from the configuration")
            ops.append(str(values[key]))
        return self._make(ops, "configuration")


@lru_cache(maxsize=4096)
def _analytic_counts(ops: tuple[str, ...], num_classes: int) -> tuple[int, int, int]:
    """``(flops, params, published_flops)`` of the network, from the layer sizes."""
    n3, n1, n_pool = ops.count("nor_conv_3x3"), ops.count("nor_conv_1x1"), ops.count("avg_pool_3x3")
    cells = net.CELLS_PER_STAGE
    c0, hw0 = net.INIT_CHANNELS, net.INPUT_HW**2
    macs = 27 * c0 * hw0  # stem conv
    params = 27 * c0 + 2 * c0  # stem conv + BN
    elem = 2 * c0 * hw0  # stem BN
    for stage in range(net.NUM_STAGES):
        c, h = net.stage_geometry(stage)
        hw = h * h
        if stage:  # reduction block from c // 2 channels at 2h to c channels at h
            c_in = c // 2
            macs += 9 * c_in * c * hw + 9 * c * c * hw + c_in * c * hw
            params += 9 * c_in * c + 9 * c * c + c_in * c + 4 * c
            elem += (4 * c_in * hw + 2 * c * hw) + (c * hw + 2 * c * hw) + 4 * c_in * hw
        # per cell: ReLU-Conv-BN ops (3 element ops per output element) and 3x3 pools (9 each)
        macs += cells * (n3 * 9 + n1) * c * c * hw
        params += cells * (n3 * (9 * c * c + 2 * c) + n1 * (c * c + 2 * c))
        elem += cells * ((n3 + n1) * 3 * c * hw + n_pool * 9 * c * hw)
    c_last, h_last = net.stage_geometry(net.NUM_STAGES - 1)
    macs += c_last * num_classes
    params += 2 * c_last + c_last * num_classes + num_classes
    elem += 3 * c_last * h_last * h_last  # head BN + ReLU
    return 2 * macs, params, macs + elem
