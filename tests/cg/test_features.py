"""GENNAPE feature vectors (GENNAPE_FACTS 1.9, Appendix B) and the PyTorch Geometric conversion."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from gennape_naslib.cg import CGBuilder, ComputeGraph
from gennape_naslib.cg.features import (
    FEATURE_WIDTH,
    gennape_feature_lists,
    gennape_features,
    gennape_order,
    to_pyg,
)


def _hiaml_like() -> tuple[ComputeGraph, dict[str, int]]:
    """Input 32x32x3, HiAML's stem conv (stride 2, 3->64, 3x3, no bias), down to 4x4x256, mean, dense."""
    b = CGBuilder((32, 32, 3), name="appendix-b")
    stem = b.conv(b.input_node, 64, 3, stride=2, padding=1)
    x = b.relu(b.bn(stem))
    x = b.conv_bn_act(x, 128, 3, stride=2, padding=1)
    x = b.conv_bn_act(x, 256, 3, stride=2, padding=1)
    mean = b.mean(x)
    dense = b.linear(mean, 10, bias=True)
    cg = b.build(dense)
    return cg, {"stem": stem, "mean": mean, "dense": dense}


def test_appendix_b_numbers() -> None:
    cg, at = _hiaml_like()
    f = gennape_features(cg)
    np.testing.assert_allclose(f["resolution"][0], [0.125, 0.125, 0.125, 0.125, 0.005859375, 0.005859375], rtol=1e-7)
    assert f["op"][0] == 1 and f["op"][-1] == 2
    stem = at["stem"]
    assert f["op"][stem] == 3
    np.testing.assert_allclose(f["resolution"][stem], [0.125, 0.0625, 0.125, 0.0625, 0.005859375, 0.125], rtol=1e-7)
    assert f["kernel"][stem].tolist() == [3, 3]
    assert f["bias"][stem].tolist() == [1.0, 0.0]
    dense = at["dense"]
    assert f["op"][dense] == 8
    np.testing.assert_allclose(f["resolution"][dense], [0.00390625] * 4 + [0.5, 0.01953125], rtol=1e-7)
    assert f["kernel"][dense].tolist() == [0, 0]
    assert f["bias"][dense].tolist() == [0.0, 1.0]
    mean = at["mean"]
    assert f["op"][mean] == 19
    assert cg.nodes[mean].resolution == (4, 1, 4, 1, 256, 256)
    np.testing.assert_allclose(f["resolution"][mean], [0.015625, 0.00390625, 0.015625, 0.00390625, 0.5, 0.5], rtol=1e-7)


def test_shapes_dtypes_and_regular_conventions() -> None:
    cg, _ = _hiaml_like()
    f = gennape_features(cg)
    n, e = cg.n_nodes, cg.n_edges
    expected = {
        "op": (np.int64, (n,)),
        "resolution": (np.float32, (n, 6)),
        "kernel": (np.int64, (n, 2)),
        "bias": (np.float32, (n, 2)),
        "weighted": (np.bool_, (n,)),
        "edge_index": (np.int64, (2, e)),
    }
    assert set(f) == set(expected)
    for key, (dtype, shape) in expected.items():
        assert f[key].dtype == dtype and f[key].shape == shape, key
    assert f["weighted"].tolist() == [node.weighted for node in cg.nodes]
    regular = ~f["weighted"]
    assert (f["kernel"][regular] == 0).all()
    assert (f["bias"][regular] == [1.0, 0.0]).all()
    assert (f["bias"].sum(axis=1) == 1.0).all()
    assert [tuple(p) for p in f["edge_index"].T.tolist()] == list(cg.edges)


def test_normalisation_follows_the_graph_maxima_and_kernels_are_clipped() -> None:
    b = CGBuilder((64, 64, 16))
    big = b.conv(b.input_node, 1024, 9, padding=4)
    cg = b.build(big)
    f = gennape_features(cg)
    assert f["kernel"][big].tolist() == [7, 7]  # GENNAPE's kernel embedding has 8 rows
    np.testing.assert_allclose(f["resolution"][big], [0.25, 0.25, 0.25, 0.25, 16 / 512, 2.0], rtol=1e-7)
    other = gennape_features(cg.copy(max_h=64, max_w=32, max_hidden=1024, max_kernel=5))
    np.testing.assert_allclose(other["resolution"][big], [1.0, 1.0, 2.0, 2.0, 16 / 1024, 1.0], rtol=1e-7)
    assert other["kernel"][big].tolist() == [5, 5]
    with pytest.raises(ValueError, match="max_hidden must be positive"):
        gennape_features(cg.copy(max_hidden=0))


def test_gennape_order_and_feature_lists() -> None:
    cg, at = _hiaml_like()
    perm = gennape_order(cg)
    n_w = cg.n_weighted
    assert sorted(perm.tolist()) == list(range(cg.n_nodes))
    assert all(cg.nodes[i].weighted for i in perm[:n_w]) and not any(cg.nodes[i].weighted for i in perm[n_w:])
    assert perm[-1] == cg.n_nodes - 1  # output stays last
    r_ops, r_res, w_ops, w_res, w_kernels, w_bias, edge_list = gennape_feature_lists(cg)
    assert r_ops[:4] == [1, 5, 6, 5] and r_ops[-2:] == [19, 2]  # input, bn, relu, bn ... mean, output
    assert w_ops == [3, 3, 3, 8]
    assert w_res[0] == [0.125, 0.0625, 0.125, 0.0625, 0.005859375, 0.125]
    assert w_kernels == [[3, 3], [3, 3], [3, 3], [0, 0]] and w_bias[0] == [1, 0] and w_bias[-1] == [0, 1]
    assert len(r_res) == len(r_ops) == cg.n_nodes - n_w
    pairs = list(zip(*edge_list))
    assert pairs == sorted(pairs)
    assert {(int(perm[s]), int(perm[d])) for s, d in pairs} == set(cg.edges)
    assert edge_list[0][0] == 0 and edge_list[1][0] == n_w + 1  # the stem conv feeds the first BN


def test_to_pyg_fields() -> None:
    cg, at = _hiaml_like()
    data = to_pyg(cg, y=0.75, name=cg.name)
    f = gennape_features(cg)
    assert data.num_nodes == cg.n_nodes and data.name == "appendix-b"
    assert data.x.shape == (cg.n_nodes, FEATURE_WIDTH)
    np.testing.assert_array_equal(data.op.numpy(), f["op"])
    np.testing.assert_array_equal(data.res.numpy(), f["resolution"])
    np.testing.assert_array_equal(data.kernel.numpy(), f["kernel"])
    np.testing.assert_array_equal(data.bias.numpy(), f["bias"])
    np.testing.assert_array_equal(data.weighted.numpy(), f["weighted"])
    np.testing.assert_array_equal(data.edge_index.numpy(), f["edge_index"])
    stem = at["stem"]
    expected_row = [3, 0.125, 0.0625, 0.125, 0.0625, 0.005859375, 0.125, 3, 3, 1, 0]
    np.testing.assert_allclose(data.x[stem].numpy(), expected_row, rtol=1e-6)
    assert data.y.shape == (1,) and float(data.y) == pytest.approx(0.75)
    assert not hasattr(to_pyg(cg), "y") or to_pyg(cg).y is None


def test_pyg_batching_of_graphs_of_different_sizes() -> None:
    from torch_geometric.data import Batch
    from torch_geometric.loader import DataLoader

    small, _ = _hiaml_like()
    b = CGBuilder((16, 16, 3))
    x = b.conv_bn_act(b.input_node, 8, 3, padding=1)
    tiny = b.build(b.linear(b.mean(x), 2))
    assert small.n_nodes != tiny.n_nodes
    items = [to_pyg(tiny, 0.1), to_pyg(small, 0.2), to_pyg(tiny, 0.3)]
    batch = Batch.from_data_list(items)
    assert batch.num_graphs == 3
    assert batch.num_nodes == 2 * tiny.n_nodes + small.n_nodes
    assert batch.x.shape == (batch.num_nodes, FEATURE_WIDTH) and batch.res.shape == (batch.num_nodes, 6)
    assert batch.y.tolist() == pytest.approx([0.1, 0.2, 0.3])
    assert batch.batch.bincount().tolist() == [tiny.n_nodes, small.n_nodes, tiny.n_nodes]
    # The second graph's edges are offset by the first graph's node count.
    second = batch.edge_index[:, tiny.n_edges : tiny.n_edges + small.n_edges]
    assert second.min().item() == tiny.n_nodes and second.max().item() == tiny.n_nodes + small.n_nodes - 1
    loaded = list(DataLoader(items, batch_size=2, shuffle=False))
    assert [d.num_graphs for d in loaded] == [2, 1]
    assert loaded[0].op.shape == (tiny.n_nodes + small.n_nodes,)


def test_importing_cg_does_not_import_torch_geometric() -> None:
    code = (
        "import sys, gennape_naslib.cg, gennape_naslib.cg.features, gennape_naslib.cg.io;"
        "print('torch_geometric' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
