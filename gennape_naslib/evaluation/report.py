"""Render a run folder: ``summary.md`` (mean ± std tables), PNG plots and NASLib's ``errors.json``.

Everything is made from the files of the folder (``metadata.json``, ``results.csv``,
``predictions.jsonl``), so ``gennape report DIR`` can redo it at any time, also for a run that was
interrupted. Plots need matplotlib (the ``[plot]`` extra); without it the summary is still written.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from gennape_naslib._atomic import atomic_write
from gennape_naslib.evaluation.metrics import kendall_tau
from gennape_naslib.evaluation.results import RunFolder

__all__ = ["aggregate", "render_report"]

logger = logging.getLogger(__name__)

_METRIC_TITLES = {
    "spearman": "Spearman rank correlation (signed)",
    "kendall_tau": "Kendall tau-b (signed)",
    "gennape_tau": "GENNAPE pairwise tau (KT, threshold 1e-4 on fractions)",
    "ndcg_10": "NDCG@10 (GENNAPE relevance)",
    "precision_10": "Precision@10 (top-10 overlap)",
    "mae": "MAE (label units)",
    "fit_time": "Fit time (s)",
    "query_time": "Query time (ms per architecture)",
}


def aggregate(rows: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], Any], metric: str) -> dict[Any, tuple]:
    """Mean, sample standard deviation and count of ``metric`` per group (NaN values ignored).

    Returns:
        ``{group: (mean, std, n_finite, n_rows)}``; std is 0 for a single value, mean NaN for none.
    """
    groups: dict[Any, list[float]] = defaultdict(list)
    for row in rows:
        value = row.get(metric)
        groups[key(row)].append(float("nan") if value is None else float(value))
    out = {}
    for group, values in groups.items():
        arr = np.asarray(values, dtype=np.float64)
        finite = arr[~np.isnan(arr)]
        mean = float(finite.mean()) if finite.size else float("nan")
        std = float(finite.std(ddof=1)) if finite.size > 1 else 0.0
        out[group] = (mean, std, int(finite.size), int(arr.size))
    return out


def _cell_text(stat: tuple | None, scale: float = 1.0) -> str:
    if stat is None:
        return ""
    mean, std, n, total = stat
    if math.isnan(mean):
        return "n/a"
    digits = 3 if abs(mean * scale) < 100 else 1
    if total == 1:  # one value (a published score, a single seed): no spread to show
        return f"{mean * scale:.{digits}f}"
    text = f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"
    return text + (f" ({n}/{total})" if n < total else "")


def _markdown_table(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


def _ordered(values: Iterable[Any]) -> list[Any]:
    seen: dict[Any, None] = {}
    for v in values:
        seen.setdefault(v, None)
    return list(seen)


def _pivot(rows: list[dict], row_key: Callable, col_key: Callable, cols: list, metric: str, label: str) -> str:
    scale = 1000.0 if metric == "query_time" else 1.0
    stats = aggregate(rows, lambda r: (row_key(r), col_key(r)), metric)
    body = []
    for name in _ordered(row_key(r) for r in rows):
        body.append([str(name)] + [_cell_text(stats.get((name, c)), scale) for c in cols])
    return _markdown_table([label, *[str(c) for c in cols]], body)


def _summary(meta: dict[str, Any], rows: list[dict[str, Any]], plots: list[Path], note: str) -> str:
    config = meta["config"]
    protocol = config["protocol"]
    data = ", ".join(f"{d['table']}/{d['dataset'] or '-'}:{d['metric']} ({d['rows']} rows)" for d in meta["data"])
    version = meta.get("versions", {}).get("gennape-naslib", "?")
    parts = [
        f"# Benchmark: {protocol}",
        "",
        f"- data: {data}",
        f"- seeds: {meta.get('seeds')}; created {meta.get('created')}; gennape-naslib {version}",
        f"- {len(rows)} result rows in results.csv; values are mean ± sample std over seeds "
        "(a suffix (k/n) means only k of n values were defined)",
        "- correlations are signed; proxies and FLOPs/params are oriented by their declared higher_is_better",
        "",
    ]
    if protocol == "predictors":
        sizes = sorted({r["train_size"] for r in rows})
        metrics = ["spearman", "kendall_tau", "gennape_tau", "precision_10", "mae", "fit_time", "query_time"]
        for metric in metrics:
            parts += [f"## {_METRIC_TITLES[metric]}", "", "Columns: training-set size (0: no fit).", ""]
            parts += [_pivot(rows, lambda r: r["method"], lambda r: r["train_size"], sizes, metric, "method"), ""]
    elif protocol == "transfer":
        settings = _ordered((r["test_family"], r["shots"]) for r in rows)
        cols = [f"{fam} {k}-shot" for fam, k in settings]
        trained = ", ".join(_ordered(r["train_families"] for r in rows))
        parts += [f"Trained on: {trained}.", ""]
        for metric in ["spearman", "kendall_tau", "gennape_tau", "ndcg_10", "mae", "fit_time"]:
            parts += [f"## {_METRIC_TITLES[metric]}", ""]
            col = lambda r: f"{r['test_family']} {r['shots']}-shot"
            parts += [_pivot(rows, lambda r: r["method"], col, cols, metric, "method"), ""]
    else:
        metrics = ["spearman", "kendall_tau", "gennape_tau", "ndcg_10", "precision_10", "query_time"]
        stats = {m: aggregate(rows, lambda r: (r["method"], r["source"]), m) for m in metrics}
        counts = aggregate(rows, lambda r: (r["method"], r["source"]), "n_test")
        body = []
        for key in _ordered((r["method"], r["source"]) for r in rows):
            scale = {"query_time": 1000.0}
            cells = [_cell_text(stats[m][key], scale.get(m, 1.0)) for m in metrics]
            body.append([key[0], key[1], f"{counts[key][0]:.0f}", *cells])
        header = ["proxy", "source", "n", *[m if m != "query_time" else "ms/arch" for m in metrics]]
        parts += ["## Correlation with accuracy", "", _markdown_table(header, body), ""]
    if plots:
        parts += ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots] + [""]
    if note:
        parts += [note, ""]
    return "\n".join(parts)


# ---------------------------------------------------------------------- plots
def _figure(width: float, height: float) -> Any:
    from gennape_naslib._optional import require

    require("matplotlib", "plot", "benchmark plots")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png")
    return path


def _plot_train_sizes(rows: list[dict], path: Path) -> Path:
    fig = _figure(7, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    fitted = [r for r in rows if r["train_size"]]
    sizes = sorted({r["train_size"] for r in fitted}) or [1]
    for method in _ordered(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        stats = aggregate(mine, lambda r: r["train_size"], "spearman")
        if set(stats) == {0}:
            mean, std = stats[0][0], stats[0][1]
            line = ax.plot([sizes[0], sizes[-1]], [mean, mean], "--", label=f"{method} (no fit)")[0]
            ax.fill_between([sizes[0], sizes[-1]], mean - std, mean + std, color=line.get_color(), alpha=0.15)
            continue
        xs = sorted(s for s in stats if s)
        mean = np.array([stats[s][0] for s in xs])
        std = np.array([stats[s][1] for s in xs])
        line = ax.plot(xs, mean, "o-", label=method)[0]
        ax.fill_between(xs, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    ax.set_xscale("log")
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.minorticks_off()
    ax.set_xlabel("training-set size")
    ax.set_ylabel("Spearman (mean ± std over seeds)")
    ax.axhline(0.0, color="grey", linewidth=0.5)
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def _plot_scatter(records: list[dict], family: str, path: Path) -> Path:
    methods = _ordered(r["method"] for r in records)
    cols = min(3, len(methods))
    nrows = math.ceil(len(methods) / cols)
    fig = _figure(4 * cols, 3.5 * nrows)
    for i, method in enumerate(methods):
        ax = fig.add_subplot(nrows, cols, i + 1)
        for rec in (r for r in records if r["method"] == method):
            label = rec.get("label", "")
            ax.scatter(rec["y_true"], rec["y_pred"], s=6, alpha=0.6, label=label or None)
        ax.set_title(method, fontsize="medium")
        ax.set_xlabel(f"true accuracy ({family})")
        ax.set_ylabel("prediction / score")
        if any(r.get("label") for r in records if r["method"] == method):
            ax.legend(fontsize="x-small", markerscale=2)
    return _save(fig, path)


def _plot_proxy_bars(rows: list[dict], path: Path) -> Path:
    stats = aggregate(rows, lambda r: f"{r['method']} ({r['source']})", "spearman")
    names = sorted(stats, key=lambda k: (math.isnan(stats[k][0]), stats[k][0]))
    fig = _figure(7, 0.35 * len(names) + 1.5)
    ax = fig.add_subplot(1, 1, 1)
    means = [0.0 if math.isnan(stats[n][0]) else stats[n][0] for n in names]
    ax.barh(names, means, xerr=[stats[n][1] for n in names], color="tab:blue", alpha=0.8)
    ax.axvline(0.0, color="black", linewidth=0.6)
    ax.set_xlabel("Spearman with accuracy (signed)")
    ax.set_xlim(-1, 1)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def _scatter_records(protocol: str, rows: list[dict], predictions: dict) -> dict[str, list[dict]]:
    """Predictions to scatter per test family: first seed; largest training size / every shot count."""
    by_family: dict[str, list[dict]] = defaultdict(list)
    if not predictions:
        return by_family
    first_seed = min(r["seed"] for r in rows)
    records = [r for r in predictions.values() if r["seed"] == first_seed]
    if protocol == "predictors":
        largest: dict[str, int] = {}
        for r in records:
            largest[r["method"]] = max(largest.get(r["method"], 0), r["train_size"])
        for r in records:
            if r["train_size"] == largest[r["method"]]:
                by_family[r["test_family"]].append({**r, "label": f"n={r['train_size']}"})
    elif protocol == "transfer":
        for r in records:
            by_family[r["test_family"]].append({**r, "label": f"{r['shots']}-shot"})
    return by_family


# ---------------------------------------------------------------------- NASLib errors.json
def _write_naslib_errors(folder: RunFolder, meta: dict[str, Any], rows: list[dict], predictions: dict) -> list[Path]:
    config = meta["config"]
    if config["protocol"] != "predictors":
        return []
    from gennape_naslib.search_spaces import get

    data = meta["data"][0]
    naslib_space = get(data["family"]).info().get("naslib") or data["family"]
    by_cell = {cell: rec for (cell, _), rec in predictions.items()}
    written = []
    for method in _ordered(r["method"] for r in rows):
        for seed in sorted({r["seed"] for r in rows if r["method"] == method}):
            head = {
                "search_space": naslib_space,
                "dataset": data["dataset"],
                "predictor": method,
                "test_size": config["test_size"],
                "train_size_list": config["train_sizes"],
                "experiment_type": "vary_train_size",
                "uniform_random": config["sampling"] == "uniform",
                "seed": seed,
            }
            entries: list[dict[str, Any]] = [head]
            for r in sorted(
                (r for r in rows if r["method"] == method and r["seed"] == seed), key=lambda r: r["train_size"]
            ):
                rec = by_cell.get(r["cell"], {})
                y, p = np.asarray(rec.get("y_true", [])), np.asarray(rec.get("y_pred", []))
                entries.append(
                    {
                        "mae": r["mae"],
                        "rmse": r["rmse"],
                        "pearson": r["pearson"],
                        "spearman": r["spearman"],
                        "kendalltau": r["kendall_tau"],
                        "kt_2dec": kendall_tau(y, np.round(p, 2)) if y.size else float("nan"),
                        "kt_1dec": kendall_tau(y, np.round(p, 1)) if y.size else float("nan"),
                        "precision_10": r["precision_10"],
                        "precision_20": r["precision_20"],
                        "full_ytest": y.tolist(),
                        "full_testpred": p.tolist(),
                        "train_size": r["train_size"],
                        "fidelity": None,
                        "fit_time": r["fit_time"],
                        "query_time": r["query_time"],
                        "cv_score": 0,
                    }
                )
            path = folder.path / "naslib" / method / f"seed_{seed}" / "errors.json"
            with atomic_write(path) as handle:
                json.dump(entries, handle, separators=(",", ":"))
            written.append(path)
    return written


# ---------------------------------------------------------------------- entry point
def render_report(
    folder: RunFolder | str | os.PathLike[str], naslib_errors: bool | None = None, plots: bool = True
) -> list[Path]:
    """Write ``summary.md``, the plots and (on request) NASLib's ``errors.json`` files from a run folder.

    Args:
        folder: A run folder (or its path).
        naslib_errors: Write ``naslib/<method>/seed_<seed>/errors.json`` (predictors protocol);
            ``None``: as the run was started.
        plots: Draw PNG plots (skipped with a note when matplotlib is missing).

    Returns:
        The files written.

    Raises:
        FileNotFoundError: If the folder has no ``metadata.json``.
        ValueError: If ``metadata.json`` does not describe a benchmark run (e.g. a search folder).
    """
    run = folder if isinstance(folder, RunFolder) else RunFolder(folder)
    meta = run.metadata()
    rows = run.read_results()
    predictions = run.read_predictions()
    protocol = meta["config"].get("protocol") if isinstance(meta.get("config"), dict) else None
    if protocol is None:
        raise ValueError(f"{run.metadata_path} does not describe a benchmark run (no config.protocol)")
    written: list[Path] = []
    pictures: list[Path] = []
    note = ""
    if plots and rows:
        from gennape_naslib._optional import MissingDependencyError

        try:
            if protocol == "predictors":
                pictures.append(_plot_train_sizes(rows, run.path / "spearman_vs_train_size.png"))
            if protocol == "proxies":
                pictures.append(_plot_proxy_bars(rows, run.path / "proxy_correlations.png"))
            for family, records in _scatter_records(protocol, rows, predictions).items():
                pictures.append(_plot_scatter(records, family, run.path / f"scatter_{family}.png"))
        except MissingDependencyError as exc:
            note = f"Plots skipped: {exc}"
            logger.warning("%s", note)
    if naslib_errors if naslib_errors is not None else meta.get("naslib_errors", False):
        written += _write_naslib_errors(run, meta, rows, predictions)
    summary = run.path / "summary.md"
    with atomic_write(summary) as handle:
        handle.write(_summary(meta, rows, pictures, note))
    return [summary, *pictures, *written]
