"""Dilated convolutions: one graph whichever importer reads the network (GENNAPE_FACTS 1.7, decision 1).

TF runs a dilated stride-1 convolution as ``spacetobatchnd -> conv (dilation 1) -> batchtospacend``;
from_torch, from_onnx and the families' builder lower it the same way (the TF side is checked against
Keras in ``test_from_tf.py``), and ``count_flops`` still gives PyTorch's FLOPs.
"""

from __future__ import annotations

import io

import pytest
import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from gennape_naslib.cg import CGBuilder, from_torch
from gennape_naslib.cg.counting import count_flops

CASES = [  # (size, C_out, kernel, dilation, padding, groups)
    (32, 8, 3, 2, 2, 8),
    (31, 8, 5, 2, 4, 8),
    (32, 16, 3, 3, 3, 1),
    (13, 8, 3, 2, 0, 8),
    (16, 16, 3, (2, 1), (2, 1), 1),
    (14, 8, 3, 2, 2, 2),  # grouped, not depthwise: Keras' grouped Conv2D has the same form
]


def _net(c_out: int, kernel: int, dilation, padding, groups: int) -> nn.Module:
    return nn.Sequential(nn.ReLU(), nn.Conv2d(8, c_out, kernel, padding=padding, dilation=dilation, groups=groups))


def _flops(module: nn.Module, size: int) -> int:
    with FlopCounterMode(display=False) as counter:
        module(torch.zeros(1, 8, size, size))
    return counter.get_total_flops()


@pytest.mark.parametrize(("size", "c_out", "kernel", "dilation", "padding", "groups"), CASES)
def test_torch_onnx_and_builder_agree(size, c_out, kernel, dilation, padding, groups) -> None:
    module = _net(c_out, kernel, dilation, padding, groups).eval()
    cg = from_torch(module, (8, size, size))
    op = "depthwise" if groups == 8 and c_out == 8 else "conv"
    assert [n.op for n in cg.nodes] == ["input", "relu", "spacetobatchnd", op, "batchtospacend", "output"]
    s2b, conv, b2s = cg.nodes[2:5]
    assert conv.strides == (1, 1) and "dilation" not in (conv.metadata or {})
    assert s2b.resolution[1] == conv.resolution[0] and conv.resolution[1] == b2s.resolution[0]
    assert b2s.resolution[1] == module(torch.zeros(1, 8, size, size)).shape[2]
    assert count_flops(cg) == _flops(module, size)

    b = CGBuilder((size, size, 8))
    built = b.build(b.conv(b.relu(b.input_node), c_out, kernel, 1, padding, dilation=dilation, groups=groups))
    assert [(n.op, n.resolution, n.shape) for n in built.nodes] == [(n.op, n.resolution, n.shape) for n in cg.nodes]

    onnx = pytest.importorskip("onnx")
    from gennape_naslib.cg.from_onnx import from_onnx

    buffer = io.BytesIO()
    torch.onnx.export(module, (torch.zeros(1, 8, size, size),), buffer, dynamo=False)
    cg_onnx = from_onnx(onnx.load_from_string(buffer.getvalue()))
    assert [(n.op, n.resolution, n.shape) for n in cg_onnx.nodes] == [(n.op, n.resolution, n.shape) for n in cg.nodes]


def test_same_padding_string_and_odd_pixel() -> None:
    """``padding="same"``: PyTorch's padding (3, 3), plus one row and column that make 21 even (TF's form)."""
    module = nn.Conv2d(8, 8, 4, padding="same", dilation=2, groups=8)
    cg = from_torch(module, (8, 15, 15))
    s2b = cg.nodes[1]
    assert s2b.op == "spacetobatchnd" and s2b.metadata == {"pad_h": [3, 4], "pad_w": [3, 4]}
    assert cg.nodes[3].resolution[1] == 15 and count_flops(cg) == _flops(nn.Sequential(module), 15)


@pytest.mark.parametrize("groups", [1, 8])
def test_strided_dilation_stays_one_node(groups: int) -> None:
    """TF has no space-to-batch form for a strided dilated conv (its atrous ops refuse the pair)."""
    module = nn.Conv2d(8, 8, 3, stride=2, padding=2, dilation=2, groups=groups)
    cg = from_torch(module, (8, 16, 16))
    assert [n.op for n in cg.nodes] == ["input", "depthwise" if groups == 8 else "conv", "output"]
    assert cg.nodes[1].metadata["dilation"] == [2, 2]
    assert count_flops(cg) == _flops(nn.Sequential(nn.Identity(), module), 16)
