"""``zen``: Zen-score (Lin et al., ICCV 2021), the expressivity of the pre-pooling feature map.

1. All Conv2d/Linear weights are redrawn from N(0, 1) (biases 0), BatchNorm affine weights set to 1 and
   biases to 0 (Zen-NAS's Gaussian initialisation), seeded by the proxy seed.
2. Two Gaussian input batches ``x ~ N(0, 1)`` and ``e ~ N(0, 1)`` of the batch's shape; the network
   (train mode) runs on ``x`` and on ``x + 0.01 e``.
3. ``Delta = mean over images of sum over (C, H, W) of |f(x) - f(x + 0.01 e)|`` where ``f`` is the
   feature map before global pooling: the output of the last module (in execution order) that
   returns a 4-D tensor larger than 1x1, which for every family here is the last block before the
   pooling head (1x1 convolutions after the pooling, as in OFA's MobileNetV3 head, are skipped).
4. ``score = log(Delta) + sum over BatchNorm layers of log(sqrt(mean_k running_var_k))``, the BN
   scaling term read, as in Zen-NAS's code, from the running variances after the two forward passes
   (PyTorch's momentum 0.1 from the initial 1, so they never vanish, even for a BN fed zeros).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from gennape_naslib.proxies.base import ProxyInput, ZeroCostProxy, build_network, register_proxy

_MIXUP_GAMMA = 1e-2


def gaussian_init(net: nn.Module, generator: torch.Generator) -> None:
    """Zen-NAS's initialisation: N(0, 1) conv/linear weights, zero biases, identity BatchNorm affine."""
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator))
                if module.bias is not None:
                    module.bias.zero_()
            elif isinstance(module, (nn.modules.batchnorm._BatchNorm, nn.GroupNorm)):
                if module.weight is not None:
                    module.weight.fill_(1.0)
                if module.bias is not None:
                    module.bias.zero_()


@register_proxy("zen")
class Zen(ZeroCostProxy):
    """Zen-score; higher is better."""

    higher_is_better = True

    def compute(self, item: ProxyInput) -> float:
        net = build_network(item)
        generator = torch.Generator().manual_seed(int(item.seed))
        gaussian_init(net, generator)
        shape = tuple(item.inputs.shape)
        x = torch.randn(shape, generator=generator)
        mixed = x + _MIXUP_GAMMA * torch.randn(shape, generator=generator)

        state: dict[str, Any] = {"last": None}

        def feature_hook(_m: nn.Module, _i: Any, output: Any) -> None:
            if isinstance(output, torch.Tensor) and output.dim() == 4 and output.shape[2] * output.shape[3] > 1:
                state["last"] = output.detach()

        handles = [m.register_forward_hook(feature_hook) for m in net.modules() if m is not net]
        try:
            with torch.no_grad():
                net(x)
                feat_x = state["last"]
                net(mixed)
                feat_m = state["last"]
        finally:
            for handle in handles:
                handle.remove()
        if feat_x is None or feat_m is None:
            raise ValueError(f"zen: the {item.family.name} network produced no 4-D feature map to score")
        delta = float((feat_x.double() - feat_m.double()).abs().sum(dim=(1, 2, 3)).mean())
        if delta <= 0.0:
            return float("-inf")
        bn_log = 0.0
        for module in net.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.running_var is not None:
                bn_log += 0.5 * math.log(float(module.running_var.double().mean()))
        return math.log(delta) + bn_log
