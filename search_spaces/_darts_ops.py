"""The DARTS evaluation network (CIFAR) that NAS-Bench-301 trained, in PyTorch.

Private helper of :mod:`gennape_naslib.search_spaces.nb301`; the adapter validates genotypes before
they reach this module. The network follows the official DARTS evaluation code as a set of facts
(GENNAPE_FACTS 3.3 and decision 3); the structure is:

* stem: ``conv3x3(3 -> 3C, pad 1, no bias) -> BN``; its output is both inputs of the first cell;
* ``layers`` cells; cells ``layers // 3`` and ``2 * layers // 3`` are reduction cells, where the
  cell width ``C`` doubles; a cell outputs ``len(concat) * C`` channels;
* cell preprocessing: ``s0`` by :class:`FactorizedReduce` when the previous cell reduced, else by
  ``ReLU -> conv1x1 -> BN``; ``s1`` by ``ReLU -> conv1x1 -> BN``;
* every intermediate node adds its two ops; ops on a cell input of a reduction cell have stride 2;
* head: global average pooling, flatten, ``Linear`` (with bias); an optional auxiliary head
  (``ReLU, avgpool 5/3, conv1x1 128 + BN + ReLU, conv2x2 768 + BN + ReLU, Linear``) after cell
  ``2 * layers // 3``;
* drop-path is off unless ``drop_path_prob > 0`` and the module is training (never on identities).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["DartsNetwork", "make_op"]


class ReLUConvBN(nn.Module):
    """``ReLU -> conv k x k (no bias) -> BN``."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class FactorizedReduce(nn.Module):
    """``ReLU`` then two stride-2 1x1 convs (the second on the input shifted by one pixel), concat, BN."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce needs an even number of output channels, got {c_out}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, padding=0, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, padding=0, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


class SepConv(nn.Module):
    """Two halves of ``ReLU -> depthwise k x k -> pointwise -> BN``; only the first may have stride."""

    def __init__(self, c: int, kernel: int, stride: int) -> None:
        super().__init__()
        pad = kernel // 2
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, kernel, stride=stride, padding=pad, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, kernel, stride=1, padding=pad, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class DilConv(nn.Module):
    """``ReLU -> depthwise k x k (dilation 2) -> pointwise -> BN``."""

    def __init__(self, c: int, kernel: int, stride: int) -> None:
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, kernel, stride=stride, padding=kernel - 1, dilation=2, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Zero(nn.Module):
    """The ``none`` op of the DARTS supernet (not part of NAS-Bench-301): zeros, subsampled by ``stride``."""

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


def make_op(name: str, c: int, stride: int) -> nn.Module:
    """The module of DARTS op ``name`` on ``c`` channels with ``stride``."""
    if name == "max_pool_3x3":
        return nn.MaxPool2d(3, stride=stride, padding=1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c)
    if name in ("sep_conv_3x3", "sep_conv_5x5"):
        return SepConv(c, int(name[-1]), stride)
    if name in ("dil_conv_3x3", "dil_conv_5x5"):
        return DilConv(c, int(name[-1]), stride)
    if name == "none":
        return Zero(stride)
    raise ValueError(f"unknown DARTS op {name!r}")


def _drop_path(x: torch.Tensor, drop_prob: float) -> torch.Tensor:
    keep = 1.0 - drop_prob
    mask = torch.empty(x.size(0), 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep)
    return x.div(keep).mul(mask)


class EvalCell(nn.Module):
    """One DARTS evaluation cell.

    Args:
        pairs: The genotype's ``(op, input)`` pairs, two per intermediate node.
        concat: Indices of the states concatenated into the cell output.
        c_prev_prev, c_prev: Channels of the two cell inputs.
        c: Cell width.
        reduction: Whether this cell halves the resolution.
        reduction_prev: Whether the previous cell did (``s0`` is then twice as large).
    """

    def __init__(
        self,
        pairs: Sequence[tuple[str, int]],
        concat: Sequence[int],
        c_prev_prev: int,
        c_prev: int,
        c: int,
        reduction: bool,
        reduction_prev: bool,
    ) -> None:
        super().__init__()
        self.reduction = reduction
        if reduction_prev:
            self.preprocess0: nn.Module = FactorizedReduce(c_prev_prev, c)
        else:
            self.preprocess0 = ReLUConvBN(c_prev_prev, c, 1, 1, 0)
        self.preprocess1 = ReLUConvBN(c_prev, c, 1, 1, 0)
        self.indices = tuple(int(i) for _, i in pairs)
        self.concat = tuple(int(i) for i in concat)
        self.steps = len(pairs) // 2
        self.multiplier = len(self.concat)
        self.drop_path_prob = 0.0
        self._ops = nn.ModuleList(make_op(name, c, 2 if reduction and index < 2 else 1) for name, index in pairs)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for i in range(self.steps):
            hs = []
            for j in (2 * i, 2 * i + 1):
                op = self._ops[j]
                h = op(states[self.indices[j]])
                if self.training and self.drop_path_prob > 0 and not isinstance(op, nn.Identity):
                    h = _drop_path(h, self.drop_path_prob)
                hs.append(h)
            states.append(hs[0] + hs[1])
        return torch.cat([states[i] for i in self.concat], dim=1)


class AuxiliaryHeadCIFAR(nn.Module):
    """DARTS' auxiliary classifier for an 8 x 8 input."""

    def __init__(self, c: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
            nn.Conv2d(c, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=False),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(inplace=False),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


class DartsNetwork(nn.Module):
    """The DARTS CIFAR evaluation network of one genotype.

    Args:
        normal, reduce: ``(op, input)`` pairs of the normal and reduction cells.
        normal_concat, reduce_concat: The states each cell type concatenates.
        init_channels: ``C`` of the first stage.
        layers: Number of cells.
        num_classes: Classifier outputs.
        auxiliary: Add the auxiliary head; ``forward`` then returns ``(logits, aux_logits)``.
        drop_path_prob: Drop-path probability applied while training (0 disables it).
        stem_multiplier: Stem width as a multiple of ``init_channels``.
    """

    def __init__(
        self,
        normal: Sequence[tuple[str, int]],
        normal_concat: Sequence[int],
        reduce: Sequence[tuple[str, int]],
        reduce_concat: Sequence[int],
        init_channels: int = 32,
        layers: int = 8,
        num_classes: int = 10,
        auxiliary: bool = False,
        drop_path_prob: float = 0.0,
        stem_multiplier: int = 3,
    ) -> None:
        super().__init__()
        self.auxiliary = auxiliary
        c_curr = stem_multiplier * init_channels
        self.stem = nn.Sequential(nn.Conv2d(3, c_curr, 3, padding=1, bias=False), nn.BatchNorm2d(c_curr))
        c_prev_prev, c_prev, c_curr = c_curr, c_curr, init_channels
        self.cells = nn.ModuleList()
        self.aux_index = 2 * layers // 3
        reduction_prev = False
        c_aux = c_prev
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                c_curr *= 2
            pairs, concat = (reduce, reduce_concat) if reduction else (normal, normal_concat)
            cell = EvalCell(pairs, concat, c_prev_prev, c_prev, c_curr, reduction, reduction_prev)
            reduction_prev = reduction
            self.cells.append(cell)
            c_prev_prev, c_prev = c_prev, cell.multiplier * c_curr
            if i == self.aux_index:
                c_aux = c_prev
        self.auxiliary_head = AuxiliaryHeadCIFAR(c_aux, num_classes) if auxiliary else None
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)
        self.drop_path_prob = drop_path_prob

    @property
    def drop_path_prob(self) -> float:
        """Drop-path probability of every cell (0 disables drop-path)."""
        return self._drop_path_prob

    @drop_path_prob.setter
    def drop_path_prob(self, value: float) -> None:
        self._drop_path_prob = float(value)
        for cell in self.cells:
            cell.drop_path_prob = float(value)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        s0 = s1 = self.stem(x)
        aux = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1)
            if i == self.aux_index and self.auxiliary_head is not None:
                aux = self.auxiliary_head(s1)
        logits = self.classifier(torch.flatten(self.global_pooling(s1), 1))
        if aux is not None:
            return logits, aux
        return logits
