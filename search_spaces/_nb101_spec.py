"""NAS-Bench-101 cell specs: the value type, parsing, pruning, the module hash, NASLib padding.

Pure Python (no torch); see :mod:`gennape_naslib.search_spaces.nb101` for the family.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np

from gennape_naslib.search_spaces.base import ArchValidationError

__all__ = [
    "MAX_EDGES",
    "MAX_VERTICES",
    "NASLIB_OPS",
    "NB101Arch",
    "OPS",
    "SPACE_SIZE",
    "module_hash",
    "prune_spec",
]

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
def invalid(field: str, value: Any, reason: str) -> ArchValidationError:
    return ArchValidationError(FAMILY, field, value, reason)


def as_bit(value: Any, field: str) -> int:
    if type(value) is int and (value == 0 or value == 1):  # the common case, without the ABC checks below
        return value
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (Real, np.number)) and not isinstance(value, complex) and value in (0, 1):
        return int(value)
    raise invalid(field, value, "adjacency entries must be 0 or 1")


def parse_matrix(raw: Any) -> list[list[int]]:
    if isinstance(raw, np.ndarray):
        raw = raw.tolist()
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence):
        raise invalid("matrix", raw, "expected a square list of lists of 0/1")
    n = len(raw)
    if n > MAX_VERTICES:
        raise invalid("matrix", raw, f"has {n} vertices; NAS-Bench-101 cells have at most {MAX_VERTICES}")
    if n < 2:
        raise invalid("matrix", raw, "needs at least the input and the output vertex")
    rows = []
    for i, row in enumerate(raw):
        if isinstance(row, np.ndarray):
            row = row.tolist()
        if isinstance(row, (str, bytes)) or not isinstance(row, Sequence) or len(row) != n:
            raise invalid(f"matrix[{i}]", row, f"expected a row of {n} entries (the matrix must be square)")
        rows.append([as_bit(v, f"matrix[{i}][{j}]") for j, v in enumerate(row)])
    for i in range(n):
        for j in range(i + 1):
            if rows[i][j]:
                raise invalid(
                    f"matrix[{i}][{j}]", 1, "the matrix must be strictly upper-triangular (edges go to later vertices)"
                )
    return rows


def parse_ops(raw: Any, n: int) -> list[str]:
    if isinstance(raw, np.ndarray):
        raw = raw.tolist()
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence):
        raise invalid("ops", raw, "expected a list of op names")
    if len(raw) != n:
        raise invalid("ops", raw, f"has {len(raw)} entries but the matrix has {n} vertices")
    ops = []
    for i, op in enumerate(raw):
        if not isinstance(op, str):
            raise invalid(f"ops[{i}]", op, "op names are strings")
        ops.append(str(op))
    if ops[0] != INPUT:
        raise invalid("ops[0]", ops[0], "the first vertex must be 'input'")
    if ops[-1] != OUTPUT:
        raise invalid(f"ops[{n - 1}]", ops[-1], "the last vertex must be 'output'")
    for i in range(1, n - 1):
        if ops[i] not in OPS:
            raise invalid(f"ops[{i}]", ops[i], f"unknown op; choose from {list(OPS)}")
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

    preds = [[w for w in range(n) if matrix[w][v]] for v in range(n)]
    succs = [[w for w in range(n) if matrix[v][w]] for v in range(n)]
    hashes = [md5(str((outs[v], ins[v], labels[v]))) for v in range(n)]
    for _ in range(n):
        hashes = [
            md5(
                "".join(sorted([hashes[w] for w in preds[v]]))
                + "|"
                + "".join(sorted([hashes[w] for w in succs[v]]))
                + "|"
                + hashes[v]
            )
            for v in range(n)
        ]
    return md5(str(sorted(hashes)))


def arch_from_raw(matrix: Sequence[Sequence[int]], ops: Sequence[str]) -> NB101Arch:
    """Prune a structurally valid raw spec and check the benchmark's limits."""
    pruned = prune_spec(matrix, ops)
    if pruned is None:
        raise invalid("matrix", [list(r) for r in matrix], "no path joins the input to the output")
    pm, pops = pruned
    edges = sum(map(sum, pm))
    if edges > MAX_EDGES:
        raise invalid("matrix", pm, f"has {edges} edges after pruning; NAS-Bench-101 allows at most {MAX_EDGES}")
    return NB101Arch(tuple(tuple(r) for r in pm), tuple(pops))


def pad_to_7(arch: NB101Arch) -> tuple[list[list[int]], list[str]]:
    """NASLib's padding of a smaller cell to 7 vertices (output moved to vertex 6)."""
    n = arch.num_vertices
    matrix = [[0] * MAX_VERTICES for _ in range(MAX_VERTICES)]
    for i in range(n):
        for j in range(n):
            if arch.matrix[i][j]:
                matrix[i][j if j < n - 1 else MAX_VERTICES - 1] = 1
    ops = list(arch.ops[:-1]) + [OPS[0]] * (MAX_VERTICES - n) + [OUTPUT]
    return matrix, ops
