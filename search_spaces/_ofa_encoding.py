"""Parsing helpers and the shared base of the three Once-for-All family adapters.

Every parser raises :class:`ArchValidationError` naming the field and value, never another error,
whatever the input's type.
"""

from __future__ import annotations

import hashlib
import numbers
from collections.abc import Sequence
from typing import Any, ClassVar

from gennape_naslib.search_spaces.base import ArchValidationError, FamilyAdapter

__all__ = ["OFA_RESOLUTIONS", "OFAFamilyBase", "as_int", "as_list", "as_resolution"]

#: Input resolutions accepted by default: OFA's search lists (128 to 224 in steps of 4).
OFA_RESOLUTIONS: tuple[int, ...] = tuple(range(128, 225, 4))


def as_int(family: str, field: str, value: Any) -> int:
    """``value`` as an ``int`` (ints, NumPy ints and integral floats; not bools or strings)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArchValidationError(family, field, value, f"expected an integer, got {type(value).__name__}")
    if isinstance(value, numbers.Integral):
        return int(value)
    as_float = float(value)
    if not as_float.is_integer():
        raise ArchValidationError(family, field, value, "expected an integer")
    return int(as_float)


def as_list(family: str, field: str, value: Any, length: int | Sequence[int] | None = None) -> list[Any]:
    """``value`` as a list (from a list or tuple), optionally of a given length (or one of several)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ArchValidationError(family, field, value, f"expected a list, got {type(value).__name__}")
    if length is not None:
        allowed = (length,) if isinstance(length, int) else tuple(length)
        if len(value) not in allowed:
            want = " or ".join(str(n) for n in allowed)
            raise ArchValidationError(family, field, value, f"expected {want} entries, got {len(value)}")
    return list(value)


def as_resolution(family: str, obj: dict[str, Any], allowed: Sequence[int]) -> int:
    """The resolution of an encoding: key ``r`` or ``image_size`` (an int or a one-element list; default 224)."""
    if "r" in obj and "image_size" in obj:
        raise ArchValidationError(family, "r", obj["r"], "give the resolution as 'r' or 'image_size', not both")
    field = "r" if "r" in obj else "image_size"
    value = obj.get(field, 224)
    if isinstance(value, (list, tuple)):  # OFA's tutorial stores {"r": [224]}
        value = as_list(family, field, value, 1)[0]
    r = as_int(family, field, value)
    if r not in allowed:
        raise ArchValidationError(
            family, field, r, f"resolution must be one of {min(allowed)}..{max(allowed)} ({len(allowed)} values)"
        )
    return r


class OFAFamilyBase(FamilyAdapter):
    """What the three OFA adapters share: resolutions, width-aware hashing, per-arch input shape.

    Args:
        resolutions: Input resolutions of the space (default: 128..224 in steps of 4).
        dropout_rate: Dropout before the classifier of :meth:`to_module` (and the ``identity`` node of
            :meth:`to_cg` when > 0).
    """

    input_shape: ClassVar[tuple[int, int, int]] = (3, 224, 224)
    num_classes: ClassVar[int] = 1000
    naslib_ss_type: ClassVar[str | None] = None
    default_dropout: ClassVar[float] = 0.1

    def __init__(self, resolutions: Sequence[int] = OFA_RESOLUTIONS, dropout_rate: float | None = None) -> None:
        res = sorted({int(r) for r in resolutions})
        if not res or res[0] < 32:
            raise ValueError(f"{type(self).__name__}: resolutions must be non-empty and >= 32, got {resolutions!r}")
        self.resolutions: tuple[int, ...] = tuple(res)
        self.dropout_rate = self.default_dropout if dropout_rate is None else float(dropout_rate)
        if not 0.0 <= self.dropout_rate < 1.0:
            raise ValueError(f"{type(self).__name__}: dropout_rate must be in [0, 1), got {dropout_rate!r}")

    # -- analytic counts (cached: searches ask for the same architectures again and again)
    def _compute_counts(self, arch: Any) -> tuple[int, int]:
        raise NotImplementedError

    def _counts(self, arch: Any) -> tuple[int, int]:
        """``(flops, params)`` of a validated architecture, from a small per-adapter cache."""
        arch = self.coerce(arch)
        cache: dict[Any, tuple[int, int]] = self.__dict__.setdefault("_count_cache", {})
        counts = cache.get(arch)
        if counts is None:
            if len(cache) >= 65536:
                cache.clear()
            counts = cache[arch] = self._compute_counts(arch)
        return counts

    def flops(self, arch: Any) -> float:
        """Analytic FLOPs of one forward pass (``FlopCounterMode`` convention: 2 per multiply-accumulate
        of convolutions and the classifier; bias, BN, activations, pooling and element-wise ops not counted)."""
        return float(self._counts(arch)[0])

    def params(self, arch: Any) -> int:
        """Analytic parameter count of :meth:`to_module` with the default 1000 classes."""
        return self._counts(arch)[1]

    # -- identity
    def _hash_tag(self) -> str:
        """Extra text of the hash payload for non-default network settings (e.g. another width)."""
        return ""

    def canonical_hash(self, arch: Any) -> str:
        """SHA-256 of the canonical text form (inactive layer slots never enter it).

        A non-default width multiplier is part of the payload, since it changes the network.
        """
        arch = self.coerce(arch)
        payload = f"{self.name}{self._hash_tag()}:{self.to_str(arch)}"
        return hashlib.sha256(payload.encode()).hexdigest()

    def module_input_shape(self, arch: Any) -> tuple[int, int, int]:
        """``(3, r, r)``: the resolution is part of the architecture."""
        r = self.coerce(arch).r
        return (3, r, r)

    def _check_resolution(self, r: Any) -> None:
        if isinstance(r, bool) or not isinstance(r, int) or r not in self.resolutions:
            raise ArchValidationError(
                self.name, "r", r, f"resolution must be one of {self.resolutions[0]}..{self.resolutions[-1]}"
            )

    def _resolution_neighbors(self, r: int) -> list[int]:
        i = self.resolutions.index(r)
        return [self.resolutions[j] for j in (i - 1, i + 1) if 0 <= j < len(self.resolutions)]

    def _sample_resolution(self, rng: Any) -> int:
        return int(self.resolutions[int(rng.integers(len(self.resolutions)))])

    def _module_kwargs(self, num_classes: int | None, dropout_rate: float | None, kwargs: dict[str, Any]) -> dict:
        unknown = set(kwargs) - {"init"}
        if unknown:
            raise TypeError(f"{self.name}.to_module() got unexpected keyword arguments {sorted(unknown)}")
        return {
            "num_classes": self.num_classes if num_classes is None else int(num_classes),
            "dropout": self.dropout_rate if dropout_rate is None else float(dropout_rate),
            "init": kwargs.get("init", "he_fout"),
        }

    def info(self) -> dict[str, Any]:
        """:meth:`FamilyAdapter.info` plus the resolutions and the dropout of the network head."""
        out = super().info()
        out["resolutions"] = list(self.resolutions)
        out["dropout_rate"] = self.dropout_rate
        return out
