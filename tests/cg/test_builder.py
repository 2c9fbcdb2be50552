"""The direct builder computes geometry like PyTorch and applies the lowering rules."""

from __future__ import annotations

import pytest

from gennape_naslib.cg import CGBuilder, GraphError
from gennape_naslib.cg.builder import conv_out


@pytest.mark.parametrize(
    ("size", "k", "s", "p", "d", "ceil", "expected"),
    [(32, 3, 1, 1, 1, False, 32), (32, 3, 2, 1, 1, False, 16), (7, 3, 2, 0, 1, True, 3), (8, 3, 1, 2, 2, False, 8)],
)
def test_conv_out_matches_pytorch(size, k, s, p, d, ceil, expected) -> None:
    import torch

    assert conv_out(size, k, s, p, d, ceil) == expected
    if d == 1:
        pooled = torch.nn.functional.max_pool2d(torch.zeros(1, 1, size, size), k, s, p, ceil_mode=ceil)
        assert pooled.shape[-1] == expected


def test_window_too_large_is_an_error() -> None:
    b = CGBuilder((2, 2, 3))
    with pytest.raises(GraphError, match="does not fit"):
        b.conv(b.input_node, 4, 5)


def test_decompositions() -> None:
    b = CGBuilder((8, 8, 16))
    x = b.hswish(b.input_node)
    x = b.squeeze_excite(b.depthwise(x, 3, padding=1), 8)
    cg = b.build(b.act(x, "swish"))
    counts = cg.op_counts()
    assert counts["relu6"] == 2 and counts["mul"] == 3 and counts["sigmoid"] == 1 and counts["depthwise"] == 1
    dw = next(n for n in cg.nodes if n.op == "depthwise")
    assert dw.shape == (16, 1, 3, 3)
    mul_se = [n for n in cg.nodes if n.op == "mul"][1]
    assert mul_se.resolution == (8, 8, 8, 8, 16, 16)  # first operand is the block tensor, not the gate


def test_add_of_one_distinct_input_adds_nothing() -> None:
    b = CGBuilder((4, 4, 3))
    x = b.relu(b.input_node)
    assert b.add(x, x) == x


def test_strided_zero_uses_sliced_input() -> None:
    b = CGBuilder((9, 9, 4))
    z = b.zero(b.input_node, stride=2, c_out=8)
    cg = b.build(z)
    assert cg.nodes[z].resolution == (5, 5, 5, 5, 4, 8)


def test_unknown_activation() -> None:
    b = CGBuilder((4, 4, 3))
    with pytest.raises(GraphError, match="unknown activation"):
        b.act(b.input_node, "mish")
