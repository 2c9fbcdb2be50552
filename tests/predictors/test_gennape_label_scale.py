"""Fine-tuning on labels ~100x off the model's training scale warns (``LabelScaleWarning``), changing nothing."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from gennape_naslib.predictors import LabelScaleWarning
from gennape_naslib.predictors._inputs import warn_label_scale
from gennape_naslib.predictors.gennape import GENNAPEPredictor, KGNNPredictor

SMALL = dict(
    members=("cl_fcm_t", "flops"), hidden=16, n_layers=2, cl_epochs=1, cl_max_graphs=32, n_clusters=2, epochs=1,
    reference_size=16, n_anchors=6, random_state=0,
)  # fmt: skip


@pytest.fixture(scope="module")
def nb201(nb201_sample):
    return nb201_sample(6, 60)  # CIFAR-10 test accuracies in percent


def _no_scale_warning(call):
    with warnings.catch_warnings():
        warnings.simplefilter("error", LabelScaleWarning)
        return call()


def test_rule():
    percent, fractions = np.array([88.0, 91.5, 93.2]), np.array([0.88, 0.915, 0.932])
    with pytest.warns(LabelScaleWarning, match=r"look like fractions .* trained on percent.*multiply them by 100"):
        warn_label_scale(fractions, 90.0, (80.0, 94.0), "where")
    with pytest.warns(LabelScaleWarning, match=r"where: the labels look like percent .*divide them by 100"):
        warn_label_scale(percent, 0.9, (0.8, 0.94), "where")
    with pytest.warns(LabelScaleWarning, match="divide them by 100"):  # training range unknown: its mean decides
        warn_label_scale(percent, 0.9, None, "where")
    _no_scale_warning(lambda: warn_label_scale(percent, 90.0, (80.0, 94.0), "where"))
    _no_scale_warning(lambda: warn_label_scale(fractions, 0.9, (0.8, 0.94), "where"))
    _no_scale_warning(lambda: warn_label_scale(percent, 0.2, (-3.0, 4.0), "where"))  # not an accuracy scale
    _no_scale_warning(lambda: warn_label_scale(np.array([0.5, 2.0, 90.0]), 90.0, None, "where"))


def test_gennape_finetune_warns_on_fractions_for_a_percent_model(nb201):
    archs, y = nb201
    model = GENNAPEPredictor(**SMALL).fit(archs[:40], y[:40])
    shots = archs[40:50]
    with pytest.warns(LabelScaleWarning, match=r"GENNAPEPredictor\.finetune: the labels look like fractions"):
        warned = model.finetune(shots, y[40:50] / 100, epochs=1)
    quiet = _no_scale_warning(lambda: model.finetune(shots, y[40:50] / 100 * 100, epochs=1))
    assert quiet.predict(shots).shape == warned.predict(shots).shape == (10,)
    fraction_model = GENNAPEPredictor(**SMALL).fit(archs[:40], y[:40] / 100)
    with pytest.warns(LabelScaleWarning, match="look like percent"):
        fraction_model.finetune(shots, y[40:50], epochs=0)
    _no_scale_warning(lambda: fraction_model.finetune(shots, y[40:50] / 100, epochs=0))


def test_shipped_model_warns_on_fractions(nb201):
    archs, y = nb201
    with pytest.warns(LabelScaleWarning, match=r"shipped GENNAPE model is trained on percent"):
        GENNAPEPredictor.pretrained().finetune(archs[:20], y[:20] / 100, epochs=0)


def test_kgnn_finetune_warns(nb201):
    archs, y = nb201
    model = KGNNPredictor(hidden=8, n_layers=2, epochs=1, random_state=0).fit(archs[:20], y[:20])
    with pytest.warns(LabelScaleWarning, match=r"KGNNPredictor\.finetune"):
        model.finetune(archs[20:30], y[20:30] / 100, epochs=0)
    _no_scale_warning(lambda: model.finetune(archs[20:30], y[20:30], epochs=0))
