"""Train the GENNAPE model shipped with the package on NB-201 cells (CIFAR-10, ``test_acc_200ep``).

Writes ``gennape_naslib/predictors/gennape/pretrained/nb201_c10.npz`` (the predictor file format of
:meth:`Predictor.save`), loaded by ``GENNAPEPredictor.pretrained()``. Every fit uses one torch thread and a fixed
seed: rerunning the script with the same package version on the same machine reproduces the file byte for byte,
whatever ``--workers`` (another CPU can round differently, and training amplifies that; a package that writes a
newer file format writes other bytes for the same weights).

The paper's protocol, with settings chosen a priori (not on any transfer target) to fit the CPU time of the shared
2-core build machine:

- the paper's training-set filter (``train_floor=80``: the 13,938 cells at or above 80 % accuracy, as the paper
  drops NB-101 architectures below 80 %; round 16 of ``docs/data/dev_hparams/PROTOCOL.md``);
- the paper's model selection (round 17): 10 % of the kept cells (1,394, a fixed permutation) are held out as
  val-2, 5 fits with seeds 0-4 train on the rest, and the one whose ensemble prediction has the highest Spearman
  correlation on val-2 is written (the paper's val-1 only picks each fit's best epoch; the epoch count here is
  fixed, so val-1 joins the training part);
- each fit: the 6-member ensemble with the predictor's defaults, contrastive pretraining for 2 epochs on 2,048
  cells, then 8 supervised epochs (batch 32; lr 1e-3 for the CL members, 1e-4 for the k-GNN member). The paper
  trains 40 epochs on NB-101; ``--epochs 40`` does that here (about five times the CPU time). Among 1, 2, 4 and 8
  supervised epochs an NB-201 hold-out picks 8 (round 9, before the filter).

Usage: ``python scripts/train_pretrained.py [--fits 5] [--val-fraction 0.1] [--workers 1] [--keep-fits DIR]
[--epochs 8] [--cl-epochs 2] [--members M ...] [--rank-weight W] [--res-norm fixed|graph] [--train-floor 80|none]
[--out PATH]``. About 4 minutes of CPU per fit; ``--workers 2`` runs two fits side by side; with ``--keep-fits
DIR`` an interrupted run resumes, keeping every fit in ``DIR`` made with the same settings on the same cells. ``--fits 1
--val-fraction 0`` makes one fit (seed 0) on every kept cell, the shipped file of round 16; ``--train-floor none``
with it, that of rounds 9-15. ``--members`` / ``--rank-weight`` / ``--res-norm`` train another member set, loss or
feature normalisation, e.g. to measure an option (the shipped file uses the defaults of when it was trained,
``rank_weight=0`` included).

``python scripts/train_pretrained.py --add-embed-stats MODEL --out PATH`` trains nothing: it loads the predictor file
``MODEL`` (a model trained here on NB-201 and saved before state version 8, e.g. the shipped one of rounds 9-15;
every fit since stores them), adds the statistics of its embeddings over its training set (the NB-201 cells its
``train_floor`` keeps; labels are read only for that) that ``embed_align`` needs, and writes it to ``PATH``; the
weights and hyperparameters are unchanged.
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from gennape_naslib import data
from gennape_naslib.predictors.gennape import GENNAPEPredictor
from gennape_naslib.predictors.gennape._train import apply_train_floor
from gennape_naslib.predictors.gennape.data import RES_NORMS
from gennape_naslib.predictors.gennape.predictor import PRETRAINED


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--cl-epochs", type=int, default=2)
    ap.add_argument("--members", nargs="+", default=None, help="ensemble members (default: the predictor's)")
    ap.add_argument(
        "--rank-weight", type=float, default=0.0, help="CL regressors' pair-order term (default 0, as shipped)"
    )
    ap.add_argument("--res-norm", choices=RES_NORMS, default="fixed", help="resolution features (as shipped: fixed)")
    ap.add_argument(
        "--train-floor", type=_floor, default=80.0, metavar="ACC|none",
        help="drop training cells below this accuracy in percent (as shipped: 80, the paper's; none: keep all)",
    )  # fmt: skip
    ap.add_argument("--fits", type=int, default=5, help="fits with seeds 0..N-1, the best on val-2 is kept (5)")
    ap.add_argument(
        "--val-fraction", type=float, default=0.1,
        help="share of the kept cells held out as val-2 (0.1; 0 with --fits 1: one fit on every kept cell)",
    )  # fmt: skip
    ap.add_argument("--workers", type=int, default=1, help="fits run side by side in this many processes (1)")
    ap.add_argument("--keep-fits", type=Path, default=None, metavar="DIR", help="also keep every fit as DIR/seedN.npz")
    ap.add_argument("--out", type=Path, default=None, help=f"file to write (default when training: {PRETRAINED})")
    ap.add_argument(
        "--add-embed-stats", type=Path, default=None, metavar="MODEL",
        help="train nothing: add the training set's embedding statistics (for embed_align) to MODEL, write --out",
    )  # fmt: skip
    args = ap.parse_args()
    if args.add_embed_stats is not None and args.out is None:
        ap.error("--add-embed-stats needs --out (the shipped file is not overwritten by default)")
    if args.fits < 1 or args.workers < 1:
        ap.error(f"--fits and --workers must be at least 1, got {args.fits} and {args.workers}")
    if not 0 <= args.val_fraction < 1 or (args.val_fraction == 0 and args.fits > 1):
        ap.error(
            f"--val-fraction must be in [0, 1), and above 0 to choose among --fits {args.fits} "
            f"(got {args.val_fraction})"
        )
    args.out = PRETRAINED if args.out is None else args.out
    archs, y = nb201()
    if args.add_embed_stats is not None:
        add_embed_stats(args.add_embed_stats, archs, y, args.out)
        return
    settings = dict(  # as shipped (kgnn_lr and rank_weight: the defaults of when the file was trained)
        cl_max_graphs=2048, num_threads=1, fit_weights="equal", kgnn_lr=1e-4, epochs=args.epochs,
        cl_epochs=args.cl_epochs, rank_weight=args.rank_weight, res_norm=args.res_norm, train_floor=args.train_floor,
    )  # fmt: skip
    if args.members:
        settings["members"] = tuple(args.members)
    kept = np.array(apply_train_floor(args.train_floor, list(range(len(y))), y)[0])  # cell indices
    val = holdout(kept, args.val_fraction)
    train = np.setdiff1d(np.arange(len(y)), val)  # cells below the floor stay: the fit drops and counts them
    print(
        f"{len(kept)} of {len(y)} NB-201 cells reach the floor, {len(val)} of them held out as val-2; "
        f"{args.fits} fit(s) on the other {len(train)} cells, seeds 0-{args.fits - 1}, {args.workers} worker(s)"
    )
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep_fits or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        jobs = [(seed, settings, train, val, folder / f"seed{seed}.npz") for seed in range(args.fits)]
        if args.workers > 1:
            with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                results = list(pool.map(fit_one, jobs))
        else:
            results = [fit_one(job) for job in jobs]
        best = best_seed([score for score, _ in results])
        for seed, (score, line) in enumerate(results):
            print(f"seed {seed}: val-2 Spearman {score:.4f}; {line}" + ("  <- kept" if seed == best else ""))
        print(f"{args.fits} fit(s) in {time.time() - t0:.0f} s wall (load average {os.getloadavg()[0]:.1f})")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        partial = args.out.with_name(args.out.name + ".partial")
        shutil.copyfile(jobs[best][-1], partial)  # the fit's own bytes, renamed into place
        os.replace(partial, args.out)
    print(f"wrote {args.out} (seed {best}; {args.out.stat().st_size / 1024:.0f} KiB)")


@functools.lru_cache(maxsize=1)
def nb201() -> tuple[list, np.ndarray]:
    """The NB-201 cells and their CIFAR-10 accuracies in percent (``test_acc_200ep``), loaded once per process."""
    table = data.load("nb201", dataset="cifar10")
    return table.archs, np.asarray(table.metric("test_acc_200ep"), dtype=float)


def holdout(kept: np.ndarray, fraction: float) -> np.ndarray:
    """The val-2 cells: the last ``fraction`` of a fixed permutation (``default_rng(0)``) of ``kept``, sorted."""
    n_val = round(fraction * len(kept))
    return np.sort(kept[np.random.default_rng(0).permutation(len(kept))][len(kept) - n_val :])


def best_seed(scores: list[float]) -> int:
    """Index of the highest score; a tie goes to the lower index (a NaN never wins unless all are NaN)."""
    ranked = [(-np.inf if np.isnan(s) else s, -i) for i, s in enumerate(scores)]
    return -max(ranked)[1]


def fit_one(job: tuple) -> tuple[float, str]:
    """Fit one seed on the training cells, write it to its path, and score it on val-2 (Spearman, accuracy
    space; NaN without val-2 cells). Returns the score and a line about the fit."""
    seed, settings, train, val, path = job
    archs, y = nb201()
    model = GENNAPEPredictor(random_state=seed, **settings)
    done = GENNAPEPredictor.load(path) if path.is_file() else None  # a kept fit of an interrupted run
    if done is not None and _same_fit(done, model, y[train]):
        model, line = done, f"kept from {path} (not refitted)"
    else:
        t0, c0 = time.time(), time.process_time()
        model.fit([archs[i] for i in train], y[train])
        line = (
            f"trained on {len(train) - model.n_train_dropped_} cells in {time.time() - t0:.0f} s wall, "
            f"{time.process_time() - c0:.0f} s CPU; history: {model.history_}"
        )
        model.save(path)
    if len(val) == 0:
        return float("nan"), line
    return float(spearmanr(model.predict([archs[i] for i in val]), y[val])[0]), line


def _same_fit(done: GENNAPEPredictor, model: GENNAPEPredictor, y_train: np.ndarray) -> bool:
    """Whether the saved fit ``done`` has ``model``'s hyperparameters and was trained on the labels ``y_train``
    (the same cells dropped by the floor and the same mean of the kept ones)."""
    _, kept, dropped = apply_train_floor(model.train_floor, [None] * len(y_train), y_train)
    return (
        done.get_params() == model.get_params()
        and done.n_train_dropped_ == dropped
        and bool(np.isclose(done.y_mean_, kept.mean(), rtol=0, atol=1e-9))
    )


def _floor(text: str) -> float | None:
    """``--train-floor``: a number, or ``none``."""
    return None if text.lower() == "none" else float(text)


def add_embed_stats(path: Path, archs: list, y, out: Path) -> None:
    """Write ``path``'s model to ``out`` with the embedding statistics of its training set: the cells ``archs``
    (NB-201) whose label ``y`` reaches the model's ``train_floor``."""
    from gennape_naslib.predictors.gennape._train import threads
    from gennape_naslib.predictors.gennape.align import embedding_stats

    model = GENNAPEPredictor.load(path)
    archs = apply_train_floor(model.train_floor, list(archs), y)[0]
    t0 = time.time()
    records, family = model._prepare(archs)  # the copies share the model's res_norm, so its records
    with threads(model.num_threads):
        for part in (model, *model.repeats_):
            part.embed_stats_, part.train_family_ = embedding_stats(part, records), family
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    print(f"added the embedding statistics of {len(archs)} NB-201 cells in {time.time() - t0:.0f} s; wrote {out}")


if __name__ == "__main__":
    main()
