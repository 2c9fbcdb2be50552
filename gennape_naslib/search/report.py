"""Reports of search runs: best-so-far and regret curves, Pareto fronts, hypervolume, NASLib's errors.json.

Everything here is computed from the trial records of ``trials.jsonl`` (see
:func:`gennape_naslib.search.runner.read_trials`), so a folder can be re-reported at any time.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "best_so_far",
    "hypervolume_curve",
    "naslib_errors",
    "plot_curves",
    "render_search_report",
    "write_report",
]


def _values(trials: Sequence[Mapping[str, Any]], metric: str) -> np.ndarray:
    return np.array([float(t["objectives"].get(metric, math.nan)) for t in trials], dtype=np.float64)


def best_so_far(trials: Sequence[Mapping[str, Any]], metric: str, maximize: bool = True) -> np.ndarray:
    """Incumbent value of ``metric`` after each evaluation (NaN until the first success)."""
    vals = _values(trials, metric)
    oriented = np.where(np.isnan(vals), -np.inf, vals if maximize else -vals)
    best = np.maximum.accumulate(oriented) if len(oriented) else oriented
    out = best if maximize else -best
    return np.where(np.isinf(best), np.nan, out)


def hypervolume_curve(
    trials: Sequence[Mapping[str, Any]], objectives: Sequence[tuple[str, bool]], reference: Sequence[float]
) -> np.ndarray:
    """Hypervolume of the first ``i`` trials for ``i = 1..n`` against ``reference``."""
    from gennape_naslib.optimizers.pareto import hypervolume

    pts = np.stack([_values(trials, name) for name, _ in objectives], axis=1) if trials else np.zeros((0, 2))
    directions = [m for _, m in objectives]
    return np.array([hypervolume(pts[: i + 1], reference, directions) for i in range(len(pts))])


def naslib_errors(
    config_dict: Mapping[str, Any], trials: Sequence[Mapping[str, Any]], metric: str, maximize: bool = True
) -> list[Any]:
    """NASLib's ``errors.json`` document: ``[config, {search trajectory lists}]``.

    Per evaluation, as NASLib's ``Trainer`` with ``report_incumbent=True`` records it: the
    incumbent's ``valid_acc`` and ``test_acc`` (both the optimised ``metric``, as for NB-201 in NASLib,
    whose ``cifar10`` validation and test accuracy are one field), ``train_acc`` (``null``: tabular
    benchmarks here carry no training accuracy), ``runtime`` and ``train_time`` (the evaluation's
    wall time in seconds).
    """
    incumbent = best_so_far(trials, metric, maximize)
    inc = [None if math.isnan(v) else float(v) for v in incumbent]
    return [
        dict(config_dict),
        {
            "train_acc": [None] * len(trials),
            "valid_acc": inc,
            "test_acc": inc,
            "runtime": [float(t.get("wall_time", 0.0)) for t in trials],
            "train_time": [float(t.get("wall_time", 0.0)) for t in trials],
            "params": [t["objectives"].get("params") for t in trials],
        },
    ]


def _objectives(search: Mapping[str, Any]) -> list[tuple[str, bool]] | None:
    if not search.get("objectives"):
        return None
    from gennape_naslib.optimizers.multi_objective import parse_objectives

    return parse_objectives(search["objectives"])


def _plt() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def plot_curves(
    curves: Mapping[str, np.ndarray],
    path: str | os.PathLike[str],
    ylabel: str,
    title: str = "",
    log: bool = False,
    ylim: tuple[float | None, float | None] | None = None,
) -> Path | None:
    """Plot mean curves with bands (min-max over seeds as a light band, +-1 std darker).

    Args:
        curves: Label -> ``(seeds, evaluations)`` array (or a 1-D array for one run).
        path: PNG to write.
        ylabel: Y-axis label.
        log: Logarithmic y axis (for regret).
        ylim: Y-axis limits ``(bottom, top)``, ``None`` for either end leaves it automatic.

    Returns:
        The path, or ``None`` when matplotlib is not installed.
    """
    plt = _plt()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, arr in curves.items():
        data = np.atleast_2d(np.asarray(arr, dtype=np.float64))
        x = np.arange(1, data.shape[1] + 1)
        mean = np.nanmean(data, axis=0)
        line = ax.plot(x, mean, label=f"{label} (n={data.shape[0]})")[0]
        if data.shape[0] > 1:
            std = np.nanstd(data, axis=0)
            lower = np.maximum(mean - std, 0.0) if log else mean - std  # regret is never negative
            ax.fill_between(x, lower, mean + std, color=line.get_color(), alpha=0.25, linewidth=0)
            ax.fill_between(x, np.nanmin(data, 0), np.nanmax(data, 0), color=line.get_color(), alpha=0.08, linewidth=0)
    if log:
        ax.set_yscale("symlog", linthresh=1e-2)
        ax.set_ylim(bottom=0.0)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xlabel("evaluations")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    _save_png(fig, path)
    plt.close(fig)
    return path


def _plot_pareto(
    trials: Sequence[Mapping[str, Any]], objectives: Sequence[tuple[str, bool]], path: Path
) -> Path | None:
    from gennape_naslib.optimizers.pareto import pareto_front_mask

    plt = _plt()
    if plt is None or len(objectives) != 2:
        return None
    (nx, mx), (ny, my) = objectives[1], objectives[0]
    x, y = _values(trials, nx), _values(trials, ny)
    mask = pareto_front_mask(np.stack([y, x], axis=1), [my, mx])
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(x, y, s=8, alpha=0.4, label="evaluated")
    order = np.argsort(x[mask])
    ax.step(x[mask][order], y[mask][order], where="post", color="C3", label="Pareto front")
    ax.scatter(x[mask], y[mask], s=16, color="C3")
    ax.set_xlabel(nx)
    ax.set_ylabel(ny)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save_png(fig, path)
    plt.close(fig)
    return path


def _save_png(fig: Any, path: Path) -> None:
    """Draw ``fig`` into ``path`` atomically: a run killed while drawing keeps the previous picture, never
    half of a new one."""
    from gennape_naslib._atomic import atomic_write

    try:
        with atomic_write(path, "wb") as handle:
            fig.savefig(handle, dpi=110, format="png")
    except BaseException:
        import matplotlib.pyplot as plt

        plt.close(fig)
        raise


def write_report(
    folder: str | os.PathLike[str],
    config: Any,
    trials: Sequence[Mapping[str, Any]],
    objective: Any = None,
    plots: bool = True,
) -> Path:
    """Write ``summary.md``, ``errors.json`` and plots of a finished search into ``folder``.

    Args:
        folder: The result folder.
        config: The search's :class:`~gennape_naslib.search.SearchConfig`.
        trials: The trial records, in tell order.
        objective: The objective (for its description and the table's optimum), or ``None``.
        plots: Draw the PNG plots (default ``True``).

    Returns:
        The path of ``summary.md``.
    """
    from gennape_naslib._atomic import atomic_write

    folder = Path(folder)
    metric = config.metric
    maximize = config.maximize
    curve = best_so_far(trials, metric, maximize)
    optimum = objective.optimum(metric, maximize) if objective is not None else None
    lines = [
        f"# Search: {config.optimizer} on {config.search_space} / {config.dataset} (seed {config.seed})",
        "",
        f"- evaluations: {len(trials)}",
        f"- objective: {objective.describe() if objective is not None else 'n/a'}",
        f"- optimised metric: `{metric}` ({'max' if maximize else 'min'})",
    ]
    finite = [t for t in trials if not math.isnan(float(t["objectives"].get(metric, math.nan)))]
    if finite:
        best = (max if maximize else min)(finite, key=lambda t: float(t["objectives"][metric]))
        lines += [f"- best: {best['objectives'][metric]:.4f} at evaluation {best['trial'] + 1}: `{best['arch_str']}`"]
    if optimum is not None:
        lines += [f"- optimum of the table: {optimum:.4f}"]
        reached = np.flatnonzero(np.isclose(curve, optimum))
        lines += [f"- evaluations to reach it: {int(reached[0]) + 1 if reached.size else 'not reached'}"]
    lines += [
        "",
        "| evaluations | best so far |" + (" regret |" if optimum is not None else ""),
        "|---|---|" + ("---|" if optimum is not None else ""),
    ]
    for budget in (10, 25, 50, 100, 150, 200, 300, 500, 1000):
        if budget <= len(curve):
            value = curve[budget - 1]
            row = f"| {budget} | {value:.4f} |"
            if optimum is not None:
                row += f" {abs(optimum - value):.4f} |"
            lines.append(row)
    drawn = [plot_curves({config.optimizer: curve}, folder / "best_so_far.png", f"best {metric}")] if plots else []
    if optimum is not None and plots:
        drawn.append(
            plot_curves(
                {config.optimizer: np.abs(optimum - curve)}, folder / "regret.png", f"regret ({metric})", log=True
            )
        )
    objectives = _objectives(config.search)
    if objectives is not None and "reference_point" in config.search:
        hv = hypervolume_curve(trials, objectives, config.search["reference_point"])
        names = [n + (":max" if m else ":min") for n, m in objectives]
        lines += ["", f"- objectives: {names}", f"- reference point: {config.search['reference_point']}"]
        lines += [f"- final hypervolume: {hv[-1]:.6g}" if len(hv) else "- final hypervolume: 0"]
        if plots:
            drawn.append(plot_curves({config.optimizer: hv}, folder / "hypervolume.png", "hypervolume"))
            drawn.append(_plot_pareto(trials, objectives, folder / "pareto_front.png"))
    made = [p.name for p in drawn if p is not None]
    none = "none (matplotlib is not installed)" if plots else "none (not drawn)"
    lines += ["", "Plots: " + (", ".join(made) if made else none), ""]
    with atomic_write(folder / "errors.json", "w") as handle:
        json.dump(naslib_errors(config.to_dict(), trials, metric, maximize), handle, separators=(",", ":"))
    with atomic_write(folder / "summary.md", "w") as handle:
        handle.write("\n".join(lines))
    return folder / "summary.md"


class _RecordedObjective:
    """The objective as ``metadata.json`` describes it, with the table's optimum where there is a table."""

    def __init__(self, description: Any, table_objective: Any = None) -> None:
        self.description = description
        self.table_objective = table_objective

    def describe(self) -> Any:
        return self.description

    def optimum(self, metric: str, maximize: bool = True) -> float | None:
        return None if self.table_objective is None else self.table_objective.optimum(metric, maximize)


def render_search_report(folder: str | os.PathLike[str], plots: bool = True) -> Path:
    """Re-write ``summary.md``, ``errors.json`` and (optionally) the plots of a search result folder.

    Everything comes from the folder's ``metadata.json`` and ``trials.jsonl`` (the benchmark table is
    loaded again for the optimum of a tabular search); nothing is evaluated.

    Args:
        folder: A folder written by :func:`~gennape_naslib.search.run_search`.
        plots: Draw the PNG plots (default ``True``).

    Returns:
        The path of ``summary.md``.

    Raises:
        FileNotFoundError: If the folder has no ``metadata.json``.
        ValueError: If ``metadata.json`` is not valid JSON or does not describe a search.
    """
    from gennape_naslib.search.config import SearchConfig
    from gennape_naslib.search.runner import TRIALS_FORMAT, build_objective, read_trials

    folder = Path(folder)
    meta_path = folder / "metadata.json"
    if not meta_path.is_file():
        raise FileNotFoundError(2, "not a search result folder (no metadata.json)", str(meta_path))
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{meta_path}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != TRIALS_FORMAT or not isinstance(meta.get("config"), dict):
        raise ValueError(f"{meta_path} does not describe a search (expected format {TRIALS_FORMAT!r})")
    config = SearchConfig(**meta["config"], source=str(meta_path))
    description = meta.get("objective") or {}
    table = build_objective(config) if description.get("kind") == "tabular" else None
    objective = (
        table if table is not None and table.describe() == description else _RecordedObjective(description, table)
    )
    trials = sorted(read_trials(folder), key=lambda t: t.get("trial", 0))[: config.epochs]  # in tell order
    return write_report(folder, config, trials, objective, plots=plots)
