"""PyTorch networks of Once-for-All subnets, built from a resolved layer plan (:mod:`._ofa_specs`).

The networks are the static subnets that the official OFA code extracts from its supernets
(``get_active_subnet``): the same layers, channel counts, paddings (``kernel // 2``), activations
(ReLU, ReLU6, hard-swish ``x * relu6(x + 3) / 6``, hard-sigmoid gates), SE modules, ResNet-D style
shortcuts (``AvgPool2d(stride, stride, ceil_mode=True)`` -> 1x1 conv -> BN) and classifier heads
(dropout -> linear). They are written here from those facts; two equivalent simplifications:

* global average pooling is one ``x.mean((2, 3))`` (OFA averages axis 3, then axis 2), so it lowers
  to a single ``mean`` node as TensorFlow's ``reduce_mean`` does in GENNAPE's graphs;
* activations use ``nn.Hardswish`` / ``nn.Hardsigmoid``, which compute exactly OFA's formulas.

Weights are initialised as OFA's ``init_model("he_fout")`` does (conv ``N(0, sqrt(2 / (k*k*C_out)))``,
BN ``1``/``0``, linear ``U(-1/sqrt(C_in), 1/sqrt(C_in))`` with zero bias) unless ``init="torch"``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:  # pragma: no cover
    from gennape_naslib.search_spaces._ofa_specs import BottleneckPlan, MBBlockPlan, MobilePlan, ResNetPlan

__all__ = ["MobileSubnet", "ResNetSubnet", "build_mobile", "build_resnet"]


def _act(kind: str) -> nn.Module:
    if kind == "relu":
        return nn.ReLU()
    if kind == "relu6":
        return nn.ReLU6()
    if kind == "hswish":
        return nn.Hardswish()
    raise ValueError(f"unknown activation {kind!r}")


def _conv(c_in: int, c_out: int, k: int, stride: int = 1, groups: int = 1, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, k, stride, k // 2, groups=groups, bias=bias)


def _conv_bn(c_in: int, c_out: int, k: int, stride: int = 1, act: str | None = None, groups: int = 1) -> nn.Sequential:
    layers: list[nn.Module] = [_conv(c_in, c_out, k, stride, groups), nn.BatchNorm2d(c_out)]
    if act is not None:
        layers.append(_act(act))
    return nn.Sequential(*layers)


class SqueezeExcite(nn.Module):
    """OFA's SE module: mean -> 1x1 conv (bias) -> ReLU -> 1x1 conv (bias) -> h-sigmoid, times the input."""

    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, squeeze, 1, bias=True)
        self.relu = nn.ReLU()
        self.expand = nn.Conv2d(squeeze, channels, 1, bias=True)
        self.gate = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        s = self.gate(self.expand(self.relu(self.reduce(s))))
        return x * s


class MBConv(nn.Module):
    """Mobile inverted bottleneck: [1x1 expand -> BN -> act] -> depthwise -> BN -> act [-> SE] -> 1x1 -> BN."""

    def __init__(self, plan: MBBlockPlan) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        if plan.expand:
            layers.append(_conv_bn(plan.c_in, plan.c_mid, 1, act=plan.act))
        depth: list[nn.Module] = [
            _conv(plan.c_mid, plan.c_mid, plan.kernel, plan.stride, groups=plan.c_mid),
            nn.BatchNorm2d(plan.c_mid),
            _act(plan.act),
        ]
        if plan.se_mid:
            depth.append(SqueezeExcite(plan.c_mid, plan.se_mid))
        layers.append(nn.Sequential(*depth))
        layers.append(_conv_bn(plan.c_mid, plan.c_out, 1))
        self.body = nn.Sequential(*layers)
        self.residual = plan.residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return y + x if self.residual else y


class MobileSubnet(nn.Module):
    """An OFA MobileNetV3 or ProxylessNAS subnet (see :class:`._ofa_specs.MobilePlan`)."""

    def __init__(self, plan: MobilePlan) -> None:
        super().__init__()
        self.first_conv = _conv_bn(3, plan.stem_out, 3, 2, act=plan.stem_act)
        self.blocks = nn.Sequential(*(MBConv(b) for b in plan.blocks))
        c = plan.blocks[-1].c_out
        self.pre_pool = _conv_bn(c, plan.pre_pool[0], 1, act=plan.pre_pool[1])
        c = plan.pre_pool[0]
        self.post_pool: nn.Module | None = None
        if plan.post_pool is not None:
            self.post_pool = nn.Sequential(_conv(c, plan.post_pool[0], 1), _act(plan.post_pool[1]))
            c = plan.post_pool[0]
        self.dropout = nn.Dropout(plan.dropout) if plan.dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(c, plan.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pre_pool(self.blocks(self.first_conv(x)))
        x = x.mean((2, 3), keepdim=True)
        if self.post_pool is not None:
            x = self.post_pool(x)
        return self.classifier(self.dropout(torch.flatten(x, 1)))


class StemResidual(nn.Module):
    """The optional residual 3x3 conv of the ResNet-D stem: ``x + relu(bn(conv(x)))``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = _conv_bn(channels, channels, 3, 1, act="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) + x


class Bottleneck(nn.Module):
    """ResNet bottleneck with OFA's ``avgpool_conv`` downsampling shortcut and a final ReLU."""

    def __init__(self, plan: BottleneckPlan) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv_bn(plan.c_in, plan.c_mid, 1, act="relu"),
            _conv_bn(plan.c_mid, plan.c_mid, 3, plan.stride, act="relu"),
            _conv_bn(plan.c_mid, plan.c_out, 1),
        )
        self.downsample: nn.Module | None = None
        if plan.downsample:
            self.downsample = nn.Sequential(
                nn.AvgPool2d(plan.stride, plan.stride, padding=0, ceil_mode=True),
                _conv_bn(plan.c_in, plan.c_out, 1),
            )
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = self.downsample(x) if self.downsample is not None else x
        return self.act(self.body(x) + shortcut)


class ResNetSubnet(nn.Module):
    """An OFA ResNet-50 subnet (see :class:`._ofa_specs.ResNetPlan`)."""

    def __init__(self, plan: ResNetPlan) -> None:
        super().__init__()
        stem: list[nn.Module] = [_conv_bn(3, plan.stem_mid, 3, 2, act="relu")]
        if plan.stem_residual:
            stem.append(StemResidual(plan.stem_mid))
        stem.append(_conv_bn(plan.stem_mid, plan.stem_out, 3, 1, act="relu"))
        self.input_stem = nn.Sequential(*stem)
        self.max_pool = nn.MaxPool2d(3, 2, padding=1)
        self.blocks = nn.Sequential(*(Bottleneck(b) for b in plan.blocks))
        c = plan.blocks[-1].c_out if plan.blocks else plan.stem_out
        self.dropout = nn.Dropout(plan.dropout) if plan.dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(c, plan.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.max_pool(self.input_stem(x)))
        return self.classifier(self.dropout(x.mean((2, 3))))


def init_he_fout(module: nn.Module) -> None:
    """OFA's ``he_fout`` initialisation, in place."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                m.weight.normal_(0.0, math.sqrt(2.0 / fan_out))
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.fill_(1.0)
                m.bias.zero_()
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.weight.size(1))
                m.weight.uniform_(-bound, bound)
                if m.bias is not None:
                    m.bias.zero_()


def _build(factory: type[nn.Module], plan: MobilePlan | ResNetPlan, init: str) -> nn.Module:
    if init not in ("he_fout", "torch"):
        raise ValueError(f"init must be 'he_fout' or 'torch', got {init!r}")
    if init == "torch":
        return factory(plan)
    # Build on the meta device so that PyTorch's default initialisation is not paid for and then
    # overwritten: only OFA's initialisation touches real memory.
    with torch.device("meta"):
        net = factory(plan)
    net = net.to_empty(device="cpu")
    init_he_fout(net)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
    return net


def build_mobile(plan: MobilePlan, init: str = "he_fout") -> nn.Module:
    """The PyTorch network of a mobile plan, in train mode."""
    return _build(MobileSubnet, plan, init)


def build_resnet(plan: ResNetPlan, init: str = "he_fout") -> nn.Module:
    """The PyTorch network of a ResNet plan, in train mode."""
    return _build(ResNetSubnet, plan, init)
