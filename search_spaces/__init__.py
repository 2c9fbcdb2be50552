"""Architecture families behind one :class:`FamilyAdapter` interface (installed as ``gennape_naslib.search_spaces``).

Use :func:`get` to obtain a family's adapter by name and :func:`list_families` to see the choices.
Family modules are imported on first use only.
"""

from __future__ import annotations

from gennape_naslib.search_spaces.base import (
    ArchValidationError,
    FamilyAdapter,
    UnknownFamilyError,
    as_rng,
    family_of,
    get,
    list_families,
    register_family,
)

__all__ = [
    "ArchValidationError",
    "FamilyAdapter",
    "UnknownFamilyError",
    "as_rng",
    "family_of",
    "get",
    "list_families",
    "register_family",
]
