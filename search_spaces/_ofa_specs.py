"""Resolved layer plans of Once-for-All subnets and their analytic FLOP/parameter counts.

An OFA architecture (kernel sizes, expand ratios, depths, widths) is first resolved into a *plan*:
the exact channel count, kernel, stride and activation of every layer, following the channel
arithmetic of the official OFA code (``make_divisible`` to multiples of 8, middle width
``make_divisible(round(C_in * e), 8)`` for MBConv and ``make_divisible(round(C_out * e), 8)`` for
ResNet bottlenecks, SE squeeze width ``make_divisible(C_mid // 4, 8)``). The PyTorch networks
(:mod:`._ofa_nets`), the direct computation-graph builders (:mod:`._ofa_cg`) and the analytic
counts below all read the same plan, so they cannot disagree about a channel count.

FLOPs follow :class:`torch.utils.flop_counter.FlopCounterMode`: two per multiply-accumulate of
convolutions and of the classifier's matrix product; bias, batch norm, activations, pooling and
element-wise ops are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "MBBlockPlan",
    "MobilePlan",
    "BottleneckPlan",
    "ResNetPlan",
    "make_divisible",
    "same_conv_out",
    "mobile_counts",
    "resnet_counts",
]


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``value`` to a multiple of ``divisor`` as OFA (and TF-slim MobileNet) do.

    The result is at least ``min_value`` (default ``divisor``) and never more than 10 % below
    ``value``: ``max(min_value, int(value + divisor / 2) // divisor * divisor)``, plus ``divisor`` if
    that falls under ``0.9 * value``.
    """
    floor = divisor if min_value is None else min_value
    rounded = max(floor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def same_conv_out(size: int, kernel: int, stride: int) -> int:
    """Output length of a convolution with OFA's "same" padding ``kernel // 2``."""
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


@dataclass(frozen=True)
class MBBlockPlan:
    """One mobile inverted bottleneck (MBConv) layer.

    Attributes:
        c_in, c_mid, c_out: Input, expanded (depthwise) and output channels.
        kernel: Depthwise kernel size.
        stride: Depthwise stride.
        act: Activation (``"relu"``, ``"relu6"`` or ``"hswish"``).
        se_mid: Squeeze width of the SE module, ``0`` without SE.
        expand: Whether the 1x1 expansion conv exists (expand ratio != 1).
        residual: Whether the block adds its input to its output.
    """

    c_in: int
    c_mid: int
    c_out: int
    kernel: int
    stride: int
    act: str
    se_mid: int
    expand: bool
    residual: bool


@dataclass(frozen=True)
class MobilePlan:
    """A whole OFA MobileNetV3 or ProxylessNAS subnet.

    Attributes:
        stem_out: Channels of the stride-2 3x3 stem conv (conv -> BN -> ``stem_act``).
        stem_act: Stem activation.
        blocks: The first (expand-ratio-1) block followed by the searchable blocks.
        pre_pool: ``(channels, act)`` of the 1x1 conv -> BN -> act before global pooling.
        post_pool: ``(channels, act)`` of the 1x1 conv (no bias, no BN) -> act after pooling, or ``None``.
        num_classes: Classifier outputs.
        dropout: Dropout rate before the classifier (an ``identity`` node when > 0).
    """

    stem_out: int
    stem_act: str
    blocks: tuple[MBBlockPlan, ...]
    pre_pool: tuple[int, str]
    post_pool: tuple[int, str] | None
    num_classes: int
    dropout: float


@dataclass(frozen=True)
class BottleneckPlan:
    """One ResNet bottleneck: 1x1 -> 3x3 (stride) -> 1x1, shortcut identity or avg-pool + 1x1 conv.

    Attributes:
        c_in, c_mid, c_out: Input, middle and output channels.
        stride: Stride of the 3x3 conv (and kernel/stride of the shortcut's average pool).
        downsample: Whether the shortcut is avg-pool (``ceil_mode``) -> 1x1 conv -> BN.
    """

    c_in: int
    c_mid: int
    c_out: int
    stride: int
    downsample: bool


@dataclass(frozen=True)
class ResNetPlan:
    """A whole OFA ResNet-50 subnet.

    Attributes:
        stem_mid: Channels of the first two stem convs.
        stem_residual: Whether the residual 3x3 stem conv is present (``d[0] == 2``).
        stem_out: Channels of the third stem conv.
        blocks: The active bottlenecks of the four stages in order.
        num_classes: Classifier outputs.
        dropout: Dropout rate before the classifier.
    """

    stem_mid: int
    stem_residual: bool
    stem_out: int
    blocks: tuple[BottleneckPlan, ...]
    num_classes: int
    dropout: float


def _conv(h: int, w: int, c_in: int, c_out: int, k: int, s: int, groups: int = 1) -> tuple[int, int, int, int]:
    """``(H_out, W_out, flops, weight params)`` of a bias-free "same" convolution."""
    oh, ow = same_conv_out(h, k, s), same_conv_out(w, k, s)
    weights = (c_in // groups) * c_out * k * k
    return oh, ow, 2 * oh * ow * weights, weights


def mobile_counts(plan: MobilePlan, resolution: int) -> tuple[int, int]:
    """``(flops, params)`` of a mobile subnet on a ``resolution`` x ``resolution`` input."""
    h = w = resolution
    h, w, flops, params = _conv(h, w, 3, plan.stem_out, 3, 2)
    params += 2 * plan.stem_out
    for b in plan.blocks:
        if b.expand:
            _, _, f, p = _conv(h, w, b.c_in, b.c_mid, 1, 1)
            flops, params = flops + f, params + p + 2 * b.c_mid
        h, w, f, p = _conv(h, w, b.c_mid, b.c_mid, b.kernel, b.stride, groups=b.c_mid)
        flops, params = flops + f, params + p + 2 * b.c_mid
        if b.se_mid:
            squeeze = 2 * b.c_mid * b.se_mid  # two 1x1 convs on a 1x1 map
            flops += 2 * squeeze
            params += squeeze + b.se_mid + b.c_mid
        _, _, f, p = _conv(h, w, b.c_mid, b.c_out, 1, 1)
        flops, params = flops + f, params + p + 2 * b.c_out
        c = b.c_out
    c_pre, _ = plan.pre_pool
    _, _, f, p = _conv(h, w, c, c_pre, 1, 1)
    flops, params, c = flops + f, params + p + 2 * c_pre, c_pre
    if plan.post_pool is not None:
        c_post = plan.post_pool[0]
        flops, params, c = flops + 2 * c * c_post, params + c * c_post, c_post
    flops += 2 * c * plan.num_classes
    params += c * plan.num_classes + plan.num_classes
    return flops, params


def resnet_counts(plan: ResNetPlan, resolution: int) -> tuple[int, int]:
    """``(flops, params)`` of a ResNet subnet on a ``resolution`` x ``resolution`` input."""
    h = w = resolution
    mid, out = plan.stem_mid, plan.stem_out
    h, w, flops, params = _conv(h, w, 3, mid, 3, 2)
    params += 2 * mid
    if plan.stem_residual:
        _, _, f, p = _conv(h, w, mid, mid, 3, 1)
        flops, params = flops + f, params + p + 2 * mid
    _, _, f, p = _conv(h, w, mid, out, 3, 1)
    flops, params = flops + f, params + p + 2 * out
    h, w = (h - 1) // 2 + 1, (w - 1) // 2 + 1  # max-pool 3x3, stride 2, padding 1
    for b in plan.blocks:
        _, _, f1, p1 = _conv(h, w, b.c_in, b.c_mid, 1, 1)
        oh, ow, f2, p2 = _conv(h, w, b.c_mid, b.c_mid, 3, b.stride)
        _, _, f3, p3 = _conv(oh, ow, b.c_mid, b.c_out, 1, 1)
        flops += f1 + f2 + f3
        params += p1 + p2 + p3 + 4 * b.c_mid + 2 * b.c_out
        if b.downsample:
            # ceil_mode average pool with kernel = stride: ceil(H / s); then a 1x1 conv + BN
            ph, pw = -(-h // b.stride), -(-w // b.stride)
            flops += 2 * ph * pw * b.c_in * b.c_out
            params += b.c_in * b.c_out + 2 * b.c_out
        h, w = oh, ow
    c = plan.blocks[-1].c_out if plan.blocks else out
    flops += 2 * c * plan.num_classes
    params += c * plan.num_classes + plan.num_classes
    return flops, params


# ---------------------------------------------------------------------- plans from architectures
#: OFA-MobileNetV3 base widths: stem, first block, five stages, final expand, feature mix.
MBV3_BASE_WIDTHS = (16, 16, 24, 40, 80, 112, 160, 960, 1280)
MBV3_STRIDES = (2, 2, 2, 1, 2)
MBV3_ACTS = ("relu", "relu", "hswish", "hswish", "hswish")
MBV3_SE = (False, True, False, True, True)
#: OFA-ProxylessNAS base widths: stem, first block, six stages, feature mix.
PN_BASE_WIDTHS = (32, 16, 24, 40, 80, 96, 192, 320, 1280)
PN_STRIDES = (2, 2, 2, 1, 2, 1)
#: OFA-ResNet-50 stage widths, base depths and the three width multipliers the ``w`` indices choose.
RESNET_STAGE_WIDTHS = (256, 512, 1024, 2048)
RESNET_BASE_DEPTHS = (2, 2, 4, 2)
RESNET_WIDTH_MULTS = (0.65, 0.8, 1.0)
RESNET_STRIDES = (1, 2, 2, 2)


def _stage_blocks(
    stages: tuple[tuple[tuple[int, int], ...], ...],
    c_in: int,
    widths: list[int],
    strides: tuple[int, ...],
    acts: tuple[str, ...],
    se: tuple[bool, ...],
) -> list[MBBlockPlan]:
    blocks = []
    for s, stage in enumerate(stages):
        for j, (expand, kernel) in enumerate(stage):
            stride = strides[s] if j == 0 else 1
            c_out = widths[s]
            c_mid = make_divisible(round(c_in * expand), 8)
            blocks.append(
                MBBlockPlan(
                    c_in=c_in,
                    c_mid=c_mid,
                    c_out=c_out,
                    kernel=kernel,
                    stride=stride,
                    act=acts[s],
                    se_mid=make_divisible(c_mid // 4, 8) if se[s] else 0,
                    expand=True,
                    residual=stride == 1 and c_in == c_out,
                )
            )
            c_in = c_out
    return blocks


def mbv3_plan(
    stages: tuple[tuple[tuple[int, int], ...], ...], width_mult: float, num_classes: int, dropout: float
) -> MobilePlan:
    """The plan of an OFA-MobileNetV3 subnet (``stages``: per stage, ``(expand, kernel)`` per block)."""
    widths = [make_divisible(b * width_mult, 8) for b in MBV3_BASE_WIDTHS]
    stem, first = widths[0], widths[1]
    head = MBBlockPlan(stem, stem, first, 3, 1, "relu", 0, expand=False, residual=stem == first)
    blocks = [head, *_stage_blocks(stages, first, widths[2:7], MBV3_STRIDES, MBV3_ACTS, MBV3_SE)]
    return MobilePlan(
        stem_out=stem,
        stem_act="hswish",
        blocks=tuple(blocks),
        pre_pool=(widths[7], "hswish"),
        post_pool=(widths[8], "hswish"),
        num_classes=num_classes,
        dropout=dropout,
    )


def proxyless_plan(
    stages: tuple[tuple[tuple[int, int], ...], ...], width_mult: float, num_classes: int, dropout: float
) -> MobilePlan:
    """The plan of an OFA-ProxylessNAS subnet (six stages, the last of one block)."""
    widths = [make_divisible(b * width_mult, 8) for b in PN_BASE_WIDTHS]
    stem, first = widths[0], widths[1]
    # OFA wraps the first block without a shortcut whatever its channels.
    head = MBBlockPlan(stem, stem, first, 3, 1, "relu6", 0, expand=False, residual=False)
    n = len(PN_STRIDES)
    blocks = [head, *_stage_blocks(stages, first, widths[2:8], PN_STRIDES, ("relu6",) * n, (False,) * n)]
    return MobilePlan(
        stem_out=stem,
        stem_act="relu6",
        blocks=tuple(blocks),
        pre_pool=(widths[8], "relu6"),
        post_pool=None,
        num_classes=num_classes,
        dropout=dropout,
    )


def resnet_stem_outs() -> tuple[int, ...]:
    """The stem output width of each ``w[1]`` index: ``make_divisible(64 m, 8)``."""
    return tuple(make_divisible(64 * m, 8) for m in RESNET_WIDTH_MULTS)


def resnet_stem_mids() -> tuple[int, ...]:
    """The stem middle width of each ``w[0]`` index: half a stem output width, made divisible by 8.

    OFA derives it from the output widths, so two indices can give the same width ((24, 24, 32)).
    """
    return tuple(make_divisible(out // 2, 8) for out in resnet_stem_outs())


def resnet_plan(
    stem_residual: bool,
    expands: tuple[tuple[float, ...], ...],
    width_idx: tuple[int, ...],
    num_classes: int,
    dropout: float,
) -> ResNetPlan:
    """The plan of an OFA-ResNet-50 subnet.

    Args:
        stem_residual: ``d[0] == 2`` (the residual stem conv is active).
        expands: Per stage, the expand ratio of each active bottleneck.
        width_idx: The six ``w`` indices (stem middle, stem output, four stages).
        num_classes: Classifier outputs.
        dropout: Dropout rate before the classifier.
    """
    mults = [RESNET_WIDTH_MULTS[i] for i in width_idx]
    stem_mid = resnet_stem_mids()[width_idx[0]]
    stem_out = resnet_stem_outs()[width_idx[1]]
    blocks = []
    c_in = stem_out
    for s, stage in enumerate(expands):
        c_out = make_divisible(RESNET_STAGE_WIDTHS[s] * mults[s + 2], 8)
        for j, e in enumerate(stage):
            stride = RESNET_STRIDES[s] if j == 0 else 1
            c_mid = make_divisible(round(c_out * e), 8)
            blocks.append(BottleneckPlan(c_in, c_mid, c_out, stride, downsample=not (stride == 1 and c_in == c_out)))
            c_in = c_out
    return ResNetPlan(stem_mid, stem_residual, stem_out, tuple(blocks), num_classes, dropout)
