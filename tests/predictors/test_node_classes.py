"""Inference on node classes (colour refinement) computes what the full GraphConv pass computes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gennape_naslib import search_spaces
from gennape_naslib.predictors.gennape import data as gdata
from gennape_naslib.predictors.gennape import node_classes as nc
from gennape_naslib.predictors.gennape.encoder import CGEncoder, encode_records


def _records(family: str, n: int, seed: int = 0) -> list[gdata.GraphArrays]:
    fam = search_spaces.get(family)
    rng = np.random.default_rng(seed)
    records, _ = gdata.prepare([fam.sample(rng) for _ in range(n)], fam)
    return records


def _synthetic() -> list[gdata.GraphArrays]:
    """Two small graphs with in-degree 3 and 4, parallel edges and twin nodes."""
    out = []
    for n, edges in ((6, [(0, 1), (0, 2), (0, 3), (1, 4), (2, 4), (3, 4), (4, 5), (4, 5)]),
                     (5, [(0, 1), (0, 2), (1, 3), (2, 3), (0, 3), (0, 3), (3, 4)])):  # fmt: skip
        op = np.array([0] + [3] * (n - 2) + [1], dtype=np.int64)
        res = np.full((n, 6), 0.25, dtype=np.float32)
        kernel = np.zeros((n, 2), dtype=np.int64)
        weighted = np.zeros(n, dtype=bool)
        if n == 6:  # graph 0's node 1 is a conv; graph 1 has twins 1 and 2
            weighted[1], kernel[1] = True, (3, 3)
        e = np.array(edges, dtype=np.int64).T.copy()
        out.append(gdata.GraphArrays(op, res, kernel, np.zeros(n, dtype=bool), weighted, e, 0.1, ("syn", n)))
    return out


def _full(enc: CGEncoder, batch) -> torch.Tensor:
    with torch.no_grad():
        return enc(batch)


@pytest.mark.parametrize("family", ["nb201", "nb101", "ofa_mbv3"])
def test_class_inference_matches_the_full_pass(family):
    torch.manual_seed(0)
    enc = CGEncoder().eval()
    batch = gdata.collate(_records(family, 6))
    fast = enc.forward_classes(batch)
    assert getattr(batch, "_node_classes", None) is not None  # the class path ran
    ref = _full(enc, gdata.collate(_records(family, 6)))
    assert getattr(batch, "_node_classes", None) is not None
    assert torch.allclose(fast, ref, rtol=1e-5, atol=1e-6), float((fast - ref).abs().max())


def test_classes_on_high_in_degree_and_parallel_edges():
    torch.manual_seed(1)
    enc = CGEncoder(n_layers=3).eval()
    records = _synthetic()
    fast = enc.forward_classes(gdata.collate(records))
    assert torch.allclose(fast, _full(enc, gdata.collate(records)), rtol=1e-5, atol=1e-6)
    classes = nc.node_classes(gdata.collate(records), 3)
    # graph 0: nodes 1 and 2 differ at layer 0 (node 1 is weighted) ...
    inv0 = classes.inverse[0].numpy()
    assert inv0[1] != inv0[2] and inv0[2] == inv0[3]
    # ... and graph 1's twins 1 and 2 stay one class; a parallel edge counts twice (node 3 of graph 1)
    inv1 = classes.inverse[1].numpy()
    assert inv1[6 + 1] == inv1[6 + 2]
    assert classes.adjacency[0].to_dense().sum(1).max() == 4


def test_nodes_of_a_class_have_equal_states_and_classes_refine():
    torch.manual_seed(2)
    enc = CGEncoder().eval()
    batch = gdata.collate(_records("nb201", 4, seed=5))
    classes = nc.node_classes(batch, 6)
    with torch.no_grad():
        h = enc.embed(batch)
        from gennape_naslib.predictors.gennape.encoder import fast_tanh, sum_adjacency

        adj = sum_adjacency(batch)
        for t, layer in enumerate(enc.layers, start=1):
            h = fast_tanh(layer.lin_rel(torch.sparse.mm(adj, h)) + layer.lin_root(h))
            inv = classes.inverse[t]
            rep_state = h.index_select(0, classes.rep[t]).index_select(0, inv)
            assert torch.allclose(h, rep_state, atol=1e-6)
            # every class at t lies inside one class at t - 1
            prev = classes.inverse[t - 1].numpy()
            pairs = set(zip(inv.numpy().tolist(), prev.tolist()))
            assert len(pairs) == len(classes.rep[t])
    assert [len(r) for r in classes.rep] == sorted(len(r) for r in classes.rep)
    # the class readout is the mean of the node states of every graph
    from gennape_naslib.predictors.gennape.encoder import mean_readout

    states = torch.randn(len(classes.rep[6]), 5)
    expected = mean_readout(states.index_select(0, classes.inverse[6]), batch)
    assert torch.allclose(
        torch.sparse.mm(nc.readout_matrix(batch, classes, 6), states.double()).float(), expected, atol=1e-6
    )


def test_hash_collisions_fall_back_to_exact_classes(monkeypatch):
    rows = np.array([[1, 2], [3, 4], [1, 2], [5, 6]], dtype=np.int64)
    monkeypatch.setattr(nc, "_HASH_MUL", np.zeros(5, dtype=np.uint64))  # every row hashes alike
    inverse, rep = nc._factorize_rows(rows, small=False)
    assert inverse[0] == inverse[2] and len({inverse[0], inverse[1], inverse[3]}) == 3
    assert np.array_equal(rows[rep[inverse]], rows)


def test_forward_is_the_full_pass_and_encode_records_matches():
    torch.manual_seed(3)
    enc, other = CGEncoder().eval(), CGEncoder().eval()
    records = _records("nb201", 5, seed=7)
    batch = gdata.collate(records)
    with torch.no_grad():
        enc(batch)
    assert getattr(batch, "_node_classes", None) is None  # forward (training, embed) never uses classes
    a, b = encode_records([enc, other], records, batch_size=2)
    assert torch.allclose(a, _full(enc, gdata.collate(records)), atol=1e-6)
    assert torch.allclose(b, _full(other, gdata.collate(records)), atol=1e-6)
    assert encode_records([], records) == []
    gcn = CGEncoder(gnn="GCNConv").eval()
    with pytest.raises(ValueError, match="needs GraphConv"):
        gcn.forward_classes(batch)
    (c,) = encode_records([gcn], records)  # other layer types: the full pass
    assert torch.allclose(c, _full(gcn, gdata.collate(records)), atol=1e-6)
