"""Zero-shot Spearman of a GENNAPE model with ``pair_anchors="train"`` and ``"family"`` on whole packaged tables.

``--embed-align MODE ...`` also predicts with those ``embed_align`` modes (rows ``FAMILY/SETTING+MODE``; the model
file needs embedding statistics, ``scripts/train_pretrained.py --add-embed-stats``).

Development round 11 (``docs/data/dev_hparams/PROTOCOL.md``) measured the option on the shipped model for its
documentation only, after the decision::

    python scripts/zeroshot_pair_anchors.py docs/data/dev_hparams/round11_pretrained_zeroshot.json

Round 12 ran it on a model trained with ``res_norm="graph"``, with the training anchors only::

    python scripts/zeroshot_pair_anchors.py docs/data/dev_hparams/round12_pretrained_graph_zeroshot.json \
        --model runs/r12/pretrained_graph.npz --pair-anchors train

Round 15 (``embed_align``, documentation only)::

    python scripts/train_pretrained.py --add-embed-stats gennape_naslib/predictors/gennape/pretrained/nb201_c10.npz \
        --out runs/r15/pretrained_stats.npz
    python scripts/zeroshot_pair_anchors.py docs/data/dev_hparams/round15_pretrained_zeroshot.json \
        --model runs/r15/pretrained_stats.npz --pair-anchors train --embed-align none mean moments

Round 16 (the shipped model retrained with ``train_floor=80``; it stores its embedding statistics)::

    python scripts/zeroshot_pair_anchors.py docs/data/dev_hparams/round16_pretrained_zeroshot.json \
        --model gennape_naslib/predictors/gennape/pretrained/nb201_c10.npz --pair-anchors train \
        --embed-align none mean moments

Writes ``{"FAMILY/SETTING": {"n", "spearman", "members"}}`` to the given JSON file (atomically) and prints each row.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench_predictor import TARGETS
from scipy.stats import spearmanr

from gennape_naslib import data
from gennape_naslib._atomic import atomic_write
from gennape_naslib.predictors.gennape import GENNAPEPredictor
from gennape_naslib.predictors.gennape.align import EMBED_ALIGN


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path, help="JSON file to write")
    ap.add_argument("--model", type=Path, default=None, help="predictor file (default: the shipped model)")
    ap.add_argument("--families", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    ap.add_argument("--pair-anchors", nargs="+", default=["train", "family"], choices=["train", "family"])
    ap.add_argument("--embed-align", nargs="+", default=["none"], choices=EMBED_ALIGN)
    args = ap.parse_args()
    model = GENNAPEPredictor.pretrained() if args.model is None else GENNAPEPredictor.load(args.model)
    out = {}
    for fam in args.families:
        table = data.load(fam)
        archs, y = table.archs, table.metric(TARGETS[fam]).astype(float)
        for setting in args.pair_anchors:
            for align in args.embed_align:
                model.set_params(pair_anchors=setting, embed_align=align)  # empties the cached reference statistics
                z = model._member_z(archs, None)[0]
                members = {m: round(float(spearmanr(r, y).statistic), 3) for m, r in zip(model.members_, z)}
                rho = round(float(spearmanr(model.predict(archs), y).statistic), 4)
                key = f"{fam}/{setting}" if align == "none" else f"{fam}/{setting}+{align}"
                out[key] = {"n": len(y), "spearman": rho, "members": members}
                print(fam, setting, align, len(y), rho, members, flush=True)
    with atomic_write(args.out) as fh:
        fh.write(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
