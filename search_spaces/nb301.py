"""NAS-Bench-301: the DARTS cell search space on CIFAR-10.

Architectures
    A DARTS genotype: a normal and a reduction cell, each 8 ``(op, input)`` pairs, two per
    intermediate node; intermediate node ``i`` (0-based, state ``i + 2``) takes two *different*
    inputs among the states ``0 .. i + 1`` (0 and 1 are the cell inputs). Ops (NASLib's compact op
    ids 0..6 in this order): ``max_pool_3x3``, ``avg_pool_3x3``, ``skip_connect``, ``sep_conv_3x3``,
    ``sep_conv_5x5``, ``dil_conv_3x3``, ``dil_conv_5x5``. ``none`` is not in the NB-301 space and
    is rejected. NB-301 always concatenates ``[2, 3, 4, 5]``; other concat lists are accepted when
    they are ascending subsets of ``2..5`` and every intermediate node still reaches the cell output
    (a node that reaches nothing would be dead code that the graph drops but the network computes).
    The two inputs of a node must differ, as in NB-301's ConfigSpace (an input *set* per node) and
    in NASLib's sampler (``np.random.choice(i + 2, 2, replace=False)``).

Encodings
    JSON ``{"normal": [[op, input] x 8], "normal_concat": [2, 3, 4, 5], "reduce": [...],
    "reduce_concat": [...]}``; text: the DARTS ``Genotype(normal=[('sep_conv_3x3', 0), ...],
    normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=[...])`` form (parsed without
    ``eval``; ``range(2, 6)`` is understood), JSON text, or a NASLib compact string; NASLib compact
    ``(((input, op_id) x 8), ((input, op_id) x 8))`` through :meth:`NB301.to_naslib` /
    :meth:`NB301.from_compact` / :meth:`NB301.from_naslib` (``graph.get_compact()``); the NB-301
    ConfigSpace (``NetworkSelectorDatasetInfo:darts:edge_normal_<k>`` and ``inputs_node_normal_<n>``
    hyperparameters) through :meth:`NB301.configspace` / :meth:`NB301.from_configuration`.

Identity
    :meth:`NB301.canonical_hash` treats the two pairs of a node as unordered (NB-301 keys an edge by
    its input, so the order inside a node is not part of the architecture). :meth:`NB301.size`
    counts architectures up to that symmetry: ``(1*3*6*10 * 49**4) ** 2`` = about ``1.08e18``.

Network (GENNAPE_FACTS decision 3): the official DARTS CIFAR evaluation network that NAS-Bench-301
trained, with its defaults for NB-301: 32 initial channels, 8 cells, reductions at cells 2 and 5
(``layers // 3``, ``2 * layers // 3``), one stem ``conv3x3(3 -> 96) + BN`` shared as both inputs
of cell 0, ``C_prev_prev``/``C_prev`` bookkeeping, preprocessing ``ReLU-conv1x1-BN`` or
FactorizedReduce after a reduction, ``sep_conv`` = ReLU, dw k, pw, BN, **ReLU**, dw k, pw, BN;
``dil_conv`` = ReLU, dw k (dilation 2), pw, BN; 3x3 pools with padding 1 (average excludes the
padding, no BN); ``skip_connect`` = identity, or FactorizedReduce on a cell input of a reduction
cell; the concat list honoured; global average pooling and a ``Linear`` head (with bias). No
auxiliary head and no drop-path by default (``NB301(auxiliary=True)`` adds DARTS' auxiliary head;
``drop_path_prob`` is a :func:`to_module` option). Input 3 x 32 x 32, 10 classes.

Published numbers (``../shared/data/nb301/zc_nasbench301_725.json``, NASLib's zero-cost data, 725
architectures; see ``tests/search_spaces/test_nb301.py``): with C = 32, 8 cells and no auxiliary
head, :meth:`NB301.params` has Spearman rank correlation 0.99999 with the published ``params``
(ratio 1.0055-1.0122, mean 1.0097; ours are larger by 3,200-15,488 parameters). The difference is
exactly the affine weight and bias (``2 * C``) of every BN inside a cell op (two per sep_conv, one per
dil_conv and per strided skip_connect): NASLib's NB-301 graph builds its cell ops with
``BatchNorm2d(affine=False)``; subtracting them reproduces all 725 published counts exactly. Other
configurations correlate worse (C = 16 / 8 cells: 0.997; C = 36 / 20 cells: 0.953; the auxiliary head
only adds a constant). FLOPs (``FlopCounterMode`` convention, 2 per multiply-accumulate) have rank
correlation 0.998 with the published ``flops`` (ratio 1.80-1.94, mean 1.90).

Deviations from GENNAPE's original NB-301 CGs (GENNAPE_FACTS 3.3, built from a TF re-implementation
that differs from the benchmark network): we build 8 cells with C = 32/64/128 instead of 20 cells
whose width starts at 48 and is never reset; one stem conv + BN shared by both cell inputs instead
of two stems with ReLU before BN; a ReLU between the two halves of a separable conv; the concat
list is honoured; ``skip_connect`` with stride 1 leaves no ``identity`` node (it is a plain edge);
the head is ``mean`` + ``matmul`` (with bias) instead of ``global`` + a 1x1 conv. Pools carry no BN
in either version. A stride-1 ``dil_conv``'s depthwise half is TF's ``spacetobatchnd -> depthwise
(dilation 1, valid padding, the resolution of one block) -> batchtospacend``, as in GENNAPE's graphs
(GENNAPE_FACTS 1.7; 18 ``spacetobatchnd`` nodes in Appendix A's DARTS-V2) and as every importer lowers a
dilated convolution (:func:`~gennape_naslib.cg._lowering.split_dilated_conv`). A strided ``dil_conv``
(on a reduction cell's inputs) stays one ``depthwise`` node with ``metadata["dilation"] = [2, 2]``: TF's
atrous ops refuse a stride with a dilation, so GENNAPE's graphs have no form to follow there.
``count_flops`` gives PyTorch's FLOPs for both forms.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from gennape_naslib.search_spaces._darts_cg import count_params, network_cg
from gennape_naslib.search_spaces._genotype_text import pairs_repr, parse_genotype_text
from gennape_naslib.search_spaces.base import ArchValidationError, FamilyAdapter, as_rng, register_family

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from gennape_naslib.cg.graph import ComputeGraph

__all__ = ["NB301", "NB301Arch", "OPS", "DARTS_V2"]

#: The NB-301 ops in NASLib's compact op-id order.
OPS: tuple[str, ...] = (
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
_OP_ID = {name: i for i, name in enumerate(OPS)}
_STEPS = 4
_DEFAULT_CONCAT = (2, 3, 4, 5)
_CELLS = ("normal", "reduce")
_CS_PREFIX = "NetworkSelectorDatasetInfo:darts:"
_INT_TYPES = (int, np.integer)

Pairs = tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class NB301Arch:
    """A DARTS genotype (immutable, hashable).

    Attributes:
        normal: 8 ``(op, input)`` pairs of the normal cell.
        reduce: 8 ``(op, input)`` pairs of the reduction cell.
        normal_concat: States concatenated into the normal cell's output.
        reduce_concat: States concatenated into the reduction cell's output.
    """

    normal: Pairs
    reduce: Pairs
    normal_concat: tuple[int, ...] = _DEFAULT_CONCAT
    reduce_concat: tuple[int, ...] = _DEFAULT_CONCAT

    def cell(self, kind: str) -> tuple[Pairs, tuple[int, ...]]:
        """``(pairs, concat)`` of the ``"normal"`` or ``"reduce"`` cell."""
        return (self.normal, self.normal_concat) if kind == "normal" else (self.reduce, self.reduce_concat)


def _arch(
    normal: Sequence[Sequence[Any]],
    reduce: Sequence[Sequence[Any]],
    normal_concat: Sequence[int] = _DEFAULT_CONCAT,
    reduce_concat: Sequence[int] = _DEFAULT_CONCAT,
) -> NB301Arch:
    return NB301Arch(
        tuple((str(o), int(i)) for o, i in normal),
        tuple((str(o), int(i)) for o, i in reduce),
        tuple(int(i) for i in normal_concat),
        tuple(int(i) for i in reduce_concat),
    )


#: DARTS (second order) genotype from the DARTS paper, used as the family's example.
DARTS_V2 = _arch(
    normal=[
        ("sep_conv_3x3", 0),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 0),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 1),
        ("skip_connect", 0),
        ("skip_connect", 0),
        ("dil_conv_3x3", 2),
    ],
    reduce=[
        ("max_pool_3x3", 0),
        ("max_pool_3x3", 1),
        ("skip_connect", 2),
        ("max_pool_3x3", 1),
        ("max_pool_3x3", 0),
        ("skip_connect", 2),
        ("skip_connect", 2),
        ("max_pool_3x3", 1),
    ],
)


# ---------------------------------------------------------------------- the adapter
@register_family("nb301")
class NB301(FamilyAdapter):
    """NAS-Bench-301 (DARTS cells, CIFAR-10) on the DARTS evaluation network.

    Args:
        init_channels: Width of the first stage (NB-301: 32).
        layers: Number of cells (NB-301: 8).
        auxiliary: Add DARTS' auxiliary head to the network, its graph and its counts.
        num_classes: Classifier outputs (default 10, CIFAR-10).
    """

    Arch = NB301Arch
    input_shape = (3, 32, 32)
    num_classes = 10
    naslib_ss_type = "nasbench301"
    ops = OPS

    def __init__(
        self, init_channels: int = 32, layers: int = 8, auxiliary: bool = False, num_classes: int | None = None
    ) -> None:
        if init_channels < 2 or init_channels % 2 or layers < 3:
            raise ValueError(f"nb301: need an even init_channels >= 2 and layers >= 3, got {init_channels}, {layers}")
        self.init_channels = int(init_channels)
        self.layers = int(layers)
        self.auxiliary = bool(auxiliary)
        if num_classes is not None:
            self.num_classes = int(num_classes)

    # ------------------------------------------------------------------ encodings
    def from_json(self, obj: Any) -> NB301Arch:
        """Parse ``{"normal": [[op, input] x 8], "normal_concat": [...], "reduce": ..., "reduce_concat": ...}``.

        The concat lists may be omitted (they default to ``[2, 3, 4, 5]``).
        """
        if not isinstance(obj, Mapping):
            raise ArchValidationError(self.name, "arch", obj, "expected an object with keys normal, reduce, *_concat")
        unknown = [k for k in obj if k not in ("normal", "normal_concat", "reduce", "reduce_concat")]
        if unknown:
            raise ArchValidationError(self.name, str(unknown[0]), obj[unknown[0]], "unknown key")
        cells: dict[str, Any] = {}
        for kind in _CELLS:
            if kind not in obj:
                raise ArchValidationError(self.name, kind, None, "missing")
            cells[kind] = self._pairs_from_json(obj[kind], kind)
            cells[f"{kind}_concat"] = self._ints_from_json(obj.get(f"{kind}_concat", _DEFAULT_CONCAT), f"{kind}_concat")
        arch = NB301Arch(**cells)
        self.validate(arch)
        return arch

    def _pairs_from_json(self, value: Any, field: str) -> Pairs:
        if not isinstance(value, (list, tuple)):
            raise ArchValidationError(self.name, field, value, "expected a list of 8 [op, input] pairs")
        out = []
        for k, pair in enumerate(value):
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise ArchValidationError(self.name, f"{field}[{k}]", pair, "expected an [op, input] pair")
            op, index = pair
            if not isinstance(op, str):
                raise ArchValidationError(self.name, f"{field}[{k}][0]", op, f"expected an op name from {list(OPS)}")
            if isinstance(index, bool) or not isinstance(index, _INT_TYPES):
                raise ArchValidationError(self.name, f"{field}[{k}][1]", index, "expected an integer input index")
            out.append((str(op), int(index)))
        return tuple(out)

    def _ints_from_json(self, value: Any, field: str) -> tuple[int, ...]:
        if isinstance(value, range):
            value = list(value)
        if not isinstance(value, (list, tuple)) or any(
            isinstance(v, bool) or not isinstance(v, _INT_TYPES) for v in value
        ):
            raise ArchValidationError(self.name, field, value, "expected a list of state indices")
        return tuple(int(v) for v in value)

    def to_json(self, arch: NB301Arch) -> dict[str, Any]:
        """The JSON encoding (lists of ``[op, input]`` pairs and concat lists)."""
        return {
            "normal": [[op, i] for op, i in arch.normal],
            "normal_concat": list(arch.normal_concat),
            "reduce": [[op, i] for op, i in arch.reduce],
            "reduce_concat": list(arch.reduce_concat),
        }

    def from_str(self, text: str) -> NB301Arch:
        """Parse a DARTS ``Genotype(...)`` string, JSON text, or a NASLib compact string."""
        if not isinstance(text, str):
            raise ArchValidationError(self.name, "text", text, "expected a string")
        stripped = text.strip()
        if stripped.startswith("{"):
            try:
                return self.from_json(json.loads(stripped))
            except json.JSONDecodeError:
                pass  # maybe a Python dict literal
        obj = parse_genotype_text(stripped)
        if isinstance(obj, Mapping):
            return self.from_json(obj)
        return self.from_compact(obj)

    def to_str(self, arch: NB301Arch) -> str:
        """The DARTS genotype text ``Genotype(normal=[...], normal_concat=[...], reduce=[...], ...)``."""
        return (
            f"Genotype(normal={pairs_repr(arch.normal)}, normal_concat={list(arch.normal_concat)}, "
            f"reduce={pairs_repr(arch.reduce)}, reduce_concat={list(arch.reduce_concat)})"
        )

    # ------------------------------------------------------------------ validity and identity
    def validate(self, arch: Any) -> None:
        """Check the ops, input indices (in range, distinct per node), and concat lists of both cells."""
        if not isinstance(arch, NB301Arch):
            raise ArchValidationError(self.name, "arch", arch, f"expected an {NB301Arch.__name__}")
        for kind in _CELLS:
            pairs, concat = arch.cell(kind)
            self._check_cell(pairs, concat, kind)

    def _check_cell(self, pairs: Any, concat: Any, kind: str) -> None:
        if not isinstance(pairs, tuple) or len(pairs) != 2 * _STEPS:
            n = len(pairs) if isinstance(pairs, (tuple, list)) else pairs
            raise ArchValidationError(self.name, kind, n, f"expected {2 * _STEPS} (op, input) pairs")
        for k, pair in enumerate(pairs):
            if not isinstance(pair, tuple) or len(pair) != 2:
                raise ArchValidationError(self.name, f"{kind}[{k}]", pair, "expected an (op, input) pair")
            op, index = pair
            if not isinstance(op, str) or op not in _OP_ID:
                raise ArchValidationError(self.name, f"{kind}[{k}][0]", op, f"unknown op; choose from {list(OPS)}")
            node = k // 2
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= node + 1:
                raise ArchValidationError(
                    self.name, f"{kind}[{k}][1]", index, f"intermediate node {node} takes inputs 0..{node + 1}"
                )
            if k % 2 and index == pairs[k - 1][1]:
                raise ArchValidationError(
                    self.name, f"{kind}[{k}][1]", index, f"both inputs of intermediate node {node} are {index}"
                )
        field = f"{kind}_concat"
        if (
            not isinstance(concat, tuple)
            or not concat
            or any(isinstance(i, bool) or not isinstance(i, int) for i in concat)
            or list(concat) != sorted(set(concat))
            or not set(concat) <= set(range(2, _STEPS + 2))
        ):
            raise ArchValidationError(self.name, field, concat, "expected ascending distinct states from 2..5")
        live = set(concat)
        for state in range(_STEPS + 1, 1, -1):
            if state in live:
                live.update(index for _, index in pairs[2 * (state - 2) : 2 * (state - 1)])
        dead = sorted(set(range(2, _STEPS + 2)) - live)
        if dead:
            raise ArchValidationError(self.name, field, concat, f"intermediate state(s) {dead} reach no output")

    def canonical_hash(self, arch: NB301Arch) -> str:
        """A digest in which the two pairs of each intermediate node are unordered."""
        self.validate(arch)
        return super().canonical_hash(self.canonical(arch))

    def canonical(self, arch: NB301Arch) -> NB301Arch:
        """The same genotype with the two pairs of every node sorted by input index."""

        def sort(pairs: Pairs) -> Pairs:
            out: list[tuple[str, int]] = []
            for i in range(0, len(pairs), 2):
                out.extend(sorted(pairs[i : i + 2], key=lambda p: (p[1], p[0])))
            return tuple(out)

        return NB301Arch(sort(arch.normal), sort(arch.reduce), arch.normal_concat, arch.reduce_concat)

    # ------------------------------------------------------------------ search-space operations
    def sample(self, rng: np.random.Generator | int | None = None) -> NB301Arch:
        """NASLib's NB-301 sampler: per node two distinct inputs and a uniform op for each, per cell."""
        gen = as_rng(rng)
        cells = []
        for _ in _CELLS:
            pairs = []
            for node in range(_STEPS):
                inputs = gen.choice(node + 2, 2, replace=False)
                ops = gen.integers(len(OPS), size=2)
                pairs.extend((OPS[int(o)], int(i)) for o, i in zip(ops, inputs))
            cells.append(tuple(pairs))
        return NB301Arch(cells[0], cells[1])

    def _replace(self, arch: NB301Arch, kind: str, k: int, pair: tuple[str, int]) -> NB301Arch:
        pairs = list(getattr(arch, kind))
        pairs[k] = pair
        return NB301Arch(**{**arch.__dict__, kind: tuple(pairs)})

    def _edits(self, arch: NB301Arch, kind: str, k: int) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
        op, index = getattr(arch, kind)[k]
        other = getattr(arch, kind)[k ^ 1][1]
        op_edits = [(o, index) for o in OPS if o != op]
        input_edits = [(op, j) for j in range(k // 2 + 2) if j not in (index, other)]
        return op_edits, input_edits

    def neighbors(self, arch: NB301Arch) -> list[NB301Arch]:
        """Every genotype that differs in one op or one input of one pair."""
        out = []
        for kind in _CELLS:
            for k in range(2 * _STEPS):
                op_edits, input_edits = self._edits(arch, kind, k)
                out.extend(self._replace(arch, kind, k, pair) for pair in op_edits + input_edits)
        return out

    def mutate(self, arch: NB301Arch, rng: np.random.Generator | int | None = None) -> NB301Arch:
        """Change the op (or, with probability 1/2 where possible, the input) of one uniformly chosen pair."""
        gen = as_rng(rng)
        kind = _CELLS[int(gen.integers(2))]
        k = int(gen.integers(2 * _STEPS))
        op_edits, input_edits = self._edits(arch, kind, k)
        edits = input_edits if input_edits and gen.random() < 0.5 else op_edits
        return self._replace(arch, kind, k, edits[int(gen.integers(len(edits)))])

    def size(self) -> int:
        """Genotypes up to the order of the two pairs of a node: ``(180 * 49**4) ** 2``."""
        per_cell = 1
        for node in range(_STEPS):
            per_cell *= (node + 2) * (node + 1) // 2 * len(OPS) ** 2
        return per_cell**2

    def example(self) -> NB301Arch:
        """The DARTS (second-order) genotype of the DARTS paper."""
        return DARTS_V2

    # ------------------------------------------------------------------ networks and graphs
    def to_module(
        self, arch: NB301Arch, num_classes: int | None = None, drop_path_prob: float = 0.0, **kwargs: Any
    ) -> torch.nn.Module:
        """The DARTS evaluation network of ``arch`` (train mode, fresh weights).

        Args:
            arch: The genotype.
            num_classes: Classifier outputs (default: the adapter's).
            drop_path_prob: Drop-path probability while training (0: off, as for graphs and counts).
            **kwargs: ``init_channels``, ``layers``, ``auxiliary`` override the adapter's settings.
        """
        from gennape_naslib.search_spaces._darts_ops import DartsNetwork

        arch = self.coerce(arch)
        unknown = set(kwargs) - {"init_channels", "layers", "auxiliary"}
        if unknown:
            raise TypeError(f"nb301.to_module got unexpected options {sorted(unknown)}")
        return DartsNetwork(
            arch.normal,
            arch.normal_concat,
            arch.reduce,
            arch.reduce_concat,
            init_channels=kwargs.get("init_channels", self.init_channels),
            layers=kwargs.get("layers", self.layers),
            num_classes=self.num_classes if num_classes is None else int(num_classes),
            auxiliary=kwargs.get("auxiliary", self.auxiliary),
            drop_path_prob=drop_path_prob,
        )

    def to_cg(self, arch: NB301Arch) -> ComputeGraph:
        """The computation graph of :meth:`to_module` built directly (a few milliseconds)."""
        arch = self.coerce(arch)
        return network_cg(arch, self.init_channels, self.layers, self.num_classes, self.auxiliary, self.name)

    def params(self, arch: NB301Arch) -> int:
        """Parameters of :meth:`to_module` (``sum(p.numel())``), counted analytically."""
        arch = self.coerce(arch)
        return count_params(arch, self.init_channels, self.layers, self.num_classes, self.auxiliary)

    # ------------------------------------------------------------------ NASLib and ConfigSpace
    def to_naslib(self, arch: NB301Arch) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
        """NASLib's compact genotype ``(((input, op_id) x 8) normal, (... x 8) reduce)``.

        Raises:
            ArchValidationError: If a concat list is not ``[2, 3, 4, 5]`` (the compact form cannot say it).
        """
        arch = self.coerce(arch)
        for kind in _CELLS:
            concat = arch.cell(kind)[1]
            if concat != _DEFAULT_CONCAT:
                raise ArchValidationError(
                    self.name, f"{kind}_concat", list(concat), "NASLib's compact form needs [2, 3, 4, 5]"
                )
        return tuple(tuple((i, _OP_ID[op]) for op, i in arch.cell(kind)[0]) for kind in _CELLS)  # type: ignore[return-value]

    def to_naslib_str(self, arch: NB301Arch) -> str:
        """The compact genotype as NASLib's data files key it: ``'[[(0, 3), ...], [...]]'``."""
        return str([list(cell) for cell in self.to_naslib(arch)])

    def from_compact(self, compact: Any) -> NB301Arch:
        """Parse NASLib's compact genotype (nested sequences, or their text as in NASLib's data files)."""
        if isinstance(compact, str):
            compact = parse_genotype_text(compact)
        if not isinstance(compact, (list, tuple)) or len(compact) != 2:
            raise ArchValidationError(
                self.name, "compact", compact, "expected (normal, reduce) cells of (input, op_id)"
            )
        cells = []
        for kind, cell in zip(_CELLS, compact):
            if not isinstance(cell, (list, tuple)):
                raise ArchValidationError(self.name, kind, cell, "expected 8 (input, op_id) pairs")
            pairs = []
            for k, pair in enumerate(cell):
                ok = isinstance(pair, (list, tuple)) and len(pair) == 2
                ok = ok and all(isinstance(v, _INT_TYPES) and not isinstance(v, bool) for v in pair)
                if not ok or not 0 <= int(pair[1]) < len(OPS):
                    raise ArchValidationError(self.name, f"{kind}[{k}]", pair, "expected (input, op_id 0..6)")
                pairs.append((OPS[int(pair[1])], int(pair[0])))
            cells.append(tuple(pairs))
        arch = NB301Arch(cells[0], cells[1])
        self.validate(arch)
        return arch

    def from_naslib(self, graph: Any) -> NB301Arch:
        """Read a NASLib ``NasBench301SearchSpace`` graph through ``graph.get_compact()``."""
        getter = getattr(graph, "get_compact", None)
        if not callable(getter):
            raise ArchValidationError(self.name, "graph", type(graph).__name__, "has no get_compact() method")
        return self.from_compact(getter())

    def configspace(self) -> Any:
        """NB-301's ConfigSpace: an input pair per node (nodes 3..5) and an op per active edge."""
        from ConfigSpace import Categorical, ConfigurationSpace, InCondition

        cs = ConfigurationSpace()
        add = getattr(cs, "add", None) or (  # ConfigSpace >= 1.0, else the 0.x method names
            lambda x: (
                cs.add_hyperparameters(x)
                if isinstance(x, list)
                else cs.add_condition(x)
                if isinstance(x, InCondition)
                else cs.add_hyperparameter(x)
            )
        )
        for kind in _CELLS:
            start = 0
            for node in range(_STEPS):
                n_in = node + 2
                edges = [Categorical(f"{_CS_PREFIX}edge_{kind}_{start + j}", list(OPS)) for j in range(n_in)]
                add(edges)
                if node > 0:
                    choices = [f"{a}_{b}" for a in range(n_in) for b in range(a + 1, n_in)]
                    parent = Categorical(f"{_CS_PREFIX}inputs_node_{kind}_{node + 2}", choices)
                    add(parent)
                    for j, edge in enumerate(edges):
                        add(InCondition(edge, parent, [v for v in choices if str(j) in v.split("_")]))
                start += n_in
        return cs

    def from_configuration(self, config: Any) -> NB301Arch:
        """The genotype of an NB-301 configuration (a ``Configuration`` or a plain dict)."""
        try:
            values = dict(config)
        except (TypeError, ValueError):
            raise ArchValidationError(self.name, "config", config, "expected a mapping of hyperparameters") from None
        cells = []
        for kind in _CELLS:
            pairs: list[tuple[str, int]] = []
            start = 0
            for node in range(_STEPS):
                key = f"{_CS_PREFIX}inputs_node_{kind}_{node + 2}"
                text = "0_1" if node == 0 else values.get(key)
                try:
                    inputs = sorted(int(v) for v in str(text).split("_"))
                except ValueError:
                    raise ArchValidationError(self.name, key, text, "expected 'a_b' input indices") from None
                for j in inputs:
                    edge = f"{_CS_PREFIX}edge_{kind}_{start + j}"
                    if edge not in values:
                        raise ArchValidationError(self.name, edge, None, "missing from the configuration")
                    pairs.append((str(values[edge]), j))
                start += node + 2
            cells.append(tuple(pairs))
        arch = NB301Arch(cells[0], cells[1])
        self.validate(arch)
        return arch
