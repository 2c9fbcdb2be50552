"""PyTorch modules of the NAS-Bench-101 network (imported lazily: this module imports torch).

The structure is read off :class:`~gennape_naslib.search_spaces._nb101_net.CellPlan` objects; see
:mod:`gennape_naslib.search_spaces.nb101` for the network description.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from gennape_naslib.search_spaces._nb101_net import BN_EPS, BN_MOMENTUM, KERNEL, CellPlan, NetConfig

__all__ = ["ConvBnRelu", "NB101Cell", "NB101Network"]


class ConvBnRelu(nn.Sequential):
    """``k x k`` convolution ("same" padding, stride 1, no bias) -> batch norm -> ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel: int) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out, eps=BN_EPS, momentum=BN_MOMENTUM),
            nn.ReLU(),
        )


class NB101Cell(nn.Module):
    """One NAS-Bench-101 module (cell) executing a :class:`CellPlan`.

    Args:
        plan: Channels and connectivity of the cell.
        ops: The pruned cell's op names (``"input"``, ..., ``"output"``).
    """

    def __init__(self, plan: CellPlan, ops: Sequence[str]) -> None:
        super().__init__()
        self.plan = plan
        n = len(ops)
        ch = plan.channels
        self.proj = nn.ModuleDict()
        self.vertex = nn.ModuleDict()
        for t in range(1, n - 1):
            if plan.projected[t]:
                self.proj[str(t)] = ConvBnRelu(ch[0], ch[t], 1)
            if ops[t] in KERNEL:
                self.vertex[str(t)] = ConvBnRelu(ch[t], ch[t], KERNEL[ops[t]])
            else:
                self.vertex[str(t)] = nn.MaxPool2d(3, stride=1, padding=1)
        if plan.projected[n - 1]:
            self.proj[str(n - 1)] = ConvBnRelu(ch[0], ch[n - 1], 1)
        self.n = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        plan, n = self.plan, self.n
        ch = plan.channels
        states = [x]
        for t in range(1, n - 1):
            summands = []
            for s in plan.inputs[t]:
                y = states[s]
                summands.append(y[:, : ch[t]] if ch[s] > ch[t] else y)
            if plan.projected[t]:
                summands.append(self.proj[str(t)](x))
            acc = summands[0]
            for y in summands[1:]:
                acc = acc + y
            states.append(self.vertex[str(t)](acc))
        if not plan.concat:
            return self.proj[str(n - 1)](x)
        outs = [states[t] for t in plan.concat]
        out = outs[0] if len(outs) == 1 else torch.cat(outs, 1)
        if plan.projected[n - 1]:
            out = out + self.proj[str(n - 1)](x)
        return out


class NB101Network(nn.Module):
    """The NAS-Bench-101 network: stem, stacks of cells separated by max-pools, global pool, dense.

    Args:
        plans: Per cell, its plan and whether a 2x2 max-pool (stride 2) precedes it.
        ops: The pruned cell's op names.
        cfg: The macro skeleton.
        tf_init: Re-initialise as the official TensorFlow builder does.
    """

    def __init__(
        self, plans: Sequence[tuple[CellPlan, bool]], ops: Sequence[str], cfg: NetConfig, tf_init: bool = True
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [ConvBnRelu(cfg.input_hwc[2], cfg.stem_channels, 3)]
        c = cfg.stem_channels
        for plan, pooled in plans:
            if pooled:
                layers.append(nn.MaxPool2d(2, stride=2))
            layers.append(NB101Cell(plan, ops))
            c = plan.channels[-1]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c, cfg.num_classes)
        if tf_init:
            self.reset_parameters_tf()

    @torch.no_grad()
    def reset_parameters_tf(self) -> None:
        """TF initialisers of the official builder: variance scaling (fan-in, truncated normal) for
        convolutions, Glorot uniform for the dense kernel, zero biases, BN scale 1 and shift 0."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
                # TF's truncated normal rescales so that the truncated distribution has this std.
                std = math.sqrt(1.0 / fan_in) / 0.87962566103423978
                nn.init.trunc_normal_(m.weight, 0.0, std, -2 * std, 2 * std)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean((2, 3)))
