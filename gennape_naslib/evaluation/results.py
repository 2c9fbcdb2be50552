"""A benchmark run folder: ``metadata.json``, ``results.csv`` and ``predictions.jsonl``.

Each finished *cell* (one method, one setting, one seed; a transfer cell covers every test family
and shot count of one method and seed) is persisted as soon as it finishes: first its predictions
(one JSON line), then its result rows, each group written with a single ``write`` on a file opened
for appending and flushed to disk; a write that fails (a full disk) cuts the file back, so a cell's
rows are recorded whole or not at all. A kill can therefore only leave a truncated last line, which
:class:`RunFolder` drops when it opens the folder again; cells listed in ``results.csv`` are not
recomputed on resume. :func:`~gennape_naslib.evaluation.protocols.run_benchmark` holds a lock on the
folder, so a second run into the same folder is refused instead of recording every cell twice.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import platform
import sys
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from gennape_naslib._atomic import append_text, atomic_write, drop_torn_line
from gennape_naslib.evaluation.metrics import ERROR_METRICS, RANK_METRICS

__all__ = ["RESULT_COLUMNS", "RunFolder", "environment_info"]

#: Columns of ``results.csv``, in order.
RESULT_COLUMNS = (
    "cell",
    "protocol",
    "method",
    "source",
    "train_families",
    "test_family",
    "train_size",
    "shots",
    "seed",
    "n_train",
    "n_test",
    *RANK_METRICS,
    *ERROR_METRICS,
    "fit_time",
    "query_time",
)
_TEXT_COLUMNS = {"cell", "protocol", "method", "source", "train_families", "test_family"}


def environment_info() -> dict[str, Any]:
    """Package versions and a description of this machine, for ``metadata.json``."""
    versions = {}
    for dist in ("gennape-naslib", "numpy", "scipy", "torch", "torch-geometric", "scikit-learn", "ray"):
        try:
            versions[dist] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            continue
    return {
        "versions": versions,
        "python": sys.version.split()[0],
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
        },
    }


def _parse_value(key: str, text: str) -> Any:
    if key in _TEXT_COLUMNS:
        return text
    if text == "":
        return None if key in ("train_size", "shots", "n_train") else float("nan")
    value = float(text)
    return int(value) if key in ("train_size", "shots", "seed", "n_train", "n_test") else value


def _format_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    return str(value)


class RunFolder:
    """The files of one benchmark run.

    Args:
        path: The folder (created by :meth:`start`).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @property
    def metadata_path(self) -> Path:
        return self.path / "metadata.json"

    @property
    def results_path(self) -> Path:
        return self.path / "results.csv"

    @property
    def predictions_path(self) -> Path:
        return self.path / "predictions.jsonl"

    # ------------------------------------------------------------------ metadata
    def start(self, config: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> bool:
        """Create the folder or reopen it for resuming.

        Args:
            config: The run configuration (``BenchConfig.to_dict()``).
            extra: More metadata (data versions, executor ...), refreshed on every start. So are the package
                versions and the machine; a resume under other versions appends them to ``version_changes``
                (``from`` / ``to``), as the earlier rows were computed with the old ones.

        Returns:
            True when resuming an existing run.

        Raises:
            ValueError: If the folder holds a run with a different configuration.
        """
        resuming = self.metadata_path.is_file()
        meta: dict[str, Any] = {}
        if resuming:
            meta = self.metadata()
            if meta.get("config") != json.loads(json.dumps(dict(config))):
                raise ValueError(
                    f"{self.path} holds a run with a different configuration; choose another output folder "
                    "or delete it to start over"
                )
            now = datetime.now(timezone.utc).isoformat(timespec="seconds")
            meta.setdefault("resumed", []).append(now)
        else:
            self.path.mkdir(parents=True, exist_ok=True)
            meta = {"config": dict(config), "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        environment = environment_info()
        before = {k: meta.get(k) for k in ("versions", "python")}
        if resuming and before != {k: environment[k] for k in before}:
            # the rows written so far came from other package versions: keep that on record
            meta.setdefault("version_changes", []).append(
                {"at": now, "from": before, "to": {k: environment[k] for k in before}}
            )
        meta.update(environment)
        meta.update(dict(extra or {}))
        self.write_metadata(meta)
        drop_torn_line(self.results_path)
        drop_torn_line(self.predictions_path)
        return resuming

    def metadata(self) -> dict[str, Any]:
        """The contents of ``metadata.json``.

        Raises:
            FileNotFoundError: If the folder has no ``metadata.json`` (not a run folder).
        """
        if not self.metadata_path.is_file():
            raise FileNotFoundError(2, "not a benchmark run folder (no metadata.json)", str(self.metadata_path))
        try:
            return json.loads(self.metadata_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{self.metadata_path}: not valid JSON ({exc})") from None

    def write_metadata(self, meta: Mapping[str, Any]) -> None:
        """Replace ``metadata.json`` atomically."""
        with atomic_write(self.metadata_path) as handle:
            json.dump(meta, handle, indent=2, default=str)

    # ------------------------------------------------------------------ cells
    def done_cells(self) -> set[str]:
        """Cells that have result rows."""
        return {row["cell"] for row in self.read_results()}

    def record_cell(
        self, cell: str, rows: Iterable[Mapping[str, Any]], predictions: Iterable[Mapping[str, Any]]
    ) -> None:
        """Persist one finished cell: its predictions, then its result rows (each in one append)."""
        lines = "".join(json.dumps({"cell": cell, **p}, allow_nan=True) + "\n" for p in predictions)
        before = self.predictions_path.stat().st_size if self.predictions_path.is_file() else 0
        if lines:
            append_text(self.predictions_path, lines)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=RESULT_COLUMNS, lineterminator="\n", extrasaction="raise")
        if not self.results_path.is_file() or self.results_path.stat().st_size == 0:
            writer.writeheader()
        for row in rows:
            writer.writerow({k: _format_value(row.get(k)) for k in RESULT_COLUMNS} | {"cell": cell})
        try:
            append_text(self.results_path, buffer.getvalue())
        except BaseException:
            if lines:  # the cell is not recorded: take its predictions back, the resumed run writes them again
                with contextlib.suppress(OSError):
                    os.truncate(self.predictions_path, before)
            raise

    def read_results(self) -> list[dict[str, Any]]:
        """Rows of ``results.csv`` with numbers parsed (missing file: no rows)."""
        if not self.results_path.is_file():
            return []
        with self.results_path.open(encoding="utf-8", newline="") as handle:
            text = handle.read()
        if text and not text.endswith("\n"):
            text = text[: text.rfind("\n") + 1]
        rows = []
        for i, raw in enumerate(csv.DictReader(io.StringIO(text))):
            try:
                rows.append({k: _parse_value(k, v) for k, v in raw.items() if k in RESULT_COLUMNS})
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{self.results_path}: row {i + 2}: {exc}") from None
        return rows

    def read_predictions(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Predictions by ``(cell, part)``; the last record wins (a recomputed cell)."""
        out: dict[tuple[str, str], dict[str, Any]] = {}
        if not self.predictions_path.is_file():
            return out
        for line in self.predictions_path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a truncated last line
            out[(record["cell"], record.get("part", ""))] = record
        return out
