"""Shared fixtures of the predictor tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from gennape_naslib import data


@pytest.fixture(scope="session")
def nb201_sample() -> Callable[[int, int], tuple[list[Any], np.ndarray]]:
    """``sample(seed, n)``: ``n`` random NB-201 cells (``default_rng(seed).permutation``) and their CIFAR-10
    200-epoch test accuracies, from the packaged table (loaded once)."""
    table = data.load("nb201", dataset="cifar10")
    y = table.metric("test_acc_200ep")

    def sample(seed: int, n: int) -> tuple[list[Any], np.ndarray]:
        idx = np.random.default_rng(seed).permutation(len(y))[:n]
        return [table.archs[i] for i in idx], y[idx]

    return sample
