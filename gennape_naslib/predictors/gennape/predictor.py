"""``GENNAPEPredictor``: the GENNAPE method behind the predictor contract, registered as ``"gennape"``.

The default is the paper's 6-member ensemble (PAPER_FACTS 1.8): CL+FCM+T, CL+T, the two pairwise
classifiers (CL+Pairwise+FCM, CL+Pairwise), the k-GNN regressor and a FLOPs predictor. Members are
configurable (``members=``), e.g. ``("cl_fcm_t",)`` alone for a fast model.

How members are combined (UNKNOWN in the paper; chosen here so predictions stay pointwise, i.e. one
architecture's prediction never depends on what else is in ``X``): every member produces a raw score
(accuracy for regressors, the mean win probability against ``n_anchors`` stored training
architectures for classifiers, or with ``pair_anchors="family"`` against architectures of the predicted family's
reference sample, ``log10(GFLOPs)`` for the FLOPs member). Each score is standardised
with its mean and std over a reference sample of the family being predicted (``reference_size``
architectures drawn with ``family.sample`` under ``random_state``; the training set for
``ComputeGraph`` inputs), and the standardised scores are averaged with the member weights into
the ensemble score ``zc``. Weights after :meth:`~GENNAPEPredictor.fit` (``fit_weights``): equal by
default (the paper's zero-shot rule); ``"cv"`` (not the paper's; chosen on in-space NB-101 / NB-301,
``docs/results.md``) sets ``softmax(tau_m / kt_temperature)`` of each member's Kendall tau on
``cv_folds``-fold out-of-fold scores of the training data
(:mod:`~gennape_naslib.predictors.gennape.cv_weights`; about ``1 + 0.8 * cv_folds`` times the fit's
CPU time, equal weights below ``2 * cv_folds`` samples; predictions use the model fitted on all the
data); ``"cv_stack"`` non-negative stacking of the out-of-fold scores. After
:meth:`~GENNAPEPredictor.finetune` they are ``softmax(tau_m / kt_temperature)`` of each member's Kendall
tau on the fine-tuning samples (the paper). Option: ``zero_shot_weights="agreement"`` replaces the fit
weights of a predictor that has not been fine-tuned by label-free one-factor weights computed on the
reference sample of the predicted family
(:func:`~gennape_naslib.predictors.gennape.ensemble.agreement_weights`); ``fit_weights="agreement"`` stores
the agreement weights of the training family's reference sample (the training set for graphs).

Mapping ``zc`` to accuracy (``calibration``): ``"quantile"`` (default) is a rank-preserving quantile
map (:class:`~gennape_naslib.predictors.gennape.calibration.QuantileMap`): the empirical CDF of
``zc`` over the reference sample composed with the quantile function of the accuracy member's
(the first of ``cl_fcm_t``, ``cl_t``, ``cl_fcm``, ``cl``, ``kgnn`` in ``members``) predictions on
that same sample, interpolated between quantiles and continued linearly beyond them. Without a
family (``ComputeGraph`` inputs) the reference is the training set (at most 1,024 architectures,
evenly spaced in accuracy order, stored with the model) and the target is the training
accuracies; so it is with no accuracy member. After :meth:`~GENNAPEPredictor.finetune` the same
machinery uses the fine-tuned members, and the fine-tuning set when there is no family. The map
is strictly increasing, so rankings (Spearman, Kendall) are those of ``zc``. ``"linear"`` is the
earlier ``mean + std * zc`` with the accuracy member's mean and std on the reference sample; it is
also the fallback for files saved before the quantile map (state version 1) when no family is given.

``predict(X, return_std=True)`` returns a spread ``s`` in score units (the weighted spread of the
members around ``zc`` plus the membership-weighted spread of the FCM heads) mapped to accuracy as
``(f(zc + s) - f(zc - s)) / 2`` with ``f`` the map. :meth:`~GENNAPEPredictor.predict_members` maps
each member's standardised score through the same ``f``; as ``f`` is not linear, their weighted
mean is close to, not exactly, :meth:`~GENNAPEPredictor.predict` (exact with ``"linear"``).

Semi-supervised option (not the paper's; the paper pretrains on the training family's graphs):
``cl_unlabeled=N`` adds ``N`` architectures drawn with the family's sampler (``family.sample``,
no labels) to the contrastive pretraining and the FCM clustering, not to the supervised loss;
``fit(..., X_unlabeled=...)`` adds given architectures the same way. Default 0 (the paper's method).
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gennape_naslib.predictors._inputs import warn_label_scale
from gennape_naslib.predictors.base import Predictor, check_is_fitted, check_xy, register_predictor
from gennape_naslib.predictors.gennape._train import (
    apply_train_floor,
    check_integer,
    check_rank_weight,
    seeded,
    take,
    threads,
)
from gennape_naslib.predictors.gennape.align import Maps, check_embed_align, embedding_stats, maps
from gennape_naslib.predictors.gennape.calibration import LinearMap, QuantileMap
from gennape_naslib.predictors.gennape.cv_weights import out_of_fold_z, stack_weights, tau_weights
from gennape_naslib.predictors.gennape.data import GraphArrays, prepare, renormalised
from gennape_naslib.predictors.gennape.ensemble import agreement_weights
from gennape_naslib.predictors.gennape.fcm import fcm_fit
from gennape_naslib.predictors.gennape.finetuning import calibrated_copy, finetuned_copy, raw_scores
from gennape_naslib.predictors.gennape.hyperparameters import (
    check_calibration,
    check_finetune_epochs,
    check_hyperparameters,
    check_zero_shot_weights,
)
from gennape_naslib.predictors.gennape.model import CL_MEMBERS, GENNAPENet
from gennape_naslib.predictors.gennape.pool import unlabeled_pool
from gennape_naslib.predictors.gennape.regressor import KGNNModel, fit_regressor
from gennape_naslib.predictors.gennape.repeats import fit_repeats, mean_raw
from gennape_naslib.predictors.gennape.state import get_state, set_state
from gennape_naslib.predictors.gennape.target import TargetTransform
from gennape_naslib.predictors.spread import spread_scale

__all__ = ["ALL_MEMBERS", "DEFAULT_MEMBERS", "FAST_MEMBERS", "GENNAPEPredictor", "PAIR_ANCHORS"]

DEFAULT_MEMBERS = ("cl_fcm_t", "cl_t", "pair_fcm", "pair", "kgnn", "flops")
FAST_MEMBERS = ("cl_fcm_t",)
ALL_MEMBERS = (*CL_MEMBERS, "kgnn", "flops")
#: What the plain pairwise members compare against (``pair_anchors``).
PAIR_ANCHORS = ("train", "family")
#: Per-family caches of a fitted model (reference samples, their statistics and agreement weights).
_FAMILY_CACHES = ("_ref_cache", "_ref_raw_cache", "_agree_cache", "_sample_cache", "_align_cache")
#: Hyperparameters those caches depend on: :meth:`GENNAPEPredictor.set_params` empties them when one changes.
_FAMILY_CACHE_PARAMS = frozenset(
    {"pair_anchors", "n_anchors", "reference_size", "random_state", "res_norm", "embed_align"}
)
PRETRAINED = Path(__file__).resolve().parent / "pretrained" / "nb201_c10.npz"
_TRAIN_REF_MAX = 1024


@register_predictor("gennape")
class GENNAPEPredictor(Predictor):
    """GENNAPE (Mills et al., AAAI-23) as an ensemble predictor; see the module docstring.

    Args:
        members: Ensemble members, from ``"cl_fcm_t"``, ``"cl_t"``, ``"cl_fcm"``, ``"cl"``,
            ``"pair_fcm"``, ``"pair"``, ``"pair_fcm_t"``, ``"pair_t"`` (pairwise on the Eq. 5 target; not
            the paper's), ``"kgnn"``, ``"flops"``.
        hidden: Embedding width ``e`` and GNN width (32; UNKNOWN for the CL encoder, k-GNN value).
        n_layers: GNN layers (6).
        gnn: GNN layer type (``GraphConv``; also ``GCNConv``, ``GINConv``, ``GATConv``, ``SAGEConv``).
        activation: Activation after each GNN layer (``"tanh"``).
        cl_epochs: Contrastive pretraining epochs (UNKNOWN; 10).
        cl_batch_size: Contrastive batch size (UNKNOWN, "large"; 64).
        cl_lr: Contrastive Adam learning rate (UNKNOWN; 1e-3).
        cl_dropout: Dropout making the two views (UNKNOWN; 0.1).
        cl_temperature: ``tau`` of Eq. 1 (UNKNOWN; 0.1).
        cl_weight_temperature: Temperature of the spectral soft-positive weights (UNKNOWN; 0.05 as SDM).
        cl_proj_dim: Projection width ``p`` (UNKNOWN; 16).
        cl_max_graphs: At most this many training graphs are used for pretraining (CPU time; 1024).
        cl_unlabeled: Extra architectures drawn with the family's sampler (no labels) that join the
            contrastive pretraining and the FCM clustering, not the supervised loss (0: the paper's
            method; a semi-supervised extension otherwise; ignored with a warning without a family).
        n_clusters: FCM clusters ``C`` (UNKNOWN; 4).
        fcm_m: FCM fuzzifier (2.0).
        fcm_max_iter: FCM iteration cap (300; tolerance 1e-9 as in the paper).
        head_hidden: MLP head width (32).
        head_layers: MLP head depth (4, the k-GNN MLP).
        epochs: Supervised epochs of the CL members and the k-GNN member. ``None`` (default): the paper's 40,
            raised on small training sets so that training takes at least ``min_steps`` batches (100
            architectures at batch 32: 200 epochs); an integer is used as given.
        min_steps: Least number of supervised batches when ``epochs=None`` (800). The paper's 40 epochs
            under-train 100 architectures (160 batches); 800 batches there and ``kgnn_lr=1e-3`` were chosen
            on in-space NB-101 / NB-301 in two rounds (``docs/data/dev_hparams/PROTOCOL.md``).
        batch_size: Supervised batch size (32).
        lr: Supervised Adam learning rate (UNKNOWN for CL members; 1e-3).
        kgnn_lr: Adam learning rate of the k-GNN member (1e-3; GENNAPE's demo: 1e-4).
        grad_clip: Global gradient-norm clip (5.0).
        swa: Share of the last supervised epochs of :meth:`fit` whose end-of-epoch weights are averaged
            (stochastic weight averaging, for the CL members' joint training and the k-GNN member; not the
            paper's). 0 (off) is the default: round 8 of the development study
            (``docs/data/dev_hparams/PROTOCOL.md``) found no gain. Fine-tuning does not average.
        rank_weight: Weight of a pair-order term added to the CL regressors' MSE in :meth:`fit` (the logistic
            loss of the order of every pair of a batch, :func:`.model.pair_order_loss`;
            not the paper's, whose heads train on the MSE alone). 1 (default; chosen on in-space NB-101 / NB-301
            in round 10 of ``docs/data/dev_hparams/PROTOCOL.md``); 0 is the paper's loss. Fine-tuning and the
            k-GNN member keep the MSE; files saved before the option load with 0 (how they were trained). The
            shipped pretrained model uses 0: a model trained on NB-201 with 1 transferred much worse zero-shot
            (``docs/results.md``, round 10), so fit with 0 for zero-shot use of an NB-201 model.
        finetune_epochs: Default epochs of :meth:`finetune` (100).
        finetune_batch_size: Fine-tuning batch size (GENNAPE: 1; 4 here for CPU time and to form pairs).
        finetune_lr: Fine-tuning learning rate of every member (``None``: ``lr``, i.e. 1e-3; chosen on 50-shot
            NB-101 from the shipped model, ``docs/data/dev_hparams/PROTOCOL.md``; before: ``kgnn_lr`` for the
            k-GNN and ``lr / 10`` for the rest, 1e-4 for the shipped model).
        finetune_offset: Not the paper's (``False``: its plain fine-tune). ``True`` (default; chosen on 50-shot
            NB-101 from the shipped model, ``docs/data/spread/PROTOCOL.md`` S4) removes a fine-tuned copy's median
            error on its shots from its predictions (``mean_offset_``, a constant: rankings are unchanged); with
            a small batch the last fine-tuning steps leave each copy at its own offset.
        n_anchors: Architectures the pairwise members compare against (16).
        pair_anchors: What the plain pairwise members (``pair_fcm``, ``pair``) compare against: ``"train"``
            (default; ``n_anchors`` training architectures evenly spaced in accuracy) or ``"family"`` (not the
            paper's, whose pairwise scoring is UNKNOWN): when the predicted family is known, the first
            ``n_anchors`` architectures of its reference sample (drawn without labels), so every compared pair
            is from one family; without a family (graph inputs) the training anchors. Predictions stay
            pointwise; the ``pair_t`` members keep the training anchors, whose targets they read back.
        res_norm: Normalisation of the six resolution features of every node: ``"fixed"`` (default, GENNAPE's: H and
            W divided by 256, channels by 512) or ``"graph"`` (not the paper's): each graph's H, W and channel
            columns divided by that graph's own maxima, in training and prediction alike, so that families of
            other input sizes and widths (NB-201: channels up to 64; NB-101 / NB-301: 512; OFA-MBv3: 1,280) give
            inputs in one range (:func:`~gennape_naslib.predictors.gennape.data.renormalised`; round 12 of
            ``docs/data/dev_hparams/PROTOCOL.md``).
        embed_align: Zero-shot alignment of graph embeddings (not the paper's): ``"none"`` (default), ``"mean"`` or
            ``"moments"``. When the predicted family is known and is not the training family, each encoder's
            embeddings are mapped before the heads so that the family's reference sample has the training set's
            mean (and std) in every dimension (:mod:`~gennape_naslib.predictors.gennape.align`; round 15 of
            ``docs/data/dev_hparams/PROTOCOL.md``). Label-free and prediction-time only (every fit stores the
            training set's statistics, one extra embedding pass, so any fitted model can switch); fine-tuned copies
            do not align (``"none"``).
        train_floor: Training labels below this value are dropped before anything else is fitted (contrastive
            pretraining, FCM, Eq. 5's z-score, every member); ``None`` (default) keeps every label. The paper
            removes NB-101 architectures below 80 % accuracy (failed trainings) before Eq. 5; the shipped model is
            trained on the NB-201 cells at or above 80 (round 16 of ``docs/data/dev_hparams/PROTOCOL.md``). On the
            labels' own scale (80 for percent, 0.8 for fractions); at least two labels must remain. The number
            dropped is ``n_train_dropped_``.
        kt_temperature: Temperature of the softmax over members' Kendall tau after fine-tuning (UNKNOWN; 0.1).
        finetune_weights: Which Kendall taus set the member weights after :meth:`finetune`: ``"shots"`` (default)
            those of the members' scores of the fine-tuning samples after fine-tuning on them (the paper: "tau on
            the fine-tuning samples"; in-sample), or ``"cv"``: out-of-fold scores from ``cv_folds`` further
            fine-tunes that each leave one fold of the samples out (``1 + cv_folds`` times the CPU of one
            fine-tune; the same fine-tuned networks, other weights; with fewer than ``2 * cv_folds`` samples as
            ``"shots"``). Round 18 of ``docs/data/dev_hparams/PROTOCOL.md``.
        reference_size: Family sample size for standardising member scores (256).
        calibration: ``"quantile"`` (rank-preserving quantile map of the ensemble score to accuracy)
            or ``"linear"`` (``mean + std * score``); see the module docstring.
        zero_shot_weights: ``"equal"`` (the paper) or ``"agreement"`` (label-free one-factor weights on
            the family's reference sample; used until :meth:`finetune` sets Kendall-tau weights).
        fit_weights: Member weights after :meth:`fit`: ``"equal"`` (default, the paper), ``"agreement"``
            (label-free one-factor weights on the training family's reference sample), ``"cv"``
            (``softmax(tau / kt_temperature)`` of each member's out-of-fold Kendall tau on the
            training data; chosen on in-space NB-101 and NB-301 by the rule in ``docs/results.md``)
            or ``"cv_stack"`` (non-negative stacking of the out-of-fold scores).
            The cross-validated ones cost about ``1 + 0.8 * cv_folds`` fits; with fewer than
            ``2 * cv_folds`` training samples they fall back to equal weights.
        cv_folds: Folds of ``fit_weights="cv"`` / ``"cv_stack"`` (5).
        n_repeats: Independently trained copies of the model whose raw member scores are averaged (1: one
            model, the paper; a deep ensemble otherwise, costing ``n_repeats`` times the CPU;
            :mod:`~gennape_naslib.predictors.gennape.repeats`).
        num_threads: torch and BLAS threads (``None``: 1, usually fastest for small graphs).
        random_state: Seed of every random choice.
    """

    supports_std = True

    def __init__(
        self,
        members: tuple[str, ...] | list[str] = DEFAULT_MEMBERS,
        hidden: int = 32,
        n_layers: int = 6,
        gnn: str = "GraphConv",
        activation: str = "tanh",
        cl_epochs: int = 10,
        cl_batch_size: int = 64,
        cl_lr: float = 1e-3,
        cl_dropout: float = 0.1,
        cl_temperature: float = 0.1,
        cl_weight_temperature: float = 0.05,
        cl_proj_dim: int = 16,
        cl_max_graphs: int = 1024,
        cl_unlabeled: int = 0,
        n_clusters: int = 4,
        fcm_m: float = 2.0,
        fcm_max_iter: int = 300,
        head_hidden: int = 32,
        head_layers: int = 4,
        epochs: int | None = None,
        min_steps: int = 800,
        batch_size: int = 32,
        lr: float = 1e-3,
        kgnn_lr: float = 1e-3,
        grad_clip: float = 5.0,
        swa: float = 0.0,
        rank_weight: float = 1.0,
        finetune_epochs: int = 100,
        finetune_batch_size: int = 4,
        finetune_lr: float | None = None,
        finetune_offset: bool = True,
        n_anchors: int = 16,
        pair_anchors: str = "train",
        res_norm: str = "fixed",
        embed_align: str = "none",
        train_floor: float | None = None,
        kt_temperature: float = 0.1,
        finetune_weights: str = "shots",
        reference_size: int = 256,
        zero_shot_weights: str = "equal",
        calibration: str = "quantile",
        fit_weights: str = "equal",
        cv_folds: int = 5,
        n_repeats: int = 1,
        num_threads: int | None = None,
        random_state: int | None = None,
    ) -> None:
        self.members = members
        self.hidden = hidden
        self.n_layers = n_layers
        self.gnn = gnn
        self.activation = activation
        self.cl_epochs = cl_epochs
        self.cl_batch_size = cl_batch_size
        self.cl_lr = cl_lr
        self.cl_dropout = cl_dropout
        self.cl_temperature = cl_temperature
        self.cl_weight_temperature = cl_weight_temperature
        self.cl_proj_dim = cl_proj_dim
        self.cl_max_graphs = cl_max_graphs
        self.cl_unlabeled = cl_unlabeled
        self.n_clusters = n_clusters
        self.fcm_m = fcm_m
        self.fcm_max_iter = fcm_max_iter
        self.head_hidden = head_hidden
        self.head_layers = head_layers
        self.epochs = epochs
        self.min_steps = min_steps
        self.batch_size = batch_size
        self.lr = lr
        self.kgnn_lr = kgnn_lr
        self.grad_clip = grad_clip
        self.swa = swa
        self.rank_weight = rank_weight
        self.finetune_epochs = finetune_epochs
        self.finetune_batch_size = finetune_batch_size
        self.finetune_lr = finetune_lr
        self.finetune_offset = finetune_offset
        self.n_anchors = n_anchors
        self.pair_anchors = pair_anchors
        self.res_norm = res_norm
        self.embed_align = embed_align
        self.train_floor = train_floor
        self.kt_temperature = kt_temperature
        self.finetune_weights = finetune_weights
        self.reference_size = reference_size
        self.zero_shot_weights = zero_shot_weights
        self.calibration = calibration
        self.fit_weights = fit_weights
        self.cv_folds = cv_folds
        self.n_repeats = n_repeats
        self.num_threads = num_threads
        self.random_state = random_state

    # ------------------------------------------------------------------ helpers
    @classmethod
    def pretrained(cls) -> GENNAPEPredictor:
        """The shipped model, trained on NB-201 (CIFAR-10) by ``scripts/train_pretrained.py``: on 90 % of the cells
        >= 80 %, the best of 5 seeds on the other 10 % (the paper's filter and model selection).

        Raises:
            FileNotFoundError: If the package was installed without the model file.
        """
        if not PRETRAINED.is_file():
            raise FileNotFoundError(
                f"the pretrained GENNAPE model is missing: {PRETRAINED}; run scripts/train_pretrained.py"
            )
        return cls.load(PRETRAINED)

    def _checked_members(self) -> list[str]:
        members = [self.members] if isinstance(self.members, str) else list(self.members)
        bad = [m for m in members if m not in ALL_MEMBERS]
        if not members or bad or len(set(members)) != len(members):
            raise ValueError(f"members must be distinct names among {ALL_MEMBERS}, got {self.members!r}")
        return members

    def _seed(self, offset: int) -> int | None:
        return None if self.random_state is None else int(self.random_state) + offset

    def _prepare(self, X: Any, family: Any = None) -> tuple[list[GraphArrays], str | None]:
        """:func:`~gennape_naslib.predictors.gennape.data.prepare` with the resolution features under ``res_norm``."""
        records, fam = prepare(X, family)
        return renormalised(records, self.res_norm), fam

    def _net(self, members: list[str], n_clusters: int) -> GENNAPENet:
        return GENNAPENet(
            [m for m in members if m in CL_MEMBERS], n_clusters, self.hidden, self.n_layers, self.gnn,
            self.activation, self.head_hidden, self.head_layers, self.cl_proj_dim, self.fcm_m,
        )  # fmt: skip

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, y: Any, family: Any = None, X_unlabeled: Any = None) -> GENNAPEPredictor:
        """Pretrain, cluster and train every member on architectures ``X`` with accuracies ``y``; returns ``self``.

        Args:
            X: Training architectures (family ``Arch`` objects, ``ComputeGraph`` objects or NASLib graphs).
            y: Their accuracies.
            family: Family name or adapter when ``X`` does not identify it.
            X_unlabeled: Optional architectures without labels (same kind as ``X``) that join the
                contrastive pretraining and the FCM clustering only (semi-supervised; see ``cl_unlabeled``).

        Raises:
            ValueError: Before any training, if ``X`` and ``y`` are empty or of different lengths, a member name is
                unknown, or a hyperparameter is invalid (:func:`.hyperparameters.check_hyperparameters`; e.g. a
                ``fit_weights``, ``calibration``, ``zero_shot_weights`` or ``finetune_weights`` not among its
                choices, a negative ``epochs``, ``n_clusters < 1``, a learning rate or ``kt_temperature`` that is not
                > 0, ``cv_folds < 2`` with cross-validated weights, ``swa`` not in ``[0, 1]``), or ``train_floor``
                is not ``None`` or a finite number or leaves fewer than two labels.
        """
        members = self._checked_members()
        check_hyperparameters(self)
        X, y, self.n_train_dropped_ = apply_train_floor(self.train_floor, *check_xy(X, y))
        rank_weight = check_rank_weight(self.rank_weight)
        records, fam = self._prepare(X, family)
        gflops = np.array([r.gflops for r in records])
        rng = np.random.default_rng(self.random_state)
        cl = [m for m in members if m in CL_MEMBERS]
        n_clusters = max(1, min(int(self.n_clusters), len(records)))
        transforms = {True: TargetTransform(True).fit(y, gflops), False: TargetTransform(False).fit(y, gflops)}
        self.history_: dict[str, list[float]] = {}
        self.epochs_ = self.resolved_epochs(len(records))
        with threads(self.num_threads), seeded(self.random_state):
            net = self._net(members, n_clusters)
            if cl:
                pool = renormalised(unlabeled_pool(fam, self.cl_unlabeled, self._seed(13), X_unlabeled), self.res_norm)
                pre = rng.permutation(len(records))[: max(2, int(self.cl_max_graphs))]
                self.history_["contrastive"] = net.pretrain(
                    take(records, pre) + pool, self.cl_epochs, self.cl_batch_size, self.cl_lr, self.cl_dropout,
                    self.cl_temperature, self.cl_weight_temperature, rng,
                )  # fmt: skip
                if net.uses_fcm():
                    h = net.embed(records + pool).double().numpy()
                    centroids, _, _ = fcm_fit(h, n_clusters, self.fcm_m, 1e-9, self.fcm_max_iter, self._seed(7))
                    net.centroids.copy_(torch.as_tensor(centroids, dtype=torch.float32))
                targets = {m: transforms[CL_MEMBERS[m]["flops_t"]].transform(y, gflops) for m in cl}
                self.history_["heads"] = net.fit_heads(
                    records, targets, y, self.epochs_, self.batch_size, self.lr, rng, self.grad_clip,
                    swa=self.swa, rank_weight=rank_weight,
                )  # fmt: skip
            kgnn = None
            if "kgnn" in members:
                kgnn = KGNNModel(self.hidden, self.n_layers, self.gnn, self.activation, self.head_layers)
                self.history_["kgnn"] = fit_regressor(
                    kgnn, records, transforms[False].transform(y, gflops), self.epochs_, self.batch_size,
                    self.kgnn_lr, self.grad_clip, 0.0, rng, self.swa,
                )  # fmt: skip
        self.members_ = members
        self.net_, self.kgnn_ = net, kgnn
        self.transforms_ = transforms
        self.train_family_ = fam
        with threads(self.num_threads):
            self.embed_stats_ = embedding_stats(self, records)
        self._choose_anchors(records, y)
        self.weights_ = np.full(len(members), 1.0 / len(members))
        self.member_tau_ = np.full(len(members), np.nan)
        self.y_mean_, self.y_std_ = float(y.mean()), float(y.std()) or 1.0
        self._drop_family_caches()
        self.std_scale_, self.mean_offset_ = 1.0, 0.0
        self.repeats_ = fit_repeats(self, list(X), y, family, X_unlabeled)
        raw = self._score_training_set(records, y)
        self.cv_tau_, self.cv_oof_z_, self.cv_cpu_s_ = None, None, 0.0
        if self.fit_weights == "agreement":  # label-free, on the family's reference sample (else the training set)
            if fam is not None and self.reference_size > 0:
                self._reference(fam)  # computes the family's agreement weights with its statistics
                self.weights_ = np.array(self.__dict__["_agree_cache"][fam])
            else:
                self.weights_ = self._agreement({m: s for m, (s, _) in raw.items()})
        elif self.fit_weights.startswith("cv") and len(y) >= 2 * int(self.cv_folds):  # else: equal weights
            self.cv_oof_z_, self.cv_cpu_s_ = out_of_fold_z(self, list(X), y, family, X_unlabeled, int(self.cv_folds))
            self.cv_tau_, w = tau_weights(self.cv_oof_z_, y, self.kt_temperature)
            self.weights_ = w if self.fit_weights == "cv" else stack_weights(self.cv_oof_z_, y)
        return self

    def _score_training_set(
        self, records: list[GraphArrays], y: np.ndarray
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Score the training set: its member statistics (``train_stats_``) and the quantile map's training
        reference (``train_ref_``); returns the raw member scores."""
        raw = self._raw(records)
        self.train_stats_, self.train_ref_ = self._stats(raw), self._train_ref(raw, y)
        return raw

    def _uncached_copy(self) -> GENNAPEPredictor:
        """A shallow copy of this fitted model (sharing its networks) whose caches of family reference samples
        start empty, for a copy that changes what they depend on (its copies, its anchors)."""
        out = copy.copy(self)
        out._drop_family_caches()  # the shallow copy's caches are shared dicts
        return out

    def _drop_family_caches(self) -> None:
        for cache in _FAMILY_CACHES:
            self.__dict__.pop(cache, None)

    def set_params(self, **params: Any) -> GENNAPEPredictor:
        """Set hyperparameters by name; returns ``self``. Changing one that the cached family reference samples
        depend on (``pair_anchors``, ``n_anchors``, ``reference_size``, ``res_norm``, ``embed_align``,
        ``random_state``) empties those caches, so a fitted model's next prediction uses the new setting throughout.

        Raises:
            ValueError: If a name is not a hyperparameter of this predictor.
        """
        super().set_params(**params)
        if _FAMILY_CACHE_PARAMS.intersection(params):
            self._drop_family_caches()
        return self

    def _choose_anchors(self, records: list[GraphArrays], y: np.ndarray) -> None:
        """The pairwise members' anchors: ``n_anchors`` training architectures evenly spaced in accuracy order
        (``anchors_``), and their sorted Eq. 5 targets (``anchor_t_``, read by ``pair_t`` members)."""
        order = np.argsort(y, kind="stable")
        pick = np.linspace(0, len(order) - 1, max(1, min(int(self.n_anchors), len(order)))).round().astype(int)
        idx = np.unique(order[pick])
        self.anchors_ = take(records, idx)
        self.anchor_t_ = np.sort(self.transforms_[True].transform(y, np.array([r.gflops for r in records]))[idx])

    def resolved_epochs(self, n: int) -> int:
        """Supervised epochs a fit on ``n`` architectures runs: ``epochs``, or with ``epochs=None`` the paper's
        40 raised to ``ceil(min_steps / batches per epoch)``.

        Raises:
            ValueError: If ``epochs`` is not ``None`` or an integer >= 0.
        """
        if self.epochs is not None:
            return check_integer("epochs", self.epochs, 0)
        batches = max(1, math.ceil(n / max(1, int(self.batch_size))))
        return max(40, math.ceil(int(self.min_steps) / batches))

    @staticmethod
    def _train_ref(raw: dict[str, tuple[np.ndarray, np.ndarray]], y: np.ndarray) -> dict[str, Any]:
        """At most ``_TRAIN_REF_MAX`` training rows, evenly spaced in accuracy order: raw scores and ``y``."""
        order = np.argsort(y, kind="stable")
        if len(order) > _TRAIN_REF_MAX:
            order = order[np.linspace(0, len(order) - 1, _TRAIN_REF_MAX).round().astype(int)]
        return {"raw": {m: np.asarray(s[order], dtype=np.float64) for m, (s, _) in raw.items()},
                "y": np.asarray(y, dtype=np.float64)[order]}  # fmt: skip

    # ------------------------------------------------------------------ members' raw scores
    def _raw(self, records: list[GraphArrays], family: str | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per member: (score, spread) arrays in the member's own units (the mean over ``n_repeats`` copies);
        ``family`` (a name) sets the pairwise members' anchors with ``pair_anchors="family"``."""
        anchors = self._family_anchors(family)
        models = [self, *getattr(self, "repeats_", [])]
        return mean_raw([raw_scores(m, records, anchors, self._align_maps(family, k)) for k, m in enumerate(models)])

    def _align_maps(self, family: str | None, k: int = 0) -> Maps | None:
        """The embedding maps of copy ``k`` for ``family`` under ``embed_align`` (``None``: no mapping; module
        :mod:`~gennape_naslib.predictors.gennape.align`).

        Raises:
            ValueError: If ``embed_align`` is unknown, or alignment is asked of a model saved without
                embedding statistics.
        """
        mode = check_embed_align(self.embed_align)
        if mode == "none" or family is None or self.reference_size <= 0:
            return None
        if family == getattr(self, "train_family_", None):
            return None
        model = self if k == 0 else self.repeats_[k - 1]
        source = getattr(model, "embed_stats_", None)
        if source is None:
            raise ValueError(
                f"embed_align={mode!r} needs the training set's embedding statistics, which this model does not "
                "have (saved before state version 8); refit it, or for a model trained on NB-201 add them with "
                "scripts/train_pretrained.py --add-embed-stats MODEL --out PATH"
            )
        cache = self.__dict__.setdefault("_align_cache", {})
        if (family, k) not in cache:
            with threads(self.num_threads):
                cache[(family, k)] = maps(source, embedding_stats(model, self._family_sample(family)), mode)
        return cache[(family, k)]

    def _check_pair_anchors(self) -> None:
        if self.pair_anchors not in PAIR_ANCHORS:
            raise ValueError(f"pair_anchors must be one of {PAIR_ANCHORS}, got {self.pair_anchors!r}")

    def _family_sample(self, family: str) -> list[GraphArrays]:
        """The records of ``family``'s reference sample (``reference_size`` architectures drawn with the family's
        sampler under ``random_state``; cached)."""
        cache = self.__dict__.setdefault("_sample_cache", {})
        if family not in cache:
            from gennape_naslib.predictors.base import resolve_family

            adapter = resolve_family(family)
            rng = np.random.default_rng(self._seed(11))
            cache[family] = self._prepare([adapter.sample(rng) for _ in range(int(self.reference_size))], adapter)[0]
        return cache[family]

    def _family_anchors(self, family: str | None) -> list[GraphArrays] | None:
        """The plain pairwise members' anchors for ``family`` with ``pair_anchors="family"`` (the first
        ``n_anchors`` of its reference sample); ``None`` (the training anchors) otherwise."""
        self._check_pair_anchors()
        if self.pair_anchors == "train" or family is None or self.reference_size <= 0:
            return None
        if not any(CL_MEMBERS.get(m, {}).get("pair") for m in self.members_):
            return None
        return self._family_sample(family)[: max(1, int(self.n_anchors))]

    @staticmethod
    def _stats(raw: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, tuple[float, float]]:
        return {m: (float(s.mean()), float(s.std()) if s.std() > 1e-12 else 1.0) for m, (s, _) in raw.items()}

    def _reference(self, family: str | None) -> dict[str, tuple[float, float]]:
        if family is None or self.reference_size <= 0:
            return self.train_stats_
        cache = self.__dict__.setdefault("_ref_cache", {})
        if family not in cache:
            records = self._family_sample(family)
            with threads(self.num_threads):
                raw = self._raw(records, family)
            cache[family] = self._stats(raw)
            scores = {m: s for m, (s, _) in raw.items()}
            self.__dict__.setdefault("_ref_raw_cache", {})[family] = scores
            self.__dict__.setdefault("_agree_cache", {})[family] = self._agreement(scores)
        return cache[family]

    def _agreement(self, scores: dict[str, np.ndarray]) -> np.ndarray:
        """Label-free one-factor member weights of raw member ``scores`` on one sample."""
        anchor = self.members_.index(self._acc_member() or self.members_[0])
        return agreement_weights(np.stack([scores[m] for m in self.members_]), anchor=anchor)

    def _acc_member(self) -> str | None:
        return next((m for m in self.members_ if m != "flops" and not CL_MEMBERS.get(m, {}).get("pair")), None)

    def member_weights(self, family: Any = None) -> np.ndarray:
        """The member weights :meth:`predict` uses for ``family`` (order of ``members_``).

        Kendall-tau weights after :meth:`finetune`; otherwise the weights of :meth:`fit` (equal, or
        cross-validated with ``fit_weights="cv"`` / ``"cv_stack"``), replaced with
        ``zero_shot_weights="agreement"`` by the label-free weights of the family's reference sample.

        Raises:
            ValueError: If ``zero_shot_weights`` is not ``"equal"`` or ``"agreement"``.
        """
        check_is_fitted(self)
        if check_zero_shot_weights(self.zero_shot_weights) == "equal" or np.isfinite(self.member_tau_).any():
            return self.weights_
        name = getattr(family, "name", family)
        if name is None or self.reference_size <= 0:
            return self.weights_
        self._reference(name)
        return self.__dict__["_agree_cache"][name]

    # ------------------------------------------------------------------ predict
    def _member_z(self, X: Any, family: Any) -> tuple[np.ndarray, np.ndarray, str | None]:
        """Standardised member scores and spreads ``(M, n)`` and the family name."""
        check_is_fitted(self)
        records, fam = self._prepare(X, family)
        with threads(self.num_threads):
            raw = self._raw(records, fam)
        ref = self._reference(fam)
        z = np.stack([(raw[m][0] - ref[m][0]) / ref[m][1] for m in self.members_])
        zs = np.stack([raw[m][1] / ref[m][1] for m in self.members_])
        return z, zs, fam

    def calibration_map(self, family: Any = None, weights: np.ndarray | None = None) -> LinearMap | QuantileMap:
        """The map from the ensemble score to accuracy used for ``family`` (module docstring).

        Args:
            family: Family name or adapter (``None``: the training set is the reference).
            weights: Member weights (default :meth:`member_weights` of ``family``).

        Raises:
            ValueError: If ``calibration`` is not ``"quantile"`` or ``"linear"``.
        """
        check_is_fitted(self)
        check_calibration(self.calibration)
        name = getattr(family, "name", family)
        use_family = name is not None and self.reference_size > 0
        ref = self._reference(name if use_family else None)
        acc_member = self._acc_member()
        linear = LinearMap(*(ref[acc_member] if acc_member else (self.y_mean_, self.y_std_)))
        train_ref = getattr(self, "train_ref_", None)
        if self.calibration == "linear" or (not use_family and train_ref is None):
            return linear
        w = self.member_weights(name) if weights is None else np.asarray(weights, dtype=np.float64)
        if use_family:
            sample = self.__dict__["_ref_raw_cache"][name]
            if acc_member:
                target = sample[acc_member]
            elif train_ref is not None:
                target = train_ref["y"]
            else:  # no accuracy member and a file without the training reference
                return linear
        else:
            sample, target = train_ref["raw"], train_ref["y"]
        zc = w @ np.stack([(sample[m] - ref[m][0]) / ref[m][1] for m in self.members_])
        return QuantileMap(zc, target)

    def predict(self, X: Any, return_std: bool = False, family: Any = None) -> Any:
        """Predicted accuracies (units of the training ``y``); with ``return_std`` also a spread (module docstring).

        Zero-shot values on another family are scores on an accuracy-like scale, meaningful for ranking, not
        calibrated accuracies: ``calibration`` maps the ensemble score through the model's own predictions on the
        family's reference sample, so they carry the model's bias on that family and may lie outside the range of
        accuracies (e.g. above 100 for the shipped NB-201 model on NB-101). They are not clipped, which would tie and
        reorder architectures. For accuracies, fine-tune on labelled architectures of the family (:meth:`finetune`;
        with ``finetune_offset`` the copy also removes its median error on them); ``calibrate_std`` and
        ``finetune(calibrate=True)`` scale the spread only, not the values.

        Args:
            X: Architectures (forms as in :meth:`fit`).
            return_std: Also return a spread in the same units.
            family: Family name or adapter when ``X`` does not identify it.

        Returns:
            A float64 array ``(n,)``, or ``(mean, std)`` with ``return_std``.

        Raises:
            ValueError: If ``X`` is empty, or ``calibration`` or ``zero_shot_weights`` is not among its choices.
            NotFittedError: If the predictor was not fitted.
        """
        z, zs, fam = self._member_z(X, family)
        w = self.member_weights(fam)
        f = self.calibration_map(fam, w)
        w = w[:, None]
        zc = (w * z).sum(0)
        mean = f(zc) + self.mean_offset_
        if not return_std:
            return mean
        var = (w * (z - zc) ** 2).sum(0) + (w * zs**2).sum(0)
        return mean, f.spread(zc, np.sqrt(var)) * self.std_scale_

    def calibrate_std(self, X: Any, y: Any, family: Any = None) -> GENNAPEPredictor:
        """Fit the scale of ``predict(X, return_std=True)``'s spread on held-out ``(X, y)``; returns ``self``.

        Sets ``std_scale_`` to :func:`~gennape_naslib.predictors.spread.spread_scale` of the uncalibrated
        spreads: afterwards half of the errors on ``(X, y)`` fall within 0.6745 spreads, as for a normal
        error. ``X`` must not be training data (its errors are too small). The means are unchanged; the
        factor is saved with the model and reset to 1 by :meth:`finetune` (the copy is a new model).

        Raises:
            ValueError: For empty or mismatched inputs, or when no scale can be fitted (see ``spread_scale``).
        """
        check_is_fitted(self)
        X, y = check_xy(X, y)
        previous, self.std_scale_ = self.std_scale_, 1.0  # the factor is fitted to the unscaled spread
        try:
            mean, std = self.predict(X, return_std=True, family=family)
            scale = spread_scale(y, mean, std, where=f"{type(self).__name__}.calibrate_std")
        finally:  # a failed calibration leaves the model as it was
            self.std_scale_ = previous
        self.std_scale_ = scale
        return self

    def predict_members(self, X: Any, family: Any = None) -> np.ndarray:
        """Each member's standardised score mapped to accuracy by :meth:`calibration_map`, float64
        ``(n_members, n)`` in the order of ``members_`` (each row ranks as the member does; their
        weighted mean equals :meth:`predict` exactly with ``calibration="linear"``, closely otherwise)."""
        z, _, fam = self._member_z(X, family)
        return self.calibration_map(fam)(z) + self.mean_offset_

    # ------------------------------------------------------------------ fine-tuning
    def finetune(
        self, X: Any, y: Any, epochs: int | None = None, family: Any = None, calibrate: bool = False
    ) -> GENNAPEPredictor:
        """A copy fine-tuned on ``(X, y)`` (e.g. 50 samples of a new family); ``self`` is left unchanged.

        Every trained member is updated (encoder and heads jointly, the k-GNN separately) for
        ``epochs`` (default ``finetune_epochs``) with the source family's target transforms, as in
        the paper; the member weights become ``softmax(tau / kt_temperature)`` of each member's
        Kendall tau on ``(X, y)`` (out-of-fold with ``finetune_weights="cv"``). FCM centroids and anchors
        stay fixed. With ``finetune_offset`` (default) the copy's median error on ``(X, y)`` is removed from its
        predictions (``mean_offset_``, a constant: rankings are unchanged). With ``calibrate=True`` (not the paper's;
        :func:`~gennape_naslib.predictors.gennape.finetuning.calibrated_copy`) the spread factor ``std_scale_``
        is fitted on ``cv_folds`` further fine-tunes that each leave one fold out (``1 + cv_folds`` times the
        CPU, at least ``2 * cv_folds`` samples; not a calibrated spread, ``docs/results.md``); else it is 1.

        ``y`` must be on the scale of the training labels (percent for the shipped model): the members are
        fine-tuned through the source family's target transforms, so labels ~100x off give meaningless predictions.

        Warns:
            LabelScaleWarning: If ``y`` looks like fractions and the training labels like percent, or the reverse
                (:func:`~gennape_naslib.predictors._inputs.warn_label_scale`).

        Raises:
            ValueError: Before any fine-tuning, if ``X`` and ``y`` are empty or of different lengths, ``epochs`` is
                not ``None`` or an integer >= 0, or a hyperparameter is invalid
                (:func:`.hyperparameters.check_hyperparameters`).
        """
        check_is_fitted(self)
        check_hyperparameters(self)
        check_finetune_epochs(epochs)
        X, y = check_xy(X, y)
        ref = getattr(self, "train_ref_", None)
        train_range = None if ref is None else (float(ref["y"].min()), float(ref["y"].max()))
        warn_label_scale(y, self.y_mean_, train_range, f"{type(self).__name__}.finetune")
        if calibrate:
            return calibrated_copy(self, X, y, epochs, family)
        return finetuned_copy(self, X, y, epochs, family)

    # ------------------------------------------------------------------ persistence (gennape/state.py)
    def _get_state(self) -> dict[str, Any]:
        return get_state(self)

    def _set_state(self, state: dict[str, Any]) -> None:
        set_state(self, state)
