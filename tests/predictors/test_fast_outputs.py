"""Folded pairwise heads give the member outputs of GENNAPENet.outputs (up to float rounding)."""

from __future__ import annotations

import numpy as np
import torch

from gennape_naslib.predictors.gennape._fast_outputs import member_outputs
from gennape_naslib.predictors.gennape.model import GENNAPENet


def _net(members: list[str], n_clusters: int = 3) -> GENNAPENet:
    torch.manual_seed(0)
    net = GENNAPENet(members, n_clusters, 16, 2, "GraphConv", "tanh", 16, 4, 8, 2.0)
    with torch.no_grad():
        net.centroids.copy_(torch.randn_like(net.centroids))
    return net.eval()


def test_folded_pairwise_heads_match_the_model_outputs():
    net = _net(["cl_fcm_t", "pair_fcm", "pair", "cl_t"])
    h, anchors = torch.randn(300, 16), torch.randn(7, 16)
    with torch.no_grad():
        ref = net.outputs(h, anchors)
    new = member_outputs(net, h, anchors)
    assert list(new) == list(ref)
    for name in ref:
        np.testing.assert_allclose(new[name][0], ref[name][0], rtol=0, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(new[name][1], ref[name][1], rtol=0, atol=1e-6, err_msg=name)
    assert not np.allclose(new["pair_fcm"][0], new["pair"][0])  # the members really differ


def test_unknown_pair_head_falls_back_and_missing_anchors_raise():
    net = _net(["pair"])
    calls = []
    net.outputs = lambda h, anchors: calls.append(1) or {"pair": (np.zeros(len(h)), np.zeros(len(h)))}
    net.heads["pair"].heads.relu_after = 10  # not a single-ReLU MLP any more
    member_outputs(net, torch.randn(4, 16), torch.randn(2, 16))
    assert calls == [1]
    net = _net(["pair"])
    try:
        member_outputs(net, torch.randn(4, 16), None)
    except ValueError as err:
        assert "anchor" in str(err)
    else:  # pragma: no cover
        raise AssertionError("no error without anchors")
