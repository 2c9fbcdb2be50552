"""Running architecture searches: objectives, NASLib-style configs, resumable result folders, reports.

``run_search("configs/search_re_nb201.yaml")`` runs a configured search into its folder;
``gennape search --config FILE.yaml`` does the same from the command line.
"""

from __future__ import annotations

from gennape_naslib.search.config import ConfigError, SearchConfig, load_config, optimizer_kwargs
from gennape_naslib.search.objectives import FunctionObjective, Objective, PredictorObjective, TabularObjective
from gennape_naslib.search.runner import SearchResult, build_objective, read_trials, run_search

__all__ = [
    "ConfigError",
    "FunctionObjective",
    "Objective",
    "PredictorObjective",
    "SearchConfig",
    "SearchResult",
    "TabularObjective",
    "build_objective",
    "load_config",
    "optimizer_kwargs",
    "read_trials",
    "run_search",
]
