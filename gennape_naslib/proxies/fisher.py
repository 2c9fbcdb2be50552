"""``fisher``: channel saliency from the empirical Fisher information (Theis et al., 2018; Turner et al., 2020).

For every Conv2d/Linear output activation ``a`` (after the layer's bias, before any BatchNorm) with
loss gradient ``g = dL/da``: ``s_nk = sum over spatial positions of a * g`` for image n and channel k,
and the channel saliency is ``F_k = 0.5 * mean_n s_nk^2``. As in NASLib, each channel's value is
broadcast to the weights of that channel, so the score is
``sum over layers and output channels of F_k * (C_in/groups * kH * kW)`` (``* in_features`` for a
Linear layer). Computed during the shared cross-entropy pass (:mod:`gennape_naslib.proxies._passes`).
"""

from __future__ import annotations

from gennape_naslib.proxies._passes import cross_entropy_pass
from gennape_naslib.proxies.base import ProxyInput, ZeroCostProxy, register_proxy


@register_proxy("fisher")
class Fisher(ZeroCostProxy):
    """Fisher channel saliency summed over weights; higher is better."""

    higher_is_better = True

    def compute(self, item: ProxyInput) -> float:
        return cross_entropy_pass(item).fisher
