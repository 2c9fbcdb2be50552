"""Forward/backward passes that several proxies read, computed once per scored item.

Scoring one architecture with several proxies (:func:`gennape_naslib.proxies.score_many`) reuses:

* :func:`cross_entropy_pass`: one forward of the batch and one backward of the cross-entropy loss,
  giving every weighted layer's ``dL/dW`` (grad_norm, snip, plain, and GraSP's first gradient) and
  the Fisher channel saliencies (hooks on the Conv2d/Linear outputs during the same pass);
* :func:`jacobian_pass`: one forward of the batch with input gradients, giving the input Jacobian of
  the summed logits (jacov, epe_nas) and the ReLU-code kernel (nwot, hooks on the same forward).

Each proxy run alone computes the same pass on the same seeded network and batch, so scores do not
depend on which other proxies are computed. Results are cached in ``item.cache``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from gennape_naslib.proxies.base import ProxyInput, build_network, logits_of, weighted_layers


@dataclass
class CrossEntropyPass:
    """The network after one cross-entropy backward, with a snapshot of the weight gradients.

    Attributes:
        net: The seeded network (its ``.grad`` fields may be changed by later users; read ``grads``).
        layers: Its Conv2d/Linear layers in ``modules()`` order.
        grads: ``dL/dW`` of each layer (``None`` where the weight does not reach the loss).
        fisher: The Fisher score (see :mod:`gennape_naslib.proxies.fisher`).
    """

    net: nn.Module
    layers: list[nn.Module]
    grads: list[torch.Tensor | None]
    fisher: float


@dataclass
class JacobianPass:
    """Input Jacobian and ReLU-code kernel of one forward.

    Attributes:
        jacobians: ``d(sum of logits)/d(input)`` per image, ``(N, C*H*W)`` float64.
        n_classes: Width of the network's output.
        relu_kernel: ``(N, N)`` float64 kernel of nwot (zeros if the network has no ReLU module).
    """

    jacobians: np.ndarray
    n_classes: int
    relu_kernel: np.ndarray


def cross_entropy_pass(item: ProxyInput) -> CrossEntropyPass:
    """Forward the batch, backward the cross-entropy loss, and collect gradients and Fisher saliency."""
    cached = item.cache.get("cross_entropy")
    if cached is not None:
        return cached
    net = build_network(item)
    layers = list(weighted_layers(net))
    fisher_terms: list[torch.Tensor] = []

    def forward_hook(module: nn.Module, _inputs: Any, output: Any) -> None:
        if not isinstance(output, torch.Tensor) or not output.requires_grad:
            return
        act = output.detach().clone()
        fan = float(module.weight[0].numel())

        def backward_hook(grad: torch.Tensor) -> None:
            prod = act * grad
            s = prod.sum(dim=tuple(range(2, prod.dim()))) if prod.dim() > 2 else prod
            fisher_terms.append(0.5 * s.pow(2).mean(0).abs().sum().double() * fan)

        output.register_hook(backward_hook)

    handles = [layer.register_forward_hook(forward_hook) for layer in layers]
    try:
        net.zero_grad()
        loss = nn.functional.cross_entropy(logits_of(net(item.inputs)), item.targets)
        loss.backward()
    finally:
        for handle in handles:
            handle.remove()
    grads = [None if layer.weight.grad is None else layer.weight.grad.detach().clone() for layer in layers]
    result = CrossEntropyPass(net=net, layers=layers, grads=grads, fisher=float(sum(float(t) for t in fisher_terms)))
    item.cache["cross_entropy"] = result
    return result


def jacobian_pass(item: ProxyInput) -> JacobianPass:
    """Forward the batch with input gradients, backward ``ones``, and collect the ReLU-code kernel."""
    cached = item.cache.get("jacobian")
    if cached is not None:
        return cached
    net = build_network(item)
    n = item.inputs.shape[0]
    kernel = torch.zeros((n, n), dtype=torch.float64)

    def relu_hook(_module: nn.Module, inputs: Any, _output: Any) -> None:
        # c c^T + (1-c)(1-c)^T = 2 c c^T - r 1^T - 1 r^T + D (r: row sums): one matmul instead of two.
        # The entries are integer counts below 2**24, so float32 products and sums are exact.
        codes = (inputs[0].detach().reshape(n, -1) > 0).float()
        width = codes.shape[1]
        if width >= 2**24:
            codes64 = codes.double()
            kernel.add_(codes64 @ codes64.T).add_((1.0 - codes64) @ (1.0 - codes64).T)
            return
        ones = codes.sum(dim=1, dtype=torch.float64)
        agree = 2.0 * (codes @ codes.T).double() - ones[:, None] - ones[None, :] + float(width)
        kernel.add_(agree)

    handles = [m.register_forward_hook(relu_hook) for m in net.modules() if "ReLU" in type(m).__name__]
    try:
        net.zero_grad()
        x = item.inputs.clone().requires_grad_(True)
        y = logits_of(net(x))
    finally:
        for handle in handles:
            handle.remove()
    y.backward(torch.ones_like(y))
    assert x.grad is not None
    result = JacobianPass(
        jacobians=x.grad.detach().reshape(n, -1).double().numpy(),
        n_classes=int(y.shape[-1]),
        relu_kernel=kernel.numpy(),
    )
    item.cache["jacobian"] = result
    return result
