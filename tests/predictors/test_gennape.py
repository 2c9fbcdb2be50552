"""Tests of the GENNAPE predictor package and the k-GNN baseline (fast configurations, real NB-201 data)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from gennape_naslib.predictors import get_predictor
from gennape_naslib.predictors.gennape import GENNAPEPredictor, KGNNPredictor
from gennape_naslib.predictors.gennape.contrastive import contrastive_loss, laplacian_spectrum, spectral_weights
from gennape_naslib.predictors.gennape.data import collate, prepare
from gennape_naslib.predictors.gennape.encoder import GNN_LAYERS, CGEncoder, resolve_gnn_layer
from gennape_naslib.predictors.gennape.ensemble import agreement_weights
from gennape_naslib.predictors.gennape.fcm import fcm_fit, fcm_memberships
from gennape_naslib.predictors.gennape.heads import ClusterHeads, PairwiseHeads
from gennape_naslib.predictors.gennape.predictor import PRETRAINED
from gennape_naslib.predictors.gennape.target import TargetTransform

FAST = dict(
    members=("cl_fcm_t",), hidden=16, n_layers=2, cl_epochs=1, cl_max_graphs=64, n_clusters=2, epochs=3,
    reference_size=32, fit_weights="equal", random_state=0,
)  # fmt: skip


@pytest.fixture(scope="module")
def nb201(nb201_sample):
    return nb201_sample(0, 400)


@pytest.fixture(scope="module")
def fitted(nb201):
    archs, y = nb201
    return GENNAPEPredictor(**FAST).fit(archs[:60], y[:60])


# ---------------------------------------------------------------------- fuzzy C-means
def test_fcm_memberships_sum_to_one_and_recover_blobs():
    rng = np.random.default_rng(1)
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    x = np.concatenate([c + rng.normal(0, 0.5, (40, 2)) for c in centers])
    v, u, iters = fcm_fit(x, 3, m=2.0, random_state=0)
    assert u.shape == (120, 3) and np.allclose(u.sum(1), 1.0)
    assert 1 <= iters <= 300
    # every true centre has a fitted centroid within 0.5, and points belong to their own blob
    assert np.all(np.min(np.linalg.norm(centers[:, None] - v[None], axis=2), axis=1) < 0.5)
    labels = u.argmax(1)
    for b in range(3):
        assert len(set(labels[b * 40 : (b + 1) * 40])) == 1
    # memberships of new points from the fixed centroids (Eq. 2 only)
    new = fcm_memberships(centers + 0.1, v)
    assert np.allclose(new.sum(1), 1.0) and np.all(new.max(1) > 0.9)
    assert len(set(new.argmax(1))) == 3


def test_fcm_point_on_centroid_and_errors():
    v = np.array([[0.0, 0.0], [1.0, 1.0]])
    assert np.allclose(fcm_memberships(np.array([[0.0, 0.0]]), v), [[1.0, 0.0]])
    with pytest.raises(ValueError, match="fuzzifier"):
        fcm_memberships(v, v, m=1.0)
    with pytest.raises(ValueError, match="n_clusters"):
        fcm_fit(v, 3)


# ---------------------------------------------------------------------- target transform
def test_target_transform_eq5_and_exact_inverse():
    acc = np.array([90.0, 80.0, 70.0, 93.0])
    gflops = np.array([0.1, 1.0, 9.0, 0.0])
    tt = TargetTransform().fit(acc, gflops)
    z = tt.transform(acc, gflops)
    assert abs(z.mean()) < 1e-12 and abs(z.std() - 1) < 1e-12
    scaled = acc / (np.log10(gflops + 1) + 1)
    assert np.allclose(z, (scaled - scaled.mean()) / scaled.std())
    assert np.allclose(tt.inverse(z, gflops), acc)
    # other family: same constants, still an exact inverse
    other = np.array([0.2, 5.0])
    assert np.allclose(tt.inverse(tt.transform([75.0, 77.0], other), other), [75.0, 77.0])
    plain = TargetTransform(use_flops=False).fit(acc, gflops)
    assert np.allclose(plain.transform(acc, gflops), (acc - acc.mean()) / acc.std())
    assert TargetTransform.from_state(tt.get_state()).inverse(z, gflops) == pytest.approx(acc)
    with pytest.raises(ValueError, match="FLOPs"):
        tt.transform(acc, -gflops - 1)


# ---------------------------------------------------------------------- contrastive parts
def test_laplacian_spectrum_known_values_and_padding():
    vals = laplacian_spectrum(2, np.array([[0], [1]]))
    assert vals.shape == (21,)
    assert np.allclose(vals[:2], [0.0, 2.0]) and np.allclose(vals[2:], 1.0)
    # direction does not matter
    e = np.array([[0, 1, 2], [1, 2, 3]])
    assert np.allclose(laplacian_spectrum(4, e), laplacian_spectrum(4, e[::-1]))


def test_spectral_weights_favour_own_view_and_similar_graphs():
    spectra = np.array([[0.0, 0.5], [0.0, 0.55], [0.0, 1.9]])
    alpha = spectral_weights(spectra, temperature=0.05)
    assert alpha.shape == (6, 6)
    assert torch.allclose(alpha.sum(1), torch.ones(6))
    assert torch.all(alpha.diagonal() == 0)
    assert alpha[0].argmax() == 3  # the other view of graph 0
    assert alpha[0, 1] > alpha[0, 2]  # spectrally closer graph weighs more


def test_contrastive_loss_prefers_aligned_views():
    alpha = spectral_weights(np.array([[0.0], [1.0], [2.0]]), temperature=0.05)
    base = torch.eye(3, 8)
    aligned = contrastive_loss(torch.cat([base, base]), alpha, 0.1)
    shuffled = contrastive_loss(torch.cat([base, base[[1, 2, 0]]]), alpha, 0.1)
    assert float(aligned) < float(shuffled)


# ---------------------------------------------------------------------- encoder and heads
def test_gnn_layer_resolution_and_every_layer_type_runs(nb201):
    archs, _ = nb201
    batch = collate(prepare(archs[:3])[0])
    for name in GNN_LAYERS:
        assert resolve_gnn_layer(name.lower()) == name
        out = CGEncoder(hidden=16, n_layers=2, gnn=name)(batch)
        assert out.shape == (3, 16) and torch.isfinite(out).all()
    assert resolve_gnn_layer("gin") == "GINConv"
    with pytest.raises(ValueError, match="could not resolve GNN layer 'GCN2'"):
        resolve_gnn_layer("GCN2")


def test_collate_matches_pyg_batch(nb201):
    from torch_geometric.data import Batch

    from gennape_naslib.cg.features import to_pyg
    from gennape_naslib.search_spaces import get

    archs, _ = nb201
    ours = collate(prepare(archs[:4])[0])
    ref = Batch.from_data_list([to_pyg(get("nb201").to_cg(a)) for a in archs[:4]])
    for field in ("op", "res", "kernel", "bias", "weighted", "edge_index", "batch"):
        assert torch.equal(getattr(ours, field), getattr(ref, field)), field


def test_cluster_heads_soft_aggregation_and_pairwise_antisymmetry():
    torch.manual_seed(0)
    heads = ClusterHeads(5, n_clusters=3)
    h = torch.randn(4, 5)
    f = heads.all_heads(h)
    onehot = torch.eye(3)[[0, 2, 1, 2]]
    y, spread = heads(h, onehot)
    assert torch.allclose(y, f[torch.arange(4), torch.tensor([0, 2, 1, 2])]) and torch.allclose(spread, torch.zeros(4))
    u = torch.softmax(torch.randn(4, 3), 1)
    assert torch.allclose(heads(h, u)[0], (u * f).sum(1))
    pair = PairwiseHeads(5, n_clusters=3)
    a, b = torch.randn(6, 5), torch.randn(6, 5)
    ua, ub = torch.softmax(torch.randn(6, 3), 1), torch.softmax(torch.randn(6, 3), 1)
    assert torch.allclose(pair(a, b, ua, ub), -pair(b, a, ub, ua), atol=1e-6)


# ---------------------------------------------------------------------- predictor behaviour
def test_fit_predict_shapes_std_and_registry(fitted, nb201):
    archs, _ = nb201
    mean, std = fitted.predict(archs[60:80], return_std=True)
    assert mean.shape == (20,) and std.shape == (20,) and mean.dtype == np.float64
    assert np.all(std >= 0) and np.all(np.isfinite(mean))
    assert np.allclose(mean, fitted.predict(archs[60:80]))
    assert isinstance(get_predictor("gennape", **FAST), GENNAPEPredictor)
    assert isinstance(get_predictor("kgnn"), KGNNPredictor)
    assert fitted.get_params()["members"] == ("cl_fcm_t",)


def test_deterministic_under_seed(fitted, nb201):
    archs, y = nb201
    again = GENNAPEPredictor(**FAST).fit(archs[:60], y[:60])
    assert np.array_equal(again.predict(archs[60:90]), fitted.predict(archs[60:90]))


def test_save_load_gives_equal_predictions(fitted, nb201, tmp_path):
    archs, _ = nb201
    path = fitted.save(tmp_path / "g.npz")
    loaded = GENNAPEPredictor.load(path)
    assert np.array_equal(loaded.predict(archs[60:90]), fitted.predict(archs[60:90]))
    assert loaded.get_params() == fitted.get_params()


def test_finetune_returns_copy_and_leaves_original_unchanged(fitted, nb201):
    archs, y = nb201
    before = fitted.predict(archs[100:130])
    state = {k: v.clone() for k, v in fitted.net_.state_dict().items()}
    tuned = fitted.finetune(archs[60:70], y[60:70], epochs=2)
    assert tuned is not fitted
    assert np.array_equal(fitted.predict(archs[100:130]), before)
    assert all(torch.equal(state[k], v) for k, v in fitted.net_.state_dict().items())
    assert not np.array_equal(tuned.predict(archs[100:130]), before)
    assert tuned.weights_.sum() == pytest.approx(1.0)


def test_default_epochs_reach_min_steps_on_small_sets_and_keep_40_on_large(nb201):
    model = GENNAPEPredictor()
    assert model.epochs is None and model.min_steps == 800
    assert [model.resolved_epochs(n) for n in (100, 128, 200, 640, 1000)] == [200, 200, 115, 40, 40]
    assert GENNAPEPredictor(epochs=7).resolved_epochs(100) == 7
    archs, y = nb201
    small = GENNAPEPredictor(**{**FAST, "epochs": None, "min_steps": 6, "batch_size": 16}).fit(archs[:40], y[:40])
    assert small.epochs_ == 40  # 3 batches per epoch: 2 epochs would reach 6 steps, the floor is 40
    many = GENNAPEPredictor(**{**FAST, "epochs": None, "min_steps": 150, "batch_size": 16}).fit(archs[:40], y[:40])
    assert many.epochs_ == 50 and len(many.history_["heads"]) == 50


def test_finetune_learning_rate_defaults_to_lr_and_is_used(fitted, nb201):
    archs, y = nb201
    default = fitted.finetune(archs[60:70], y[60:70], epochs=2).predict(archs[100:130])
    explicit = copy.deepcopy(fitted).set_params(finetune_lr=fitted.lr).finetune(archs[60:70], y[60:70], epochs=2)
    slower = copy.deepcopy(fitted).set_params(finetune_lr=fitted.lr / 10).finetune(archs[60:70], y[60:70], epochs=2)
    np.testing.assert_array_equal(explicit.predict(archs[100:130]), default)
    assert not np.array_equal(slower.predict(archs[100:130]), default)


def test_full_ensemble_members_and_kendall_weights(nb201):
    archs, y = nb201
    model = GENNAPEPredictor(**{**FAST, "members": ("cl_t", "pair", "kgnn", "flops"), "epochs": 1}).fit(
        archs[:40], y[:40]
    )
    assert np.allclose(model.weights_, 0.25)
    mean, std = model.predict(archs[40:60], return_std=True)
    assert mean.shape == (20,) and np.all(std >= 0)
    rows = model.predict_members(archs[40:60])
    assert rows.shape == (4, 20) and np.all(np.isfinite(rows))
    model.set_params(calibration="linear")  # the linear map keeps "mean of the rows = prediction" exact
    assert np.allclose(model.predict_members(archs[40:60]).mean(0), model.predict(archs[40:60]))
    model.set_params(calibration="quantile")
    tuned = model.finetune(archs[60:76], y[60:76], epochs=1)
    taus = tuned.member_tau_
    expected = np.exp(taus / 0.1) / np.exp(taus / 0.1).sum()
    assert np.allclose(tuned.weights_, expected)
    with pytest.raises(ValueError, match="members must be distinct names"):
        GENNAPEPredictor(members=("cl_t", "nope")).fit(archs[:5], y[:5])


def test_agreement_weights_follow_member_reliability():
    rng = np.random.default_rng(0)
    t = rng.normal(size=600)
    noise = [0.3, 0.7, 1.5]
    scores = np.stack([t + s * rng.normal(size=600) for s in noise] + [rng.normal(size=600)])
    w = agreement_weights(scores)
    assert w.shape == (4,) and w.sum() == pytest.approx(1.0) and np.all(w >= 0)
    assert w[0] > w[1] > w[2] > w[3] and w[3] < 0.05
    # monotone rescaling changes nothing; flipping every member is undone by the anchor orientation
    assert np.allclose(agreement_weights(np.exp(scores)), w)
    assert np.allclose(agreement_weights(-scores), w)
    # a member anti-correlated with the anchor gets no weight
    anti = agreement_weights(np.concatenate([scores[:3], -scores[:1]]))
    assert anti[3] == 0.0 and anti[0] > 0
    assert np.allclose(agreement_weights(scores[:2]), 0.5)  # too few members: equal
    assert np.allclose(agreement_weights(np.ones((3, 10))), 1 / 3)  # no signal: equal
    with pytest.raises(ValueError, match="anchor 5"):
        agreement_weights(scores, anchor=5)
    with pytest.raises(ValueError, match="members, architectures"):
        agreement_weights(t)


def test_zero_shot_agreement_weights_in_predict(nb201):
    archs, y = nb201
    params = {**FAST, "members": ("cl_t", "pair", "flops"), "epochs": 1, "zero_shot_weights": "agreement"}
    model = GENNAPEPredictor(**params).fit(archs[:40], y[:40])
    assert np.allclose(model.weights_, 1 / 3)  # the stored zero-shot weights stay the paper's
    w = model.member_weights("nb201")
    assert w.shape == (3,) and w.sum() == pytest.approx(1.0) and np.all(w >= 0)
    model.set_params(calibration="linear")
    rows = model.predict_members(archs[40:60])
    assert np.allclose(model.predict(archs[40:60]), w @ rows)
    model.set_params(calibration="quantile")
    assert np.array_equal(model.member_weights(None), model.weights_)  # no family sample: equal weights
    tuned = model.finetune(archs[60:76], y[60:76], epochs=1)
    assert np.array_equal(tuned.member_weights("nb201"), tuned.weights_)  # Kendall weights after fine-tuning
    model.set_params(zero_shot_weights="nope")
    with pytest.raises(ValueError, match="zero_shot_weights"):
        model.member_weights("nb201")


def test_short_training_ranks_held_out_nb201(nb201):
    archs, y = nb201
    model = GENNAPEPredictor(**{**FAST, "hidden": 32, "n_layers": 3, "epochs": 10, "cl_epochs": 1})
    model.fit(archs[:100], y[:100])
    rho = spearmanr(model.predict(archs[100:400]), y[100:400]).statistic
    assert rho > 0.4, f"held-out Spearman {rho:.3f} after a short training"


def test_kgnn_short_training_ranks_held_out_nb201(nb201, tmp_path):
    archs, y = nb201
    model = KGNNPredictor(hidden=16, n_layers=3, epochs=8, lr=1e-3, random_state=0).fit(archs[:100], y[:100])
    pred = model.predict(archs[100:400])
    assert spearmanr(pred, y[100:400]).statistic > 0.3
    loaded = KGNNPredictor.load(model.save(tmp_path / "k.npz"))
    assert np.array_equal(loaded.predict(archs[100:120]), pred[:20])
    tuned = model.finetune(archs[100:110], y[100:110], epochs=1)
    assert np.array_equal(model.predict(archs[100:120]), pred[:20])
    assert not np.array_equal(tuned.predict(archs[100:120]), pred[:20])
    with pytest.raises(NotImplementedError):
        model.predict(archs[:2], return_std=True)


@pytest.mark.skipif(not PRETRAINED.is_file(), reason="pretrained model file not built (scripts/train_pretrained.py)")
def test_pretrained_model_loads_and_ranks_nb201(nb201):
    archs, y = nb201
    model = GENNAPEPredictor.pretrained()
    pred = model.predict(archs[:200])
    assert pred.shape == (200,)
    assert spearmanr(pred, y[:200]).statistic > 0.5  # it was trained on NB-201 (the cells >= 80 %)
    assert PRETRAINED.stat().st_size < 2 * 1024 * 1024


@pytest.mark.slow
@pytest.mark.parametrize("name", ["gennape", "kgnn"])
def test_predictor_contract(name):
    from gennape_naslib.testing import PredictorContract

    params = FAST if name == "gennape" else dict(hidden=16, n_layers=2, epochs=2, random_state=0)
    PredictorContract(name, params=params).check_all(subprocess_check=True)
