"""Member weights after fine-tuning from held-out shots (``GENNAPEPredictor(finetune_weights="cv")``)."""

from __future__ import annotations

import numpy as np
import pytest

from gennape_naslib.predictors.gennape import GENNAPEPredictor
from gennape_naslib.predictors.gennape.cv_weights import tau_weights
from gennape_naslib.predictors.gennape.finetuning import out_of_fold_shots_z

SMALL = dict(
    hidden=16, n_layers=2, cl_epochs=1, cl_max_graphs=32, n_clusters=2, epochs=2, reference_size=16, n_anchors=6,
    cv_folds=3, random_state=0,
)  # fmt: skip


@pytest.fixture(scope="module")
def fitted(nb201_sample):
    archs, y = nb201_sample(7, 60)
    return GENNAPEPredictor(**SMALL).fit(archs[:40], y[:40]), archs[40:], y[40:]


def test_cv_weights_tune_the_same_networks_and_weigh_them_by_out_of_fold_taus(fitted):
    model, archs, y = fitted
    shots, ys, rest = archs[:12], y[:12], archs[12:]
    in_sample = model.finetune(shots, ys, epochs=3)
    cv = model.set_params(finetune_weights="cv").finetune(shots, ys, epochs=3)
    model.set_params(finetune_weights="shots")
    z_in, z_cv = in_sample._member_z(rest, None)[0], cv._member_z(rest, None)[0]
    assert np.array_equal(z_in, z_cv)  # the same fine-tuned members, only the weights differ
    oof = out_of_fold_shots_z(model.set_params(finetune_weights="cv"), shots, ys, 3, None)
    model.set_params(finetune_weights="shots")
    assert oof.shape == (len(model.members_), 12) and np.isfinite(oof).all()
    tau, w = tau_weights(oof, ys, model.kt_temperature)
    assert np.allclose(cv.member_tau_, tau) and np.allclose(cv.weights_, w)
    assert not np.allclose(cv.weights_, in_sample.weights_)  # out-of-fold taus are not the in-sample ones


def test_too_few_shots_fall_back_to_the_in_sample_taus(fitted, tmp_path):
    model, archs, y = fitted
    cv = model.set_params(finetune_weights="cv").finetune(archs[:5], y[:5], epochs=2)  # 5 < 2 * 3 folds
    model.set_params(finetune_weights="shots")
    in_sample = model.finetune(archs[:5], y[:5], epochs=2)
    assert np.array_equal(cv.weights_, in_sample.weights_)
    cv.save(tmp_path / "cv.npz")
    assert GENNAPEPredictor.load(tmp_path / "cv.npz").finetune_weights == "cv"
    assert GENNAPEPredictor().finetune_weights == "shots"


def test_an_unknown_mode_is_refused_by_name(fitted):
    model, archs, y = fitted
    with pytest.raises(ValueError, match="finetune_weights must be one of .*'oof'"):
        model.set_params(finetune_weights="oof").finetune(archs[:12], y[:12], epochs=1)
    model.set_params(finetune_weights="shots")
