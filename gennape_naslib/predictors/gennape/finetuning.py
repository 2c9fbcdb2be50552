"""Members' raw scores and few-shot fine-tuning of a fitted ``GENNAPEPredictor``.

:func:`raw_scores` gives every member's score and spread in its own units (accuracy for the
regressors after the inverse target transform, the mean win probability against the stored anchors
for the pairwise members, ``log10(GFLOPs)`` for the FLOPs member); the predictor standardises and
combines them. :func:`finetuned_copy` is :meth:`GENNAPEPredictor.finetune`: a deep copy whose members
are trained further on the fine-tuning samples and whose member weights become the softmax of each
member's Kendall tau on them (the paper).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from gennape_naslib.predictors.base import check_xy
from gennape_naslib.predictors.gennape._fast_outputs import member_outputs
from gennape_naslib.predictors.gennape._train import seeded, threads
from gennape_naslib.predictors.gennape.cv_weights import tau_weights
from gennape_naslib.predictors.gennape.data import GraphArrays, prepare
from gennape_naslib.predictors.gennape.encoder import encode_records
from gennape_naslib.predictors.gennape.model import CL_MEMBERS
from gennape_naslib.predictors.gennape.regressor import fit_regressor

if TYPE_CHECKING:
    from gennape_naslib.predictors.gennape.predictor import GENNAPEPredictor

__all__ = ["finetuned_copy", "raw_scores"]

_CHUNK = 2048  # architectures encoded at once


def raw_scores(model: GENNAPEPredictor, records: list[GraphArrays]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per member of a fitted ``model``: ``(score, spread)`` arrays over ``records``, in the member's own units."""
    net, kgnn = model.net_, model.kgnn_
    out: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {m: [] for m in model.members_}
    anchors = net.embed(model.anchors_) if any(CL_MEMBERS.get(m, {}).get("pair") for m in model.members_) else None
    # both GNN encoders run on the same collated batches and node classes
    encoders = ([net.encoder] if net.members else []) + ([] if kgnn is None else [kgnn.encoder])
    for start in range(0, len(records), _CHUNK):
        chunk = records[start : start + _CHUNK]
        gf = np.array([r.gflops for r in chunk])
        emb = encode_records(encoders, chunk)
        if net.members:
            for name, (score, spread) in member_outputs(net, emb[0], anchors).items():
                spec = CL_MEMBERS[name]
                if not spec["pair"]:
                    tt = model.transforms_[spec["flops_t"]]
                    score, spread = tt.inverse(score, gf), spread * tt.inverse_scale(gf)
                out[name].append((score, spread))
        if kgnn is not None:
            kgnn.eval()
            with torch.no_grad():
                z = kgnn.head(emb[-1]).squeeze(1).double().numpy()
            out["kgnn"].append((model.transforms_[False].inverse(z, gf), np.zeros(len(chunk))))
        if "flops" in out:
            out["flops"].append((np.log10(np.maximum(gf, 1e-12)), np.zeros(len(chunk))))
    return {m: (np.concatenate([a for a, _ in v]), np.concatenate([b for _, b in v])) for m, v in out.items()}


def finetuned_copy(model: GENNAPEPredictor, X: Any, y: Any, epochs: int | None, family: Any) -> GENNAPEPredictor:
    """A deep copy of the fitted ``model`` fine-tuned on ``(X, y)``; ``model`` itself is left unchanged.

    Every trained member is updated (encoder and heads jointly, the k-GNN separately) for ``epochs``
    (``None``: ``model.finetune_epochs``) at ``finetune_lr`` (``None``: ``lr``) with the source family's
    target transforms; FCM centroids and anchors stay fixed. The member weights become
    ``softmax(tau / kt_temperature)`` of each member's Kendall tau on ``(X, y)`` (equal for one sample).
    With ``n_repeats > 1`` every copy is fine-tuned the same way and the taus are those of the mean scores.
    """
    X, y = check_xy(X, y)
    records, fam = prepare(X, family)
    gflops = np.array([r.gflops for r in records])
    new = copy.deepcopy(model)
    new._ref_cache = {}
    epochs = model.finetune_epochs if epochs is None else int(epochs)
    lr = model.lr if model.finetune_lr is None else float(model.finetune_lr)
    rng = np.random.default_rng(model._seed(3))
    with threads(model.num_threads), seeded(model._seed(3)):
        if new.net_.members:
            targets = {m: new.transforms_[CL_MEMBERS[m]["flops_t"]].transform(y, gflops) for m in new.net_.members}
            new.history_["finetune_heads"] = new.net_.fit_heads(
                records, targets, y, epochs, model.finetune_batch_size, lr, rng, model.grad_clip
            )
        if new.kgnn_ is not None:
            new.history_["finetune_kgnn"] = fit_regressor(
                new.kgnn_, records, new.transforms_[False].transform(y, gflops), epochs,
                model.finetune_batch_size, lr, model.grad_clip, 0.0, rng,
            )  # fmt: skip
    new.repeats_ = [finetuned_copy(r, X, y, epochs, family) for r in getattr(model, "repeats_", [])]
    with threads(model.num_threads):
        raw = new._raw(records)
    z = np.stack([raw[m][0] for m in new.members_])
    if len(y) > 1:
        new.member_tau_, new.weights_ = tau_weights(z, y, model.kt_temperature)
    else:
        new.member_tau_ = np.zeros(len(new.members_))
        new.weights_ = np.full(len(new.members_), 1.0 / len(new.members_))
    if fam is None:  # no family sample: the fine-tuning set is the reference
        new.train_stats_, new.train_ref_ = new._stats(raw), new._train_ref(raw, y)
    return new
