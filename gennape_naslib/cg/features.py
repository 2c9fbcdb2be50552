"""GENNAPE's node features of a computation graph, and their conversion to PyTorch Geometric.

GENNAPE describes every node by its op index, its six normalised resolution values and, for
weighted nodes, two kernel sizes and a two-way bias one-hot (GENNAPE_FACTS 1.9). This module
computes the same numbers for every node of a :class:`~gennape_naslib.cg.graph.ComputeGraph`, in the
graph's own (topological) node order, so that a model does not depend on GENNAPE's "weighted nodes
first" layout. :func:`gennape_order` and :func:`gennape_feature_lists` give that original layout to
code that needs it.

Conventions beyond the original, stated once here:

* Regular nodes get kernel ``[0, 0]`` and bias one-hot ``[1, 0]`` ("no bias") so that all nodes share
  one set of arrays; the ``weighted`` mask tells the two kinds apart.
* Kernel sizes above ``cg.max_kernel`` (7 by default) are clipped to it: GENNAPE uses them as indices
  into an 8-row embedding, where a larger value would crash (GENNAPE_FACTS section 5, item 6).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from gennape_naslib.cg.graph import ComputeGraph
from gennape_naslib.cg.vocab import OP_INDEX

if TYPE_CHECKING:  # pragma: no cover - typing only
    from torch_geometric.data import Data

__all__ = [
    "FEATURE_WIDTH",
    "gennape_features",
    "gennape_order",
    "gennape_feature_lists",
    "to_pyg",
]

#: Width of the generic ``x`` matrix of :func:`to_pyg`: op index, 6 resolution values, 2 kernel
#: sizes, 2 bias one-hot values.
FEATURE_WIDTH = 11


def _scales(cg: ComputeGraph) -> np.ndarray:
    maxima = {"max_h": cg.max_h, "max_w": cg.max_w, "max_hidden": cg.max_hidden}
    for key, value in maxima.items():
        if not value or value <= 0:
            raise ValueError(f"graph {cg.name!r}: {key} must be positive to normalise features, got {value!r}")
    h, w, c = float(cg.max_h), float(cg.max_w), float(cg.max_hidden)
    return np.array([h, h, w, w, c, c], dtype=np.float64)


def gennape_features(cg: ComputeGraph) -> dict[str, np.ndarray]:
    """Compute GENNAPE's per-node features in the graph's node order.

    Args:
        cg: The computation graph. Its ``max_h``, ``max_w``, ``max_hidden`` and ``max_kernel``
            attributes set the normalisation (GENNAPE: 256, 256, 512, 7).

    Returns:
        A dict of numpy arrays, ``N`` = number of nodes, ``E`` = number of edges:

        * ``op``: int64 ``(N,)``, vocabulary index of each node's op;
        * ``resolution``: float32 ``(N, 6)``, ``[H_in/max_h, H_out/max_h, W_in/max_w, W_out/max_w,
          C_in/max_hidden, C_out/max_hidden]``;
        * ``kernel``: int64 ``(N, 2)``, ``shape[2:]`` of weighted nodes clipped to
          ``[0, max_kernel]``; ``[0, 0]`` for dense layers and regular nodes;
        * ``bias``: float32 ``(N, 2)``, ``[0, 1]`` if the node has a bias, else ``[1, 0]`` (regular
          nodes included);
        * ``weighted``: bool ``(N,)``;
        * ``edge_index``: int64 ``(2, E)``, source row then target row (data-flow direction).

    Raises:
        ValueError: If a normalisation constant is not positive.
    """
    nodes = cg.nodes
    n = len(nodes)
    scales = _scales(cg)
    op = np.fromiter((OP_INDEX[node.op] for node in nodes), dtype=np.int64, count=n)
    raw = np.array([node.resolution for node in nodes], dtype=np.float64).reshape(n, 6)
    resolution = (raw / scales).astype(np.float32)
    weighted = np.fromiter((node.shape is not None for node in nodes), dtype=bool, count=n)
    kernel = np.array([node.kernel for node in nodes], dtype=np.int64).reshape(n, 2)
    np.clip(kernel, 0, max(int(cg.max_kernel), 0), out=kernel)
    has_bias = np.fromiter((bool(node.use_bias) and node.shape is not None for node in nodes), dtype=bool, count=n)
    bias = np.zeros((n, 2), dtype=np.float32)
    bias[np.arange(n), has_bias.astype(np.int64)] = 1.0
    edge_index = np.array(cg.edges, dtype=np.int64).reshape(-1, 2).T.copy()
    return {
        "op": op,
        "resolution": resolution,
        "kernel": kernel,
        "bias": bias,
        "weighted": weighted,
        "edge_index": edge_index,
    }


def gennape_order(cg: ComputeGraph) -> np.ndarray:
    """The permutation into GENNAPE's canonical node order: weighted nodes first, then regular ones.

    Within each group our (topological) order is kept, so the output node stays last.

    Args:
        cg: The computation graph.

    Returns:
        int64 array ``perm`` of length ``N``: position ``j`` of the GENNAPE layout holds our node
        ``perm[j]``; ``features["op"][perm]`` is the GENNAPE-ordered op column. Edges map with the
        inverse permutation (``np.argsort(perm)``).
    """
    weighted = [i for i, node in enumerate(cg.nodes) if node.shape is not None]
    regular = [i for i, node in enumerate(cg.nodes) if node.shape is None]
    return np.array(weighted + regular, dtype=np.int64)


def gennape_feature_lists(cg: ComputeGraph) -> tuple[list[Any], ...]:
    """GENNAPE's ``get_gnn_features()`` output, in its original layout.

    Args:
        cg: The computation graph.

    Returns:
        A 7-tuple of plain lists, as GENNAPE returns it (GENNAPE_FACTS 1.9): ``regular_inds``,
        ``regular_shapes`` (6 floats each), ``weighted_inds``, ``weighted_shapes``,
        ``weighted_kernels`` (``[k1, k2]``), ``weighted_bias`` (one-hot) and ``edge_list``
        (``[[src, ...], [dst, ...]]`` over the weighted-first order, sorted by pair).
    """
    feats = gennape_features(cg)
    perm = gennape_order(cg)
    inverse = np.empty_like(perm)
    inverse[perm] = np.arange(len(perm), dtype=np.int64)
    w_idx = perm[feats["weighted"][perm]]
    r_idx = perm[~feats["weighted"][perm]]
    pairs = sorted((int(inverse[s]), int(inverse[d])) for s, d in cg.edges)
    edge_list = [[s for s, _ in pairs], [d for _, d in pairs]]
    return (
        feats["op"][r_idx].tolist(),
        feats["resolution"][r_idx].astype(np.float64).tolist(),
        feats["op"][w_idx].tolist(),
        feats["resolution"][w_idx].astype(np.float64).tolist(),
        feats["kernel"][w_idx].tolist(),
        feats["bias"][w_idx].astype(np.int64).tolist(),
        edge_list,
    )


def to_pyg(cg: ComputeGraph, y: float | Any | None = None, **extra: Any) -> Data:
    """Convert a graph to a :class:`torch_geometric.data.Data` object with GENNAPE's features.

    Graphs of different sizes batch with ``torch_geometric.loader.DataLoader`` or
    ``Batch.from_data_list``: node-level fields are concatenated and ``edge_index`` is offset.

    Args:
        cg: The computation graph.
        y: Optional regression target; stored as a float32 tensor of shape ``(1,)`` (a batch then
            has ``y`` of shape ``(B,)``). A tensor is stored as given.
        **extra: Further attributes stored unchanged on the ``Data`` object (e.g. ``name=cg.name``,
            ``flops=...``).

    Returns:
        ``Data`` with ``op`` (long ``N``), ``res`` (float ``N x 6``), ``kernel`` (long ``N x 2``),
        ``bias`` (float ``N x 2``), ``weighted`` (bool ``N``), ``edge_index`` (long ``2 x E``),
        ``num_nodes``, ``x`` (float ``N x 11``: op index, the 6 resolution values, the 2 kernel
        sizes, the 2 bias values; for generic GNNs) and ``y`` when given.
    """
    # Imported here so that ``import gennape_naslib.cg`` stays cheap.
    import torch
    from torch_geometric.data import Data

    feats = gennape_features(cg)
    op = torch.from_numpy(feats["op"])
    res = torch.from_numpy(feats["resolution"])
    kernel = torch.from_numpy(feats["kernel"])
    bias = torch.from_numpy(feats["bias"])
    x = torch.cat([op.unsqueeze(1).float(), res, kernel.float(), bias], dim=1)
    data = Data(
        x=x,
        edge_index=torch.from_numpy(feats["edge_index"]),
        op=op,
        res=res,
        kernel=kernel,
        bias=bias,
        weighted=torch.from_numpy(feats["weighted"]),
        num_nodes=cg.n_nodes,
    )
    if y is not None:
        data.y = y if isinstance(y, torch.Tensor) else torch.tensor([float(y)], dtype=torch.float32)
    for key, value in extra.items():
        data[key] = value
    return data
