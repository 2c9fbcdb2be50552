"""Where benchmark cells run: in this process, in a local process pool, or on a Ray cluster.

Use :func:`get_executor` to create one by name (``"serial"``, ``"process"``, ``"ray"``).
"""

from __future__ import annotations

import importlib
from typing import Any

from gennape_naslib.execution.base import Executor, progress_bar
from gennape_naslib.execution.local import ProcessExecutor, SerialExecutor

__all__ = ["EXECUTORS", "Executor", "ProcessExecutor", "SerialExecutor", "get_executor", "progress_bar"]

#: Executor names accepted by :func:`get_executor` and ``--executor``.
EXECUTORS = ("serial", "process", "ray")
_CLASSES = {
    "serial": "gennape_naslib.execution.local:SerialExecutor",
    "process": "gennape_naslib.execution.local:ProcessExecutor",
    "ray": "gennape_naslib.execution.ray_executor:RayExecutor",
}


def get_executor(name: str = "process", max_workers: int | None = None, **kwargs: Any) -> Executor:
    """Create an executor by name.

    Args:
        name: ``"serial"``, ``"process"`` (local process pool) or ``"ray"`` (needs the ``[ray]`` extra).
        max_workers: Calls in flight (default: the executor's own default).
        **kwargs: Further constructor arguments of the chosen executor.

    Raises:
        ValueError: For an unknown name.
        MissingDependencyError: For ``"ray"`` without Ray installed.
    """
    if name not in _CLASSES:
        raise ValueError(f"could not resolve executor {name!r} among choices {{{', '.join(EXECUTORS)}}}")
    module, cls = _CLASSES[name].split(":")
    return getattr(importlib.import_module(module), cls)(max_workers, **kwargs)
