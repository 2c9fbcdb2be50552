"""Running architecture searches: objectives, NASLib-style configs, resumable result folders, reports.

Objectives: a benchmark table, a predictor, a user function, or NAS-Bench-301's surrogate models
(:class:`NB301SurrogateObjective`, needs the user's ``nasbench301`` install and model folders).

``run_search("configs/search_re_nb201.yaml")`` runs a configured search into its folder;
``gennape search --config FILE.yaml`` does the same from the command line.
"""

from __future__ import annotations

from gennape_naslib.search.config import ConfigError, SearchConfig, load_config, optimizer_kwargs
from gennape_naslib.search.objectives import FunctionObjective, Objective, PredictorObjective, TabularObjective
from gennape_naslib.search.runner import SearchResult, build_objective, read_trials, run_search
from gennape_naslib.search.surrogates import NB301SurrogateObjective

__all__ = [
    "ConfigError",
    "FunctionObjective",
    "NB301SurrogateObjective",
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
