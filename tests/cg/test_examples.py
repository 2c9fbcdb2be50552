"""The direct builder and the torch.fx lowering agree on the reference networks of ``cg._examples``."""

from __future__ import annotations

import pytest

from gennape_naslib.cg import from_torch
from gennape_naslib.cg._examples import (
    MBV3_LARGE,
    make_divisible,
    mobilenetv3_cg,
    mobilenetv3_module,
    resnet_cg,
    resnet_module,
)


def test_resnet18_builder_equals_fx() -> None:
    built = resnet_cg()
    traced = from_torch(resnet_module(), (3, 224, 224))
    assert built == traced, built.diff(traced)
    # ResNet-18: 17 convs in the body + stem, 3 projection shortcuts, one classifier.
    counts = built.op_counts()
    assert (counts["conv"], counts["add"], counts["matmul"], counts["maxpool"]) == (20, 8, 1, 1)
    assert built.nodes[-2].resolution == (1, 1, 1, 1, 512, 1000)


def test_mobilenetv3_builder_equals_fx() -> None:
    built = mobilenetv3_cg()
    traced = from_torch(mobilenetv3_module(), (3, 224, 224))
    assert built == traced, built.diff(traced)
    counts = built.op_counts()
    assert counts["depthwise"] == len(MBV3_LARGE)
    assert counts["mean"] == 1 + sum(b.se for b in MBV3_LARGE)  # one per SE block + the global pool
    # Every hard swish (stem, 9 blocks x 2, last conv, head) and hard sigmoid (8 SE gates) is a relu6.
    assert counts["relu6"] == 1 + 2 * sum(b.act == "hswish" for b in MBV3_LARGE) + 1 + 1 + sum(b.se for b in MBV3_LARGE)


def test_small_cifar_resnet_builder_equals_fx() -> None:
    built = resnet_cg((32, 32, 3), (16, 32, 64), (1, 1, 1), 10, "cifar")
    traced = from_torch(resnet_module((16, 32, 64), (1, 1, 1), 10, "cifar"), (3, 32, 32))
    assert built == traced, built.diff(traced)
    assert built.op_counts()["maxpool"] == 0


def test_builder_detects_a_different_network() -> None:
    # The comparison must be able to fail: one block fewer is a different graph.
    assert resnet_cg(depths=(2, 2, 2, 1)) != from_torch(resnet_module(), (3, 224, 224))


def test_make_divisible_and_bad_stem() -> None:
    assert [make_divisible(v) for v in (16, 18, 60, 72 / 4)] == [16, 24, 64, 24]
    with pytest.raises(ValueError, match="stem"):
        resnet_cg(stem="other")
