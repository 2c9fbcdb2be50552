"""The benchmark protocols: plan the cells of a run, compute each cell, persist and resume.

* :class:`~gennape_naslib.evaluation.config.PredictorBenchConfig` (NASLib's protocol): per seed one
  test set and one training sample whose prefixes are the training sets; one cell per method,
  training size and seed. Methods that need no fit (proxies, FLOPs/params) get one cell per seed
  with ``train_size`` 0.
* :class:`~gennape_naslib.evaluation.config.TransferBenchConfig` (GENNAPE's protocol): one cell per
  method and seed: fit on the training families, then for every test family evaluate zero-shot
  and after fine-tuning on its first ``k`` fixed samples (``predictor.finetune`` when the predictor
  has it, else a refit on the training data plus those samples).
* :class:`~gennape_naslib.evaluation.config.ProxyBenchConfig`: one cell per published proxy column
  and per computed proxy and seed.

Cells run through an :class:`~gennape_naslib.execution.Executor`; each finished cell is written to
the run folder at once, so an interrupted run resumes where it stopped (:func:`run_benchmark`).
Labels are used as the table stores them within a family (NASLib reports errors in percent) and as
fractions in the transfer protocol (families differ in units).
"""

from __future__ import annotations

import copy
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from gennape_naslib.evaluation.config import (
    BenchConfig,
    MethodSpec,
    PredictorBenchConfig,
    ProxyBenchConfig,
    TransferBenchConfig,
    config_from_dict,
)
from gennape_naslib.evaluation.metrics import evaluate_predictions, to_fraction
from gennape_naslib.evaluation.results import RunFolder
from gennape_naslib.evaluation.sampling import (
    LoadedTable,
    load_table,
    proxy_rows,
    split_for_seed,
    train_rows,
    transfer_split,
)
from gennape_naslib.predictors.base import BUILTIN_PROXY_NAMES

__all__ = ["KNOWN_PROXIES", "LoadedTable", "load_table", "plan_cells", "run_benchmark", "split_for_seed"]

logger = logging.getLogger(__name__)

#: Column names treated as published zero-cost proxy scores.
KNOWN_PROXIES = BUILTIN_PROXY_NAMES


# ---------------------------------------------------------------------- predictors
def _new_predictor(method: MethodSpec) -> Any:
    """A method's predictor with its params; an unknown hyperparameter is a ValueError naming both."""
    from gennape_naslib.predictors import get_predictor

    try:
        return get_predictor(method.name, **method.params)
    except ValueError as exc:
        raise ValueError(f"method {method.key!r}: {exc}") from None


def _make_predictor(method: MethodSpec, seed: int) -> Any:
    predictor = _new_predictor(method)
    if method.load:
        predictor = _load_predictor(type(predictor), method)
    if "random_state" in predictor.get_params() and "random_state" not in method.params:
        predictor.set_params(random_state=int(seed))
    return predictor


def _load_predictor(cls: type, method: MethodSpec) -> Any:
    """The trained model a method names with ``load`` (``"pretrained"`` or a file), with its params set."""
    if method.load == "pretrained":
        if not hasattr(cls, "pretrained"):
            raise ValueError(f"method {method.key!r}: predictor {method.name!r} has no shipped pretrained model")
        model = cls.pretrained()
    else:
        if not Path(method.load).is_file():
            raise ValueError(f"method {method.key!r}: load={method.load!r} is not a file")
        model = cls.load(method.load)
    if method.params:
        model.set_params(**method.params)
    return model


def _loaded_source(method: MethodSpec) -> str:
    """``pretrained:<sha256 prefix>`` of the model file a method loads (which model produced a row)."""
    import hashlib

    path = Path(method.load)
    if method.load == "pretrained":
        from gennape_naslib.predictors import get_predictor

        module = __import__(type(get_predictor(method.name)).__module__, fromlist=["PRETRAINED"])
        path = Path(getattr(module, "PRETRAINED", ""))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.is_file() else "?"
    return f"loaded:{digest}"


def _predict(predictor: Any, archs: list[Any], family: str) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    raw = predictor.predict(archs, family=family)
    per_arch = (time.perf_counter() - start) / max(len(archs), 1)
    scores = np.asarray(raw, dtype=np.float64)
    if scores.shape != (len(archs),):
        raise ValueError(
            f"predictor {type(predictor).__name__} returned predictions of shape {scores.shape} "
            f"for {len(archs)} architectures; expected ({len(archs)},)"
        )
    if not type(predictor).higher_is_better:
        scores = -scores  # rank metrics read "higher = better"
    return scores, per_arch


def _merge(parts: list[tuple[list[Any], str]]) -> tuple[list[Any], str | None]:
    """One training set from per-family parts: architectures of one family, else computation graphs."""
    families = {family for _, family in parts}
    if len(families) == 1:
        return [a for archs, _ in parts for a in archs], families.pop()
    from gennape_naslib.predictors import as_graphs

    return [g for archs, family in parts for g in as_graphs(archs, family=family)], None


def _row(base: dict[str, Any], y: np.ndarray, scores: np.ndarray, units: str | None, regression: bool) -> dict:
    return {**base, "n_test": int(y.size), **evaluate_predictions(y, scores, units=units, regression=regression)}


def predictor_cell(task: dict[str, Any]) -> dict[str, Any]:
    """One method, training size and seed of the NASLib protocol (runs in a worker)."""
    config = config_from_dict(task["config"])
    assert isinstance(config, PredictorBenchConfig)
    method, seed, size = MethodSpec.from_dict(task["method"]), int(task["seed"]), int(task["train_size"])
    loaded = load_table(config.table)
    test, train_order = split_for_seed(loaded, seed, config.test_size, max(config.train_sizes), config.sampling)
    predictor = _make_predictor(method, seed)
    train = train_order[:size]
    start = time.perf_counter()
    if size:
        predictor.fit(loaded.archs(train), loaded.labels[train], family=loaded.family)
    fit_time = time.perf_counter() - start
    scores, query_time = _predict(predictor, loaded.archs(test), loaded.family)
    y = loaded.labels[test]
    fits = type(predictor).needs_fit
    base = {
        "protocol": "predictors",
        "method": method.key,
        "source": "fit" if fits else "zero-cost",
        "train_families": loaded.spec.name,
        "test_family": loaded.spec.name,
        "train_size": size,
        "seed": seed,
        "n_train": size,
        "fit_time": fit_time,
        "query_time": query_time,
    }
    row = _row(base, y, scores, loaded.units, regression=fits)
    prediction = {
        "part": "",
        "method": method.key,
        "test_family": loaded.spec.name,
        "train_size": size,
        "seed": seed,
        "y_true": y.tolist(),
        "y_pred": scores.tolist(),
    }
    return {"rows": [row], "predictions": [prediction]}


def _transfer_model(method: MethodSpec, seed: int, config: TransferBenchConfig) -> Any:
    model = _make_predictor(method, seed)
    if not type(model).needs_fit and config.proxy_seed is not None and "random_state" in model.get_params():
        model.set_params(random_state=int(config.proxy_seed))
    return model


def _cached_scores(cache: Any, model: Any, table: str, rows: np.ndarray) -> tuple[np.ndarray, float] | None:
    """A proxy's scores from the run's cache, oriented "higher = better" like :func:`_predict`."""
    from gennape_naslib.evaluation.proxy_cache import proxy_identity

    ident = proxy_identity(model)
    if cache is None or ident is None:
        return None
    found = cache.lookup(table, rows, *ident)
    if found is None:
        return None
    scores, seconds = found
    return (scores if type(model).higher_is_better else -scores), seconds


def _label_scale(model: Any) -> float:
    """How many of a model's label units make one accuracy fraction: 100 for a model trained on percent
    accuracies (its stored training-label mean ``y_mean_`` above 1.5, e.g. the shipped GENNAPE model), else 1."""
    from gennape_naslib.predictors._inputs import FRACTION_MAX

    mean = getattr(model, "y_mean_", None)
    return 100.0 if mean is not None and np.isfinite(mean) and float(mean) > FRACTION_MAX else 1.0


def transfer_cell(task: dict[str, Any]) -> dict[str, Any]:
    """One method and seed of GENNAPE's transfer protocol (runs in a worker)."""
    config = config_from_dict(task["config"])
    assert isinstance(config, TransferBenchConfig)
    method, seed = MethodSpec.from_dict(task["method"]), int(task["seed"])
    base_model = _transfer_model(method, seed, config)
    fits = type(base_model).needs_fit
    parts: list[tuple[list[Any], str]] = []
    y_train, fit_time, n_train = np.zeros(0), 0.0, 0
    if fits and not method.load:
        labels = []
        for spec in config.train:
            loaded = load_table(spec)
            rows = train_rows(loaded, seed, config.train_limit)
            parts.append((loaded.archs(rows), loaded.family))
            labels.append(to_fraction(loaded.labels[rows], loaded.units))
        x_train, train_family = _merge(parts)
        y_train = np.concatenate(labels)
        start = time.perf_counter()
        base_model.fit(x_train, y_train, family=train_family)
        fit_time, n_train = time.perf_counter() - start, int(y_train.size)
    source = _loaded_source(method) if method.load else "fit" if fits else "zero-cost"
    # A loaded model is fine-tuned in the units it was trained in and its predictions are read back as
    # fractions (fine-tuning the percent-trained pretrained model on fractions pulls every target ~100x
    # off its training scale); models fitted here are trained on fractions (scale 1).
    scale = _label_scale(base_model) if method.load else 1.0
    cache = None
    if task.get("proxy_cache"):
        from gennape_naslib.evaluation.proxy_cache import ProxyScores

        cache = ProxyScores(task["proxy_cache"])
    train_names = "+".join(s.name for s in config.train)
    rows, predictions = [], []
    for spec in config.test:
        loaded = load_table(spec)
        ft_rows, test_rows = transfer_split(loaded, seed, max(config.shots), config.test_size, config.fixed_test)
        y = to_fraction(loaded.labels[test_rows], loaded.units)
        test_archs = loaded.archs(test_rows)
        fixed_scores = None if fits else _cached_scores(cache, base_model, loaded.spec.name, test_rows)
        for shots in sorted(config.shots):
            model, tune_time = base_model, 0.0
            if not fits and fixed_scores is None:
                fixed_scores = _predict(base_model, test_archs, loaded.family)  # the same for every shot count
            if shots and fits:
                ft = ft_rows[:shots]
                x_ft, y_ft = loaded.archs(ft), to_fraction(loaded.labels[ft], loaded.units)
                start = time.perf_counter()
                if hasattr(base_model, "finetune"):
                    model = copy.deepcopy(base_model).finetune(x_ft, y_ft * scale, family=loaded.family)
                elif method.load:
                    raise ValueError(f"method {method.key!r}: a loaded model needs a finetune method for k-shot")
                else:
                    model = _make_predictor(method, seed)
                    x_all, family = _merge([*parts, (x_ft, loaded.family)])
                    model.fit(x_all, np.concatenate([y_train, y_ft]), family=family)
                tune_time = time.perf_counter() - start
            scores, query_time = (
                fixed_scores if fixed_scores is not None else _predict(model, test_archs, loaded.family)
            )
            scores = scores / scale
            base = {
                "protocol": "transfer",
                "method": method.key,
                "source": source,
                "train_families": "(pretrained)" if method.load else train_names,
                "test_family": spec.name,
                "shots": shots,
                "seed": seed,
                "n_train": None if method.load else n_train + (shots if fits else 0),
                "fit_time": fit_time + tune_time,
                "query_time": query_time,
            }
            rows.append(_row(base, y, scores, "fraction", regression=fits))
            predictions.append(
                {
                    "part": f"{spec.name}|{shots}",
                    "method": method.key,
                    "test_family": spec.name,
                    "shots": shots,
                    "seed": seed,
                    "y_true": y.tolist(),
                    "y_pred": scores.tolist(),
                }
            )
    return {"rows": rows, "predictions": predictions}


def proxy_cell(task: dict[str, Any]) -> dict[str, Any]:
    """One published proxy column, or one computed proxy and seed (runs in a worker)."""
    config = config_from_dict(task["config"])
    assert isinstance(config, ProxyBenchConfig)
    name, source, seed = task["proxy"], task["source"], int(task["seed"])
    loaded = load_table(config.table)
    query_time = float("nan")
    if source == "published":
        values = np.asarray(loaded.table.metric(name), dtype=np.float64)
        rows = np.flatnonzero(~np.isnan(values))
        scores = values[rows]
    else:
        from gennape_naslib.proxies import score

        rows = proxy_rows(loaded, config.n_archs)
        start = time.perf_counter()
        scores = np.asarray(score(name, loaded.family, loaded.archs(rows), seed=seed), dtype=np.float64)
        query_time = (time.perf_counter() - start) / max(rows.size, 1)
        keep = ~np.isnan(scores)
        rows, scores = rows[keep], scores[keep]
    y = loaded.labels[rows]
    base = {
        "protocol": "proxies",
        "method": name,
        "source": source,
        "train_families": "",
        "test_family": loaded.spec.name,
        "seed": seed,
        "n_train": 0,
        "fit_time": 0.0,
        "query_time": query_time,
    }
    row = _row(base, y, scores, loaded.units, regression=False)
    prediction = {"part": "", "method": name, "test_family": loaded.spec.name, "source": source, "seed": seed}
    return {"rows": [row], "predictions": [{**prediction, "y_true": y.tolist(), "y_pred": scores.tolist()}]}


def published_proxies(config: ProxyBenchConfig) -> list[str]:
    """The proxy columns a proxies run evaluates (checked against the table)."""
    loaded = load_table(config.table)
    if config.published is None:
        return [c for c in loaded.table.metric_names if c in KNOWN_PROXIES]
    missing = [c for c in config.published if c not in loaded.table.metric_names]
    if missing:
        raise ValueError(
            f"table {config.table} has no proxy column {missing[0]!r}; columns: {', '.join(loaded.table.metric_names)}"
        )
    return list(config.published)


# ---------------------------------------------------------------------- planning and running
_CELL_FUNCTIONS = {"predictors": predictor_cell, "transfer": transfer_cell, "proxies": proxy_cell}


def _needs_fit(method: MethodSpec) -> bool:
    return bool(type(_new_predictor(method)).needs_fit)


def _check_load(method: MethodSpec) -> None:
    """Fail before the run folder is written when a method's ``load`` gives no model."""
    cls = type(_new_predictor(method))
    if method.load == "pretrained":
        if not hasattr(cls, "pretrained"):
            raise ValueError(f"method {method.key!r}: predictor {method.name!r} has no shipped pretrained model")
    else:
        _load_predictor(cls, method)  # a missing or unreadable file, or params the model does not take


def plan_cells(config: BenchConfig) -> list[tuple[str, dict[str, Any]]]:
    """Every cell of a run as ``(cell id, task)``, checking the data first.

    Raises:
        ValueError: If a table, column, predictor or size does not fit the configuration.
        UnknownPredictorError: If a method name is not registered.
    """
    config.validate()
    doc = config.to_dict()
    cells: list[tuple[str, dict[str, Any]]] = []
    if isinstance(config, PredictorBenchConfig):
        loaded = load_table(config.table)
        split_for_seed(loaded, config.seeds[0], config.test_size, max(config.train_sizes), "uniform")
        for method in config.methods:
            sizes = sorted(set(config.train_sizes)) if _needs_fit(method) else [0]
            m = {"name": method.name, "params": method.params, "label": method.label}
            for size in sizes:
                for seed in config.seeds:
                    task = {"config": doc, "method": m, "train_size": size, "seed": seed}
                    cells.append((f"{method.key}|n={size}|seed={seed}", task))
    elif isinstance(config, TransferBenchConfig):
        for spec in config.train:
            load_table(spec)
        for spec in config.test:
            transfer_split(load_table(spec), config.seeds[0], max(config.shots), config.test_size, config.fixed_test)
        for method in config.methods:
            _needs_fit(method)  # resolves the name early
            if method.load:
                _check_load(method)
            m = {"name": method.name, "params": method.params, "label": method.label, "load": method.load}
            for seed in config.seeds:
                cells.append((f"{method.key}|seed={seed}", {"config": doc, "method": m, "seed": seed}))
    elif isinstance(config, ProxyBenchConfig):
        for name in published_proxies(config):
            cells.append((f"{name}|published|seed=0", {"config": doc, "proxy": name, "source": "published", "seed": 0}))
        if config.computed:
            from gennape_naslib.proxies import get_proxy

            for name in config.computed:
                get_proxy(name)
                for seed in config.seeds:
                    task = {"config": doc, "proxy": name, "source": "computed", "seed": seed}
                    cells.append((f"{name}|computed|seed={seed}", task))
        if not cells:
            raise ValueError(f"proxies config: nothing to evaluate (no proxy columns in {config.table}, none computed)")
    else:
        raise TypeError(f"unknown configuration type {type(config).__name__}")
    return cells


def plan_proxy_tasks(config: TransferBenchConfig, cache: Any) -> list[dict[str, Any]]:
    """Architectures of the test tables whose proxy scores a transfer run still needs.

    One task per (test table, row, proxy seed, batch size) with every zero-cost proxy method of the
    configuration that is missing from ``cache`` (a :class:`~gennape_naslib.evaluation.proxy_cache.ProxyScores`),
    rows in the order of the test sets (union over seeds, first seed first).
    """
    from gennape_naslib.evaluation.proxy_cache import proxy_identity

    groups: dict[tuple[int, int], list[str]] = {}
    for method in config.methods:
        if method.load:
            continue
        for seed in config.seeds:
            ident = proxy_identity(_transfer_model(method, seed, config))
            if ident is not None and ident[0] not in groups.setdefault(ident[1:], []):
                groups[ident[1:]].append(ident[0])
    tasks = []
    for spec in config.test:
        loaded = load_table(spec)
        rows: dict[int, None] = {}
        for seed in config.seeds:
            _, test = transfer_split(loaded, seed, max(config.shots), config.test_size, config.fixed_test)
            rows.update(dict.fromkeys(int(r) for r in test))
        for (seed, batch), names in groups.items():
            table = {"name": loaded.spec.name, "dataset": loaded.spec.dataset, "metric": loaded.spec.metric}
            for row in rows:
                missing = [n for n in names if not cache.has(loaded.spec.name, row, n, seed, batch)]
                if missing:
                    tasks.append({"table": table, "row": row, "names": missing, "seed": seed, "batch_size": batch})
    return tasks


def precompute_proxies(
    config: TransferBenchConfig, out: str | Path, executor: Any, progress: bool | None = None
) -> Path | None:
    """Score the test architectures with the run's zero-cost proxies once, into ``out/proxy_scores.jsonl``.

    Each architecture is scored with all proxies together (shared passes) and appended as soon as it
    finishes, so an interrupted run resumes here. Returns the cache path, or ``None`` when the
    configuration has no zero-cost proxy.
    """
    from gennape_naslib._atomic import drop_torn_line
    from gennape_naslib.evaluation.proxy_cache import CACHE_NAME, ProxyScores, append_record, proxy_task

    path = Path(out) / CACHE_NAME
    drop_torn_line(path)  # a record cut by a kill: appending after it would glue the next record onto it
    tasks = plan_proxy_tasks(config, ProxyScores(path))
    if not tasks:
        return path if path.is_file() else None
    logger.info("computing zero-cost proxies for %d architectures into %s", len(tasks), path)
    executor.map(
        proxy_task,
        tasks,
        progress=progress,
        desc="zero-cost proxies",
        on_result=lambda _index, record: append_record(path, record),
    )
    return path


def _data_info(config: BenchConfig) -> list[dict[str, Any]]:
    specs = [*getattr(config, "train", []), *getattr(config, "test", [])] or [config.table]
    return [load_table(s).info() for s in specs]


def run_benchmark(
    config: BenchConfig,
    out: str | Path,
    executor: Any = None,
    progress: bool | None = None,
    naslib_errors: bool = False,
    render: bool = True,
) -> RunFolder:
    """Run (or resume) a benchmark into folder ``out``.

    Cells already in ``out/results.csv`` are skipped; every other cell is computed through
    ``executor`` and written as soon as it finishes. Then the summary and plots are rendered.

    Args:
        config: A predictors, transfer or proxies configuration.
        out: Run folder (created; an existing one must hold the same configuration).
        executor: An :class:`~gennape_naslib.execution.Executor` (default: a local process pool with
            one worker per CPU, at most one per cell).
        progress: Progress bar (``None``: only on a terminal).
        naslib_errors: Also write NASLib's ``errors.json`` layout (predictors protocol).
        render: Write ``summary.md`` and the plots at the end.

    Returns:
        The run folder.

    Raises:
        ValueError: For a configuration that does not fit the data, or a folder of another run.
        FolderInUseError: If another process is running into ``out`` (an ``OSError``).
    """
    from gennape_naslib._atomic import folder_lock

    cells = plan_cells(config)
    with folder_lock(out, what="benchmark run"):
        folder = RunFolder(out)
        extra = {"data": _data_info(config), "seeds": list(config.seeds), "naslib_errors": bool(naslib_errors)}
        resumed = folder.start(config.to_dict(), extra=extra)
        done = folder.done_cells()
        todo = [(cell, task) for cell, task in cells if cell not in done]
        if resumed:
            logger.info("resuming %s: %d of %d cells done", folder.path, len(cells) - len(todo), len(cells))
        own_executor = executor is None
        if own_executor:
            from gennape_naslib.execution import get_executor

            executor = get_executor("serial" if len(todo) <= 1 else "process", max_workers=None)
            if executor.max_workers and executor.max_workers > len(todo):
                executor.max_workers = max(1, len(todo))

        def persist(index: int, result: dict[str, Any]) -> None:
            folder.record_cell(todo[index][0], result["rows"], result["predictions"])

        try:
            if isinstance(config, TransferBenchConfig) and todo:
                cache_path = precompute_proxies(config, folder.path, executor, progress=progress)
                if cache_path is not None:
                    todo = [(cell, {**task, "proxy_cache": str(cache_path)}) for cell, task in todo]
            executor.map(
                _CELL_FUNCTIONS[config.protocol],
                [task for _, task in todo],
                progress=progress,
                desc=f"bench {config.protocol}",
                on_result=persist,
            )
        finally:
            if own_executor:
                executor.close()
        if render:
            from gennape_naslib.evaluation.report import render_report

            render_report(folder, naslib_errors=naslib_errors)
    return folder
