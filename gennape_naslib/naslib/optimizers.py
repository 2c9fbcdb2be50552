"""Our optimizers behind NASLib's ``MetaOptimizer`` interface, so NASLib's ``Trainer`` can drive them.

NASLib's discrete optimizers are classes with ``using_step_function = False`` whose ``new_epoch``
evaluates one architecture per epoch through the search-space graph's ``query``. The adapter asks
our optimizer for an architecture, writes it into a clone of NASLib's graph (``set_op_indices`` for
NB-201, ``set_spec`` for NB-101, ``set_compact`` for NB-301, from the family's ``to_naslib``),
queries the validation accuracy and tells it back::

    optimizer = NASLibOptimizer(config, optimizer="bananas", predictor="gennape")
    trainer = naslib.defaults.trainer.Trainer(optimizer, config)   # NASLib's own Trainer
    optimizer.adapt_search_space(search_space, dataset_api=dataset_api)
    trainer.search()

Nothing here imports NASLib; :func:`naslib_optimizer_class` builds a subclass of NASLib's
``MetaOptimizer`` when ``naslib`` is importable.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["NASLibOptimizer", "naslib_optimizer_class"]

# Search-block keys of NASLib configs that differ from our argument names.
_RENAMED = {"predictor_type": "predictor"}


def _as_dict(node: Any) -> dict[str, Any]:
    """A plain dict from a NASLib ``CfgNode`` / namespace / mapping (recursively)."""
    if node is None:
        return {}
    if isinstance(node, Mapping):
        return {k: _as_dict(v) if isinstance(v, Mapping) else v for k, v in node.items()}
    return {k: v for k, v in vars(node).items() if not k.startswith("_")}


def _metric(name: str, metric_enum: Any) -> Any:
    if metric_enum is not None:
        return getattr(metric_enum, name)
    try:
        from naslib.search_spaces.core.query_metrics import Metric
    except ImportError:
        return name
    return getattr(Metric, name)


class NASLibOptimizer:
    """A gennape-naslib optimizer with NASLib's ``MetaOptimizer`` methods.

    Args:
        config: NASLib config (``CfgNode`` or mapping); reads ``seed``, ``dataset`` and the
            ``search`` keys the chosen optimizer accepts (``population_size``, ``num_init``, ``k``,
            ``predictor_type``, ``acq_fn_type``, ...; others are ignored as NASLib does).
        optimizer: Our optimizer's name or alias (``"re"``, ``"bananas"``, ``"npenas"``, ...).
        metric_enum: NASLib's ``Metric`` enum (default: imported from NASLib when available,
            else the member names as strings, which stand-ins of the contract accept).
        **overrides: Optimizer arguments that take precedence over the config.
    """

    using_step_function = False

    def __init__(
        self, config: Any = None, optimizer: str = "regularized_evolution", metric_enum: Any = None, **overrides: Any
    ) -> None:
        from gennape_naslib.optimizers import resolve_optimizer_name

        self.config = config
        cfg = _as_dict(config)
        self.optimizer_name = resolve_optimizer_name(optimizer)
        self.seed = int(cfg.get("seed", 0) or 0)
        self.dataset = cfg.get("dataset", "cifar10")
        self.search_cfg = _as_dict(cfg.get("search"))
        self.overrides = dict(overrides)
        self.metric_enum = metric_enum
        self.search_space: Any = None
        self.dataset_api: Any = None
        self.optimizer: Any = None
        self.graphs: dict[str, Any] = {}
        self.latest: Any = None

    # ------------------------------------------------------------------ MetaOptimizer methods
    def adapt_search_space(self, search_space: Any, scope: Any = None, dataset_api: Any = None) -> None:
        """Called by NASLib once before the search: store the search space and build our optimizer."""
        from gennape_naslib.optimizers import get_optimizer
        from gennape_naslib.optimizers.base import _REGISTRY
        from gennape_naslib.search.config import NASLIB_SEARCH_SPACES

        self.search_space = search_space.clone() if hasattr(search_space, "clone") else search_space
        self.dataset_api = dataset_api
        ss_type = search_space.get_type() if hasattr(search_space, "get_type") else None
        family = NASLIB_SEARCH_SPACES.get(str(ss_type))
        if family is None:
            raise ValueError(
                f"NASLibOptimizer: search space type {ss_type!r} has no gennape family ({sorted(NASLIB_SEARCH_SPACES)})"
            )
        cls = _REGISTRY[self.optimizer_name]
        accepted: set[str] = set()
        for klass in cls.__mro__:
            if "__init__" in vars(klass):
                accepted |= set(inspect.signature(klass.__init__).parameters)
        kwargs = {_RENAMED.get(k, k): v for k, v in self.search_cfg.items()}
        kwargs = {k: v for k, v in kwargs.items() if k in accepted and k not in ("family", "random_state", "metric")}
        kwargs.update(self.overrides)
        self.optimizer = get_optimizer(
            self.optimizer_name, family=family, metric="valid_acc", random_state=self.seed, **kwargs
        )

    def _graph_of(self, arch: Any) -> Any:
        graph = self.search_space.clone()
        family = self.optimizer.family
        # NASLib's NB-101 graph takes the spec dict ({"matrix", "ops"}), not the 56-int hash tuple of to_naslib
        encoding = family.to_naslib_spec(arch) if hasattr(family, "to_naslib_spec") else family.to_naslib(arch)
        for setter in ("set_op_indices", "set_spec", "set_compact"):
            if hasattr(graph, setter):
                getattr(graph, setter)(encoding)
                return graph
        raise TypeError(f"NASLibOptimizer: {type(graph).__name__} has none of set_op_indices/set_spec/set_compact")

    def new_epoch(self, epoch: int) -> None:
        """Called by NASLib's ``Trainer`` once per search epoch: evaluate one architecture."""
        if self.optimizer is None:
            raise RuntimeError("NASLibOptimizer.new_epoch: call adapt_search_space first")
        (arch,) = self.optimizer.ask(1)
        graph = self._graph_of(arch)
        start = time.perf_counter()
        valid = float(
            graph.query(_metric("VAL_ACCURACY", self.metric_enum), self.dataset, dataset_api=self.dataset_api)
        )
        trial = self.optimizer.tell(arch, {"valid_acc": valid})
        trial.extra["query_time"] = time.perf_counter() - start
        self.graphs[trial.hash] = graph
        self.latest = trial

    def _query(self, trial: Any, name: str) -> float:
        graph = self.graphs[trial.hash]
        return float(graph.query(_metric(name, self.metric_enum), self.dataset, dataset_api=self.dataset_api))

    def train_statistics(self, report_incumbent: bool = True) -> tuple[float, float, float, float]:
        """Called after each epoch: ``(train_acc, valid_acc, test_acc, train_time)`` of the incumbent (or latest)."""
        trial = self.optimizer.best() if report_incumbent else self.latest
        if trial is None:
            raise RuntimeError("NASLibOptimizer.train_statistics: no architecture evaluated yet")
        return (
            self._query(trial, "TRAIN_ACCURACY"),
            trial.metrics["valid_acc"],
            self._query(trial, "TEST_ACCURACY"),
            self._query(trial, "TRAIN_TIME"),
        )

    def test_statistics(self) -> Any:
        """Called by NASLib's ``Trainer`` for logging: the incumbent's raw benchmark record."""
        return self._query_raw(self.optimizer.best())

    def _query_raw(self, trial: Any) -> Any:
        graph = self.graphs[trial.hash]
        return graph.query(_metric("RAW", self.metric_enum), self.dataset, dataset_api=self.dataset_api)

    def get_final_architecture(self) -> Any:
        """The best architecture found, as a NASLib graph."""
        best = self.optimizer.best()
        if best is None:
            raise RuntimeError("NASLibOptimizer.get_final_architecture: no architecture evaluated yet")
        return self.graphs[best.hash]

    def get_op_optimizer(self) -> None:
        """Black-box optimizer: no weight optimizer."""
        return None

    def get_checkpointables(self) -> dict[str, Any]:
        """``{"model": self}``: NASLib's checkpointer saves :meth:`state_dict`."""
        return {"model": self}

    # ------------------------------------------------------------------ checkpoint state
    def state_dict(self) -> dict[str, Any]:
        """The evaluated architectures and their metrics, as one ``uint8`` array of JSON text.

        NASLib's checkpointer (fvcore's) stores only arrays and tensors, so the JSON list of ``[encoding,
        metrics]`` pairs travels as its UTF-8 bytes.
        """
        family = self.optimizer.family
        trials = [[family.to_json(t.arch), t.metrics] for t in self.optimizer.history]
        return {"trials_json": np.frombuffer(json.dumps(trials).encode("utf-8"), dtype=np.uint8).copy()}

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> None:
        """Re-tell the checkpointed trials (after :meth:`adapt_search_space`).

        Accepts what :meth:`state_dict` wrote, also after the checkpointer turned the array into a tensor, and
        the earlier ``{"trials": [JSON text, ...]}`` form.

        Raises:
            KeyError: With ``strict``, if ``state`` holds neither form (fvcore passes ``strict=False``).
        """
        family = self.optimizer.family
        if "trials_json" in state:
            raw = state["trials_json"]
            raw = raw.cpu().numpy() if hasattr(raw, "cpu") else np.asarray(raw)
            pairs = json.loads(raw.astype(np.uint8).tobytes().decode("utf-8"))
        elif "trials" in state:
            pairs = [json.loads(item) for item in state["trials"]]
        elif strict:
            raise KeyError(f"NASLibOptimizer.load_state_dict: no 'trials_json' in the state (keys: {sorted(state)})")
        else:
            pairs = []
        for encoding, metrics in pairs:
            arch = family.from_json(encoding)
            trial = self.optimizer.tell(arch, metrics)
            self.graphs[trial.hash] = self._graph_of(arch)

    def __repr__(self) -> str:
        return f"NASLibOptimizer({self.optimizer_name!r}, seed={self.seed})"


def naslib_optimizer_class(optimizer: str = "regularized_evolution") -> type:
    """A subclass of NASLib's ``MetaOptimizer`` and :class:`NASLibOptimizer` (needs ``naslib``).

    Raises:
        MissingDependencyError: If NASLib is not importable.
    """
    from gennape_naslib._optional import require

    metaclasses = require("naslib.optimizers.core.metaclasses", "naslib", "NASLib MetaOptimizer integration")

    def __init__(self: Any, config: Any, **overrides: Any) -> None:
        NASLibOptimizer.__init__(self, config, optimizer=optimizer, **overrides)

    return type(f"GENNAPE_{optimizer}", (NASLibOptimizer, metaclasses.MetaOptimizer), {"__init__": __init__})
