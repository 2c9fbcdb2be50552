"""The encoder's sparse GraphConv path computes what PyG's GraphConv layers compute."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.utils import scatter

from gennape_naslib import search_spaces
from gennape_naslib.predictors.gennape import data as gdata
from gennape_naslib.predictors.gennape.encoder import CGEncoder, fast_tanh, mean_readout, sum_adjacency


def _batch(n: int = 6):
    fam = search_spaces.get("nb201")
    rng = np.random.default_rng(0)
    records, _ = gdata.prepare([fam.sample(rng) for _ in range(n)], fam)
    return gdata.collate(records)


def _reference(enc: CGEncoder, batch) -> torch.Tensor:
    h = enc.embed(batch)
    for layer in enc.layers:
        h = torch.tanh(layer(h, batch.edge_index))
    return scatter(h, batch.batch, 0, dim_size=batch.num_graphs, reduce="mean")


def test_sparse_graphconv_matches_pyg_forward_and_gradients():
    torch.manual_seed(0)
    enc = CGEncoder()
    batch = _batch()
    fast = enc(batch)
    grads_fast = torch.autograd.grad(fast.square().sum(), list(enc.parameters()))
    ref = _reference(enc, batch)
    grads_ref = torch.autograd.grad(ref.square().sum(), list(enc.parameters()))
    assert torch.allclose(fast, ref, atol=1e-5)
    for a, b in zip(grads_fast, grads_ref):
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-3)


def test_sum_adjacency_counts_parallel_edges_and_direction():
    class B:  # a two-graph batch: 0->1 twice, 1->2; 3->4
        edge_index = torch.tensor([[0, 0, 1, 3], [1, 1, 2, 4]])
        num_nodes = 5

    adj = sum_adjacency(B()).to_dense()
    expected = torch.zeros(5, 5)
    expected[1, 0], expected[2, 1], expected[4, 3] = 2, 1, 1
    assert torch.equal(adj, expected)


def test_fast_tanh_and_mean_readout():
    x = torch.linspace(-30, 30, 2001)
    assert torch.allclose(fast_tanh(x.clone()), torch.tanh(x), atol=5e-7)

    class B:
        batch = torch.tensor([0, 0, 1, 1, 1])
        num_graphs = 3  # the last graph has no nodes: its mean is zero, not NaN

    h = torch.arange(10.0).view(5, 2)
    out = mean_readout(h, B())
    assert torch.equal(out, torch.tensor([[1.0, 2.0], [6.0, 7.0], [0.0, 0.0]]))


@pytest.mark.parametrize("gnn", ["GCNConv", "SAGEConv"])
def test_other_layer_types_still_go_through_pyg(gnn):
    torch.manual_seed(0)
    enc = CGEncoder(gnn=gnn)
    batch = _batch(3)
    h = enc.embed(batch)
    for layer in enc.layers:
        h = torch.tanh(layer(h, batch.edge_index))
    ref = scatter(h, batch.batch, 0, dim_size=batch.num_graphs, reduce="mean")
    assert torch.allclose(enc(batch), ref, atol=1e-5)


def test_kgnn_predict_uses_node_classes_and_matches_the_full_pass():
    from gennape_naslib.predictors.gennape.regressor import predict_regressor
    from gennape_naslib.predictors.kgnn import KGNNPredictor

    fam = search_spaces.get("nb201")
    rng = np.random.default_rng(1)
    archs = [fam.sample(rng) for _ in range(60)]
    y = rng.uniform(80, 94, size=20)  # any targets: only the forward pass is compared
    model = KGNNPredictor(hidden=16, n_layers=3, epochs=2, lr=1e-2, random_state=0).fit(archs[:20], y, family=fam)
    records, _ = gdata.prepare(archs, fam)
    full = predict_regressor(model.model_, records) * model.y_std_ + model.y_mean_
    fast = model.predict(archs, family=fam)
    assert fast.shape == (60,) and fast.dtype == np.float64
    assert np.allclose(fast, full, atol=1e-4 * model.y_std_)
    assert np.ptp(fast) > 1e-3  # a constant output would hide a broken encoder
