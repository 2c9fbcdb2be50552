"""The family-adapter contract and the family registry.

A *family* is a space of architectures (NAS-Bench-201 cells, OFA MobileNetV3 subnets, ...). Its
adapter is the single place that knows how an architecture of that family is encoded, sampled,
mutated and validated, how to build the real PyTorch network, and how to build its computation
graph quickly. Architectures are small immutable value objects (``adapter.Arch``); every other
representation is derived from them on demand.

Registering a new family (also possible from another package through the entry-point group
``gennape_naslib.families``)::

    @register_family("my_space")
    class MySpace(FamilyAdapter):
        ...
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib
import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from gennape_naslib.cg.graph import ComputeGraph

__all__ = [
    "ArchValidationError",
    "FamilyAdapter",
    "as_rng",
    "family_of",
    "get",
    "list_families",
    "register_family",
    "UnknownFamilyError",
]

ENTRY_POINT_GROUP = "gennape_naslib.families"

#: Built-in families and the module that registers each (imported on first use only).
BUILTIN_FAMILIES: dict[str, str] = {
    "nb101": "gennape_naslib.search_spaces.nb101",
    "nb201": "gennape_naslib.search_spaces.nb201",
    "nb301": "gennape_naslib.search_spaces.nb301",
    "ofa_pn": "gennape_naslib.search_spaces.ofa",
    "ofa_mbv3": "gennape_naslib.search_spaces.ofa",
    "ofa_resnet": "gennape_naslib.search_spaces.ofa",
    "hiaml": "gennape_naslib.search_spaces.hiaml",
    "two_path": "gennape_naslib.search_spaces.two_path",
    "inception": "gennape_naslib.search_spaces.inception",
}

_REGISTRY: dict[str, type[FamilyAdapter]] = {}
_INSTANCES: dict[str, FamilyAdapter] = {}
_LOCK = threading.Lock()

A = TypeVar("A", bound=type)


class ArchValidationError(ValueError):
    """An architecture is not valid in its family.

    Attributes:
        family: Family name.
        field: The offending field of the encoding (e.g. ``"matrix"``, ``"stages[2][1]"``).
        value: The offending value.
    """

    def __init__(self, family: str, field: str, value: Any, reason: str) -> None:
        self.family, self.field, self.value, self.reason = family, field, value, reason
        super().__init__(f"{family}: invalid {field} = {value!r}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuilt from the four fields (a worker process sends it back pickled); notes travel in __dict__
        return (type(self), (self.family, self.field, self.value, self.reason), self.__dict__)


class UnknownFamilyError(KeyError):
    """No family of that name is registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """Turn a seed, ``None`` or a generator into a :class:`numpy.random.Generator`."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


class FamilyAdapter(ABC):
    """Base class of every architecture family.

    Subclasses set the class attributes and implement the abstract methods; the remaining methods
    have generic implementations that a family may override with faster or exact versions.

    Class attributes:
        name: Registry name (``"nb201"``).
        Arch: The family's immutable, hashable architecture type.
        input_shape: Default network input ``(C, H, W)``.
        num_classes: Default number of classes of the network head.
        naslib_ss_type: NASLib search-space name (``"nasbench201"``), or ``None`` if NASLib lacks it.
    """

    name: ClassVar[str] = ""
    Arch: ClassVar[type] = object
    input_shape: ClassVar[tuple[int, int, int]] = (3, 32, 32)
    num_classes: ClassVar[int] = 10
    naslib_ss_type: ClassVar[str | None] = None

    # ------------------------------------------------------------------ encodings
    @abstractmethod
    def from_json(self, obj: Any) -> Any:
        """Parse the family's JSON-compatible encoding into a validated ``Arch``.

        Raises:
            ArchValidationError: If ``obj`` does not encode a valid architecture.
        """

    @abstractmethod
    def to_json(self, arch: Any) -> Any:
        """The family's JSON-compatible encoding of ``arch`` (``from_json(to_json(a)) == a``)."""

    def from_str(self, text: str) -> Any:
        """Parse the family's usual text form (default: the JSON encoding as text)."""
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ArchValidationError(self.name, "text", text, f"not valid JSON ({exc.msg})") from None
        return self.from_json(obj)

    def to_str(self, arch: Any) -> str:
        """The family's usual text form (default: compact JSON)."""
        return json.dumps(self.to_json(arch), separators=(",", ":"))

    def coerce(self, value: Any) -> Any:
        """Accept an ``Arch``, its JSON encoding or its text form and return a validated ``Arch``."""
        if isinstance(value, self.Arch):
            self.validate(value)
            return value
        if isinstance(value, str):
            return self.from_str(value)
        return self.from_json(value)

    # ------------------------------------------------------------------ validity and identity
    @abstractmethod
    def validate(self, arch: Any) -> None:
        """Raise :class:`ArchValidationError` naming the field and value if ``arch`` is invalid."""

    def is_valid(self, arch: Any) -> tuple[bool, str | None]:
        """``(True, None)`` for a valid architecture, else ``(False, reason)``."""
        try:
            self.validate(arch)
        except ArchValidationError as exc:
            return False, str(exc)
        return True, None

    def canonical_hash(self, arch: Any) -> str:
        """A stable hex digest; architectures that are the same network share it.

        The default hashes the JSON encoding; families with equivalent encodings (isomorphic cells,
        inactive layers) override it.
        """
        payload = json.dumps(self.to_json(arch), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(f"{self.name}:{payload}".encode()).hexdigest()

    # ------------------------------------------------------------------ search-space operations
    @abstractmethod
    def sample(self, rng: np.random.Generator | int | None = None) -> Any:
        """Draw one architecture (uniformly over the space as the benchmark defines it)."""

    @abstractmethod
    def neighbors(self, arch: Any) -> list[Any]:
        """All architectures one local change away from ``arch`` (valid, each a different encoding).

        A neighbour may still share ``arch``'s canonical hash where the benchmark lists equivalent encodings
        as separate entries (NB-201's 24 single-edge changes, as in NASLib); the optimizers skip hashes they
        have already seen.
        """

    def mutate(self, arch: Any, rng: np.random.Generator | int | None = None) -> Any:
        """One valid local change of ``arch`` (default: a uniformly chosen neighbour)."""
        options = self.neighbors(arch)
        if not options:
            raise ArchValidationError(self.name, "arch", self.to_json(arch), "has no valid neighbour to mutate to")
        return options[int(as_rng(rng).integers(len(options)))]

    def enumerate(self) -> Iterator[Any]:
        """Every architecture of the space, where the space is small enough to list."""
        raise NotImplementedError(f"{self.name}: the space is too large to enumerate")

    def size(self) -> int | None:
        """Number of architectures in the space, or ``None`` if unknown."""
        return None

    def example(self) -> Any:
        """A fixed, representative architecture (used by docs, demos and ``family info``)."""
        return self.sample(0)

    # ------------------------------------------------------------------ networks and graphs
    @abstractmethod
    def to_module(self, arch: Any, num_classes: int | None = None, **kwargs: Any) -> torch.nn.Module:
        """The real PyTorch network of ``arch`` (in train mode, freshly initialised)."""

    @abstractmethod
    def to_cg(self, arch: Any) -> ComputeGraph:
        """The computation graph of ``arch``, built directly (equal to lowering :meth:`to_module`)."""

    def module_input_shape(self, arch: Any) -> tuple[int, int, int]:
        """Input ``(C, H, W)`` of ``arch``'s network (families with per-arch resolution override)."""
        return self.input_shape

    def flops(self, arch: Any) -> float:
        """FLOPs of one forward pass on one input, counted as :class:`torch.utils.flop_counter.FlopCounterMode`
        does (2 per multiply-accumulate of convolutions and matrix products; bias, BN and pooling not counted)."""
        from gennape_naslib.cg.counting import count_flops

        return float(count_flops(self.to_cg(arch)))

    def params(self, arch: Any) -> int:
        """Number of parameters of :meth:`to_module` (``sum(p.numel())``)."""
        return int(sum(p.numel() for p in self.to_module(arch).parameters()))

    # ------------------------------------------------------------------ optional extras
    def configspace(self) -> Any:
        """A ConfigSpace ``ConfigurationSpace`` describing the family, where it can be expressed."""
        raise NotImplementedError(f"{self.name}: no ConfigSpace description")

    def from_configuration(self, config: Any) -> Any:
        """The ``Arch`` of a configuration sampled from :meth:`configspace`."""
        raise NotImplementedError(f"{self.name}: no ConfigSpace description")

    def to_naslib(self, arch: Any) -> Any:
        """NASLib's encoding of ``arch`` (op indices, 56-int tuple, compact genotype, ...)."""
        raise NotImplementedError(f"{self.name}: NASLib has no search space for this family")

    def from_naslib(self, graph: Any) -> Any:
        """Read an architecture from a NASLib graph object through its public methods (duck-typed)."""
        raise NotImplementedError(f"{self.name}: NASLib has no search space for this family")

    def info(self) -> dict[str, Any]:
        """A summary for ``gennape family info``: size, encodings, defaults, an example."""
        example = self.example()
        return {
            "name": self.name,
            "size": self.size(),
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "naslib": self.naslib_ss_type,
            "example_json": self.to_json(example),
            "example_str": self.to_str(example),
            "doc": (type(self).__doc__ or "").strip().splitlines()[0] if type(self).__doc__ else "",
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


# ---------------------------------------------------------------------- registry
def register_family(name: str) -> Callable[[A], A]:
    """Class decorator registering a :class:`FamilyAdapter` subclass under ``name``."""

    def decorator(cls: A) -> A:
        if not (isinstance(cls, type) and issubclass(cls, FamilyAdapter)):
            raise TypeError(f"@register_family({name!r}) needs a FamilyAdapter subclass, got {cls!r}")
        with _LOCK:
            existing = _REGISTRY.get(name)
            if existing is not None and existing is not cls and existing.__qualname__ != cls.__qualname__:
                raise ValueError(f"family {name!r} is already registered by {existing.__module__}.{existing.__name__}")
            cls.name = name
            _REGISTRY[name] = cls
            _INSTANCES.pop(name, None)
        return cls

    return decorator


def _entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def list_families(pattern: str = "*") -> list[str]:
    """Names of the available families (built-in, registered and plugins), filtered by a glob."""
    names = set(BUILTIN_FAMILIES) | set(_REGISTRY) | set(_entry_points())
    return sorted(n for n in names if fnmatch.fnmatch(n, pattern))


def get(name: str) -> FamilyAdapter:
    """The adapter instance of family ``name`` (created once, then shared).

    Raises:
        UnknownFamilyError: If no family of that name exists; the message lists the choices.
    """
    if isinstance(name, FamilyAdapter):
        return name
    with _LOCK:
        if name in _INSTANCES:
            return _INSTANCES[name]
    if name not in _REGISTRY:
        if name in BUILTIN_FAMILIES:
            importlib.import_module(BUILTIN_FAMILIES[name])
        else:
            eps = _entry_points()
            if name in eps:
                eps[name].load()
    cls = _REGISTRY.get(name)
    if cls is None:
        raise UnknownFamilyError(f"could not resolve family {name!r} among choices {{{', '.join(list_families())}}}")
    with _LOCK:
        return _INSTANCES.setdefault(name, cls())


def family_of(arch: Any) -> FamilyAdapter:
    """The adapter whose ``Arch`` type ``arch`` is an instance of.

    Raises:
        TypeError: If ``arch`` is not an architecture of a registered family.
    """
    for name, cls in list(_REGISTRY.items()):
        if isinstance(arch, cls.Arch) and cls.Arch is not object:
            return get(name)
    raise TypeError(f"{type(arch).__name__} is not the Arch type of any registered family")


def get_many(names: Sequence[str]) -> list[FamilyAdapter]:
    """:func:`get` for several names."""
    return [get(n) for n in names]
