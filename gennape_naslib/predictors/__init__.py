"""Performance predictors: the shared contract, the registry and the built-in predictors.

Use :func:`get_predictor` to create one by name (``"gennape"``, ``"kgnn"``, ``"flops"``,
``"params"``, ``"cg_trees"``, zero-cost proxies ...) and :func:`list_predictors` to see the choices.
Predictor modules are imported on first use only; importing this package does not import
``torch_geometric``.
"""

from __future__ import annotations

from gennape_naslib.predictors.base import (
    InconsistentVersionWarning,
    LabelScaleWarning,
    NotFittedError,
    Predictor,
    PredictorFileError,
    UnknownPredictorError,
    as_archs_and_family,
    as_graphs,
    check_is_fitted,
    check_x,
    check_xy,
    clear_graph_cache,
    get_predictor,
    list_predictors,
    predictions_array,
    register_predictor,
)

__all__ = [
    "InconsistentVersionWarning",
    "LabelScaleWarning",
    "NotFittedError",
    "Predictor",
    "PredictorFileError",
    "UnknownPredictorError",
    "as_archs_and_family",
    "as_graphs",
    "check_is_fitted",
    "check_x",
    "check_xy",
    "clear_graph_cache",
    "get_predictor",
    "list_predictors",
    "predictions_array",
    "register_predictor",
]
