"""Two reference networks written twice: as PyTorch modules and as :class:`CGBuilder` functions.

The benchmark script (``scripts/bench_cg.py``), the demo and the tests use them to compare the
torch.fx lowering with the direct builder: for every configuration here, ``from_torch(module)`` and
the builder function must give equal computation graphs.

* a ResNet-style network of basic blocks (ResNet-18 with the defaults: 224x224 input, widths
  64-512, two blocks per stage; a small CIFAR-style variant with ``stem="cifar"``);
* a MobileNetV3-Large-style network (15 inverted-residual blocks, squeeze-and-excitation with a
  hard-sigmoid gate, hard-swish activations) after Howard et al., 2019, Table 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from gennape_naslib.cg.builder import CGBuilder
from gennape_naslib.cg.graph import ComputeGraph

__all__ = [
    "MBV3_LARGE",
    "MBBlock",
    "make_divisible",
    "mobilenetv3_cg",
    "mobilenetv3_module",
    "resnet_cg",
    "resnet_module",
]


class MBBlock(NamedTuple):
    """One inverted-residual block: kernel, expanded width, output width, SE, activation, stride."""

    kernel: int
    expand: int
    out: int
    se: bool
    act: str
    stride: int


#: MobileNetV3-Large body (Howard et al., 2019, Table 1).
MBV3_LARGE: tuple[MBBlock, ...] = (
    MBBlock(3, 16, 16, False, "relu", 1),
    MBBlock(3, 64, 24, False, "relu", 2),
    MBBlock(3, 72, 24, False, "relu", 1),
    MBBlock(5, 72, 40, True, "relu", 2),
    MBBlock(5, 120, 40, True, "relu", 1),
    MBBlock(5, 120, 40, True, "relu", 1),
    MBBlock(3, 240, 80, False, "hswish", 2),
    MBBlock(3, 200, 80, False, "hswish", 1),
    MBBlock(3, 184, 80, False, "hswish", 1),
    MBBlock(3, 184, 80, False, "hswish", 1),
    MBBlock(3, 480, 112, True, "hswish", 1),
    MBBlock(3, 672, 112, True, "hswish", 1),
    MBBlock(5, 672, 160, True, "hswish", 2),
    MBBlock(5, 960, 160, True, "hswish", 1),
    MBBlock(5, 960, 160, True, "hswish", 1),
)


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round ``value`` to a multiple of ``divisor`` without going more than 10 % below it (MobileNet rule)."""
    out = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * value else out


# ---------------------------------------------------------------------------------------------- builder side
def resnet_cg(
    input_hwc: Sequence[int] = (224, 224, 3),
    widths: Sequence[int] = (64, 128, 256, 512),
    depths: Sequence[int] = (2, 2, 2, 2),
    num_classes: int = 1000,
    stem: str = "imagenet",
    name: str = "ResNet",
) -> ComputeGraph:
    """Computation graph of :func:`resnet_module` with the same arguments, built directly.

    Args:
        input_hwc: ``(H, W, C)`` of the input.
        widths: Output channels of each stage.
        depths: Basic blocks per stage.
        num_classes: Classifier outputs.
        stem: ``"imagenet"`` (7x7/2 conv + 3x3/2 max pool) or ``"cifar"`` (one 3x3 conv).
        name: Graph name.
    """
    b = CGBuilder(input_hwc, name=name)
    if stem == "imagenet":
        x = b.conv_bn_act(b.input_node, widths[0], 7, 2, 3)
        x = b.pool(x, "max", 3, 2, 1)
    elif stem == "cifar":
        x = b.conv_bn_act(b.input_node, widths[0], 3, 1, 1)
    else:
        raise ValueError(f"stem must be 'imagenet' or 'cifar', got {stem!r}")
    for stage, (width, depth) in enumerate(zip(widths, depths)):
        for i in range(depth):
            stride = 2 if stage > 0 and i == 0 else 1
            y = b.conv_bn_act(x, width, 3, stride, 1)
            y = b.conv_bn(y, width, 3, 1, 1)
            shortcut = x if stride == 1 and b.out_shape(x)[2] == width else b.conv_bn(x, width, 1, stride, 0)
            x = b.relu(b.add(y, shortcut))
    return b.build(b.linear(b.mean(x), num_classes))


def mobilenetv3_cg(
    input_hwc: Sequence[int] = (224, 224, 3),
    blocks: Sequence[MBBlock] = MBV3_LARGE,
    stem_width: int = 16,
    last_width: int = 960,
    head_width: int = 1280,
    num_classes: int = 1000,
    name: str = "MobileNetV3",
) -> ComputeGraph:
    """Computation graph of :func:`mobilenetv3_module` with the same arguments, built directly."""
    b = CGBuilder(input_hwc, name=name)
    x = b.conv_bn_act(b.input_node, stem_width, 3, 2, 1, act="hswish")
    for blk in blocks:
        c_in = b.out_shape(x)[2]
        y = x
        if blk.expand != c_in:
            y = b.conv_bn_act(y, blk.expand, 1, act=blk.act)
        y = b.act(b.bn(b.depthwise(y, blk.kernel, blk.stride, blk.kernel // 2)), blk.act)
        if blk.se:
            y = b.squeeze_excite(y, make_divisible(blk.expand / 4))
        y = b.conv_bn(y, blk.out, 1)
        x = b.add(y, x) if blk.stride == 1 and c_in == blk.out else y
    x = b.conv_bn_act(x, last_width, 1, act="hswish")
    x = b.hswish(b.linear(b.mean(x), head_width))
    return b.build(b.linear(x, num_classes))


# ---------------------------------------------------------------------------------------------- PyTorch side
def _act_module(kind: str) -> Any:
    import torch.nn as nn

    return {"relu": nn.ReLU, "hswish": nn.Hardswish}[kind]()


def resnet_module(
    widths: Sequence[int] = (64, 128, 256, 512),
    depths: Sequence[int] = (2, 2, 2, 2),
    num_classes: int = 1000,
    stem: str = "imagenet",
    in_channels: int = 3,
) -> Any:
    """A ResNet of basic blocks as a ``torch.nn.Module`` (ResNet-18 with the defaults).

    Args:
        widths, depths, num_classes, stem: See :func:`resnet_cg`.
        in_channels: Input channels.
    """
    import torch.nn as nn

    class BasicBlock(nn.Module):
        def __init__(self, c_in: int, c_out: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(c_out)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(c_out)
            if stride != 1 or c_in != c_out:
                self.shortcut: nn.Module = nn.Sequential(
                    nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
                )
            else:
                self.shortcut = nn.Identity()

        def forward(self, x: Any) -> Any:
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + self.shortcut(x))

    class ResNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            if stem == "imagenet":
                self.stem = nn.Sequential(
                    nn.Conv2d(in_channels, widths[0], 7, 2, 3, bias=False),
                    nn.BatchNorm2d(widths[0]),
                    nn.ReLU(inplace=True),
                    nn.MaxPool2d(3, 2, 1),
                )
            elif stem == "cifar":
                self.stem = nn.Sequential(
                    nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False),
                    nn.BatchNorm2d(widths[0]),
                    nn.ReLU(inplace=True),
                )
            else:
                raise ValueError(f"stem must be 'imagenet' or 'cifar', got {stem!r}")
            layers, c_in = [], widths[0]
            for stage, (width, depth) in enumerate(zip(widths, depths)):
                for i in range(depth):
                    layers.append(BasicBlock(c_in, width, 2 if stage > 0 and i == 0 else 1))
                    c_in = width
            self.layers = nn.Sequential(*layers)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(c_in, num_classes)

        def forward(self, x: Any) -> Any:
            x = self.pool(self.layers(self.stem(x)))
            return self.fc(x.flatten(1))

    return ResNet()


def mobilenetv3_module(
    blocks: Sequence[MBBlock] = MBV3_LARGE,
    stem_width: int = 16,
    last_width: int = 960,
    head_width: int = 1280,
    num_classes: int = 1000,
    in_channels: int = 3,
) -> Any:
    """A MobileNetV3-style network as a ``torch.nn.Module`` (MobileNetV3-Large with the defaults)."""
    import torch.nn as nn
    import torch.nn.functional as F

    class SqueezeExcite(nn.Module):
        def __init__(self, channels: int, mid: int) -> None:
            super().__init__()
            self.fc1 = nn.Conv2d(channels, mid, 1)
            self.relu = nn.ReLU(inplace=True)
            self.fc2 = nn.Conv2d(mid, channels, 1)
            self.gate = nn.Hardsigmoid()

        def forward(self, x: Any) -> Any:
            s = F.adaptive_avg_pool2d(x, 1)
            return x * self.gate(self.fc2(self.relu(self.fc1(s))))

    class InvertedResidual(nn.Module):
        def __init__(self, c_in: int, blk: MBBlock) -> None:
            super().__init__()
            layers: list[nn.Module] = []
            if blk.expand != c_in:
                layers += [nn.Conv2d(c_in, blk.expand, 1, bias=False), nn.BatchNorm2d(blk.expand), _act_module(blk.act)]
            layers += [
                nn.Conv2d(
                    blk.expand, blk.expand, blk.kernel, blk.stride, blk.kernel // 2, groups=blk.expand, bias=False
                ),
                nn.BatchNorm2d(blk.expand),
                _act_module(blk.act),
            ]
            if blk.se:
                layers.append(SqueezeExcite(blk.expand, make_divisible(blk.expand / 4)))
            layers += [nn.Conv2d(blk.expand, blk.out, 1, bias=False), nn.BatchNorm2d(blk.out)]
            self.body = nn.Sequential(*layers)
            self.residual = blk.stride == 1 and c_in == blk.out

        def forward(self, x: Any) -> Any:
            y = self.body(x)
            return y + x if self.residual else y

    class MobileNetV3(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, stem_width, 3, 2, 1, bias=False), nn.BatchNorm2d(stem_width), nn.Hardswish()
            )
            body, c_in = [], stem_width
            for blk in blocks:
                body.append(InvertedResidual(c_in, blk))
                c_in = blk.out
            self.body = nn.Sequential(*body)
            self.last = nn.Sequential(
                nn.Conv2d(c_in, last_width, 1, bias=False), nn.BatchNorm2d(last_width), nn.Hardswish()
            )
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.head = nn.Sequential(
                nn.Linear(last_width, head_width), nn.Hardswish(), nn.Linear(head_width, num_classes)
            )

        def forward(self, x: Any) -> Any:
            x = self.pool(self.last(self.body(self.stem(x))))
            return self.head(x.flatten(1))

    return MobileNetV3()
