"""Contrastive pretraining of the CG encoder (PAPER_FACTS 1.4, Eq. 1).

Each graph of a batch passes through the encoder twice with dropout active (SimCSE-style views),
a projection head maps the embeddings to unit vectors ``z`` and the loss of Eq. 1 is

    L = - mean_i sum_{l != i} alpha_il * log( exp(z_i.z_l / tau) / sum_{r != i} exp(z_i.z_r / tau) )

with soft positives ``alpha_i. = softmax_l(-sigma(i, l) / T)`` over ``l != i``, where ``sigma`` is
the Euclidean distance between the vectors of the ``q = 21`` smallest eigenvalues of the graphs'
normalised Laplacians (undirected; padded with 1.0, the eigenvalue of isolated structure, for
graphs with fewer than ``q`` nodes). The two views of a graph have ``sigma = 0`` and so are the
strongest positives. The paper writes softmax of the distance; its intent (similar graphs weigh
more) needs the minus sign used here. ``T`` (``weight_temperature``, default 0.05 as in the SDM
paper) and ``tau`` (``temperature``, default 0.1) are UNKNOWN in GENNAPE and are hyperparameters.
Spectra are cached per graph by its cache key / content hash.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = ["ProjectionHead", "contrastive_loss", "laplacian_spectrum", "spectral_weights", "spectrum_of"]

N_EIGEN = 21
_SPECTRA: OrderedDict[Any, np.ndarray] = OrderedDict()
_SPECTRA_MAX = 100000
_LOCK = threading.Lock()


def laplacian_spectrum(n_nodes: int, edges: np.ndarray, q: int = N_EIGEN, pad: float = 1.0) -> np.ndarray:
    """The ``q`` smallest eigenvalues of the normalised Laplacian ``I - D^-1/2 A D^-1/2`` of the undirected graph.

    Args:
        n_nodes: Number of nodes.
        edges: ``(2, E)`` (or ``(E, 2)``) node index pairs; direction is ignored.
        q: Number of eigenvalues.
        pad: Value appended when the graph has fewer than ``q`` nodes.

    Returns:
        float64 ``(q,)`` in ascending order.
    """
    e = np.asarray(edges, dtype=np.int64)
    if e.ndim == 2 and e.shape[0] != 2 and e.shape[1] == 2:
        e = e.T
    a = np.zeros((n_nodes, n_nodes))
    if e.size:
        a[e[0], e[1]] = 1.0
        a[e[1], e[0]] = 1.0
    np.fill_diagonal(a, 0.0)
    deg = a.sum(1)
    inv = np.where(deg > 0, 1.0 / np.sqrt(np.maximum(deg, 1e-12)), 0.0)
    lap = np.eye(n_nodes) - inv[:, None] * a * inv[None, :]
    vals = np.linalg.eigvalsh(lap) if n_nodes else np.zeros(0)
    vals = np.clip(vals[:q], 0.0, 2.0)
    if len(vals) < q:
        vals = np.concatenate([vals, np.full(q - len(vals), pad)])
    return vals


def spectrum_of(record: Any, q: int = N_EIGEN) -> np.ndarray:
    """Cached spectrum of a :class:`~gennape_naslib.predictors.gennape.data.GraphArrays` record (keyed by its key)."""
    key = (record.key, q)
    with _LOCK:
        hit = _SPECTRA.get(key)
    if hit is not None:
        return hit
    vals = laplacian_spectrum(len(record.op), record.edges, q)
    with _LOCK:
        _SPECTRA[key] = vals
        while len(_SPECTRA) > _SPECTRA_MAX:
            _SPECTRA.popitem(last=False)
    return vals


def spectral_weights(spectra: np.ndarray | torch.Tensor, temperature: float = 0.05) -> torch.Tensor:
    """Soft-positive weights ``alpha`` for two views of each of ``N`` graphs.

    Args:
        spectra: ``(N, q)`` eigenvalue vectors of the graphs.
        temperature: Softmax temperature ``T`` of ``softmax(-sigma / T)``.

    Returns:
        ``(2N, 2N)`` float32 matrix; row ``i`` is a distribution over the ``l != i`` (zero diagonal).
        Views are ordered ``[graph 0..N-1 view 1, graph 0..N-1 view 2]``.
    """
    s = torch.as_tensor(np.asarray(spectra, dtype=np.float32))
    s2 = torch.cat([s, s], dim=0)
    sigma = torch.cdist(s2, s2)
    logits = -sigma / temperature
    logits.fill_diagonal_(float("-inf"))
    return torch.softmax(logits, dim=1)


def contrastive_loss(z: torch.Tensor, alpha: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Eq. 1 with soft positives.

    Args:
        z: ``(2N, p)`` projections (normalised here).
        alpha: ``(2N, 2N)`` weights from :func:`spectral_weights` (rows sum to 1, zero diagonal).
        temperature: ``tau`` of ``sim = z_i . z_j / tau``.

    Returns:
        Scalar loss (mean over anchors).
    """
    z = nn.functional.normalize(z, dim=1)
    sim = z @ z.T / temperature
    eye = torch.eye(len(z), dtype=torch.bool)
    sim = sim.masked_fill(eye, float("-inf"))
    log_prob = torch.log_softmax(sim, dim=1).masked_fill(eye, 0.0)
    return -(alpha * log_prob).sum(1).mean()


class ProjectionHead(nn.Module):
    """MLP ``e -> e -> p`` (ReLU between) used only during contrastive pretraining."""

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_in, d_in), nn.ReLU(), nn.Linear(d_in, d_out))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Project embeddings."""
        return self.net(h)
