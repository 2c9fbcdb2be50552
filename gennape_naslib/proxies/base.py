"""The zero-cost proxy contract, its registry and the shared helpers of the proxy modules.

A proxy scores one freshly initialised network with one minibatch, without training. Each proxy is a
subclass of :class:`ZeroCostProxy` registered with ``@register_proxy(name)``; it declares whether a
higher score means a better architecture (``higher_is_better``) and implements :meth:`compute`.

Conventions shared by every proxy (those of NASLib's zero-cost predictors, which computed the
NAS-Bench-Suite-Zero scores):

* the network is ``family.to_module(arch)`` built right after ``torch.manual_seed(seed)``, so every
  proxy sees the same PyTorch-default initial weights at a seed, in train mode (BatchNorm uses batch
  statistics);
* "weighted layers" are the ``nn.Conv2d`` and ``nn.Linear`` modules, visited in ``modules()`` order;
* the loss is cross-entropy on the real labels of the batch (:mod:`gennape_naslib.proxies.batch`);
* per-layer metrics are summed over all weighted layers into one float.

Where the protocol deliberately differs from NASLib's benchmark runner: NASLib drew a new random,
augmented batch for every architecture and cloned one initialised search space, so the skeleton
weights were shared by all architectures. Here every architecture gets the same fixed batch and
seeded weights of its own. For ``epe_nas``, ``grasp`` and ``plain`` the published scores are
therefore one draw of a noisy protocol (``scripts/proxy_variants.py``; docs/results.md, "Zero-cost
proxies").
"""

from __future__ import annotations

import fnmatch
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch
from torch import nn

__all__ = [
    "ProxyInput",
    "UnknownProxyError",
    "ZeroCostProxy",
    "build_network",
    "get_proxy",
    "list_proxies",
    "logits_of",
    "register_proxy",
    "weighted_layers",
]

#: Value NASLib's ``ZeroCost.query`` returns when a proxy yields NaN (kept for comparability).
NAN_SCORE = -1e8


class UnknownProxyError(KeyError):
    """Raised for a proxy name that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass(frozen=True)
class ProxyInput:
    """What a proxy gets for one architecture.

    Attributes:
        family: The family adapter of ``arch``.
        arch: The architecture (a validated family ``Arch``).
        inputs: Normalised images ``(N, 3, H, W)`` float32 at the arch's input resolution.
        targets: Class labels ``(N,)`` int64 (CIFAR-10 classes 0..9).
        seed: The seed of the weights and of any random draw of the proxy.
        cache: Passes shared by several proxies of this item (:mod:`gennape_naslib.proxies._passes`):
            the cross-entropy backward of grad_norm/snip/plain/fisher/grasp and the Jacobian forward of
            jacov/epe_nas/nwot run once when one item is scored by several proxies.
    """

    family: Any
    arch: Any
    inputs: torch.Tensor
    targets: torch.Tensor
    seed: int
    cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


class ZeroCostProxy(ABC):
    """Base class of every zero-cost proxy.

    Class attributes:
        name: Registry name (set by :func:`register_proxy`).
        higher_is_better: Whether a higher score predicts a better architecture.
        needs_batch: ``False`` for proxies that never look at data (``params``, ``flops``, ``l2_norm``).
    """

    name: ClassVar[str] = ""
    higher_is_better: ClassVar[bool] = True
    needs_batch: ClassVar[bool] = True

    @abstractmethod
    def compute(self, item: ProxyInput) -> float:
        """The proxy's score of ``item.arch`` (a finite float, ``-inf`` or NaN where undefined)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, higher_is_better={self.higher_is_better})"


_REGISTRY: dict[str, type[ZeroCostProxy]] = {}
P = TypeVar("P", bound=type)


def register_proxy(name: str) -> Callable[[P], P]:
    """Class decorator registering a :class:`ZeroCostProxy` subclass under ``name``.

    Raises:
        TypeError: If the decorated object is not a ``ZeroCostProxy`` subclass.
        ValueError: If another class already holds ``name``.
    """

    def decorator(cls: P) -> P:
        if not (isinstance(cls, type) and issubclass(cls, ZeroCostProxy)):
            raise TypeError(f"@register_proxy({name!r}) needs a ZeroCostProxy subclass, got {cls!r}")
        existing = _REGISTRY.get(name)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise ValueError(f"proxy {name!r} is already registered by {existing.__module__}.{existing.__qualname__}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorator


#: Entry-point group through which other packages add proxies (each entry point names a class
#: decorated with ``@register_proxy``; loading it registers the proxy).
ENTRY_POINT_GROUP = "gennape_naslib.proxies"


def _load_builtins() -> None:
    # Importing the package imports every built-in proxy module (they are light: torch only).
    import gennape_naslib.proxies  # noqa: F401


def _entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def list_proxies(pattern: str = "*") -> list[str]:
    """Sorted names of the registered and plugin proxies matching the glob ``pattern``."""
    _load_builtins()
    names = set(_REGISTRY) | set(_entry_points())
    return sorted(n for n in names if fnmatch.fnmatch(n, pattern))


def get_proxy(name: str | ZeroCostProxy) -> ZeroCostProxy:
    """The proxy registered under ``name`` (an instance is returned as it is).

    Raises:
        UnknownProxyError: ``could not resolve proxy X among choices {...}``.
    """
    if isinstance(name, ZeroCostProxy):
        return name
    if not isinstance(name, str):
        raise TypeError(f"proxy must be a name or a ZeroCostProxy, got {type(name).__name__}")
    _load_builtins()
    key = name.strip().lower().replace("-", "_")
    if key not in _REGISTRY:
        plugin = _entry_points().get(key)
        if plugin is not None:
            plugin.load()
    if key not in _REGISTRY:
        choices = ", ".join(sorted(_REGISTRY))
        raise UnknownProxyError(f"could not resolve proxy {name!r} among choices {{{choices}}}")
    return _REGISTRY[key]()


# ---------------------------------------------------------------------- helpers for proxy modules
def build_network(item: ProxyInput) -> nn.Module:
    """``family.to_module(arch)`` initialised under ``torch.manual_seed(item.seed)``, in train mode."""
    torch.manual_seed(item.seed)
    net = item.family.to_module(item.arch)
    net.train()
    return net


def weighted_layers(net: nn.Module) -> Iterator[nn.Module]:
    """The ``nn.Conv2d`` and ``nn.Linear`` modules of ``net`` in ``modules()`` order (NASLib's layer set)."""
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            yield module


def logits_of(output: Any) -> torch.Tensor:
    """The logits of a network output.

    A tuple is read by the two common conventions: ``(logits, aux_logits)`` of equal shape (DARTS networks with an
    auxiliary head, e.g. ``NB301(auxiliary=True)`` in train mode) gives the first; ``(features, logits)``
    (NAS-Bench-201's reference networks) gives the last 2-D tensor; otherwise the first tensor.
    """
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)):
        tensors = [o for o in output if isinstance(o, torch.Tensor)]
        if tensors:
            first, last = tensors[0], tensors[-1]
            if last.dim() == 2 and last.shape != first.shape:
                return last
            return first
    raise TypeError(f"network returned {type(output).__name__}; expected a logits tensor")


def as_float_scores(values: list[float]) -> np.ndarray:
    """Scores as float64, NaN mapped to NASLib's ``-1e8`` (``-inf`` is kept)."""
    out = np.asarray(values, dtype=np.float64)
    out[np.isnan(out)] = NAN_SCORE
    return out
