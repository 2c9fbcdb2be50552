"""scripts/bench_hparams.py: anchor variants of a fit are exactly the fits with that many anchors."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from gennape_naslib.predictors.gennape import GENNAPEPredictor

SMALL = dict(
    members=("cl_t", "pair", "pair_fcm", "flops"), hidden=16, n_layers=2, cl_epochs=1, cl_max_graphs=32,
    n_clusters=2, epochs=2, reference_size=32, random_state=3,
)  # fmt: skip


@pytest.fixture(scope="module")
def bh(load_script):
    scripts = str(Path(__file__).resolve().parents[2] / "scripts")
    sys.path.insert(0, scripts)  # the script imports its sibling bench_predictor
    try:
        yield load_script("bench_hparams")
    finally:
        sys.path.remove(scripts)


def test_anchor_variant_predicts_as_a_fit_with_that_many_anchors(bh, nb201_sample):
    archs, y = nb201_sample(7, 70)
    xtr, ytr, test = archs[:30], y[:30], archs[30:]
    model = GENNAPEPredictor(**SMALL).fit(xtr, ytr)
    before = model.predict(test)
    for k in (4, 30):
        variant = bh.anchor_variant(model, xtr, ytr, k)
        direct = GENNAPEPredictor(**{**SMALL, "n_anchors": k}).fit(xtr, ytr)
        assert len(variant.anchors_) == len(direct.anchors_) == k
        assert np.array_equal(variant.predict(test), direct.predict(test))
        assert np.array_equal(variant.predict_members(test), direct.predict_members(test))
    assert not np.array_equal(bh.anchor_variant(model, xtr, ytr, 4).predict(test), before)  # anchors matter
    assert np.array_equal(model.predict(test), before) and len(model.anchors_) == 16  # the model is unchanged
    with pytest.raises(ValueError, match="n_repeats=1"):
        bh.anchor_variant(GENNAPEPredictor(**{**SMALL, "n_repeats": 2}).fit(xtr, ytr), xtr, ytr, 4)
