"""Pairwise members on the Eq. 5 target (``pair_t`` / ``pair_fcm_t``): training order, read-back, persistence."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from gennape_naslib.predictors.gennape import GENNAPEPredictor
from gennape_naslib.predictors.gennape._fast_outputs import member_outputs
from gennape_naslib.predictors.gennape.data import collate, prepare
from gennape_naslib.predictors.gennape.encoder import encode_records
from gennape_naslib.predictors.gennape.finetuning import raw_scores, win_rate_target
from gennape_naslib.predictors.gennape.model import GENNAPENet
from gennape_naslib.predictors.gennape.state import STATE_VERSION

SMALL = dict(
    members=("cl_t", "pair_t", "pair_fcm_t", "flops"), hidden=16, n_layers=2, cl_epochs=1, cl_max_graphs=32,
    n_clusters=2, epochs=3, reference_size=32, random_state=0,
)  # fmt: skip


@pytest.fixture(scope="module")
def nb201(nb201_sample):
    return nb201_sample(5, 80)


@pytest.fixture(scope="module")
def fitted(nb201):
    archs, y = nb201
    return GENNAPEPredictor(**SMALL).fit(archs[:40], y[:40])


def test_win_rate_target_interpolates_between_anchor_targets_and_extrapolates():
    t = np.array([3.0, -1.0, 0.0, 1.0])  # sorted: -1, 0, 1, 3; fraction (i + 0.5) / 4 -> i-th
    assert np.allclose(win_rate_target(np.array([0.125, 0.375, 0.625, 0.875]), t), [-1, 0, 1, 3])
    assert np.isclose(win_rate_target(np.array([0.5]), t)[0], 0.5)  # halfway between 0 and 1
    # beyond the ends: the end segments' slopes (1 per quarter below, 2 per quarter above)
    assert np.allclose(win_rate_target(np.array([0.0, 1.0]), t), [-1.5, 4.0])
    p = np.linspace(0, 1, 101)
    assert np.all(np.diff(win_rate_target(p, t)) > 0)  # strictly increasing
    assert np.allclose(win_rate_target(np.array([0.2, 0.7]), np.array([2.0])), [1.7, 2.2])  # one anchor
    assert np.allclose(win_rate_target(np.array([0.2, 0.7]), np.array([2.0, 2.0])), [1.7, 2.2])  # all equal
    with pytest.raises(ValueError, match="at least one anchor"):
        win_rate_target(np.array([0.5]), np.array([]))


def test_pair_t_learns_the_order_of_its_target_and_pair_the_order_of_accuracy(nb201):
    archs, y = nb201
    records, _ = prepare(archs[:8], None)
    torch.manual_seed(0)
    net = GENNAPENet(["pair", "pair_t"], 1, 16, 2, "GraphConv", "tanh", 16, 4, 8, 2.0)
    net.heads["pair_t"].load_state_dict(net.heads["pair"].state_dict())  # the same classifier twice
    batch = collate(records)
    yt = torch.as_tensor(y[:8], dtype=torch.float32)

    def losses(order: torch.Tensor) -> list[float]:
        net.members = ["pair"]
        a = net.member_losses(batch, {"pair": yt, "pair_t": order}, yt).item()
        net.members = ["pair_t"]
        b = net.member_losses(batch, {"pair": yt, "pair_t": order}, yt).item()
        return [a, b]

    same = losses(2.0 * yt - 1.0)  # a target in the accuracy's order: the same labels
    assert same[0] == pytest.approx(same[1])
    reverse = losses(-yt)  # the opposite order: every label flips
    assert reverse[0] == pytest.approx(same[0]) and reverse[1] != pytest.approx(reverse[0], rel=1e-3)


def test_pair_t_scores_are_read_back_as_accuracy_with_the_flops(fitted, nb201):
    archs, _ = nb201
    records, _ = prepare(archs[40:], None)
    raw = raw_scores(fitted, records)
    net = fitted.net_
    h = encode_records([net.encoder], records)[0]
    outs = member_outputs(net, h, net.embed(fitted.anchors_))
    gf = np.array([r.gflops for r in records])
    tt = fitted.transforms_[True]
    assert len(fitted.anchor_t_) == len(fitted.anchors_) and np.all(np.diff(fitted.anchor_t_) >= 0)
    for name in ("pair_t", "pair_fcm_t"):
        p = outs[name][0]
        assert np.all((p > 0) & (p < 1))
        assert np.allclose(raw[name][0], tt.inverse(win_rate_target(p, fitted.anchor_t_), gf))
        assert np.all(raw[name][1] >= 0)
    # in accuracy units around the training accuracies, not win probabilities
    assert 30 < np.median(raw["pair_t"][0]) < 100
    # the same win rate with more FLOPs reads as a higher accuracy
    hi = tt.inverse(win_rate_target(np.array([0.5, 0.5]), fitted.anchor_t_), np.array([0.01, 0.2]))
    assert hi[1] > hi[0]


def test_pair_t_members_predict_save_load_and_finetune(fitted, nb201, tmp_path):
    archs, y = nb201
    test = archs[40:]
    pred = fitted.predict(test)
    members = fitted.predict_members(test)
    assert members.shape == (4, len(test)) and np.all(np.isfinite(members))
    assert spearmanr(members[1], y[40:]).statistic > 0  # the pair_t member ranks in the accuracy's direction
    path = tmp_path / "pair_t.npz"
    fitted.save(path)
    again = GENNAPEPredictor.load(path)
    assert np.array_equal(again.anchor_t_, fitted.anchor_t_)
    assert np.allclose(again.predict(test), pred)
    assert fitted._get_state()["state_version"] == STATE_VERSION == 8
    tuned = fitted.finetune(archs[40:50], y[40:50], epochs=2)
    assert np.isfinite(tuned.member_tau_).all() and np.array_equal(fitted.predict(test), pred)
    assert not np.allclose(tuned.predict_members(test)[1], members[1])
