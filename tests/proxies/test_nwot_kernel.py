"""The ReLU-code kernel of nwot: the one-matmul form equals the textbook ``c c^T + (1-c)(1-c)^T``."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gennape_naslib import search_spaces
from gennape_naslib.proxies._passes import jacobian_pass
from gennape_naslib.proxies.base import ProxyInput, build_network
from gennape_naslib.proxies.batch import proxy_batch


def _reference_kernel(item: ProxyInput) -> torch.Tensor:
    """The kernel computed the direct way, in float64, on the same seeded network and batch."""
    net = build_network(item)
    n = item.inputs.shape[0]
    kernel = torch.zeros((n, n), dtype=torch.float64)

    def hook(_module: nn.Module, inputs: Any, _output: Any) -> None:
        codes = (inputs[0].detach().reshape(n, -1) > 0).double()
        kernel.add_(codes @ codes.T + (1.0 - codes) @ (1.0 - codes).T)

    handles = [m.register_forward_hook(hook) for m in net.modules() if "ReLU" in type(m).__name__]
    with torch.no_grad():
        net(item.inputs)
    for handle in handles:
        handle.remove()
    return kernel


def test_relu_kernel_equals_the_two_product_form():
    nb201 = search_spaces.get("nb201")
    arch = nb201.from_str("|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_3x3~1|none~2|")
    inputs, targets = proxy_batch(nb201, arch, batch_size=6, seed=3)
    item = ProxyInput(family=nb201, arch=arch, inputs=inputs, targets=targets, seed=3)
    fast = torch.as_tensor(jacobian_pass(item).relu_kernel)
    reference = _reference_kernel(item)
    assert torch.equal(fast, reference)  # integer counts: exact, not approximately equal
    assert bool((fast.diagonal() == fast.max()).all())  # an image agrees with itself on every unit
