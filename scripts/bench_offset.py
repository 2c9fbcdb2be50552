"""Study S4 of ``docs/data/spread/PROTOCOL.md``: the test error of a few-shot fine-tune with and without the
copy's median error on its shots removed (the same fine-tuned copy; rankings are identical by construction). The
copy is fine-tuned with ``finetune_offset=False`` (the default since S4 removes the offset inside ``finetune``).

    python scripts/bench_offset.py --family nb101 --first-seed 5 --seeds 5 --out runs/spread/s4.jsonl
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
from bench_predictor import inspace_table

from gennape_naslib.predictors.gennape import GENNAPEPredictor


def run_one(family: str, seed: int, shots: int, model: GENNAPEPredictor) -> dict:
    """One (family, seed) row: MAE and median absolute error of the plain fine-tune and with its offset removed."""
    archs, y = inspace_table(family)
    order = np.random.default_rng(seed).permutation(len(y))
    tr, te = order[:shots], order[shots:]
    take = [archs[i] for i in tr]
    cpu = time.process_time()
    plain = copy.deepcopy(model).set_params(finetune_offset=False)  # the offset is computed here, not in finetune
    tuned = plain.finetune(take, y[tr], family=family)
    offset = float(np.median(y[tr] - tuned.predict(take, family=family)))
    pred = tuned.predict([archs[i] for i in te], family=family)
    row = {"family": family, "seed": seed, "shots": len(tr), "n_test": len(te), "offset": offset}
    for name, p in (("plain", pred), ("offset", pred + offset)):
        err = np.abs(y[te] - p)
        row[f"mae_{name}"], row[f"median_ae_{name}"] = float(err.mean()), float(np.median(err))
    row["cpu_s"] = time.process_time() - cpu
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--family", default="nb101")
    ap.add_argument("--first-seed", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--shots", type=int, default=50)
    ap.add_argument("--out", type=Path, default=Path("runs/spread/s4.jsonl"))
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model = GENNAPEPredictor.pretrained()
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        model.set_params(random_state=seed, num_threads=1)
        row = run_one(args.family, seed, args.shots, model)
        rows.append(row)
        with args.out.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(f"seed {seed}: MAE {row['mae_plain']:.3f} -> {row['mae_offset']:.3f} (offset {row['offset']:+.3f})")
    plain, corrected = (np.array([r[f"mae_{k}"] for r in rows]) for k in ("plain", "offset"))
    print(f"mean MAE {plain.mean():.3f} -> {corrected.mean():.3f} ({corrected.mean() / plain.mean() - 1:+.1%}); "
          f"lower in {int((corrected < plain).sum())} of {len(rows)} seeds")  # fmt: skip


if __name__ == "__main__":
    main()
