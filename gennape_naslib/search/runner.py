"""Run a configured search into a result folder, resumably.

The folder holds ``metadata.json`` (config, versions, objective), ``trials.jsonl`` (one line per
finished evaluation, appended and flushed to disk the moment it finishes), and, once the budget is
spent, ``summary.md``, ``errors.json`` (NASLib's layout) and plots.

Resuming relies on determinism: an optimizer's proposals depend only on its seed and on what it was
told. A resumed run rebuilds the optimizer with the same seed and replays the search: every
proposal already in ``trials.jsonl`` is told its recorded metrics without being evaluated again,
and evaluation continues where the file ends. So a search killed at any moment loses only the
evaluations in flight, and its final trials equal those of an uninterrupted run of the same seed.
A run holds a lock on its folder (:func:`gennape_naslib._atomic.folder_lock`, released by the kernel
when the process dies), so a second run into the same folder is refused instead of appending every
trial a second time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gennape_naslib._atomic import folder_lock, read_json_lines
from gennape_naslib.search.config import (
    OBJECTIVES,
    SearchConfig,
    ask_batch_size,
    load_checkpoint,
    load_config,
    optimizer_kwargs,
    surrogate_folder,
)
from gennape_naslib.search.objectives import FunctionObjective, Objective, PredictorObjective, TabularObjective

__all__ = ["SearchResult", "build_objective", "read_trials", "run_search"]

logger = logging.getLogger(__name__)
TRIALS_FORMAT = "gennape-naslib.search-trials/1"


@dataclass
class SearchResult:
    """What :func:`run_search` returns.

    Attributes:
        folder: The result folder.
        trials: The trial records (as in ``trials.jsonl``), in tell order.
        optimizer: The optimizer after the search.
        resumed: Number of trials taken from an earlier, interrupted run.
    """

    folder: Path
    trials: list[dict[str, Any]]
    optimizer: Any
    resumed: int = 0


def build_objective(config: SearchConfig, table: Any = None) -> Objective:
    """The objective a config asks for (``search.objective``: tabular, predictor, function or surrogate).

    Args:
        config: The configuration.
        table: A ready :class:`~gennape_naslib.data.BenchmarkTable` to use instead of loading one.

    Raises:
        ValueError: For an unknown objective, keys it lacks, or ``surrogate`` on a family other than nb301.
    """
    search = config.search
    extra = list(search.get("extra_metrics", []))
    for item in search.get("objectives", []) or []:
        name = (
            str(item).partition(":")[0]
            if isinstance(item, str)
            else str(list(dict(item))[0] if isinstance(item, Mapping) else item[0])
        )
        if name in ("flops", "params") and name not in extra:
            extra.append(name)
    kind = config.objective
    if kind == "tabular":
        source = table if table is not None else search.get("table", config.search_space)
        return TabularObjective(source, dataset=None if table is not None else config.dataset, extra_metrics=extra)
    if kind == "predictor":
        if "evaluate" in search:
            raise ValueError("search.evaluate is only used with objective: function")
        return PredictorObjective(
            load_checkpoint(config) if "predictor_checkpoint" in search else search.get("predictor", "flops"),
            config.search_space,
            metric=config.metric,
            extra_metrics=extra,
            predictor_kwargs=search.get("predictor_kwargs"),
        )
    if kind == "function":
        if "evaluate" not in search:
            raise ValueError("objective: function needs search.evaluate: 'module:function' or 'file.py:function'")
        return FunctionObjective(
            search["evaluate"],
            config.search_space,
            executor=str(search.get("executor", "serial")),
            max_parallel=int(search.get("max_parallel", 1)),
            extra_metrics=extra,
        )
    if kind == "surrogate":
        from gennape_naslib.search.surrogates import NB301SurrogateObjective

        if config.search_space != "nb301":  # a SearchConfig made directly skips load_config's check
            raise ValueError(
                f"search.objective 'surrogate' queries the NAS-Bench-301 surrogate models (family nb301); "
                f"family {config.search_space!r} has none"
            )
        model_dir = surrogate_folder(config, "surrogate_dir")
        if model_dir is None:
            raise ValueError("objective: surrogate needs search.surrogate_dir (e.g. nb_models/xgb_v1.0)")
        return NB301SurrogateObjective(
            model_dir,
            runtime_dir=surrogate_folder(config, "runtime_dir"),
            with_noise=search.get("surrogate_noise", False),  # the objective refuses a non-bool
            extra_metrics=extra,
            family=config.search_space,
        )
    raise ValueError(f"search.objective {kind!r} unknown; choices: {', '.join(OBJECTIVES)}")


def read_trials(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The complete trial records of a result folder (a torn last line from a kill is skipped)."""
    return read_json_lines(Path(folder) / "trials.jsonl")


def _check_metrics(optimizer: Any, metrics: Mapping[str, Any], objective: Objective) -> None:
    """Fail early when the objective does not report a metric the optimizer optimises."""
    needed = getattr(optimizer, "objective_names", None) or [optimizer.metric]
    missing = [name for name in needed if name not in metrics]
    if missing:
        raise ValueError(
            f"the {objective.kind} objective reports {sorted(metrics)}, but the optimizer needs {missing}; "
            "set search.metric / search.objectives to reported metrics, or add flops/params to search.extra_metrics"
        )


def _drop_torn_line(path: Path) -> None:
    """Cut a last line left half-written by a kill, so that appended records start on a new line."""
    if not path.is_file():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)


def _versions() -> dict[str, str]:
    import numpy

    from gennape_naslib import __version__

    return {"gennape_naslib": __version__, "numpy": numpy.__version__, "python": platform.python_version()}


def _write_json(path: Path, doc: Any) -> None:
    from gennape_naslib._atomic import atomic_write

    with atomic_write(path, "w") as handle:
        json.dump(doc, handle, indent=2, sort_keys=True, default=str)


def _recorded_identity(meta: Mapping[str, Any]) -> Any:
    """The identity in ``metadata.json``, in today's form for a folder written before identities had
    ``ask_batch``: that is taken from its recorded ``search:`` block (the batch it was run with), and
    ``parallel_batch``, which such identities held in ``search``, is dropped."""
    identity = meta.get("identity")
    search = meta.get("config", {}).get("search")
    if isinstance(identity, dict) and "ask_batch" not in identity and isinstance(search, dict):
        identity = dict(identity)
        if isinstance(identity.get("search"), dict):
            identity["search"] = {k: v for k, v in identity["search"].items() if k != "parallel_batch"}
        batch = ask_batch_size(search)
        if batch != 1:
            identity["ask_batch"] = batch
    return identity


def _without_revision(identity: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in identity.items() if k != "revision"}


def _prepare_folder(folder: Path, config: SearchConfig, objective: Objective, resume: bool) -> None:
    meta_path = folder / "metadata.json"
    if meta_path.is_file():
        old = json.loads(meta_path.read_text())
        if not resume:
            raise FileExistsError(f"{folder} already holds a search; resume it or choose another folder")
        recorded, current = _recorded_identity(old), json.loads(json.dumps(config.identity(), default=str))
        revisions = (recorded.get("revision", 1), current.get("revision", 1)) if isinstance(recorded, dict) else (1, 1)
        if revisions[0] != revisions[1] and _without_revision(recorded) == _without_revision(current):
            raise ValueError(
                f"{folder} was written by another revision of {config.optimizer}'s proposals "
                f"({revisions[0]}, this version makes {revisions[1]}); resuming would "
                "mix two searches: run it into a new folder"
            )
        if recorded != current:
            raise ValueError(
                f"{folder} holds a search with other settings ({recorded}); resuming with {current} would mix "
                "two searches"
            )
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        changed = False
        budget = old.get("config", {}).get("search", {}).get("epochs")
        if budget != config.search.get("epochs"):  # an extended (or shortened) budget: record it
            old.setdefault("budget_changes", []).append({"from": budget, "to": config.search.get("epochs"), "at": now})
            old["config"] = config.to_dict()
            changed = True
        versions = _versions()
        if old.get("versions") != versions:  # trials from here on come from other versions: record it
            old.setdefault("version_changes", []).append({"from": old.get("versions"), "to": versions, "at": now})
            old["versions"] = versions
            changed = True
        if changed:
            _write_json(meta_path, old)
        return
    folder.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": TRIALS_FORMAT,
        "config": config.to_dict(),
        "identity": config.identity(),
        "config_source": config.source,
        "objective": objective.describe(),
        "versions": _versions(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _write_json(meta_path, meta)


def run_search(
    config: SearchConfig | str | os.PathLike[str] | Mapping[str, Any],
    folder: str | os.PathLike[str] | None = None,
    resume: bool = True,
    objective: Objective | None = None,
    table: Any = None,
    report: bool = True,
) -> SearchResult:
    """Run (or resume) a search and write its result folder.

    Args:
        config: A :class:`SearchConfig`, a YAML path or a mapping.
        folder: Result folder (default: ``config.run_dir()``).
        resume: Continue a search found in ``folder``; ``False`` refuses an existing one.
        objective: An objective to use instead of the configured one (e.g. a Python function).
        table: A ready table for the tabular objective (saves loading it once per run).
        report: Write ``summary.md``, ``errors.json`` and plots at the end.

    Returns:
        The :class:`SearchResult`.
    """
    from gennape_naslib.optimizers import get_optimizer

    if not isinstance(config, SearchConfig):
        config = load_config(config)
    folder = Path(folder) if folder is not None else config.run_dir()
    objective = objective or build_objective(config, table=table)
    with contextlib.ExitStack() as stack:
        try:
            # Everything a config can get wrong fails here, before the folder is written: a folder left
            # with the metadata of a failed configuration would refuse the corrected rerun.
            optimizer = get_optimizer(config.optimizer, **optimizer_kwargs(config))
            if config.search.get("initial_archs"):
                optimizer.enqueue(list(config.search["initial_archs"]))
            # one writer per folder: a second run into it would append every trial again
            stack.enter_context(folder_lock(folder, what="search"))
            _prepare_folder(folder, config, objective, resume)
        except BaseException:
            objective.close()
            raise
        trials, resumed = _run_trials(folder, config, optimizer, objective)
        if report:
            from gennape_naslib.search.report import write_report

            write_report(folder, config, trials, objective)
    return SearchResult(folder, trials, optimizer, resumed=resumed)


def _run_trials(
    folder: Path, config: SearchConfig, optimizer: Any, objective: Objective
) -> tuple[list[dict[str, Any]], int]:
    """Replay the trials already in ``folder`` and evaluate the rest of the budget; closes ``objective``.

    Returns:
        The trial records in tell order, and how many of them came from an earlier run.
    """
    try:
        done = {rec["hash"]: rec for rec in read_trials(folder)}
    except BaseException:
        objective.close()
        raise
    resumed = len(done)
    family = optimizer.family
    batch_size = config.ask_batch
    trials: list[dict[str, Any]] = []
    elapsed_before = max((rec.get("elapsed", 0.0) for rec in done.values()), default=0.0)
    start = time.perf_counter()
    path = folder / "trials.jsonl"
    _drop_torn_line(path)
    try:
        with open(path, "a", encoding="utf-8") as sink:
            while len(trials) < config.epochs:
                archs = optimizer.ask(min(batch_size, config.epochs - len(trials)))
                keys = [family.canonical_hash(a) for a in archs]
                records: list[dict[str, Any] | None] = [done.get(k) for k in keys]
                todo = [i for i, rec in enumerate(records) if rec is None]

                def finished(
                    j: int,
                    result: dict[str, Any],
                    todo: list[int] = todo,
                    archs: list[Any] = archs,
                    keys: list[str] = keys,
                    records: list[dict[str, Any] | None] = records,
                ) -> None:
                    i = todo[j]
                    prediction = optimizer.prediction_for(archs[i])
                    rec = {
                        "trial": len(trials) + i,
                        "hash": keys[i],
                        "arch": family.to_json(archs[i]),
                        "arch_str": family.to_str(archs[i]),
                        "objectives": result["metrics"],
                        "predicted_mean": None if prediction is None else prediction[0],
                        "predicted_std": None if prediction is None else prediction[1],
                        "wall_time": result["eval_time"],
                        "elapsed": elapsed_before + time.perf_counter() - start,
                    }
                    records[i] = rec
                    sink.write(json.dumps(rec, sort_keys=True) + "\n")
                    sink.flush()
                    os.fsync(sink.fileno())

                if todo:
                    objective.evaluate_batch([archs[i] for i in todo], on_result=finished)
                for arch, rec in zip(archs, records):
                    assert rec is not None
                    _check_metrics(optimizer, rec["objectives"], objective)
                    optimizer.tell(arch, rec["objectives"])
                    trials.append(rec)
    finally:
        objective.close()
    unused = set(done) - {rec["hash"] for rec in trials}
    if unused:
        logger.warning(
            "%d trials of %s were not proposed again when resuming (non-deterministic setup?)", len(unused), folder
        )
    return trials, min(resumed, len(trials))
