"""The types shared by the demo runner (:mod:`gennape_naslib.demo`) and its steps.

They live here so that step modules (e.g. :mod:`gennape_naslib._demo_steps`) can import them
without importing the runner, which imports the steps. :mod:`gennape_naslib.demo` re-exports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gennape_naslib.cg.graph import ComputeGraph

__all__ = ["DemoContext", "DemoSkip", "DemoStep", "StepOutput", "StepReport"]


class DemoSkip(Exception):
    """A demo step cannot run here (e.g. an optional dependency is missing); the message says why."""


@dataclass
class DemoContext:
    """What steps share: the output folder, the drawing engine, the graphs built so far and a cache.

    ``cache`` holds objects that several steps use (e.g. the pretrained predictor, loaded once).
    """

    out_dir: Path
    engine: str = "auto"
    graphs: dict[str, ComputeGraph] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepOutput:
    """What a step returns: lines for the summary and the files it wrote."""

    lines: list[str] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class DemoStep:
    """A titled demo step."""

    title: str
    run: Callable[[DemoContext], StepOutput]


@dataclass
class StepReport:
    """How a step went: ``status`` is ``"ok"``, ``"skipped"`` or ``"failed"``.

    ``seconds`` is wall time; ``cpu_seconds`` is the process's CPU time (all threads, not child processes
    such as Graphviz) during the step.
    """

    title: str
    status: str
    seconds: float
    output: StepOutput
    message: str = ""
    cpu_seconds: float = 0.0
