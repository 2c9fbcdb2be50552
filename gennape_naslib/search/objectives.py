"""What a search measures: tabular look-up, a predictor, or a user function run through an executor.

Every objective maps architectures to metric dictionaries (``{"test_acc_200ep": 94.1, "flops": ...}``)
and evaluates batches with at most ``max_parallel`` evaluations in flight, reporting each finished
one at once (``on_result``) so that the runner can persist it before the next finishes.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DERIVED_METRICS",
    "FunctionObjective",
    "Objective",
    "PredictorObjective",
    "TabularObjective",
    "load_callable",
]

#: Metrics any objective can add from the family adapter when asked for them.
DERIVED_METRICS = ("flops", "params")

ResultCallback = Callable[[int, dict[str, Any]], None]


def _derived(family: Any, arch: Any, names: Sequence[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name in names:
        if name == "flops":
            out["flops"] = float(family.flops(arch))
        elif name == "params":
            out["params"] = float(family.params(arch))
    return out


class Objective(ABC):
    """Turns architectures into metric dictionaries.

    Args:
        family: Family name.
        extra_metrics: Metrics from :data:`DERIVED_METRICS` to add to every result.
    """

    #: Short description for result metadata.
    kind: str = ""

    def __init__(self, family: str, extra_metrics: Sequence[str] = ()) -> None:
        from gennape_naslib.search_spaces import get

        self.family = get(family)
        unknown = [m for m in extra_metrics if m not in DERIVED_METRICS]
        if unknown:
            raise ValueError(f"extra metric(s) {unknown} unknown; derived metrics are {', '.join(DERIVED_METRICS)}")
        self.extra_metrics = list(extra_metrics)

    @abstractmethod
    def evaluate(self, arch: Any) -> dict[str, float]:
        """The metrics of one architecture (called by :meth:`evaluate_batch`, possibly in a worker)."""

    def evaluate_batch(self, archs: Sequence[Any], on_result: ResultCallback | None = None) -> list[dict[str, Any]]:
        """Evaluate ``archs``; call ``on_result(i, result)`` as each finishes; return results in order.

        Each result is ``{"metrics": {...}, "eval_time": seconds}``.
        """
        results = []
        for i, arch in enumerate(archs):
            result = _timed(self.evaluate, arch)
            if on_result is not None:
                on_result(i, result)
            results.append(result)
        return results

    def optimum(self, metric: str, maximize: bool = True) -> float | None:
        """The best value of ``metric`` over the whole space where known (for regret), else ``None``."""
        return None

    def describe(self) -> dict[str, Any]:
        """JSON-compatible description for ``metadata.json``."""
        return {"kind": self.kind, "family": self.family.name, "extra_metrics": self.extra_metrics}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release workers (no-op by default)."""


def _timed(fn: Callable[[Any], Mapping[str, float]], arch: Any) -> dict[str, Any]:
    start = time.perf_counter()
    metrics = fn(arch)
    if not isinstance(metrics, Mapping):
        raise TypeError(f"an evaluation returned {type(metrics).__name__}, expected a dict of metrics")
    return {"metrics": {str(k): float(v) for k, v in metrics.items()}, "eval_time": time.perf_counter() - start}


class TabularObjective(Objective):
    """Look-up in a :class:`~gennape_naslib.data.BenchmarkTable` (e.g. all of NAS-Bench-201).

    Args:
        table: The table, or a table name for :func:`gennape_naslib.data.load`.
        dataset: Dataset of a named table (``"cifar10"``).
        columns: Columns to report (default: all).
        extra_metrics: Derived metrics (``flops``, ``params``) computed by the family adapter.

    Raises:
        KeyError: At evaluation, when the table lacks the architecture.
    """

    kind = "tabular"

    def __init__(
        self,
        table: Any,
        dataset: str | None = None,
        columns: Sequence[str] | None = None,
        extra_metrics: Sequence[str] = (),
    ) -> None:
        if isinstance(table, str):
            table = _load_table(table, dataset)
        super().__init__(table.family, extra_metrics)
        self.table = table
        self.dataset = dataset
        self.columns = list(columns) if columns is not None else table.metric_names
        self._columns = {col: table.metric(col) for col in self.columns}  # KeyError names the columns
        # Exact encodings first: avoids parsing every row into an Arch (seconds for 15,625 rows);
        # equivalent encodings (isomorphic cells) fall back to the table's canonical-hash index.
        self._rows = {}
        for i, enc in enumerate(table.encodings):
            self._rows.setdefault(json.dumps(enc, sort_keys=True), i)

    def evaluate(self, arch: Any) -> dict[str, float]:
        row = self._rows.get(json.dumps(self.family.to_json(arch), sort_keys=True))
        if row is None:
            row = self.table.index_of(arch)
        out = {k: float(col[row]) for k, col in self._columns.items()}
        out.update(_derived(self.family, arch, self.extra_metrics))
        return out

    def optimum(self, metric: str, maximize: bool = True) -> float | None:
        if metric not in self.table.metric_names:
            return None
        column = self.table.metric(metric)
        return float(np.nanmax(column) if maximize else np.nanmin(column))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "table": self.table.name, "dataset": self.dataset, "rows": len(self.table)}


_TABLES: dict[tuple[str, str | None], Any] = {}


def _load_table(name: str, dataset: str | None) -> Any:
    """A packaged or user table, loaded once per process (tables are read-only)."""
    from gennape_naslib.data import load

    key = (name, dataset)
    if key not in _TABLES:
        try:
            _TABLES[key] = load(name, dataset=dataset) if dataset else load(name)
        except KeyError as exc:  # an unknown dataset: the message lists the table's datasets
            raise ValueError(exc.args[0] if exc.args else str(exc)) from None
    return _TABLES[key]


class PredictorObjective(Objective):
    """A predictor's estimate as the metric (predictor-only search, e.g. for families without a table).

    Args:
        predictor: A fitted predictor, or one with ``needs_fit = False`` (FLOPs, proxies), or a
            registry name of such a predictor.
        family: Family name.
        metric: Name under which the prediction is reported.
        extra_metrics: Derived metrics (``flops``, ``params``).
    """

    kind = "predictor"

    def __init__(
        self,
        predictor: Any,
        family: str,
        metric: str = "predicted_acc",
        extra_metrics: Sequence[str] = (),
        predictor_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(family, extra_metrics)
        if isinstance(predictor, str):
            from gennape_naslib.predictors import get_predictor

            predictor = get_predictor(predictor, **dict(predictor_kwargs or {}))
        self.predictor = predictor
        self.metric = metric

    def evaluate(self, arch: Any) -> dict[str, float]:
        value = float(np.asarray(self.predictor.predict([arch], family=self.family.name)).reshape(-1)[0])
        return {self.metric: value, **_derived(self.family, arch, self.extra_metrics)}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "predictor": type(self.predictor).__name__, "metric": self.metric}


def load_callable(spec: str) -> Callable[..., Any]:
    """Import ``"package.module:function"`` or ``"path/to/file.py:function"``.

    Raises:
        ValueError: If ``spec`` has no ``:`` or the attribute is missing or not callable.
    """
    module_name, sep, attr = str(spec).rpartition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"evaluate function {spec!r}: expected 'module:function' or 'file.py:function'")
    if module_name.endswith(".py"):
        path = Path(module_name).resolve()
        if not path.is_file():
            raise ValueError(f"evaluate function {spec!r}: no such file {path}")
        name = f"_gennape_user_{path.stem}_{abs(hash(str(path)))}"
        module = sys.modules.get(name)
        if module is None:
            loader_spec = importlib.util.spec_from_file_location(name, path)
            assert loader_spec is not None and loader_spec.loader is not None
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[name] = module
            loader_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(module_name)
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ValueError(f"evaluate function {spec!r}: {module_name} has no callable {attr!r}")
    return fn


class _EncodedCall:
    """Picklable ``arch -> metrics`` call for worker processes (ships the JSON encoding, not the object)."""

    def __init__(self, fn: Callable[[Any], Mapping[str, float]] | str, family: str) -> None:
        self.fn, self.family = fn, family

    def __call__(self, encoding: Any) -> dict[str, Any]:
        from gennape_naslib.search_spaces import get

        fn = load_callable(self.fn) if isinstance(self.fn, str) else self.fn
        return _timed(fn, get(self.family).from_json(encoding))


class FunctionObjective(Objective):
    """A user function ``evaluate(arch) -> metrics`` (e.g. real training), run through an executor.

    Uses :mod:`gennape_naslib.execution` (``"serial"``, ``"process"`` or ``"ray"``) with at most
    ``max_parallel`` evaluations in flight. For process and Ray executors the function must be
    importable in the workers: give it as ``"module:function"`` or ``"file.py:function"``, or as a
    module-level function.

    Args:
        fn: The function or its import string.
        family: Family name.
        executor: Executor name.
        max_parallel: Upper bound on concurrent evaluations.
        extra_metrics: Derived metrics (``flops``, ``params``) added in this process.
    """

    kind = "function"

    def __init__(
        self,
        fn: Callable[[Any], Mapping[str, float]] | str,
        family: str,
        executor: str = "serial",
        max_parallel: int = 1,
        extra_metrics: Sequence[str] = (),
    ) -> None:
        super().__init__(family, extra_metrics)
        if int(max_parallel) < 1:
            raise ValueError(f"max_parallel must be >= 1, got {max_parallel}")
        self.fn = fn
        self.executor_name = executor
        self.max_parallel = int(max_parallel)
        self._executor: Any = None

    def _get_executor(self) -> Any:
        if self._executor is None:
            from gennape_naslib.execution import get_executor

            self._executor = get_executor(self.executor_name, max_workers=self.max_parallel)
        return self._executor

    def evaluate(self, arch: Any) -> dict[str, float]:
        fn = load_callable(self.fn) if isinstance(self.fn, str) else self.fn
        metrics = dict(fn(arch))
        metrics.update(_derived(self.family, arch, self.extra_metrics))
        return metrics

    def evaluate_batch(self, archs: Sequence[Any], on_result: ResultCallback | None = None) -> list[dict[str, Any]]:
        call = _EncodedCall(self.fn, self.family.name)
        archs = list(archs)

        def done(index: int, result: dict[str, Any]) -> None:
            result["metrics"].update(_derived(self.family, archs[index], self.extra_metrics))
            if on_result is not None:
                on_result(index, result)

        encodings = [self.family.to_json(a) for a in archs]
        return self._get_executor().map(call, encodings, progress=False, on_result=done)

    def describe(self) -> dict[str, Any]:
        name = (
            self.fn
            if isinstance(self.fn, str)
            else f"{getattr(self.fn, '__module__', '?')}:{getattr(self.fn, '__qualname__', '?')}"
        )
        return {
            **super().describe(),
            "function": name,
            "executor": self.executor_name,
            "max_parallel": self.max_parallel,
        }

    def close(self) -> None:
        if self._executor is not None:
            self._executor.close()
            self._executor = None


def finite(value: Any) -> bool:
    """Whether ``value`` is a finite number."""
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
