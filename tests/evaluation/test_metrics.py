"""Metrics against scipy/scikit-learn on known inputs and against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from gennape_naslib.evaluation import metrics as m

sklearn_metrics = pytest.importorskip("sklearn.metrics", reason="scikit-learn (test extra) compares the metrics")


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    t = rng.uniform(0.6, 0.95, size=200)
    p = t + rng.normal(0, 0.05, size=200)
    p[:10] = np.round(p[:10], 1)  # some ties
    return t, p


def test_correlations_match_scipy_and_are_signed(data):
    t, p = data
    assert m.spearman(t, p) == pytest.approx(stats.spearmanr(t, p).statistic, abs=1e-12)
    assert m.kendall_tau(t, p) == pytest.approx(stats.kendalltau(t, p).statistic, abs=1e-12)
    assert m.pearson(t, p) == pytest.approx(stats.pearsonr(t, p).statistic, abs=1e-12)
    assert m.spearman(t, -p) == pytest.approx(-m.spearman(t, p))
    assert m.kendall_tau(t, -p) < -0.5
    assert m.pearson(t, -p) < -0.5


def test_hand_computed_correlations():
    assert m.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert m.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # one discordant pair out of 6: tau = (5 - 1) / 6
    assert m.kendall_tau([1, 2, 3, 4], [1, 2, 4, 3]) == pytest.approx(4 / 6)


def test_undefined_cases_are_nan_not_errors():
    assert math.isnan(m.spearman([1.0], [2.0]))
    assert math.isnan(m.spearman([1, 1, 1], [1, 2, 3]))
    assert math.isnan(m.kendall_tau([1, 2, 3], [5, 5, 5]))
    assert math.isnan(m.ndcg_at_k([0.5, 0.5, 0.5], [1, 2, 3], 2))
    assert math.isnan(m.gennape_tau([0.5, 0.5], [1, 2]))  # the only pair abstains
    assert math.isnan(m.mae([], []))


def test_nan_inputs_raise_and_infinite_predictions_rank():
    with pytest.raises(ValueError, match="y_pred has 1 NaN"):
        m.spearman([1, 2, 3], [1, np.nan, 3])
    with pytest.raises(ValueError, match="y_true has 1 non-finite"):
        m.kendall_tau([1, np.nan, 3], [1, 2, 3])
    with pytest.raises(ValueError, match="3 values but y_pred has 2"):
        m.spearman([1, 2, 3], [1, 2])
    assert m.spearman([1, 2, 3, 4], [-np.inf, 0, 5, np.inf]) == pytest.approx(1.0)
    assert m.precision_at_k([1, 2, 3, 4], [-np.inf, 0, 5, np.inf], 1) == 1.0
    with pytest.raises(ValueError, match="infinite"):
        m.mae([1, 2], [1, np.inf])


def test_regression_errors_match_sklearn(data):
    t, p = data
    assert m.mae(t, p) == pytest.approx(sklearn_metrics.mean_absolute_error(t, p))
    assert m.rmse(t, p) == pytest.approx(sklearn_metrics.root_mean_squared_error(t, p))
    assert m.mape(t, p) == pytest.approx(sklearn_metrics.mean_absolute_percentage_error(t, p))
    assert m.mape([0.0, 2.0], [1.0, 1.0]) == pytest.approx(
        sklearn_metrics.mean_absolute_percentage_error([0.0, 2.0], [1.0, 1.0])
    )
    assert m.rmse([1, 2], [2, 4]) == pytest.approx(math.sqrt(2.5))


@pytest.mark.parametrize("k", [1, 5, 10, 50, 0, 500])
def test_ndcg_matches_sklearn_with_gennape_relevance(data, k):
    t, p = data
    relevance = np.clip((t - t.min()) / (t.max() - t.min()), 0, 1) * 20
    expected = sklearn_metrics.ndcg_score(relevance[None], p[None], k=k if k >= 1 else None, ignore_ties=False)
    assert m.ndcg_at_k(t, p, k) == pytest.approx(expected, abs=1e-12)


def test_ndcg_with_heavy_ties_matches_sklearn():
    t = np.array([0.1, 0.5, 0.3, 0.9, 0.7, 0.2])
    p = np.array([1.0, 1.0, 2.0, 2.0, 2.0, 0.0])
    relevance = (t - t.min()) / (t.max() - t.min()) * 20
    for k in (1, 2, 3, 6):
        expected = sklearn_metrics.ndcg_score(relevance[None], p[None], k=k, ignore_ties=False)
        assert m.ndcg_at_k(t, p, k) == pytest.approx(expected, abs=1e-12)
    assert m.ndcg_at_k(t, t, 3) == pytest.approx(1.0)


def test_precision_at_k_hand_computed():
    t = [5, 4, 3, 2, 1]
    assert m.precision_at_k(t, [5, 4, 3, 2, 1], 2) == 1.0
    assert m.precision_at_k(t, [5, 1, 3, 2, 4], 2) == 0.5  # top-2 by prediction {0, 4}, truth {0, 1}
    assert m.precision_at_k(t, [1, 2, 3, 4, 5], 2) == 0.0
    assert m.precision_at_k(t, [1, 2, 3, 4, 5], 10) == 1.0  # k clipped to n


def test_gennape_tau_hand_computed():
    t = [0.9, 0.8, 0.7, 0.6]
    assert m.gennape_tau(t, [4, 3, 2, 1]) == 1.0
    assert m.gennape_tau(t, [1, 2, 3, 4]) == -1.0
    # pairs (ordered by target): 6 in all; prediction swaps items 3 and 4 -> 5 concordant, 1 discordant
    assert m.gennape_tau(t, [4, 3, 1, 2]) == round(4 / 6, 4)
    # a target gap below 1e-4 (0.01 points) abstains: only the pair (0, 1) votes among (0.9, 0.89995, 0.8)
    t2 = [0.9, 0.89995, 0.8]
    assert m.gennape_tau(t2, [1, 2, 3], threshold=1e-4) == -1.0
    assert m.gennape_tau(t2, [1, 2, 3], threshold=0.0) == -1.0
    # ties in predictions count as concordant (pred_i >= pred_j)
    assert m.gennape_tau(t, [1, 1, 1, 1]) == 1.0


def test_gennape_tau_equals_kendall_without_ties(data):
    rng = np.random.default_rng(1)
    t = 0.5 + rng.permutation(200) * 1e-3  # distinct targets, every gap >= 1e-3
    p = t + rng.normal(0, 0.05, size=200)
    assert np.unique(np.round(p * 1e6)).size == 200  # distinct predictions after GENNAPE's rounding
    expected = stats.kendalltau(t, p).statistic
    assert m.gennape_tau(t, p, threshold=0.0) == pytest.approx(expected, abs=1e-4)
    assert m.gennape_tau(t, p, threshold=1e-4) == pytest.approx(expected, abs=1e-4)


def test_evaluate_predictions_units_and_proxy_mode(data):
    t, p = data
    frac = m.evaluate_predictions(t, p, units="fraction")
    pct = m.evaluate_predictions(t * 100, p * 100, units="percent")
    for key in ("spearman", "kendall_tau", "gennape_tau", "ndcg_10", "precision_10"):
        assert frac[key] == pytest.approx(pct[key], abs=1e-9), key
    assert pct["mae"] == pytest.approx(100 * frac["mae"])
    proxy = m.evaluate_predictions(t, np.log(p), regression=False)
    assert math.isnan(proxy["mae"]) and proxy["spearman"] == pytest.approx(frac["spearman"])
    assert m.to_fraction([50.0, 90.0]).tolist() == [0.5, 0.9]
    with pytest.raises(ValueError, match="units"):
        m.to_fraction([1.0], "permille")
