"""atomic_write: all or nothing, and the file mode open() would give."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gennape_naslib._atomic import atomic_write


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_file_gets_the_umask_mode_not_mkstemps_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "a.txt") as handle:
            handle.write("x")
        with open(tmp_path / "b.txt", "w") as handle:  # what a plain open gives
            handle.write("x")
        os.umask(0o027)
        with atomic_write(tmp_path / "c.bin", "wb") as handle:
            handle.write(b"x")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "a.txt") == _mode(tmp_path / "b.txt") == 0o644
    assert _mode(tmp_path / "c.bin") == 0o640


def test_overwrite_keeps_the_existing_mode(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("old")
    os.chmod(path, 0o600)
    with atomic_write(path) as handle:
        handle.write("new")
    assert path.read_text() == "new" and _mode(path) == 0o600


def test_failure_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(path) as handle:
        handle.write("half")
        raise RuntimeError("boom")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
