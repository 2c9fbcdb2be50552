"""The FLOPs, params and cg_trees baselines: the shipped contract and what they measure on real data."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.stats import spearmanr

from gennape_naslib import data, search_spaces
from gennape_naslib.cg.counting import count_flops, count_weight_params
from gennape_naslib.predictors import get_predictor
from gennape_naslib.predictors._forest import fit_tree, predict_tree
from gennape_naslib.predictors.baselines import CG_STATISTICS, cg_statistics
from gennape_naslib.testing import PredictorContract


@pytest.fixture(scope="module")
def nb201() -> tuple[list[Any], np.ndarray]:
    """400 fixed NB-201 cells with their CIFAR-10 test accuracy (percent)."""
    table = data.load("nb201", dataset="cifar10")
    rows = np.random.default_rng(5).choice(len(table), size=400, replace=False)
    sub = table.subset(rows)
    return sub.archs, sub.metric("test_acc_200ep")


@pytest.mark.parametrize(
    ("name", "params", "subprocess_check"),
    [("flops", {}, False), ("params", {}, False), ("cg_trees", {"n_estimators": 15, "random_state": 3}, True)],
)
def test_contract(name: str, params: dict[str, Any], subprocess_check: bool) -> None:
    PredictorContract(name, params=params, train_size=20, test_size=8).check_all(subprocess_check=subprocess_check)


def test_cg_trees_contract_on_nb101() -> None:
    contract = PredictorContract("cg_trees", family="nb101", params={"n_estimators": 5, "random_state": 0})
    contract.check_fit_returns_self()
    contract.check_input_forms()
    contract.check_save_load()


def test_size_predictors_match_family_and_graph_counts(nb201: tuple[list[Any], np.ndarray]) -> None:
    archs, _ = nb201
    family = search_spaces.get("nb201")
    flops = get_predictor("flops").predict(archs[:5])
    np.testing.assert_array_equal(flops, [family.flops(a) for a in archs[:5]])
    params = get_predictor("params").predict(archs[:5])
    np.testing.assert_array_equal(params, [family.params(a) for a in archs[:5]])
    graphs = [family.to_cg(a) for a in archs[:5]]
    mixed = [graphs[0], archs[1]]
    np.testing.assert_array_equal(get_predictor("flops").predict(mixed), [count_flops(graphs[0]), flops[1]])
    np.testing.assert_array_equal(get_predictor("params").predict(graphs[:1]), [count_weight_params(graphs[0])])
    with pytest.raises(NotImplementedError, match="no uncertainty"):
        get_predictor("flops").predict(archs[:2], return_std=True)


def test_flops_ranks_nb201_cells(nb201: tuple[list[Any], np.ndarray]) -> None:
    # Measured on 2,000 random cells: Spearman 0.76 between FLOPs and CIFAR-10 test accuracy.
    archs, y = nb201
    rho = spearmanr(get_predictor("flops").predict(archs), y)[0]
    assert rho > 0.6


def test_cg_trees_learns_nb201(nb201: tuple[list[Any], np.ndarray]) -> None:
    # Measured on 2,000 held-out cells: Spearman 0.77 after 100 training cells, 0.81 after 1,000.
    archs, y = nb201
    model = get_predictor("cg_trees", n_estimators=30, random_state=0).fit(archs[:100], y[:100])
    mean, std = model.predict(archs[100:], return_std=True)
    assert spearmanr(mean, y[100:])[0] > 0.6
    assert np.all(std >= 0) and np.any(std > 0)
    # Training on fractions instead of percent changes nothing but the scale.
    fraction = get_predictor("cg_trees", n_estimators=30, random_state=0).fit(archs[:100], y[:100] / 100)
    np.testing.assert_allclose(fraction.predict(archs[100:]) * 100, mean, rtol=1e-9)


def test_cg_trees_rejects_bad_hyperparameters(nb201: tuple[list[Any], np.ndarray]) -> None:
    archs, y = nb201
    for bad in ({"n_estimators": 0}, {"max_features": 0.0}, {"min_samples_leaf": 0}, {"max_depth": -1}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            get_predictor("cg_trees", **bad).fit(archs[:5], y[:5])


def test_cg_statistics_describe_the_graph(nb201: tuple[list[Any], np.ndarray]) -> None:
    family = search_spaces.get("nb201")
    arch = family.from_json(["nor_conv_3x3"] * 6)
    cg = family.to_cg(arch)
    stats = dict(zip(CG_STATISTICS, cg_statistics(cg)))
    assert len(CG_STATISTICS) == len(cg_statistics(cg)) == len(set(CG_STATISTICS))
    assert stats["count_conv"] == sum(node.op == "conv" for node in cg.nodes)
    assert stats["n_nodes"] == cg.n_nodes and stats["n_edges"] == cg.n_edges
    assert stats["log10_flops"] == pytest.approx(np.log10(count_flops(cg) + 1))
    assert stats["kernel_3"] > 0 and stats["kernel_5"] == 0
    assert 1 < stats["depth"] <= cg.n_nodes
    # A cell of skip connections only is shallower and has fewer 3x3 kernels.
    skip = dict(zip(CG_STATISTICS, cg_statistics(family.to_cg(family.from_json(["skip_connect"] * 6)))))
    assert skip["depth"] < stats["depth"] and skip["kernel_3"] < stats["kernel_3"]


def test_tree_fits_a_step_exactly() -> None:
    x = np.linspace(0, 1, 40)[:, None]
    noise = np.random.default_rng(0).normal(size=(40, 2))
    X = np.hstack([noise[:, :1], x, noise[:, 1:]])
    y = np.where(x[:, 0] > 0.5, 3.0, -1.0)
    tree = fit_tree(X, y, np.random.default_rng(0), max_depth=3, min_samples_leaf=1, n_split_features=3)
    assert tree["feature"][0] == 1  # the informative column
    np.testing.assert_array_equal(predict_tree(tree, X), y)
    assert predict_tree(tree, np.array([[0.0, 0.2, 0.0], [0.0, 0.9, 0.0]])).tolist() == [-1.0, 3.0]
