"""Adapters that let NASLib (automl/NASLib) use gennape-naslib, without depending on it.

Importing this package never imports ``naslib``; :func:`register_with_naslib` does, when asked.
"""

from __future__ import annotations

from gennape_naslib.naslib.optimizers import NASLibOptimizer, naslib_optimizer_class
from gennape_naslib.naslib.predictor import (
    GENNAPENASLibPredictor,
    naslib_available,
    naslib_predictor_class,
    register_with_naslib,
)

__all__ = [
    "GENNAPENASLibPredictor",
    "NASLibOptimizer",
    "naslib_available",
    "naslib_optimizer_class",
    "naslib_predictor_class",
    "register_with_naslib",
]
