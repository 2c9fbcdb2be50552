"""The package layout on disk matches what setup.cfg installs, and importing has no side effects."""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _config() -> configparser.ConfigParser:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    return cfg


def _listed(option: str) -> list[str]:
    return [line.strip() for line in _config()["options"][option].strip().splitlines() if line.strip()]


def test_every_subpackage_on_disk_is_listed() -> None:
    mapping = dict(line.split(" = ") for line in _listed("package_dir"))
    listed = set(_listed("packages"))
    on_disk = set()
    for package, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            on_disk.add(".".join([package, *rel.parts]) if rel.parts else package)
    missing = sorted(on_disk - listed)
    assert not missing, f"subpackages on disk but not in setup.cfg [options] packages: {missing}"
    stale = sorted(listed - on_disk)
    assert not stale, f"setup.cfg lists packages that do not exist: {stale}"


def test_extras_and_console_script() -> None:
    cfg = _config()
    extras = set(cfg["options.extras_require"])
    assert {"tf", "onnx", "ray", "plot", "nb201", "test", "dev"} <= extras
    assert "gennape = gennape_naslib.cli:main" in cfg["options.entry_points"]["console_scripts"]


def test_import_has_no_side_effects(tmp_path: Path) -> None:
    code = (
        "import logging, sys, gennape_naslib, gennape_naslib.cg, gennape_naslib.search_spaces;"
        "heavy = [m for m in ('tensorflow', 'onnx', 'ray', 'matplotlib', 'torch_geometric') if m in sys.modules];"
        "assert not heavy, heavy;"
        "handlers = logging.getLogger('gennape_naslib').handlers;"
        "assert all(isinstance(h, logging.NullHandler) for h in handlers), handlers"
    )
    home = tmp_path / "home"
    home.mkdir()
    subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=tmp_path, env={"HOME": str(home), "PATH": "/usr/bin:/bin"}
    )
    assert list(tmp_path.iterdir()) == [home]
    assert list(home.iterdir()) == []


def test_missing_optional_dependency_names_the_extra() -> None:
    import pytest

    from gennape_naslib._optional import MissingDependencyError, require

    with pytest.raises(MissingDependencyError, match=r"gennape-naslib\[fancy\]"):
        require("surely_not_installed_module", "fancy", "testing")


@pytest.mark.slow
def test_every_module_imports_first() -> None:
    """Each module imports in a fresh package state (catches import cycles that only bite when a user
    imports that module before the others, e.g. ``from gennape_naslib.predictors.kgnn import ...``)."""
    code = (
        "import importlib, pkgutil, sys, gennape_naslib\n"
        "names = [m.name for m in pkgutil.walk_packages(gennape_naslib.__path__, 'gennape_naslib.')]\n"
        "bad = []\n"
        "for name in names:\n"
        "    for key in [k for k in sys.modules if k.split('.')[0] == 'gennape_naslib']:\n"
        "        del sys.modules[key]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        bad.append(f'{name}: {type(exc).__name__}: {exc}')\n"
        "assert len(names) > 50, names\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.mark.slow
def test_every_builtin_predictor_resolves_in_a_fresh_package() -> None:
    """``get_predictor(name)`` works for each built-in name as the first thing a process does (a
    built-in's registry entry must name the module that registers it)."""
    code = (
        "import importlib, sys\n"
        "from gennape_naslib.predictors.base import BUILTIN_PREDICTORS\n"
        "bad = []\n"
        "for name in BUILTIN_PREDICTORS:\n"
        "    for key in [k for k in sys.modules if k.split('.')[0] == 'gennape_naslib']:\n"
        "        del sys.modules[key]\n"
        "    base = importlib.import_module('gennape_naslib.predictors')\n"
        "    try:\n"
        "        obj = base.get_predictor(name)\n"
        "        assert type(obj).__name__ != 'NoneType'\n"
        "    except Exception as exc:\n"
        "        bad.append(f'{name}: {type(exc).__name__}: {exc}')\n"
        "assert 'kgnn' in BUILTIN_PREDICTORS and len(BUILTIN_PREDICTORS) > 10\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
