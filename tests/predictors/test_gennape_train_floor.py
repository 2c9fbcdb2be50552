"""The paper's training-set filter (``GENNAPEPredictor(train_floor=...)``)."""

from __future__ import annotations

import numpy as np
import pytest

from gennape_naslib.predictors.gennape import GENNAPEPredictor

SMALL = dict(
    hidden=16, n_layers=2, cl_epochs=1, cl_max_graphs=32, n_clusters=2, epochs=2, reference_size=16, n_anchors=6,
    random_state=0,
)  # fmt: skip


@pytest.fixture(scope="module")
def sample(nb201_sample):
    archs, y = nb201_sample(5, 60)
    assert 0 < int((y < 80).sum()) < 58  # the sample holds cells on both sides of the paper's 80 %
    return archs, y


def test_floor_fits_exactly_the_model_of_the_kept_labels(sample):
    archs, y = sample
    floored = GENNAPEPredictor(**SMALL, train_floor=80).fit(archs, y)
    keep = y >= 80
    direct = GENNAPEPredictor(**SMALL).fit([a for a, k in zip(archs, keep) if k], y[keep])
    assert floored.n_train_dropped_ == int((~keep).sum()) and direct.n_train_dropped_ == 0
    assert floored.y_mean_ == pytest.approx(float(y[keep].mean()))
    assert np.array_equal(floored.predict(archs), direct.predict(archs))
    unfloored = GENNAPEPredictor(**SMALL).fit(archs, y)  # default None: every label is used
    assert GENNAPEPredictor().train_floor is None and unfloored.n_train_dropped_ == 0
    assert not np.allclose(unfloored.predict(archs), floored.predict(archs))


def test_floor_is_saved_and_does_not_touch_finetuning(sample, tmp_path):
    archs, y = sample
    model = GENNAPEPredictor(**SMALL, train_floor=80).fit(archs, y)
    path = tmp_path / "floored.npz"
    model.save(path)
    loaded = GENNAPEPredictor.load(path)
    assert loaded.train_floor == 80 and loaded.n_train_dropped_ == int((y < 80).sum())
    assert np.array_equal(loaded.predict(archs), model.predict(archs))
    shots = np.linspace(70.0, 79.0, 8)  # every fine-tuning label is below the floor: all of them are used
    tuned = model.finetune(archs[:8], shots, epochs=2)
    assert np.isfinite(tuned.predict(archs[8:])).all()
    assert not np.allclose(tuned.predict(archs[8:]), model.predict(archs[8:]))


def test_bad_floors_are_refused_with_the_labels_range(sample):
    archs, y = sample
    with pytest.raises(ValueError, match=r"keeps 0 of 20 training labels \(they range from 0\.\d+ to 0\.\d+\)"):
        GENNAPEPredictor(**SMALL, train_floor=80).fit(archs[:20], y[:20] / 100)  # fractions, floor in percent
    for bad in ("80", float("nan"), True):
        with pytest.raises(ValueError, match="train_floor must be None or a finite number"):
            GENNAPEPredictor(**SMALL, train_floor=bad).fit(archs[:20], y[:20])
