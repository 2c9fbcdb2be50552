"""The predictor contract, the predictor registry and the helpers every predictor shares.

A *predictor* estimates the performance of architectures. The contract follows scikit-learn:

- hyperparameters are explicit keyword arguments of ``__init__``, stored unchanged as attributes of
  the same name (no validation or conversion in ``__init__``; do that in :meth:`Predictor.fit`);
- learned state lives in public attributes ending in ``_``, set only by :meth:`Predictor.fit`;
- ``random_state`` (an ``int`` or ``None``) controls every source of randomness, so the same seed
  gives the same predictions, also in another process;
- :meth:`Predictor.fit` returns ``self``; :meth:`Predictor.predict` returns a float64 array of
  shape ``(n,)``, or ``(mean, std)`` when asked for ``return_std`` and the predictor supports it.

Registering a predictor (also possible from another package through the entry-point group
``gennape_naslib.predictors``)::

    @register_predictor("my_predictor")
    class MyPredictor(Predictor):
        def __init__(self, alpha: float = 1.0, random_state: int | None = None) -> None:
            self.alpha = alpha
            self.random_state = random_state

        def fit(self, X, y, family=None):
            X, y = check_xy(X, y)
            graphs = as_graphs(X, family)
            ...
            self.coef_ = ...
            return self

        def predict(self, X, return_std=False, family=None):
            check_is_fitted(self)
            ...

Optional hook: an ensemble may define ``predict_members(X, family=None)`` returning a float64 array
``(n_members, n)`` of its members' predictions; the NASLib adapter returns it from ``query`` when
asked for members (BANANAS-style acquisition).

Saving: :meth:`Predictor.save` writes the hyperparameters, the package version and the learned
state to one NPZ file (see :mod:`gennape_naslib.predictors._files`; no pickles). The default state
is every public attribute ending in ``_``; a predictor whose state holds objects the file cannot
store (``torch.nn.Module``, ...) overrides :meth:`Predictor._get_state` / :meth:`Predictor._set_state`
to store, e.g., a ``state_dict`` and rebuild the module from it.
"""

from __future__ import annotations

import copy
import fnmatch
import importlib
import importlib.util
import inspect
import os
import re
import sys
import threading
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from gennape_naslib.predictors._files import FORMAT, FORMAT_VERSION, PredictorFileError, read_file, write_file
from gennape_naslib.predictors._inputs import (
    NASLIB_SS_TYPES,
    LabelScaleWarning,
    NotFittedError,
    as_archs_and_family,
    as_graphs,
    check_x,
    check_xy,
    clear_graph_cache,
    naslib_family_name,
    resolve_family,
)

__all__ = [
    "BUILTIN_PREDICTORS",
    "InconsistentVersionWarning",
    "LabelScaleWarning",
    "NASLIB_SS_TYPES",
    "NotFittedError",
    "Predictor",
    "PredictorFileError",
    "UnknownPredictorError",
    "as_archs_and_family",
    "as_graphs",
    "check_is_fitted",
    "check_x",
    "check_xy",
    "clear_graph_cache",
    "get_predictor",
    "list_predictors",
    "naslib_family_name",
    "predictions_array",
    "register_predictor",
    "resolve_family",
]

ENTRY_POINT_GROUP = "gennape_naslib.predictors"

#: The built-in zero-cost proxies of :mod:`gennape_naslib.proxies`, named here so that the registries can
#: refer to them without importing torch ("flops" and "params" are proxies and baselines at once).
BUILTIN_PROXY_NAMES = (
    "epe_nas",
    "fisher",
    "flops",
    "grad_norm",
    "grasp",
    "jacov",
    "l2_norm",
    "nwot",
    "params",
    "plain",
    "snip",
    "synflow",
    "zen",
)

#: Built-in predictors and the module(s) that may register each (the first that exists is imported on
#: first use only).
BUILTIN_PREDICTORS: dict[str, str | tuple[str, ...]] = {
    "gennape": "gennape_naslib.predictors.gennape",
    "kgnn": "gennape_naslib.predictors.kgnn",
    "flops": "gennape_naslib.predictors.baselines",
    "params": "gennape_naslib.predictors.baselines",
    "cg_trees": "gennape_naslib.predictors.baselines",
    # Zero-cost proxies wrapped as predictors (their "flops"/"params" are the baselines above).
    **{proxy: "gennape_naslib.proxies.predictor" for proxy in BUILTIN_PROXY_NAMES if proxy not in ("flops", "params")},
}

_REGISTRY: dict[str, type[Predictor]] = {}
_LOCK = threading.Lock()

P = TypeVar("P", bound="Predictor")
C = TypeVar("C", bound=type)


class InconsistentVersionWarning(UserWarning):
    """A predictor file was written by another version of gennape-naslib."""


class UnknownPredictorError(KeyError):
    """No predictor of that name is registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class Predictor(ABC):
    """Base class of every performance predictor (scikit-learn style; see the module docstring).

    Class attributes:
        name: Registry name (set by :func:`register_predictor`).
        supports_std: Whether ``predict(X, return_std=True)`` returns a meaningful spread.
        needs_fit: ``False`` for predictors usable without training (FLOPs, zero-cost proxies);
            their :meth:`fit` validates its inputs and returns ``self``.
        higher_is_better: Whether a higher prediction means a better architecture.
    """

    name: ClassVar[str] = ""
    supports_std: ClassVar[bool] = False
    needs_fit: ClassVar[bool] = True
    higher_is_better: ClassVar[bool] = True

    # ------------------------------------------------------------------ the contract
    @abstractmethod
    def fit(self, X: Any, y: Any, family: Any = None) -> Predictor:
        """Learn from architectures ``X`` and their accuracies ``y``.

        Args:
            X: Sequence of architectures: family ``Arch`` objects, ``ComputeGraph`` objects (where
                the predictor works on graphs), NASLib graph objects, or JSON encodings/text with
                ``family`` given.
            y: One finite float per architecture (accuracy in percent or as a fraction; the
                predictions must be the same up to that scale).
            family: Family name or adapter, needed for JSON/text items.

        Returns:
            ``self``.

        Raises:
            ValueError: If ``X`` is empty, ``len(X) != len(y)`` or ``y`` holds NaN.
        """

    @abstractmethod
    def predict(self, X: Any, return_std: bool = False, family: Any = None) -> Any:
        """Predict the performance of architectures ``X`` (forms as in :meth:`fit`).

        Returns:
            A float64 array of shape ``(n,)``; with ``return_std=True`` a pair ``(mean, std)`` of
            such arrays (``std >= 0``).

        Raises:
            ValueError: If ``X`` is empty.
            NotFittedError: If the predictor needs fitting and was not fitted.
            NotImplementedError: If ``return_std`` is requested but ``supports_std`` is ``False``.
        """

    # ------------------------------------------------------------------ hyperparameters
    @classmethod
    def _param_names(cls) -> list[str]:
        init = cls.__init__
        if init is object.__init__:
            return []
        names = []
        for p in inspect.signature(init).parameters.values():
            if p.name == "self":
                continue
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(f"{cls.__name__}.__init__ must list its hyperparameters explicitly (no *args/**kwargs)")
            names.append(p.name)
        return sorted(names)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The hyperparameters, as passed to ``__init__`` (copied when ``deep``)."""
        params = {}
        for name in self._param_names():
            if not hasattr(self, name):
                raise AttributeError(
                    f"{type(self).__name__} does not store its __init__ argument {name!r} as an attribute "
                    "of the same name, which the predictor contract requires"
                )
            params[name] = getattr(self, name)
        return copy.deepcopy(params) if deep else params

    def set_params(self: P, **params: Any) -> P:
        """Set hyperparameters by name; returns ``self``.

        Raises:
            ValueError: If a name is not a hyperparameter of this predictor.
        """
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise ValueError(
                    f"invalid hyperparameter {key!r} for {type(self).__name__}; valid ones: {sorted(valid)}"
                )
            setattr(self, key, value)
        return self

    def clone(self: P) -> P:
        """An unfitted copy with the same hyperparameters."""
        return type(self)(**self.get_params(deep=True))

    def __repr__(self) -> str:
        try:
            params = self.get_params(deep=False)
        except AttributeError:
            return f"{type(self).__name__}()"
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in params.items())})"

    # ------------------------------------------------------------------ fitted state
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` has set any learned state (always ``True`` when ``needs_fit`` is False)."""
        if not self.needs_fit:
            return True
        return any(k.endswith("_") and not k.startswith("_") for k in vars(self))

    def _get_state(self) -> dict[str, Any]:
        """The learned state to save: every public attribute ending in ``_`` (override as needed)."""
        return {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_")}

    def _set_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`_get_state` returned (override together with it).

        Called by :meth:`load` with the state read from a file: a missing entry should raise ``KeyError`` naming
        it (as indexing the dict does), which :meth:`load` reports as a :class:`PredictorFileError` naming the file.
        """
        for key, value in state.items():
            setattr(self, key, value)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write hyperparameters, package version and learned state to ``path`` (one NPZ file).

        Returns:
            The path written.

        Raises:
            TypeError: If the state holds an object the file format cannot store (the message names it).
        """
        from gennape_naslib import __version__

        cls = type(self)
        header = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "version": __version__,
            "class": f"{cls.__module__}:{cls.__qualname__}",
            "name": cls.name,
            "fitted": self.is_fitted(),
        }
        return write_file(path, header, self.get_params(deep=False), self._get_state() if self.is_fitted() else {})

    @classmethod
    def load(cls: type[P], path: str | os.PathLike[str]) -> P:
        """Read a predictor written by :meth:`save` (of any predictor class when called on the base).

        Warns:
            InconsistentVersionWarning: If the file was written by another package version.

        Raises:
            FileNotFoundError: If ``path`` does not exist.
            PredictorFileError: If ``path`` is not a predictor file, names a class that cannot be found, or
                holds a state that is incomplete (an entry or array member missing) or cannot be restored.
            TypeError: If the file holds a predictor that is not a ``cls``.
        """
        from gennape_naslib import __version__

        header, params, state = read_file(path)
        target = _class_from_header(header, str(path))
        if not issubclass(target, cls):
            raise TypeError(f"{path} holds a {target.__name__}, not a {cls.__name__}")
        if header.get("version") != __version__:
            warnings.warn(
                f"{path} was written by gennape-naslib {header.get('version')}; this is {__version__}. "
                "Its predictions may differ; refit or re-save it with this version.",
                InconsistentVersionWarning,
                stacklevel=2,
            )
        try:
            predictor = target(**params)
        except TypeError as exc:
            message = f"{path}: the saved hyperparameters do not fit {target.__name__} ({exc})"
            raise PredictorFileError(message) from None
        if state:
            try:
                predictor._set_state(state)
            except PredictorFileError:
                raise
            except KeyError as exc:  # an entry of the state (or of one of its parts) is missing
                entry = exc.args[0] if exc.args else "?"
                message = (
                    f"{path}: the saved state of the {target.__name__} lacks the entry {entry!r} "
                    "(the file is incomplete or corrupted)"
                )
                raise PredictorFileError(message) from None
            except (AttributeError, IndexError, TypeError, ValueError, RuntimeError) as exc:
                message = f"{path}: the saved state cannot be restored into a {target.__name__} ({exc})"
                raise PredictorFileError(message) from exc
        return predictor


def _class_from_header(header: dict[str, Any], source: str) -> type[Predictor]:
    name = header.get("name") or ""
    qualified = str(header.get("class", ""))
    module_name, _, qualname = qualified.partition(":")
    if name:
        try:
            candidate = _resolve_class(name)
        except UnknownPredictorError:
            candidate = None
        if candidate is not None and f"{candidate.__module__}:{candidate.__qualname__}" == qualified:
            return candidate
    # Import only the package's own modules or ones already loaded, never an arbitrary module named by a file.
    if module_name and (module_name in sys.modules or module_name.split(".")[0] == "gennape_naslib"):
        try:
            obj: Any = importlib.import_module(module_name)
            for part in qualname.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError):
            obj = None
        if isinstance(obj, type) and issubclass(obj, Predictor):
            return obj
    if name:
        try:
            return _resolve_class(name)
        except UnknownPredictorError:
            pass
    raise PredictorFileError(f"{source}: cannot find the predictor class {qualified!r} (registry name {name!r})")


def check_is_fitted(predictor: Predictor) -> None:
    """Raise :class:`NotFittedError` if ``predictor`` needs fitting and has not been fitted."""
    if not predictor.is_fitted():
        raise NotFittedError(f"this {type(predictor).__name__} is not fitted yet; call fit(X, y) before predict")


# ---------------------------------------------------------------------- registry
def register_predictor(name: str) -> Callable[[C], C]:
    """Class decorator registering a :class:`Predictor` subclass under ``name`` (and setting ``cls.name``)."""

    def decorator(cls: C) -> C:
        if not (isinstance(cls, type) and issubclass(cls, Predictor)):
            raise TypeError(f"@register_predictor({name!r}) needs a Predictor subclass, got {cls!r}")
        with _LOCK:
            existing = _REGISTRY.get(name)
            if existing is not None and existing is not cls and existing.__qualname__ != cls.__qualname__:
                raise ValueError(
                    f"predictor {name!r} is already registered by {existing.__module__}.{existing.__qualname__}"
                )
            cls.name = name
            _REGISTRY[name] = cls
        return cls

    return decorator


def _entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _module_exists(module: str) -> bool:
    """Whether ``module`` can be imported, found without importing its parent package if possible."""
    parent, _, leaf = module.rpartition(".")
    try:
        if not parent or parent in sys.modules:
            return importlib.util.find_spec(module) is not None
        spec = importlib.util.find_spec(parent)  # imports the grandparent only
    except (ImportError, ValueError):
        return False
    locations = (spec.submodule_search_locations or []) if spec is not None else []
    return any(Path(loc, f"{leaf}.py").is_file() or Path(loc, leaf, "__init__.py").is_file() for loc in locations)


def _builtin_module(name: str) -> str | None:
    modules = BUILTIN_PREDICTORS.get(name, ())
    for module in (modules,) if isinstance(modules, str) else modules:
        if _module_exists(module):
            return module
    return None


def list_predictors(pattern: str = "*") -> list[str]:
    """Names of the available predictors (built-in, registered and plugins), filtered by a glob."""
    names = {n for n in BUILTIN_PREDICTORS if _builtin_module(n) is not None}
    names |= set(_REGISTRY) | set(_entry_points())
    return sorted(n for n in names if fnmatch.fnmatch(n, pattern))


def _normalise(name: str) -> str:
    key = re.sub(r"[^0-9a-z]", "", name.lower())
    return key.removesuffix("predictor") or key


def _import_builtin(name: str) -> None:
    if name in _REGISTRY:
        return
    module = _builtin_module(name)
    if module is not None:
        importlib.import_module(module)


def _resolve_class(name: str) -> type[Predictor]:
    _import_builtin(name)
    if name not in _REGISTRY:
        eps = _entry_points()
        if name in eps:
            eps[name].load()
    if name in _REGISTRY:
        return _REGISTRY[name]
    # Lenient matching: "CGTrees", "cg-trees", "GENNAPEPredictor" ...
    key = _normalise(name)
    for candidate in list_predictors():
        if _normalise(candidate) == key:
            _import_builtin(candidate)
            if candidate in _REGISTRY:
                return _REGISTRY[candidate]
    for builtin in BUILTIN_PREDICTORS:
        _import_builtin(builtin)
    for registered, cls in list(_REGISTRY.items()):
        if key in (_normalise(registered), _normalise(cls.__name__)):
            return cls
    choices = ", ".join(list_predictors())
    raise UnknownPredictorError(f"could not resolve predictor {name!r} among choices {{{choices}}}")


def get_predictor(name: str | type[Predictor] | Predictor, **kwargs: Any) -> Predictor:
    """Create a predictor by registry name (or class name, case and ``_``/``-`` insensitive).

    Args:
        name: Registry name such as ``"gennape"`` or ``"cg_trees"``, a :class:`Predictor` subclass,
            or an instance (returned as it is, with ``kwargs`` applied through ``set_params``).
        **kwargs: Hyperparameters passed to the constructor.

    Raises:
        UnknownPredictorError: ``could not resolve X among choices {...}``.
        ValueError: If ``kwargs`` names a hyperparameter the predictor does not have (as ``set_params``).
    """
    if isinstance(name, Predictor):
        return name.set_params(**kwargs) if kwargs else name
    if isinstance(name, type) and issubclass(name, Predictor):
        cls = name
    elif isinstance(name, str):
        cls = _resolve_class(name)
    else:
        raise TypeError(f"predictor must be a name, a Predictor class or instance, got {type(name).__name__}")
    valid = cls._param_names()
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise ValueError(f"invalid hyperparameter {unknown[0]!r} for {cls.__name__}; valid ones: {valid}")
    return cls(**kwargs)


def predictions_array(values: Any, n: int, where: str) -> np.ndarray:
    """Convert predictions to a float64 ``(n,)`` array, checking the length (for predictor authors)."""
    out = np.asarray(values, dtype=np.float64).reshape(-1)
    if out.shape != (n,):
        raise ValueError(f"{where}: expected {n} predictions, got shape {np.shape(values)}")
    return out
