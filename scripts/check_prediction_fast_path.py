"""Compare the shipped GENNAPE model's predictions through the prediction fast path with the reference path.

Reference path: graph arrays from the family's CG (``prepare(..., fast=False)``), every encoder on the
full batch (``GENNAPENet.embed`` / ``predict_regressor``, 64-graph batches) and the model's own member
heads (``GENNAPENet.outputs``), i.e. what ``GENNAPEPredictor._raw`` computed before the fast path.
Fast path: ``GENNAPEPredictor._raw`` as shipped (NB-201 arrays builder, node-class inference, folded
pairwise heads). Prints the largest differences of the ensemble score and of the predicted accuracy
(linear and quantile maps), how many cells change rank and the largest score gap of a pair whose order
flips, next to the reference path's own change when the same cells are predicted in another batch
composition (rotated by one). Takes a few CPU minutes for all 15,625 NB-201 cells.

Usage: ``python scripts/check_prediction_fast_path.py [--n 15625]``
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from scipy.stats import kendalltau, rankdata


def _reference_raw(self, records, family=None):  # the pre-fast-path _raw (default members; family unused)
    from gennape_naslib.predictors.gennape.model import CL_MEMBERS
    from gennape_naslib.predictors.gennape.regressor import predict_regressor

    out = {m: [] for m in self.members_}
    anchors = self.net_.embed(self.anchors_)
    for start in range(0, len(records), 2048):
        chunk = records[start : start + 2048]
        gf = np.array([r.gflops for r in chunk])
        for name, (score, spread) in self.net_.outputs(self.net_.embed(chunk), anchors).items():
            spec = CL_MEMBERS[name]
            if not spec["pair"]:
                tt = self.transforms_[spec["flops_t"]]
                score, spread = tt.inverse(score, gf), spread * tt.inverse_scale(gf)
            out[name].append((score, spread))
        z = predict_regressor(self.kgnn_, chunk)
        out["kgnn"].append((self.transforms_[False].inverse(z, gf), np.zeros(len(chunk))))
        out["flops"].append((np.log10(np.maximum(gf, 1e-12)), np.zeros(len(chunk))))
    return {m: (np.concatenate([a for a, _ in v]), np.concatenate([b for _, b in v])) for m, v in out.items()}


def _flips(a: np.ndarray, b: np.ndarray) -> tuple[int, float]:
    """Cells whose rank differs, and the largest gap in ``a`` of a pair ordered differently by ``b``."""
    changed = int((rankdata(a) != rankdata(b)).sum())
    s = a[np.argsort(b, kind="stable")]
    return changed, float(np.max(np.maximum.accumulate(s) - s))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=15625, help="NB-201 cells (the first n of the enumeration)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from gennape_naslib import search_spaces
    from gennape_naslib.predictors.gennape import GENNAPEPredictor
    from gennape_naslib.predictors.gennape import data as gdata
    from gennape_naslib.predictors.gennape import predictor as pmod

    family = search_spaces.get("nb201")
    archs = list(family.enumerate())[: args.n]
    fast_raw, real_prepare = pmod.GENNAPEPredictor._raw, gdata.prepare

    def reference_prepare(X, family=None):
        return real_prepare(X, family, fast=False)

    results = {}
    for label in ("reference", "fast"):
        gdata.clear_cache()
        pmod.GENNAPEPredictor._raw = _reference_raw if label == "reference" else fast_raw
        if label == "reference":
            pmod.prepare = reference_prepare
        try:
            model = GENNAPEPredictor.pretrained()
            out = {}
            for cal in ("quantile", "linear"):
                model.calibration = cal
                out[cal] = model.predict(archs, family=family)
            z, _, _ = model._member_z(archs, family)
            out["score"] = model.member_weights("nb201") @ z
            if label == "reference":
                z2, _, _ = model._member_z(archs[1:] + archs[:1], family)
                out["rotated"] = np.roll(model.member_weights("nb201") @ z2, 1)
        finally:
            pmod.GENNAPEPredictor._raw = fast_raw
            pmod.prepare = real_prepare
        results[label] = out
    ref, fast = results["reference"], results["fast"]
    print(f"{len(archs)} NB-201 cells, shipped model")
    for key, what in (("score", "ensemble score"), ("linear", "accuracy, linear map"), ("quantile", "accuracy")):
        d = np.abs(ref[key] - fast[key])
        print(f"{what}: max |diff| {d.max():.3g}, median {np.median(d):.3g}")
    changed, gap = _flips(ref["score"], fast["score"])
    tau = kendalltau(ref["score"], fast["score"]).statistic
    print(
        f"fast vs reference: {changed} cells change rank, largest score gap of a flipped pair {gap:.3g}, tau {tau:.6f}"
    )
    d = np.abs(ref["score"] - ref["rotated"]).max()
    changed, gap = _flips(ref["score"], ref["rotated"])
    print(
        f"reference vs itself in other batches: max |diff| {d:.3g}, {changed} cells change rank, largest gap {gap:.3g}"
    )


if __name__ == "__main__":
    main()
