"""Any registered gennape-naslib predictor behind NASLib's predictor interface.

:class:`GENNAPENASLibPredictor` follows NASLib's ``naslib.predictors.predictor.Predictor`` contract
(see ``docs/NASLIB_CONTRACT.md`` of the shared docs): NASLib hands it its own search-space graph
objects, which it reads through their public methods (``get_op_indices`` for NAS-Bench-201,
``get_spec`` for NAS-Bench-101, ``get_compact`` for NAS-Bench-301), turns into the family's
architectures and passes to the wrapped predictor.

NASLib itself is never imported here at import time. :func:`register_with_naslib` imports it on
request, makes a subclass of NASLib's ``Predictor`` (available afterwards as
``gennape_naslib.naslib.predictor.NASLibGENNAPEPredictor``) and plugs the predictor types into
``naslib.predictors.ensemble.Ensemble``, whose predictor table is hard-coded, by wrapping its
``get_ensemble`` method.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import threading
from typing import Any

import numpy as np

from gennape_naslib.predictors.base import (
    NASLIB_SS_TYPES,
    Predictor,
    as_archs_and_family,
    as_graphs,
    check_x,
    check_xy,
    get_predictor,
)

__all__ = [
    "NASLIB_OWN_TYPES",
    "GENNAPENASLibPredictor",
    "naslib_available",
    "naslib_predictor_class",
    "register_with_naslib",
]

#: Predictor types NASLib's ensemble table already defines; registering one of them is refused.
NASLIB_OWN_TYPES = frozenset(
    {
        "bananas", "feedforward", "gbdt", "gcn", "bonas", "xgb", "ngb", "rf", "dngo", "bohamiann",
        "bayes_lin_reg", "seminas", "nao", "gp", "sparse_gp", "var_sparse_gp", "omni", "omni_xgb", "ngb_hp",
        "lgb", "lcsvr",
    }
)  # fmt: skip

_PLAIN = (bool, int, float, str, type(None))


def _plain_params(params: dict[str, Any]) -> dict[str, Any]:
    """The hyperparameters NASLib can handle: plain numbers, strings, bools and None."""
    out = {}
    for key, value in params.items():
        value = _plain_value(value)
        if isinstance(value, _PLAIN):
            out[key] = value
    return out


def _plain_value(value: Any) -> Any:
    """``value`` with numpy scalars as Python numbers and tuples as lists (so NASLib can log it as JSON)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, list)):
        return [_plain_value(v) for v in value]
    return value


class GENNAPENASLibPredictor:
    """A gennape-naslib predictor with NASLib's method names.

    Args:
        ss_type: NASLib search-space name: ``"nasbench201"``, ``"nasbench101"`` or ``"nasbench301"``
            (``None``: inferred from the graph objects).
        encoding_type: Accepted for NASLib's signature and stored; unused (the predictors read
            computation graphs built from the architectures).
        predictor_type: Registry name of the wrapped predictor (``"gennape"``, ``"kgnn"``,
            ``"cg_trees"``, ...; see :func:`gennape_naslib.predictors.list_predictors`).
        query_members: Make :meth:`query` return ``(n_members, n)`` rows (for BANANAS-style
            acquisition): the wrapped predictor's ``predict_members(X)`` if it has one, else the
            two rows ``mean - std`` and ``mean + std`` of ``predict(X, return_std=True)``, whose
            mean and population standard deviation are the predictor's.
        hpo_wrapper: What :meth:`get_hpo_wrapper` reports to NASLib.
        random_state: Seed of the wrapped predictor. ``None``: each :meth:`fit` draws one from
            NumPy's global generator, so NASLib's ``set_seed`` makes runs reproducible. Kept out of
            the hyperparameter dict, so NASLib's ensemble, which copies member 0's hyperparameters
            to every member, does not give all members the same seed.
        **hyperparams: Hyperparameters of the wrapped predictor (NASLib's hyperparameter dict).

    Raises:
        ValueError: If a hyperparameter is not one of the wrapped predictor's (the message lists them).
        KeyError: If ``predictor_type`` is not a registered predictor.
    """

    def __init__(
        self,
        ss_type: str | None = None,
        encoding_type: str | None = None,
        predictor_type: str = "gennape",
        query_members: bool = False,
        hpo_wrapper: bool = False,
        random_state: int | None = None,
        **hyperparams: Any,
    ) -> None:
        self.ss_type = ss_type
        self.encoding_type = encoding_type
        self.predictor_type = predictor_type
        self.query_members = query_members
        self.hpo_wrapper = hpo_wrapper
        self.random_state = random_state
        probe = self._make(hyperparams)
        params = probe.get_params(deep=False)
        params.pop("random_state", None)
        self.default_hyperparams: dict[str, Any] = {
            **_plain_params(params),
            **{k: _plain_value(v) for k, v in hyperparams.items()},
        }
        self.hyperparams: dict[str, Any] = dict(self.default_hyperparams)
        self.model: Predictor | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(ss_type={self.ss_type!r}, predictor_type={self.predictor_type!r})"

    # ------------------------------------------------------------------ the wrapped predictor
    def _make(self, hyperparams: dict[str, Any]) -> Predictor:
        try:
            return get_predictor(self.predictor_type, **hyperparams)
        except ValueError as exc:  # an unknown hyperparameter, named with the valid ones
            raise ValueError(f"predictor {self.predictor_type!r}: {exc}") from None

    def _family(self) -> str | None:
        if self.ss_type is None:
            return None
        if self.ss_type not in NASLIB_SS_TYPES:
            raise ValueError(f"ss_type {self.ss_type!r} is not supported; expected one of {sorted(NASLIB_SS_TYPES)}")
        return NASLIB_SS_TYPES[self.ss_type]

    def _archs(self, xs: Any, what: str) -> list[Any]:
        items = check_x(xs, what)
        archs, _ = as_archs_and_family(items, self._family())
        return archs

    # ------------------------------------------------------------------ NASLib's interface
    def set_ss_type(self, ss_type: str) -> None:
        """Store NASLib's search-space name (``"nasbench201"``, ...)."""
        self.ss_type = ss_type

    def pre_process(self) -> None:
        """Called once before a search; checks that ``ss_type`` is supported."""
        self._family()

    def get_data_reqs(self) -> dict[str, Any]:
        """No learning curves, hyperparameters of architectures or unlabeled data are needed."""
        return {
            "requires_partial_lc": False,
            "metric": None,
            "requires_hyperparameters": False,
            "hyperparams": {},
            "unlabeled": False,
            "unlabeled_factor": 0,
        }

    def pre_compute(self, xtrain: Any, xtest: Any, unlabeled: Any = None) -> None:
        """Build (and cache) the computation graphs of every architecture NASLib will use."""
        for xs in (xtrain, xtest, unlabeled):
            if xs is not None and len(xs):
                as_graphs(self._archs(xs, "xs"))

    def fit(self, xtrain: Any, ytrain: Any, train_info: Any = None) -> float:
        """Fit a fresh wrapped predictor on NASLib graph objects and accuracies (percent).

        Returns:
            The mean absolute error on the training architectures.
        """
        archs, y = check_xy(self._archs(xtrain, "xtrain"), ytrain)
        model = self._make(dict(self.hyperparams))
        if "random_state" in model.get_params(deep=False):
            seed = self.random_state
            model.set_params(random_state=int(np.random.randint(2**31 - 1)) if seed is None else int(seed))
        model.fit(archs, y)
        self.model = model
        return float(np.mean(np.abs(np.asarray(model.predict(archs), dtype=np.float64) - y)))

    def query(self, xtest: Any, info: Any = None) -> np.ndarray:
        """Predictions as a float64 array ``(n,)``, or ``(n_members, n)`` with ``query_members``."""
        if self.model is None:
            raise ValueError(f"{type(self).__name__}: query() before fit(); NASLib must fit the predictor first")
        archs = self._archs(xtest, "xtest")
        if not self.query_members:
            return np.asarray(self.model.predict(archs), dtype=np.float64).reshape(len(archs))
        members = getattr(self.model, "predict_members", None)
        if callable(members):
            # NASLib averages the rows over axis 0: the members' own accuracy maps are not linear (quantile
            # calibration), so their mean is not the ensemble's prediction. The rows keep the members' spread
            # around the ensemble's prediction, so that their mean is exactly what query_members=False gives.
            rows = np.asarray(members(archs), dtype=np.float64).reshape(-1, len(archs))
            mean = np.asarray(self.model.predict(archs), dtype=np.float64).reshape(len(archs))
            return rows - rows.mean(axis=0) + mean
        if not self.model.supports_std:
            return np.asarray(self.model.predict(archs), dtype=np.float64).reshape(1, len(archs))
        mean, std = self.model.predict(archs, return_std=True)
        mean, std = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
        return np.stack([mean - std, mean + std])

    # ------------------------------------------------------------------ hyperparameters
    def set_hyperparams(self, hyperparams: dict[str, Any] | None) -> None:
        """Use these hyperparameters from the next :meth:`fit` on (``None``: the defaults).

        Raises:
            ValueError: If a name is not a hyperparameter of the wrapped predictor.
        """
        if hyperparams is None:
            self.hyperparams = dict(self.default_hyperparams)
            return
        given = dict(hyperparams)
        if "random_state" in given:
            self.random_state = given.pop("random_state")
        given = {k: _plain_value(v) for k, v in given.items()}
        self._make(given)  # validates the names
        self.hyperparams = {**self.default_hyperparams, **given}

    def get_hyperparams(self) -> dict[str, Any]:
        """The hyperparameters of the next fit (plain values)."""
        return dict(self.hyperparams)

    def reset_hyperparams(self) -> None:
        """Go back to the hyperparameters given at construction."""
        self.hyperparams = dict(self.default_hyperparams)

    def set_random_hyperparams(self) -> dict[str, Any]:
        """NASLib's random hyperparameter search hook: there is no search space, the current ones stay."""
        return self.get_hyperparams()

    def get_hpo_wrapper(self) -> bool:
        """Whether NASLib should wrap this predictor in its cross-validated HPO (``hpo_wrapper``)."""
        return bool(self.hpo_wrapper)

    def requires_partial_training(self, xtest: Any = None, fidelity: Any = None) -> bool:
        """Learning-curve data is never needed."""
        return False


# ---------------------------------------------------------------------- NASLib integration
_LOCK = threading.Lock()
_SUBCLASSES: dict[int, type] = {}
#: NASLib predictor type -> (our registry name, hyperparameters), consulted by the wrapped Ensemble.
_ENSEMBLE_TYPES: dict[str, tuple[str, dict[str, Any]]] = {}


def _import_naslib(module: str) -> Any:
    from gennape_naslib._optional import MissingDependencyError

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"NASLib integration needs NASLib ('{module}' cannot be imported: {exc}). NASLib is not on "
            "the package index; install it from https://github.com/automl/NASLib"
        ) from exc


def naslib_available() -> bool:
    """Whether ``import naslib`` can work (checked without importing it)."""
    try:
        spec = importlib.util.find_spec("naslib")
    except (ImportError, ValueError):
        return False
    # A folder named naslib without __init__.py (e.g. a tests/naslib on sys.path) is a namespace
    # package, not NASLib.
    return spec is not None and spec.origin is not None


def naslib_predictor_class() -> type:
    """:class:`GENNAPENASLibPredictor` as a subclass of NASLib's ``Predictor`` (imports NASLib).

    Raises:
        MissingDependencyError: If NASLib cannot be imported.
    """
    base = _import_naslib("naslib.predictors.predictor").Predictor
    with _LOCK:
        cls = _SUBCLASSES.get(id(base))
        if cls is None or base not in cls.__mro__:
            cls = type(
                "NASLibGENNAPEPredictor",
                (GENNAPENASLibPredictor, base),
                {"__module__": __name__, "__doc__": GENNAPENASLibPredictor.__doc__},
            )
            cls.__qualname__ = "NASLibGENNAPEPredictor"
            _SUBCLASSES[id(base)] = cls
    return cls


def __getattr__(name: str) -> Any:  # lets pickle find the NASLib subclass by name
    if name == "NASLibGENNAPEPredictor":
        return naslib_predictor_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _wrap_get_ensemble(ensemble_cls: type) -> None:
    original = ensemble_cls.get_ensemble
    if getattr(original, "_gennape_original", None) is not None:
        return  # already wrapped

    def get_ensemble(self: Any) -> list[Any]:
        entry = _ENSEMBLE_TYPES.get(getattr(self, "predictor_type", None))
        if entry is None:
            return original(self)
        name, params = entry
        cls = naslib_predictor_class()
        params = dict(params)
        base_seed = params.pop("random_state", None)
        members = []
        for i in range(int(self.num_ensemble)):
            # Distinct seeds per member (or fresh draws from NumPy's global generator at each fit),
            # or the members of a deterministic predictor would agree and the ensemble's spread
            # (BANANAS's uncertainty) would be zero.
            seed = None if base_seed is None else int(base_seed) + i
            members.append(
                cls(
                    ss_type=getattr(self, "ss_type", None),
                    encoding_type=getattr(self, "encoding_type", None),
                    predictor_type=name,
                    random_state=seed,
                    **params,
                )
            )
        return members

    get_ensemble._gennape_original = original  # type: ignore[attr-defined]
    get_ensemble.__doc__ = original.__doc__
    ensemble_cls.get_ensemble = get_ensemble


def register_with_naslib(names: Any = ("gennape",), **hyperparams: Any) -> type:
    """Make gennape-naslib predictors usable by NASLib's optimizers and evaluators (imports NASLib).

    After this call ``naslib.predictors.ensemble.Ensemble(predictor_type=name, ...)`` (which
    BANANAS and NPENAS build) creates :class:`GENNAPENASLibPredictor` members for each ``name``,
    and ``naslib.predictors.NASLibGENNAPEPredictor`` is the NASLib-subclassed class. Calling it
    again adds names and is otherwise harmless.

    Args:
        names: Registry names of our predictors to offer under the same NASLib predictor types.
        **hyperparams: Hyperparameters of the wrapped predictors (e.g. ``random_state=0``: member
            ``i`` of an ensemble then uses seed ``i``).

    Returns:
        The NASLib subclass of :class:`GENNAPENASLibPredictor`.

    Raises:
        MissingDependencyError: If NASLib cannot be imported.
        ValueError: If a name is one of NASLib's own predictor types.
    """
    names = [names] if isinstance(names, str) else list(names)
    clashes = sorted(set(names) & NASLIB_OWN_TYPES)
    if clashes:
        raise ValueError(f"{clashes} are NASLib's own predictor types; register our predictors under other names")
    cls = naslib_predictor_class()
    ensemble_module = _import_naslib("naslib.predictors.ensemble")
    with _LOCK:
        for name in names:
            _ENSEMBLE_TYPES[name] = (name, copy.deepcopy(hyperparams))
        _wrap_get_ensemble(ensemble_module.Ensemble)
    predictors_package = _import_naslib("naslib.predictors")
    predictors_package.NASLibGENNAPEPredictor = cls
    return cls
