"""Conformance suites shipped with the package, for built-in and third-party extensions.

Run them from your own tests, e.g. ``FamilyContract(get("my_space")).check_all()``.
"""

from __future__ import annotations

from gennape_naslib.testing.family_contract import FamilyContract

__all__ = ["FamilyContract"]
