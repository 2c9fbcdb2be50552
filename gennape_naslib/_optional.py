"""Lazy imports of optional dependencies with actionable error messages."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["MissingDependencyError", "require"]


class MissingDependencyError(ImportError):
    """An optional dependency is needed for the requested feature but is not installed."""


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module`` or fail with a message naming the extra that provides it.

    Args:
        module: Dotted module name to import, e.g. ``"onnx"``.
        extra: Name of the ``gennape-naslib`` extra that installs it, e.g. ``"onnx"``.
        feature: What the caller wanted to do, used in the message.

    Returns:
        The imported module.

    Raises:
        MissingDependencyError: If the module cannot be imported.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{feature} needs the optional dependency '{module}', which is not installed. "
            f"Install it with: pip install 'gennape-naslib[{extra}]'"
        ) from exc
