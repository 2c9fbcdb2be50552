"""Zero-cost proxy scores computed once per architecture and shared by every cell of a run.

Proxies are the slow part of a transfer benchmark on DARTS or MobileNetV3 networks (seconds per
architecture and proxy), and they do not depend on fine-tuning. Before the cells of a transfer run,
:func:`plan_proxy_tasks` lists every (test table, row, proxy seed, batch size) whose scores are
missing from the run folder's ``proxy_scores.jsonl``; :func:`proxy_task` scores one architecture with
all the run's proxies at once (:func:`gennape_naslib.proxies.score_many`, which shares the
cross-entropy and Jacobian passes), and each result is appended as one JSON line as soon as it
finishes, so an interrupted run resumes architecture by architecture. The cells then read their
scores from the file (:class:`ProxyScores`); every score is exactly what
:func:`gennape_naslib.proxies.score` gives for the same proxy, seed and batch size.

Timing: the seconds of a shared pass are charged to the first proxy that needs it (as in
``score_many``), so a proxy's ``query_time`` in a cached run is what it adds to the ones before it
in the method list.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CACHE_NAME", "ProxyScores", "append_record", "proxy_identity", "proxy_task"]

#: File name of the cache inside a run folder.
CACHE_NAME = "proxy_scores.jsonl"


def proxy_identity(predictor: Any) -> tuple[str, int, int] | None:
    """``(proxy name, seed, batch size)`` of a zero-cost proxy predictor; ``None`` for other predictors and
    for proxies averaged over several draws (``draws > 1``: not cached, scored by their own ``predict``)."""
    from gennape_naslib.proxies.predictor import ZeroCostPredictor

    if not isinstance(predictor, ZeroCostPredictor) or int(getattr(predictor, "draws", 1)) != 1:
        return None
    seed = 0 if predictor.random_state is None else int(predictor.random_state)
    return type(predictor).proxy_name, seed, int(predictor.batch_size)


def proxy_task(task: dict[str, Any]) -> dict[str, Any]:
    """Score one architecture with several proxies (runs in a worker); returns the cache record.

    Args:
        task: ``{"table": TableSpec dict, "row": int, "names": [proxy, ...], "seed": int,
            "batch_size": int}``.
    """
    from gennape_naslib.evaluation.config import TableSpec
    from gennape_naslib.evaluation.sampling import load_table
    from gennape_naslib.proxies import score_many

    spec = TableSpec.from_dict(task["table"])
    loaded = load_table(spec)
    row = int(task["row"])
    arch = loaded.archs([row])[0]
    result = score_many(
        list(task["names"]), loaded.family, arch, seed=int(task["seed"]), batch_size=int(task["batch_size"])
    )
    return {
        "table": spec.name,
        "row": row,
        "seed": int(task["seed"]),
        "batch_size": int(task["batch_size"]),
        "scores": {name: [value, seconds] for name, (value, seconds) in result.items()},
    }


def append_record(path: Path, record: dict[str, Any]) -> None:
    """Append one record as a JSON line (whole or not at all, flushed to disk)."""
    from gennape_naslib._atomic import append_text

    append_text(path, json.dumps(record, allow_nan=True) + "\n")


class ProxyScores:
    """The scores in a run folder's ``proxy_scores.jsonl``, looked up by table, row, proxy, seed and batch size.

    Args:
        path: The cache file (a missing file is an empty cache; a truncated last line is ignored).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._scores: dict[tuple[str, int, str, int, int], tuple[float, float]] = {}
        if not self.path.is_file():
            return
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by an interrupted run
            base = (str(record["table"]), int(record["row"]))
            seed, batch = int(record["seed"]), int(record["batch_size"])
            for name, (value, seconds) in record["scores"].items():
                self._scores[(*base, name, seed, batch)] = (float(value), float(seconds))

    def __len__(self) -> int:
        return len(self._scores)

    def has(self, table: str, row: int, name: str, seed: int, batch_size: int) -> bool:
        """Whether the score of one architecture and proxy is cached."""
        return (table, int(row), name, int(seed), int(batch_size)) in self._scores

    def lookup(
        self, table: str, rows: Iterable[int], name: str, seed: int, batch_size: int
    ) -> tuple[np.ndarray, float] | None:
        """Scores of ``rows`` (NaN mapped to NASLib's ``-1e8`` as in ``proxies.score``) and mean seconds.

        Returns:
            ``None`` unless every row is cached.
        """
        from gennape_naslib.proxies.base import as_float_scores

        found = [self._scores.get((table, int(r), name, int(seed), int(batch_size))) for r in rows]
        if not found or any(f is None for f in found):
            return None
        values = as_float_scores([f[0] for f in found if f is not None])
        seconds = [f[1] for f in found if f is not None and not math.isnan(f[1])]
        return values, float(np.mean(seconds)) if seconds else float("nan")
