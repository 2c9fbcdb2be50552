"""GENNAPE's FLOPs-aware target transform (PAPER_FACTS 1.7, Eq. 5).

Forward: ``y = (A / (log10(F + 1) + 1) - mean) / std`` with ``A`` the accuracy and ``F`` the FLOPs in
GFLOPs; ``mean`` and ``std`` come from the training family and are reused for every other family.
Inverse: ``A = (y * std + mean) * (log10(F + 1) + 1)``.

With ``use_flops=False`` the transform is a plain z-score of the accuracy (the "without T" ablation).
"""

from __future__ import annotations

import numpy as np

__all__ = ["TargetTransform", "flops_scale"]


def flops_scale(gflops: np.ndarray) -> np.ndarray:
    """``log10(F + 1) + 1`` for FLOPs ``F`` in GFLOPs.

    Raises:
        ValueError: If a FLOPs value is negative or not finite.
    """
    f = np.asarray(gflops, dtype=np.float64)
    if not np.all(np.isfinite(f)) or np.any(f < 0):
        raise ValueError("FLOPs must be finite and non-negative (GFLOPs)")
    return np.log10(f + 1.0) + 1.0


class TargetTransform:
    """Eq. 5 transform, fitted on one family's accuracies and FLOPs.

    Args:
        use_flops: Divide by ``log10(GFLOPs + 1) + 1`` before z-scoring (Eq. 5); ``False`` z-scores the
            accuracy alone.
    """

    def __init__(self, use_flops: bool = True) -> None:
        self.use_flops = use_flops
        self.mean = 0.0
        self.std = 1.0

    def _scaled(self, acc: np.ndarray, gflops: np.ndarray) -> np.ndarray:
        acc = np.asarray(acc, dtype=np.float64)
        return acc / flops_scale(gflops) if self.use_flops else acc

    def fit(self, acc: np.ndarray, gflops: np.ndarray) -> TargetTransform:
        """Fit mean and std of the (scaled) accuracy; returns ``self``.

        Raises:
            ValueError: If ``acc`` is empty or its length differs from ``gflops``.
        """
        acc = np.asarray(acc, dtype=np.float64)
        if acc.size == 0 or acc.shape != np.shape(gflops):
            raise ValueError(f"need one FLOPs value per accuracy, got shapes {acc.shape} and {np.shape(gflops)}")
        s = self._scaled(acc, gflops)
        self.mean = float(s.mean())
        std = float(s.std())
        self.std = std if std > 1e-12 else 1.0
        return self

    def transform(self, acc: np.ndarray, gflops: np.ndarray) -> np.ndarray:
        """Accuracy -> z-scored target."""
        return (self._scaled(acc, gflops) - self.mean) / self.std

    def inverse(self, y: np.ndarray, gflops: np.ndarray) -> np.ndarray:
        """Z-scored target -> accuracy (exact inverse of :meth:`transform`)."""
        s = np.asarray(y, dtype=np.float64) * self.std + self.mean
        return s * flops_scale(gflops) if self.use_flops else s

    def inverse_scale(self, gflops: np.ndarray) -> np.ndarray:
        """The factor mapping a spread of ``y`` to a spread of accuracy: ``std * (log10(F + 1) + 1)``."""
        return self.std * (flops_scale(gflops) if self.use_flops else np.ones_like(np.asarray(gflops, float)))

    def get_state(self) -> dict[str, float | bool]:
        """The fitted constants (for saving)."""
        return {"use_flops": bool(self.use_flops), "mean": self.mean, "std": self.std}

    @classmethod
    def from_state(cls, state: dict[str, float | bool]) -> TargetTransform:
        """Rebuild from :meth:`get_state`."""
        out = cls(bool(state["use_flops"]))
        out.mean, out.std = float(state["mean"]), float(state["std"])
        return out
