"""How well GENNAPE's spread (``predict(X, return_std=True)``) covers its errors, before and after
``calibrate_std`` (study S1 of ``docs/data/spread/PROTOCOL.md``).

Study S1, for each family and seed: a ``default_rng(seed)`` permutation of the family's packaged table; GENNAPE at
its defaults is fitted on the first ``--train`` architectures, ``calibrate_std`` on the next ``--cal``, and
both spreads are scored on the next ``--test`` (fewer when the table is smaller). One JSON line per
(family, seed), appended to ``--out`` (finished pairs are skipped on a rerun); ``--summary`` prints the
table of means over seeds.

    python scripts/bench_spread.py --families nb201 nb101 nb301 --seeds 5 --out runs/spread/s1.jsonl
    python scripts/bench_spread.py --summary runs/spread/s1.jsonl

``--mode finetune`` is study S3b: the shipped pretrained model (or ``--model``) fine-tuned on the first
``--train`` architectures with ``finetune(..., calibrate=True)`` (its offset on the shots removed, the spread
factor from ``cv_folds`` leave-one-fold-out fine-tunes), tested on the next ``--test``; "before" is the same
copy without offset and factor (the fine-tune of ``finetune_offset=False``):

    python scripts/bench_spread.py --mode finetune --families nb101 nb301 ofa_mbv3 --seeds 3 --train 50 \
        --out runs/spread/s3.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from bench_predictor import inspace_table
from scipy.stats import spearmanr

from gennape_naslib.predictors.gennape import GENNAPEPredictor
from gennape_naslib.predictors.spread import NORMAL_MEDIAN_ABS_Z, coverage

#: Spread multiples whose coverage is reported, with a normal error's coverage at each.
LEVELS = {"0.6745": (NORMAL_MEDIAN_ABS_Z, 0.5), "1": (1.0, 0.6827), "2": (2.0, 0.9545)}


def spread_stats(y: np.ndarray, mean: np.ndarray, std: np.ndarray) -> dict[str, float]:
    """Coverages at :data:`LEVELS`, median error and spread, and the Spearman of |error| with the spread."""
    err = np.abs(y - mean)
    out = {f"cover_{name}": coverage(y, mean, std, k) for name, (k, _) in LEVELS.items()}
    out.update(
        median_abs_error=float(np.median(err)),
        median_std=float(np.median(std)),
        spearman_err_std=float(spearmanr(err, std).statistic),
    )
    return out


def _take(archs: list, idx: np.ndarray) -> list:
    return [archs[i] for i in idx]


def _with_stats(row: dict, y: np.ndarray, before: tuple, after: tuple) -> dict:
    """``row`` with the Spearman of the means and :func:`spread_stats` of both spreads."""
    row["spearman"] = float(spearmanr(y, after[0]).statistic)
    row.update({f"before_{k}": v for k, v in spread_stats(y, *before).items()})
    row.update({f"after_{k}": v for k, v in spread_stats(y, *after).items()})
    return row


def run_one(family: str, seed: int, n_train: int, n_cal: int, n_test: int, params: dict | None = None) -> dict:
    """One (family, seed) row (``params``: GENNAPE hyperparameters other than the defaults, for tests)."""
    archs, y = inspace_table(family)
    order = np.random.default_rng(seed).permutation(len(y))
    tr, cal = order[:n_train], order[n_train : n_train + n_cal]
    te = order[n_train + n_cal : n_train + n_cal + n_test]
    start, cpu = time.perf_counter(), time.process_time()
    model = GENNAPEPredictor(**{"random_state": seed, "num_threads": 1, **(params or {})})
    model.fit(_take(archs, tr), y[tr], family=family)
    fit_cpu = time.process_time() - cpu
    before = model.predict(_take(archs, te), return_std=True, family=family)
    model.calibrate_std(_take(archs, cal), y[cal], family=family)
    after = model.predict(_take(archs, te), return_std=True, family=family)
    assert np.array_equal(before[0], after[0])
    row = {"family": family, "seed": seed, "n_train": len(tr), "n_cal": len(cal), "n_test": len(te)}
    row["scale"] = model.std_scale_
    _with_stats(row, y[te], before, after)
    row.update(fit_cpu_s=fit_cpu, wall_s=time.perf_counter() - start)
    return row


def run_finetune(family: str, seed: int, shots: int, n_test: int, model_path: str | None = None) -> dict:
    """One (family, seed) row of study S3b: the pretrained model (or ``model_path``) fine-tuned on ``shots``
    architectures with ``calibrate=True``; "before" is the same copy without its offset and spread factor."""
    archs, y = inspace_table(family)
    order = np.random.default_rng(seed).permutation(len(y))
    tr, te = order[:shots], order[shots : shots + n_test]
    base = GENNAPEPredictor.pretrained() if model_path is None else GENNAPEPredictor.load(model_path)
    base.set_params(num_threads=1, random_state=seed)
    start, cpu = time.perf_counter(), time.process_time()
    tuned = base.finetune(_take(archs, tr), y[tr], family=family, calibrate=True)
    row = {"family": family, "seed": seed, "n_train": len(tr), "n_cal": len(tr), "n_test": len(te)}
    row.update(scale=tuned.std_scale_, offset=tuned.mean_offset_, finetune_cpu_s=time.process_time() - cpu)
    after = tuned.predict(_take(archs, te), return_std=True, family=family)
    before = (after[0] - tuned.mean_offset_, after[1] / tuned.std_scale_)
    _with_stats(row, y[te], before, after)
    row["wall_s"] = time.perf_counter() - start
    return row


def summary(rows: list[dict]) -> str:
    """Markdown table of the means over seeds per family."""
    head = "| family | seeds | scale c | Spearman | median abs error before -> after | median spread before -> after |"
    cols = " | ".join(f"cover {k} before -> after (normal {v[1]:.1%})" for k, v in LEVELS.items())
    lines = [f"{head} {cols} | Spearman(abs error, spread) |", "|" + "---|" * (7 + len(LEVELS))]
    for fam in dict.fromkeys(r["family"] for r in rows):
        rs = [r for r in rows if r["family"] == fam]
        m = {k: float(np.mean([r[k] for r in rs])) for k in rs[0] if isinstance(rs[0][k], float)}
        per_seed = " ".join(f"{r['scale']:.2f}" for r in rs)
        covers = " | ".join(f"{m[f'before_cover_{k}']:.1%} -> {m[f'after_cover_{k}']:.1%}" for k in LEVELS)
        lines.append(
            f"| {fam} | {len(rs)} | {m['scale']:.3f} (per seed {per_seed}) | "
            f"{m['spearman']:.3f} | {m['before_median_abs_error']:.3f} -> {m['after_median_abs_error']:.3f} | "
            f"{m['before_median_std']:.3f} -> {m['after_median_std']:.3f} | {covers} | "
            f"{m['before_spearman_err_std']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--families", nargs="+", default=["nb201", "nb101", "nb301"])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--train", type=int, default=100)
    ap.add_argument("--cal", type=int, default=50)
    ap.add_argument("--test", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument(
        "--mode",
        choices=["inspace", "finetune"],
        default="inspace",
        help="inspace: S1 (fit, calibrate_std on --cal, test); finetune: S3b (the pretrained model fine-tuned on "
        "--train shots with calibrate=True, test)",
    )
    ap.add_argument("--model", help="finetune mode: a saved GENNAPE model instead of the shipped one")
    ap.add_argument("--out", type=Path, default=Path("runs/spread/s1.jsonl"))
    ap.add_argument("--summary", type=Path, help="print the table of a finished --out file and exit")
    args = ap.parse_args()
    if args.summary:
        print(summary([json.loads(line) for line in args.summary.read_text().splitlines() if line.strip()]))
        return
    args.out.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if args.out.exists():
        done = {(r["family"], r["seed"]) for r in map(json.loads, args.out.read_text().splitlines()) if r}
    tasks = [(f, s) for s in range(args.seeds) for f in args.families if (f, s) not in done]
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with ProcessPoolExecutor(max_workers=max(1, args.workers)) as pool:
        futures = [
            pool.submit(run_one, f, s, args.train, args.cal, args.test)
            if args.mode == "inspace"
            else pool.submit(run_finetune, f, s, args.train, args.test, args.model)
            for f, s in tasks
        ]
        for fut in futures:
            row = fut.result()
            with args.out.open("a") as fh:  # one complete line per finished task
                fh.write(json.dumps(row) + "\n")
            print(f"{row['family']} seed {row['seed']}: scale {row['scale']:.3f}, "
                  f"cover 1 {row['before_cover_1']:.1%} -> {row['after_cover_1']:.1%} ({row['wall_s']:.0f} s)",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
