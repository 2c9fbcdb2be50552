"""scripts/bench_search.py: the method settings it runs and how short runs are aggregated."""

from __future__ import annotations

import numpy as np
import pytest

from gennape_naslib.predictors.gennape.predictor import PRETRAINED
from gennape_naslib.search import load_config, optimizer_kwargs


@pytest.fixture(scope="module")
def bench(load_script):
    return load_script("bench_search")


def test_gennape_methods(bench):
    pretrained = load_config(bench.method_config("bananas_gennape_pretrained", 3, 50))
    assert pretrained.search["predictor_checkpoint"] == "pretrained" and pretrained.search["fit_predictor"] is False
    finetune = load_config(bench.method_config("bananas_gennape_finetune", 3, 50))
    assert finetune.search["fit_predictor"] == "finetune"
    assert finetune.search["predictor_kwargs"] == {"finetune_epochs": bench.FINETUNE_EPOCHS}
    saved = str(PRETRAINED)  # any saved model file (the config checks that it exists)
    other = load_config(bench.method_config("bananas_gennape_finetune", 3, 50, checkpoint=saved))
    assert other.search["predictor_checkpoint"] == saved
    online = load_config(bench.method_config("npenas_gennape", 3, 50))
    assert online.optimizer == "npenas" and "predictor_checkpoint" not in online.search
    kwargs = optimizer_kwargs(online)
    assert kwargs["predictor"] == "gennape" and kwargs["predictor_kwargs"] == bench.ONLINE_GENNAPE
    with pytest.raises(ValueError, match="unknown method 'bananas_cg_trees_pretrained'"):
        bench.method_config("bananas_cg_trees_pretrained", 0, 10)
    trees = load_config(bench.method_config("bananas_cg_trees", 0, 10))
    assert trees.search["predictor"] == "cg_trees" and trees.search["predictor_kwargs"] == {"n_estimators": 20}


def test_short_runs_are_continued_with_their_last_value(bench):
    curve = np.array([90.0, 93.0, 94.37])
    assert np.array_equal(bench._padded(curve, 5), [90.0, 93.0, 94.37, 94.37, 94.37])
    assert bench._padded(curve, 3) is curve
