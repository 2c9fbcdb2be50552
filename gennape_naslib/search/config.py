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

A saved or the shipped pretrained predictor is used with ``predictor_checkpoint``::

    search:
      predictor_checkpoint: pretrained   # GENNAPEPredictor.pretrained(), or a file written by Predictor.save
      fit_predictor: false               # false: as is (default); finetune: fine-tune a copy on the
                                         # evaluated architectures each round; true: refit from scratch
      predictor_kwargs: {finetune_epochs: 10}   # hyperparameters set on the loaded predictor

NAS-Bench-301's surrogate models (family nb301, dataset cifar10 only; the ``nasbench301`` package and the
model folders are the user's, see :mod:`gennape_naslib.search.surrogates`) with ``objective: surrogate``::

    search:
      objective: surrogate
      surrogate_dir: nb_models/xgb_v1.0          # performance ensemble -> val_acc_surrogate (%)
      runtime_dir: nb_models/lgb_runtime_v1.0    # optional runtime ensemble -> train_time_surrogate (s)
      surrogate_noise: false                     # true: NAS-Bench-301's noisy predictions

Relative folders are looked up from the working directory, then beside the config file.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
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
    "OBJECTIVES",
    "SearchConfig",
    "ask_batch_size",
    "checkpoint_path",
    "load_checkpoint",
    "load_config",
    "optimizer_kwargs",
    "surrogate_folder",
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
    "calibrate_std",
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
    "predictor_checkpoint",
    "surrogate_dir",
    "runtime_dir",
    "surrogate_noise",
}
#: ``search.objective`` values.
OBJECTIVES = ("tabular", "predictor", "function", "surrogate")
#: Keys read only by ``objective: surrogate`` (NAS-Bench-301's surrogate models).
_SURROGATE_KEYS = ("surrogate_dir", "runtime_dir", "surrogate_noise")
#: ``search.predictor_checkpoint`` value that loads ``GENNAPEPredictor.pretrained()``.
PRETRAINED = "pretrained"


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
    def maximize(self) -> bool:
        """Whether :attr:`metric` is maximised: ``search.maximize``, else the direction :attr:`metric`
        has in ``search.objectives`` (``"edgegpu_latency:min"`` -> ``False``), else ``True``.

        The one place the direction of :attr:`metric` is decided: the optimizer (see
        :func:`optimizer_kwargs`), the report's best value, optimum and regret, and the incumbent of
        ``errors.json`` all read it.
        """
        if "maximize" in self.search:
            return bool(self.search["maximize"])
        objectives = self.search.get("objectives")
        if objectives:
            from gennape_naslib.optimizers.multi_objective import parse_objectives

            return dict(reversed(parse_objectives(objectives))).get(self.metric, True)
        return True

    @property
    def ask_batch(self) -> int:
        """Architectures the optimizer is asked for at a time (see :func:`ask_batch_size`)."""
        return ask_batch_size(self.search)

    @property
    def objective(self) -> str:
        """``tabular`` (default), ``predictor``, ``function`` or ``surrogate`` (see :data:`OBJECTIVES`)."""
        return str(self.search.get("objective", "tabular"))

    def run_dir(self) -> Path:
        """The run folder under :attr:`out_dir`."""
        return Path(self.out_dir) / self.search_space / self.dataset / self.optimizer / str(self.seed)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form (what ``metadata.json`` stores)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in ("source",)}

    def identity(self) -> dict[str, Any]:
        """The settings that determine the trials (resuming with other values is refused).

        The budget (``epochs``) is not part of it: the trials of a budget are the first ones of a
        larger budget, so a finished search can be extended by resuming it with more epochs. A
        predictor checkpoint is identified by the SHA-256 of its file as well as by its name.
        ``executor`` and ``max_parallel`` only say how evaluations run, but the batch the optimizer
        is asked for (:attr:`ask_batch`: ``parallel_batch``, else ``max_parallel``) changes the
        trials, so it is recorded as ``ask_batch`` when it is not 1 (leaving the identity of serial
        searches as it was before that key existed). The optimizer's
        :meth:`~gennape_naslib.optimizers.base.Optimizer.proposal_revision` is recorded as ``revision`` when it is
        not 1, so a folder written before its proposals changed is not resumed with the new ones.
        """
        ignored = ("executor", "max_parallel", "parallel_batch", "epochs")
        search = {k: v for k, v in self.search.items() if k not in ignored}
        if "predictor_checkpoint" in search:
            digest = hashlib.sha256(checkpoint_path(self).read_bytes()).hexdigest()
            search["predictor_checkpoint_sha256"] = digest
        identity: dict[str, Any] = {
            "search_space": self.search_space,
            "dataset": self.dataset,
            "optimizer": self.optimizer,
            "seed": self.seed,
            "search": search,
        }
        if self.ask_batch != 1:
            identity["ask_batch"] = self.ask_batch
        from gennape_naslib.optimizers.base import optimizer_class

        revision = optimizer_class(self.optimizer).proposal_revision(self.ask_batch)
        if revision != 1:  # an optimizer whose proposals changed: older folders of it are not resumed
            identity["revision"] = revision
        return identity


def ask_batch_size(search: Mapping[str, Any]) -> int:
    """The batch a search asks its optimizer for, from a ``search:`` block.

    ``parallel_batch`` when given, else ``max_parallel``, else 1: proposals are made for as many
    architectures as can be evaluated at once.
    """
    return int(search.get("parallel_batch", search.get("max_parallel", 1)))


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
    _check_predictor_keys(search, optimizer, where)
    dataset = _map_name(doc.get("dataset", "cifar10"), NASLIB_DATASETS)
    _check_surrogate_keys(search, family, dataset, where)
    try:
        seed_value = int(doc.get("seed", 0) if seed is None else seed)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: seed must be an integer, got {doc.get('seed')!r}") from None
    return SearchConfig(
        search_space=family,
        dataset=dataset,
        optimizer=optimizer,
        seed=seed_value,
        out_dir=str(out_dir if out_dir is not None else doc.get("out_dir", "run")),
        search=search,
        ignored=ignored,
        source=where,
    )


def _check_predictor_keys(search: dict[str, Any], optimizer: str, where: str) -> None:
    """Validate ``fit_predictor`` and ``predictor_checkpoint`` (normalising ``fit_predictor``)."""
    from gennape_naslib.optimizers._surrogate import fit_mode
    from gennape_naslib.optimizers.base import _REGISTRY

    if "fit_predictor" in search:
        try:
            search["fit_predictor"] = fit_mode(search["fit_predictor"], "search.fit_predictor")
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    checkpoint = search.get("predictor_checkpoint")
    if checkpoint is None:
        if search.get("fit_predictor") == "finetune" and isinstance(search.get("predictor", ""), str):
            raise ConfigError(
                f"{where}: search.fit_predictor 'finetune' fine-tunes a fitted predictor; "
                "set search.predictor_checkpoint to 'pretrained' or to a saved predictor file"
            )
        return
    if not isinstance(checkpoint, (str, os.PathLike)) or not str(checkpoint).strip():
        raise ConfigError(
            f"{where}: search.predictor_checkpoint must be '{PRETRAINED}' or the path of a saved predictor, "
            f"got {checkpoint!r}"
        )
    uses_predictor = getattr(_REGISTRY.get(optimizer), "uses_predictor", False)
    if not uses_predictor and search.get("objective") != "predictor":
        raise ConfigError(
            f"{where}: search.predictor_checkpoint is read by predictor-guided optimizers (bananas, npenas) "
            f"and by objective: predictor; optimizer {optimizer!r} with objective "
            f"{search.get('objective', 'tabular')!r} would ignore it"
        )
    if str(checkpoint) == PRETRAINED and str(search.get("predictor", "gennape")) != "gennape":
        raise ConfigError(
            f"{where}: search.predictor_checkpoint 'pretrained' is the shipped GENNAPE model, but "
            f"search.predictor is {search['predictor']!r}; drop search.predictor or give a saved file of that predictor"
        )
    path = _resolve_checkpoint(str(checkpoint), where)
    if path is None:
        raise ConfigError(
            f"{where}: search.predictor_checkpoint {str(checkpoint)!r}: no such file "
            f"(looked in {Path.cwd()}{'' if where == '<dict>' else ' and beside the config file'})"
        )


def _check_surrogate_keys(search: Mapping[str, Any], family: str, dataset: str, where: str) -> None:
    """Validate ``objective: surrogate`` and its keys (the folders are checked when the objective is made)."""
    objective = search.get("objective", "tabular")
    if objective != "surrogate":
        given = [key for key in _SURROGATE_KEYS if key in search]
        if given:
            raise ConfigError(
                f"{where}: search.{given[0]} is only read with search.objective: surrogate "
                f"(NAS-Bench-301's surrogate models), but the objective is {objective!r}"
            )
        return
    if family != "nb301":
        raise ConfigError(
            f"{where}: search.objective 'surrogate' queries the NAS-Bench-301 surrogate models, which "
            f"predict DARTS genotypes only; set search_space: nasbench301 (got family {family!r})"
        )
    if dataset != "cifar10":
        raise ConfigError(
            f"{where}: search.objective 'surrogate': the NAS-Bench-301 surrogate models predict CIFAR-10 "
            f"accuracy; set dataset: cifar10 (got {dataset!r})"
        )
    if "surrogate_dir" not in search:
        raise ConfigError(
            f"{where}: search.objective 'surrogate' needs search.surrogate_dir, the folder of NAS-Bench-301's "
            "performance ensemble (e.g. nb_models/xgb_v1.0)"
        )
    for key in ("surrogate_dir", "runtime_dir"):
        value = search.get(key)
        if key in search and (not isinstance(value, (str, os.PathLike)) or not str(value).strip()):
            raise ConfigError(f"{where}: search.{key} must be the path of a folder, got {value!r}")
    if "surrogate_noise" in search and not isinstance(search["surrogate_noise"], bool):
        raise ConfigError(f"{where}: search.surrogate_noise must be true or false, got {search['surrogate_noise']!r}")


def surrogate_folder(config: SearchConfig, key: str) -> Path | None:
    """The folder named by ``search.<key>`` (``surrogate_dir`` or ``runtime_dir``), or ``None`` when unset.

    A relative path is taken from the working directory, else from the config file's folder.

    Raises:
        ConfigError: If neither place has a folder of that name.
    """
    value = config.search.get(key)
    if value is None:
        return None
    path = Path(value).expanduser()
    if path.is_dir():
        return path.resolve()
    if not path.is_absolute() and config.source != "<dict>":
        beside = Path(config.source).resolve().parent / path
        if beside.is_dir():
            return beside
    raise ConfigError(
        f"{config.source}: search.{key} {str(value)!r}: no such folder (looked in {Path.cwd()}"
        f"{'' if config.source == '<dict>' else ' and beside the config file'}); it should be the folder of a "
        f"NAS-Bench-301 {'runtime' if key == 'runtime_dir' else 'performance'} ensemble"
    )


def _resolve_checkpoint(value: str, where: str) -> Path | None:
    """The file of a checkpoint value: the pretrained model, a path (absolute, from the working
    directory, or from the config file's folder), or ``None`` when there is no such file."""
    if value == PRETRAINED:
        from gennape_naslib.predictors.gennape.predictor import PRETRAINED as PRETRAINED_FILE

        return PRETRAINED_FILE
    path = Path(value).expanduser()
    if path.is_file():
        return path.resolve()
    if not path.is_absolute() and where != "<dict>":
        beside = Path(where).resolve().parent / path
        if beside.is_file():
            return beside
    return None


def checkpoint_path(config: SearchConfig) -> Path:
    """The predictor file named by ``search.predictor_checkpoint``.

    Raises:
        ConfigError: If the config has no checkpoint or its file does not exist (any more).
    """
    value = config.search.get("predictor_checkpoint")
    if value is None:
        raise ConfigError(f"{config.source}: search.predictor_checkpoint is not set")
    path = _resolve_checkpoint(str(value), config.source)
    if path is None or not path.is_file():
        raise ConfigError(f"{config.source}: search.predictor_checkpoint {str(value)!r}: no such file")
    return path


_LOADED: dict[tuple[str, int, int], Any] = {}


def load_checkpoint(config: SearchConfig) -> Any:
    """A fresh copy of the predictor named by ``search.predictor_checkpoint``, with ``search.predictor_kwargs``
    set on it as hyperparameters (e.g. ``finetune_epochs``, ``num_threads``).

    Files are read once per process (keyed by path, size and modification time) and deep-copied,
    so that runs never share a predictor.

    Raises:
        ConfigError: If the file cannot be loaded as a predictor, or a ``predictor_kwargs`` key is not
            one of its hyperparameters.
    """
    from gennape_naslib.predictors.base import Predictor

    path = checkpoint_path(config)
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _LOADED:
        try:
            _LOADED.clear()
            _LOADED[key] = Predictor.load(path)
        except (OSError, ValueError, TypeError) as exc:
            raise ConfigError(
                f"{config.source}: search.predictor_checkpoint {str(path)!r} is not a predictor file ({exc})"
            ) from None
    predictor = copy.deepcopy(_LOADED[key])
    wanted = config.search.get("predictor")
    if isinstance(wanted, str) and getattr(predictor, "name", wanted) != wanted:
        raise ConfigError(
            f"{config.source}: search.predictor_checkpoint {str(path)!r} holds a {getattr(predictor, 'name', '?')!r} "
            f"predictor, but search.predictor is {wanted!r}"
        )
    try:
        predictor.set_params(**dict(config.search.get("predictor_kwargs") or {}))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{config.source}: search.predictor_kwargs: {exc}") from None
    return predictor


def optimizer_kwargs(config: SearchConfig) -> dict[str, Any]:
    """Keyword arguments for the configured optimizer: the ``search:`` keys its constructor accepts.

    NASLib configs carry every optimizer's keys; the ones the chosen optimizer does not take are
    left out (as NASLib does): only the chosen class's own ``__init__`` is read (a parent's too when
    that ``__init__`` takes ``**kwargs``), so NPENAS is not given BANANAS's ``calibrate_std``. The metric
    and its direction are :attr:`SearchConfig.metric` and :attr:`SearchConfig.maximize`. With
    ``search.predictor_checkpoint`` the loaded predictor is passed as ``predictor`` (see
    :func:`load_checkpoint`) and ``fit_predictor`` defaults to ``False``.
    """
    from gennape_naslib.optimizers.base import optimizer_class

    cls = optimizer_class(config.optimizer)
    accepted = _init_parameters(cls)
    kwargs = {k: v for k, v in config.search.items() if k in accepted and k not in ("family", "metric", "maximize")}
    kwargs["family"] = config.search_space
    kwargs["random_state"] = config.seed
    if "metric" in accepted:
        kwargs["metric"] = config.metric
    if "maximize" in accepted and ("maximize" in config.search or "objectives" in config.search):
        kwargs["maximize"] = config.maximize  # the direction the report ranks by as well
    if "predictor_checkpoint" in config.search and "predictor" in accepted:
        kwargs["predictor"] = load_checkpoint(config)
        kwargs.pop("predictor_kwargs", None)  # already set on the loaded predictor
        kwargs.setdefault("fit_predictor", False)
    return kwargs


def _init_parameters(cls: type) -> set[str]:
    """Keyword names ``cls(...)`` accepts: those of its own ``__init__``, and of the parents' only
    while each ``__init__`` takes ``**kwargs`` (which it may pass on); a subclass that lists its
    arguments does not accept a parent's other ones."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass is object or "__init__" not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters.values()
        names |= {p.name for p in params if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return names
