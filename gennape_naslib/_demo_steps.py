"""The predictor, proxy and search steps of ``gennape demo`` (issues 5, 6 and 7).

* :func:`step_transfer`: the pretrained GENNAPE model (trained on NB-201, CIFAR-10: :data:`_PRETRAINED_ON`) ranks
  architectures of families it has never seen (NB-101, NB-301, OFA-MBv3) zero-shot, next to the FLOPs
  and params baselines on the same architectures; then it is fine-tuned on 50 labelled architectures
  of one family and tested again on the same test architectures.
* :func:`step_proxies`: cheap zero-cost proxies vs zero-shot GENNAPE vs FLOPs on NB-101 cells, one
  bar plot. NB-101 because the pretrained model has seen nearly every good NB-201 label, the rest picked it
  (using it on NB-201 would be circular); on NB-101 neither GENNAPE nor a proxy has seen a label.
* :func:`step_search`: a short BANANAS search on NB-201 (tabular look-ups) with a light GENNAPE
  trained online on the evaluated architectures only (not the pretrained model, which has seen the NB-201
  labels). It is the demo's last step and prints where its report is.

Every step takes a small frozen settings object (the defaults are the demo's sizes; tests pass
smaller ones), uses fixed seeds and writes only into the demo folder.
"""

from __future__ import annotations

import csv
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gennape_naslib._demo_base import DemoContext, DemoSkip, StepOutput

__all__ = [
    "LIGHT_GENNAPE",
    "ProxySettings",
    "SearchSettings",
    "TransferSettings",
    "step_proxies",
    "step_search",
    "step_transfer",
]

#: What the shipped model was trained on (``scripts/train_pretrained.py``, rounds 16-17 of ``PROTOCOL.md``).
_PRETRAINED_ON = "90 % of the cells >= 80 %, the best of 5 seeds on the other 10 %"

#: Per family: (dataset of the packaged table, accuracy metric) used as the ground truth.
TARGETS: dict[str, tuple[str, str]] = {
    "nb101": ("cifar10", "val_acc"),
    "nb301": ("cifar10", "val_acc_surrogate"),
    "ofa_mbv3": ("imagenet", "top1_acc"),
}

#: The light GENNAPE configuration of the demo search: the paper's ensemble without the separately
#: trained k-GNN member, half the contrastive epochs and supervised epochs, a 64-architecture
#: reference sample. Each BANANAS round refits it from scratch on the evaluated architectures.
LIGHT_GENNAPE: dict[str, Any] = {
    "members": ["cl_fcm_t", "cl_t", "pair_fcm", "pair", "flops"],
    "cl_epochs": 5,
    "epochs": 20,
    "reference_size": 64,
}


# ---------------------------------------------------------------------------------------------- helpers
def _pretrained(ctx: DemoContext) -> Any:
    """The shipped GENNAPE model, loaded once per demo run (its per-family reference stats are cached)."""
    if "pretrained" not in ctx.cache:
        from gennape_naslib.predictors.gennape import GENNAPEPredictor

        ctx.cache["pretrained"] = GENNAPEPredictor.pretrained()
    return ctx.cache["pretrained"]


def _labelled(family: str) -> tuple[Any, np.ndarray]:
    """The packaged table of ``family`` and its accuracies in percent (as the pretrained model's)."""
    from gennape_naslib import data

    dataset, metric = TARGETS[family]
    table = data.load(family, dataset=dataset).dropna(metric)
    y = table.metric(metric).astype(np.float64)
    return table, (y * 100.0 if y.max() <= 1.0 else y)


def _split(n_rows: int, seed: int, shots: int, n_test: int) -> tuple[np.ndarray, np.ndarray]:
    """Fine-tuning rows and test rows of one table: a fixed random permutation, shots first."""
    if n_rows <= shots + 1:
        raise ValueError(f"a table of {n_rows} rows cannot give {shots} fine-tuning rows and a test set")
    perm = np.random.default_rng(seed).permutation(n_rows)
    return perm[:shots], perm[shots : shots + n_test]


def _rank_metrics(y: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    from gennape_naslib.evaluation.metrics import kendall_tau, spearman

    return spearman(y, score), kendall_tau(y, score)


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    from gennape_naslib._atomic import atomic_write

    with atomic_write(path, "w") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([[f"{v:.4f}" if isinstance(v, float) else v for v in row] for row in rows])
    return path


def _write_text(path: Path, text: str) -> Path:
    from gennape_naslib._atomic import atomic_write

    with atomic_write(path, "w") as handle:
        handle.write(text)
    return path


def _pair(rho: float, tau: float) -> str:
    return f"{rho:6.3f} / {tau:6.3f}"


# ---------------------------------------------------------------------------------------------- transfer
@dataclass(frozen=True)
class TransferSettings:
    """Sizes of :func:`step_transfer`.

    Attributes:
        families: Target families (packaged tables; see :data:`TARGETS`).
        n_test: Test architectures per family (a fixed random subset; fewer if the table is smaller).
        shots: Labelled architectures of a family used for fine-tuning (never in its test set).
        finetune_families: Families on which the model is fine-tuned (each separately).
        finetune_epochs: Fine-tuning epochs (``None``: the model's default, 100).
        seed: Seed of the per-family split.
    """

    families: tuple[str, ...] = ("nb101", "nb301", "ofa_mbv3")
    n_test: int = 200
    shots: int = 50
    finetune_families: tuple[str, ...] = ("nb301",)
    finetune_epochs: int | None = None
    seed: int = 0


def step_transfer(ctx: DemoContext, settings: TransferSettings = TransferSettings()) -> StepOutput:
    """Zero-shot ranking of unseen families by the pretrained model, FLOPs/params baselines, 50-shot fine-tuning.

    Writes ``transfer.csv`` (one row per family, method and setting) and ``transfer.md``.
    """
    from gennape_naslib import search_spaces

    unknown = [f for f in (*settings.families, *settings.finetune_families) if f not in TARGETS]
    if unknown:
        raise ValueError(f"TransferSettings: no demo table for {unknown}; choices: {', '.join(TARGETS)}")
    model = _pretrained(ctx)
    epochs = int(model.finetune_epochs if settings.finetune_epochs is None else settings.finetune_epochs)
    out = StepOutput(
        [
            f"pretrained on NB-201 (CIFAR-10: {_PRETRAINED_ON});",
            "Spearman / Kendall tau on unseen families:",
        ]
    )
    out.lines.append(f"{'family':<9} {'test':>5}  {'GENNAPE 0-shot':>15}  {'FLOPs':>15}  {'params':>15}")
    rows: list[list[Any]] = []
    for name in settings.families:
        family = search_spaces.get(name)
        table, y = _labelled(name)
        shots, test = _split(len(table), settings.seed, settings.shots, settings.n_test)
        archs = table.archs
        x_test = [archs[i] for i in test]
        scores = {
            "GENNAPE 0-shot": model.predict(x_test, family=family),
            "FLOPs": np.array([family.flops(a) for a in x_test], dtype=np.float64),
            "params": np.array([family.params(a) for a in x_test], dtype=np.float64),
        }
        metrics = {method: _rank_metrics(y[test], s) for method, s in scores.items()}
        for method, (rho, tau) in metrics.items():
            rows.append([name, method, 0, len(test), rho, tau, ""])
        out.lines.append(f"{name:<9} {len(test):>5}  " + "  ".join(_pair(*metrics[m]) for m in scores))
        better = [m for m in ("FLOPs", "params") if metrics[m][0] > metrics["GENNAPE 0-shot"][0]]
        if better:
            out.lines.append(f"{'':<9} {'':>5}  note: {' and '.join(better)} rank {name} better than zero-shot GENNAPE")
        if name in settings.finetune_families:
            start = time.process_time()
            tuned = model.finetune([archs[i] for i in shots], y[shots], epochs=epochs, family=family)
            seconds = time.process_time() - start
            rho, tau = _rank_metrics(y[test], tuned.predict(x_test, family=family))
            rows.append([name, f"GENNAPE {len(shots)}-shot", len(shots), len(test), rho, tau, f"{seconds:.1f}"])
            out.lines.append(
                f"{name:<9} {len(test):>5}  {_pair(rho, tau)}  <- fine-tuned on {len(shots)} other {name} "
                f"architectures ({epochs} epochs, {seconds:.0f} s CPU)"
            )
    header = ["family", "method", "shots", "n_test", "spearman", "kendall", "finetune_cpu_s"]
    csv_path = _write_csv(ctx.out_dir / "transfer.csv", header, rows)
    md = [
        "# Pretrained GENNAPE on families it has not seen",
        "",
        f"Model: `GENNAPEPredictor.pretrained()` (trained on NB-201, CIFAR-10: {_PRETRAINED_ON}).",
        "Test architectures:",
        f"a fixed random subset of each packaged table (seed {settings.seed}), disjoint from the {settings.shots}",
        f"fine-tuning architectures. Fine-tuning: {epochs} epochs. Ground truth: "
        + ", ".join(f"{f} `{TARGETS[f][1]}` ({TARGETS[f][0]})" for f in settings.families)
        + ".",
        "",
        "| family | method | shots | test archs | Spearman | Kendall tau |",
        "|---|---|---|---|---|---|",
    ]
    md += [f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]:.3f} | {r[5]:.3f} |" for r in rows]
    md_path = _write_text(ctx.out_dir / "transfer.md", "\n".join(md) + "\n")
    out.paths += [csv_path, md_path]
    return out


# ---------------------------------------------------------------------------------------------- proxies
@dataclass(frozen=True)
class ProxySettings:
    """Sizes of :func:`step_proxies`.

    Attributes:
        family: A family the pretrained model has not seen (``nb101``: its table also carries the
            published NAS-Bench-Suite-Zero scores, which the step compares ours with).
        n_archs: Architectures compared: the first ``n_archs`` test architectures of
            :func:`step_transfer`'s split of ``family`` (same seed and shots).
        proxies: Zero-cost proxies computed with :func:`gennape_naslib.proxies.score_many`. Of the
            defaults only synflow costs noticeable time (about 2.5 s of CPU per NB-101 network, in
            float64); the Jacobian and gradient proxies (nwot, jacov, snip, ...) cost far more on
            NB-101's 128-channel networks and are left out.
        shots: As in :class:`TransferSettings` (only to reproduce its split).
        seed: Seed of the split, the proxies' weights and their images.
    """

    family: str = "nb101"
    n_archs: int = 40
    proxies: tuple[str, ...] = ("synflow", "l2_norm", "params", "flops")
    shots: int = 50
    seed: int = 0


_PROXY_LABELS = {"flops": "FLOPs", "params": "params"}


def step_proxies(ctx: DemoContext, settings: ProxySettings = ProxySettings()) -> StepOutput:
    """Zero-cost proxies vs zero-shot GENNAPE vs FLOPs on the same real architectures; one PNG bar plot.

    Writes ``proxies_vs_gennape.csv`` and ``proxies_vs_gennape.png``.

    Raises:
        DemoSkip: If matplotlib (the ``plot`` extra) is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise DemoSkip("matplotlib is not installed; pip install 'gennape-naslib[plot]' to run this step") from None
    from gennape_naslib import proxies, search_spaces

    if settings.family not in TARGETS:
        raise ValueError(f"ProxySettings: no demo table for {settings.family!r}; choices: {', '.join(TARGETS)}")
    family = search_spaces.get(settings.family)
    table, y = _labelled(settings.family)
    _, test = _split(len(table), settings.seed, settings.shots, settings.n_archs)
    archs = [table.archs[i] for i in test]
    raw: dict[str, list[float]] = {p: [] for p in settings.proxies}
    seconds: dict[str, float] = dict.fromkeys(settings.proxies, 0.0)
    for arch in archs:
        for name, (value, took) in proxies.score_many(settings.proxies, family, arch, seed=settings.seed).items():
            raw[name].append(value)
            seconds[name] += took
    scores: dict[str, np.ndarray] = {}
    for name in settings.proxies:
        sign = 1.0 if proxies.get_proxy(name).higher_is_better else -1.0
        oriented = [sign * value for value in raw[name]]
        scores[_PROXY_LABELS.get(name, name)] = proxies.as_float_scores(oriented)  # NaN -> -1e8 (worst), as NASLib
    model = _pretrained(ctx)
    scores = {"GENNAPE 0-shot": model.predict(archs, family=family), **scores}
    metrics = {method: _rank_metrics(y[test], s) for method, s in scores.items()}
    out = StepOutput(
        [
            f"{len(archs)} {settings.family} architectures with real labels; GENNAPE trained on NB-201 only, "
            "proxies use no labels",
            f"{'method':<15} {'Spearman':>8} {'Kendall':>8}  s/arch",
        ]
    )
    for method, (rho, tau) in metrics.items():
        name = _proxy_of(method, settings.proxies)
        cost = f"{seconds[name] / len(archs):6.2f}" if name else "     -"
        out.lines.append(f"{method:<15} {rho:8.3f} {tau:8.3f}  {cost}")
    published = _published_agreement(table, settings.proxies, raw, test)
    if published:
        out.lines.append("ours vs published NAS-Bench-Suite-Zero scores (Spearman): " + published)
    rows = [
        [method, len(archs), rho, tau, seconds[p] / len(archs) if (p := _proxy_of(method, settings.proxies)) else ""]
        for method, (rho, tau) in metrics.items()
    ]
    csv_path = _write_csv(
        ctx.out_dir / "proxies_vs_gennape.csv", ["method", "n_archs", "spearman", "kendall", "seconds_per_arch"], rows
    )
    png_path = ctx.out_dir / "proxies_vs_gennape.png"
    subtitle = f"{len(archs)} {settings.family} architectures, CIFAR-10; no method has seen a {settings.family} label"
    _plot_bars(plt, metrics, png_path, subtitle)
    out.paths += [csv_path, png_path]
    return out


def _proxy_of(method: str, names: Sequence[str]) -> str | None:
    return next((p for p in names if _PROXY_LABELS.get(p, p) == method), None)


def _published_agreement(table: Any, names: Sequence[str], raw: dict[str, list[float]], rows: np.ndarray) -> str:
    """``"synflow 0.99, ..."``: Spearman of our scores with the table's published ones (where present)."""
    from gennape_naslib.evaluation.metrics import spearman

    parts = []
    for name in names:
        if name in table.metric_names:
            published = table.metric(name)[rows]
            if np.isfinite(published).all():
                parts.append(f"{name} {spearman(published, raw[name]):.3f}")
    return ", ".join(parts)


def _plot_bars(plt: Any, metrics: dict[str, tuple[float, float]], path: Path, subtitle: str) -> None:
    methods = list(metrics)
    y = np.arange(len(methods))
    fig, ax = plt.subplots(figsize=(7, 0.55 * len(methods) + 1.6))
    series = ((-0.2, 0, "Spearman", "tab:blue"), (0.2, 1, "Kendall tau", "tab:orange"))
    for offset, index, label, colour in series:
        values = [metrics[m][index] for m in methods]
        bars = ax.barh(y + offset, values, height=0.38, label=label, color=colour)
        for bar, value in zip(bars, values):
            ax.text(
                value + (0.01 if value >= 0 else -0.01), bar.get_y() + bar.get_height() / 2, f"{value:.2f}",
                va="center", ha="left" if value >= 0 else "right", fontsize=8,
            )  # fmt: skip
    ax.set_yticks(y, methods)
    ax.invert_yaxis()
    ax.axvline(0.0, color="black", linewidth=0.8)
    low = min(0.0, *(v for pair in metrics.values() for v in pair)) - 0.1
    ax.set_xlim(low, 1.05)
    ax.set_xlabel("rank correlation with the true accuracy")
    ax.set_title(f"Zero-cost proxies vs zero-shot GENNAPE (trained on NB-201)\n{subtitle}", fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------- search
@dataclass(frozen=True)
class SearchSettings:
    """Sizes of :func:`step_search` (BANANAS keys as in ``configs/search_nb201_bananas_gennape.yaml``).

    Attributes:
        budget: Evaluations (tabular look-ups of the NB-201 table).
        num_init: Random architectures before the first GENNAPE fit.
        k: Architectures queued per BANANAS round (one GENNAPE fit per round).
        num_candidates: Mutation candidates scored per round.
        predictor_kwargs: GENNAPE hyperparameters (default :data:`LIGHT_GENNAPE`).
        seed: Search seed.
    """

    budget: int = 50
    num_init: int = 10
    k: int = 10
    num_candidates: int = 100
    predictor_kwargs: dict[str, Any] = field(default_factory=lambda: dict(LIGHT_GENNAPE))
    seed: int = 0


def search_config(settings: SearchSettings) -> dict[str, Any]:
    """The NASLib-style search configuration the demo runs (also written as ``search_demo.yaml``)."""
    return {
        "search_space": "nasbench201",
        "dataset": "cifar10",
        "optimizer": "bananas",
        "seed": settings.seed,
        "out_dir": "runs/search",
        "search": {
            "epochs": settings.budget,
            "predictor_type": "gennape",
            "predictor_kwargs": dict(settings.predictor_kwargs),
            "num_init": settings.num_init,
            "k": settings.k,
            "num_ensemble": 1,
            "acq_fn_type": "its",
            "acq_fn_optimization": "mutation",
            "num_arches_to_mutate": 2,
            "max_mutations": 1,
            "num_candidates": settings.num_candidates,
        },
    }


def step_search(ctx: DemoContext, settings: SearchSettings = SearchSettings()) -> StepOutput:
    """A short BANANAS + GENNAPE search on NB-201 CIFAR-10 (tabular); prints the best found and the report path.

    The result folder ``search_nb201_bananas_gennape/`` in the demo folder is replaced on every run
    (so a rerun repeats the same search); its ``summary.md``, ``trials.jsonl`` and plots are those of
    :func:`gennape_naslib.search.run_search`.
    """
    import yaml

    from gennape_naslib.search import run_search
    from gennape_naslib.search.objectives import TabularObjective

    config = search_config(settings)
    config_path = _write_text(ctx.out_dir / "search_demo.yaml", yaml.safe_dump(config, sort_keys=False))
    folder = ctx.out_dir / "search_nb201_bananas_gennape"
    if folder.exists():
        shutil.rmtree(folder)
    objective = TabularObjective("nb201", dataset="cifar10")
    metric = "test_acc_200ep"
    optimum = float(objective.optimum(metric))
    result = run_search(config, folder, resume=False, objective=objective)
    values = np.array([float(t["objectives"][metric]) for t in result.trials])
    best = int(np.argmax(values))
    reached = np.flatnonzero(np.isclose(np.maximum.accumulate(values), optimum))
    rounds = getattr(result.optimizer, "rounds", None)
    out = StepOutput(
        [
            f"{len(values)} evaluations ({settings.num_init} random, then {rounds} rounds of {settings.k}); GENNAPE "
            "is refitted each round on the cells evaluated so far, never on other NB-201 labels",
            f"GENNAPE configuration: {_light_text(settings.predictor_kwargs)}",
            f"best test accuracy found: {values[best]:.2f} % at evaluation {best + 1} "
            f"(optimum of the 15,625 cells: {optimum:.2f} %, regret {optimum - values[best]:.2f}; "
            + (f"reached at evaluation {int(reached[0]) + 1})" if reached.size else "not reached in this budget)"),
            f"best cell: {result.trials[best]['arch_str']}",
            f"report: {folder / 'summary.md'}",
            f"rerun or extend: gennape search --config {config_path} --out DIR",
        ]
    )
    out.paths += [config_path] + sorted(p for p in folder.iterdir() if p.suffix in (".md", ".png", ".jsonl"))
    return out


def _light_text(kwargs: dict[str, Any]) -> str:
    if kwargs == LIGHT_GENNAPE:
        return "light (no k-GNN member, 5 contrastive + 20 supervised epochs, 64-cell reference sample)"
    return ", ".join(f"{k}={v}" for k, v in kwargs.items()) or "default hyperparameters"
