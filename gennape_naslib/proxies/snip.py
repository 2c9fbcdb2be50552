"""``snip``: connection sensitivity (Lee et al., 2019) summed over the network.

``score = sum over weights w of |w * dL/dw|``: the magnitude of the loss gradient with respect to a
multiplicative mask of ones on every weighted layer's weight, which equals ``|w * dL/dw|``.
"""

from __future__ import annotations

from gennape_naslib.proxies._passes import cross_entropy_pass
from gennape_naslib.proxies.base import ProxyInput, ZeroCostProxy, register_proxy


@register_proxy("snip")
class Snip(ZeroCostProxy):
    """Summed ``|w * dL/dw|`` over Conv2d/Linear weights; higher is better."""

    higher_is_better = True

    def compute(self, item: ProxyInput) -> float:
        ce = cross_entropy_pass(item)
        pairs = zip(ce.layers, ce.grads)
        return float(sum(float((layer.weight.detach() * g).abs().sum()) for layer, g in pairs if g is not None))
