"""The optimizer contract (ask/tell) and the optimizer registry.

An optimizer proposes architectures of one family and learns from their measured metrics. The core
is an ask/tell pair, so any outside loop can drive it (a tabular benchmark, a process pool training
networks, NASLib's ``Trainer`` through :mod:`gennape_naslib.naslib.optimizers`)::

    opt = get_optimizer("regularized_evolution", family="nb201", metric="test_acc_200ep", random_state=0)
    for _ in range(100):
        (arch,) = opt.ask(1)
        opt.tell(arch, table.lookup(arch))
    print(opt.best().metrics)

Every optimizer is deterministic given ``random_state`` and the sequence of ``tell`` calls, and never
proposes two architectures with the same canonical hash (``FamilyAdapter.canonical_hash``), counting
architectures told without being asked (warm starts) as well.

Registering a new optimizer::

    @register_optimizer("my_search", aliases=("ms",))
    class MySearch(Optimizer):
        def _propose(self, n):
            return [self.family.sample(self.rng) for _ in range(n)]
"""

from __future__ import annotations

import fnmatch
import math
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np

__all__ = [
    "Optimizer",
    "SearchSpaceExhausted",
    "Trial",
    "get_optimizer",
    "list_optimizers",
    "register_optimizer",
    "resolve_optimizer_name",
]

_REGISTRY: dict[str, type[Optimizer]] = {}
_ALIASES: dict[str, str] = {}
_LOCK = threading.Lock()
# Built-in optimizers and their modules (imported on first use only).
_BUILTIN_MODULES = (
    "gennape_naslib.optimizers.random_search",
    "gennape_naslib.optimizers.regularized_evolution",
    "gennape_naslib.optimizers.local_search",
    "gennape_naslib.optimizers.npenas",
    "gennape_naslib.optimizers.bananas",
    "gennape_naslib.optimizers.multi_objective",
)

OptimizerClass = TypeVar("OptimizerClass", bound=type)


class SearchSpaceExhausted(RuntimeError):
    """No architecture that was not proposed before could be found."""


@dataclass
class Trial:
    """One architecture with its measured metrics.

    Attributes:
        index: Position in the optimizer's history (0-based, in ``tell`` order).
        arch: The family ``Arch``.
        hash: Its canonical hash.
        metrics: The metrics it was told with (metric name -> value).
        prediction: ``(mean, std)`` the optimizer's surrogate predicted before evaluating it, if any
            (``std`` may be ``None``).
    """

    index: int
    arch: Any
    hash: str
    metrics: dict[str, float]
    prediction: tuple[float, float | None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Optimizer(ABC):
    """Base class of every architecture optimizer (ask/tell).

    Subclasses implement :meth:`_propose` and may override :meth:`_on_tell`; the base class
    de-duplicates proposals by canonical hash, keeps the history and answers :meth:`best`.

    Args:
        family: Family name or :class:`~gennape_naslib.search_spaces.FamilyAdapter`.
        metric: Name of the metric to optimise in the dictionaries passed to :meth:`tell`.
        maximize: Whether larger values of ``metric`` are better (accuracy) or smaller (error, loss).
        random_state: Seed (or ``numpy.random.Generator``) of every random choice.
        max_attempts: How many fresh random samples the fallback tries before it declares the space
            exhausted.

    Attributes:
        history: The told trials, in ``tell`` order.
        rng: The optimizer's random generator.
    """

    name: ClassVar[str] = ""
    #: Whether the optimizer uses a performance predictor (BANANAS, NPENAS).
    uses_predictor: ClassVar[bool] = False

    @classmethod
    def proposal_revision(cls, ask_batch: int = 1) -> int:
        """The revision of the proposals this optimizer makes when asked for ``ask_batch`` at a time.

        It is 1 until a change makes the same settings and seed propose other architectures; a search folder
        records it (when above 1), so a run written before such a change is not resumed with the new proposals.
        """
        return 1

    def __init__(
        self,
        family: Any,
        metric: str = "accuracy",
        maximize: bool = True,
        random_state: int | np.random.Generator | None = None,
        max_attempts: int = 1000,
    ) -> None:
        from gennape_naslib.search_spaces import get

        self.family = get(family)
        self.metric = metric
        self.maximize = bool(maximize)
        self.random_state = random_state
        self.max_attempts = int(max_attempts)
        if self.max_attempts < 1:
            raise ValueError(f"{type(self).__name__}: max_attempts must be >= 1, got {max_attempts}")
        self.rng = (
            random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
        )
        self.history: list[Trial] = []
        self._seen: set[str] = set()
        self._pending: dict[str, Any] = {}
        self._predictions: dict[str, tuple[float, float | None]] = {}
        self._queue_first: list[Any] = []

    # ------------------------------------------------------------------ hooks for subclasses
    @abstractmethod
    def _propose(self, n: int) -> list[Any]:
        """Return up to ``n`` candidate architectures.

        Called by :meth:`ask` whenever it needs more architectures; may be called several times per
        ``ask`` when proposals repeat earlier ones (they are dropped by the base class, so a subclass
        need not check :meth:`is_new` itself, though filtering early saves work). Returning an empty
        list makes :meth:`ask` fall back to random sampling. Use :attr:`rng` for all randomness.
        """

    def _on_tell(self, trial: Trial) -> None:  # noqa: B027 - optional hook
        """Called by :meth:`tell` after ``trial`` was appended to :attr:`history` (default: nothing)."""

    # ------------------------------------------------------------------ ask / tell
    def ask(self, n: int = 1) -> list[Any]:
        """Propose ``n`` architectures never proposed or told before.

        Args:
            n: How many architectures to propose (a batch to evaluate in parallel).

        Returns:
            ``n`` distinct family ``Arch`` objects, in the order they should be told.

        Raises:
            SearchSpaceExhausted: If no new architecture can be found.
        """
        if int(n) < 1:
            raise ValueError(f"{type(self).__name__}.ask: n must be >= 1, got {n}")
        fresh: list[Any] = []
        stale_rounds = 0
        while self._queue_first and len(fresh) < n:
            arch = self._queue_first.pop(0)
            if self._accept(arch):
                fresh.append(arch)
        while len(fresh) < n:
            added = 0
            for arch in self._propose(n - len(fresh)):
                if self._accept(arch):
                    fresh.append(arch)
                    added += 1
                    if len(fresh) == n:
                        break
            if added == 0:
                stale_rounds += 1
                if stale_rounds >= 3:
                    arch = self._sample_new()
                    self._accept(arch)
                    fresh.append(arch)
        return fresh

    def enqueue(self, archs: Sequence[Any]) -> None:
        """Propose these architectures first, in order (e.g. a given starting architecture).

        They are validated now and skipped when already proposed; the optimizer's own proposals
        follow. Enqueueing is deterministic, so it is compatible with resuming by replay.
        """
        self._queue_first.extend(self.family.coerce(a) for a in archs)

    def tell(self, arch: Any, metrics: Mapping[str, float]) -> Trial:
        """Record the measured ``metrics`` of ``arch`` (asked before, or not: a warm start).

        A value of ``NaN`` or a missing :attr:`metric` marks a failed evaluation: it is kept in the
        history but never counts as best and is not used to guide the search.

        Returns:
            The new :class:`Trial`.
        """
        if not isinstance(metrics, Mapping):
            raise TypeError(f"{type(self).__name__}.tell: metrics must be a mapping, got {type(metrics).__name__}")
        arch = self.family.coerce(arch)
        key = self.family.canonical_hash(arch)
        self._pending.pop(key, None)
        self._seen.add(key)
        values = {str(k): float(v) for k, v in metrics.items()}
        trial = Trial(len(self.history), arch, key, values, self._predictions.get(key))
        self.history.append(trial)
        self._on_tell(trial)
        return trial

    # ------------------------------------------------------------------ queries
    def is_new(self, arch: Any) -> bool:
        """Whether ``arch`` (by canonical hash) was neither proposed nor told so far."""
        return self.family.canonical_hash(arch) not in self._seen

    def score(self, trial: Trial) -> float:
        """The trial's :attr:`metric` oriented so that larger is better; ``-inf`` for a failed trial."""
        value = trial.metrics.get(self.metric, math.nan)
        if not math.isfinite(value):
            return -math.inf
        return value if self.maximize else -value

    @property
    def successful(self) -> list[Trial]:
        """Trials whose :attr:`metric` is finite."""
        return [t for t in self.history if math.isfinite(self.score(t))]

    def best(self) -> Trial | None:
        """The best successful trial so far (earliest on ties), or ``None`` before any."""
        done = self.successful
        if not done:
            return None
        return max(done, key=lambda t: (self.score(t), -t.index))

    def top(self, k: int) -> list[Trial]:
        """The ``k`` best successful trials, best first."""
        return sorted(self.successful, key=lambda t: (-self.score(t), t.index))[: max(int(k), 0)]

    def prediction_for(self, arch: Any) -> tuple[float, float | None] | None:
        """``(mean, std)`` the optimizer's surrogate predicted for ``arch`` when proposing it, if any."""
        return self._predictions.get(self.family.canonical_hash(arch))

    @property
    def pending(self) -> list[Any]:
        """Architectures asked but not yet told."""
        return list(self._pending.values())

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments (for result metadata)."""
        import inspect

        params = {}
        for cls in type(self).__mro__:
            if cls is object or "__init__" not in vars(cls):
                continue
            for pname in inspect.signature(cls.__init__).parameters:
                if pname not in ("self", "kwargs", "args") and hasattr(self, pname):
                    value = getattr(self, pname)
                    if pname == "family":
                        value = self.family.name
                    params.setdefault(pname, value)
        return params

    def __repr__(self) -> str:
        return f"{type(self).__name__}(family={self.family.name!r}, metric={self.metric!r}, told={len(self.history)})"

    # ------------------------------------------------------------------ helpers
    def _accept(self, arch: Any) -> bool:
        key = self.family.canonical_hash(arch)
        if key in self._seen:
            return False
        self._seen.add(key)
        self._pending[key] = arch
        return True

    def _sample_new(self) -> Any:
        """A random architecture never proposed before (used as the fallback of :meth:`ask`)."""
        for _ in range(self.max_attempts):
            arch = self.family.sample(self.rng)
            if self.family.canonical_hash(arch) not in self._seen:
                return arch
        raise SearchSpaceExhausted(
            f"{type(self).__name__}: no new {self.family.name} architecture in {self.max_attempts} random samples "
            f"({len(self._seen)} proposed so far)"
        )

    def _random_new(self, n: int) -> list[Any]:
        """Up to ``n`` random architectures, distinct and never proposed before."""
        out: list[Any] = []
        keys: set[str] = set()
        for _ in range(self.max_attempts):
            if len(out) >= n:
                break
            arch = self.family.sample(self.rng)
            key = self.family.canonical_hash(arch)
            if key not in self._seen and key not in keys:
                keys.add(key)
                out.append(arch)
        return out

    def _mutate_new(self, arch: Any, max_mutations: int = 1, tries: int = 20) -> Any | None:
        """Apply 1..``max_mutations`` (uniform) mutations to ``arch``; ``None`` if only old ones came out."""
        for _ in range(tries):
            child = arch
            for _ in range(int(self.rng.integers(1, max(int(max_mutations), 1) + 1))):
                child = self.family.mutate(child, self.rng)
            if self.family.canonical_hash(child) not in self._seen:
                return child
        return None


# ---------------------------------------------------------------------- registry
def register_optimizer(name: str, aliases: Sequence[str] = ()) -> Callable[[OptimizerClass], OptimizerClass]:
    """Class decorator registering an :class:`Optimizer` subclass under ``name`` (and ``aliases``)."""

    def decorator(cls: OptimizerClass) -> OptimizerClass:
        if not (isinstance(cls, type) and issubclass(cls, Optimizer)):
            raise TypeError(f"@register_optimizer({name!r}) needs an Optimizer subclass, got {cls!r}")
        with _LOCK:
            existing = _REGISTRY.get(name)
            if existing is not None and existing.__qualname__ != cls.__qualname__:
                raise ValueError(
                    f"optimizer {name!r} is already registered by {existing.__module__}.{existing.__name__}"
                )
            cls.name = name
            _REGISTRY[name] = cls
            for alias in aliases:
                _ALIASES[alias] = name
        return cls

    return decorator


def _load_builtins() -> None:
    import importlib

    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


def list_optimizers(pattern: str = "*") -> list[str]:
    """Registered optimizer names (aliases excluded) matching a glob pattern."""
    _load_builtins()
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))


def resolve_optimizer_name(name: str) -> str:
    """The registry name of ``name`` (a name, an alias such as NASLib's ``"re"``, any case, ``-`` or ``_``).

    Raises:
        KeyError: ``could not resolve X among choices {...}``.
    """
    _load_builtins()
    key = str(name).strip().lower().replace("-", "_")
    if key in _REGISTRY:
        return key
    if key in _ALIASES:
        return _ALIASES[key]
    choices = ", ".join(sorted(set(_REGISTRY) | set(_ALIASES)))
    raise KeyError(f"could not resolve optimizer {name!r} among choices {{{choices}}}")


def optimizer_class(name: str) -> type[Optimizer]:
    """The class registered as ``name`` (or an alias).

    Raises:
        KeyError: If the name is unknown (the message lists the choices).
    """
    return _REGISTRY[resolve_optimizer_name(name)]


def get_optimizer(name: str, **kwargs: Any) -> Optimizer:
    """Build the optimizer registered as ``name`` (or an alias) with ``kwargs``.

    Raises:
        KeyError: If the name is unknown (the message lists the choices).
        TypeError: If a keyword argument is not accepted by that optimizer.
    """
    cls = optimizer_class(name)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise TypeError(f"optimizer {cls.name!r}: {exc}") from None
