"""``nwot``: "NAS without training" (Mellor et al., ICML 2021), the ReLU-code kernel score.

Every module whose class name contains ``ReLU`` (ReLU, ReLU6, LeakyReLU ...) gets a forward hook on
its *input*: the binary code ``c = (input > 0)`` per image (flattened) adds ``c c^T + (1-c)(1-c)^T``
to an ``N x N`` kernel K (the number of units on which two images agree). The score is
``log|det K|`` (``-inf`` for a singular K, e.g. a network without ReLU modules or whose cells output
zeros). The kernel is collected during the shared Jacobian forward
(:mod:`gennape_naslib.proxies._passes`); input gradients do not change the activations.

The class-name test is the original code's. It also matches the families' own ReLU-Conv-BN wrapper modules
(``_ReLUConvBN`` of NB-201, ``ReLUConvBN`` of the DARTS ops), whose input is the input of the ``nn.ReLU`` inside
them, so those activation codes enter K twice. An audit (2026-12-01) measured the effect on 30 NB-201 cells of the
NAS-Bench-Suite-Zero sample: scores about 4 % above the published ones (mean absolute gap 17.3, against 4.6 when only
``torch.nn`` activation modules are hooked), with an unchanged ranking (Spearman 1.0 between the two rules;
0.996 with the published scores). The documented results were computed with this rule, so it is kept.
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
