"""FLOP and parameter counts read off a computation graph.

The FLOP convention is that of :class:`torch.utils.flop_counter.FlopCounterMode`: two FLOPs per
multiply-accumulate of convolutions and matrix products; bias additions, batch norm, activations,
pooling and element-wise ops are not counted. Counting on the graph is exact for the networks our
families build and takes microseconds instead of running the network.
"""

from __future__ import annotations

from gennape_naslib.cg.graph import ComputeGraph

__all__ = ["count_flops", "count_weight_params"]


def count_flops(cg: ComputeGraph) -> int:
    """FLOPs of one forward pass on one input (``FlopCounterMode`` convention).

    A convolution counts ``2 * C_in/groups * C_out * k1 * k2`` per output pixel (``H_out * W_out``),
    a ``matmul`` ``2 * C_in * C_out`` per output row (``H_out * W_out``: tokens, or the pixels of a
    channels-last map; 1 for a flat ``(N, C)`` input).
    """
    total = 0
    for node in cg.nodes:
        if node.shape is None:
            continue
        c_in, c_out, k1, k2 = node.shape
        _, h_out, _, w_out, _, _ = node.resolution
        if node.op == "matmul":
            # One C_in x C_out product per output row (H_out x W_out: 1 x 1 for a flat input).
            total += 2 * h_out * w_out * c_in * c_out
        else:
            # conv: C_in per group x C_out x k x k; depthwise: C x multiplier x k x k.
            total += 2 * h_out * w_out * c_in * c_out * max(k1, 1) * max(k2, 1)
    return total


def count_weight_params(cg: ComputeGraph) -> int:
    """Parameters of the weighted nodes (weights and biases), excluding batch norm."""
    total = 0
    for node in cg.nodes:
        if node.shape is None:
            continue
        c_in, c_out, k1, k2 = node.shape
        # A dense layer's bias has its weight's width; a convolution's, the output channels.
        out_channels = c_out if node.op == "matmul" else node.resolution[5]
        total += c_in * c_out * max(k1, 1) * max(k2, 1) + (out_channels if node.use_bias else 0)
    return total
