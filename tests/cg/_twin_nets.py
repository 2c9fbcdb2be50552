"""Three small networks written twice, in PyTorch and in Keras, layer for layer.

Used to check that the torch.fx, ONNX and TensorFlow-GraphDef lowerings give the same computation
graph. Padding choices are made so that both frameworks give the same tensor sizes: PyTorch 3x3
convolutions use ``padding=1`` and Keras ``"same"`` (also for stride 2, where TensorFlow pads
asymmetrically but the output size is the same); 1x1 convolutions use no padding. Dropout is left
out because the ONNX exporter removes it and Keras 3 emits no op for it at inference, and no
op is applied twice to the same tensor because the ONNX exporter merges such duplicates.

* ``resnet``: ResNet-18-style, 32x32 input, stages of widths 8/16/32/64 with two basic blocks each,
  stride-2 downsampling with 1x1 projection shortcuts, global average pooling and a dense head;
* ``mbv3``: MobileNetV3-style, a hard-swish stem, two inverted-residual blocks with
  squeeze-and-excitation (hard-sigmoid gate), one with a residual and one with a stride-2 5x5
  depthwise convolution, then a 1x1 head convolution, pooling and a dense layer;
* ``darts``: a DARTS-style cell on two distinct inputs (a stem and a stand-in for the previous
  cell; ReLU-conv-BN preprocessing of both, separable convolutions
  as ReLU -> depthwise -> pointwise -> BN twice, max/avg pooling, a skip connection, additions and
  the concatenation of the intermediate nodes).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

INPUT_HWC = (32, 32, 3)
NAMES = ("resnet", "mbv3", "darts")


# ------------------------------------------------------------------------------------------ PyTorch
class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu2 = nn.ReLU()
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        short = self.short(x) if self.short is not None else x
        return self.relu2(out + short)


class TorchResNet(nn.Module):
    def __init__(self, widths: tuple[int, ...] = (8, 16, 32, 64), classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU())
        blocks, cin = [], widths[0]
        for i, w in enumerate(widths):
            blocks += [_Block(cin, w, 1 if i == 0 else 2), _Block(w, w, 1)]
            cin = w
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.blocks(self.stem(x))), 1))


class _SE(nn.Module):
    def __init__(self, c: int, r: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, r, 1)
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv2d(r, c, 1)
        self.gate = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.fc2(self.relu(self.fc1(self.pool(x)))))


class _MBBlock(nn.Module):
    def __init__(self, cin: int, exp: int, cout: int, k: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, exp, 1, bias=False),
            nn.BatchNorm2d(exp),
            nn.Hardswish(),
            nn.Conv2d(exp, exp, k, stride, k // 2, groups=exp, bias=False),
            nn.BatchNorm2d(exp),
            nn.Hardswish(),
            _SE(exp, exp // 4),
            nn.Conv2d(exp, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return out + x if self.residual else out


class TorchMBV3(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.Hardswish())
        self.blocks = nn.Sequential(_MBBlock(16, 48, 16, 3, 1), _MBBlock(16, 64, 24, 5, 2))
        self.head = nn.Sequential(nn.Conv2d(24, 96, 1, bias=False), nn.BatchNorm2d(96), nn.Hardswish())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(96, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.head(self.blocks(self.stem(x)))), 1))


def _sep_conv(c: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(2):
        layers += [
            nn.ReLU(),
            nn.Conv2d(c, c, 3, 1, 1, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c),
        ]
    return nn.Sequential(*layers)


def _relu_conv_bn(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.ReLU(), nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))


class TorchDarts(nn.Module):
    def __init__(self, stem: int = 16, c: int = 8, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, stem, 3, 1, 1, bias=False), nn.BatchNorm2d(stem))
        self.prev = nn.Sequential(nn.Conv2d(stem, stem, 3, 1, 1, bias=False), nn.BatchNorm2d(stem))
        self.pre0, self.pre1 = _relu_conv_bn(stem, c), _relu_conv_bn(stem, c)
        self.sep_a, self.sep_b, self.sep_c = _sep_conv(c), _sep_conv(c), _sep_conv(c)
        self.max = nn.MaxPool2d(3, 1, 1)
        self.avg = nn.AvgPool2d(3, 1, 1, count_include_pad=False)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(3 * c, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        prev_prev = self.stem(x)
        prev = self.prev(prev_prev)
        s0, s1 = self.pre0(prev_prev), self.pre1(prev)
        n2 = self.sep_a(s0) + self.sep_b(s1)
        n3 = self.max(s0) + n2
        n4 = self.avg(n2) + self.sep_c(n3)
        out = torch.cat([n2, n3, n4], 1)
        return self.fc(torch.flatten(self.pool(out), 1))


def torch_net(name: str) -> nn.Module:
    """The PyTorch twin, in eval mode."""
    net = {"resnet": TorchResNet, "mbv3": TorchMBV3, "darts": TorchDarts}[name]()
    return net.eval()


# -------------------------------------------------------------------------------------------- Keras
def keras_net(name: str) -> Any:
    """The Keras twin of :func:`torch_net` (imports Keras lazily)."""
    import keras

    L = keras.layers
    inp = keras.Input(INPUT_HWC, batch_size=1)

    def conv(x: Any, c: int, k: int, s: int = 1, bias: bool = False) -> Any:
        return L.Conv2D(c, k, s, padding="same" if k > 1 else "valid", use_bias=bias)(x)

    def bn(x: Any) -> Any:
        return L.BatchNormalization()(x)

    def hswish(x: Any) -> Any:
        return L.Activation("hard_swish")(x)

    if name == "resnet":
        x = L.ReLU()(bn(conv(inp, 8, 3)))
        cin = 8
        for i, w in enumerate((8, 16, 32, 64)):
            for stride in (1 if i == 0 else 2, 1):
                out = bn(conv(L.ReLU()(bn(conv(x, w, 3, stride))), w, 3))
                short = bn(conv(x, w, 1, stride)) if stride != 1 or cin != w else x
                x, cin = L.ReLU()(L.Add()([out, short])), w
        y = L.Dense(10)(L.GlobalAveragePooling2D()(x))
    elif name == "mbv3":

        def block(x: Any, cin: int, exp: int, cout: int, k: int, stride: int) -> Any:
            y = hswish(bn(conv(x, exp, 1)))
            y = hswish(bn(L.DepthwiseConv2D(k, stride, padding="same", use_bias=False)(y)))
            s = L.GlobalAveragePooling2D(keepdims=True)(y)
            s = L.Activation("hard_sigmoid")(conv(L.ReLU()(conv(s, exp // 4, 1, bias=True)), exp, 1, bias=True))
            y = bn(conv(L.Multiply()([y, s]), cout, 1))
            return L.Add()([y, x]) if stride == 1 and cin == cout else y

        x = hswish(bn(conv(inp, 16, 3, 2)))
        x = block(block(x, 16, 48, 16, 3, 1), 16, 64, 24, 5, 2)
        x = hswish(bn(conv(x, 96, 1)))
        y = L.Dense(10)(L.GlobalAveragePooling2D()(x))
    elif name == "darts":

        def sep(x: Any, c: int) -> Any:
            for _ in range(2):
                x = bn(L.SeparableConv2D(c, 3, padding="same", use_bias=False)(L.ReLU()(x)))
            return x

        prev_prev = bn(conv(inp, 16, 3))
        prev = bn(conv(prev_prev, 16, 3))
        s0, s1 = bn(conv(L.ReLU()(prev_prev), 8, 1)), bn(conv(L.ReLU()(prev), 8, 1))
        n2 = L.Add()([sep(s0, 8), sep(s1, 8)])
        n3 = L.Add()([L.MaxPooling2D(3, 1, padding="same")(s0), n2])
        n4 = L.Add()([L.AveragePooling2D(3, 1, padding="same")(n2), sep(n3, 8)])
        out = L.Concatenate()([n2, n3, n4])
        y = L.Dense(10)(L.GlobalAveragePooling2D()(out))
    else:
        raise KeyError(name)
    return keras.Model(inp, y, name=name)
