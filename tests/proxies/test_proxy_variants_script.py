"""scripts/proxy_variants.py: the protocol variants used to diagnose the proxy validation misses."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

from gennape_naslib import proxies, search_spaces
from gennape_naslib.proxies import _passes

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
ZC_FILE = SHARED / "data" / "nb201" / "zc_nasbench201_725.json"
IMAGES = SHARED / "data" / "cifar10" / "cifar10_train_first1000.npz"

pytestmark = pytest.mark.skipif(
    not (ZC_FILE.is_file() and IMAGES.is_file()), reason="needs ../shared/data (NB-201 zero-cost file, CIFAR-10)"
)


@pytest.fixture(scope="module")
def pv(load_script):
    return load_script("proxy_variants")


@pytest.fixture
def restore_build(monkeypatch):
    # the script routes network construction through its variant; undo that after each test
    monkeypatch.setattr(_passes, "build_network", _passes.build_network)


def test_augmented_batch_is_seeded_by_position_and_draw(pv):
    x0, y0 = pv._augmented_batch(3, 0, 8)
    x1, y1 = pv._augmented_batch(3, 0, 8)
    x2, _ = pv._augmented_batch(3, 1, 8)
    assert x0.shape == (8, 3, 32, 32) and y0.dtype == torch.int64
    assert torch.equal(x0, x1) and torch.equal(y0, y1)
    assert not torch.equal(x0, x2)
    assert int(y0.min()) >= 0 and int(y0.max()) <= 9


def test_shared_weights_do_not_depend_on_the_architecture(pv):
    from gennape_naslib.search_spaces._nb201_torch import NB201Network

    a = NB201Network(["nor_conv_3x3", "nor_conv_1x1", "skip_connect", "nor_conv_3x3", "none", "avg_pool_3x3"])
    b = NB201Network(["nor_conv_3x3", "nor_conv_3x3", "none", "skip_connect", "nor_conv_1x1", "nor_conv_1x1"])
    pv._apply_shared_weights(a, 0)
    pv._apply_shared_weights(b, 0)
    sa, sb = a.state_dict(), b.state_dict()
    for name in ("stem.0.weight", "cells.5.downsample.1.weight", "cells.11.conv_a.1.weight", "classifier.weight"):
        assert torch.equal(sa[name], sb[name]), name
    assert torch.equal(sa["cells.0.edges.0.1.weight"], sb["cells.0.edges.0.1.weight"])  # same edge, same 3x3
    assert sa["cells.0.edges.1.1.weight"].shape != sb["cells.0.edges.1.1.weight"].shape  # 1x1 vs 3x3
    assert not torch.equal(sa["cells.0.edges.0.1.weight"], sa["cells.1.edges.0.1.weight"])  # other cell
    c = NB201Network(["nor_conv_3x3"] * 6)
    pv._apply_shared_weights(c, 1)
    assert not torch.equal(c.state_dict()["classifier.weight"], sa["classifier.weight"])  # the second draw


@pytest.mark.slow  # three cross-entropy passes of an NB-201 network (about 5-15 s)
def test_base_variant_is_the_package_protocol(pv, restore_build):
    key = pv.vp.order(list(pv.vp.load_published()), 0)[0]
    nb201 = search_spaces.get("nb201")
    arch = nb201.from_naslib(ast.literal_eval(key))
    package = {n: v for n, (v, _) in proxies.score_many(["plain"], nb201, arch).items()}
    row = pv.score_cell(key, 0, "base", with_grasp=False, names=("plain",))  # installs the variant's builder
    assert row["scores"]["plain"] == package["plain"]
    shared = pv.score_cell(key, 0, "shared", with_grasp=False, names=("plain",))
    assert shared["scores"]["plain"] != package["plain"]
