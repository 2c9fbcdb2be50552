"""Non-dominated sorting, crowding, hypervolume on hand cases; multi-objective evolution on NB-201."""

from __future__ import annotations

import numpy as np
import pytest

from gennape_naslib.optimizers import get_optimizer
from gennape_naslib.optimizers.multi_objective import parse_objectives
from gennape_naslib.optimizers.pareto import (
    crowding_distance,
    dominates,
    hypervolume,
    non_dominated_sort,
    pareto_front_mask,
)
from gennape_naslib.search.objectives import _load_table


def test_dominance_and_sorting_hand_case():
    pts = [[1, 3], [2, 2], [3, 1], [2, 3], [3, 3], [4, 4], [np.nan, 0]]
    assert dominates([1, 1], [1, 2]) and not dominates([1, 2], [1, 2]) and not dominates([1, 3], [3, 1])
    assert non_dominated_sort(pts).tolist() == [0, 0, 0, 1, 2, 3, 7]
    assert pareto_front_mask(pts).tolist() == [True, True, True, False, False, False, False]
    # Mixed directions: maximise the first column (accuracy), minimise the second (FLOPs).
    acc_flops = [[90, 10], [92, 20], [91, 30], [89, 5]]
    assert non_dominated_sort(acc_flops, [True, False]).tolist() == [0, 0, 1, 0]


def test_crowding_distance_hand_case():
    d = crowding_distance([[0, 4], [1, 2], [3, 1], [4, 0]])
    assert np.isinf(d[0]) and np.isinf(d[3])
    assert d[1] == pytest.approx(3 / 4 + 3 / 4)
    assert d[2] == pytest.approx(3 / 4 + 2 / 4)


def test_hypervolume_hand_cases():
    assert hypervolume([[1, 3], [2, 2], [3, 1]], [4, 4]) == pytest.approx(6.0)
    assert hypervolume([[1, 3], [2, 2], [3, 1], [3, 3], [5, 0]], [4, 4]) == pytest.approx(6.0)  # dominated / outside
    assert hypervolume([[1, 1, 1]], [2, 3, 4]) == pytest.approx(6.0)
    # Two boxes overlapping in [0,1]x[0,1]x[0,1]: 2 + 2 - 1.
    assert hypervolume([[0, 0, 1], [1, 0, 0]], [2, 1, 2]) == pytest.approx(3.0)
    # Maximised accuracy against FLOPs: reference (accuracy 80, FLOPs 100).
    assert hypervolume([[90, 50], [85, 20]], [80, 100], [True, False]) == pytest.approx(10 * 50 + 5 * 30)
    assert hypervolume(np.zeros((0, 2)), [1, 1]) == 0.0
    with pytest.raises(ValueError, match="reference point has 3 values for 2 objectives"):
        hypervolume([[1, 1]], [2, 2, 2])


def test_parse_objectives_forms_and_errors():
    assert parse_objectives(["acc", "flops:min"]) == [("acc", True), ("flops", False)]
    assert parse_objectives([("a", "max"), {"b": "minimize"}]) == [("a", True), ("b", False)]
    with pytest.raises(ValueError, match="at least two objectives"):
        parse_objectives(["acc"])
    with pytest.raises(ValueError, match="direction 'up'"):
        parse_objectives(["acc:up", "b"])


def test_multi_objective_search_on_nb201_latency():
    table = _load_table("nb201", "cifar10")
    opt = get_optimizer(
        "moo",
        family="nb201",
        objectives=["test_acc_200ep:max", "edgegpu_latency:min"],
        reference_point=[0.0, 100.0],
        random_state=0,
        num_init=10,
        population_size=10,
    )
    hv = []
    while len(opt.history) < 60:
        (arch,) = opt.ask(1)
        opt.tell(arch, table.lookup(arch))
        hv.append(opt.hypervolume())
    assert all(b >= a - 1e-9 for a, b in zip(hv, hv[1:]))
    assert opt.hypervolume(10) == pytest.approx(hv[9])
    front = opt.pareto_front()
    vals = opt.values(front)
    assert non_dominated_sort(vals, [True, False]).tolist() == [0] * len(front)
    all_vals = opt.values(opt.history)
    assert hv[-1] == pytest.approx(hypervolume(all_vals, [0.0, 100.0], [True, False]))
    with pytest.raises(ValueError, match="reference_point is required"):
        get_optimizer("moo", family="nb201", objectives=["a", "b:min"])
