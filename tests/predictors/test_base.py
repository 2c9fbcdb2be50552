"""The predictor base class, registry, input coercion, validation and file format."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import gennape_naslib
from gennape_naslib import data, search_spaces
from gennape_naslib.cg.graph import ComputeGraph
from gennape_naslib.predictors import (
    InconsistentVersionWarning,
    NotFittedError,
    Predictor,
    PredictorFileError,
    UnknownPredictorError,
    as_archs_and_family,
    as_graphs,
    check_is_fitted,
    check_xy,
    clear_graph_cache,
    get_predictor,
    list_predictors,
    register_predictor,
)
from gennape_naslib.predictors.baselines import CGTreesPredictor
from gennape_naslib.testing import PredictorContract
from gennape_naslib.testing.predictor_contract import naslib_view


@pytest.fixture(scope="module")
def nb201() -> tuple[list[Any], np.ndarray]:
    table = data.load("nb201", dataset="cifar10").subset(np.arange(0, 15625, 500))
    return table.archs, table.metric("test_acc_200ep")


class Memorizer(Predictor):
    """A toy predictor whose state exercises every kind of value the file format stores."""

    supports_std = False

    def __init__(self, offset: float = 0.0, tags: tuple[str, ...] = ("a",), random_state: int | None = None) -> None:
        self.offset = offset
        self.tags = tags
        self.random_state = random_state

    def fit(self, X: Any, y: Any, family: Any = None) -> Memorizer:
        X, y = check_xy(X, y)
        graphs = as_graphs(X, family)
        self.mean_ = float(np.mean(y))
        self.table_ = {g.content_hash(): float(v) for g, v in zip(graphs, y)}
        self.weights_ = torch.arange(4, dtype=torch.float16)
        self.array_ = np.arange(6, dtype=np.int32).reshape(2, 3)
        self.by_int_ = {1: (2, "x"), 2: None}
        self.first_graph_ = graphs[0]
        return self

    def predict(self, X: Any, return_std: bool = False, family: Any = None) -> np.ndarray:
        check_is_fitted(self)
        if return_std:
            raise NotImplementedError("Memorizer has no std")
        graphs = as_graphs(X, family)
        if not graphs:
            raise ValueError("X is empty")
        # unseen graphs: the training mean, told apart by their size (a predictor must read X)
        unseen = [self.mean_ * (1.0 + 0.001 * len(g.nodes)) for g in graphs]
        return np.array([self.table_.get(g.content_hash(), u) + self.offset for g, u in zip(graphs, unseen)])


# ---------------------------------------------------------------------- registry
def test_registry_resolves_names_leniently() -> None:
    assert {"flops", "params", "cg_trees"} <= set(list_predictors())
    assert list_predictors("cg_*") == ["cg_trees"]
    for name in ("cg_trees", "CGTrees", "cg-trees", "CGTreesPredictor"):
        assert isinstance(get_predictor(name), CGTreesPredictor), name
    model = get_predictor("cg_trees", n_estimators=3)
    assert model.n_estimators == 3
    assert get_predictor(model) is model
    assert isinstance(get_predictor(CGTreesPredictor, random_state=1), CGTreesPredictor)


def test_unknown_predictor_lists_choices() -> None:
    with pytest.raises(UnknownPredictorError, match=r"could not resolve predictor 'nope' among choices \{.*flops"):
        get_predictor("nope")
    with pytest.raises(TypeError):
        get_predictor(3)  # type: ignore[arg-type]


def test_unknown_hyperparameter_is_named_before_construction() -> None:
    for name in ("cg_trees", CGTreesPredictor, get_predictor("cg_trees")):
        with pytest.raises(ValueError, match=r"invalid hyperparameter 'n_trees' for CGTreesPredictor; valid ones: \["):
            get_predictor(name, n_trees=3)  # type: ignore[arg-type]


def test_register_checks_class_and_name_clashes() -> None:
    with pytest.raises(TypeError, match="Predictor subclass"):
        register_predictor("not_a_predictor")(dict)

    class Other(Memorizer):
        pass

    with pytest.raises(ValueError, match="already registered"):
        register_predictor("flops")(Other)
    register_predictor("test_memorizer")(Memorizer)
    assert isinstance(get_predictor("test_memorizer"), Memorizer)


def test_import_is_light() -> None:
    code = (
        "import sys, gennape_naslib.predictors as p; p.list_predictors();"
        "assert 'torch_geometric' not in sys.modules, 'torch_geometric imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------- hyperparameters
def test_get_and_set_params() -> None:
    model = Memorizer(offset=1.5)
    assert model.get_params() == {"offset": 1.5, "random_state": None, "tags": ("a",)}
    assert model.set_params(offset=2.0) is model and model.offset == 2.0
    with pytest.raises(ValueError, match="invalid hyperparameter 'nope' for Memorizer"):
        model.set_params(nope=1)
    assert model.clone().get_params() == model.get_params()
    assert "Memorizer(offset=2.0" in repr(model)

    class Loose(Memorizer):
        def __init__(self, **kwargs: Any) -> None:
            pass

    with pytest.raises(TypeError, match="explicitly"):
        Loose().get_params()


def test_not_fitted(nb201: tuple[list[Any], np.ndarray]) -> None:
    archs, _ = nb201
    with pytest.raises(NotFittedError, match="not fitted yet"):
        Memorizer().predict(archs[:2])
    assert get_predictor("flops").is_fitted()


# ---------------------------------------------------------------------- inputs
def test_as_archs_and_family_forms(nb201: tuple[list[Any], np.ndarray]) -> None:
    archs, _ = nb201
    family = search_spaces.get("nb201")
    got, adapter = as_archs_and_family(archs[:3])
    assert got == archs[:3] and adapter is family
    as_json = [family.to_json(a) for a in archs[:3]]
    assert as_archs_and_family(as_json, family="nb201")[0] == archs[:3]
    assert as_archs_and_family([family.to_str(a) for a in archs[:3]], family=family)[0] == archs[:3]
    assert as_archs_and_family([naslib_view(family, a) for a in archs[:3]])[0] == archs[:3]
    assert as_archs_and_family(archs[:1], family="nasbench201")[1] is family
    assert as_archs_and_family([], family="nb201") == ([], family)


@pytest.mark.parametrize("name", ["nb101", "nb301"])
def test_naslib_graph_objects_of_other_spaces(name: str) -> None:
    table = data.load(name).subset(np.arange(3))
    family = search_spaces.get(name)
    views = [naslib_view(family, a) for a in table.archs]
    got, adapter = as_archs_and_family(views)
    assert adapter is family
    assert [family.canonical_hash(a) for a in got] == [family.canonical_hash(a) for a in table.archs]


def test_as_archs_and_family_errors(nb201: tuple[list[Any], np.ndarray]) -> None:
    archs, _ = nb201
    family = search_spaces.get("nb201")
    nb101_arch = data.load("nb101").subset([0]).archs[0]
    with pytest.raises(ValueError, match="empty"):
        as_archs_and_family([])
    with pytest.raises(ValueError, match=r"X\[0\] is a \w+, not an architecture object; pass family="):
        as_archs_and_family([family.to_json(archs[0])])
    with pytest.raises(ValueError, match=r"X\[1\] is an architecture of family 'nb101', expected 'nb201'"):
        as_archs_and_family([archs[0], nb101_arch])
    with pytest.raises(ValueError, match=r"X\[0\] is a NASLib graph of nb201"):
        as_archs_and_family([naslib_view(family, archs[0])], family="nb101")
    with pytest.raises(TypeError, match="wrap one architecture in a list"):
        as_archs_and_family(archs[0])
    with pytest.raises(TypeError, match="ComputeGraph"):
        as_archs_and_family([family.to_cg(archs[0])])
    with pytest.raises(search_spaces.ArchValidationError):
        as_archs_and_family([["conv"] * 6], family="nb201")


def test_as_graphs_passes_graphs_and_caches(nb201: tuple[list[Any], np.ndarray]) -> None:
    archs, _ = nb201
    family = search_spaces.get("nb201")
    cg = family.to_cg(archs[0])
    clear_graph_cache()
    graphs = as_graphs([cg, archs[1], archs[1]])
    assert graphs[0] is cg
    assert graphs[1] == family.to_cg(archs[1])
    assert graphs[2] is graphs[1]  # cached per architecture
    assert as_graphs([archs[1]])[0] is graphs[1]
    clear_graph_cache()
    assert as_graphs([archs[1]])[0] is not graphs[1]
    assert as_graphs([]) == []
    assert all(isinstance(g, ComputeGraph) for g in as_graphs([family.to_json(archs[2])], family="nb201"))


def test_check_xy(nb201: tuple[list[Any], np.ndarray]) -> None:
    archs, y = nb201
    X, values = check_xy(tuple(archs[:3]), list(y[:3]))
    assert X == archs[:3] and values.dtype == np.float64 and values.shape == (3,)
    with pytest.raises(ValueError, match="X is empty"):
        check_xy([], [])
    with pytest.raises(ValueError, match="3 architectures but 2 targets"):
        check_xy(archs[:3], y[:2])
    with pytest.raises(ValueError, match="index 1"):
        check_xy(archs[:3], [1.0, float("nan"), 2.0])
    with pytest.raises(ValueError, match="index 0"):
        check_xy(archs[:1], [float("inf")])
    with pytest.raises(ValueError, match="one-dimensional"):
        check_xy(archs[:2], [[1.0], [2.0]])
    with pytest.raises(ValueError, match="numbers"):
        check_xy(archs[:2], ["a", "b"])
    with pytest.raises(ValueError, match="at least 2"):
        check_xy(archs[:1], [1.0], min_samples=2)


# ---------------------------------------------------------------------- files
def test_save_load_round_trip_keeps_every_kind_of_state(tmp_path: Path, nb201: tuple[list[Any], np.ndarray]) -> None:
    archs, y = nb201
    model = Memorizer(offset=0.5, tags=("x", "y")).fit(archs[:5], y[:5])
    path = model.save(tmp_path / "m.npz")
    loaded = Predictor.load(path)
    assert isinstance(loaded, Memorizer) and loaded.tags == ("x", "y")
    np.testing.assert_allclose(loaded.predict(archs[:8]), model.predict(archs[:8]))
    assert loaded.weights_.dtype == torch.float16 and torch.equal(loaded.weights_, model.weights_)
    assert loaded.array_.dtype == np.int32 and np.array_equal(loaded.array_, model.array_)
    assert loaded.by_int_ == {1: (2, "x"), 2: None}
    assert loaded.first_graph_ == model.first_graph_
    with zipfile.ZipFile(path) as archive:  # NPZ members only, no pickles
        assert all(name.endswith(".npy") for name in archive.namelist())


def test_load_checks_the_class(tmp_path: Path, nb201: tuple[list[Any], np.ndarray]) -> None:
    archs, y = nb201
    path = Memorizer().fit(archs[:3], y[:3]).save(tmp_path / "m.npz")
    with pytest.raises(TypeError, match="holds a Memorizer, not a CGTreesPredictor"):
        CGTreesPredictor.load(path)


def test_load_warns_on_another_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nb201: tuple[list[Any], np.ndarray]
) -> None:
    archs, y = nb201
    monkeypatch.setattr(gennape_naslib, "__version__", "0.0.0-old")
    path = Memorizer().fit(archs[:3], y[:3]).save(tmp_path / "old.npz")
    monkeypatch.undo()
    with pytest.warns(InconsistentVersionWarning, match="written by gennape-naslib 0.0.0-old"):
        Predictor.load(path)


def test_load_rejects_other_files(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello", encoding="utf-8")
    with pytest.raises(PredictorFileError, match="notes.txt is not a gennape-naslib predictor file"):
        Predictor.load(text)
    plain = tmp_path / "arrays.npz"
    np.savez(plain, x=np.arange(3))
    with pytest.raises(PredictorFileError, match="arrays.npz is not a gennape-naslib predictor file"):
        Predictor.load(plain)
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        Predictor.load(tmp_path / "missing.npz")


def test_save_names_unsaveable_state(tmp_path: Path, nb201: tuple[list[Any], np.ndarray]) -> None:
    archs, y = nb201
    model = Memorizer().fit(archs[:3], y[:3])
    model.module_ = torch.nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"state\['module_'\]: cannot save an object of type torch.nn"):
        model.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


# ---------------------------------------------------------------------- the contract itself
def test_contract_passes_a_conforming_predictor() -> None:
    PredictorContract(Memorizer, train_size=8, test_size=4).check_all(subprocess_check=False)


class _Careless(Memorizer):
    """Breaks the contract in a way chosen per test."""

    flaw = ""

    def fit(self, X: Any, y: Any, family: Any = None) -> Any:
        if self.flaw == "no_validation":
            self.mean_ = float(np.mean(y)) if len(y) else 0.0
            self.table_ = {}
            return self
        if self.flaw == "stale_refit" and hasattr(self, "mean_"):
            return self  # keeps the first fit
        super().fit(X, y, family)
        if self.flaw == "ignores_labels":
            self.mean_, self.table_ = 1.0, {}  # a constant, not the labels
        if self.flaw == "returns_none":
            return None
        if self.flaw == "random":
            self.mean_ += float(np.random.default_rng().normal())
            self.table_ = {}
        return self

    def predict(self, X: Any, return_std: bool = False, family: Any = None) -> np.ndarray:
        pred = super().predict(X, return_std, family)
        return np.full_like(pred, self.mean_) if self.flaw == "constant" else pred


@pytest.mark.parametrize(
    ("flaw", "check", "message"),
    [
        ("constant", "check_uses_its_inputs", "one value for every test architecture"),
        ("ignores_labels", "check_uses_its_inputs", "shuffled, rescaled labels predicts the same"),
        ("stale_refit", "check_uses_its_inputs", "a second fit\\(\\) of one instance vs a fresh fit"),
        ("returns_none", "check_fit_returns_self", "fit\\(\\) must return self"),
        ("random", "check_deterministic", "two fits with the same seed"),
        ("no_validation", "check_rejects_bad_inputs", "fit\\(\\[\\], \\[\\]\\): no error was raised"),
    ],
)
def test_contract_catches_flaws(flaw: str, check: str, message: str) -> None:
    class Flawed(_Careless):
        pass

    Flawed.flaw = flaw
    contract = PredictorContract(Flawed, train_size=6, test_size=3)
    with pytest.raises(AssertionError, match=message):
        getattr(contract, check)()
