"""The k-GNN regressor network and its training and batched-inference loops.

Used by :class:`~gennape_naslib.predictors.kgnn.KGNNPredictor` and by the k-GNN member of
:class:`~gennape_naslib.predictors.gennape.GENNAPEPredictor`. It lives inside the ``gennape``
package so that the two predictor modules can be imported in either order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from gennape_naslib.predictors.gennape._train import WeightAverage, batch_indices, take
from gennape_naslib.predictors.gennape.data import collate
from gennape_naslib.predictors.gennape.encoder import INFER_BATCH, CGEncoder, make_mlp

__all__ = ["KGNNModel", "fit_regressor", "predict_regressor"]


class KGNNModel(nn.Module):
    """Embedding + GNN encoder + mean readout + MLP regressor, output ``(B,)``."""

    def __init__(
        self, hidden: int = 32, n_layers: int = 6, gnn: str = "GraphConv", activation: str = "tanh", mlp_layers: int = 4
    ) -> None:
        super().__init__()
        self.encoder = CGEncoder(hidden, n_layers, gnn, activation)
        self.head = make_mlp(hidden, hidden, 1, mlp_layers)

    def forward(self, batch: Any) -> torch.Tensor:
        """Predicted (z-scored) targets of a collated batch."""
        return self.head(self.encoder(batch)).squeeze(1)


def fit_regressor(
    model: nn.Module,
    records: list[Any],
    target: np.ndarray,
    epochs: int,
    batch_size: int,
    lr: float,
    grad_clip: float,
    weight_decay: float,
    rng: np.random.Generator,
    swa: float = 0.0,
) -> list[float]:
    """Train ``model`` with MSE on ``target`` (Adam, grad-norm clip); returns the mean loss per epoch
    (``swa``: share of the last epochs whose end-of-epoch weights are averaged, :class:`WeightAverage`)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    average = WeightAverage(list(model.parameters()), epochs, swa)
    t = torch.as_tensor(np.asarray(target, dtype=np.float32))
    losses = []
    model.train()
    for epoch in range(int(epochs)):
        total = 0.0
        for idx in batch_indices(len(records), batch_size, rng):
            batch = collate(take(records, idx))
            loss = nn.functional.mse_loss(model(batch), t[torch.from_numpy(idx)])
            opt.zero_grad()
            loss.backward()
            if grad_clip and grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            opt.step()
            total += loss.item() * len(idx)
        losses.append(total / len(records))
        average.epoch_end(epoch)
    average.apply()
    model.eval()
    return losses


@torch.no_grad()
def predict_regressor(model: nn.Module, records: list[Any], batch_size: int = INFER_BATCH) -> np.ndarray:
    """Model outputs for ``records`` in eval mode, float64 ``(n,)``."""
    model.eval()
    out = [model(collate(take(records, idx))) for idx in batch_indices(len(records), batch_size, None)]
    return torch.cat(out).double().numpy()
