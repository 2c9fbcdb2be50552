"""Weight averaging over the last supervised epochs (``GENNAPEPredictor(swa=...)``, :class:`WeightAverage`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gennape_naslib.predictors.gennape import GENNAPEPredictor
from gennape_naslib.predictors.gennape._train import WeightAverage

SMALL = dict(
    members=("cl_t", "pair", "kgnn", "flops"), hidden=16, n_layers=2, cl_epochs=1, cl_max_graphs=32,
    n_clusters=2, epochs=4, reference_size=32, random_state=0,
)  # fmt: skip


def _run(fraction: float, epochs: int) -> torch.Tensor:
    """A parameter set to 1, 2, ..., epochs at the end of each epoch, after :meth:`WeightAverage.apply`."""
    p = torch.zeros(3)
    average = WeightAverage([p], epochs, fraction)
    for epoch in range(epochs):
        p.fill_(epoch + 1.0)
        average.epoch_end(epoch)
    average.apply()
    return p


def test_weight_average_means_the_last_epochs():
    p = _run(0.25, 8)  # last 2 of 8 epochs: (7 + 8) / 2
    assert torch.equal(p, torch.full((3,), 7.5))
    p = _run(1.0, 4)  # every epoch: (1 + 2 + 3 + 4) / 4
    assert torch.equal(p, torch.full((3,), 2.5))
    p = _run(0.01, 10)  # a positive share averages at least the last epoch
    assert torch.equal(p, torch.full((3,), 10.0))
    p = _run(0.0, 5)  # off: the last weights stay
    assert torch.equal(p, torch.full((3,), 5.0))


@pytest.mark.parametrize("bad", [-0.1, 1.5, True, "0.5", None])
def test_weight_average_refuses_a_bad_share(bad):
    with pytest.raises(ValueError, match=r"swa must be a fraction in \[0, 1\]"):
        WeightAverage([], 10, bad)


@pytest.fixture(scope="module")
def nb201(nb201_sample):
    return nb201_sample(3, 60)


def test_swa_changes_the_trained_weights_and_keeps_the_contract(nb201, tmp_path):
    archs, y = nb201
    plain = GENNAPEPredictor(**SMALL).fit(archs[:30], y[:30])
    again = GENNAPEPredictor(**SMALL, swa=0.0).fit(archs[:30], y[:30])
    averaged = GENNAPEPredictor(**SMALL, swa=0.5).fit(archs[:30], y[:30])
    test = archs[30:]
    assert np.array_equal(plain.predict(test), again.predict(test))  # swa=0 is the plain fit
    assert not np.allclose(plain.predict(test), averaged.predict(test))
    for a, b in zip(plain.kgnn_.parameters(), averaged.kgnn_.parameters()):  # the k-GNN member is averaged too
        assert not torch.equal(a, b)
    # same losses: averaging does not change training, only the weights kept at its end
    assert plain.history_["heads"] == averaged.history_["heads"]
    assert plain.history_["kgnn"] == averaged.history_["kgnn"]
    path = averaged.save(tmp_path / "swa.npz")
    loaded = GENNAPEPredictor.load(path)
    assert loaded.swa == 0.5 and np.array_equal(loaded.predict(test), averaged.predict(test))
    tuned = averaged.finetune(archs[30:40], y[30:40], epochs=2)
    assert np.isfinite(tuned.predict(test)).all()


def test_bad_swa_is_refused_before_training(nb201):
    archs, y = nb201
    with pytest.raises(ValueError, match="swa must be a fraction"):
        GENNAPEPredictor(**SMALL, swa=2.0).fit(archs[:10], y[:10])
