"""Validate our zero-cost proxies against NAS-Bench-Suite-Zero's published NAS-Bench-201 scores.

``run``: scores the 725 NAS-Bench-201 cells of ``../shared/data/nb201/zc_nasbench201_725.json``
(CIFAR-10 entries; keys are NASLib op-index tuples) with every proxy, in a fixed random order
(``numpy.random.default_rng(order_seed).permutation`` of the sorted keys, so any prefix is a uniform
random subset), appending one JSON line per cell to ``--out`` as it goes. Rerunning skips the cells
already in the file (resumable; a line cut by a kill is dropped and its cell scored again; one run at a
time per folder of ``--out``); ``--limit N`` stops after the first N cells of the order. With
``--proxies A,B`` only those proxies are scored and appended as rows of their own; ``report`` merges
a cell's rows (later scores win). To rescore some proxies after a definition change, give the run a
new ``--tag``: cells count as done only through rows of the same tag, e.g.
``run --proxies plain --tag plain-v2`` rescores plain on every cell into the same file.

``report``: for every proxy, the Spearman correlation between our score and the published score of
the same proxy on the scored cells (target >= 0.9), and the Spearman correlation of ours and of the
published scores with the published validation accuracy (target: within 0.05), as a Markdown table.

``average``: several runs of the same cells under other seeds (other initial weights and images); per
proxy, the correlation with the published scores of each run alone and of the mean score over the first
``k`` runs, how well the runs agree with each other, and the accuracy correlation of the mean (does
averaging over draws of the protocol bring a noisy proxy closer to the published draw?).

``timing``: seconds per architecture of each proxy computed alone (:func:`proxies.score_one`) on a
few sampled architectures of some families, one torch thread: wall-clock and process CPU seconds (the
CPU seconds hardly depend on what else runs on the machine).

Usage::

    python scripts/validate_proxies.py run --limit 200 --workers 2
    python scripts/validate_proxies.py report [--markdown out.md]
    python scripts/validate_proxies.py average RUN_SEED0 RUN_SEED1 ... [--proxies grasp,epe_nas]
    python scripts/validate_proxies.py timing --families nb201,nb301,ofa_mbv3 --n 3
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from gennape_naslib._atomic import append_text, drop_torn_line, path_lock, read_json_lines

ROOT = Path(__file__).resolve().parents[1]
ZC_FILE = ROOT.parent / "shared" / "data" / "nb201" / "zc_nasbench201_725.json"
DEFAULT_OUT = ROOT / "runs" / "proxy_validation" / "nb201_cifar10_seed0.jsonl"
PUBLISHED = (
    "synflow",
    "snip",
    "grasp",
    "fisher",
    "grad_norm",
    "jacov",
    "nwot",
    "epe_nas",
    "l2_norm",
    "plain",
    "params",
    "flops",
)


def load_published(path: Path = ZC_FILE) -> dict[str, dict]:
    """The CIFAR-10 entries of the NAS-Bench-Suite-Zero NB-201 file, keyed by op-index tuple text."""
    with open(path) as fh:
        return json.load(fh)["cifar10"]


def order(keys: list[str], seed: int) -> list[str]:
    """The cells in the fixed random order of the run."""
    keys = sorted(keys)
    return [keys[i] for i in np.random.default_rng(seed).permutation(len(keys))]


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _score_cell(key: str, seed: int, batch_size: int, names: list[str] | None = None) -> dict:
    from gennape_naslib import proxies, search_spaces

    nb201 = search_spaces.get("nb201")
    arch = nb201.from_naslib(ast.literal_eval(key))
    result = proxies.score_many(names or proxies.list_proxies(), nb201, arch, seed=seed, batch_size=batch_size)
    return {
        "key": key,
        "arch": str(arch),
        "scores": {n: v for n, (v, _) in result.items()},
        "seconds": {n: t for n, (_, t) in result.items()},
    }


def _done_keys(out: Path, names: list[str] | None = None, tag: str = "") -> set[str]:
    """Cells of ``out`` with every proxy of ``names`` in rows of run tag ``tag`` (``names=None``: any row)."""
    if not out.exists():
        return set()
    have: dict[str, set[str]] = {}
    for row in read_json_lines(out):
        if row.get("tag", "") == tag:
            have.setdefault(row["key"], set()).update(row["scores"])
    if names is None:
        return set(have)
    return {k for k, v in have.items() if set(names) <= v}


def merged_rows(out: Path) -> list[dict]:
    """The rows of ``out`` merged per cell, in first-seen order; a later row's scores replace earlier ones.

    ``run --proxies A,B`` appends rows with only those proxies (e.g. after a definition change), so
    a rerun of some proxies updates them without recomputing the others.
    """
    merged: dict[str, dict] = {}
    for row in read_json_lines(out):
        cell = merged.setdefault(row["key"], {**row, "scores": {}, "seconds": {}})
        cell["scores"].update(row["scores"])
        cell["seconds"].update(row["seconds"])
    return list(merged.values())


def cmd_run(args: argparse.Namespace) -> int:
    published = load_published()
    todo_all = order(list(published), args.order_seed)[: args.limit]
    names = args.proxies.split(",") if args.proxies else None
    done = _done_keys(args.out, names, args.tag)
    todo = [k for k in todo_all if k not in done]
    print(f"{len(done)} cells already scored, {len(todo)} to go -> {args.out}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.touch()
    start = time.time()
    with (
        path_lock(args.out, what="validate_proxies run"),
        ProcessPoolExecutor(args.workers, initializer=_init_worker, initargs=(args.threads,)) as pool,
    ):
        drop_torn_line(args.out)  # a row cut by a kill: the next row would be glued onto it
        futures = [pool.submit(_score_cell, k, args.seed, args.batch_size, names) for k in todo]
        for i, fut in enumerate(as_completed(futures), 1):
            row = fut.result()
            row.update(seed=args.seed, batch_size=args.batch_size)
            if args.tag:
                row["tag"] = args.tag
            append_text(args.out, json.dumps(row, allow_nan=True) + "\n")
            if i % 5 == 0 or i == len(todo):
                rate = (time.time() - start) / i
                print(f"{i}/{len(todo)} cells, {rate:.1f} s/cell wall", flush=True)
    return 0


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def _clean(values: list[float]) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    arr[np.isnan(arr)] = -1e8  # NASLib's value for NaN scores
    return arr


def _published_score(published: dict[str, dict], key: str, name: str) -> float:
    """The published score of proxy ``name`` on cell ``key`` (NaN when the file has none)."""
    return float(published[key].get(name, {}).get("score", np.nan))


def validation_rows(out: Path) -> tuple[list[dict], int]:
    """Per-proxy correlations of the scored cells in ``out`` (rows as dicts) and the number of cells."""
    published = load_published()
    rows_in = merged_rows(out)
    rows = []
    names = sorted({n for r in rows_in for n in r["scores"]})
    for name in names:
        keys = [r["key"] for r in rows_in]
        ours = _clean([r["scores"][name] for r in rows_in])
        secs = float(np.median([r["seconds"][name] for r in rows_in]))
        acc = np.asarray([published[k]["val_accuracy"] for k in keys], dtype=np.float64)
        row = {"proxy": name, "n": len(keys), "rho_ours_acc": _spearman(ours, acc), "seconds": secs}
        if name in PUBLISHED:
            pub_raw = [_published_score(published, k, name) for k in keys]
            have = ~np.isnan(np.asarray(pub_raw, dtype=np.float64))
            pub = np.asarray(pub_raw, dtype=np.float64)
            all_pub = np.asarray([_published_score(published, k, name) for k in published], dtype=np.float64)
            all_acc = np.asarray([v["val_accuracy"] for v in published.values()], dtype=np.float64)
            ok = ~np.isnan(all_pub)
            row.update(
                n=int(have.sum()),
                rho_ours_pub=_spearman(ours[have], pub[have]),
                rho_ours_acc=_spearman(ours[have], acc[have]),
                rho_pub_acc=_spearman(pub[have], acc[have]),
                rho_pub_acc_725=_spearman(all_pub[ok], all_acc[ok]),
            )
            row["diff"] = row["rho_ours_acc"] - row["rho_pub_acc"]
            row["pass"] = bool(row["rho_ours_pub"] >= 0.9 and abs(row["diff"]) <= 0.05)
        rows.append(row)
    return rows, len(rows_in)


def markdown(rows: list[dict], n_cells: int) -> str:
    lines = [
        f"NAS-Bench-201 CIFAR-10, {n_cells} of the 725 NAS-Bench-Suite-Zero cells (seed 0, batch 32). "
        "rho = Spearman; 'published' = NAS-Bench-Suite-Zero's score of the same proxy; accuracy = its "
        "`val_accuracy` (NB-201 `cifar10-valid`, 200 epochs).",
        "",
        "| proxy | rho(ours, published) | rho(ours, acc) | rho(published, acc) same cells | difference "
        "| rho(published, acc) all 725 | s/arch (shared passes) | pass |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "rho_ours_pub" in r:
            lines.append(
                f"| {r['proxy']} | {r['rho_ours_pub']:.3f} | {r['rho_ours_acc']:.3f} | {r['rho_pub_acc']:.3f} "
                f"| {r['diff']:+.3f} | {r['rho_pub_acc_725']:.3f} | {r['seconds']:.2f} "
                f"| {'yes' if r['pass'] else 'NO'} |"
            )
        else:
            lines.append(
                f"| {r['proxy']} | (not published) | {r['rho_ours_acc']:.3f} | | | | {r['seconds']:.2f} | n/a |"
            )
    return "\n".join(lines) + "\n"


def seed_agreement(out: Path, other: Path) -> tuple[dict[str, float], int]:
    """Spearman between two runs (e.g. seeds 0 and 1: other weights, other images) on their common cells."""
    a = {r["key"]: r for r in merged_rows(out)}
    b = {r["key"]: r for r in merged_rows(other)}
    common = sorted(set(a) & set(b))
    names = sorted({n for k in common for n in b[k]["scores"]})
    result = {}
    for name in names:
        x = _clean([a[k]["scores"][name] for k in common])
        y = _clean([b[k]["scores"][name] for k in common])
        result[name] = _spearman(x, y)
    return result, len(common)


def averaged(runs: list[Path], names: list[str] | None = None) -> tuple[list[dict], int]:
    """Per proxy, on the cells where every run scored it: rho(run, published) per run, rho(mean of the first
    k runs' scores, published) for k = 2..n, the runs' pairwise Spearman, and the accuracy correlations of
    the mean and of the published scores (``n`` of each row: its cells). Also returns the number of cells
    common to every run."""
    from itertools import combinations

    if len(runs) < 2:
        raise ValueError(f"average needs at least two runs, got {len(runs)}")
    published = load_published()
    cells = [{r["key"]: r for r in merged_rows(path)} for path in runs]
    common = [k for k in cells[0] if all(k in c for c in cells[1:])]
    if names is None:
        names = sorted({n for c in cells for r in c.values() for n in r["scores"]} & set(PUBLISHED))
    rows = []
    for name in names:
        scored = [k for k in common if all(name in c[k]["scores"] for c in cells)]
        keys = [k for k in scored if not np.isnan(_published_score(published, k, name))]
        if len(keys) < 3:
            paths = [str(p) for p in runs]
            raise ValueError(f"proxy {name!r}: the runs {paths} share {len(keys)} scored cells; need 3")
        scores = np.stack([_clean([c[k]["scores"][name] for k in keys]) for c in cells])
        pub = np.asarray([published[k][name]["score"] for k in keys], dtype=np.float64)
        acc = np.asarray([published[k]["val_accuracy"] for k in keys], dtype=np.float64)
        rows.append({
            "proxy": name,
            "n": len(keys),
            "single": [_spearman(s, pub) for s in scores],
            "mean_of_k": {k: _spearman(scores[:k].mean(0), pub) for k in range(2, len(runs) + 1)},
            "pairwise": [_spearman(scores[i], scores[j]) for i, j in combinations(range(len(runs)), 2)],
            "rho_mean_acc": _spearman(scores.mean(0), acc),
            "rho_pub_acc": _spearman(pub, acc),
        })  # fmt: skip
    return rows, len(common)


def cmd_average(args: argparse.Namespace) -> int:
    rows, n = averaged(args.runs, args.proxies.split(",") if args.proxies else None)
    ks = list(rows[0]["mean_of_k"]) if rows else []
    head = ["proxy", "cells", "each run alone", *[f"mean of {k}" for k in ks], "runs vs each other",
            "rho(mean, acc)", "rho(published, acc)"]  # fmt: skip
    print(f"{len(args.runs)} runs sharing {n} cells; Spearman with the published scores\n")
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for r in rows:
        spread = f"{min(r['pairwise']):.3f}-{max(r['pairwise']):.3f}"
        cells = [r["proxy"], str(r["n"]), " ".join(f"{v:.3f}" for v in r["single"]),
                 *[f"{v:.3f}" for v in r["mean_of_k"].values()], spread, f"{r['rho_mean_acc']:.3f}",
                 f"{r['rho_pub_acc']:.3f}"]  # fmt: skip
        print("| " + " | ".join(cells) + " |")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    rows, n_cells = validation_rows(args.out)
    text = markdown(rows, n_cells)
    if args.compare:
        agreement, n_common = seed_agreement(args.out, args.compare)
        text += (
            f"\nAgreement of our scores with themselves under another seed ({args.compare.name}; other initial "
            f"weights and other images), Spearman on {n_common} common cells: "
            + ", ".join(f"{k} {v:.3f}" for k, v in agreement.items())
            + "\n"
        )
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"cells": n_cells, "rows": rows}, indent=1))
    failed = [r["proxy"] for r in rows if r.get("pass") is False]
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed and args.strict else 0


def cmd_timing(args: argparse.Namespace) -> int:
    import platform

    import torch

    from gennape_naslib import proxies, search_spaces

    torch.set_num_threads(args.threads)
    result: dict[str, dict[str, float]] = {}
    cpu_result: dict[str, dict[str, float]] = {}
    for fam_name in args.families.split(","):
        family = search_spaces.get(fam_name)
        archs = [family.sample(i) for i in range(args.n)]
        per: dict[str, float] = {}
        cpu: dict[str, float] = {}
        names = args.proxies.split(",") if args.proxies else proxies.list_proxies()
        for name in names:
            start, start_cpu = time.perf_counter(), time.process_time()
            try:
                for arch in archs:
                    proxies.score_one(name, family, arch, seed=0, batch_size=args.batch_size)
            except Exception as exc:  # report and go on: one failing proxy must not hide the others' cost
                print(f"{fam_name} {name}: {type(exc).__name__}: {exc}", flush=True)
                per[name] = cpu[name] = float("nan")
                continue
            per[name] = (time.perf_counter() - start) / len(archs)
            cpu[name] = (time.process_time() - start_cpu) / len(archs)
        result[fam_name] = per
        cpu_result[fam_name] = cpu
        print(fam_name, "wall", {k: round(v, 2) for k, v in per.items()}, flush=True)
        print(fam_name, "cpu", {k: round(v, 2) for k, v in cpu.items()}, flush=True)
    meta = {
        "threads": args.threads,
        "n_archs": args.n,
        "batch_size": args.batch_size,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "load_average": os.getloadavg(),
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        doc = {"meta": meta, "seconds_per_arch": result, "cpu_seconds_per_arch": cpu_result}
        args.json.write_text(json.dumps(doc, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="score the published NB-201 cells with every proxy (resumable JSON lines)")
    run.add_argument("--out", type=Path, default=DEFAULT_OUT)
    run.add_argument("--limit", type=int, default=725)
    run.add_argument("--workers", type=int, default=2)
    run.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    run.add_argument("--seed", type=int, default=0, help="proxy seed (weights and batch)")
    run.add_argument("--order-seed", type=int, default=0)
    run.add_argument("--batch-size", type=int, default=32)
    run.add_argument("--tag", default="", help="run tag; cells are done only through rows of the same tag")
    run.add_argument(
        "--proxies",
        default="",
        help="comma-separated subset (default: all); scores cells that lack one of them and appends rows with only "
        "these proxies, which replace the earlier scores of the cell in 'report' (rerun after a definition change)",
    )
    rep = sub.add_parser("report", help="Spearman of each proxy with the published scores and with accuracy")
    rep.add_argument("--out", type=Path, default=DEFAULT_OUT)
    rep.add_argument("--json", type=Path)
    rep.add_argument("--compare", type=Path, help="a second run (other seed) to measure seed-to-seed agreement")
    rep.add_argument("--strict", action="store_true", help="exit 1 if a proxy misses a target")
    avg = sub.add_parser("average", help="several runs (other seeds) of the same cells, averaged")
    avg.add_argument("runs", type=Path, nargs="+", help="run files (JSON lines of 'run'), the first k averaged")
    avg.add_argument("--proxies", default="", help="comma-separated subset (default: every published one)")
    tim = sub.add_parser("timing", help="seconds per architecture of each proxy on a few architectures per family")
    tim.add_argument("--families", default="nb201,nb301,ofa_mbv3")
    tim.add_argument("--n", type=int, default=3)
    tim.add_argument("--threads", type=int, default=1)
    tim.add_argument("--batch-size", type=int, default=32)
    tim.add_argument("--proxies", default="", help="comma-separated subset (default: all)")
    tim.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    return {"run": cmd_run, "report": cmd_report, "average": cmd_average, "timing": cmd_timing}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
