"""Members' raw scores and few-shot fine-tuning of a fitted ``GENNAPEPredictor``.

:func:`raw_scores` gives every member's score and spread in its own units (accuracy for the
regressors after the inverse target transform, the mean win probability against the stored anchors
for the pairwise members, read back as accuracy for those ordering by Eq. 5 (:func:`win_rate_target`),
``log10(GFLOPs)`` for the FLOPs member); the predictor standardises and
combines them. :func:`finetuned_copy` is :meth:`GENNAPEPredictor.finetune`: a deep copy whose members
are trained further on the fine-tuning samples and whose member weights become the softmax of each
member's Kendall tau on them (the paper; with ``finetune_weights="cv"`` the taus of out-of-fold scores, from
fine-tunes that each leave one fold of the samples out); with ``finetune_offset`` (default, not the paper's) the
copy's median error on them is removed. :func:`calibrated_copy` is its ``calibrate`` option: the spread's factor
fitted on fine-tunes that each leave one fold out.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from gennape_naslib.predictors.base import check_xy
from gennape_naslib.predictors.gennape._fast_outputs import member_outputs
from gennape_naslib.predictors.gennape._train import seeded, threads
from gennape_naslib.predictors.gennape.align import Maps, aligned, encoders_of
from gennape_naslib.predictors.gennape.cv_weights import fold_indices, tau_weights
from gennape_naslib.predictors.gennape.data import GraphArrays
from gennape_naslib.predictors.gennape.encoder import encode_records
from gennape_naslib.predictors.gennape.model import CL_MEMBERS
from gennape_naslib.predictors.gennape.regressor import fit_regressor
from gennape_naslib.predictors.spread import spread_scale

if TYPE_CHECKING:
    from gennape_naslib.predictors.gennape.predictor import GENNAPEPredictor

__all__ = ["FINETUNE_WEIGHTS", "finetuned_copy", "out_of_fold_shots_z", "raw_scores", "win_rate_target"]

#: Accepted values of ``GENNAPEPredictor(finetune_weights=...)``: the Kendall taus on the shots themselves after
#: fine-tuning on them, or on out-of-fold scores (round 18 of ``docs/data/dev_hparams/PROTOCOL.md``).
FINETUNE_WEIGHTS = ("shots", "cv")

_CHUNK = 2048  # architectures encoded at once


def win_rate_target(p: np.ndarray, anchor_t: np.ndarray) -> np.ndarray:
    """The Eq. 5 target an architecture has if it beats a fraction ``p`` of the anchors, whose targets are ``anchor_t``.

    Beating ``j`` of ``k`` anchors puts the target between the ``j``-th and ``(j + 1)``-th smallest anchor
    target, so fraction ``(i + 0.5) / k`` maps to the ``i``-th smallest; in between the map is linear, and
    beyond the first and last anchors it continues with the slope of the end segments (a strictly
    increasing map when the anchors' targets differ, so the member's ranking is the win rate's).
    With one anchor (or all targets equal) it is ``t + (p - 0.5)`` around the anchors' target ``t``.

    Raises:
        ValueError: If ``anchor_t`` is empty.
    """
    t = np.sort(np.asarray(anchor_t, dtype=np.float64))
    if t.size == 0:
        raise ValueError("win_rate_target needs at least one anchor target")
    p = np.asarray(p, dtype=np.float64)
    if t.size == 1 or t[-1] - t[0] <= 1e-12:
        return t.mean() + (p - 0.5)
    pos = p * t.size - 0.5  # fractional index into the sorted anchor targets
    lo = np.diff(t[:2])[0] or (t[-1] - t[0]) / (t.size - 1)
    hi = np.diff(t[-2:])[0] or (t[-1] - t[0]) / (t.size - 1)
    out = np.interp(pos, np.arange(t.size), t)
    out = np.where(pos < 0, t[0] + pos * lo, out)
    return np.where(pos > t.size - 1, t[-1] + (pos - (t.size - 1)) * hi, out)


def raw_scores(
    model: GENNAPEPredictor,
    records: list[GraphArrays],
    anchors: list[GraphArrays] | None = None,
    align: Maps | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per member of a fitted ``model``: ``(score, spread)`` arrays over ``records``, in the member's own units.

    ``anchors``: what the plain pairwise members (``pair_fcm``, ``pair``) compare against instead of the
    model's training anchors (``pair_anchors="family"``); the ``pair_t`` members always use the training
    anchors, whose Eq. 5 targets they read their win rates against. ``align``: per-encoder affine maps applied to
    the embeddings of ``records`` and ``anchors`` (``embed_align``, :mod:`~gennape_naslib.predictors.gennape.align`);
    the training anchors are never mapped.
    """
    net, kgnn = model.net_, model.kgnn_
    out: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {m: [] for m in model.members_}
    pairs = [m for m in model.members_ if CL_MEMBERS.get(m, {}).get("pair")]
    given = [m for m in pairs if anchors is not None and not CL_MEMBERS[m]["flops_t"]]  # on ``anchors``
    train_emb = net.embed(model.anchors_) if len(given) < len(pairs) else None  # the rest: training anchors
    given_emb = aligned([net.embed(anchors)], align)[0] if given else None
    encoders = encoders_of(model)  # both GNN encoders run on the same collated batches and node classes
    for start in range(0, len(records), _CHUNK):
        chunk = records[start : start + _CHUNK]
        gf = np.array([r.gflops for r in chunk])
        emb = aligned(encode_records(encoders, chunk), align)
        if net.members:
            outputs = member_outputs(net, emb[0], given_emb if train_emb is None else train_emb)
            if given and train_emb is not None:  # pair_t members next to plain ones on other anchors
                on_given = member_outputs(net, emb[0], given_emb)
                outputs.update({m: on_given[m] for m in given})
            for name, (score, spread) in outputs.items():
                spec = CL_MEMBERS[name]
                if not spec["pair"] or spec["flops_t"]:  # to accuracy (plain pairwise: the win probability)
                    if spec["pair"]:  # win rate -> Eq. 5 target
                        lo, hi = (win_rate_target(score + d, model.anchor_t_) for d in (-spread, spread))
                        score, spread = win_rate_target(score, model.anchor_t_), (hi - lo) / 2
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


def finetuned_copy(
    model: GENNAPEPredictor,
    X: Any,
    y: Any,
    epochs: int | None,
    family: Any,
    offset: bool = True,
    fold_weights: bool = True,
) -> GENNAPEPredictor:
    """A deep copy of the fitted ``model`` fine-tuned on ``(X, y)``; ``model`` itself is left unchanged.

    Every trained member is updated (encoder and heads jointly, the k-GNN separately) for ``epochs``
    (``None``: ``model.finetune_epochs``) at ``finetune_lr`` (``None``: ``lr``) with the source family's
    target transforms; FCM centroids and anchors stay fixed. The member weights become
    ``softmax(tau / kt_temperature)`` of each member's Kendall tau on ``(X, y)`` (equal for one sample): with
    ``model.finetune_weights == "shots"`` the copy's own scores of ``(X, y)``; with ``"cv"`` (and
    ``fold_weights``, false for the fold copies themselves) the scores of :func:`out_of_fold_shots_z` when there
    are at least ``2 * cv_folds`` samples (else the copy's own). With ``n_repeats > 1`` every copy is fine-tuned
    the same way and the taus are those of the mean scores. With ``model.finetune_offset`` (and ``offset``, false
    for those inner copies, whose predictions are only averaged) the copy's median error on ``(X, y)`` is removed
    (``mean_offset_``).
    """
    X, y = check_xy(X, y)
    check_finetune_weights(model.finetune_weights)
    records, fam = model._prepare(X, family)
    gflops = np.array([r.gflops for r in records])
    new = copy.deepcopy(model._uncached_copy())  # the per-family caches depend on the networks being tuned
    new.std_scale_, new.mean_offset_ = 1.0, 0.0  # the original's calibration does not hold for the copy
    new.embed_align = "none"  # the copy's encoder learns the target's embeddings (round 15 of PROTOCOL.md)
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
    new.repeats_ = [
        finetuned_copy(r, X, y, epochs, family, offset=False, fold_weights=False)
        for r in getattr(model, "repeats_", [])
    ]
    with threads(model.num_threads):
        raw = new._raw(records, fam)
    z = np.stack([raw[m][0] for m in new.members_])
    if fold_weights and model.finetune_weights == "cv" and len(y) >= 2 * int(model.cv_folds):
        z = out_of_fold_shots_z(model, X, y, epochs, family)
    if len(y) > 1:
        new.member_tau_, new.weights_ = tau_weights(z, y, model.kt_temperature)
    else:
        new.member_tau_ = np.zeros(len(new.members_))
        new.weights_ = np.full(len(new.members_), 1.0 / len(new.members_))
    if fam is None:  # no family sample: the fine-tuning set is the reference
        new.train_stats_, new.train_ref_ = new._stats(raw), new._train_ref(raw, y)
    if offset and model.finetune_offset:  # the copy's own offset on its shots (docs/results.md)
        new.mean_offset_ = float(np.median(y - new.predict(X, family=family)))
    return new


def check_finetune_weights(value: Any) -> None:
    """Raise a ``ValueError`` naming ``value`` unless it is one of :data:`FINETUNE_WEIGHTS`."""
    if value not in FINETUNE_WEIGHTS:
        raise ValueError(f"finetune_weights must be one of {FINETUNE_WEIGHTS}, got {value!r}")


def out_of_fold_shots_z(
    model: GENNAPEPredictor, X: list[Any], y: np.ndarray, epochs: int | None, family: Any
) -> np.ndarray:
    """Standardised member scores ``(M, n)`` of the fine-tuning samples ``(X, y)``, each from a copy of ``model``
    fine-tuned without its fold (``model.cv_folds`` folds under ``random_state``; members standardised as at
    prediction, on ``family``'s reference sample or, without one, on the fold copy's shots).

    Raises:
        ValueError: If ``cv_folds < 2`` or there are fewer than ``2 * cv_folds`` samples.
    """
    z = np.full((len(model.members_), len(y)), np.nan)
    for held in fold_indices(len(y), int(model.cv_folds), model._seed(19)):
        keep = np.setdiff1d(np.arange(len(y)), held)
        fold = finetuned_copy(model, [X[i] for i in keep], y[keep], epochs, family, offset=False, fold_weights=False)
        z[:, held] = fold._member_z([X[i] for i in held], family)[0]
    return z


def calibrated_copy(model: GENNAPEPredictor, X: Any, y: Any, epochs: int | None, family: Any) -> GENNAPEPredictor:
    """``finetune(..., calibrate=True)``: a fine-tuned copy whose spread is scaled by out-of-fold errors.

    The spread factor ``std_scale_`` is :func:`~gennape_naslib.predictors.spread.spread_scale` of out-of-fold
    predictions: ``model.cv_folds`` fine-tunes of ``model`` (each with its own offset removed when
    ``finetune_offset`` is set, as the returned copy), each on ``(X, y)`` without one fold (folds from a
    permutation seeded by ``random_state``), predict the left-out fold (their member weights are the taus on their
    own shots whatever ``finetune_weights``). Every label is used once as held-out data, at ``1 + cv_folds`` times
    one fine-tune's CPU (and ``cv_folds`` more with ``finetune_weights="cv"``, for the returned copy's weights). It
    did not pass its coverage check on 50 shots (``docs/data/spread/PROTOCOL.md``, S3b): the right order of
    magnitude, not a calibrated spread.

    Raises:
        ValueError: With fewer than ``2 * cv_folds`` samples, ``cv_folds < 2``, or when no factor can be fitted.
    """
    X, y = check_xy(X, y)
    folds = int(model.cv_folds)
    if folds < 2 or len(y) < 2 * folds:
        raise ValueError(
            f"finetune(calibrate=True) needs cv_folds >= 2 and at least 2 * cv_folds samples; "
            f"got cv_folds={model.cv_folds!r} and {len(y)} samples"
        )
    order = np.random.default_rng(model._seed(17)).permutation(len(y))
    means, stds = np.empty(len(y)), np.empty(len(y))
    for held in np.array_split(order, folds):
        keep = np.setdiff1d(order, held)
        fold_model = finetuned_copy(model, [X[i] for i in keep], y[keep], epochs, family, fold_weights=False)
        means[held], stds[held] = fold_model.predict([X[i] for i in held], return_std=True, family=family)
    tuned = finetuned_copy(model, X, y, epochs, family)
    tuned.std_scale_ = spread_scale(y, means, stds, where="finetune(calibrate=True)")
    return tuned
