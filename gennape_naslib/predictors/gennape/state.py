"""Saving and loading a fitted ``GENNAPEPredictor``: its learned state as arrays and plain values.

``STATE_VERSION`` numbers the layout; files of older versions still load (1: before ``train_ref``, the
quantile map's training reference; 2: before ``cv_tau``, the cross-validated fit weights, so they load as
``fit_weights="equal"``; 3: before ``repeats``, the further copies of ``n_repeats``; 4: before
``anchor_t``, the anchors' Eq. 5 targets that the ``pair_t`` members read their win rates against; 5: before
``std_scale`` and ``mean_offset``, the spread's scale of ``calibrate_std`` and the fine-tuning offset of
``finetune_offset``, so they load with 1 and 0; 6: before the ``rank_weight`` hyperparameter, whose default
is now 1, so they load with the 0 they were trained with; 7: before ``embed_stats`` and ``train_family``, the
training set's embedding statistics and family name that ``embed_align`` needs). A newer version than this
package's is refused with a clear error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from gennape_naslib.predictors.gennape.align import stats_from_arrays, stats_to_arrays
from gennape_naslib.predictors.gennape.data import GraphArrays
from gennape_naslib.predictors.gennape.regressor import KGNNModel
from gennape_naslib.predictors.gennape.repeats import new_copy
from gennape_naslib.predictors.gennape.target import TargetTransform

if TYPE_CHECKING:
    from gennape_naslib.predictors.gennape.predictor import GENNAPEPredictor

#: Learned-state layout written by :func:`get_state`; 1 = before ``train_ref`` (quantile map),
#: 2 = before ``cv_tau`` (cross-validated fit weights), 3 = before ``repeats`` (``n_repeats`` copies),
#: 4 = before ``anchor_t`` (the anchors' Eq. 5 targets, for ``pair_t`` / ``pair_fcm_t``), 5 = before
#: ``std_scale`` / ``mean_offset`` (``calibrate_std``, ``finetune_offset``), 6 = before ``rank_weight`` (fitted
#: with the paper's MSE alone, ``rank_weight=0``), 7 = before ``embed_stats`` / ``train_family`` (``embed_align``).
STATE_VERSION = 8
#: The per-graph array fields of a stored anchor architecture (``GraphArrays`` order).
_ANCHOR_FIELDS = ("op", "res", "kernel", "bias", "weighted", "edges")


def get_state(model: GENNAPEPredictor) -> dict[str, Any]:
    """The learned state of a fitted :class:`GENNAPEPredictor` as arrays and plain values (saved by ``save``)."""
    anchors = {f: [getattr(r, f) for r in model.anchors_] for f in _ANCHOR_FIELDS}
    anchors["gflops"] = [float(r.gflops) for r in model.anchors_]
    return {
        "members": list(model.members_),
        "n_clusters": int(model.net_.centroids.shape[0]),
        "net": dict(model.net_.state_dict()),
        "kgnn": None if model.kgnn_ is None else dict(model.kgnn_.state_dict()),
        "transforms": {"t": model.transforms_[True].get_state(), "plain": model.transforms_[False].get_state()},
        "anchors": anchors,
        "anchor_t": np.asarray(model.anchor_t_, dtype=np.float64),
        "std_scale": float(model.std_scale_),
        "mean_offset": float(model.mean_offset_),
        "weights": model.weights_,
        "member_tau": model.member_tau_,
        "y_mean": model.y_mean_,
        "y_std": model.y_std_,
        "train_stats": {m: list(v) for m, v in model.train_stats_.items()},
        "embed_stats": stats_to_arrays(getattr(model, "embed_stats_", None)),
        "train_family": getattr(model, "train_family_", None),
        "n_train_dropped": int(getattr(model, "n_train_dropped_", 0)),
        "state_version": STATE_VERSION,
        "train_ref": getattr(model, "train_ref_", None),
        "cv_tau": getattr(model, "cv_tau_", None),
        "history": {k: list(v) for k, v in model.history_.items()},
        "repeats": [{"random_state": r.random_state, "state": get_state(r)} for r in getattr(model, "repeats_", [])],
    }


def set_state(model: GENNAPEPredictor, state: dict[str, Any]) -> None:
    """Restore a state written by :func:`get_state` (any ``STATE_VERSION`` up to this package's) into ``model``."""
    version = int(state.get("state_version", 1))
    if version > STATE_VERSION:  # checked before anything is restored
        raise ValueError(f"GENNAPE state version {version} is newer than this package's ({STATE_VERSION})")
    members = list(state["members"])
    net = model._net(members, int(state["n_clusters"]))
    net.load_state_dict({k: torch.as_tensor(v) for k, v in state["net"].items()})
    net.eval()
    kgnn = None
    if state["kgnn"] is not None:
        kgnn = KGNNModel(model.hidden, model.n_layers, model.gnn, model.activation, model.head_layers)
        kgnn.load_state_dict({k: torch.as_tensor(v) for k, v in state["kgnn"].items()})
        kgnn.eval()
    a = state["anchors"]
    model.anchors_ = [
        GraphArrays(*(np.asarray(a[f][i]) for f in _ANCHOR_FIELDS),
                    float(a["gflops"][i]), ("anchor", i))
        for i in range(len(a["op"]))
    ]  # fmt: skip
    model.members_, model.net_, model.kgnn_ = members, net, kgnn
    # files before version 5 have no pair_t members, which alone read anchor_t
    model.anchor_t_ = np.asarray(state.get("anchor_t", []) if version >= 5 else [], dtype=np.float64)
    model.std_scale_ = float(state.get("std_scale", 1.0)) if version >= 6 else 1.0
    model.mean_offset_ = float(state.get("mean_offset", 0.0)) if version >= 6 else 0.0
    model.transforms_ = {
        True: TargetTransform.from_state(state["transforms"]["t"]),
        False: TargetTransform.from_state(state["transforms"]["plain"]),
    }
    model.weights_ = np.asarray(state["weights"], dtype=np.float64)
    model.member_tau_ = np.asarray(state["member_tau"], dtype=np.float64)
    model.y_mean_, model.y_std_ = float(state["y_mean"]), float(state["y_std"])
    model.train_stats_ = {m: (float(v[0]), float(v[1])) for m, v in state["train_stats"].items()}
    model.embed_stats_ = stats_from_arrays(state.get("embed_stats")) if version >= 8 else None
    model.train_family_ = state.get("train_family") if version >= 8 else None
    model.n_train_dropped_ = int(state.get("n_train_dropped", 0))  # files before train_floor: nothing dropped
    ref = state.get("train_ref") if version >= 2 else None
    model.train_ref_ = None if ref is None else {
        "raw": {m: np.asarray(v, dtype=np.float64) for m, v in ref["raw"].items()},
        "y": np.asarray(ref["y"], dtype=np.float64),
    }  # fmt: skip
    if version < 3:  # written before fit_weights existed: fitted with the paper's equal weights
        model.fit_weights = "equal"
    if version < 7:  # written before rank_weight existed: fitted with the MSE alone
        model.rank_weight = 0.0
    cv_tau = state.get("cv_tau") if version >= 3 else None
    model.cv_tau_ = None if cv_tau is None else np.asarray(cv_tau, dtype=np.float64)
    model.history_ = {k: [float(x) for x in v] for k, v in state["history"].items()}
    model._drop_family_caches()
    model.repeats_ = []
    for entry in state.get("repeats", []) if version >= 4 else []:
        copy = new_copy(model, entry["random_state"])
        set_state(copy, entry["state"])
        model.repeats_.append(copy)
    model.n_repeats = 1 + len(model.repeats_)  # what the file holds (files before version 4: one model)
