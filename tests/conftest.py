"""Shared test settings."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def pytest_configure(config) -> None:
    # The networks in the tests are small; one intra-op thread avoids oversubscribing CI's two
    # cores (and is much faster when other processes are busy).
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def load_script():
    """``load_script("bench_search")`` imports ``scripts/bench_search.py`` as a module (once per session)."""
    loaded: dict[str, ModuleType] = {}

    def load(name: str) -> ModuleType:
        if name not in loaded:
            spec = importlib.util.spec_from_file_location(f"{name}_script", SCRIPTS / f"{name}.py")
            assert spec is not None and spec.loader is not None, f"no script scripts/{name}.py"
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module  # dataclasses and pickling look the module up by name
            sys.path.insert(0, str(SCRIPTS))  # scripts import their siblings (e.g. bench_predictor)
            try:
                spec.loader.exec_module(module)
            finally:
                sys.path.remove(str(SCRIPTS))
            loaded[name] = module
        return loaded[name]

    return load
