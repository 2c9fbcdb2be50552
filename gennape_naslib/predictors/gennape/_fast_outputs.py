"""Member outputs of :class:`~gennape_naslib.predictors.gennape.model.GENNAPENet` at inference, pairwise heads folded.

A pairwise member scores every architecture against ``k`` anchors in both directions, so
:meth:`GENNAPENet.outputs` runs its MLP on ``2 k`` pair vectors ``[h_a, h_b, h_a - h_b]`` per
architecture and cluster: most of the prediction time once the encoders are fast. The MLP of
:class:`~gennape_naslib.predictors.gennape.heads.ClusterHeads` has a single ReLU, so the linear
layers before it compose into one affine map and those after it into another (a vector and a
constant), and the first one splits over the three parts of the pair vector:

``f([a, b, a - b]) = v . relu(a (M_a + M_c) + b (M_b - M_c) + c) + d``.

:func:`member_outputs` computes ``a (M_a + M_c)`` and ``b (M_b - M_c)`` once per architecture and
per anchor and only the ``relu`` and the dot product per pair: the same numbers as
:meth:`GENNAPENet.outputs` up to float rounding (the order of the sums changes), several times
faster. Regression members and heads of any other shape go through the model's own code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["member_outputs"]

_ROWS = 256  # architectures per block of pairs (keeps the (C, rows, k, hidden) block in cache)


def _folded(cluster_heads: Any, d_in: int) -> tuple[torch.Tensor, ...] | None:
    """``(M_a + M_c, M_b - M_c, c, v, d)`` of a ClusterHeads on pair vectors of width ``3 d_in``, or ``None``."""
    weights, biases = list(cluster_heads.weights), list(cluster_heads.biases)
    r = int(cluster_heads.relu_after)
    if not 0 <= r < len(weights) - 1 or weights[0].shape[1] != 3 * d_in or weights[-1].shape[2] != 1:
        return None
    m, c = weights[0], biases[0]
    for w, b in zip(weights[1 : r + 1], biases[1 : r + 1]):
        m, c = m @ w, torch.baddbmm(b, c, w)
    v, d = weights[r + 1], biases[r + 1]
    for w, b in zip(weights[r + 2 :], biases[r + 2 :]):
        v, d = v @ w, torch.baddbmm(b, d, w)
    ma, mb, mc = m[:, :d_in], m[:, d_in : 2 * d_in], m[:, 2 * d_in :]
    return ma + mc, mb - mc, c, v, d


@torch.no_grad()
def _pair_scores(
    folded: tuple[torch.Tensor, ...], h: torch.Tensor, anchors: torch.Tensor, u: Any, ua: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std over anchors of ``P(x > anchor)`` (``PairwiseHeads`` on folded weights)."""
    first, second, c, v, _ = folded
    # f(a, b) = v . relu(a first + b second + c) + d, for (a, b) = (x, anchor) and (anchor, x)
    x1, x2 = torch.matmul(h, first), torch.matmul(h, second)  # (C, n, hidden)
    a1, a2 = torch.matmul(anchors, first), torch.matmul(anchors, second)  # (C, k, hidden)
    v = v.squeeze(-1)  # (C, hidden)
    means, stds = [], []
    for s in range(0, len(h), _ROWS):
        e = slice(s, s + _ROWS)
        fwd = torch.relu_(x1[:, e, None, :] + a2[:, None, :, :] + c[:, :, None, :])  # (C, rows, k, hidden)
        bwd = torch.relu_(x2[:, e, None, :] + a1[:, None, :, :] + c[:, :, None, :])
        diff = torch.einsum("crkh,ch->crk", fwd - bwd, v)  # the constants d cancel in f(a, b) - f(b, a)
        if u is None:
            logit = 0.5 * diff.mean(0)
        else:
            w = 0.5 * (u[e].T[:, :, None] + ua.T[:, None, :])  # (C, rows, k) mean membership of each pair
            logit = 0.5 * (w * diff).sum(0)
        p = torch.sigmoid(logit)
        means.append(p.mean(1))
        stds.append(p.std(1, unbiased=False))
    return torch.cat(means).double().numpy(), torch.cat(stds).double().numpy()


@torch.no_grad()
def member_outputs(net: Any, h: torch.Tensor, anchors: torch.Tensor | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """What ``net.outputs(h, anchors)`` returns, with pairwise members on folded heads (module docstring).

    Args:
        net: A :class:`~gennape_naslib.predictors.gennape.model.GENNAPENet`.
        h: Graph embeddings ``(n, hidden)``.
        anchors: Anchor embeddings ``(k, hidden)`` (needed by pairwise members).

    Raises:
        ValueError: If a pairwise member has no anchors.
    """
    from gennape_naslib.predictors.gennape.heads import PairwiseHeads
    from gennape_naslib.predictors.gennape.model import CL_MEMBERS

    net.eval()
    folded = {}
    for name in net.members:
        head = net.heads[name]
        if CL_MEMBERS[name]["pair"]:
            f = _folded(head.heads, h.shape[1]) if type(head) is PairwiseHeads else None
            if f is None:  # a head this module does not know: the model's own code
                return net.outputs(h, anchors)
            folded[name] = f
    out = {}
    for name in net.members:
        head = net.heads[name]
        u = net.member_u(name, h)
        if name in folded:
            if anchors is None or len(anchors) == 0:
                raise ValueError("pairwise members need anchor embeddings")
            out[name] = _pair_scores(folded[name], h, anchors, u, net.member_u(name, anchors))
        else:
            pred, spread = head(h, u)
            out[name] = (pred.double().numpy(), spread.double().numpy())
    return out
