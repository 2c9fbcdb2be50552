"""The official NAS-Bench-201 network in PyTorch (imported only when a module is built)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from gennape_naslib.search_spaces._nb201_net import (
    CELLS_PER_STAGE,
    INIT_CHANNELS,
    NUM_STAGES,
    stage_geometry,
)

__all__ = ["NB201Network"]


class _ReLUConvBN(nn.Sequential):
    """ReLU -> Conv2d (no bias) -> BatchNorm2d, the conv op of NAS-Bench-201."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )


class _Zero(nn.Module):
    """The ``none`` op: an all-zero tensor of the input's shape (``x * 0``, as the benchmark computes it)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def _cell_op(name: str, channels: int) -> nn.Module:
    if name == "nor_conv_3x3":
        return _ReLUConvBN(channels, channels, 3)
    if name == "nor_conv_1x1":
        return _ReLUConvBN(channels, channels, 1)
    if name == "avg_pool_3x3":
        # C_in == C_out inside a cell, so the benchmark adds no 1x1 preprocessing conv (and no BN).
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    if name == "skip_connect":
        return nn.Identity()
    if name == "none":
        return _Zero()
    raise ValueError(f"nb201: unknown cell op {name!r}")


class _Cell(nn.Module):
    """The NAS-Bench-201 cell: node_j = sum over i < j of op_ij(node_i); the output is node 3."""

    def __init__(self, ops: Sequence[str], channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(_cell_op(op, channels) for op in ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e01, e02, e12, e03, e13, e23 = self.edges
        n1 = e01(x)
        n2 = e02(x) + e12(n1)
        return e03(x) + e13(n1) + e23(n2)


class _ResidualReduction(nn.Module):
    """The benchmark's reduction block between stages (a ResNet basic block with stride 2).

    Main path ReLU-Conv3x3(stride 2)-BN -> ReLU-Conv3x3-BN; shortcut AvgPool 2x2 (stride 2) ->
    Conv1x1 (no bias, no BN); output = shortcut + main path, with no activation after the sum.
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = _ReLUConvBN(c_in, c_out, 3, stride=2)
        self.conv_b = _ReLUConvBN(c_out, c_out, 3)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, kernel_size=1, stride=1, padding=0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        main = self.conv_b(self.conv_a(x))
        return self.downsample(x) + main


class NB201Network(nn.Module):
    """The NAS-Bench-201 network of one cell (the benchmark's ``TinyNetwork`` with C = 16, N = 5).

    Args:
        ops: Six op names in the arch-string edge order ``0->1, 0->2, 1->2, 0->3, 1->3, 2->3``.
        num_classes: Outputs of the classifier (10 for CIFAR-10, 100 for CIFAR-100, 120 for
            ImageNet16-120).

    ``forward`` returns the logits only (the benchmark's network also returns the pooled features).
    """

    def __init__(self, ops: Sequence[str], num_classes: int = 10) -> None:
        super().__init__()
        c = INIT_CHANNELS
        self.stem = nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        layers: list[nn.Module] = []
        for stage in range(NUM_STAGES):
            c_stage, _ = stage_geometry(stage)
            if stage:
                layers.append(_ResidualReduction(c_stage // 2, c_stage))
            layers.extend(_Cell(ops, c_stage) for _ in range(CELLS_PER_STAGE))
        self.cells = nn.Sequential(*layers)
        c_last, _ = stage_geometry(NUM_STAGES - 1)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_last), nn.ReLU(inplace=False))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_last, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.lastact(self.cells(self.stem(x)))
        out = self.global_pooling(out).flatten(1)
        return self.classifier(out)
