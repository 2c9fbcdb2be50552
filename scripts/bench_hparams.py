"""Hyperparameter study of ``GENNAPEPredictor``: every config x family x seed, in a process pool.

In-space (the default ``--mode``), each task fits ``GENNAPEPredictor(**config, random_state=seed)`` on
``--size`` random architectures of a packaged table (the split of ``scripts/bench_predictor.py --part
inspace``: ``default_rng(seed).permutation``) and tests on all the rest, with the ensemble's default (equal)
weights. One JSON line per task goes to ``--out`` (Spearman, Kendall, NDCG@10, MAE, each member's Spearman,
fit CPU seconds). With ``--mode transfer`` a family is ``SOURCE:TARGET`` (e.g. ``nb101:nb301``): the fit uses
``--size`` random architectures of the source table (all of them when ``--size`` is larger) and the test is
zero-shot on every architecture of the target table (``SOURCE:T1+T2`` tests one fit on several targets, one row
per target with family ``SOURCE:T``), standardised on the target family's reference sample as
in ``gennape bench transfer``. Tasks already in ``--out`` are skipped, so an interrupted study resumes (the rows
of a task are appended together; a line cut by a kill is dropped; one run per ``--out`` at a time). A
config with ``n_repeats = R > 1`` also writes a row ``NAME:k`` for every ``k < R``: the same fit with only its
first ``k`` copies, which is exactly the model ``n_repeats=k`` fits under the seed (fit CPU seconds scaled by
``k / R``). ``--anchors K ...`` also writes a row ``NAME@aK`` per ``K``: the same fit with ``K`` anchors for
the pairwise members (:func:`anchor_variant`; exactly the fit with ``n_anchors=K``), and ``--family-anchors K ...``
a row ``NAME@fK`` per ``K``: the same fit with ``pair_anchors="family"`` and ``n_anchors=K`` (the plain pairwise
members compare against ``K`` architectures of the predicted family's reference sample); ``--embed-align MODE ...``
a row ``NAME@MODE`` per mode: the same fit predicting with ``embed_align=MODE`` (prediction-time only).
``--target-pool N`` (transfer mode, one target per task) fits with ``N`` architectures drawn with the target
family's sampler as ``X_unlabeled`` (contrastive pretraining and clustering only; no target label is read).
``--save-models DIR`` (in-space and transfer) also saves every fitted model as ``DIR/CONFIG_SOURCE_sSEED.npz``,
e.g. a source model for ``--mode finetune --model`` (fine-tunes it on ``--size`` shots of each family, the same
split, tested on the rest).
``--save-scores`` keeps each member's standardised test scores in the rows, and ``--summary --combine NAME=CFG,...``
then adds the equal-weight ensemble of separately fitted configs (:func:`combine`; e.g. one single-member model
per member). A Markdown summary (mean ± std over seeds per config and family) is printed at the end and by
``--summary``.

Example (the study in ``docs/results.md``, "Hyperparameters chosen on development families")::

    python scripts/bench_hparams.py --configs runs/dev_hparams/configs.json --families nb101 nb301 \\
        --seeds 5 --workers 16 --out runs/dev_hparams/rows.jsonl
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
from bench_predictor import inspace_table, metrics
from scipy.stats import spearmanr

from gennape_naslib._atomic import append_text, drop_torn_line, path_lock, read_json_lines
from gennape_naslib.predictors.gennape.align import EMBED_ALIGN

#: One table load per worker process, not one per task.
_table = functools.lru_cache(maxsize=None)(inspace_table)


def run_task(task: dict) -> list[dict]:
    """Fit (or fine-tune) and test one (config, family, seed); returns the result row (and the prefix and
    anchor-variant rows)."""
    import torch

    from gennape_naslib.predictors.gennape import GENNAPEPredictor
    from gennape_naslib.predictors.gennape.repeats import first_copies

    torch.set_num_threads(1)
    source = task["family"].partition(":")[0]
    archs, y = _table(source)
    perm = np.random.default_rng(task["seed"]).permutation(len(archs))
    tr, te = perm[: task["size"]], perm[task["size"] :]
    xtr, ytr = [archs[i] for i in tr], y[tr]
    c0 = time.process_time()
    if task["mode"] == "finetune":  # the pretrained model with the config's fine-tuning parameters
        base = GENNAPEPredictor.load(task["model"]) if task["model"] else GENNAPEPredictor.pretrained()
        model = base.set_params(**task["params"]).finetune(xtr, ytr)
    else:
        model = GENNAPEPredictor(**task["params"], random_state=task["seed"])
        model.fit(xtr, ytr, X_unlabeled=target_pool(task))
    fit_cpu = time.process_time() - c0
    if task.get("save_models") and task["mode"] != "finetune":  # e.g. source models to fine-tune later
        model.save(Path(task["save_models"]) / f"{task['config']}_{source}_s{task['seed']}.npz")
    if task["mode"] == "transfer":  # zero-shot on the whole table of every target
        tests = [(f, *_table(f.partition(":")[2])) for f in task_families(task["family"], "transfer")]
    else:
        tests = [(task["family"], [archs[i] for i in te], y[te])]

    def row(name: str, part: Any, cpu: float) -> list[dict]:
        out = []
        for family, xte, yte in tests:
            z = part._member_z(xte, None)[0]
            members = {m: float(spearmanr(yte, r).statistic) for m, r in zip(part.members_, z)}
            r = {**task, "family": family, "config": name, **metrics(yte, part.predict(xte)), "members": members,
                 "fit_cpu_s": cpu, "n_test": len(yte)}  # fmt: skip
            if task.get("save_scores"):  # standardised member scores and labels, for combining models offline
                r["z"] = {m: np.round(v, 6).tolist() for m, v in zip(part.members_, z)}
                r["y_test"] = np.asarray(yte, dtype=float).tolist()
            out.append(r)
        return out

    rows = [
        r
        for k in task.get("anchors", [])
        for r in row(f"{task['config']}@a{k}", anchor_variant(model, xtr, ytr, k), fit_cpu)
    ]
    for k in task.get("family_anchors", []):
        variant = anchor_variant(model, xtr, ytr, k)
        variant.pair_anchors = "family"
        rows += row(f"{task['config']}@f{k}", variant, fit_cpu)
    for mode in task.get("embed_align", []):
        rows += row(f"{task['config']}@{mode}", model._uncached_copy().set_params(embed_align=mode), fit_cpu)
    n = 1 + len(getattr(model, "repeats_", []))
    for k in range(1, n + 1):
        name = task["config"] if k == n else f"{task['config']}:{k}"
        rows += row(name, model if k == n else first_copies(model, k), fit_cpu * k / n)
    return rows[::-1]


def target_pool(task: dict) -> list | None:
    """``--target-pool N``: ``N`` architectures drawn with the transfer target's sampler (``default_rng(seed + 1000)``;
    no table, so no label) for the fit's ``X_unlabeled``; ``None`` without the option."""
    n = int(task.get("target_pool") or 0)
    if not n:
        return None
    from gennape_naslib import search_spaces

    (family,) = task_families(task["family"], task["mode"])  # one target per task (checked in main)
    adapter = search_spaces.get(family.partition(":")[2])
    rng = np.random.default_rng(task["seed"] + 1000)
    return [adapter.sample(rng) for _ in range(n)]


def split_targets(targets: str) -> list[str]:
    """The target families of a transfer task's ``SOURCE:T1+T2+...``."""
    names = targets.split("+")
    if not all(names):
        raise SystemExit(f"--mode transfer: empty target family in {targets!r}")
    return names


def task_families(family: str, mode: str) -> list[str]:
    """The ``family`` values of the rows a task writes (``SOURCE:T`` per target in transfer mode)."""
    if mode != "transfer":
        return [family]
    source, _, targets = family.partition(":")
    return [f"{source}:{t}" for t in split_targets(targets)]


def anchor_variant(model: Any, X: list, y: np.ndarray, k: int) -> Any:
    """The fitted ``model`` with ``k`` anchors instead of its ``n_anchors``: exactly what a fit with ``n_anchors=k``
    gives (anchors are chosen after training and use no random numbers), for ``fit_weights="equal"`` and one copy.

    Args:
        model: A ``GENNAPEPredictor`` fitted on ``(X, y)``.
        X, y: Its training architectures and accuracies.
        k: Anchors of the variant.

    Raises:
        ValueError: If the model has further copies or weights fitted on its scores (cross-validated or
            fine-tuned).
    """
    if getattr(model, "repeats_", []) or model.fit_weights != "equal" or np.isfinite(model.member_tau_).any():
        raise ValueError("anchor variants need a fitted (not fine-tuned) model, n_repeats=1, fit_weights='equal'")
    v = model._uncached_copy()
    v.n_anchors = int(k)
    records, _ = v._prepare(X, None)
    y = np.asarray(y, dtype=np.float64)
    v._choose_anchors(records, y)
    v._score_training_set(records, y)  # its statistics depend on the pairwise members' anchors
    return v


def check_configs(configs: Any, path: Path) -> None:
    """Every config must be a JSON object of ``GENNAPEPredictor`` parameters (checked before any task runs)."""
    from gennape_naslib.predictors.gennape import GENNAPEPredictor

    known = set(GENNAPEPredictor().get_params()) - {"random_state"}
    if not isinstance(configs, dict) or not all(isinstance(p, dict) for p in configs.values()):
        raise SystemExit(f"{path}: expected a JSON object {{name: {{parameter: value}}}}")
    for name, params in configs.items():
        unknown = sorted(set(params) - known)
        if unknown:
            raise SystemExit(f"{path}: config {name!r}: unknown GENNAPEPredictor parameter(s) {unknown}")


def combine(rows: list[dict], name: str, configs: list[str]) -> list[dict]:
    """Equal-weight ensembles of separately fitted models: per (family, seed, size) where every config in
    ``configs`` has a row with saved scores (``--save-scores``), the mean of all their members' standardised
    scores, ranked against the saved labels (Spearman, Kendall, NDCG@10; no MAE, as the mean has no accuracy
    scale); one row per (family, seed, size) named ``name``.

    Raises:
        ValueError: If the rows of one (family, seed, size) were tested on different labels.
    """
    groups: dict[tuple, dict[str, dict]] = {}
    for r in rows:
        if r["config"] in configs and "z" in r:
            groups.setdefault((r["family"], r["seed"], r["size"]), {})[r["config"]] = r
    out = []
    for (fam, seed, size), by_cfg in sorted(groups.items()):
        if set(by_cfg) != set(configs):
            continue
        y = np.asarray(by_cfg[configs[0]]["y_test"], dtype=float)
        if any(not np.array_equal(np.asarray(by_cfg[c]["y_test"], dtype=float), y) for c in configs):
            raise ValueError(f"{fam} seed {seed}: the models were tested on different architectures")
        z = np.array([m for c in configs for m in by_cfg[c]["z"].values()], dtype=float)
        scored = {k: v for k, v in metrics(y, z.mean(0)).items() if k != "mae"}  # no accuracy scale: no MAE
        out.append({"config": name, "family": fam, "seed": seed, "size": size, "mode": by_cfg[configs[0]]["mode"],
                    **scored, "fit_cpu_s": sum(by_cfg[c]["fit_cpu_s"] for c in configs),
                    "n_test": len(y), "parts": list(configs)})  # fmt: skip
    return out


def summary(rows: list[dict]) -> str:
    """Markdown table: mean ± std of Spearman per config and family, and the mean fit CPU seconds."""
    fams = sorted({r["family"] for r in rows})
    names = list(dict.fromkeys(r["config"] for r in rows))
    lines = ["| config | " + " | ".join(fams) + " | fit CPU s |", "|---" * (len(fams) + 2) + "|"]
    for name in names:
        cells = []
        for f in fams:
            v = np.array([r["spearman"] for r in rows if r["config"] == name and r["family"] == f])
            cells.append(f"{v.mean():.3f} ± {v.std():.3f} (n={len(v)})" if len(v) else "-")
        cpu = np.mean([r["fit_cpu_s"] for r in rows if r["config"] == name])
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {cpu:.0f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--configs", type=Path, required=True, help="JSON object {name: GENNAPEPredictor params}")
    ap.add_argument("--families", nargs="+", default=["nb101", "nb301"])
    ap.add_argument("--size", type=int, default=100, help="training (finetune: fine-tuning) architectures")
    ap.add_argument(
        "--mode",
        choices=["inspace", "finetune", "transfer"],
        default="inspace",
        help="inspace: fit a new predictor; finetune: fine-tune the pretrained (or --model) predictor; "
        "transfer: fit on SOURCE, test zero-shot on TARGET (families given as SOURCE:TARGET)",
    )
    ap.add_argument("--model", default="", help="finetune: predictor file (default: the shipped pretrained model)")
    ap.add_argument(
        "--anchors", type=int, nargs="*", default=[],
        help="also score each fit with these numbers of anchors (rows NAME@aK; n_repeats=1, equal weights)",
    )  # fmt: skip
    ap.add_argument(
        "--family-anchors", type=int, nargs="*", default=[],
        help="also score each fit with pair_anchors='family' and these numbers of anchors (rows NAME@fK)",
    )  # fmt: skip
    ap.add_argument(
        "--embed-align", nargs="*", default=[], choices=EMBED_ALIGN[1:],
        help="also score each fit predicting with these embed_align modes (rows NAME@MODE)",
    )  # fmt: skip
    ap.add_argument(
        "--save-scores", action="store_true",
        help="also write each member's standardised scores on the test architectures and their labels",
    )  # fmt: skip
    ap.add_argument(
        "--save-models", type=Path, default=None, metavar="DIR",
        help="inspace / transfer: also save each fitted model as DIR/CONFIG_SOURCE_sSEED.npz",
    )  # fmt: skip
    ap.add_argument(
        "--target-pool",
        type=int,
        default=0,
        help="transfer: fit with N unlabelled architectures of the target family (X_unlabeled)",
    )
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--summary", action="store_true", help="only print the summary of --out")
    ap.add_argument(
        "--combine", nargs="*", default=[], metavar="NAME=CFG,CFG,...",
        help="also summarise equal-weight ensembles of configs run with --save-scores",
    )  # fmt: skip
    ap.add_argument("--seed-major", action="store_true", help="run seed by seed (default: family by family)")
    ap.add_argument("--quiet", action="store_true", help="no summary (e.g. to keep held-out families unread)")
    args = ap.parse_args()
    rows = read_json_lines(args.out)
    rows = [r for r in rows if r.get("mode", "inspace") == args.mode]
    if not args.summary:
        configs = json.loads(args.configs.read_text())
        check_configs(configs, args.configs)
        pairs = [f for f in args.families if ":" in f]
        if (args.mode == "transfer") != (len(pairs) == len(args.families)):
            raise SystemExit("--mode transfer takes every family as SOURCE:TARGET, the other modes none")
        if args.target_pool and (args.mode != "transfer" or any(len(task_families(f, "transfer")) > 1 for f in pairs)):
            raise SystemExit("--target-pool needs --mode transfer with one target per family (SOURCE:TARGET)")
        done = {(r["config"], r["family"], r["seed"], r["size"]) for r in rows}
        tasks = [
            {
                "config": name,
                "params": params,
                "family": fam,
                "seed": seed,
                "size": args.size,
                "mode": args.mode,
                "model": args.model,
                "anchors": args.anchors,
                "family_anchors": args.family_anchors,
                "embed_align": args.embed_align,
                "save_scores": args.save_scores,
                "target_pool": args.target_pool,
                "save_models": str(args.save_models or ""),
            }  # fmt: skip
            for fam in args.families
            for seed in range(args.first_seed, args.first_seed + args.seeds)
            for name, params in configs.items()
            if not all((name, f, seed, args.size) in done for f in task_families(fam, args.mode))
        ]
        # families in the order given (development families first), longest tasks first within a family
        order = {f: i for i, f in enumerate(args.families)}
        key = "finetune_epochs" if args.mode == "finetune" else "epochs"

        def length(t: dict) -> int:  # more epochs first; unset (the default) counts as 100
            return -(t["params"].get(key) or 100)

        if args.seed_major:  # every config and family of a seed before the next seed: partial runs stay comparable
            tasks.sort(key=lambda t: (t["seed"], order[t["family"]], length(t)))
        else:
            tasks.sort(key=lambda t: (order[t["family"]], length(t), t["seed"]))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if args.save_models:
            args.save_models.mkdir(parents=True, exist_ok=True)
        args.out.touch()
        with path_lock(args.out, what="bench_hparams run"), ProcessPoolExecutor(args.workers) as pool:
            drop_torn_line(args.out)  # a row cut by a kill: the next row would be glued onto it
            futures = [pool.submit(run_task, t) for t in tasks]
            for fut in as_completed(futures):
                task_rows = fut.result()
                # all rows of a task in one append: a task counts as done by its main row, so its variant
                # rows (NAME:k, NAME@aK, ...) must not be left out by a kill between two lines
                append_text(args.out, "".join(json.dumps(row) + "\n" for row in task_rows))
                for row in task_rows:
                    rows.append(row)
                    if not args.quiet:
                        print(row["config"], row["family"], row["seed"], f"{row['spearman']:.3f}", flush=True)
    for spec in args.combine:
        name, _, parts = spec.partition("=")
        if not name or not parts:
            raise SystemExit(f"--combine expects NAME=CFG,CFG,..., got {spec!r}")
        rows += combine(rows, name, parts.split(","))
    if not args.quiet:
        print(summary(rows))


if __name__ == "__main__":
    main()
