"""Per-cluster MLP heads soft-aggregated by fuzzy memberships (PAPER_FACTS 1.6), and pairwise heads.

:class:`ClusterHeads` holds ``C`` independent MLPs evaluated in one batched pass (weights stacked
along a cluster axis). The regression output is ``sum_j U_ij f_j(h_i)``; the membership-weighted
spread of the heads ``sqrt(sum_j U_ij (f_j - y)^2)`` serves as an uncertainty. With ``C = 1`` and
``U = 1`` it is a single MLP (the CL / CL+T members).

Head shape (UNKNOWN in the paper): GENNAPE's k-GNN regressor MLP, ``n_layers`` linear layers of
width ``hidden`` with one ReLU in the middle, then ``Linear(hidden, 1)``.

:class:`PairwiseHeads` score "is ``a`` better than ``b``" from ``[h_a, h_b, h_a - h_b]``; the logit is
antisymmetrised, ``(g(a, b) - g(b, a)) / 2``, so ``P(a > b) = 1 - P(b > a)``; with ``C > 1`` the
cluster heads are weighted by the mean membership of the pair (the CL+Pairwise+FCM member).
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["ClusterHeads", "PairwiseHeads"]


class ClusterHeads(nn.Module):
    """``n_clusters`` MLPs ``d_in -> ... -> 1`` evaluated together.

    Args:
        d_in: Input width.
        n_clusters: Number of heads ``C``.
        hidden: Hidden width (32).
        n_layers: Hidden linear layers (4), one ReLU after the middle one.
    """

    def __init__(self, d_in: int, n_clusters: int = 1, hidden: int = 32, n_layers: int = 4) -> None:
        super().__init__()
        if n_clusters < 1 or n_layers < 1:
            raise ValueError(f"n_clusters and n_layers must be >= 1, got {n_clusters} and {n_layers}")
        dims = [d_in] + [hidden] * n_layers + [1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for a, b in zip(dims[:-1], dims[1:]):
            bound = 1.0 / math.sqrt(a)
            self.weights.append(nn.Parameter(torch.empty(n_clusters, a, b).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(n_clusters, 1, b).uniform_(-bound, bound)))
        self.relu_after = n_layers // 2 - 1
        self.n_clusters = n_clusters

    def all_heads(self, h: torch.Tensor) -> torch.Tensor:
        """Outputs of every head, ``(B, C)``."""
        x = h.unsqueeze(0).expand(self.n_clusters, -1, -1)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = torch.baddbmm(b, x, w)
            if i == self.relu_after:
                x = torch.relu(x)
        return x.squeeze(-1).T

    def forward(self, h: torch.Tensor, u: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Soft-aggregated output and head spread, both ``(B,)``.

        Args:
            h: Inputs ``(B, d_in)``.
            u: Memberships ``(B, C)`` (rows sum to 1); ``None`` means uniform.
        """
        f = self.all_heads(h)
        if u is None:
            u = torch.full_like(f, 1.0 / self.n_clusters)
        y = (u * f).sum(1)
        spread = ((u * (f - y.unsqueeze(1)) ** 2).sum(1)).clamp_min(0).sqrt()
        return y, spread


class PairwiseHeads(nn.Module):
    """Antisymmetric "a better than b" classifier on pair features, optionally per cluster."""

    def __init__(self, d_in: int, n_clusters: int = 1, hidden: int = 32, n_layers: int = 4) -> None:
        super().__init__()
        self.heads = ClusterHeads(3 * d_in, n_clusters, hidden, n_layers)

    def _raw(self, ha: torch.Tensor, hb: torch.Tensor, u: torch.Tensor | None) -> torch.Tensor:
        y, _ = self.heads(torch.cat([ha, hb, ha - hb], dim=1), u)
        return y

    def forward(
        self, ha: torch.Tensor, hb: torch.Tensor, ua: torch.Tensor | None = None, ub: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits of ``P(a > b)``, ``(P,)`` for ``P`` pairs."""
        u = None if ua is None or ub is None else 0.5 * (ua + ub)
        return 0.5 * (self._raw(ha, hb, u) - self._raw(hb, ha, u))
