"""torch.fx lowering: the mapping table, geometry, errors and warnings."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from gennape_naslib.cg import CGBuilder, TraceError, from_torch


class _SE(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(c, c // 4, 1)
        self.act = nn.ReLU()
        self.expand = nn.Conv2d(c // 4, c, 1)
        self.gate = nn.Hardsigmoid()

    def forward(self, x):
        return x * self.gate(self.expand(self.act(self.reduce(self.pool(x)))))


class _Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, 2, 1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.act = nn.Hardswish()
        self.dw = nn.Conv2d(16, 16, 3, 1, 1, groups=16, bias=False)
        self.se = _SE(16)
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.act(self.bn(self.stem(x)))
        x = x + self.se(self.dw(x))
        x = x.mean((2, 3))
        return self.fc(self.drop(torch.flatten(x, 1)))


def _block_by_builder():
    b = CGBuilder((32, 32, 3))
    x = b.hswish(b.conv_bn(b.input_node, 16, 3, 2, 1))
    y = b.squeeze_excite(b.conv(x, 16, 3, 1, 1, groups=16), 4)
    x = b.add(x, y)
    return b.build(b.linear(b.identity(b.mean(x)), 10))


def test_block_matches_builder_and_rules() -> None:
    cg = from_torch(_Block(), (3, 32, 32))
    assert cg == _block_by_builder(), cg.diff(_block_by_builder())
    counts = cg.op_counts()
    assert counts["relu6"] == 2 and counts["mul"] == 2 and counts["mean"] == 2 and counts["identity"] == 1
    matmul = next(n for n in cg.nodes if n.op == "matmul")
    assert matmul.shape == (16, 10, 0, 0) and matmul.use_bias and matmul.resolution == (1, 1, 1, 1, 16, 10)
    stem = cg.nodes[1]
    assert stem.op == "conv" and stem.resolution == (32, 16, 32, 16, 3, 16) and stem.strides == (2, 2)
    assert not stem.use_bias


def test_training_flag_restored_and_batch_shape_accepted() -> None:
    net = _Block().train()
    a = from_torch(net, (1, 3, 32, 32))
    assert net.training and a == from_torch(net, (3, 32, 32))


class _Functional(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.weight = nn.Parameter(torch.ones(1))

    def forward(self, x):
        x = F.relu6(self.conv(x) * self.weight + 3.0) / 6.0  # constant arithmetic vanishes
        a = F.max_pool2d(x, 2)
        b = F.avg_pool2d(F.pad(x, (0, 1, 0, 1)), 3, 2)
        z = a.mul(0.0)  # the NAS "none" op
        y = torch.cat([a, b, z], dim=1)
        return torch.sigmoid(y) + torch.tanh(y)


def test_functional_ops() -> None:
    cg = from_torch(_Functional(), (3, 16, 16))
    counts = cg.op_counts()
    for op, n in {"conv": 1, "relu6": 1, "maxpool": 1, "avgpool": 1, "paddings": 1, "zero": 1, "concat": 1,
                  "sigmoid": 1, "tanh": 1, "add": 1}.items():  # fmt: skip
        assert counts[op] == n, (op, counts)
    assert "mul" not in counts
    pad = next(n for n in cg.nodes if n.op == "paddings")
    assert pad.resolution == (16, 17, 16, 17, 8, 8) and pad.metadata == {"pad_w": [0, 1], "pad_h": [0, 1]}
    concat = next(n for n in cg.nodes if n.op == "concat")
    assert concat.resolution == (8, 8, 8, 8, 8, 24)
    assert next(n for n in cg.nodes if n.op == "conv").use_bias


def test_unknown_ops_become_oov_with_one_warning() -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 1), nn.ELU(), nn.ELU(), nn.Flatten(), nn.LayerNorm(4 * 8 * 8))
    with pytest.warns(UserWarning, match=r"ELU \(2x\).*LayerNorm \(1x\)") as record:
        cg = from_torch(net, (3, 8, 8))
    assert len([w for w in record if "outside the GENNAPE vocabulary" in str(w.message)]) == 1
    assert cg.op_counts()["<oov>"] == 3


class _Untraceable(nn.Module):
    def forward(self, x):
        if x.sum() > 0:  # data-dependent control flow
            return x
        return -x


def test_untraceable_model_names_the_module() -> None:
    with pytest.raises(TraceError, match="_Untraceable"):
        from_torch(_Untraceable(), (3, 8, 8))


def test_bad_input_shape() -> None:
    with pytest.raises(ValueError, match="input_shape"):
        from_torch(_Block(), (32, 32))
    with pytest.raises(TraceError, match="check input_shape"):
        from_torch(_Block(), (4, 32, 32))
