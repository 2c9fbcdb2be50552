"""Benchmarks of predictors and zero-cost proxies: metrics, protocols, result folders and reports.

Typical use::

    from gennape_naslib.evaluation import MethodSpec, PredictorBenchConfig, TableSpec, run_benchmark

    config = PredictorBenchConfig(TableSpec("nb201", "cifar10"), [MethodSpec("gennape"), MethodSpec("flops")])
    folder = run_benchmark(config, "runs/nb201")   # results.csv, summary.md, plots; resumable

The command line offers the same as ``gennape bench predictors|transfer|proxies`` and ``gennape report``.
"""

from __future__ import annotations

from gennape_naslib.evaluation.config import (
    BenchConfig,
    MethodSpec,
    PredictorBenchConfig,
    ProxyBenchConfig,
    TableSpec,
    TransferBenchConfig,
    config_from_dict,
    load_config,
)
from gennape_naslib.evaluation.metrics import (
    ERROR_METRICS,
    RANK_METRICS,
    evaluate_predictions,
    gennape_tau,
    kendall_tau,
    mae,
    mape,
    ndcg_at_k,
    pearson,
    precision_at_k,
    rmse,
    spearman,
    to_fraction,
)
from gennape_naslib.evaluation.protocols import plan_cells, run_benchmark
from gennape_naslib.evaluation.report import render_report
from gennape_naslib.evaluation.results import RunFolder

__all__ = [
    "ERROR_METRICS",
    "RANK_METRICS",
    "BenchConfig",
    "MethodSpec",
    "PredictorBenchConfig",
    "ProxyBenchConfig",
    "RunFolder",
    "TableSpec",
    "TransferBenchConfig",
    "config_from_dict",
    "load_config",
    "plan_cells",
    "render_report",
    "run_benchmark",
    "evaluate_predictions",
    "gennape_tau",
    "kendall_tau",
    "mae",
    "mape",
    "ndcg_at_k",
    "pearson",
    "precision_at_k",
    "rmse",
    "spearman",
    "to_fraction",
]
