"""``grad_norm``: the summed per-layer L2 norms of the loss gradient (Abdelfattah et al., 2021).

``score = sum over weighted layers l of ||dL/dW_l||_2`` with L the cross-entropy of the batch at
initialisation (NASLib sums one norm per layer; it is not the norm of the whole gradient).
"""

from __future__ import annotations

from gennape_naslib.proxies._passes import cross_entropy_pass
from gennape_naslib.proxies.base import ProxyInput, ZeroCostProxy, register_proxy


@register_proxy("grad_norm")
class GradNorm(ZeroCostProxy):
    """Sum of the L2 norms of each weighted layer's loss gradient; higher is better."""

    higher_is_better = True

    def compute(self, item: ProxyInput) -> float:
        grads = cross_entropy_pass(item).grads
        return float(sum(float(g.norm()) for g in grads if g is not None))
