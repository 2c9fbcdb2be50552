"""``l2_norm``: the summed per-layer L2 norms of the initial weights (NAS-Bench-Suite-Zero baseline).

``score = sum over weighted layers l of ||W_l||_2`` at PyTorch's default initialisation; it grows with
the number and width of Conv2d/Linear layers and needs no data.
"""

from __future__ import annotations

import torch

from gennape_naslib.proxies.base import ProxyInput, ZeroCostProxy, build_network, register_proxy, weighted_layers


@register_proxy("l2_norm")
class L2Norm(ZeroCostProxy):
    """Sum of each Conv2d/Linear weight's L2 norm at initialisation; higher is better."""

    higher_is_better = True
    needs_batch = False

    def compute(self, item: ProxyInput) -> float:
        net = build_network(item)
        with torch.no_grad():
            return float(sum(float(layer.weight.norm()) for layer in weighted_layers(net)))
