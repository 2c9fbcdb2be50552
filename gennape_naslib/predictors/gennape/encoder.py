"""GENNAPE's node embedding and the k-GNN graph encoder (GENNAPE_FACTS 2.2-2.4).

:class:`CGNodeEmbedding` embeds every node to a 32-wide vector: regular nodes concatenate an op
embedding (24) with ``Linear(6 -> 8)`` of the resolution; weighted nodes concatenate a separate op
embedding (14), the same resolution projection (8), two kernel-size embeddings (2 x 4) and
``Linear(2 -> 2)`` of the bias one-hot. :class:`CGEncoder` runs a stack of PyG message-passing
layers (``GraphConv`` by default: Morris et al.'s 1-WL k-GNN) with an activation after every layer
and mean-pools the nodes into a graph embedding. Edges keep their data-flow direction, as in GENNAPE.

Departures from the demo code, by design: the unused parameters it instantiates (a "normal prior"
linear layer, the aggregator's spare GraphConv) are not created; dropout (a hyperparameter, used for
the contrastive views) can be applied after the embedding and after every layer.

Prediction (:func:`encode_records`, used by ``GENNAPEPredictor``) runs ``GraphConv`` encoders on node
classes (:meth:`CGEncoder.forward_classes`, :mod:`~gennape_naslib.predictors.gennape.node_classes`):
every layer is evaluated once per class of nodes that it cannot tell apart (in NB-201 batches 6-10x
fewer node-layer evaluations), and the mean readout weights each class by its share of a graph's
nodes; it collates a set of records once and runs several encoders on the same batches and
classes. :meth:`CGEncoder.forward` (training, ``embed`` of the models) is the full pass, unchanged.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from gennape_naslib.cg.vocab import OPS
from gennape_naslib.predictors.gennape.node_classes import node_classes, readout_matrix

__all__ = [
    "CLASS_BATCH",
    "GNN_LAYERS",
    "INFER_BATCH",
    "CGEncoder",
    "CGNodeEmbedding",
    "encode_records",
    "make_mlp",
    "fast_tanh",
    "mean_readout",
    "resolve_gnn_layer",
    "sum_adjacency",
]

#: Names accepted for the GNN layer type (case-insensitive; "Conv" suffix optional).
GNN_LAYERS = ("GraphConv", "GCNConv", "GINConv", "GATConv", "SAGEConv")

#: Graphs per forward pass at inference. Small batches keep the ``(nodes, hidden)`` activations in the CPU
#: cache: on NB-201 CGs (~210 nodes) 64 graphs per pass run 2.5-3x faster than 2,048 (memory-bound ops).
INFER_BATCH = 64

#: Graphs per batch of :func:`encode_records`. On node classes larger batches share more (NB-201: 6.4x
#: fewer node-layer evaluations than the full batch at 64 graphs, 8.4x at 256, 10x at 512) while the
#: refinement costs about the same per graph.
CLASS_BATCH = 512

_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU, "elu": nn.ELU, "identity": nn.Identity}


def resolve_gnn_layer(name: str) -> str:
    """Resolve a GNN layer name to one of :data:`GNN_LAYERS`.

    Raises:
        ValueError: ``could not resolve GNN layer 'X' among choices (...)``.
    """
    if isinstance(name, str):
        key = name.lower().replace("_", "").replace("-", "")
        for choice in GNN_LAYERS:
            if key in (choice.lower(), choice.lower().removesuffix("conv")):
                return choice
    raise ValueError(f"could not resolve GNN layer {name!r} among choices {GNN_LAYERS}")


def _make_layer(kind: str, d_in: int, d_out: int) -> nn.Module:
    import torch_geometric.nn as pyg

    if kind == "GraphConv":
        return pyg.GraphConv(d_in, d_out)
    if kind == "GCNConv":
        return pyg.GCNConv(d_in, d_out, add_self_loops=True)
    if kind == "GINConv":
        return pyg.GINConv(nn.Sequential(nn.Linear(d_in, d_out), nn.ReLU(), nn.Linear(d_out, d_out)))
    if kind == "GATConv":
        return pyg.GATConv(d_in, d_out, heads=1, add_self_loops=True)
    if kind == "SAGEConv":
        return pyg.SAGEConv(d_in, d_out)
    raise ValueError(f"could not resolve GNN layer {kind!r} among choices {GNN_LAYERS}")  # pragma: no cover


def make_mlp(d_in: int, hidden: int, d_out: int, n_layers: int = 4) -> nn.Sequential:
    """GENNAPE's MLP: ``n_layers`` linear layers, one ReLU in the middle, then ``Linear(hidden, d_out)``.

    With ``n_layers=4`` this is ``Linear-Linear-ReLU-Linear-Linear`` followed by the output layer
    (GENNAPE_FACTS 2.5).
    """
    layers: list[nn.Module] = []
    width = d_in
    for i in range(n_layers):
        layers.append(nn.Linear(width, hidden))
        width = hidden
        if i == n_layers // 2 - 1:
            layers.append(nn.ReLU())
    layers.append(nn.Linear(width, d_out))
    return nn.Sequential(*layers)


class CGNodeEmbedding(nn.Module):
    """Node embedding of GENNAPE_FACTS 2.2 (output width ``out_dim``, 32 by default).

    Args:
        out_dim: Width of every node vector.
        shape_dim: Width of the resolution projection (``None``: 8, or ``out_dim // 4`` below 32).
        kernel_dim: Total width of the two kernel embeddings (``None``: as ``shape_dim`` rounded
            down to even; must be even).
        bias_dim: Width of the bias projection (2).
        n_ops: Vocabulary size (32).
        n_kernels: Rows of the kernel embedding (8: kernel sizes 0..7).
    """

    def __init__(
        self,
        out_dim: int = 32,
        shape_dim: int | None = None,
        kernel_dim: int | None = None,
        bias_dim: int = 2,
        n_ops: int = len(OPS),
        n_kernels: int = 8,
    ) -> None:
        super().__init__()
        if shape_dim is None:
            shape_dim = 8 if out_dim >= 32 else max(2, out_dim // 4)
        if kernel_dim is None:
            kernel_dim = max(2, shape_dim // 2 * 2)
        if kernel_dim % 2:
            raise ValueError(f"kernel_dim must be even, got {kernel_dim}")
        w_op = out_dim - shape_dim - kernel_dim - bias_dim
        if w_op < 1:
            raise ValueError(
                f"out_dim={out_dim} is too small for shape/kernel/bias widths {shape_dim}/{kernel_dim}/{bias_dim}"
            )
        self.regular_op = nn.Embedding(n_ops, out_dim - shape_dim)
        self.weighted_op = nn.Embedding(n_ops, w_op)
        self.shape = nn.Linear(6, shape_dim)
        self.kernel = nn.Embedding(n_kernels, kernel_dim // 2)
        self.bias = nn.Linear(2, bias_dim)
        self.n_kernels = n_kernels

    def forward(self, batch: Any) -> torch.Tensor:
        """Embed the nodes of a batch (fields ``op``, ``res``, ``kernel``, ``bias``, ``weighted``)."""
        shape = self.shape(batch.res)
        regular = torch.cat([self.regular_op(batch.op), shape], dim=1)
        kernel = self.kernel(batch.kernel.clamp(0, self.n_kernels - 1)).flatten(1)
        weighted = torch.cat([self.weighted_op(batch.op), shape, kernel, self.bias(batch.bias)], dim=1)
        return torch.where(batch.weighted.unsqueeze(1), weighted, regular)


class CGEncoder(nn.Module):
    """Node embedding, ``n_layers`` GNN layers with an activation after each, mean readout.

    :meth:`forward_classes` computes :meth:`forward` without dropout on node classes (module docstring).

    Args:
        hidden: Width of the embedding and of every layer (32).
        n_layers: Number of GNN layers (6).
        gnn: Layer type, resolved by :func:`resolve_gnn_layer` (``"GraphConv"``).
        activation: ``"tanh"`` (GENNAPE), ``"relu"``, ``"gelu"``, ``"elu"`` or ``"identity"``.
    """

    def __init__(self, hidden: int = 32, n_layers: int = 6, gnn: str = "GraphConv", activation: str = "tanh") -> None:
        super().__init__()
        kind = resolve_gnn_layer(gnn)
        if activation not in _ACTIVATIONS:
            raise ValueError(f"could not resolve activation {activation!r} among choices {tuple(_ACTIVATIONS)}")
        if n_layers < 1:
            raise ValueError(f"n_layers must be at least 1, got {n_layers}")
        self.embed = CGNodeEmbedding(out_dim=hidden)
        self.layers = nn.ModuleList(_make_layer(kind, hidden, hidden) for _ in range(n_layers))
        self.act = _ACTIVATIONS[activation]()
        self.hidden = hidden
        self.kind = kind
        self.inplace_tanh = activation == "tanh"

    def forward(self, batch: Any, dropout: float = 0.0) -> torch.Tensor:
        """Graph embeddings ``(B, hidden)``; ``dropout > 0`` applies dropout after the embedding and each layer."""
        h = self.embed(batch)
        if dropout > 0:
            h = nn.functional.dropout(h, dropout, training=True)
        adj = sum_adjacency(batch) if self.kind == "GraphConv" else None
        for layer in self.layers:
            if adj is not None:
                # GraphConv with sum aggregation, as one sparse product: W_rel (A h) + b + W_root h.
                rel, root = layer.lin_rel, layer.lin_root
                out = torch.addmm(rel.bias, torch.sparse.mm(adj, h), rel.weight.t())
                h = out.addmm_(h, root.weight.t()) if root.bias is None else out + root(h)
            else:
                h = layer(h, batch.edge_index)
            h = fast_tanh(h) if self.inplace_tanh else self.act(h)
            if dropout > 0:
                h = nn.functional.dropout(h, dropout, training=True)
        return mean_readout(h, batch)

    @torch.no_grad()
    def forward_classes(self, batch: Any) -> torch.Tensor:
        """:meth:`forward` without dropout, evaluated once per node class and layer (no autograd).

        Equal to ``forward(batch)`` up to float rounding (the sums of a class's representative stand
        for all its nodes).

        Raises:
            ValueError: If the layers are not ``GraphConv`` (other layer types are not sum aggregations
                of the neighbours' states alone).
        """
        if self.kind != "GraphConv":
            raise ValueError(f"node-class inference needs GraphConv layers, not {self.kind}")
        classes = node_classes(batch, len(self.layers))
        rep = classes.rep[0]
        # index_select, not fancy indexing: several times faster on CPU
        rows = _Rows(*(getattr(batch, f).index_select(0, rep) for f in ("op", "res", "kernel", "bias", "weighted")))
        h = self.embed(rows)
        for t, layer in enumerate(self.layers):
            rel, root = layer.lin_rel, layer.lin_root
            out = torch.addmm(rel.bias, torch.sparse.mm(classes.adjacency[t], h), rel.weight.t())
            h_root = h.index_select(0, classes.root[t])
            h = out.addmm_(h_root, root.weight.t()) if root.bias is None else out + root(h_root)
            h = fast_tanh(h) if self.inplace_tanh else self.act(h)
        # float64 sums: the exact mean of the node states, rounded once
        return torch.sparse.mm(readout_matrix(batch, classes, len(self.layers)), h.double()).to(h.dtype)


class _Rows:
    """The embedding inputs of selected nodes (the fields :class:`CGNodeEmbedding` reads)."""

    __slots__ = ("op", "res", "kernel", "bias", "weighted")

    def __init__(self, op: Any, res: Any, kernel: Any, bias: Any, weighted: Any) -> None:
        self.op, self.res, self.kernel, self.bias, self.weighted = op, res, kernel, bias, weighted


@torch.no_grad()
def encode_records(encoders: list[nn.Module], records: list[Any], batch_size: int = CLASS_BATCH) -> list[torch.Tensor]:
    """Graph embeddings of ``records`` by each encoder, collating every batch once for all of them.

    Args:
        encoders: :class:`CGEncoder` modules (put in eval mode here); ``GraphConv`` ones run on node
            classes (:meth:`CGEncoder.forward_classes`), others the full pass.
        records: :class:`~gennape_naslib.predictors.gennape.data.GraphArrays` records.
        batch_size: Graphs per batch.

    Returns:
        One ``(len(records), hidden)`` tensor per encoder, in the order of ``encoders``.
    """
    from gennape_naslib.predictors.gennape.data import collate

    if not encoders:
        return []
    outs: list[list[torch.Tensor]] = [[] for _ in encoders]
    for enc in encoders:
        enc.eval()
    for start in range(0, len(records), max(1, int(batch_size))):
        batch = collate(records[start : start + batch_size])
        for enc, out in zip(encoders, outs):
            out.append(enc.forward_classes(batch) if getattr(enc, "kind", None) == "GraphConv" else enc(batch))
    return [torch.cat(out) if out else torch.zeros(0, enc.hidden) for enc, out in zip(encoders, outs)]


def fast_tanh(h: torch.Tensor) -> torch.Tensor:
    """``tanh(h)`` as ``2 sigmoid(2h) - 1`` (within 2e-7 of ``torch.tanh``; about 2x faster on CPU here).

    Without autograd the result overwrites ``h``; with autograd it is computed out of place.
    """
    if torch.is_grad_enabled() and h.requires_grad:
        return torch.sigmoid(h * 2) * 2 - 1
    return torch.sigmoid_(h.mul_(2)).mul_(2).sub_(1)


def sum_adjacency(batch: Any) -> torch.Tensor:
    """The ``(N, N)`` sparse matrix ``A`` with ``A[t, s] = multiplicity of edge s -> t`` of a batch (cached on it).

    ``A @ h`` is GraphConv's sum of the source nodes' features at every target node (PyG's
    ``source_to_target`` flow), computed by one CSR product instead of a gather and a scatter.
    """
    cached = getattr(batch, "_sum_adjacency", None)
    if cached is not None:
        return cached
    edge_index = batch.edge_index
    n = int(batch.num_nodes)
    target, source = edge_index[1], edge_index[0]
    order = torch.argsort(target * n + source, stable=True)
    counts = torch.bincount(target, minlength=n)
    crow = torch.zeros(n + 1, dtype=torch.int64)
    torch.cumsum(counts, 0, out=crow[1:])
    values = torch.ones(edge_index.shape[1], dtype=torch.float32)
    with warnings.catch_warnings():  # "sparse CSR support is in beta": the product used here is stable
        warnings.simplefilter("ignore", UserWarning)
        adj = torch.sparse_csr_tensor(crow, source[order], values, (n, n), check_invariants=False)
    try:
        batch._sum_adjacency = adj
    except (AttributeError, TypeError):  # pragma: no cover - a batch type that refuses attributes
        pass
    return adj


def mean_readout(h: torch.Tensor, batch: Any) -> torch.Tensor:
    """Mean of the node vectors of every graph of the batch, ``(num_graphs, d)``."""
    n_graphs = int(batch.num_graphs)
    index = batch.batch
    sums = torch.zeros(n_graphs, h.shape[1], dtype=h.dtype).index_add_(0, index, h)
    counts = torch.bincount(index, minlength=n_graphs).clamp_(min=1).to(h.dtype)
    return sums / counts.unsqueeze(1)
