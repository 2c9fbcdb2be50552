"""Search configurations: NASLib-style YAML files parsed into a typed :class:`SearchConfig`.

A NASLib user's config runs unchanged::

    search_space: nasbench201
    dataset: cifar10
    optimizer: bananas
    seed: 0
    out_dir: run
    search:
      epochs: 150          # evaluations
      predictor_type: gennape
      num_init: 10
      k: 10
      num_ensemble: 3
      acq_fn_type: its
      acq_fn_optimization: mutation

NASLib names are mapped to ours (``nasbench201`` -> ``nb201``, ``ImageNet16-120`` ->
``imagenet16_120``, ``re`` -> ``regularized_evolution``). Keys NASLib uses only for training
networks (``checkpoint_freq``, ``batch_size``, ...) are accepted and ignored; any other key is
rejected with a message naming it. Our additions live in the same ``search:`` block (``metric``,
``objective``, ``objectives``, ``reference_point``, ``executor``, ``max_parallel``, ...).
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ConfigError",
    "DEFAULT_METRICS",
    "NASLIB_DATASETS",
    "NASLIB_SEARCH_SPACES",
    "SearchConfig",
    "load_config",
    "optimizer_kwargs",
]

#: NASLib search-space names -> our family names.
NASLIB_SEARCH_SPACES = {
    "nasbench101": "nb101",
    "nasbench201": "nb201",
    "nasbench301": "nb301",
    "darts": "nb301",
}
#: NASLib dataset names -> our table dataset names.
NASLIB_DATASETS = {"ImageNet16-120": "imagenet16_120", "imagenet16-120": "imagenet16_120", "imagenet": "imagenet"}
#: Default metric of each packaged table.
DEFAULT_METRICS = {"nb201": "test_acc_200ep", "nb101": "val_acc", "nb301": "val_acc_surrogate", "ofa_mbv3": "top1_acc"}

_TOP_LEVEL = {"search_space", "dataset", "optimizer", "seed", "out_dir", "search"}
# NASLib top-level keys that only concern training networks or its own bookkeeping.
_TOP_LEVEL_IGNORED = {"config_type", "evaluation", "save_arch_weights", "save", "data", "search_space_type"}
# NASLib search-block keys that configure network training or one-shot methods, not discrete search.
_SEARCH_IGNORED = {
    "checkpoint_freq",
    "fidelity",
    "batch_size",
    "data_size",
    "cutout",
    "cutout_length",
    "cutout_prob",
    "train_portion",
    "learning_rate",
    "learning_rate_min",
    "momentum",
    "weight_decay",
    "grad_clip",
    "drop_path_prob",
    "output_weights",
    "unrolled",
    "arch_learning_rate",
    "arch_weight_decay",
    "epsilon",
    "seed",
    "debug_predictor",
    "encoding_type",
    "num_arches_to_mutate_init",
    "zc",
    "zc_ensemble",
    "zc_names",
    "zc_only",
    "use_zc_api",
    "tpe_bandwidth",
    "budgets",
    "single_fidelity",
}
# Search-block keys we read (NASLib's optimizer keys and ours).
_SEARCH_KEYS = {
    "epochs",
    "predictor_type",
    "num_init",
    "k",
    "num_ensemble",
    "acq_fn_type",
    "acq_fn_optimization",
    "num_arches_to_mutate",
    "max_mutations",
    "num_candidates",
    "population_size",
    "sample_size",
    "explore_factor",
    # ours
    "metric",
    "maximize",
    "objective",
    "table",
    "evaluate",
    "predictor",
    "predictor_kwargs",
    "fit_predictor",
    "objectives",
    "reference_point",
    "extra_metrics",
    "executor",
    "max_parallel",
    "parallel_batch",
    "initial_archs",
}


class ConfigError(ValueError):
    """A search configuration is invalid; the message names the file and the key."""


@dataclass
class SearchConfig:
    """A parsed search configuration.

    Attributes:
        search_space: Family name (NASLib names mapped).
        dataset: Dataset of the benchmark table (``cifar10``, ``cifar100``, ``imagenet16_120``, ...).
        optimizer: Optimizer registry name (aliases resolved).
        seed: Random seed.
        out_dir: Base folder of results (the run folder is ``out_dir/<space>/<dataset>/<optimizer>/<seed>``).
        search: The ``search:`` block with NASLib-ignored keys removed.
        ignored: Keys that were accepted but ignored (reported in ``metadata.json``).
        source: Where the config came from.
    """

    search_space: str = "nb201"
    dataset: str = "cifar10"
    optimizer: str = "random_search"
    seed: int = 0
    out_dir: str = "run"
    search: dict[str, Any] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    source: str = "<dict>"

    @property
    def epochs(self) -> int:
        """Number of evaluations (``search.epochs``, default 100)."""
        return int(self.search.get("epochs", 100))

    @property
    def metric(self) -> str:
        """The optimised metric: ``search.metric``, else the first objective, else the table's default."""
        objectives = self.search.get("objectives")
        if objectives and "metric" not in self.search:
            from gennape_naslib.optimizers.multi_objective import parse_objectives

            return parse_objectives(objectives)[0][0]
        default = DEFAULT_METRICS.get(self.search.get("table", self.search_space), "accuracy")
        return str(self.search.get("metric", default))

    @property
    def objective(self) -> str:
        """``tabular`` (default), ``predictor`` or ``function``."""
        return str(self.search.get("objective", "tabular"))

    def run_dir(self) -> Path:
        """The run folder under :attr:`out_dir`."""
        return Path(self.out_dir) / self.search_space / self.dataset / self.optimizer / str(self.seed)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form (what ``metadata.json`` stores)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in ("source",)}

    def identity(self) -> dict[str, Any]:
        """The settings that determine the trials (resuming with other values is refused)."""
        search = {k: v for k, v in self.search.items() if k not in ("executor", "max_parallel")}
        return {
            "search_space": self.search_space,
            "dataset": self.dataset,
            "optimizer": self.optimizer,
            "seed": self.seed,
            "search": search,
        }


def _map_name(value: Any, table: Mapping[str, str]) -> str:
    text = str(value)
    return table.get(text, table.get(text.lower(), text))


def load_config(
    source: str | os.PathLike[str] | Mapping[str, Any],
    seed: int | None = None,
    out_dir: str | os.PathLike[str] | None = None,
) -> SearchConfig:
    """Read a NASLib-style config (YAML file or mapping) into a :class:`SearchConfig`.

    Args:
        source: Path of a YAML file, or the mapping itself.
        seed: Overrides ``seed``.
        out_dir: Overrides ``out_dir``.

    Raises:
        ConfigError: For unknown keys (named), a wrong type, an unknown family or optimizer.
    """
    import yaml

    from gennape_naslib.optimizers import resolve_optimizer_name
    from gennape_naslib.search_spaces import list_families

    if isinstance(source, Mapping):
        doc, where = dict(source), "<dict>"
    else:
        where = str(source)
        try:
            doc = yaml.safe_load(Path(source).read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {where} does not exist") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{where}: not valid YAML ({exc})") from None
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{where}: expected a mapping of keys at the top level, got {type(doc).__name__}")
    ignored: list[str] = []
    for key in doc:
        if key in _TOP_LEVEL_IGNORED:
            ignored.append(str(key))
        elif key not in _TOP_LEVEL:
            raise ConfigError(
                f"{where}: unknown key {key!r}; top-level keys are {', '.join(sorted(_TOP_LEVEL | _TOP_LEVEL_IGNORED))}"
            )
    search_doc = doc.get("search") or {}
    if not isinstance(search_doc, Mapping):
        raise ConfigError(f"{where}: search: expected a mapping, got {type(search_doc).__name__}")
    search: dict[str, Any] = {}
    for key, value in search_doc.items():
        if key in _SEARCH_IGNORED:
            ignored.append(f"search.{key}")
        elif key in _SEARCH_KEYS:
            search[str(key)] = value
        else:
            raise ConfigError(f"{where}: unknown key 'search.{key}'; accepted keys: {', '.join(sorted(_SEARCH_KEYS))}")
    family = _map_name(doc.get("search_space", "nb201"), NASLIB_SEARCH_SPACES)
    if family not in list_families():
        raise ConfigError(
            f"{where}: search_space {doc.get('search_space')!r} is not a family ({', '.join(list_families())})"
        )
    try:
        optimizer = resolve_optimizer_name(str(doc.get("optimizer", "random_search")))
    except KeyError as exc:
        raise ConfigError(f"{where}: optimizer: {exc.args[0]}") from None
    if "epochs" in search and (not isinstance(search["epochs"], int) or search["epochs"] < 1):
        raise ConfigError(f"{where}: search.epochs must be a positive integer, got {search['epochs']!r}")
    if "predictor_type" in search and "predictor" not in search:
        search["predictor"] = search["predictor_type"]
    search.pop("predictor_type", None)
    try:
        seed_value = int(doc.get("seed", 0) if seed is None else seed)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: seed must be an integer, got {doc.get('seed')!r}") from None
    return SearchConfig(
        search_space=family,
        dataset=_map_name(doc.get("dataset", "cifar10"), NASLIB_DATASETS),
        optimizer=optimizer,
        seed=seed_value,
        out_dir=str(out_dir if out_dir is not None else doc.get("out_dir", "run")),
        search=search,
        ignored=ignored,
        source=where,
    )


def optimizer_kwargs(config: SearchConfig) -> dict[str, Any]:
    """Keyword arguments for the configured optimizer: the ``search:`` keys its constructor accepts.

    NASLib configs carry every optimizer's keys; the ones the chosen optimizer does not take are
    left out (as NASLib does).
    """
    from gennape_naslib.optimizers.base import _REGISTRY, resolve_optimizer_name

    cls = _REGISTRY[resolve_optimizer_name(config.optimizer)]
    accepted: set[str] = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            accepted |= set(inspect.signature(klass.__init__).parameters)
    kwargs = {k: v for k, v in config.search.items() if k in accepted and k not in ("family", "metric")}
    kwargs["family"] = config.search_space
    kwargs["random_state"] = config.seed
    if "metric" in accepted and "objectives" not in config.search:
        kwargs["metric"] = config.metric
    return kwargs
