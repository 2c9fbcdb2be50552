"""Small stand-ins for the optimizer tests: a k-nearest-neighbour predictor and a five-architecture family.

The predictor is a test double (fitted on real NB-201 table labels by the tests), not a project
predictor; it exists so that BANANAS/NPENAS can be tested without training GENNAPE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gennape_naslib.predictors import Predictor, as_archs_and_family
from gennape_naslib.search_spaces import ArchValidationError, FamilyAdapter


class HammingKNN(Predictor):
    """Mean and std of the ``k`` nearest training architectures by Hamming distance of the JSON text."""

    name = "hamming_knn_stand_in"
    supports_std = True

    def __init__(self, k: int = 3, random_state: int | None = None) -> None:
        self.k = k
        self.random_state = random_state

    @staticmethod
    def _codes(X: Any, family: Any) -> np.ndarray:
        archs, adapter = as_archs_and_family(X, family)
        texts = [adapter.to_str(a) for a in archs]
        width = max(len(t) for t in texts)
        return np.array([[ord(c) for c in t.ljust(width)] for t in texts])

    def fit(self, X: Any, y: Any, family: Any = None) -> HammingKNN:
        if len(X) == 0 or len(X) != len(y):
            raise ValueError("HammingKNN.fit: X and y must be non-empty and of the same length")
        self.X_ = self._codes(X, family)
        self.y_ = np.asarray(y, dtype=np.float64)
        return self

    def predict(self, X: Any, return_std: bool = False, family: Any = None) -> Any:
        codes = self._codes(X, family)
        width = min(codes.shape[1], self.X_.shape[1])
        dist = (codes[:, None, :width] != self.X_[None, :, :width]).sum(axis=2)
        k = min(self.k, len(self.y_))
        nearest = np.argsort(dist, axis=1, kind="stable")[:, :k]
        vals = self.y_[nearest]
        mean = vals.mean(axis=1)
        return (mean, vals.std(axis=1)) if return_std else mean


@dataclass(frozen=True)
class TinyArch:
    """One of five architectures: an integer 0..4."""

    value: int


class TinyFamily(FamilyAdapter):
    """Five architectures on a line (neighbours differ by one); used to exhaust a space in tests.

    Not registered (so other tests that walk the registry never see it); pass an instance.
    """

    name = "tiny_stand_in"
    Arch = TinyArch

    def from_json(self, obj: Any) -> TinyArch:
        arch = TinyArch(int(obj))
        self.validate(arch)
        return arch

    def to_json(self, arch: TinyArch) -> int:
        return arch.value

    def validate(self, arch: Any) -> None:
        if not isinstance(arch, TinyArch) or not 0 <= arch.value < 5:
            raise ArchValidationError(self.name, "value", getattr(arch, "value", arch), "must be 0..4")

    def sample(self, rng: Any = None) -> TinyArch:
        from gennape_naslib.search_spaces import as_rng

        return TinyArch(int(as_rng(rng).integers(5)))

    def neighbors(self, arch: TinyArch) -> list[TinyArch]:
        return [TinyArch(v) for v in (arch.value - 1, arch.value + 1) if 0 <= v < 5]

    def size(self) -> int:
        return 5

    def to_module(self, arch: Any, num_classes: int | None = None, **kwargs: Any) -> Any:
        raise NotImplementedError("tiny stand-in family has no network")

    def to_cg(self, arch: Any) -> Any:
        raise NotImplementedError("tiny stand-in family has no computation graph")
