"""The GENNAPE network: a shared CG encoder with the heads of the CL-based ensemble members.

Members built on the contrastively pretrained encoder (names used by ``members=``):

* ``"cl_fcm_t"``: per-cluster MLP heads on the FCM memberships, Eq. 5 target (CL+FCM+T);
* ``"cl_t"``: one MLP head, Eq. 5 target (CL+T);
* ``"cl_fcm"`` / ``"cl"``: the same without Eq. 5 (z-scored accuracy; ablation rows);
* ``"pair_fcm"`` / ``"pair"``: antisymmetric "which is better" classifiers with / without cluster heads;
* ``"pair_fcm_t"`` / ``"pair_t"``: the same classifiers ordering architectures by the Eq. 5 target instead
  of the accuracy (not in the paper, whose pairwise members have no "+T"; their win rate is read back
  as an Eq. 5 target and inverted with the architecture's FLOPs, see
  :func:`~gennape_naslib.predictors.gennape.finetuning.win_rate_target`).

Design choices (UNKNOWN in the paper, documented here): the members share one encoder, which is
trained jointly with all their heads after contrastive pretraining (sum of the members' losses: MSE
for regressors, binary cross-entropy over all pairs of a batch with different targets for
classifiers); FCM centroids are fitted once on the pretrained embeddings and memberships are always
computed from the current encoder against those fixed centroids (without gradient).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from gennape_naslib.predictors.gennape._train import WeightAverage, batch_indices, take
from gennape_naslib.predictors.gennape.contrastive import (
    ProjectionHead,
    contrastive_loss,
    spectral_weights,
    spectrum_of,
)
from gennape_naslib.predictors.gennape.data import collate
from gennape_naslib.predictors.gennape.encoder import INFER_BATCH, CGEncoder
from gennape_naslib.predictors.gennape.heads import ClusterHeads, PairwiseHeads

__all__ = ["CL_MEMBERS", "GENNAPENet", "memberships"]

#: Members served by :class:`GENNAPENet` and whether they use FCM / Eq. 5 / pairs.
CL_MEMBERS: dict[str, dict[str, bool]] = {
    "cl_fcm_t": {"fcm": True, "flops_t": True, "pair": False},
    "cl_t": {"fcm": False, "flops_t": True, "pair": False},
    "cl_fcm": {"fcm": True, "flops_t": False, "pair": False},
    "cl": {"fcm": False, "flops_t": False, "pair": False},
    "pair_fcm": {"fcm": True, "flops_t": False, "pair": True},
    "pair": {"fcm": False, "flops_t": False, "pair": True},
    "pair_fcm_t": {"fcm": True, "flops_t": True, "pair": True},
    "pair_t": {"fcm": False, "flops_t": True, "pair": True},
}


def memberships(h: torch.Tensor, centroids: torch.Tensor, m: float) -> torch.Tensor:
    """Eq. 2 memberships in torch (same formula as :func:`~gennape_naslib.predictors.gennape.fcm.fcm_memberships`)."""
    d2 = torch.cdist(h.double(), centroids.double()).pow(2).clamp_min(1e-300)
    return torch.softmax(-torch.log(d2) / (m - 1.0), dim=1).to(h.dtype)


def pair_order_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean logistic loss of the predictions' order over every pair of the batch whose targets differ:
    ``softplus(-(pred_i - pred_j) * sign(target_i - target_j))``, i.e. binary cross-entropy of the difference
    as the logit of "i is better" (a RankNet-style term; 0 when no pair differs)."""
    i, j = torch.triu_indices(len(target), len(target), offset=1)
    sign = torch.sign(target[i] - target[j])
    keep = sign != 0
    if not bool(keep.any()):
        return pred.new_zeros(())
    return nn.functional.softplus(-(pred[i] - pred[j])[keep] * sign[keep]).mean()


class GENNAPENet(nn.Module):
    """Encoder, projection head and the heads of the requested CL members.

    Args:
        members: Names from :data:`CL_MEMBERS`.
        n_clusters: FCM clusters ``C`` (heads per FCM member).
        hidden, n_layers, gnn, activation: Encoder settings (see :class:`CGEncoder`).
        head_hidden, head_layers: MLP head shape.
        proj_dim: Projection width ``p`` of the contrastive head.
        fcm_m: Fuzzifier used for memberships.
    """

    def __init__(
        self,
        members: list[str],
        n_clusters: int,
        hidden: int,
        n_layers: int,
        gnn: str,
        activation: str,
        head_hidden: int,
        head_layers: int,
        proj_dim: int,
        fcm_m: float,
    ) -> None:
        super().__init__()
        self.members = list(members)
        self.encoder = CGEncoder(hidden, n_layers, gnn, activation)
        self.proj = ProjectionHead(hidden, proj_dim)
        self.heads = nn.ModuleDict()
        for name in self.members:
            spec = CL_MEMBERS[name]
            c = n_clusters if spec["fcm"] else 1
            cls = PairwiseHeads if spec["pair"] else ClusterHeads
            self.heads[name] = cls(hidden, c, head_hidden, head_layers)
        self.register_buffer("centroids", torch.zeros(max(n_clusters, 1), hidden))
        self.fcm_m = fcm_m

    def uses_fcm(self) -> bool:
        """Whether any member needs memberships."""
        return any(CL_MEMBERS[m]["fcm"] for m in self.members)

    def member_u(self, name: str, h: torch.Tensor) -> torch.Tensor | None:
        """Memberships for an FCM member (``None`` otherwise)."""
        return memberships(h.detach(), self.centroids, self.fcm_m) if CL_MEMBERS[name]["fcm"] else None

    # ------------------------------------------------------------------ contrastive pretraining
    def pretrain(
        self,
        records: list[Any],
        epochs: int,
        batch_size: int,
        lr: float,
        dropout: float,
        temperature: float,
        weight_temperature: float,
        rng: np.random.Generator,
    ) -> list[float]:
        """Eq. 1 pretraining of encoder + projection on ``records``; returns the mean loss per epoch."""
        spectra = np.stack([spectrum_of(r) for r in records])
        params = list(self.encoder.parameters()) + list(self.proj.parameters())
        opt = torch.optim.Adam(params, lr=lr)
        losses = []
        self.train()
        for _ in range(int(epochs)):
            total, count = 0.0, 0
            for idx in batch_indices(len(records), batch_size, rng):
                if len(idx) < 2:
                    continue
                batch = collate(take(records, idx))
                z = self.proj(torch.cat([self.encoder(batch, dropout), self.encoder(batch, dropout)]))
                loss = contrastive_loss(z, spectral_weights(spectra[idx], weight_temperature), temperature)
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(params, 5.0)
                opt.step()
                total, count = total + loss.item() * len(idx), count + len(idx)
            losses.append(total / max(count, 1))
        self.eval()
        return losses

    # ------------------------------------------------------------------ supervised training
    def member_losses(
        self, batch: Any, targets: dict[str, torch.Tensor], y: torch.Tensor, rank_weight: float = 0.0
    ) -> torch.Tensor:
        """Sum of the members' losses on one batch (``targets``: z-scored target per member; the pairwise
        members without Eq. 5 order by the accuracy ``y``, those with it by their target). The regressors'
        loss is the MSE, plus ``rank_weight`` times :func:`pair_order_loss` of their predictions."""
        h = self.encoder(batch)
        total = h.new_zeros(())
        for name in self.members:
            head = self.heads[name]
            u = self.member_u(name, h)
            if CL_MEMBERS[name]["pair"]:
                order = targets[name] if CL_MEMBERS[name]["flops_t"] else y  # what "better" means
                i, j = torch.triu_indices(len(order), len(order), offset=1)
                keep = order[i] != order[j]
                if not bool(keep.any()):
                    continue
                i, j = i[keep], j[keep]
                logits = head(h[i], h[j], None if u is None else u[i], None if u is None else u[j])
                total = total + nn.functional.binary_cross_entropy_with_logits(logits, (order[i] > order[j]).float())
            else:
                pred, _ = head(h, u)
                total = total + nn.functional.mse_loss(pred, targets[name])
                if rank_weight:
                    total = total + rank_weight * pair_order_loss(pred, targets[name])
        return total

    def fit_heads(
        self,
        records: list[Any],
        targets: dict[str, np.ndarray],
        y: np.ndarray,
        epochs: int,
        batch_size: int,
        lr: float,
        rng: np.random.Generator,
        grad_clip: float = 5.0,
        swa: float = 0.0,
        rank_weight: float = 0.0,
    ) -> list[float]:
        """Joint training of encoder and member heads; returns the mean loss per epoch (``swa``: share of the
        last epochs whose end-of-epoch weights are averaged, :class:`WeightAverage`; ``rank_weight``: of the
        regressors' pair-order term, :meth:`member_losses`)."""
        t = {k: torch.as_tensor(np.asarray(v, dtype=np.float32)) for k, v in targets.items()}
        yt = torch.as_tensor(np.asarray(y, dtype=np.float32))
        params = list(self.encoder.parameters()) + list(self.heads.parameters())
        opt = torch.optim.Adam(params, lr=lr)
        average = WeightAverage(params, epochs, swa)
        losses = []
        self.train()
        for epoch in range(int(epochs)):
            total = 0.0
            for idx in batch_indices(len(records), batch_size, rng):
                sel = torch.from_numpy(idx)
                batch = collate(take(records, idx))
                loss = self.member_losses(batch, {k: v[sel] for k, v in t.items()}, yt[sel], rank_weight)
                if not loss.requires_grad:
                    continue
                opt.zero_grad()
                loss.backward()
                if grad_clip > 0:
                    nn.utils.clip_grad_norm_(params, grad_clip)
                opt.step()
                total += loss.item() * len(idx)
            losses.append(total / len(records))
            average.epoch_end(epoch)
        average.apply()
        self.eval()
        return losses

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def embed(self, records: list[Any], batch_size: int = INFER_BATCH) -> torch.Tensor:
        """Graph embeddings ``(n, hidden)`` in eval mode."""
        self.eval()
        return torch.cat(
            [self.encoder(collate(take(records, i))) for i in batch_indices(len(records), batch_size, None)]
        )

    @torch.no_grad()
    def outputs(self, h: torch.Tensor, anchors: torch.Tensor | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Raw member outputs from embeddings: regressors give ``(z-target, head spread)``, classifiers
        ``(mean P(x > anchor), std over anchors)``."""
        out = {}
        for name in self.members:
            head = self.heads[name]
            u = self.member_u(name, h)
            if CL_MEMBERS[name]["pair"]:
                if anchors is None or len(anchors) == 0:
                    raise ValueError("pairwise members need anchor embeddings")
                n, k = len(h), len(anchors)
                ua = self.member_u(name, anchors)
                ia = torch.arange(n).repeat_interleave(k)
                ib = torch.arange(k).repeat(n)
                p = torch.sigmoid(
                    head(h[ia], anchors[ib], None if u is None else u[ia], None if ua is None else ua[ib])
                )
                p = p.view(n, k)
                out[name] = (p.mean(1).double().numpy(), p.std(1, unbiased=False).double().numpy())
            else:
                pred, spread = head(h, u)
                out[name] = (pred.double().numpy(), spread.double().numpy())
        return out
