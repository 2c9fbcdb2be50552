"""Pair-order term of the CL regressors' loss (``GENNAPEPredictor(rank_weight=...)``, :func:`pair_order_loss`)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gennape_naslib.predictors.gennape import GENNAPEPredictor
from gennape_naslib.predictors.gennape.model import pair_order_loss

SMALL = dict(
    members=("cl_t", "pair", "kgnn", "flops"), hidden=16, n_layers=2, cl_epochs=1, cl_max_graphs=32,
    n_clusters=2, epochs=4, reference_size=32, random_state=0,
)  # fmt: skip


def test_pair_order_loss_values():
    pred = torch.tensor([0.0, 1.0, 3.0])
    target = torch.tensor([0.0, 2.0, 1.0])
    # pairs (0,1): target says 1 better, pred diff 0-1 = -1 with sign -1 -> softplus(-1)
    # (0,2): sign -1, diff -3 -> softplus(-3); (1,2): sign +1, diff -2 -> softplus(2)
    want = (math.log1p(math.exp(-1.0)) + math.log1p(math.exp(-3.0)) + math.log1p(math.exp(2.0))) / 3
    assert pair_order_loss(pred, target).item() == pytest.approx(want, rel=1e-6)
    # ties in the target are left out ((0,2): order right by 1; (1,2): wrong by 4); no differing pair gives 0
    tied = pair_order_loss(torch.tensor([0.0, 5.0, 1.0]), torch.tensor([1.0, 1.0, 2.0]))
    assert tied.item() == pytest.approx((math.log1p(math.exp(-1.0)) + math.log1p(math.exp(4.0))) / 2, rel=1e-6)
    assert pair_order_loss(torch.tensor([1.0, 2.0]), torch.tensor([3.0, 3.0])).item() == 0.0
    # a correct order with a wide margin costs almost nothing, the reverse order a lot
    assert pair_order_loss(torch.tensor([0.0, 10.0]), torch.tensor([0.0, 1.0])).item() < 1e-4
    assert pair_order_loss(torch.tensor([10.0, 0.0]), torch.tensor([0.0, 1.0])).item() > 9.9


@pytest.fixture(scope="module")
def nb201(nb201_sample):
    return nb201_sample(5, 60)


def test_rank_weight_trains_the_regressors_only(nb201, tmp_path):
    archs, y = nb201
    plain = GENNAPEPredictor(**SMALL, rank_weight=0.0).fit(archs[:30], y[:30])
    ranked = GENNAPEPredictor(**SMALL, rank_weight=1.0).fit(archs[:30], y[:30])
    default = GENNAPEPredictor(**SMALL).fit(archs[:30], y[:30])
    test = archs[30:]
    assert default.rank_weight == 1.0 and np.array_equal(default.predict(test), ranked.predict(test))
    assert not np.allclose(plain.predict(test), ranked.predict(test))
    assert ranked.history_["heads"] != plain.history_["heads"]
    for a, b in zip(plain.kgnn_.parameters(), ranked.kgnn_.parameters()):  # the k-GNN member keeps its MSE
        assert torch.equal(a, b)
    path = ranked.save(tmp_path / "ranked.npz")
    loaded = GENNAPEPredictor.load(path)
    assert loaded.rank_weight == 1.0 and np.array_equal(loaded.predict(test), ranked.predict(test))


@pytest.mark.parametrize("bad", [-0.5, float("nan"), float("inf"), True, "1"])
def test_bad_rank_weight_is_refused_before_training(nb201, bad):
    archs, y = nb201
    with pytest.raises(ValueError, match="rank_weight must be a finite number >= 0"):
        GENNAPEPredictor(**SMALL, rank_weight=bad).fit(archs[:10], y[:10])


def test_files_saved_before_the_option_load_with_the_mse_alone(tmp_path):
    from gennape_naslib.predictors._files import read_file, write_file

    shipped = GENNAPEPredictor.pretrained()  # trained with rank_weight=0 (scripts/train_pretrained.py)
    assert shipped.rank_weight == 0.0
    path = shipped.save(tmp_path / "now.npz")
    header, params, state = read_file(path)
    assert params["rank_weight"] == 0.0 and GENNAPEPredictor.load(path).rank_weight == 0.0
    del params["rank_weight"]  # a file of state version 6, before the option: it loads with 0, not the default 1
    state["state_version"] = 6
    old = write_file(tmp_path / "old.npz", header, params, state)
    assert GENNAPEPredictor.load(old).rank_weight == 0.0
