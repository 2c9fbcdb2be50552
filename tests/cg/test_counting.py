"""FLOP and parameter counts read off a graph."""

from __future__ import annotations

from gennape_naslib.cg import ComputeGraph, Node
from gennape_naslib.cg.counting import count_flops, count_weight_params


def _dense(resolution: tuple[int, ...], c_in: int, c_out: int) -> ComputeGraph:
    h, _, w, _, c, _ = resolution
    nodes = [
        Node("input", (h, h, w, w, c, c)),
        Node("matmul", resolution, shape=(c_in, c_out, 0, 0), use_bias=True),
        Node("output", (resolution[1], resolution[1], resolution[3], resolution[3], c_out, c_out)),
    ]
    return ComputeGraph(nodes, [(0, 1), (1, 2)])


def test_matmul_counts_every_output_row() -> None:
    assert count_flops(_dense((1, 1, 1, 1, 32, 64), 32, 64)) == 2 * 32 * 64
    assert count_flops(_dense((16, 16, 1, 1, 32, 64), 32, 64)) == 16 * 2 * 32 * 64  # 16 tokens
    assert count_flops(_dense((4, 4, 8, 8, 32, 64), 32, 64)) == 32 * 2 * 32 * 64  # 4 x 8 channels-last


def test_matmul_bias_has_the_weight_output_width() -> None:
    # Whatever the resolution says, a dense layer's bias has C_out = the weight's second axis.
    assert count_weight_params(_dense((1, 1, 1, 1, 32, 16), 32, 64)) == 32 * 64 + 64
