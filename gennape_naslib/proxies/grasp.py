"""``grasp``: gradient signal preservation (Wang et al., 2020) as NASLib computes it.

With ``g = dL/dW`` (the shared cross-entropy pass, :mod:`gennape_naslib.proxies._passes`) and ``H``
the Hessian of the cross-entropy loss L with respect to the Conv2d/Linear weights, the
Hessian-gradient product ``Hg`` is the gradient of ``z = sum(g.detach() * dL/dW)`` from a second
forward pass with ``create_graph=True``. The score is ``sum over weights of -w * (Hg)_w``. NASLib
negated GraSP's original "remove the top scores" rule because accuracy correlated negatively with
``w * Hg``; with the sign as here higher is better.

PyTorch has no second derivative for ``hardsigmoid``/``hardswish``; for the second pass their modules
compute the same functions as ``clamp(x + 3, 0, 6) / 6`` (times ``x``), which autograd differentiates
twice (OFA MobileNetV3 uses them).
"""

from __future__ import annotations

import torch
from torch import autograd, nn

from gennape_naslib.proxies._passes import cross_entropy_pass
from gennape_naslib.proxies.base import ProxyInput, ZeroCostProxy, logits_of, register_proxy


def _hardsigmoid(x: torch.Tensor) -> torch.Tensor:
    return torch.clamp(x + 3.0, 0.0, 6.0) / 6.0


def _hardswish(x: torch.Tensor) -> torch.Tensor:
    return x * torch.clamp(x + 3.0, 0.0, 6.0) / 6.0


def make_twice_differentiable(net: nn.Module) -> None:
    """Route ``nn.Hardsigmoid``/``nn.Hardswish`` modules of ``net`` through clamp-based equivalents."""
    for module in net.modules():
        if isinstance(module, nn.Hardsigmoid):
            module.forward = _hardsigmoid  # type: ignore[method-assign]
        elif isinstance(module, nn.Hardswish):
            module.forward = _hardswish  # type: ignore[method-assign]


@register_proxy("grasp")
class Grasp(ZeroCostProxy):
    """Summed ``-w * Hg`` over Conv2d/Linear weights; higher is better."""

    higher_is_better = True

    def compute(self, item: ProxyInput) -> float:
        ce = cross_entropy_pass(item)
        net = ce.net
        make_twice_differentiable(net)
        weights = [layer.weight for layer in ce.layers]
        net.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(logits_of(net(item.inputs)), item.targets)
        grad_f = autograd.grad(loss, weights, create_graph=True, allow_unused=True)
        z = None
        for g, f in zip(ce.grads, grad_f):
            if g is not None and f is not None:
                term = (g * f).sum()
                z = term if z is None else z + term
        if z is None or not z.requires_grad:
            return 0.0
        z.backward()
        total = 0.0
        with torch.no_grad():
            for w in weights:
                if w.grad is not None:
                    total += float((-w * w.grad).sum())
        net.zero_grad(set_to_none=True)
        return total
