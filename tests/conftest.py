"""Shared test settings."""

from __future__ import annotations


def pytest_configure(config) -> None:
    # The networks in the tests are small; one intra-op thread avoids oversubscribing CI's two
    # cores (and is much faster when other processes are busy).
    import torch

    torch.set_num_threads(1)
