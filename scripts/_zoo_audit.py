"""What the model-zoo audits (``bench_import_zoo.py``, ``bench_import_keras.py``) share: one process per model.

Each model is measured in a fresh worker process (a crash or a hang costs that model only); the worker
prints its record as one ``RESULT {json}`` line, which :func:`run_workers` reads back.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from collections.abc import Callable, Iterable
from typing import Any

RESULT = "RESULT "


def audit_parser(description: str, models: str, timeout: float) -> argparse.ArgumentParser:
    """The options every audit takes: ``--models``, ``--skip``, ``--timeout``, ``--out``, ``--markdown``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--models", help=f"comma-separated model names (default: {models})")
    parser.add_argument("--skip", default="", help="comma-separated model names to leave out")
    parser.add_argument("--timeout", type=float, default=timeout, help=f"seconds per model (default {timeout:.0f})")
    parser.add_argument("--out", help="append one JSON line per model to this file")
    parser.add_argument("--markdown", help="write the summary table to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # the model a worker process measures
    return parser


def ratio(a: Any, b: Any) -> str:
    """``a / b`` to four decimals, or ``-`` when either count is missing."""
    return f"{a / b:.4f}" if isinstance(a, int) and isinstance(b, int) and b else "-"


def emit(record: dict[str, Any]) -> None:
    """The worker's side: print the record for :func:`run_workers`."""
    print(RESULT + json.dumps(record), flush=True)


def run_workers(
    names: Iterable[str],
    command: Callable[[str], list[str]],
    timeout: float,
    failure: Callable[[str, str | None], dict[str, Any]],
    report: Callable[[dict[str, Any]], str],
    out: str | None = None,
    env: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Run ``command(name)`` for every model and collect the records, in order.

    Args:
        failure: The record of a worker that printed none: ``failure(name, stderr)``, with ``stderr``
            ``None`` after ``timeout`` seconds.
        report: The progress line printed for each record.
        out: Append each record to this JSON-lines file as it arrives.
    """
    rows = []
    for name in names:
        start = time.perf_counter()
        try:
            done = subprocess.run(command(name), capture_output=True, text=True, timeout=timeout, env=env)
            lines = [ln for ln in done.stdout.splitlines() if ln.startswith(RESULT)]
            rec = json.loads(lines[-1][len(RESULT) :]) if lines else failure(name, done.stderr)
        except subprocess.TimeoutExpired:
            rec = failure(name, None)
        rec["wall_s"] = round(time.perf_counter() - start, 1)
        rows.append(rec)
        print(report(rec), flush=True)
        if out:
            with open(out, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(rec) + "\n")
    return rows
