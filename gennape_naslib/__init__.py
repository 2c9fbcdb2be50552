"""gennape-naslib: GENNAPE neural architecture performance estimators for the NASLib ecosystem.

Importing the package has no side effects: no directories are created, no optional dependency is
imported and no logging handler is installed beyond a :class:`logging.NullHandler`.
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["__version__"]
