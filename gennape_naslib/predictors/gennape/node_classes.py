"""Colour refinement of a batch's nodes: the nodes a stack of sum-aggregating GNN layers cannot tell apart.

A ``GraphConv`` layer (sum aggregation) computes a node's next state from its own state and the
multiset of its in-neighbours' states. So two nodes with equal input features have equal states
after the embedding, and two nodes whose states are equal at layer ``t - 1`` and whose
in-neighbours' states form equal multisets have equal states at layer ``t`` (the 1-WL colour
refinement). Computation graphs repeat themselves a lot: an NB-201 network stacks five identical
cells per stage, and different networks share their stem, reduction blocks and many early
cells. On a batch of 64 NB-201 graphs (14,000 nodes) the six layers see only 95, 435, 1,264,
2,457, 3,770 and 5,059 distinct states, 6.4x fewer node-layer evaluations than the full batch.

:func:`node_classes` computes the classes with numpy: layer-0 classes from the bits of the
embedding inputs (``op``, ``res``, ``kernel``, ``bias``, ``weighted``), then each layer's classes
from ``(own class, sorted in-neighbour classes)``. Rows are packed into one integer when they fit
(exact) and hashed otherwise, every hashed class being verified against its representative, with
an exact ``np.unique`` fallback, so classes are never merged wrongly. For every layer it also
builds what the compressed forward pass needs: a sparse ``(K_t, K_{t-1})`` matrix summing the
in-neighbours of each class's representative (in the order of the full batch's adjacency, so the
representative's sum is the one the full pass computes) and the representative's own class at
``t - 1`` (the root term). :func:`readout_matrix` gives the mean readout over classes (each class
weighted by its share of a graph's nodes). The classes depend only on the batch, not on weights: one
refinement serves every encoder run on the batch (cached on it).
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np
import torch

__all__ = ["NodeClasses", "node_classes", "readout_matrix"]

# odd 64-bit multipliers of the row hash (fixed: classes must not depend on a random state)
_HASH_MUL = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93, 0xFF51AFD7ED558CCD],
    dtype=np.uint64,
)


class NodeClasses(NamedTuple):
    """Node classes of a batch, layer by layer (``t = 0`` is the embedding, ``t >= 1`` after layer ``t``).

    Attributes:
        rep: ``rep[t]`` int64 ``(K_t,)``: the smallest node index of every class at layer ``t``.
        inverse: ``inverse[t]`` int64 ``(N,)``: the class of every node at layer ``t``.
        adjacency: ``adjacency[t - 1]`` sparse CSR float32 ``(K_t, K_{t-1})``: entry ``(j, c)`` counts
            the in-neighbours of class ``j``'s representative that are in class ``c`` at ``t - 1``.
        root: ``root[t - 1]`` int64 ``(K_t,)``: the class at ``t - 1`` of class ``j``'s representative.
        readouts: Cache of :func:`readout_matrix` by layer.
    """

    rep: list[torch.Tensor]
    inverse: list[torch.Tensor]
    adjacency: list[torch.Tensor]
    root: list[torch.Tensor]
    readouts: dict[int, torch.Tensor]

    @property
    def n_layers(self) -> int:
        """Number of refined layers."""
        return len(self.adjacency)


def _stable_argsort(key: np.ndarray, key_bits: int) -> np.ndarray:
    """``np.argsort(key, kind="stable")`` of non-negative keys below ``2**key_bits``, by one value sort when it fits."""
    n = len(key)
    idx_bits = max(1, (n - 1).bit_length())
    if key_bits + idx_bits <= 63:
        return np.sort((key << idx_bits) | np.arange(n, dtype=np.int64)) & ((1 << idx_bits) - 1)
    return np.argsort(key, kind="stable")


def _factorize_keys(key: np.ndarray, key_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Classes of equal non-negative ``key`` values: ``(inverse, rep)`` with ``rep`` the smallest index per class."""
    n = len(key)
    idx_bits = max(1, (n - 1).bit_length())
    if key_bits + idx_bits <= 63:  # one value sort carries the permutation in the low bits (no argsort)
        packed = np.sort((key << idx_bits) | np.arange(n, dtype=np.int64))
        perm = packed & ((1 << idx_bits) - 1)
        sorted_key = packed >> idx_bits
    else:
        perm = np.argsort(key, kind="stable")
        sorted_key = key[perm]
    start = np.empty(n, dtype=bool)
    start[:1] = True
    np.not_equal(sorted_key[1:], sorted_key[:-1], out=start[1:])
    ids = np.cumsum(start) - 1
    inverse = np.empty(n, dtype=np.int64)
    inverse[perm] = ids
    return inverse, perm[start]


def _factorize_rows(rows: np.ndarray, small: bool) -> tuple[np.ndarray, np.ndarray]:
    """Classes of equal rows of the int64 matrix ``rows`` (``small``: non-negative values that may pack)."""
    n, width = rows.shape
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if small:
        bits = max(1, int(rows.max()).bit_length())
        if bits * width <= 63:  # exact: the row packed into one integer
            key = rows[:, 0].copy()
            for j in range(1, width):
                key <<= bits
                key |= rows[:, j]
            return _factorize_keys(key, bits * width)
    # a hash short enough for the fast sort; every row is then checked against its class representative
    u = rows.view(np.uint64)
    h = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(width):
            h ^= u[:, j] * _HASH_MUL[j % len(_HASH_MUL)]
            h = (h << np.uint64(23)) | (h >> np.uint64(41))
        h *= _HASH_MUL[1]
    key_bits = 63 - max(1, (n - 1).bit_length())
    inverse, rep = _factorize_keys((h >> np.uint64(64 - key_bits)).view(np.int64), key_bits)
    if np.array_equal(rows, rows[rep[inverse]]):
        return inverse, rep
    _, rep, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)  # a hash collision
    return inverse.reshape(-1), rep


def _feature_rows(batch: Any) -> np.ndarray:
    """The bits of every node's embedding inputs as an int64 matrix ``(N, W)`` (equal rows = equal inputs)."""
    n = int(batch.op.shape[0])
    parts = []
    for name in ("op", "res", "kernel", "bias", "weighted"):
        a = np.ascontiguousarray(getattr(batch, name).numpy()).reshape(n, -1)
        if a.dtype.itemsize == 8:
            parts.append(a.view(np.int64))
        elif a.dtype.itemsize == 4 and a.shape[1] % 2 == 0:
            parts.append(a.view(np.int64))  # two 32-bit values per column
        else:
            parts.append(a.view(np.uint8).reshape(n, -1).astype(np.int64))
    return np.concatenate(parts, axis=1) if n else np.zeros((0, 1), dtype=np.int64)


def _csr(crow: np.ndarray, col: np.ndarray, shape: tuple[int, int]) -> torch.Tensor:
    with warnings.catch_warnings():  # "sparse CSR support is in beta": the product used here is stable
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(crow),
            torch.from_numpy(col),
            torch.ones(len(col), dtype=torch.float32),
            shape,
            check_invariants=False,
        )


def node_classes(batch: Any, n_layers: int) -> NodeClasses:
    """Refine the nodes of ``batch`` for ``n_layers`` sum-aggregating layers (cached on the batch).

    Args:
        batch: A collated batch (fields ``op``, ``res``, ``kernel``, ``bias``, ``weighted``,
            ``edge_index``; see :func:`~gennape_naslib.predictors.gennape.data.collate`).
        n_layers: Number of message-passing layers.

    Returns:
        The classes of layers ``0 .. n_layers`` (a cached refinement of more layers is returned as is).
    """
    cached = getattr(batch, "_node_classes", None)
    if cached is not None and cached.n_layers >= n_layers:
        return cached
    n = int(batch.op.shape[0])
    edge_index = batch.edge_index.numpy()
    src, dst = edge_index[0].astype(np.int64), edge_index[1].astype(np.int64)
    # in-edges grouped by target, sources ascending (the order of encoder.sum_adjacency's CSR rows)
    order = _stable_argsort(dst * max(n, 1) + src, 2 * max(1, n.bit_length()))
    src_s, dst_s = src[order], dst[order]
    deg = np.bincount(dst, minlength=n).astype(np.int64)
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(deg, out=ptr[1:])
    slot = np.arange(len(src_s), dtype=np.int64) - ptr[dst_s]
    max_deg = int(deg.max()) if n else 0
    # in-neighbours of every node, padded with the sentinel n (whose class value is 0)
    nbr = np.full(n * max_deg, n, dtype=np.int64)
    nbr[dst_s * max_deg + slot] = src_s
    nbr = nbr.reshape(n, max_deg)
    value = np.zeros(n + 1, dtype=np.int64)

    inv, rep = _factorize_rows(_feature_rows(batch), small=False)
    reps, inverses, adjacency, roots = [rep], [inv], [], []
    for _ in range(int(n_layers)):
        # signature of every node: own class, then its in-neighbours' classes + 1, sorted (0 pads)
        np.add(inv, 1, out=value[:n])
        vals = value[nbr]
        if max_deg == 2:
            lo = np.minimum(vals[:, 0], vals[:, 1])
            np.maximum(vals[:, 0], vals[:, 1], out=vals[:, 1])
            vals[:, 0] = lo
        elif max_deg > 2:
            vals.sort(axis=1)
        bits = max(1, len(rep).bit_length())
        if (1 + max_deg) * bits <= 63:  # packed exactly into one integer
            key = inv.copy()
            for j in range(max_deg):
                key <<= bits
                key |= vals[:, j]
            new_inv, new_rep = _factorize_keys(key, (1 + max_deg) * bits)
        else:
            new_inv, new_rep = _factorize_rows(np.concatenate([inv[:, None], vals], axis=1), small=True)
        # the representative's in-neighbours, as classes of the previous layer, in the full batch's order
        rdeg = deg[new_rep]
        crow = np.zeros(len(new_rep) + 1, dtype=np.int64)
        np.cumsum(rdeg, out=crow[1:])
        pos = np.repeat(ptr[new_rep] - crow[:-1], rdeg) + np.arange(int(crow[-1]), dtype=np.int64)
        adjacency.append(_csr(crow, inv[src_s[pos]], (len(new_rep), len(rep))))
        roots.append(torch.from_numpy(inv[new_rep]))
        inv, rep = new_inv, new_rep
        reps.append(rep)
        inverses.append(inv)
    out = NodeClasses(
        [torch.from_numpy(r) for r in reps], [torch.from_numpy(i) for i in inverses], adjacency, roots, {}
    )
    try:
        batch._node_classes = out
    except (AttributeError, TypeError):  # pragma: no cover - a batch type that refuses attributes
        pass
    return out


def readout_matrix(batch: Any, classes: NodeClasses, layer: int) -> torch.Tensor:
    """The mean readout over classes: sparse CSR float64 ``(num_graphs, K_layer)`` (cached on ``classes``).

    Entry ``(g, c)`` is the number of graph ``g``'s nodes in class ``c`` divided by graph ``g``'s
    number of nodes (float64), so ``readout_matrix(...) @ h.double()`` is the mean of the node
    states of every graph (zero for a graph without nodes).
    """
    cached = classes.readouts.get(layer)
    if cached is not None:
        return cached
    graph = batch.batch.numpy().astype(np.int64)
    n_graphs = int(batch.num_graphs)
    inv = classes.inverse[layer].numpy()
    k = len(classes.rep[layer])
    key = graph * max(k, 1) + inv
    pair_inv, pair_rep = _factorize_keys(key, max(1, (max(n_graphs, 1) * max(k, 1)).bit_length()))
    counts = np.bincount(pair_inv, minlength=len(pair_rep)).astype(np.float64)
    pair_graph = graph[pair_rep]  # pairs are sorted by key, hence by graph
    sizes = np.bincount(graph, minlength=n_graphs)
    crow = np.zeros(n_graphs + 1, dtype=np.int64)
    np.cumsum(np.bincount(pair_graph, minlength=n_graphs), out=crow[1:])
    values = torch.from_numpy(counts / sizes[pair_graph])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        out = torch.sparse_csr_tensor(
            torch.from_numpy(crow), torch.from_numpy(inv[pair_rep]), values, (n_graphs, k), check_invariants=False
        )
    classes.readouts[layer] = out
    return out
