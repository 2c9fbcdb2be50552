"""Direct computation-graph builders of Once-for-All subnets (the fast path of ``to_cg``).

They emit, node for node, what :func:`gennape_naslib.cg.from_torch` makes of the networks in
:mod:`._ofa_nets` (hard-swish = ``relu6`` + ``mul``, SE = ``mean`` -> conv -> ``relu`` -> conv ->
``relu6`` -> ``mul`` with the block tensor as first operand, dropout = ``identity``, the classifier a
biased ``matmul``), reading the same layer plan.
"""

from __future__ import annotations

from gennape_naslib.cg.builder import CGBuilder
from gennape_naslib.cg.graph import ComputeGraph
from gennape_naslib.search_spaces._ofa_specs import MobilePlan, ResNetPlan

__all__ = ["mobile_cg", "resnet_cg"]


def _conv_bn_act(b: CGBuilder, x: int, c_out: int, k: int, stride: int = 1, act: str | None = None) -> int:
    x = b.bn(b.conv(x, c_out, k, stride, k // 2))
    return b.act(x, act)


def mobile_cg(plan: MobilePlan, resolution: int, name: str) -> ComputeGraph:
    """The computation graph of an OFA MobileNetV3 / ProxylessNAS subnet."""
    b = CGBuilder((resolution, resolution, 3), name=name)
    x = _conv_bn_act(b, b.input_node, plan.stem_out, 3, 2, plan.stem_act)
    for blk in plan.blocks:
        y = _conv_bn_act(b, x, blk.c_mid, 1, 1, blk.act) if blk.expand else x
        y = b.act(b.bn(b.conv(y, blk.c_mid, blk.kernel, blk.stride, blk.kernel // 2, groups=blk.c_mid)), blk.act)
        if blk.se_mid:
            y = b.squeeze_excite(y, blk.se_mid, gate="hsigmoid", inner_act="relu")
        y = b.bn(b.conv(y, blk.c_out, 1))
        x = b.add(y, x) if blk.residual else y
    x = _conv_bn_act(b, x, plan.pre_pool[0], 1, 1, plan.pre_pool[1])
    x = b.mean(x)
    if plan.post_pool is not None:
        x = b.act(b.conv(x, plan.post_pool[0], 1), plan.post_pool[1])
    if plan.dropout > 0:
        x = b.identity(x)
    return b.build(b.linear(x, plan.num_classes))


def resnet_cg(plan: ResNetPlan, resolution: int, name: str) -> ComputeGraph:
    """The computation graph of an OFA ResNet-50 subnet."""
    b = CGBuilder((resolution, resolution, 3), name=name)
    x = _conv_bn_act(b, b.input_node, plan.stem_mid, 3, 2, "relu")
    if plan.stem_residual:
        x = b.add(_conv_bn_act(b, x, plan.stem_mid, 3, 1, "relu"), x)
    x = _conv_bn_act(b, x, plan.stem_out, 3, 1, "relu")
    x = b.pool(x, "max", 3, 2, 1)
    for blk in plan.blocks:
        y = _conv_bn_act(b, x, blk.c_mid, 1, 1, "relu")
        y = _conv_bn_act(b, y, blk.c_mid, 3, blk.stride, "relu")
        y = _conv_bn_act(b, y, blk.c_out, 1, 1, None)
        if blk.downsample:
            s = b.pool(x, "avg", blk.stride, blk.stride, 0, ceil_mode=True)
            s = _conv_bn_act(b, s, blk.c_out, 1, 1, None)
        else:
            s = x
        x = b.relu(b.add(y, s))
    x = b.mean(x)
    if plan.dropout > 0:
        x = b.identity(x)
    return b.build(b.linear(x, plan.num_classes))
