"""Benchmark the GENNAPE and k-GNN predictors on the packaged benchmark tables and print a table.

Parts (``--part``):

* ``inspace``: NB-201 CIFAR-10 (``test_acc_200ep``; ``--family nb101`` / ``nb301``: the packaged
  tables with the transfer targets), train on ``--sizes`` random architectures per seed, test on
  ``--test-size`` random architectures of the rest (all of the rest with 0); ``--fit-weights cv``
  fits GENNAPE with cross-validated member weights and reports, from that one fit, the equal,
  agreement, ``cv`` and ``cv_stack`` weightings of the same model (rows ``gennape``,
  ``gennape-agreement``, ``gennape-cv``, ``gennape-cv_stack``); splits already in ``--out`` are skipped;
* ``transfer``: the pretrained NB-201 model (``GENNAPEPredictor.pretrained()``) zero-shot on NB-101,
  NB-301 and OFA-MBv3, and fine-tuned on 50 random architectures per seed (tested on the rest),
  with the FLOPs and params baselines and every ensemble member alone (``--finetune-weights cv``: the
  fine-tuned copies weigh their members by out-of-fold taus);
* ``calibration``: the pretrained model on ``--n-speed`` random NB-201 cells (in-sample), the linear
  and the quantile map of the same ensemble score (MAE, the top-20 cells, spread coverage);
* ``speed``: prediction throughput (architectures per second, CG construction included) and
  training time per epoch.

Results are appended as JSON lines to ``--out`` and summarised as Markdown on stdout.
Example: ``python scripts/bench_predictor.py --part inspace --seeds 3 --test-size 2000``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau, spearmanr

from gennape_naslib import data, search_spaces
from gennape_naslib.predictors.gennape import GENNAPEPredictor, KGNNPredictor
from gennape_naslib.predictors.gennape import data as gdata
from gennape_naslib.predictors.gennape.finetuning import FINETUNE_WEIGHTS

TARGETS = {"nb101": "val_acc/cifar10", "nb301": "val_acc_surrogate/cifar10", "ofa_mbv3": "top1_acc/imagenet"}


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Spearman, Kendall tau-b, NDCG@10 (GENNAPE relevance) and MAE."""
    rel = np.clip((y - y.min()) / max(y.max() - y.min(), 1e-12), 0, 1) * 20
    top = np.argsort(-p, kind="stable")[:10]
    ideal = np.sort(rel)[::-1][:10]
    disc = 1 / np.log2(np.arange(2, 12))
    ndcg = float((rel[top] * disc[: len(top)]).sum() / max((ideal * disc[: len(ideal)]).sum(), 1e-12))
    return {
        "spearman": float(spearmanr(y, p).statistic),
        "kendall": float(kendalltau(y, p).statistic),
        "ndcg10": ndcg,
        "mae": float(np.abs(y - p).mean()),
    }


def emit(out: Path, row: dict) -> None:
    row = {**row, "load1": round(os.getloadavg()[0], 2)}
    print(json.dumps(row), flush=True)
    with out.open("a") as fh:
        fh.write(json.dumps(row) + "\n")


def inspace_splits(args: argparse.Namespace, n: int):
    """Per train size and seed: ``(size, epochs, cl_epochs, seed, train rows, test rows)`` of NB-201."""
    for size in args.sizes:
        epochs = args.epochs if size <= 100 else args.epochs_large
        cl_epochs = 10 if size <= 100 else args.cl_epochs_large
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            perm = np.random.default_rng(seed).permutation(n)
            tr, rest = perm[:size], perm[size:]
            yield size, epochs, cl_epochs, seed, tr, (rest[: args.test_size] if args.test_size else rest)


def calibrated(
    model: GENNAPEPredictor, xte: list, yte: np.ndarray, w: np.ndarray | None = None, z: np.ndarray | None = None
) -> tuple[np.ndarray, dict]:
    """The ensemble's quantile-calibrated predictions, plus the linear map's metrics and members' Spearman
    (``w``: member weights, default the model's; ``z``: the standardised member scores if already computed)."""
    fam = model._member_z(xte[:1], None)[2]
    if z is None:
        z = model._member_z(xte, None)[0]
    w = model.member_weights(fam) if w is None else w
    zc = w @ z
    model.set_params(calibration="linear")
    linear = model.calibration_map(fam, w)(zc)
    model.set_params(calibration="quantile")
    pred = model.calibration_map(fam, w)(zc)
    extra = {f"linear_{k}": v for k, v in metrics(yte, linear).items()}
    for member, row in zip(model.members_, z):
        extra[f"member_spearman:{member}"] = float(spearmanr(yte, row).statistic)
    return pred, extra


def inspace_table(family: str) -> tuple[list, np.ndarray]:
    """Architectures and labels (percent) of the in-space family's packaged table."""
    if family == "nb201":
        tb = data.load("nb201", dataset="cifar10")
        return tb.archs, tb.metric("test_acc_200ep")
    tb = data.load(family)
    y = tb.metric(TARGETS[family]).astype(float)
    return tb.archs, y * 100.0 if y.max() <= 1.0 else y


def weight_variants(model: GENNAPEPredictor, family: str, y_train: np.ndarray) -> dict[str, np.ndarray]:
    """Equal, agreement and (after a cross-validated fit on labels ``y_train``) ``cv`` / ``cv_stack`` weights of
    one fitted model."""
    from gennape_naslib.predictors.gennape.cv_weights import stack_weights, tau_weights

    m = len(model.members_)
    out = {"gennape": np.full(m, 1.0 / m)}
    model.zero_shot_weights = "agreement"
    out["gennape-agreement"] = model.member_weights(family).copy()
    model.zero_shot_weights = "equal"
    oof = getattr(model, "cv_oof_z_", None)
    if model.fit_weights != "equal" and oof is not None:
        out["gennape-cv"] = tau_weights(oof, y_train, model.kt_temperature)[1]
        out["gennape-cv_stack"] = stack_weights(oof, y_train)
    return out


def inspace(args: argparse.Namespace, out: Path) -> None:
    archs, y = inspace_table(args.family)
    fam = search_spaces.get(args.family)
    done = set()
    if out.is_file():
        for line in out.read_text().splitlines():
            r = json.loads(line) if line.strip() else {}
            if r.get("part") == "inspace" and r.get("model") == "gennape":
                done.add((r.get("family", "nb201"), r["size"], r["seed"], r.get("fit_weights", "equal")))
    for size, epochs, cl_epochs, seed, tr, te in inspace_splits(args, len(archs)):
        if args.models == ["gennape"] and (args.family, size, seed, args.fit_weights) in done:
            print(f"skip {args.family} size {size} seed {seed}: already in {out}", flush=True)
            continue
        xtr, xte = [archs[i] for i in tr], [archs[i] for i in te]
        split = {"part": "inspace", "family": args.family, "size": size, "seed": seed, "n_test": len(te)}
        pool = args.cl_unlabeled
        gname = "gennape" if not pool else f"gennape+pool{pool}"
        models = {
            gname: GENNAPEPredictor(
                epochs=epochs, cl_epochs=cl_epochs, cl_unlabeled=pool, fit_weights=args.fit_weights, random_state=seed
            ),
            "kgnn": KGNNPredictor(epochs=40 if size <= 100 else epochs, random_state=seed),  # GENNAPE demo's 40
        }
        for name, model in models.items():
            if args.models and name.split("+")[0] not in args.models:
                continue
            t0, c0 = time.time(), time.process_time()
            model.fit(xtr, y[tr])
            t1, c1 = time.time(), time.process_time()
            if not name.startswith("gennape"):
                pred = model.predict(xte)
                row = {"fit_s": t1 - t0, "fit_cpu_s": c1 - c0, "predict_s": time.time() - t1}
                emit(
                    out,
                    {
                        **split,
                        "model": name,
                        "epochs": model.epochs,
                        "cl_epochs": cl_epochs,
                        **row,
                        **metrics(y[te], pred),
                    },
                )
                continue
            z = model._member_z(xte, None)[0]  # one pass: every weighting and both calibrations of it
            cv_cpu = float(getattr(model, "cv_cpu_s_", 0.0))
            for label, w in weight_variants(model, args.family, y[tr]).items():
                pred, extra = calibrated(model, xte, y[te], w=w, z=z)
                single = label in ("gennape", "gennape-agreement")  # these need only the one fit
                cost = {"fit_cpu_s": c1 - c0 - (cv_cpu if single else 0.0), "cv_cpu_s": 0.0 if single else cv_cpu}
                emit(
                    out,
                    {
                        **split,
                        "model": label + ("" if not pool else f"+pool{pool}"),
                        "fit_weights": args.fit_weights,
                        "epochs": model.epochs_,
                        "cl_epochs": cl_epochs,
                        "cl_unlabeled": pool,
                        "weights": np.round(w, 4).tolist(),
                        "cv_tau": None if model.cv_tau_ is None else np.round(model.cv_tau_, 4).tolist(),
                        "fit_s": t1 - t0,
                        **cost,
                        **extra,
                        **metrics(y[te], pred),
                    },
                )
        for base, fn in (("flops", fam.flops), ("params", fam.params)):
            emit(out, {**split, "model": base, **metrics(y[te], np.array([fn(a) for a in xte], dtype=float))})


def ablation(args: argparse.Namespace, out: Path) -> None:
    """CL / CL+FCM / CL+T / CL+FCM+T: four separately trained single-member models per seed
    (``--ablation-mode shared``: the four heads on one encoder trained jointly on their summed losses)."""
    tb = data.load("nb201", dataset="cifar10")
    archs, y = tb.archs, tb.metric("test_acc_200ep")
    members = ("cl", "cl_fcm", "cl_t", "cl_fcm_t")
    for size, epochs, cl_epochs, seed, tr, te in inspace_splits(args, len(archs)):
        xtr = [archs[i] for i in tr]
        xte = [archs[i] for i in te]
        groups = [(m,) for m in members] if args.ablation_mode == "separate" else [members]
        for group in groups:
            t0, c0 = time.time(), time.process_time()
            model = GENNAPEPredictor(members=group, epochs=epochs, cl_epochs=cl_epochs, random_state=seed)
            model.fit(xtr, y[tr])
            fit_s, fit_cpu = time.time() - t0, time.process_time() - c0
            raw = model._raw(model._prepare(xte)[0])
            for name in model.members_:
                emit(
                    out,
                    {
                        "part": "ablation",
                        "mode": args.ablation_mode,
                        "model": name,
                        "size": size,
                        "seed": seed,
                        "epochs": model.epochs_,
                        "cl_epochs": cl_epochs,
                        "n_test": len(te),
                        "fit_s": fit_s,
                        "fit_cpu_s": fit_cpu,
                        **metrics(y[te], raw[name][0]),
                    },
                )


def transfer(args: argparse.Namespace, out: Path) -> None:
    model = GENNAPEPredictor.pretrained() if args.model is None else GENNAPEPredictor.load(args.model)
    if args.pair_anchors is not None:
        model.set_params(pair_anchors=args.pair_anchors)
    if args.finetune_weights is not None:
        model.set_params(finetune_weights=args.finetune_weights)
    cache: dict[str, tuple] = {}
    for seed in range(args.first_seed, args.first_seed + args.seeds):  # seeds outside: every family per seed
        for fam_name in args.families:
            if fam_name not in cache:
                tb = data.load(fam_name)
                archs, y = tb.archs, tb.metric(TARGETS[fam_name]).astype(float)
                if y.max() <= 1.0:
                    y = y * 100.0  # the model was trained on percent
                records, _ = model._prepare(archs)
                # predictions are pointwise, so every member's row over the whole table is computed once
                cache[fam_name] = (search_spaces.get(fam_name), archs, y, records, model._raw(records, fam_name),
                                   model._member_z(archs, None)[0])  # fmt: skip
            fam, archs, y, records, raw, all_z = cache[fam_name]
            perm = np.random.default_rng(seed).permutation(len(archs))
            ft, te = perm[: args.shots], perm[args.shots :]
            xte = [archs[i] for i in te]
            z = all_z[:, te]
            model.zero_shot_weights = "agreement"
            agree_w = model.member_weights(fam_name)
            model.zero_shot_weights = "equal"
            for label, w in (("gennape-0shot", model.weights_), ("gennape-0shot-agreement", agree_w)):
                emit(
                    out,
                    {
                        "part": "transfer",
                        "family": fam_name,
                        "model": label,
                        "seed": seed,
                        "n_test": len(te),
                        "weights": np.round(w, 3).tolist(),
                        **metrics(y[te], model.calibration_map(fam_name, w)(w @ z)),
                    },
                )
            for member, (score, _) in raw.items():
                emit(
                    out,
                    {
                        "part": "transfer",
                        "family": fam_name,
                        "model": f"member:{member}-0shot",
                        "seed": seed,
                        "n_test": len(te),
                        **metrics(y[te], score[te]),
                    },
                )
            for base, fn in (("flops", fam.flops), ("params", fam.params)):
                emit(
                    out,
                    {
                        "part": "transfer",
                        "family": fam_name,
                        "model": base,
                        "seed": seed,
                        "n_test": len(te),
                        **metrics(y[te], np.array([fn(a) for a in xte], dtype=float)),
                    },
                )
            t0, c0 = time.time(), time.process_time()
            tuned = model.finetune([archs[i] for i in ft], y[ft], epochs=args.ft_epochs)
            t1, c1 = time.time(), time.process_time()
            pred, extra = calibrated(tuned, xte, y[te])
            emit(
                out,
                {
                    "part": "transfer",
                    "family": fam_name,
                    "model": f"gennape-{args.shots}shot",
                    "seed": seed,
                    "n_test": len(te),
                    "finetune_s": t1 - t0,
                    "finetune_cpu_s": c1 - c0,
                    "weights": tuned.weights_.round(3).tolist(),
                    **{k: v for k, v in extra.items() if k.startswith("linear_")},
                    **metrics(y[te], pred),
                },
            )
            traw = tuned._raw([records[i] for i in te], fam_name)
            for member, (score, _) in traw.items():
                emit(
                    out,
                    {
                        "part": "transfer",
                        "family": fam_name,
                        "model": f"member:{member}-{args.shots}shot",
                        "seed": seed,
                        "n_test": len(te),
                        **metrics(y[te], score),
                    },
                )


def calibration(args: argparse.Namespace, out: Path) -> None:
    tb = data.load("nb201", dataset="cifar10")
    y = tb.metric("test_acc_200ep")
    idx = np.random.default_rng(0).permutation(len(y))[: args.n_speed]
    archs, y = [tb.archs[i] for i in idx], y[idx]
    model = GENNAPEPredictor.pretrained() if args.model is None else GENNAPEPredictor.load(args.model)
    for cal in ("linear", "quantile"):
        model.set_params(calibration=cal)
        mean, std = model.predict(archs, return_std=True)
        err, top = np.abs(mean - y), np.argsort(-mean, kind="stable")[:20]
        emit(
            out,
            {
                "part": "calibration",
                "model": f"pretrained-{cal}",
                "n_test": len(archs),
                **metrics(y, mean),
                "median_ae": float(np.median(err)),
                "mae_acc_ge_90": float(err[y >= 90].mean()),
                "top20_pred": float(mean[top].mean()),
                "top20_true": float(y[top].mean()),
                "max_pred": float(mean.max()),
                "median_std": float(np.median(std)),
                "within_1std": float(np.mean(err <= std)),
            },
        )


def speed(args: argparse.Namespace, out: Path) -> None:
    from gennape_naslib.predictors.base import clear_graph_cache

    tb = data.load("nb201", dataset="cifar10")
    archs = tb.archs[: args.n_speed]
    model = GENNAPEPredictor.pretrained()
    fast = GENNAPEPredictor(members=("cl_fcm_t",), epochs=1, cl_epochs=1, random_state=0).fit(
        archs[:64], np.arange(64.0)
    )
    for name, m in (("gennape-6member", model), ("gennape-cl_fcm_t", fast)):
        for threads in (1, 2):
            m.num_threads = threads
            m.predict(archs[:8])
            clear_graph_cache()
            gdata.clear_cache()
            t0 = time.time()
            m.predict(archs)
            cold = time.time() - t0
            t0 = time.time()
            m.predict(archs)
            warm = time.time() - t0
            emit(
                out,
                {
                    "part": "speed",
                    "model": name,
                    "threads": threads,
                    "n": len(archs),
                    "cold_archs_per_s": len(archs) / cold,
                    "warm_archs_per_s": len(archs) / warm,
                },
            )
    xs, ys = tb.archs[:1000], tb.metric("test_acc_200ep")[:1000]
    gdata.prepare(xs)  # graphs cached: the epoch times below are training only
    for name, est in (
        ("kgnn", KGNNPredictor(epochs=1, random_state=0)),
        ("gennape-6member", GENNAPEPredictor(epochs=1, cl_epochs=1, random_state=0)),
    ):
        t0, c0 = time.time(), time.process_time()
        est.fit(xs, ys)
        emit(
            out,
            {
                "part": "speed",
                "model": name,
                "what": "fit with 1 epoch on 1,000 NB-201 graphs (GENNAPE: + 1 contrastive epoch, FCM, member stats)",
                "epoch_s_1000": time.time() - t0,
                "epoch_cpu_s_1000": time.process_time() - c0,
            },
        )


def summarise(path: Path) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["part"] in ("speed", "calibration"):
            continue
        model = r["model"] + (f" ({r.get('mode', 'shared')})" if r["part"] == "ablation" else "")
        key = (r["part"], r.get("family", "nb201"), r.get("size", ""), model)
        groups.setdefault(key, []).append(r)
    cols = "Spearman | Kendall | NDCG@10 | MAE | MAE, linear map | fit CPU s"
    print(f"| part | family | train size | model | seeds | {cols} |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for (part, fam, size, model), rs in sorted(groups.items(), key=lambda kv: tuple(map(str, kv[0]))):
        cells = []
        for k in ("spearman", "kendall", "ndcg10", "mae"):
            v = np.array([r[k] for r in rs])
            if k == "mae" and (model in ("flops", "params") or model.startswith("member:pair") or "flops" in model):
                cells.append("-")  # not in accuracy units
            else:
                cells.append(f"{v.mean():.3f} ± {v.std():.3f}" if len(v) > 1 else f"{v.mean():.3f}")
        for k, fmt in (("linear_mae", "{:.3f} ± {:.3f}"), ("fit_cpu_s", "{:.0f} ± {:.0f}")):
            v = np.array([r[k] for r in rs if k in r])
            cells.append(fmt.format(v.mean(), v.std()) if len(v) == len(rs) else "-")
        print(f"| {part} | {fam} | {size} | {model} | {len(rs)} | " + " | ".join(cells) + " |")
    for r in rows:
        if r["part"] in ("speed", "calibration"):
            print(r)


PARTS = {"inspace": inspace, "ablation": ablation, "transfer": transfer, "calibration": calibration, "speed": speed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--part", choices=["inspace", "ablation", "transfer", "calibration", "speed", "summary"], default="summary"
    )
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--test-size", type=int, default=2000, help="0 = all of the rest")
    ap.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="GENNAPE supervised epochs at train sizes up to 100 (default: the predictor's rule; k-GNN baseline: 40)",
    )
    ap.add_argument("--epochs-large", type=int, default=40, help="epochs at train sizes above 100")
    ap.add_argument("--cl-epochs-large", type=int, default=10, help="contrastive epochs above 100 (10 at 100)")
    ap.add_argument(
        "--cl-unlabeled", type=int, default=0, help="in-space: GENNAPE's unlabelled contrastive pool (cl_unlabeled)"
    )
    ap.add_argument("--models", nargs="*", default=None, help="in-space: only these of gennape, kgnn")
    ap.add_argument("--family", choices=["nb201", *TARGETS], default="nb201", help="in-space: the family's table")
    ap.add_argument(
        "--fit-weights",
        choices=["equal", "agreement", "cv", "cv_stack"],
        default="equal",
        help="in-space: GENNAPE fit_weights",
    )
    ap.add_argument("--ablation-mode", choices=["separate", "shared"], default="separate")
    ap.add_argument("--shots", type=int, default=50)
    ap.add_argument("--model", type=Path, default=None, help="transfer: predictor file (default: the pretrained one)")
    ap.add_argument("--families", nargs="+", default=list(TARGETS), help="transfer: target families")
    ap.add_argument(
        "--pair-anchors", choices=["train", "family"], default=None,
        help="transfer: set the model's pair_anchors (default: as loaded)",
    )  # fmt: skip
    ap.add_argument(
        "--finetune-weights", choices=FINETUNE_WEIGHTS, default=None,
        help="transfer: set the model's finetune_weights (default: as loaded)",
    )  # fmt: skip
    ap.add_argument("--ft-epochs", type=int, default=100)
    ap.add_argument("--n-speed", type=int, default=2000)
    ap.add_argument("--out", type=Path, default=Path("runs/bench_predictor.jsonl"))
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.part != "summary":
        PARTS[args.part](args, args.out)
    summarise(args.out)


if __name__ == "__main__":
    main()
