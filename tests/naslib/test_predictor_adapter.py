"""GENNAPENASLibPredictor against a stand-in of NASLib's predictor contract (NASLIB_CONTRACT.md).

The stand-in mirrors the documented contract, not NASLib's code: a plain ``Predictor`` base class, an
``Ensemble`` whose predictor table is a dict local to ``get_ensemble`` (so it can only be extended by
wrapping that method), and graph objects that expose only NASLib's public reader methods.
"""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
import types
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from gennape_naslib import data, search_spaces
from gennape_naslib.naslib import (
    GENNAPENASLibPredictor,
    naslib_available,
    naslib_predictor_class,
    register_with_naslib,
)
from gennape_naslib.predictors import UnknownPredictorError, get_predictor

SS_TYPES = {"nb201": "nasbench201", "nb101": "nasbench101", "nb301": "nasbench301"}
TABLES = {"nb201": ("nb201", "cifar10", "test_acc_200ep"), "nb101": ("nb101", None, "val_acc/cifar10")}
TREES = {"predictor_type": "cg_trees", "n_estimators": 10}


# ---------------------------------------------------------------------- stand-ins
class FakeGraph:
    """A NASLib search-space graph: only the public methods of its space, plus the common ones."""

    def __init__(self, family: str, value: Any, ops_hash: str) -> None:
        self._family, self._value, self._hash = family, value, ops_hash
        reader = {"nb201": "get_op_indices", "nb101": "get_spec", "nb301": "get_compact"}[family]
        setattr(self, reader, self._read)

    def _read(self) -> Any:
        return copy.deepcopy(self._value)

    def get_hash(self) -> str:
        return self._hash

    def get_type(self) -> str:
        return SS_TYPES[self._family]

    def clone(self) -> FakeGraph:
        return FakeGraph(self._family, self._value, self._hash)


def naslib_graphs(family: str, archs: list[Any]) -> list[FakeGraph]:
    adapter = search_spaces.get(family)
    out = []
    for arch in archs:
        if family == "nb201":  # NASLib returns op indices as a list, possibly of numpy ints
            value: Any = [np.int64(i) for i in adapter.to_naslib(arch)]
        elif family == "nb101":
            value = adapter.to_naslib_spec(arch)
        else:
            value = adapter.to_naslib(arch)
        out.append(FakeGraph(family, value, adapter.canonical_hash(arch)))
    return out


def _fake_naslib() -> dict[str, types.ModuleType]:
    naslib = types.ModuleType("naslib")
    naslib.__path__ = []  # type: ignore[attr-defined]
    predictors = types.ModuleType("naslib.predictors")
    predictors.__path__ = []  # type: ignore[attr-defined]
    predictor_module = types.ModuleType("naslib.predictors.predictor")
    ensemble_module = types.ModuleType("naslib.predictors.ensemble")

    class Predictor:
        def __init__(self, ss_type: Any = None, encoding_type: Any = None) -> None:
            self.ss_type = ss_type
            self.encoding_type = encoding_type

        def set_ss_type(self, ss_type: Any) -> None:
            self.ss_type = ss_type

        def pre_process(self) -> None:
            pass

        def pre_compute(self, xtrain: Any, xtest: Any, unlabeled: Any = None) -> None:
            pass

        def fit(self, xtrain: Any, ytrain: Any, train_info: Any = None) -> Any:
            pass

        def query(self, xtest: Any, info: Any = None) -> Any:
            pass

        def get_data_reqs(self) -> dict[str, Any]:
            return {"requires_partial_lc": False, "metric": None, "requires_hyperparameters": False, "hyperparams": {}}

        def set_hyperparams(self, hyperparams: Any) -> None:
            self.hyperparams = hyperparams

        def get_hyperparams(self) -> Any:
            return getattr(self, "hyperparams", None)

        def reset_hyperparams(self) -> None:
            self.hyperparams = None

        def get_hpo_wrapper(self) -> Any:
            return getattr(self, "hpo_wrapper", None)

    class MeanPredictor(Predictor):
        """NASLib's own kind of predictor in the stand-in table."""

        def fit(self, xtrain: Any, ytrain: Any, train_info: Any = None) -> float:
            self.mean = float(np.mean(ytrain))
            return 0.0

        def query(self, xtest: Any, info: Any = None) -> np.ndarray:
            return np.full(len(xtest), self.mean)

    class Ensemble(Predictor):
        def __init__(self, encoding_type=None, num_ensemble=3, predictor_type="feedforward", ss_type="nasbench201"):
            self.num_ensemble = num_ensemble
            self.predictor_type = predictor_type
            self.encoding_type = encoding_type
            self.ss_type = ss_type
            self.hyperparams = None
            self.ensemble = self.get_ensemble()

        def get_ensemble(self) -> list[Any]:
            table = {"feedforward": MeanPredictor(ss_type=self.ss_type)}  # closed, local table
            return [copy.deepcopy(table[self.predictor_type]) for _ in range(self.num_ensemble)]

        def fit(self, xtrain: Any, ytrain: Any, train_info: Any = None) -> list[Any]:
            if self.hyperparams is None and hasattr(self.ensemble[0], "default_hyperparams"):
                self.hyperparams = self.ensemble[0].default_hyperparams.copy()
            for model in self.ensemble:  # copies member 0's hyperparameters to every member
                model.set_hyperparams(self.hyperparams)
            return [m.fit(xtrain, ytrain, train_info) for m in self.ensemble]

        def query(self, xtest: Any, info: Any = None) -> np.ndarray:
            return np.array([m.query(xtest, info) for m in self.ensemble])

    predictor_module.Predictor = Predictor  # type: ignore[attr-defined]
    ensemble_module.Ensemble = Ensemble  # type: ignore[attr-defined]
    naslib.predictors = predictors  # type: ignore[attr-defined]
    predictors.predictor = predictor_module  # type: ignore[attr-defined]
    predictors.ensemble = ensemble_module  # type: ignore[attr-defined]
    return {
        "naslib": naslib,
        "naslib.predictors": predictors,
        "naslib.predictors.predictor": predictor_module,
        "naslib.predictors.ensemble": ensemble_module,
    }


@pytest.fixture
def fake_naslib(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, types.ModuleType]]:
    modules = _fake_naslib()
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    yield modules


@pytest.fixture(scope="module")
def nb201() -> tuple[list[FakeGraph], np.ndarray]:
    table = data.load("nb201", dataset="cifar10")
    sub = table.subset(np.random.default_rng(2).choice(len(table), size=80, replace=False))
    return naslib_graphs("nb201", sub.archs), sub.metric("test_acc_200ep")


# ---------------------------------------------------------------------- the adapter alone
def test_fit_and_query_follow_the_contract(nb201: tuple[list[FakeGraph], np.ndarray]) -> None:
    graphs, y = nb201
    model = GENNAPENASLibPredictor(ss_type="nasbench201", random_state=0, **TREES)
    model.pre_process()
    model.pre_compute(graphs[:60], graphs[60:])
    model.set_hyperparams(None)  # NASLib does this before every fit
    error = model.fit(graphs[:60], list(y[:60]), None)
    assert isinstance(error, float) and np.isfinite(error)
    pred = model.query(graphs[60:], None)
    assert isinstance(pred, np.ndarray) and pred.dtype == np.float64 and pred.shape == (20,)
    assert np.all(np.isfinite(pred))
    one = model.query([graphs[60]])
    assert one.shape == (1,) and one[0] == pytest.approx(pred[0])
    # The predictions are the wrapped predictor's, fitted on the same architectures.
    twin = GENNAPENASLibPredictor(ss_type=None, random_state=0, **TREES)
    twin.fit(graphs[:60], y[:60])
    np.testing.assert_allclose(twin.query(graphs[60:]), pred)


def test_data_reqs_and_hyperparameters() -> None:
    model = GENNAPENASLibPredictor(**TREES)
    reqs = model.get_data_reqs()
    assert set(reqs) == {
        "requires_partial_lc",
        "metric",
        "requires_hyperparameters",
        "hyperparams",
        "unlabeled",
        "unlabeled_factor",
    }
    assert reqs["requires_partial_lc"] is False and reqs["unlabeled"] is False
    params = model.get_hyperparams()
    assert params["n_estimators"] == 10 and "random_state" not in params
    assert all(isinstance(v, (bool, int, float, str, type(None))) for v in params.values())
    model.set_hyperparams({"n_estimators": 4})
    assert model.get_hyperparams()["n_estimators"] == 4
    model.set_hyperparams(None)
    assert model.get_hyperparams()["n_estimators"] == 10
    model.set_hyperparams({"n_estimators": 4, "random_state": 9})
    assert model.random_state == 9
    model.reset_hyperparams()
    assert model.get_hyperparams() == params
    with pytest.raises(ValueError, match="'cg_trees': invalid hyperparameter 'not_a_hyperparameter'.*valid ones"):
        model.set_hyperparams({"not_a_hyperparameter": 1})
    with pytest.raises(ValueError, match="invalid hyperparameter 'bogus'"):
        GENNAPENASLibPredictor(predictor_type="cg_trees", bogus=3)
    assert model.get_hpo_wrapper() is False
    assert model.set_random_hyperparams() == model.get_hyperparams()
    assert model.requires_partial_training() is False


def test_members_for_bananas(nb201: tuple[list[FakeGraph], np.ndarray]) -> None:
    graphs, y = nb201
    model = GENNAPENASLibPredictor(query_members=True, random_state=0, **TREES)
    model.fit(graphs[:60], y[:60])
    rows = model.query(graphs[60:])
    assert rows.dtype == np.float64 and rows.shape[1] == 20 and rows.shape[0] >= 2
    archs = search_spaces.get("nb201").from_naslib  # the architectures NASLib's graphs stand for
    mean, std = model.model.predict([archs(g) for g in graphs[60:]], return_std=True)
    np.testing.assert_allclose(rows.mean(axis=0), mean)
    np.testing.assert_allclose(rows.std(axis=0), std, atol=1e-9)
    flops = GENNAPENASLibPredictor(predictor_type="flops", query_members=True)
    flops.fit(graphs[:5], y[:5])
    assert flops.query(graphs[:3]).shape == (1, 3)


def test_gennape_member_rows_average_to_its_prediction(nb201: tuple[list[FakeGraph], np.ndarray]) -> None:
    graphs, y = nb201
    params = {"members": ("pair", "flops"), "epochs": 2, "cl_epochs": 1, "random_state": 0}
    model = GENNAPENASLibPredictor(query_members=True, **params)
    model.fit(graphs[:40], y[:40])  # NASLib's fit returns the training error, not the predictor
    rows = model.query(graphs[60:])
    assert rows.shape == (2, 20) and rows.std(axis=0).max() > 0  # the members' spread is kept
    plain = GENNAPENASLibPredictor(**params)
    plain.fit(graphs[:40], y[:40])
    np.testing.assert_allclose(rows.mean(axis=0), plain.query(graphs[60:]), rtol=0, atol=1e-9)


def test_hyperparameters_given_as_numpy_values_are_plain() -> None:
    import json

    model = GENNAPENASLibPredictor(n_estimators=np.int64(4), predictor_type="cg_trees")
    model.set_hyperparams({"max_features": np.float32(0.5)})
    values = model.get_hyperparams()
    assert type(values["n_estimators"]) is int and type(values["max_features"]) is float
    json.dumps(values)
    gennape = GENNAPENASLibPredictor(members=("pair", "flops"))
    assert gennape.get_hyperparams()["members"] == ["pair", "flops"] and json.dumps(gennape.get_hyperparams())


def test_seed_from_numpy_global_state(nb201: tuple[list[FakeGraph], np.ndarray]) -> None:
    graphs, y = nb201
    runs = []
    for _ in range(2):
        np.random.seed(4)  # what NASLib's set_seed does
        model = GENNAPENASLibPredictor(**TREES)
        model.fit(graphs[:40], y[:40])
        runs.append(model.query(graphs[40:]))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_survives_deepcopy_and_pickle(nb201: tuple[list[FakeGraph], np.ndarray]) -> None:
    graphs, y = nb201
    model = GENNAPENASLibPredictor(random_state=1, **TREES)
    model.fit(graphs[:30], y[:30])
    for other in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        np.testing.assert_array_equal(other.query(graphs[30:]), model.query(graphs[30:]))


@pytest.mark.parametrize("family", ["nb101", "nb301"])
def test_other_search_spaces(family: str) -> None:
    if family == "nb301":
        table = data.load("nb301", dataset="cifar10")
        metric = "val_acc_surrogate"
    else:
        table = data.load("nb101", dataset="cifar10")
        metric = "val_acc"
    sub = table.subset(np.arange(30))
    graphs = naslib_graphs(family, sub.archs)
    model = GENNAPENASLibPredictor(ss_type=SS_TYPES[family], random_state=0, predictor_type="cg_trees", n_estimators=5)
    model.fit(graphs[:20], sub.metric(metric)[:20])
    pred = model.query(graphs[20:])
    assert pred.shape == (10,) and np.all(np.isfinite(pred))


def test_errors_name_the_problem(nb201: tuple[list[FakeGraph], np.ndarray]) -> None:
    graphs, y = nb201
    model = GENNAPENASLibPredictor(**TREES)
    with pytest.raises(ValueError, match="query\\(\\) before fit\\(\\)"):
        model.query(graphs[:2])
    with pytest.raises(ValueError, match="xtrain is empty"):
        model.fit([], [])
    with pytest.raises(ValueError, match="3 architectures but 2 targets"):
        model.fit(graphs[:3], y[:2])
    model.set_ss_type("nasbench101")
    with pytest.raises(ValueError, match="NASLib graph of nb201"):
        model.fit(graphs[:3], y[:3])
    model.set_ss_type("transbench101_micro")
    with pytest.raises(ValueError, match="ss_type 'transbench101_micro' is not supported"):
        model.pre_process()
    with pytest.raises(KeyError, match="could not resolve predictor"):
        GENNAPENASLibPredictor(predictor_type="no_such_predictor")


def test_import_does_not_import_naslib() -> None:
    code = "import sys, gennape_naslib.naslib; assert 'naslib' not in sys.modules, 'naslib was imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_without_naslib_registration_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "naslib", None)  # makes `import naslib` raise ImportError
    from gennape_naslib._optional import MissingDependencyError

    with pytest.raises(MissingDependencyError, match="github.com/automl/NASLib"):
        register_with_naslib()


def test_naslib_available_ignores_namespace_folders(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "naslib").mkdir()
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "naslib", raising=False)
    assert naslib_available() is False


# ---------------------------------------------------------------------- with the NASLib stand-in
def test_registration_subclasses_naslib_and_feeds_the_ensemble(
    fake_naslib: dict[str, types.ModuleType], nb201: tuple[list[FakeGraph], np.ndarray]
) -> None:
    graphs, y = nb201
    cls = register_with_naslib(["cg_trees"], n_estimators=8)
    base = fake_naslib["naslib.predictors.predictor"].Predictor
    assert issubclass(cls, base) and issubclass(cls, GENNAPENASLibPredictor)
    assert fake_naslib["naslib.predictors"].NASLibGENNAPEPredictor is cls
    assert naslib_predictor_class() is cls
    Ensemble = fake_naslib["naslib.predictors.ensemble"].Ensemble
    ensemble = Ensemble(num_ensemble=3, predictor_type="cg_trees", ss_type="nasbench201")
    assert len(ensemble.ensemble) == 3 and all(isinstance(m, cls) for m in ensemble.ensemble)
    errors = ensemble.fit(graphs[:50], y[:50])
    assert len(errors) == 3 and all(np.isfinite(errors))
    rows = ensemble.query(graphs[50:])
    assert rows.shape == (3, 30) and rows.dtype == np.float64 and np.all(np.isfinite(rows))
    assert np.any(rows.std(axis=0) > 0), "ensemble members agree everywhere: no spread for BANANAS"
    # NASLib's own predictor types still come from its table.
    own = Ensemble(num_ensemble=2, predictor_type="feedforward")
    own.fit(graphs[:5], y[:5])
    np.testing.assert_allclose(own.query(graphs[:2]), np.mean(y[:5]))
    # Registering again (more names) keeps one wrapper and the earlier names.
    register_with_naslib(["flops"])
    get_ensemble = Ensemble.get_ensemble
    assert get_ensemble._gennape_original is not None
    assert not hasattr(get_ensemble._gennape_original, "_gennape_original")
    assert isinstance(Ensemble(num_ensemble=1, predictor_type="cg_trees").ensemble[0], cls)


def test_seeded_ensemble_members_differ(
    fake_naslib: dict[str, types.ModuleType], nb201: tuple[list[FakeGraph], np.ndarray]
) -> None:
    graphs, y = nb201
    register_with_naslib(["cg_trees"], n_estimators=6, random_state=10)
    ensemble = fake_naslib["naslib.predictors.ensemble"].Ensemble(num_ensemble=2, predictor_type="cg_trees")
    assert [m.random_state for m in ensemble.ensemble] == [10, 11]
    ensemble.fit(graphs[:40], y[:40])
    rows = ensemble.query(graphs[40:])
    again = fake_naslib["naslib.predictors.ensemble"].Ensemble(num_ensemble=2, predictor_type="cg_trees")
    again.fit(graphs[:40], y[:40])
    np.testing.assert_array_equal(again.query(graphs[40:]), rows)
    assert not np.array_equal(rows[0], rows[1])


def test_naslib_instances_pickle(fake_naslib: dict[str, types.ModuleType], nb201: Any) -> None:
    graphs, y = nb201
    cls = register_with_naslib(["cg_trees"], n_estimators=4)
    model = cls(predictor_type="cg_trees", n_estimators=4, random_state=0)
    model.fit(graphs[:20], y[:20])
    clone = pickle.loads(pickle.dumps(model))
    assert type(clone) is cls
    np.testing.assert_array_equal(clone.query(graphs[20:25]), model.query(graphs[20:25]))


def test_refuses_naslib_own_names(fake_naslib: dict[str, types.ModuleType]) -> None:
    with pytest.raises(ValueError, match="NASLib's own predictor types"):
        register_with_naslib(["gcn"])


def test_default_registers_gennape(fake_naslib: dict[str, types.ModuleType]) -> None:
    register_with_naslib()
    from gennape_naslib.naslib import predictor as adapter_module

    assert "gennape" in adapter_module._ENSEMBLE_TYPES
    try:
        get_predictor("gennape")
    except (UnknownPredictorError, ImportError) as exc:
        pytest.skip(f"the gennape predictor is not available yet: {exc}")
    Ensemble = fake_naslib["naslib.predictors.ensemble"].Ensemble
    members = Ensemble(num_ensemble=2, predictor_type="gennape").ensemble
    assert all(m.predictor_type == "gennape" for m in members)
