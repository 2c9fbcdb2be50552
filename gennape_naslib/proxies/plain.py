"""``plain``: the signed first-order saliency ``sum over weights w of w * dL/dw`` (Mozer & Smolensky).

NAS-Bench-Suite-Zero keeps it as a baseline; its correlation with accuracy on NAS-Bench-201 is
negative (about -0.26 on CIFAR-10) even though, as in NASLib, a higher score is read as better.
"""

from __future__ import annotations

from gennape_naslib.proxies._passes import cross_entropy_pass
from gennape_naslib.proxies.base import ProxyInput, ZeroCostProxy, register_proxy


@register_proxy("plain")
class Plain(ZeroCostProxy):
    """Summed ``w * dL/dw`` (signed) over Conv2d/Linear weights; declared higher-is-better as in NASLib."""

    higher_is_better = True

    def compute(self, item: ProxyInput) -> float:
        ce = cross_entropy_pass(item)
        pairs = zip(ce.layers, ce.grads)
        return float(sum(float((layer.weight.detach() * g).sum()) for layer, g in pairs if g is not None))
