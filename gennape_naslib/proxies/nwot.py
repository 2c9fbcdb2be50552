"""``nwot``: "NAS without training" (Mellor et al., ICML 2021), the ReLU-code kernel score.

Every module whose class name contains ``ReLU`` (ReLU, ReLU6, LeakyReLU ...) gets a forward hook on
its *input*: the binary code ``c = (input > 0)`` per image (flattened) adds ``c c^T + (1-c)(1-c)^T``
to an ``N x N`` kernel K (the number of units on which two images agree). The score is
``log|det K|`` (``-inf`` for a singular K, e.g. a network without ReLU modules or whose cells output
zeros). The kernel is collected during the shared Jacobian forward
(:mod:`gennape_naslib.proxies._passes`); input gradients do not change the activations.
"""

from __future__ import annotations

import numpy as np

from gennape_naslib.proxies._passes import jacobian_pass
from gennape_naslib.proxies.base import ProxyInput, ZeroCostProxy, register_proxy


@register_proxy("nwot")
class Nwot(ZeroCostProxy):
    """Log-determinant of the ReLU activation-pattern kernel; higher is better."""

    higher_is_better = True

    def compute(self, item: ProxyInput) -> float:
        _sign, logdet = np.linalg.slogdet(jacobian_pass(item).relu_kernel)
        return float(logdet)
