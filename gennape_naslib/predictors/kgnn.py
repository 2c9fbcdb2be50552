"""GENNAPE's k-GNN demo regressor as a predictor, registered as ``"kgnn"`` (GENNAPE_FACTS 2.1-2.9).

The model: GENNAPE node embedding, 6 ``GraphConv`` layers of width 32 with tanh after each, mean
readout, the MLP ``Linear-Linear-ReLU-Linear-Linear`` and ``Linear(32 -> 1)``; MSE loss, Adam
(lr 1e-4, no weight decay), global gradient-norm clip 5, batch 32, 40 epochs.

Deviations, by design: the target is the z-scored accuracy (GENNAPE regresses the raw fraction), so
that percent and fraction inputs give the same model up to scale; predictions are always made in
``eval()`` mode under ``no_grad`` (GENNAPE evaluated fine-tuned models in train mode, a quirk); the
unused parameters of the demo are not created; no dev-set checkpoint selection (there is no dev set
in the predictor interface: the last epoch is kept).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

from gennape_naslib.predictors._inputs import warn_label_scale
from gennape_naslib.predictors.base import Predictor, check_is_fitted, check_xy, register_predictor
from gennape_naslib.predictors.gennape._train import check_integer, check_number, seeded, threads
from gennape_naslib.predictors.gennape.data import prepare
from gennape_naslib.predictors.gennape.encoder import encode_records
from gennape_naslib.predictors.gennape.hyperparameters import check_finetune_epochs
from gennape_naslib.predictors.gennape.regressor import KGNNModel, fit_regressor, predict_regressor

__all__ = ["KGNNModel", "KGNNPredictor", "fit_regressor", "predict_regressor"]


@register_predictor("kgnn")
class KGNNPredictor(Predictor):
    """GENNAPE's k-GNN regressor (see the module docstring).

    Args:
        hidden: Width of the embedding, the GNN layers and the MLP (32).
        n_layers: GNN layers (6).
        gnn: GNN layer type: ``GraphConv`` (default), ``GCNConv``, ``GINConv``, ``GATConv``, ``SAGEConv``.
        activation: Activation after every GNN layer (``"tanh"``).
        mlp_layers: Linear layers of the MLP before the output layer (4).
        epochs: Training epochs (40).
        batch_size: Training batch size (32).
        lr: Adam learning rate (1e-4).
        grad_clip: Global gradient-norm clip (5.0; 0 disables).
        weight_decay: Adam weight decay (0).
        finetune_epochs: Default epochs of :meth:`finetune` (100).
        finetune_batch_size: Batch size of :meth:`finetune` (GENNAPE: 1; default 4 for CPU time).
        num_threads: torch and BLAS threads during fit/predict (``None``: 1, usually fastest for small graphs).
        random_state: Seed of initialisation and batch order.
    """

    supports_std = False

    def __init__(
        self,
        hidden: int = 32,
        n_layers: int = 6,
        gnn: str = "GraphConv",
        activation: str = "tanh",
        mlp_layers: int = 4,
        epochs: int = 40,
        batch_size: int = 32,
        lr: float = 1e-4,
        grad_clip: float = 5.0,
        weight_decay: float = 0.0,
        finetune_epochs: int = 100,
        finetune_batch_size: int = 4,
        num_threads: int | None = None,
        random_state: int | None = None,
    ) -> None:
        self.hidden = hidden
        self.n_layers = n_layers
        self.gnn = gnn
        self.activation = activation
        self.mlp_layers = mlp_layers
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.grad_clip = grad_clip
        self.weight_decay = weight_decay
        self.finetune_epochs = finetune_epochs
        self.finetune_batch_size = finetune_batch_size
        self.num_threads = num_threads
        self.random_state = random_state

    def _build(self) -> KGNNModel:
        return KGNNModel(self.hidden, self.n_layers, self.gnn, self.activation, self.mlp_layers)

    def _check_params(self) -> None:
        """Check the numeric hyperparameters (``gnn`` and ``activation`` are checked when the model is built).

        Raises:
            ValueError: Naming the first invalid hyperparameter, what it accepts and the value given.
        """
        for name in ("hidden", "n_layers", "mlp_layers", "batch_size", "finetune_batch_size"):
            check_integer(name, getattr(self, name), 1)
        for name in ("epochs", "finetune_epochs"):
            check_integer(name, getattr(self, name), 0)
        check_number("lr", self.lr)
        check_number("grad_clip", self.grad_clip, strict=False)  # 0: no clipping
        check_number("weight_decay", self.weight_decay, strict=False)

    def fit(self, X: Any, y: Any, family: Any = None) -> KGNNPredictor:
        """Train from scratch on architectures ``X`` and accuracies ``y``; returns ``self``.

        Raises:
            ValueError: Before any training, if ``X`` and ``y`` are empty or of different lengths, or a
                hyperparameter is invalid (e.g. a negative ``epochs``, ``batch_size < 1``, ``lr <= 0``).
        """
        self._check_params()
        X, y = check_xy(X, y)
        records, _ = prepare(X, family)
        rng = np.random.default_rng(self.random_state)
        with threads(self.num_threads), seeded(self.random_state):
            model = self._build()
            mean, std = float(y.mean()), float(y.std()) or 1.0
            self.losses_ = fit_regressor(
                model, records, (y - mean) / std, self.epochs, self.batch_size, self.lr, self.grad_clip,
                self.weight_decay, rng,
            )  # fmt: skip
        self.model_, self.y_mean_, self.y_std_ = model, mean, std
        return self

    def finetune(self, X: Any, y: Any, epochs: int | None = None, family: Any = None) -> KGNNPredictor:
        """A copy fine-tuned on ``(X, y)`` (all weights, target scaling of the original kept); ``self`` is unchanged.

        ``y`` must be on the scale of the training labels: they are standardised with the training labels' mean and
        std.

        Warns:
            LabelScaleWarning: If ``y`` looks like fractions and the training labels like percent, or the reverse.

        Raises:
            ValueError: Before any fine-tuning, if ``X`` and ``y`` are empty or of different lengths, ``epochs`` is not
                ``None`` or an integer >= 0, or a hyperparameter is invalid.
        """
        check_is_fitted(self)
        self._check_params()
        check_finetune_epochs(epochs)
        X, y = check_xy(X, y)
        warn_label_scale(y, self.y_mean_, None, f"{type(self).__name__}.finetune")
        records, _ = prepare(X, family)
        new = copy.deepcopy(self)
        rng = np.random.default_rng(None if self.random_state is None else self.random_state + 1)
        with threads(self.num_threads), seeded(None if self.random_state is None else self.random_state + 1):
            new.losses_ = fit_regressor(
                new.model_, records, (y - self.y_mean_) / self.y_std_,
                self.finetune_epochs if epochs is None else epochs, self.finetune_batch_size, self.lr,
                self.grad_clip, self.weight_decay, rng,
            )  # fmt: skip
        return new

    def predict(self, X: Any, return_std: bool = False, family: Any = None) -> Any:
        """Predicted accuracies (same units as the training ``y``)."""
        if return_std:
            raise NotImplementedError("KGNNPredictor has no uncertainty; use GENNAPEPredictor for return_std")
        check_is_fitted(self)
        records, _ = prepare(X, family)
        with threads(self.num_threads), torch.no_grad():
            self.model_.eval()
            # node-class pass of the encoder (``encode_records``): same outputs as ``predict_regressor``
            # up to float rounding, several times faster on cell families
            emb = encode_records([self.model_.encoder], records)[0]
            z = self.model_.head(emb).squeeze(1).double().numpy()
        return z * self.y_std_ + self.y_mean_

    def _get_state(self) -> dict[str, Any]:
        return {
            "model": dict(self.model_.state_dict()),
            "y_mean": self.y_mean_,
            "y_std": self.y_std_,
            "losses": list(self.losses_),
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        model = self._build()
        model.load_state_dict({k: torch.as_tensor(v) for k, v in state["model"].items()})
        model.eval()
        self.model_, self.y_mean_, self.y_std_ = model, float(state["y_mean"]), float(state["y_std"])
        self.losses_ = [float(v) for v in state["losses"]]
