"""``synflow``: synaptic flow (Tanaka et al., 2020) as NASLib and Abdelfattah et al. compute it.

1. Every parameter and buffer of the network is replaced by its absolute value, and the network is
   cast to float64.
2. BatchNorm layers are bypassed (identity), NASLib's ``bn=False`` copy: with an all-ones input a
   BatchNorm in train mode would normalise every constant feature map to zero.
3. One all-ones input ``(1, C, H, W)`` goes forward; ``R = sum(output)`` goes backward.
4. ``S = sum over Conv2d/Linear weights w of |w * dR/dw|``.

The reported score is ``log(S)`` (``0`` when ``S == 0``): NAS-Bench-Suite-Zero's published synflow
values are on that scale (e.g. 41.9 for NB-201 cell ``(0, 2, 3, 2, 3, 1)``), and the raw sums
(1e17 and far more) overflow float64 on deep ImageNet networks. The ranking is that of ``S``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gennape_naslib.proxies.base import (
    ProxyInput,
    ZeroCostProxy,
    build_network,
    logits_of,
    register_proxy,
    weighted_layers,
)


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def synflow_sum(net: nn.Module, input_shape: tuple[int, ...]) -> float:
    """The synflow sum ``S`` of ``net`` (modified in place: absolute float64 weights, BN bypassed)."""
    for module in net.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.forward = _identity  # type: ignore[method-assign]
    net.double()
    with torch.no_grad():
        for tensor in net.state_dict().values():
            if tensor.is_floating_point():
                tensor.abs_()
    net.zero_grad()
    output = logits_of(net(torch.ones((1, *input_shape), dtype=torch.float64)))
    output.sum().backward()
    total = 0.0
    for layer in weighted_layers(net):
        if layer.weight.grad is not None:
            total += float((layer.weight.detach() * layer.weight.grad).abs().sum())
    return total


@register_proxy("synflow")
class Synflow(ZeroCostProxy):
    """``log`` of the synaptic-flow sum with an all-ones float64 input; higher is better."""

    higher_is_better = True
    needs_batch = False

    def compute(self, item: ProxyInput) -> float:
        net = build_network(item)
        total = synflow_sum(net, tuple(item.inputs.shape[1:]))
        if total == 0.0:
            return 0.0
        return math.log(total) if math.isfinite(total) else float("inf")
