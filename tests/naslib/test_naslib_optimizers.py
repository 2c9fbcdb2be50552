"""Our optimizers driven through NASLib's MetaOptimizer contract, by a stand-in Trainer and graph.

The stand-ins follow NASLIB_CONTRACT.md (not NASLib's code): a NB-201 graph with ``get_type``,
``clone``, ``set_op_indices``/``get_op_indices`` and ``query(metric, dataset, dataset_api=...)``
answering from the real NB-201 table passed in ``dataset_api``, and a Trainer loop that calls
``adapt_search_space``, ``new_epoch`` and ``train_statistics`` per epoch as NASLib's does.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from gennape_naslib.naslib.optimizers import NASLibOptimizer, naslib_optimizer_class
from gennape_naslib.predictors import Predictor
from gennape_naslib.search.objectives import _load_table
from gennape_naslib.search_spaces import get


class StandInGraph:
    """What every NASLib graph of the contract has: ``get_type`` and ``clone``."""

    naslib_type = ""

    def get_type(self) -> str:
        return self.naslib_type

    def clone(self) -> StandInGraph:
        return copy.deepcopy(self)


class StandInNB201Graph(StandInGraph):
    naslib_type = "nasbench201"

    def __init__(self) -> None:
        self.op_indices = None

    def set_op_indices(self, op_indices) -> None:
        self.op_indices = list(op_indices)

    def get_op_indices(self):
        return list(self.op_indices)

    def get_hash(self):
        return tuple(self.op_indices)

    def query(self, metric, dataset=None, dataset_api=None):
        table = dataset_api["nb201"][dataset]
        row = table.lookup(get("nb201").from_naslib(self))
        if metric in ("VAL_ACCURACY", "TEST_ACCURACY"):  # NASLib's NB-201 cifar10: one field for both
            return row["test_acc_200ep"]
        if metric == "RAW":
            return row
        return math.nan  # the packaged table has no training accuracy or time


def stand_in_trainer_search(optimizer, epochs):
    trajectory = {"train_acc": [], "valid_acc": [], "test_acc": [], "train_time": []}
    for epoch in range(epochs):
        optimizer.new_epoch(epoch)
        train_acc, valid_acc, test_acc, train_time = optimizer.train_statistics(report_incumbent=True)
        for key, value in zip(trajectory, (train_acc, valid_acc, test_acc, train_time)):
            trajectory[key].append(value)
    return trajectory


@pytest.fixture(scope="module")
def dataset_api():
    return {"nb201": {"cifar10": _load_table("nb201", "cifar10")}}


CONFIG = {
    "seed": 2,
    "dataset": "cifar10",
    "search": {"epochs": 25, "population_size": 8, "sample_size": 3, "checkpoint_freq": 5},
}


def test_trainer_drives_regularized_evolution(dataset_api):
    opt = NASLibOptimizer(CONFIG, optimizer="re")
    assert opt.using_step_function is False and opt.get_op_optimizer() is None
    with pytest.raises(RuntimeError, match="adapt_search_space first"):
        opt.new_epoch(0)
    opt.adapt_search_space(StandInNB201Graph(), dataset_api=dataset_api)
    assert opt.optimizer.population_size == 8 and opt.optimizer.sample_size == 3
    traj = stand_in_trainer_search(opt, 25)
    assert traj["valid_acc"] == sorted(traj["valid_acc"]) and traj["valid_acc"] == traj["test_acc"]
    final = opt.get_final_architecture()
    table = dataset_api["nb201"]["cifar10"]
    assert table.lookup(get("nb201").from_naslib(final))["test_acc_200ep"] == traj["valid_acc"][-1]
    assert opt.test_statistics()["test_acc_200ep"] == traj["test_acc"][-1]
    hashes = {tuple(g.get_op_indices()) for g in opt.graphs.values()}
    assert len(hashes) == 25


def test_same_seed_same_trajectory_and_checkpoint_round_trip(dataset_api):
    runs = []
    for _ in range(2):
        opt = NASLibOptimizer(CONFIG, optimizer="rs")
        opt.adapt_search_space(StandInNB201Graph(), dataset_api=dataset_api)
        runs.append(stand_in_trainer_search(opt, 10)["valid_acc"])
    assert runs[0] == runs[1]
    state = opt.get_checkpointables()["model"].state_dict()
    restored = NASLibOptimizer(CONFIG, optimizer="rs")
    restored.adapt_search_space(StandInNB201Graph(), dataset_api=dataset_api)
    restored.load_state_dict(state)
    assert restored.optimizer.best().metrics == opt.optimizer.best().metrics
    assert len(restored.optimizer.history) == 10
    # NASLib's checkpointer (fvcore's) keeps only arrays/tensors, turns arrays into tensors and loads non-strictly
    assert all(isinstance(v, np.ndarray) for v in state.values())
    import torch

    resumed = NASLibOptimizer(CONFIG, optimizer="rs")
    resumed.adapt_search_space(StandInNB201Graph(), dataset_api=dataset_api)
    resumed.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()}, strict=False)
    assert [t.hash for t in resumed.optimizer.history] == [t.hash for t in opt.optimizer.history]
    with pytest.raises(KeyError, match="no 'trials_json'"):
        resumed.load_state_dict({})


class StandInNB101Graph(StandInGraph):
    naslib_type = "nasbench101"

    def __init__(self) -> None:
        self.spec = None

    def set_spec(self, spec) -> None:  # NASLib's NB-101 graph: ModelSpec(**spec) needs the dict
        assert isinstance(spec, dict) and set(spec) == {"matrix", "ops"}, spec
        self.spec = spec

    def get_spec(self):
        return self.spec

    def query(self, metric, dataset=None, dataset_api=None):
        return float(np.asarray(self.spec["matrix"]).sum())  # any deterministic number


def test_nb101_graphs_get_naslibs_spec_dict():
    opt = NASLibOptimizer(CONFIG, optimizer="rs")
    opt.adapt_search_space(StandInNB101Graph(), dataset_api={})
    stand_in_trainer_search(opt, 3)
    spec = opt.get_final_architecture().get_spec()
    assert np.asarray(spec["matrix"]).shape == (7, 7) and spec["ops"][0] == "input"
    assert get("nb101").from_naslib(opt.get_final_architecture()) == opt.optimizer.best().arch


class OpsOverlap(Predictor):
    """Stand-in surrogate: mean label of the training cells sharing the most ops with the query."""

    supports_std = True

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y, family=None):
        self.ops_ = [a.ops for a in X]
        self.y_ = np.asarray(y, dtype=float)
        return self

    def predict(self, X, return_std=False, family=None):
        sims = np.array([[sum(p == q for p, q in zip(a.ops, b)) for b in self.ops_] for a in X])
        best = sims == sims.max(axis=1, keepdims=True)
        mean = np.array([self.y_[row].mean() for row in best])
        std = np.array([self.y_[row].std() for row in best])
        return (mean, std) if return_std else mean


def test_bananas_keys_from_a_naslib_config(dataset_api):
    cfg = {
        "seed": 0,
        "dataset": "cifar10",
        "search": {
            "num_init": 5,
            "k": 3,
            "num_ensemble": 2,
            "acq_fn_type": "ucb",
            "predictor_type": "ignored-by-override",
            "encoding_type": "path",
        },
    }
    opt = NASLibOptimizer(cfg, optimizer="bananas", predictor=OpsOverlap())
    opt.adapt_search_space(StandInNB201Graph(), dataset_api=dataset_api)
    assert (opt.optimizer.num_init, opt.optimizer.k, opt.optimizer.acq_fn_type) == (5, 3, "ucb")
    stand_in_trainer_search(opt, 9)
    assert opt.optimizer.rounds == 2


def test_unknown_search_space_type_and_missing_naslib():
    class Other(StandInNB201Graph):
        def get_type(self):
            return "transbench101_micro"

    with pytest.raises(ValueError, match="'transbench101_micro' has no gennape family"):
        NASLibOptimizer({}, optimizer="rs").adapt_search_space(Other())
    try:
        import naslib  # noqa: F401
    except ImportError:
        with pytest.raises(Exception, match="naslib"):
            naslib_optimizer_class("re")
