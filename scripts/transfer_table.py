"""GENNAPE vs k-GNN vs zero-cost proxies vs FLOPs/params across families, through ``gennape bench transfer``.

``run``: runs the transfer configurations of ``docs/data/transfer_table/`` (one run folder each under
``--out``; resumable: rerunning skips finished cells and cached proxy scores):

* ``from_nb101.yaml``: train on the packaged NB-101 table (292 architectures), test on NB-201
  (GENNAPE's own setting for its NB-201 column: the pretrained model has seen every NB-201 label);
* ``from_nb201.yaml``: the pretrained GENNAPE model (all NB-201) and a k-GNN trained on 500 random
  NB-201 cells, tested on NB-101, NB-301 and OFA-MBv3.

Every configuration uses a fixed random test set per table (the same architectures for every method
and seed), 50-shot fine-tuning on the same 50 other architectures for every method at a seed, and
zero-cost proxies computed once per architecture at proxy seed 0 (unaffected by fine-tuning).

``table DIR [DIR ...]``: the Markdown table (Spearman, mean ± sample std over seeds) of one or more
run folders (merged: the same configuration may be split by method over several folders), and with
``--plot FILE`` a bar chart of it.

Usage::

    python scripts/transfer_table.py run --out runs/transfer_table [--workers 2]
    python scripts/transfer_table.py table runs/transfer_table/* [--plot docs/figures/transfer_table.png]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "docs" / "data" / "transfer_table"
NAMES = {"nb201": "NB-201", "nb101": "NB-101", "nb301": "NB-301", "ofa_mbv3": "OFA-MBv3"}
ORDER = ["gennape", "kgnn", "synflow", "nwot", "jacov", "epe_nas", "snip", "grad_norm", "fisher", "plain", "zen"]
ORDER += ["l2_norm", "grasp", "flops", "params"]


def cmd_run(args: argparse.Namespace) -> int:
    # One torch thread per process by default: on a shared 2-core machine, PyTorch's default of one
    # thread per core made the proxies of one NB-301 architecture take minutes instead of ~15 s
    # (threads spinning against the other jobs). Worker processes inherit the environment.
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    from gennape_naslib.evaluation import load_config, run_benchmark
    from gennape_naslib.execution import get_executor

    configs = sorted(CONFIGS.glob("*.yaml")) if not args.config else [Path(c) for c in args.config]
    for path in configs:
        config = load_config(path)
        out = Path(args.out) / path.stem
        print(f"{path.name} -> {out}", flush=True)
        with get_executor("process", max_workers=args.workers) as executor:
            run_benchmark(config, out, executor=executor, progress=None)
    return 0


def _rows(dirs: list[Path]) -> list[dict]:
    from gennape_naslib.evaluation.results import RunFolder

    rows = []
    for d in dirs:
        if (d / "results.csv").is_file():
            rows += [r for r in RunFolder(d).read_results() if r["protocol"] == "transfer"]
    return rows


def _stats(rows: list[dict]) -> dict[tuple[str, str, int], tuple[float, float, int, str]]:
    """(method, test family, shots) -> (mean, std, seeds, source) of the Spearman correlation."""
    groups: dict[tuple[str, str, int], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["method"], r["test_family"], int(r["shots"])), []).append(r)
    out = {}
    for key, group in groups.items():
        by_seed = {r["seed"]: r["spearman"] for r in group}  # a cell recomputed later wins
        values = np.array(list(by_seed.values()), dtype=np.float64)
        std = float(values.std(ddof=1)) if values.size > 1 else 0.0
        out[key] = (float(values.mean()), std, int(values.size), group[-1]["source"])
    return out


def _columns(stats: dict) -> list[tuple[str, int]]:
    families = sorted({k[1] for k in stats}, key=lambda f: list(NAMES).index(f) if f in NAMES else 99)
    return [(f, s) for f in families for s in sorted({k[2] for k in stats if k[1] == f})]


def markdown(rows: list[dict]) -> str:
    stats = _stats(rows)
    cols = _columns(stats)
    methods = sorted({k[0] for k in stats}, key=lambda m: ORDER.index(m) if m in ORDER else 99)
    n_test = {r["test_family"]: r["n_test"] for r in rows}
    header = ["method", *[f"{NAMES.get(f, f)} {s}-shot" for f, s in cols]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for m in methods:
        cells = []
        for f, s in cols:
            if (m, f, s) not in stats:
                cells.append("")
                continue
            mean, std, n, source = stats[m, f, s]
            fitted = source != "zero-cost"
            cells.append(f"{mean:.3f} ± {std:.3f}" if fitted and n > 1 else f"{mean:.3f}")
        lines.append("| " + " | ".join([m, *cells]) + " |")
    seeds = sorted({r["seed"] for r in rows})
    lines += ["", f"Test architectures per family: {', '.join(f'{NAMES.get(f, f)} {n}' for f, n in n_test.items())}; "
              f"seeds {seeds}."]  # fmt: skip
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stats = _stats(rows)
    cols = _columns(stats)
    methods = sorted({k[0] for k in stats}, key=lambda m: ORDER.index(m) if m in ORDER else 99)
    fig, ax = plt.subplots(figsize=(12, 4.5), dpi=110)
    width = 0.85 / len(methods)
    colors = plt.get_cmap("tab20").colors
    for i, m in enumerate(methods):
        xs = [j + (i - (len(methods) - 1) / 2) * width for j in range(len(cols))]
        mean = [stats.get((m, f, s), (np.nan,))[0] for f, s in cols]
        err = [stats.get((m, f, s), (0, 0))[1] for f, s in cols]
        ax.bar(xs, mean, width, yerr=err, label=m, capsize=1.0, color=colors[i % len(colors)], error_kw={"lw": 0.8})
    ax.set_xticks(range(len(cols)), [f"{NAMES.get(f, f)}\n{s}-shot" for f, s in cols])
    ax.set_ylabel("Spearman with accuracy")
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.legend(fontsize="x-small", ncol=8, loc="upper center", bbox_to_anchor=(0.5, -0.18))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def cmd_table(args: argparse.Namespace) -> int:
    rows = _rows([Path(d) for d in args.dirs])
    if not rows:
        print("no transfer results in " + ", ".join(args.dirs), file=sys.stderr)
        return 1
    print(markdown(rows))
    if args.plot:
        print(f"\nplot: {plot(rows, Path(args.plot))}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run the transfer configurations (resumable)")
    run.add_argument("--out", default=str(ROOT / "runs" / "transfer_table"))
    run.add_argument("--workers", type=int, default=None, help="parallel processes (default: CPU count)")
    run.add_argument("--threads", type=int, default=1, help="torch threads per process (default 1)")
    run.add_argument("--config", action="append", help="a configuration (default: docs/data/transfer_table/*.yaml)")
    table = sub.add_parser("table", help="Markdown table (and plot) of run folders")
    table.add_argument("dirs", nargs="+")
    table.add_argument("--plot", help="also write a bar chart PNG")
    args = parser.parse_args(argv)
    return {"run": cmd_run, "table": cmd_table}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
