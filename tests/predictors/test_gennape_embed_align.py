"""Zero-shot alignment of embeddings (``GENNAPEPredictor(embed_align=...)``, ``predictors.gennape.align``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gennape_naslib.predictors.gennape import GENNAPEPredictor
from gennape_naslib.predictors.gennape.align import aligned, embedding_stats, maps
from gennape_naslib.search_spaces import get

SMALL = dict(
    hidden=16, n_layers=2, cl_epochs=1, cl_max_graphs=32, n_clusters=2, epochs=3, reference_size=24, n_anchors=8,
    random_state=0,
)  # fmt: skip


def test_maps_give_the_target_sample_the_source_moments():
    gen = torch.Generator().manual_seed(0)
    source_h = torch.randn(200, 5, generator=gen) * 0.3 + 1.0
    target_h = torch.randn(100, 5, generator=gen) * 2.0 - 4.0
    target_h[:, 4] = 7.0  # a dimension that does not vary on the target: only shifted
    source = [(source_h.mean(0), source_h.std(0, unbiased=False))]
    target = [(target_h.mean(0), target_h.std(0, unbiased=False))]
    (moved,) = aligned([target_h], maps(source, target, "moments"))
    assert torch.allclose(moved.mean(0), source[0][0], atol=1e-5)
    assert torch.allclose(moved.std(0, unbiased=False)[:4], source[0][1][:4], atol=1e-5)
    assert torch.allclose(moved[:, 4], source[0][0][4].expand(100), atol=1e-5)
    (shifted,) = aligned([target_h], maps(source, target, "mean"))
    assert torch.allclose(shifted.mean(0), source[0][0], atol=1e-5)
    assert torch.allclose(shifted - target_h, (source[0][0] - target[0][0]).expand(100, 5), atol=1e-5)
    assert aligned([target_h], None)[0] is target_h


@pytest.fixture(scope="module")
def fitted(nb201_sample):
    archs, y = nb201_sample(12, 50)
    return GENNAPEPredictor(**SMALL).fit(archs[:30], y[:30]), archs


@pytest.fixture(scope="module")
def nb101_archs():
    adapter, rng = get("nb101"), np.random.default_rng(3)
    return [adapter.sample(rng) for _ in range(12)]


def test_alignment_moves_only_other_families(fitted, nb101_archs):
    model, archs = fitted
    assert GENNAPEPredictor().embed_align == "none"
    assert model.train_family_ == "nb201"
    assert len(model.embed_stats_) == 2  # the CL encoder's and the k-GNN member's
    base = model.predict(nb101_archs)
    graphs = [get("nb101").to_cg(a) for a in nb101_archs]
    for mode in ("mean", "moments"):
        variant = model._uncached_copy().set_params(embed_align=mode)
        # the training family and graph inputs (family unknown) are never mapped
        assert np.array_equal(variant.predict(archs[30:]), model.predict(archs[30:]))
        assert np.array_equal(variant.predict(graphs), model.predict(graphs))
        assert not np.allclose(variant.predict(nb101_archs), base)
    # the maps take the family's reference sample to the training set's moments, encoder by encoder
    variant = model._uncached_copy().set_params(embed_align="moments")
    sample_stats = embedding_stats(variant, variant._family_sample("nb101"))
    for (m, s), (scale, shift), (m0, s0) in zip(sample_stats, variant._align_maps("nb101"), model.embed_stats_):
        assert torch.allclose(m * scale + shift, m0, atol=1e-5)
        assert torch.allclose((s * scale)[s > 1e-6], s0[s > 1e-6], atol=1e-5)


def test_embed_align_is_saved_checked_and_dropped_by_finetuning(fitted, nb101_archs, tmp_path):
    model, archs = fitted
    aligned_model = model._uncached_copy().set_params(embed_align="moments")
    path = tmp_path / "m.npz"
    aligned_model.save(path)
    loaded = GENNAPEPredictor.load(path)
    assert loaded.embed_align == "moments" and loaded.train_family_ == "nb201"
    assert np.array_equal(loaded.predict(nb101_archs), aligned_model.predict(nb101_archs))
    tuned = aligned_model.finetune(nb101_archs[:6], np.linspace(80, 90, 6), epochs=1)
    assert tuned.embed_align == "none" and aligned_model.embed_align == "moments"
    with pytest.raises(ValueError, match="embed_align must be one of"):
        model._uncached_copy().set_params(embed_align="coral").predict(nb101_archs)
    with pytest.raises(ValueError, match="embed_align must be one of"):
        GENNAPEPredictor(**SMALL, embed_align=True).fit(archs[:30], np.arange(30.0))


def test_files_without_embedding_statistics_refuse_alignment_clearly(fitted, nb101_archs):
    from gennape_naslib.predictors.gennape.state import get_state, set_state

    state = get_state(fitted[0])
    state["state_version"] = 7  # a file saved before state version 8 (the shipped model of rounds 9-15)
    del state["embed_stats"], state["train_family"]
    model = GENNAPEPredictor(**SMALL)
    set_state(model, state)
    assert model.embed_stats_ is None and model.train_family_ is None
    model.predict(nb101_archs[:2])  # "none" needs no statistics
    with pytest.raises(ValueError, match="embedding statistics"):
        model.set_params(embed_align="mean").predict(nb101_archs[:2])


def test_add_embed_stats_script_completes_an_nb201_model_without_changing_it(load_script, nb101_archs, tmp_path):
    from gennape_naslib import data
    from gennape_naslib.predictors.gennape.predictor import PRETRAINED

    script = load_script("train_pretrained")
    out = tmp_path / "with_stats.npz"
    table = data.load("nb201", dataset="cifar10")
    archs, y = table.archs[:64], table.metric("test_acc_200ep")[:64]  # a part of the training set: a short test
    script.add_embed_stats(PRETRAINED, archs, y, out)
    shipped, completed = GENNAPEPredictor.pretrained(), GENNAPEPredictor.load(out)
    assert completed.train_family_ == "nb201" and completed.embed_align == "none"
    assert shipped.train_floor == 80 and 0 < int((y < 80).sum()) < 64  # the statistics skip the dropped cells
    kept = [a for a, acc in zip(archs, y) if acc >= 80]
    expected = embedding_stats(shipped, shipped._prepare(kept)[0])
    for (m, s), (m0, s0) in zip(completed.embed_stats_, expected):
        assert torch.allclose(m, m0) and torch.allclose(s, s0)
    assert np.array_equal(completed.predict(nb101_archs), shipped.predict(nb101_archs))  # weights unchanged
    completed.set_params(embed_align="mean")
    assert np.array_equal(completed.predict(table.archs[:5]), shipped.predict(table.archs[:5]))  # training family
    assert not np.allclose(completed.predict(nb101_archs), shipped.predict(nb101_archs))
