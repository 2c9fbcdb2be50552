"""Resolution features relative to the graph (``GENNAPEPredictor(res_norm=...)``, ``data.renormalised``)."""

from __future__ import annotations

import numpy as np
import pytest

from gennape_naslib.predictors.gennape import GENNAPEPredictor
from gennape_naslib.predictors.gennape.data import prepare, renormalised
from gennape_naslib.search_spaces import get

SMALL = dict(
    hidden=16, n_layers=2, cl_epochs=1, cl_max_graphs=32, n_clusters=2, epochs=3, reference_size=24, n_anchors=8,
    random_state=0,
)  # fmt: skip


def test_renormalised_divides_each_column_pair_by_the_graph_maximum():
    records = [prepare([get(f).sample(0)])[0][0] for f in ("ofa_mbv3", "nb201")]
    before = [r.res.copy() for r in records]
    assert renormalised(records, "fixed") == records
    out = renormalised(records, "graph")
    for r, new, res in zip(records, out, before):
        assert np.array_equal(r.res, res)  # inputs (possibly cached) are not written to
        peaks = res.reshape(-1, 3, 2).max(axis=(0, 2))
        assert np.allclose(new.res, res / np.repeat(peaks, 2), rtol=1e-6)
        assert np.allclose(new.res.reshape(-1, 3, 2).max(axis=(0, 2)), 1.0)
        assert new.key == r.key and new.op is r.op and new.gflops == r.gflops
    # MBv3's channels reach 1,280 (2.5 of GENNAPE's 512) and its input 224 px; NB-201's 64 and 32 px
    assert before[0][:, 4:].max() > 1.0 > before[1][:, 4:].max()
    # a column pair that is 0 everywhere stays 0 instead of dividing by 0
    flat = records[1]._replace(res=np.zeros_like(records[1].res))
    assert not renormalised([flat], "graph")[0].res.any()
    with pytest.raises(ValueError, match="res_norm must be one of"):
        renormalised(records, "global")


@pytest.fixture(scope="module")
def nb201(nb201_sample):
    return nb201_sample(12, 50)


def test_graph_norm_makes_predictions_independent_of_the_normalisation_constants(nb201):
    archs, y = nb201
    adapter = get("nb201")
    graphs = [adapter.to_cg(a) for a in archs]
    wide = [g.copy(max_hidden=4 * g.max_hidden, max_h=2 * g.max_h, max_w=2 * g.max_w) for g in graphs]
    fixed = GENNAPEPredictor(**SMALL).fit(graphs[:30], y[:30])
    graph = GENNAPEPredictor(**SMALL, res_norm="graph").fit(graphs[:30], y[:30])
    assert GENNAPEPredictor().res_norm == "fixed"
    # GENNAPE's constants change what a fixed-normalisation model sees, not what a graph-normalised one sees
    assert np.array_equal(graph.predict(graphs[30:]), graph.predict(wide[30:]))
    assert not np.allclose(fixed.predict(graphs[30:]), fixed.predict(wide[30:]))
    assert not np.allclose(fixed.predict(graphs[30:]), graph.predict(graphs[30:]))
    # trained on the rescaled graphs it is the same model
    again = GENNAPEPredictor(**SMALL, res_norm="graph").fit(wide[:30], y[:30])
    assert np.allclose(again.predict(graphs[30:]), graph.predict(graphs[30:]), rtol=1e-6)


def test_res_norm_is_kept_through_save_finetune_and_checked(nb201, tmp_path):
    archs, y = nb201
    model = GENNAPEPredictor(**SMALL, res_norm="graph").fit(archs[:30], y[:30])
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = GENNAPEPredictor.load(path)
    assert loaded.res_norm == "graph"
    assert np.array_equal(loaded.predict(archs[30:]), model.predict(archs[30:]))
    # set_params on a model that has predicted already: the family's reference sample is rebuilt under the new setting
    fresh = GENNAPEPredictor.load(path).set_params(res_norm="fixed")
    switched = GENNAPEPredictor.load(path)
    switched.predict(archs[30:])
    assert np.array_equal(switched.set_params(res_norm="fixed").predict(archs[30:]), fresh.predict(archs[30:]))
    tuned = model.finetune(archs[30:40], y[30:40], epochs=2)
    assert tuned.res_norm == "graph"
    assert all(np.isclose(r.res.reshape(-1, 3, 2).max(axis=(0, 2)), 1.0).all() for r in tuned.anchors_)
    with pytest.raises(ValueError, match="res_norm must be one of"):
        GENNAPEPredictor(**SMALL, res_norm="max").fit(archs[:30], y[:30])


def test_graph_records_are_cached_per_normalisation_constants():
    # the content hash covers nodes and edges only: a copy with other constants must not get the cached features
    g = get("nb201").to_cg(get("nb201").sample(0))
    wide = g.copy(max_hidden=2 * g.max_hidden)
    assert wide.content_hash() == g.content_hash()
    (a,), _ = prepare([g])
    (b,), _ = prepare([wide])
    assert np.allclose(b.res[:, 4:] * 2, a.res[:, 4:]) and np.array_equal(b.res[:, :4], a.res[:, :4])
    assert prepare([g])[0][0] is a  # still cached
