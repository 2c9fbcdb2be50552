"""Lazy imports of optional dependencies with actionable error messages."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["MissingDependencyError", "require"]


class MissingDependencyError(ImportError):
    """An optional dependency is needed for the requested feature but is not installed."""


def require(module: str, extra: str | None, feature: str, install: str = "") -> ModuleType:
    """Import ``module`` or fail with a message naming the extra (or the command) that provides it.

    Args:
        module: Dotted module name to import, e.g. ``"onnx"``.
        extra: Name of the ``gennape-naslib`` extra that installs it, e.g. ``"onnx"``; ``None`` for a
            package no extra installs (then ``install`` says how to get it).
        feature: What the caller wanted to do, used in the message.
        install: How to install it, replacing the extra's ``pip install`` line.

    Returns:
        The imported module.

    Raises:
        MissingDependencyError: If the module cannot be imported.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        # installed, but one of its own imports failed: say which, or the advice below looks wrong
        inner = exc.name is not None and exc.name.split(".")[0] != module.split(".")[0]
        state = f"cannot be imported ({exc})" if inner else "is not installed"
        how = install or f"Install it with: pip install 'gennape-naslib[{extra}]'"
        raise MissingDependencyError(
            f"{feature} needs the optional dependency '{module}', which {state}. {how}"
        ) from exc
