"""Zero-shot ranking of the packaged OFA-MBv3 table, whole and within each input resolution.

The packaged OFA-MBv3 subnets (``../shared/data/PROVENANCE.md``) run at three input resolutions (128, 160, 192),
while GENNAPE's OFA-MBv3 family has one (224). Resolution moves FLOPs and accuracy together, so FLOPs alone ranks
the whole table far better than within one resolution. This script prints, for the whole table and for each
resolution, the Spearman correlation of the model's zero-shot prediction, of each ensemble member, and of FLOPs
and params with the ImageNet top-1 accuracy, and then with FLOPs (how far each score merely follows FLOPs). It is a
diagnostic: it reads the target labels and decides nothing.

Usage::

    python scripts/ofa_resolution_strata.py [--model PATH] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from bench_predictor import TARGETS
from scipy.stats import spearmanr

from gennape_naslib._atomic import atomic_write


def strata_spearman(scores: dict[str, np.ndarray], y: np.ndarray, groups: np.ndarray) -> list[dict]:
    """One row per stratum (first ``"all"``, then each value of ``groups`` in sorted order) with its size and the
    Spearman correlation of every score in ``scores`` with ``y`` on it.

    Raises:
        ValueError: If ``groups`` or a score differs in length from ``y``.
    """
    y, groups = np.asarray(y, dtype=np.float64), np.asarray(groups)
    if len(groups) != len(y):
        raise ValueError(f"groups has {len(groups)} values, y {len(y)}")
    for name, s in scores.items():
        if len(s) != len(y):
            raise ValueError(f"score {name!r} has {len(s)} values, y {len(y)}")
    rows = []
    for g in ["all", *sorted(set(groups.tolist()))]:
        mask = np.ones(len(y), bool) if g == "all" else groups == g
        row = {"stratum": g, "n": int(mask.sum())}
        for name, s in scores.items():
            row[name] = float(spearmanr(np.asarray(s)[mask], y[mask]).statistic)
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="predictor file (default: the shipped pretrained model)")
    ap.add_argument("--out", default=None, help="also write the rows as JSON here")
    args = ap.parse_args()

    from gennape_naslib import data
    from gennape_naslib.predictors.gennape import GENNAPEPredictor

    table = data.load("ofa_mbv3")
    archs, family = table.archs, table.adapter
    y = table.metric(TARGETS["ofa_mbv3"]).astype(float)
    model = GENNAPEPredictor.pretrained() if args.model is None else GENNAPEPredictor.load(args.model)
    scores = {"gennape": model.predict(archs)}
    scores.update(zip((f"member:{m}" for m in model.members_), model.predict_members(archs)))
    scores["flops"] = np.array([family.flops(a) for a in archs], dtype=float)
    scores["params"] = np.array([family.params(a) for a in archs], dtype=float)
    groups = np.array([a.r for a in archs])
    doc = {"accuracy": strata_spearman(scores, y, groups), "flops": strata_spearman(scores, scores["flops"], groups)}
    names = list(scores)
    for against, rows in doc.items():
        print(f"\nSpearman with {'ImageNet top-1' if against == 'accuracy' else 'FLOPs'}:")
        print("| resolution | n | " + " | ".join(names) + " |")
        print("|---" * (len(names) + 2) + "|")
        for r in rows:
            print(f"| {r['stratum']} | {r['n']} | " + " | ".join(f"{r[k]:.3f}" for k in names) + " |")
    if args.out:
        with atomic_write(Path(args.out)) as fh:
            fh.write(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
