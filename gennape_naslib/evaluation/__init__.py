"""Benchmarks of predictors and zero-cost proxies: metrics, protocols, result folders and reports."""

from __future__ import annotations

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

__all__ = [
    "ERROR_METRICS",
    "RANK_METRICS",
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
