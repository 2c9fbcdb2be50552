"""A conformance suite every :class:`~gennape_naslib.predictors.Predictor` must pass.

Run it from your own tests::

    from gennape_naslib.testing import PredictorContract

    def test_my_predictor():
        PredictorContract(lambda: MyPredictor(random_state=0), family="nb201").check_all()

The checks train on a few real architectures of a packaged benchmark table (NAS-Bench-201 CIFAR-10
by default) and assert the contract of :mod:`gennape_naslib.predictors.base`: ``fit`` returns
``self``, predictions are float64 arrays of the right shape, the same seed gives the same
predictions (also in a fresh process with another hash seed), a save/load round trip keeps the
predictions, one architecture can be predicted, empty or mismatched inputs raise ``ValueError``,
and ``return_std`` gives a non-negative spread where the predictor supports it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gennape_naslib.predictors.base import (
    InconsistentVersionWarning,
    NotFittedError,
    Predictor,
    PredictorFileError,
    get_predictor,
)

__all__ = ["PredictorContract", "naslib_view"]

#: Default benchmark table, dataset and accuracy column of each family the contract can draw from.
DEFAULT_DATA: dict[str, tuple[str, str | None, str]] = {
    "nb201": ("nb201", "cifar10", "test_acc_200ep"),
    "nb101": ("nb101", "cifar10", "val_acc"),
    "nb301": ("nb301", "cifar10", "val_acc_surrogate"),
    "ofa_mbv3": ("ofa_mbv3", "imagenet", "top1_acc"),
}


class _NaslibGraphView:
    """A stand-in for a NASLib graph object exposing one reader method (see :func:`naslib_view`)."""

    def __init__(self, method: str, value: Any) -> None:
        self._method, self._value = method, value
        setattr(self, method, lambda: self._value)

    def __repr__(self) -> str:
        return f"NaslibGraphView({self._method}={self._value!r})"


def naslib_view(adapter: Any, arch: Any) -> Any | None:
    """An object that reads like a NASLib graph of ``arch`` (``get_op_indices``/``get_spec``/``get_compact``).

    Returns ``None`` for families NASLib does not have.
    """
    if adapter.name == "nb201":
        return _NaslibGraphView("get_op_indices", list(adapter.to_naslib(arch)))
    if adapter.name == "nb101":
        return _NaslibGraphView("get_spec", adapter.to_naslib_spec(arch))
    if adapter.name == "nb301":
        return _NaslibGraphView("get_compact", adapter.to_naslib(arch))
    return None


_SUBPROCESS_CODE = """
import importlib, json, sys
import numpy as np
spec = json.loads(open(sys.argv[1], encoding="utf-8").read())
for module in spec["modules"]:
    importlib.import_module(module)
from gennape_naslib.predictors import Predictor
from gennape_naslib.search_spaces import get
family = get(spec["family"])
model = Predictor.load(spec["model"])
train = [family.from_json(a) for a in spec["train"]]
test = [family.from_json(a) for a in spec["test"]]
model.fit(train, np.asarray(spec["y"], dtype=np.float64))
np.save(spec["out"], np.asarray(model.predict(test), dtype=np.float64))
"""


@dataclass
class PredictorContract:
    """Checks of the predictor contract; each method raises ``AssertionError`` with a reason.

    Args:
        factory: A zero-argument callable returning a fresh, seeded, unfitted predictor, or a
            registry name (then ``get_predictor(factory, **params)`` is used).
        family: Family whose packaged benchmark table provides the architectures and labels.
        params: Hyperparameters for a registry-name ``factory`` (e.g. few epochs for speed).
        train_size: Training architectures per fit.
        test_size: Architectures predicted per check.
        seed: Seed of the architecture draw.
        table, dataset, metric: Override the table, dataset and accuracy column of ``family``.
        atol: Absolute tolerance for "the same predictions".
        import_modules: Modules the subprocess of :meth:`check_deterministic_across_processes`
            imports before loading the predictor (default: the predictor's own module, unless it
            belongs to gennape_naslib, whose predictors load through the registry).
    """

    factory: Callable[[], Predictor] | str
    family: str = "nb201"
    params: dict[str, Any] = field(default_factory=dict)
    train_size: int = 20
    test_size: int = 10
    seed: int = 0
    table: str | None = None
    dataset: str | None = None
    metric: str | None = None
    atol: float = 1e-6
    import_modules: Sequence[str] | None = None
    _data: tuple[list[Any], np.ndarray, list[Any], Any] | None = field(default=None, init=False, repr=False)

    # ------------------------------------------------------------------ helpers
    def make(self) -> Predictor:
        """A fresh predictor from the factory."""
        if isinstance(self.factory, str):
            model = get_predictor(self.factory, **self.params)
        else:
            model = self.factory()
        assert isinstance(model, Predictor), f"the factory returned a {type(model).__name__}, not a Predictor"
        return model

    def data(self) -> tuple[list[Any], np.ndarray, list[Any], Any]:
        """``(train_archs, train_y, test_archs, adapter)`` drawn once from the benchmark table."""
        if self._data is None:
            from gennape_naslib import data

            table_name, dataset, metric = DEFAULT_DATA.get(self.family, (self.family, None, ""))
            table = data.load(self.table or table_name, dataset=self.dataset or dataset)
            metric = self.metric or metric or next(m for m in table.metric_names if "acc" in m)
            y = np.asarray(table.metric(metric), dtype=np.float64)
            rows = np.flatnonzero(np.isfinite(y))
            n = self.train_size + self.test_size
            assert len(rows) >= n, f"table {table.name} has only {len(rows)} labelled rows, need {n}"
            pick = np.random.default_rng(self.seed).choice(rows, size=n, replace=False)
            archs = table.subset(pick).archs  # parse only the rows drawn
            k = self.train_size
            self._data = (archs[:k], y[pick[:k]], archs[k:], table.adapter)
        return self._data

    def _fitted(self) -> Predictor:
        X, y, _, _ = self.data()
        return self.make().fit(X, y)

    def _assert_predictions(self, pred: Any, n: int, where: str) -> np.ndarray:
        assert isinstance(pred, np.ndarray), f"{where}: predict returned {type(pred).__name__}, not a numpy array"
        assert pred.dtype == np.float64, f"{where}: predictions have dtype {pred.dtype}, expected float64"
        assert pred.shape == (n,), f"{where}: predictions have shape {pred.shape}, expected ({n},)"
        assert np.all(np.isfinite(pred)), f"{where}: predictions are not all finite: {pred}"
        return pred

    def _assert_same(self, a: np.ndarray, b: np.ndarray, what: str) -> None:
        assert np.allclose(a, b, rtol=0.0, atol=self.atol), (
            f"{what}: predictions differ by up to {float(np.max(np.abs(a - b))):.3g} (atol {self.atol})"
        )

    @staticmethod
    def _raises(exc: type[BaseException] | tuple[type[BaseException], ...], fn: Callable[[], Any], what: str) -> str:
        try:
            fn()
        except exc as err:
            message = str(err)
            assert message.strip(), f"{what}: raised {type(err).__name__} without a message"
            return message
        except Exception as err:  # report the wrong exception type
            raise AssertionError(f"{what}: raised {type(err).__name__}({err}) instead of {exc}") from err
        raise AssertionError(f"{what}: no error was raised")

    # ------------------------------------------------------------------ checks
    def check_params(self) -> None:
        """``get_params`` lists the ``__init__`` arguments; ``set_params`` rejects unknown names; fit keeps them."""
        model = self.make()
        params = model.get_params()
        assert isinstance(params, dict), "get_params() must return a dict"
        clone = type(model)(**params)
        assert clone.get_params() == params, "constructing from get_params() changed the hyperparameters"
        assert model.set_params(**params) is model, "set_params() must return self"
        self._raises(ValueError, lambda: model.set_params(not_a_hyperparameter_xyz=1), "set_params(unknown)")
        X, y, _, _ = self.data()
        before = repr(model.get_params())
        model.fit(X, y)
        assert repr(model.get_params()) == before, "fit() changed the hyperparameters; store learned state in x_"

    def check_fit_returns_self(self) -> None:
        """``fit`` returns the predictor itself, and ``predict`` gives finite float64 ``(n,)`` arrays."""
        X, y, X_test, _ = self.data()
        model = self.make()
        assert model.fit(X, y) is model, "fit() must return self"
        self._assert_predictions(model.predict(X_test), len(X_test), "predict(test)")

    def check_not_fitted(self) -> None:
        """A predictor that needs fitting refuses to predict before ``fit``."""
        model = self.make()
        if not model.needs_fit:
            return
        _, _, X_test, _ = self.data()
        self._raises((NotFittedError, ValueError, AttributeError), lambda: model.predict(X_test), "predict before fit")

    def check_deterministic(self) -> None:
        """Two predictors from the factory, fitted on the same data, predict the same."""
        _, _, X_test, _ = self.data()
        first = self._fitted().predict(X_test)
        second = self._fitted().predict(X_test)
        self._assert_same(first, second, "two fits with the same seed")

    def check_deterministic_across_processes(self, timeout: float = 600.0) -> None:
        """A fresh Python process (another hash seed) fitting the same predictor predicts the same.

        The unfitted predictor travels as a predictor file, so its class must be importable there
        (registered, in gennape_naslib, or in a module listed in ``import_modules``).
        """
        X, y, X_test, adapter = self.data()
        model = self.make()
        if self.import_modules is not None:
            modules = list(self.import_modules)
        else:  # the package's own predictors are found through the registry
            own = type(model).__module__.split(".")[0] == "gennape_naslib"
            modules = [] if own or type(model).__module__ == "__main__" else [type(model).__module__]
        with tempfile.TemporaryDirectory(prefix="gennape-contract-") as tmp:
            folder = Path(tmp)
            model.save(folder / "model.npz")
            spec = {
                "modules": modules,
                "family": adapter.name,
                "model": str(folder / "model.npz"),
                "train": [adapter.to_json(a) for a in X],
                "test": [adapter.to_json(a) for a in X_test],
                "y": [float(v) for v in y],
                "out": str(folder / "pred.npy"),
            }
            (folder / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
            env["PYTHONHASHSEED"] = "12345"
            proc = subprocess.run(
                [sys.executable, "-c", _SUBPROCESS_CODE, str(folder / "spec.json")],
                capture_output=True,
                text=True,
                env=env,
                timeout=timeout,
                check=False,
            )
            assert proc.returncode == 0, f"the subprocess failed:\n{proc.stderr[-3000:]}"
            other = np.load(folder / "pred.npy")
        mine = model.fit(X, y).predict(X_test)
        self._assert_same(mine, other, "the same predictor fitted in another process")

    def check_save_load(self) -> None:
        """A save/load round trip keeps hyperparameters and predictions; foreign files are refused."""
        X, y, X_test, _ = self.data()
        model = self.make().fit(X, y)
        expected = model.predict(X_test)
        with tempfile.TemporaryDirectory(prefix="gennape-contract-") as tmp:
            path = Path(tmp) / "model.npz"
            written = model.save(path)
            assert Path(written).is_file(), f"save() returned {written}, which is not a file"
            with warnings.catch_warnings():
                warnings.simplefilter("error", InconsistentVersionWarning)
                loaded = Predictor.load(path)
                typed = type(model).load(path)
            for other in (loaded, typed):
                assert type(other) is type(model), f"load() gave a {type(other).__name__}"
                assert repr(other.get_params()) == repr(model.get_params()), "load() changed the hyperparameters"
                self._assert_same(expected, other.predict(X_test), "after save/load")
            unfitted = self.make()
            unfitted.save(Path(tmp) / "unfitted.npz")
            fresh = Predictor.load(Path(tmp) / "unfitted.npz")
            self._assert_same(expected, fresh.fit(X, y).predict(X_test), "an unfitted predictor saved, loaded and fit")
            junk = Path(tmp) / "junk.npz"
            junk.write_text("not a predictor", encoding="utf-8")
            message = self._raises(PredictorFileError, lambda: Predictor.load(junk), "load(non-predictor file)")
            assert "junk.npz" in message, f"the error does not name the file: {message}"

    def check_single_sample(self) -> None:
        """Predicting one architecture gives shape ``(1,)``; fitting on one works or raises ``ValueError``."""
        X, y, X_test, _ = self.data()
        model = self.make().fit(X, y)
        one = self._assert_predictions(model.predict(X_test[:1]), 1, "predict([one])")
        self._assert_same(one, model.predict(X_test)[:1], "predict([one]) vs the same architecture in a batch")
        try:
            single = self.make().fit(X[:1], y[:1])
        except ValueError as err:
            assert str(err).strip(), "fit on one sample raised ValueError without a message"
            return
        self._assert_predictions(single.predict(X_test), len(X_test), "predict after fit on one sample")

    def check_rejects_bad_inputs(self) -> None:
        """Empty inputs, ``len(X) != len(y)`` and NaN targets raise ``ValueError`` with a message."""
        X, y, X_test, _ = self.data()
        self._raises(ValueError, lambda: self.make().fit([], []), "fit([], [])")
        self._raises(ValueError, lambda: self.make().fit(X[:3], y[:2]), "fit with len(X) != len(y)")
        bad = np.array(y[:3], dtype=np.float64)
        bad[1] = np.nan
        self._raises(ValueError, lambda: self.make().fit(X[:3], bad), "fit with NaN in y")
        model = self.make().fit(X, y)
        self._raises(ValueError, lambda: model.predict([]), "predict([])")

    def check_std(self) -> None:
        """``predict(return_std=True)`` gives ``(mean, std)`` with ``std >= 0`` where supported, else an error."""
        X, y, X_test, _ = self.data()
        model = self.make().fit(X, y)
        if not model.supports_std:
            self._raises((NotImplementedError, ValueError), lambda: model.predict(X_test, return_std=True), "std")
            return
        result = model.predict(X_test, return_std=True)
        assert isinstance(result, tuple) and len(result) == 2, "predict(return_std=True) must return (mean, std)"
        mean = self._assert_predictions(result[0], len(X_test), "mean")
        std = self._assert_predictions(result[1], len(X_test), "std")
        assert np.all(std >= 0.0), f"std has negative entries: {std}"
        self._assert_same(mean, model.predict(X_test), "the mean of return_std vs predict")

    def check_input_forms(self) -> None:
        """JSON encodings (with ``family=``) and NASLib-like graph objects predict like ``Arch`` objects."""
        X, y, X_test, adapter = self.data()
        model = self.make().fit(X, y)
        expected = model.predict(X_test)
        encoded = [adapter.to_json(a) for a in X_test]
        self._assert_same(expected, model.predict(encoded, family=adapter.name), "JSON encodings")
        views = [naslib_view(adapter, a) for a in X_test]
        if all(v is not None for v in views):
            self._assert_same(expected, model.predict(views), "NASLib graph objects")

    def check_target_scale(self, rtol: float = 1e-4) -> None:
        """Targets in percent and as fractions give the same predictions up to that scale.

        Either the predictions scale with the targets (``predict`` after fitting on ``y / 100`` is
        ``1/100`` of the one after fitting on ``y``) or they do not depend on the targets' scale at
        all (scores such as FLOPs or rankings).
        """
        X, y, X_test, _ = self.data()
        percent = self.make().fit(X, y).predict(X_test)
        fraction = self.make().fit(X, y / 100.0).predict(X_test)
        tolerance = rtol * max(float(np.max(np.abs(percent))), 1e-12)
        scaled_gap = float(np.max(np.abs(percent - 100.0 * fraction)))
        same_gap = float(np.max(np.abs(percent - fraction)))
        assert min(scaled_gap, same_gap) <= tolerance, (
            f"fitting on y/100 changes more than the scale: predictions differ by {scaled_gap:.3g} after "
            f"rescaling by 100 and by {same_gap:.3g} without (tolerance {tolerance:.3g})"
        )

    def check_uses_its_inputs(self) -> None:
        """A fitted predictor tells the test architectures apart; one that needs fitting learns from its labels
        (other labels on the same architectures give other predictions), and a second ``fit`` of one instance
        forgets the first (it predicts as a fresh predictor fitted on the second data)."""
        X, y, X_test, _ = self.data()
        model = self.make().fit(X, y)
        pred = model.predict(X_test)
        assert np.ptp(pred) > 0, "predict() gives one value for every test architecture; it must read X"
        if not model.needs_fit:
            return
        # the labels shuffled over the architectures and rescaled: a predictor reading y changes its predictions
        other = 1.1 * y[np.random.default_rng(self.seed).permutation(len(y))]
        fresh = self.make().fit(X, other).predict(X_test)
        assert not np.allclose(fresh, pred, rtol=0.0, atol=self.atol), (
            "fit() on the same architectures with shuffled, rescaled labels predicts the same; fit() must read y"
        )
        self._assert_same(model.fit(X, other).predict(X_test), fresh, "a second fit() of one instance vs a fresh fit")

    def check_all(self, subprocess_check: bool = True) -> None:
        """Run every check (the cross-process one only when ``subprocess_check``)."""
        self.check_params()
        self.check_fit_returns_self()
        self.check_not_fitted()
        self.check_deterministic()
        self.check_save_load()
        self.check_single_sample()
        self.check_rejects_bad_inputs()
        self.check_std()
        self.check_input_forms()
        self.check_target_scale()
        self.check_uses_its_inputs()
        if subprocess_check:
            self.check_deterministic_across_processes()
