"""Architecture optimizers behind one ask/tell interface (installed as ``gennape_naslib.optimizers``).

Use :func:`get_optimizer` to build one by name (NASLib's short names such as ``"re"``, ``"bananas"``
work too) and :func:`list_optimizers` to see the choices. See :mod:`gennape_naslib.optimizers.base`.
"""

from __future__ import annotations

from gennape_naslib.optimizers.base import (
    Optimizer,
    SearchSpaceExhausted,
    Trial,
    get_optimizer,
    list_optimizers,
    register_optimizer,
    resolve_optimizer_name,
)

__all__ = [
    "Optimizer",
    "SearchSpaceExhausted",
    "Trial",
    "get_optimizer",
    "list_optimizers",
    "register_optimizer",
    "resolve_optimizer_name",
]
