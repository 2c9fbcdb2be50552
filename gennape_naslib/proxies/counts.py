"""``params`` and ``flops``: the size baselines of NAS-Bench-Suite-Zero, read from the family adapter.

``params`` is the parameter count of ``family.to_module(arch)``; ``flops`` the forward FLOPs of one
input as ``family.flops`` counts them (2 per multiply-accumulate). NASLib reports them in millions;
rankings are the same.
"""

from __future__ import annotations

from gennape_naslib.proxies.base import ProxyInput, ZeroCostProxy, register_proxy


@register_proxy("params")
class Params(ZeroCostProxy):
    """Number of parameters; higher is better (larger networks tend to be more accurate)."""

    higher_is_better = True
    needs_batch = False

    def compute(self, item: ProxyInput) -> float:
        return float(item.family.params(item.arch))


@register_proxy("flops")
class Flops(ZeroCostProxy):
    """Forward FLOPs of one input; higher is better."""

    higher_is_better = True
    needs_batch = False

    def compute(self, item: ProxyInput) -> float:
        return float(item.family.flops(item.arch))
