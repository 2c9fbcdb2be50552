"""predict_parallel gives what predict gives, in order."""

from __future__ import annotations

import numpy as np
import pytest

from gennape_naslib import data, search_spaces
from gennape_naslib.predictors.gennape import GENNAPEPredictor
from gennape_naslib.predictors.parallel import predict_parallel


def test_parallel_prediction_equals_serial():
    archs = data.load("nb201", dataset="cifar10").archs[:90]
    family = search_spaces.get("nb201")
    model = GENNAPEPredictor.pretrained()
    serial_mean, serial_std = model.predict(archs, return_std=True, family=family)
    mean, std = predict_parallel(model, archs, n_jobs=3, family=family, return_std=True, min_per_job=10)
    np.testing.assert_allclose(mean, serial_mean, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(std, serial_std, rtol=1e-4, atol=1e-4)
    # too few architectures per worker: runs in this process
    np.testing.assert_allclose(predict_parallel(model, archs[:5], n_jobs=2, family=family), serial_mean[:5], rtol=1e-6)
    with pytest.raises(ValueError, match="n_jobs must be >= 1"):
        predict_parallel(model, archs, n_jobs=0)
