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
    channels-last map; 1 for a flat ``(N, C)`` input). A convolution behind ``spacetobatchnd`` (TF's
    dilated convolution) counts the pixels of the map ``batchtospacend`` reassembles from its blocks.
    """
    total = 0
    parents: list[list[int]] | None = None
    children: list[list[int]] | None = None
    for index, node in enumerate(cg.nodes):
        if node.shape is None:
            continue
        c_in, c_out, k1, k2 = node.shape
        _, h_out, _, w_out, _, _ = node.resolution
        if node.op in ("conv", "depthwise"):
            parents = parents if parents is not None else cg.parents()
            blocks_h, blocks_w = _space_to_batch_blocks(cg, parents[index])
            if (blocks_h, blocks_w) != (1, 1):
                children = children if children is not None else cg.children()
                h_out, w_out = _dilated_output(cg, children[index], (h_out * blocks_h, w_out * blocks_w))
        if node.op == "matmul":
            # One C_in x C_out product per output row (H_out x W_out: 1 x 1 for a flat input).
            total += 2 * h_out * w_out * c_in * c_out
        else:
            # conv: C_in per group x C_out x k x k; depthwise: C x multiplier x k x k.
            total += 2 * h_out * w_out * c_in * c_out * max(k1, 1) * max(k2, 1)
    return total


def _space_to_batch_blocks(cg: ComputeGraph, parents: list[int]) -> tuple[int, int]:
    """The ``(d_h, d_w)`` batch blocks of a convolution fed by ``spacetobatchnd`` (else ``(1, 1)``).

    TensorFlow runs a dilated convolution as ``spacetobatchnd -> conv (dilation 1) -> batchtospacend``
    (GENNAPE_FACTS 1.7): the convolution's resolution is that of one of the ``d_h x d_w`` blocks the
    map was cut into, so its output pixels are counted once per block. ``d`` is the padded input
    side over the block side (``pad_h``/``pad_w`` metadata), or the input side over the block side
    rounded up where the padding is not recorded.
    """
    for p in parents:
        s2b = cg.nodes[p]
        if s2b.op != "spacetobatchnd":
            continue
        h_in, h_blk, w_in, w_blk = s2b.resolution[:4]
        meta = s2b.metadata or {}
        pad_h, pad_w = sum(meta.get("pad_h", ())), sum(meta.get("pad_w", ()))
        d_h = (h_in + pad_h) // h_blk if pad_h else -(-h_in // h_blk)
        d_w = (w_in + pad_w) // w_blk if pad_w else -(-w_in // w_blk)
        return max(d_h, 1), max(d_w, 1)
    return 1, 1


def _dilated_output(cg: ComputeGraph, children: list[int], blocks_out: tuple[int, int]) -> tuple[int, int]:
    """Output pixels of a dilated convolution in TF's form: the map ``batchtospacend`` reassembles.

    The blocks may hold a few more pixels than that (TF pads the map to a multiple of the dilation and
    crops them after), which the dilated convolution itself does not compute (``FlopCounterMode``).
    """
    for c in children:
        b2s = cg.nodes[c]
        if b2s.op == "batchtospacend":
            _, h, _, w, _, _ = b2s.resolution
            return min(h, blocks_out[0]), min(w, blocks_out[1])
    return blocks_out


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
