"""Conformance suites shipped with the package, for built-in and third-party extensions.

Run them from your own tests, e.g. ``FamilyContract(get("my_space")).check_all()`` or
``PredictorContract(lambda: MyPredictor(random_state=0)).check_all()``.
"""

from __future__ import annotations

from gennape_naslib.testing.family_contract import FamilyContract
from gennape_naslib.testing.optimizer_contract import OptimizerContract
from gennape_naslib.testing.predictor_contract import PredictorContract

__all__ = ["FamilyContract", "OptimizerContract", "PredictorContract"]
