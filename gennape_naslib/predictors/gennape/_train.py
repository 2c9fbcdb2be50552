"""Small training utilities shared by the GNN predictors (seeding, threads, batching).

``threads`` lives in :mod:`gennape_naslib._threads` (the proxies use it too) and is re-exported here.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from gennape_naslib._threads import threads

__all__ = [
    "WeightAverage",
    "apply_train_floor",
    "batch_indices",
    "check_integer",
    "check_number",
    "check_rank_weight",
    "check_swa",
    "seeded",
    "threads",
]


@contextlib.contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Run the block with torch's global RNG seeded (and restored afterwards)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0 if seed is None else int(seed) % (2**63))
        yield


def batch_indices(n: int, batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Index batches of ``range(n)``, shuffled when ``rng`` is given (the last batch may be smaller)."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    return [order[i : i + batch_size] for i in range(0, n, max(1, int(batch_size)))]


def take(records: Sequence[Any], idx: np.ndarray) -> list[Any]:
    """``[records[i] for i in idx]``."""
    return [records[int(i)] for i in idx]


def _is_real(value: Any) -> bool:
    """Whether ``value`` is an int or float, Python or numpy (booleans and strings are not)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def check_integer(name: str, value: Any, minimum: int) -> int:
    """``value`` as an int, if it is an integer (Python or numpy, not a boolean) of at least ``minimum``.

    Raises:
        ValueError: Otherwise, naming the hyperparameter ``name`` and the value.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_number(name: str, value: Any, minimum: float = 0.0, strict: bool = True, below: float | None = None) -> float:
    """``value`` as a float, if it is a finite number above ``minimum`` (``strict``) or at least ``minimum``, and
    below ``below`` when that is given.

    Raises:
        ValueError: Otherwise (booleans and strings included), naming the hyperparameter ``name`` and the value.
    """
    ok = _is_real(value) and math.isfinite(value) and (value > minimum if strict else value >= minimum)
    if not ok or (below is not None and not value < below):
        bound = f"{'>' if strict else '>='} {minimum:g}" + ("" if below is None else f" and < {below:g}")
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return float(value)


def check_swa(fraction: Any) -> float:
    """``fraction`` as a float, if it is a number in ``[0, 1]`` (the ``swa`` share of :class:`WeightAverage`).

    Raises:
        ValueError: Otherwise (booleans and strings included), naming the value.
    """
    if not _is_real(fraction) or not 0.0 <= fraction <= 1.0:
        raise ValueError(f"swa must be a fraction in [0, 1], got {fraction!r}")
    return float(fraction)


def check_rank_weight(weight: Any) -> float:
    """``weight`` as a float, if it is a finite number >= 0 (``GENNAPEPredictor(rank_weight=...)``).

    Raises:
        ValueError: Otherwise (booleans and strings included), naming the value.
    """
    if not _is_real(weight) or not math.isfinite(weight) or weight < 0:
        raise ValueError(f"rank_weight must be a finite number >= 0, got {weight!r}")
    return float(weight)


def apply_train_floor(floor: Any, X: list[Any], y: np.ndarray) -> tuple[list[Any], np.ndarray, int]:
    """The training pairs whose label is at least ``floor`` (``GENNAPEPredictor(train_floor=...)``), and how many
    were dropped; ``floor=None`` keeps every pair.

    Raises:
        ValueError: If ``floor`` is not ``None`` or a finite number, or if fewer than two labels reach it (the
            message gives the labels' range, e.g. for a floor in percent on labels given as fractions).
    """
    if floor is None:
        return X, y, 0
    if not _is_real(floor) or not math.isfinite(floor):
        raise ValueError(f"train_floor must be None or a finite number, got {floor!r}")
    keep = y >= floor
    if int(keep.sum()) < 2:
        raise ValueError(
            f"train_floor={floor!r} keeps {int(keep.sum())} of {len(y)} training labels (they range from "
            f"{float(y.min()):g} to {float(y.max()):g}); at least 2 must remain: is the floor on the labels' scale?"
        )
    return [x for x, k in zip(X, keep) if k], y[keep], int((~keep).sum())


class WeightAverage:
    """Equal-weight mean of parameters taken at the end of each of the last training epochs.

    Stochastic weight averaging (Izmailov et al., 2018) with a constant learning rate: training is unchanged,
    and :meth:`apply` replaces the parameters by their mean over the snapshots, so prediction costs the same.

    Args:
        params: The trained parameters (modified in place by :meth:`apply`).
        epochs: Number of training epochs.
        fraction: Share of the epochs, counted from the end, whose end-of-epoch parameters are averaged
            (0: off, :meth:`apply` changes nothing; 1: every epoch; at least one epoch when positive).

    Raises:
        ValueError: If ``fraction`` is not a number in ``[0, 1]``.
    """

    def __init__(self, params: Sequence[torch.Tensor], epochs: int, fraction: float) -> None:
        fraction = check_swa(fraction)
        self.params = list(params)
        epochs = int(epochs)
        span = max(1, round(fraction * epochs)) if fraction > 0 and epochs > 0 else 0
        self.first = epochs - span if span else None
        self.sums: list[torch.Tensor] | None = None
        self.count = 0

    @torch.no_grad()
    def epoch_end(self, epoch: int) -> None:
        """Record the parameters after epoch ``epoch`` (0-based) if it is one of the averaged ones."""
        if self.first is None or epoch < self.first:
            return
        if self.sums is None:
            self.sums = [p.detach().clone() for p in self.params]
        else:
            for total, p in zip(self.sums, self.params):
                total.add_(p)
        self.count += 1

    @torch.no_grad()
    def apply(self) -> None:
        """Set the parameters to their mean over the recorded epochs (nothing recorded: unchanged)."""
        if self.sums is None:
            return
        for total, p in zip(self.sums, self.params):
            p.copy_(total / self.count)
