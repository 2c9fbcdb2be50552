"""Search benchmark on NAS-Bench-201 (tabular): best accuracy and regret vs evaluations over seeds.

Every run is an ordinary result folder written by :func:`gennape_naslib.search.run_search` (so it
can be resumed and inspected); this script only chooses the settings and aggregates.

    python scripts/bench_search.py --out runs/bench_search --seeds 10 --budget 300 \
        --methods rs re bananas_cg_trees npenas_cg_trees mo_latency
    python scripts/bench_search.py --out runs/bench_search_gennape --seeds 10 --budget 300 \
        --methods bananas_gennape_pretrained bananas_gennape npenas_gennape

Methods: ``rs``, ``re``, ``bananas_<predictor>`` / ``npenas_<predictor>`` with a registered predictor
trained online (refit from scratch every round; ``gennape`` with the light :data:`ONLINE_GENNAPE`
settings), ``bananas_gennape_pretrained`` (the shipped GENNAPE model as is, no refit),
``bananas_gennape_finetune`` (the shipped model, a copy fine-tuned on the evaluated architectures each
round for :data:`FINETUNE_EPOCHS` epochs; ``--checkpoint PATH`` uses another saved model for both, e.g.
one trained on NB-101 only), ``mo_latency``, ``mo_flops``. A run folder holding fewer
trials than ``--budget`` is resumed and extended; with ``--skip-solved`` only runs that have not found
the optimum yet are extended. When aggregating, a run shorter than the budget that has already found
the optimum is counted with the optimum for the rest of the budget (its best-so-far cannot change);
``aggregate_b<budget>.json`` says how many runs were counted so (``stopped_at_optimum``).

``--dataset`` picks the column of the packaged ``nb201`` table (``cifar10``, the default, ``cifar100``,
``ImageNet16-120``; NASLib's names); regret is measured to that column's own optimum. The online
GENNAPE variants of :data:`ONLINE_VARIANTS` (``bananas_gennape_wide``, ...) differ from
``bananas_gennape`` in the surrogate's settings or the candidate generation; they were compared on the
CIFAR-100 and ImageNet16-120 columns (development datasets) before one of them was run on CIFAR-10.
With ``--stop-at-optimum`` a run ends right after it has evaluated the optimum (the same counting as
``--skip-solved``: its best-so-far cannot change afterwards), which saves the refits of the rest.

Writes ``aggregate_b<budget>.json`` and plots (bands over seeds) into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from gennape_naslib.search import load_config, read_trials, run_search
from gennape_naslib.search.config import NASLIB_DATASETS
from gennape_naslib.search.objectives import TabularObjective
from gennape_naslib.search.report import best_so_far, hypervolume_curve, plot_curves

METRIC = "test_acc_200ep"
MO_OBJECTIVES = [(METRIC, True), ("edgegpu_latency", False)]
MO_REFERENCE = [80.0, 12.0]
FLOPS_OBJECTIVES = [(METRIC, True), ("flops", False)]
FLOPS_REFERENCE = [80.0, 2.5e8]
#: GENNAPE trained online from scratch every round, lightened for 2 shared CPU cores: the CL+FCM+T
#: member and the FLOPs member (instead of the six-member ensemble), 10 supervised epochs (40),
#: 2 contrastive epochs (10) on at most 256 graphs (1,024).
ONLINE_GENNAPE = {"members": ["cl_fcm_t", "flops"], "epochs": 10, "cl_epochs": 2, "cl_max_graphs": 256}
#: Fine-tuning epochs per round of ``bananas_gennape_finetune`` (the predictor's default is 100).
FINETUNE_EPOCHS = 10
#: Fine-tuning learning rate of ``bananas_gennape_finetune``: the rate of its recorded runs (``docs/results.md``),
#: the shipped model's fine-tuning rate before the default became ``lr`` (1e-3).
FINETUNE_LR = 1e-4
#: BANANAS candidate generation of the ``bananas_*`` methods (NASLib's defaults: 1-mutations of the 2 best).
BANANAS_CANDIDATES = {"num_arches_to_mutate": 2, "max_mutations": 1, "num_candidates": 100}
#: BANANAS' wide candidate generation (the 5 best architectures mutated along chains of 1 and 2 mutations).
WIDE_CANDIDATES = {"num_arches_to_mutate": 5, "max_mutations": 2, "num_candidates": 200}
#: Online GENNAPE variants (method ``bananas_<name>`` / ``npenas_<name>``): predictor keyword arguments
#: and, for BANANAS, further search keys (candidate generation, ``calibrate_std``). ``gennape`` is the
#: light setting of the first runs; ``_wide`` mutates the 5 best architectures with chains of 1 and 2
#: mutations into 200 candidates; ``_wide20`` adds twice the supervised epochs; ``_wide_cal`` rescales
#: the surrogate's std on its own earlier predictions (``calibrate_std``; ``docs/data/spread/PROTOCOL.md``).
ONLINE_VARIANTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "gennape": (ONLINE_GENNAPE, BANANAS_CANDIDATES),
    "gennape_wide": (ONLINE_GENNAPE, WIDE_CANDIDATES),
    "gennape_wide_cal": (ONLINE_GENNAPE, {**WIDE_CANDIDATES, "calibrate_std": True}),
    "gennape_wide20": ({**ONLINE_GENNAPE, "epochs": 20}, WIDE_CANDIDATES),
}
#: ``--dataset`` choices: the ``nb201`` table's datasets under NASLib's names and ours (mapped to the
#: table's names by the search config's :data:`~gennape_naslib.search.config.NASLIB_DATASETS`).
DATASETS = ("cifar10", "cifar100", "ImageNet16-120", "imagenet16_120")


def _table_dataset(name: str) -> str:
    """The ``nb201`` table's name of a ``--dataset`` choice (``ImageNet16-120`` -> ``imagenet16_120``)."""
    return NASLIB_DATASETS.get(name, name)


def method_config(
    method: str, seed: int, budget: int, checkpoint: str = "pretrained", dataset: str = "cifar10"
) -> dict[str, Any]:
    """The NASLib-style config of one method (``checkpoint``: the saved GENNAPE model of the
    ``_pretrained`` / ``_finetune`` methods, ``"pretrained"`` for the shipped one; ``dataset``: a
    key of :data:`DATASETS`)."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choices: {', '.join(DATASETS)}")
    base: dict[str, Any] = {"search_space": "nasbench201", "dataset": _table_dataset(dataset), "seed": seed}
    search: dict[str, Any] = {"epochs": budget}
    if method == "rs":
        base["optimizer"] = "rs"
    elif method == "re":
        base["optimizer"] = "re"
        search.update(population_size=50, sample_size=10)
    elif method.startswith(("bananas_", "npenas_")):
        optimizer, _, predictor = method.partition("_")
        base["optimizer"] = optimizer
        mode = ""
        if predictor.endswith(("_pretrained", "_finetune")):
            predictor, _, mode = predictor.rpartition("_")
            if predictor != "gennape":
                raise ValueError(f"unknown method {method!r}: only the GENNAPE model is shipped pretrained")
        search.update(predictor_type=predictor, num_init=10, k=10, num_candidates=100)
        candidates = BANANAS_CANDIDATES
        if not mode and predictor in ONLINE_VARIANTS:
            online, candidates = ONLINE_VARIANTS[predictor]
            search["predictor_kwargs"] = dict(online)
            predictor = "gennape"
            search["predictor_type"] = predictor
        elif predictor.startswith("gennape") and predictor != "gennape":
            raise ValueError(f"unknown method {method!r}; online GENNAPE variants: {', '.join(ONLINE_VARIANTS)}")
        if mode:  # a saved model (default: the shipped one, trained on all NB-201 labels), as is or fine-tuned
            search.update(predictor_checkpoint=checkpoint, fit_predictor=False)
            if mode == "finetune":
                search.update(
                    fit_predictor="finetune",
                    predictor_kwargs={"finetune_epochs": FINETUNE_EPOCHS, "finetune_lr": FINETUNE_LR},
                )
        if predictor == "cg_trees":  # 20 trees instead of 100: the pure-Python forest dominates the run time
            search["predictor_kwargs"] = {"n_estimators": 20}
        if optimizer == "bananas":
            search.update(num_ensemble=1, acq_fn_type="its", acq_fn_optimization="mutation", **candidates)
        else:
            search.update(num_ensemble=1, acq_fn_type="exploit_only", num_arches_to_mutate=10)
    elif method in ("mo_latency", "mo_flops"):
        objectives, reference = (
            (MO_OBJECTIVES, MO_REFERENCE) if method == "mo_latency" else (FLOPS_OBJECTIVES, FLOPS_REFERENCE)
        )
        base["optimizer"] = "multi_objective"
        search.update(
            objectives=[f"{n}:{'max' if m else 'min'}" for n, m in objectives],
            reference_point=reference,
            num_init=20,
            population_size=20,
        )
    else:
        raise ValueError(f"unknown method {method!r}")
    base["search"] = search
    return base


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] + " Methods, resuming and counting: see the module docstring."
    )
    parser.add_argument("--out", type=Path, default=Path("runs/bench_search"), help="folder of the runs and results")
    parser.add_argument("--seeds", type=int, default=10, help="seeds per method (default 10)")
    parser.add_argument("--first-seed", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--budget", type=int, default=300, help="evaluations per run (default 300)")
    parser.add_argument(
        "--methods",
        nargs="+",
        default=["rs", "re"],
        help="rs, re, bananas_<predictor>, npenas_<predictor> (a registry name, e.g. cg_trees or gennape), "
        f"bananas_gennape_pretrained, bananas_gennape_finetune, {', '.join(f'bananas_{v}' for v in ONLINE_VARIANTS)}, "
        "mo_latency, mo_flops (default: rs re)",
    )
    parser.add_argument("--aggregate-only", action="store_true", help="only aggregate the runs already in --out")
    parser.add_argument(
        "--checkpoint",
        default="pretrained",
        help="saved GENNAPE model for the _pretrained/_finetune methods (default: the shipped NB-201 model)",
    )
    parser.add_argument(
        "--skip-solved", action="store_true", help="do not extend runs that have already found the optimum"
    )
    parser.add_argument(
        "--dataset",
        default="cifar10",
        choices=list(DATASETS),
        help="column of the nb201 table (NASLib's names): cifar10 (default), cifar100, ImageNet16-120",
    )
    parser.add_argument(
        "--stop-at-optimum", action="store_true", help="end each run right after it has evaluated the optimum"
    )
    args = parser.parse_args()
    table_dataset = _table_dataset(args.dataset)
    objective_cls = _StopAtOptimum if args.stop_at_optimum else TabularObjective
    objective = objective_cls("nb201", dataset=table_dataset)
    with_flops = objective_cls("nb201", dataset=table_dataset, extra_metrics=["flops"])
    optimum = objective.optimum(METRIC)
    for method in args.methods:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            if args.aggregate_only:
                continue
            folder = args.out / method / str(seed)
            done = read_trials(folder)
            if len(done) >= args.budget:
                continue
            if (args.skip_solved or args.stop_at_optimum) and any(
                np.isclose(t["objectives"].get(METRIC, np.nan), optimum) for t in done
            ):
                continue
            start, cpu = time.perf_counter(), time.process_time()
            chosen = with_flops if method == "mo_flops" else objective
            config = load_config(method_config(method, seed, args.budget, args.checkpoint, args.dataset))
            try:
                if isinstance(chosen, _StopAtOptimum):
                    chosen.start(optimum)
                best_value = run_search(config, folder=folder, objective=chosen).optimizer.best().metrics[METRIC]
            except _OptimumFound:
                best_value = optimum
            print(
                f"{method} seed {seed}: best {best_value:.3f} after {len(read_trials(folder))} evaluations in "
                f"{time.perf_counter() - start:.1f}s (process CPU {time.process_time() - cpu:.1f}s)",
                flush=True,
            )
    aggregate(args.out, args.methods, args.budget, optimum, args.dataset)


class _OptimumFound(Exception):
    """Raised by :class:`_StopAtOptimum` to end a run that has evaluated the optimum."""


class _StopAtOptimum(TabularObjective):
    """A tabular objective that ends the search (raises :class:`_OptimumFound`) when asked for one more
    evaluation after it has returned the optimum of :data:`METRIC`; the optimum's trial is written first."""

    def start(self, optimum: float) -> None:
        """Arm for a new run whose optimum is ``optimum``."""
        self._optimum, self._found = optimum, False

    def evaluate(self, arch: Any) -> dict[str, float]:
        if getattr(self, "_found", False):
            raise _OptimumFound
        metrics = super().evaluate(arch)
        self._found = bool(np.isclose(metrics[METRIC], getattr(self, "_optimum", np.nan)))
        return metrics


def _padded(best: np.ndarray, budget: int) -> np.ndarray:
    """A best-so-far curve continued with its last value up to ``budget`` evaluations."""
    return np.concatenate([best, np.full(budget - len(best), best[-1])]) if len(best) < budget else best


def _hv_summary(hv: np.ndarray, budget: int) -> dict[int, dict[str, float]]:
    return {b: {"mean": float(hv[:, b - 1].mean()), "std": float(hv[:, b - 1].std())} for b in _report_budgets(budget)}


def _report_budgets(budget: int) -> list[int]:
    """The evaluation counts a summary reports: 50, 100, 150, 200, 300 up to ``budget``, and ``budget`` itself."""
    return sorted({b for b in (50, 100, 150, 200, 300) if b <= budget} | {int(budget)})


def _with_flops(records: list[dict[str, Any]], budget: int) -> list[dict[str, Any]]:
    """Trials in order with FLOPs added from the family adapter where the run did not record them."""
    from gennape_naslib.search_spaces import get

    family = get("nb201")
    out = []
    for rec in sorted(records, key=lambda t: t["trial"])[:budget]:
        objectives = dict(rec["objectives"])
        if "flops" not in objectives:
            objectives["flops"] = family.flops(family.from_json(rec["arch"]))
        out.append({**rec, "objectives": objectives})
    return out


def aggregate(out: Path, methods: list[str], budget: int, optimum: float, dataset: str = "cifar10") -> None:
    """Summaries over seeds of each method's folders (``dataset``: the ``--dataset`` of the runs)."""
    curves, hv_curves = {}, {}
    doc: dict[str, Any] = {"optimum": optimum, "metric": METRIC, "dataset": dataset, "budget": budget, "methods": {}}
    for method in methods:
        runs = [read_trials(p) for p in sorted((out / method).glob("*")) if (p / "trials.jsonl").is_file()]
        solved = [any(np.isclose(t["objectives"].get(METRIC, np.nan), optimum) for t in r) for r in runs]
        stopped = sum(1 for r, s in zip(runs, solved) if s and len(r) < budget)
        runs = [r for r, s in zip(runs, solved) if len(r) >= budget or s]
        if not runs:
            continue
        best = np.stack(
            [_padded(best_so_far(sorted(r, key=lambda t: t["trial"])[:budget], METRIC), budget) for r in runs]
        )
        curves[method] = best
        reach = [
            int(np.flatnonzero(np.isclose(b, optimum))[0]) + 1 if np.isclose(b, optimum).any() else None for b in best
        ]
        entry: dict[str, Any] = {"seeds": len(runs), "stopped_at_optimum": stopped, "budgets": {}}
        for b in _report_budgets(budget):
            col = best[:, b - 1]
            entry["budgets"][b] = {
                "mean_best": float(col.mean()),
                "std_best": float(col.std()),
                "median_best": float(np.median(col)),
                "mean_regret": float((optimum - col).mean()),
                "found_optimum": int(np.isclose(col, optimum).sum()),
            }
        reached = [r for r in reach if r is not None]
        entry["evals_to_optimum"] = reach
        entry["median_evals_to_optimum"] = float(np.median([r if r is not None else np.inf for r in reach]))
        entry["reached_optimum"] = len(reached)
        if method in ("mo_latency", "rs"):
            hv = np.stack(
                [
                    hypervolume_curve(sorted(r, key=lambda t: t["trial"])[:budget], MO_OBJECTIVES, MO_REFERENCE)
                    for r in runs
                ]
            )
            hv_curves[f"{method} (acc vs latency)"] = hv
            entry["hypervolume"] = _hv_summary(hv, budget)
        if method in ("mo_flops", "rs"):
            hv = np.stack([hypervolume_curve(_with_flops(r, budget), FLOPS_OBJECTIVES, FLOPS_REFERENCE) for r in runs])
            hv_curves[f"{method} (acc vs FLOPs)"] = hv
            entry["hypervolume_flops"] = _hv_summary(hv, budget)
        doc["methods"][method] = entry
    (out / f"aggregate_b{budget}.json").write_text(json.dumps(doc, indent=2))
    plot_curves(
        curves,
        out / f"best_so_far_b{budget}.png",
        f"best {METRIC} (%)",
        title=f"NB-201 {dataset}, tabular",
        ylim=(optimum - 1.0, optimum + 0.1),
    )
    plot_curves({k: optimum - v for k, v in curves.items()}, out / f"regret_b{budget}.png", "regret (%)", log=True)
    for tag, ylabel in (("latency", "hypervolume (acc % x ms)"), ("FLOPs", "hypervolume (acc % x FLOPs)")):
        chosen = {k: v for k, v in hv_curves.items() if k.endswith(f"vs {tag})")}
        if chosen:
            plot_curves(chosen, out / f"hypervolume_{tag.lower()}_b{budget}.png", ylabel)
    print(json.dumps(doc, indent=1)[:4000])


if __name__ == "__main__":
    main()
