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


def test_append_text_completes_a_short_write_and_cuts_back_a_failed_one(tmp_path: Path, monkeypatch) -> None:
    import errno

    from gennape_naslib import _atomic
    from gennape_naslib._atomic import append_text

    path = tmp_path / "rows.jsonl"
    append_text(path, "one\n")
    real = os.write
    calls: list[int] = []

    def short(fd: int, data) -> int:  # a write that reports only part of its bytes, as a full disk can
        calls.append(len(data))
        return real(fd, bytes(data)[:3])

    monkeypatch.setattr(_atomic.os, "write", short)
    append_text(path, "two two\n")
    assert path.read_text() == "one\ntwo two\n" and calls == [8, 5, 2]

    def full(fd: int, data) -> int:  # part of the bytes, then no room at all
        if calls:
            calls.clear()
            return real(fd, bytes(data)[:4])
        raise OSError(errno.ENOSPC, "No space left on device")

    calls.append(0)
    monkeypatch.setattr(_atomic.os, "write", full)
    with pytest.raises(OSError, match="No space"):
        append_text(path, "three\nfour\n")
    assert path.read_text() == "one\ntwo two\n"  # nothing of the failed group is left


def test_drop_torn_line(tmp_path: Path) -> None:
    from gennape_naslib._atomic import drop_torn_line

    path = tmp_path / "rows.jsonl"
    assert not drop_torn_line(path)  # missing: nothing to do
    path.write_bytes(b'{"a": 1}\n{"a": 2}\n{"a"')
    assert drop_torn_line(path) and path.read_bytes() == b'{"a": 1}\n{"a": 2}\n'
    assert not drop_torn_line(path) and path.read_bytes() == b'{"a": 1}\n{"a": 2}\n'
    path.write_bytes(b"x" * 100_000)  # one torn line and nothing else
    assert drop_torn_line(path) and path.read_bytes() == b""
    path.write_bytes(b"a\n" + b"y" * 200_000)  # the last newline lies more than one search step back
    assert drop_torn_line(path) and path.read_bytes() == b"a\n"


def test_folder_and_path_locks_refuse_a_second_holder(tmp_path: Path) -> None:
    import subprocess
    import sys

    from gennape_naslib._atomic import FolderInUseError, folder_lock, path_lock

    with folder_lock(tmp_path / "run"):
        assert (tmp_path / "run").is_dir()
        with pytest.raises(FolderInUseError, match="in use by another search"), folder_lock(tmp_path / "run", "search"):
            pass
        code = f"from gennape_naslib._atomic import folder_lock\nwith folder_lock({str(tmp_path / 'run')!r}): pass"
        other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert other.returncode == 1 and "FolderInUseError" in other.stderr  # another process is refused too
    with folder_lock(tmp_path / "run"):  # released with the block
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"] and not any((tmp_path / "run").iterdir())
    rows = tmp_path / "rows.jsonl"
    rows.touch()
    with path_lock(rows), pytest.raises(FolderInUseError), path_lock(rows):
        pass


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_forked_child_does_not_keep_the_lock(tmp_path: Path) -> None:
    """A ``fork`` pool worker that outlives its killed parent must not keep the folder locked."""
    import signal
    import subprocess
    import sys
    import time

    from gennape_naslib._atomic import folder_lock

    with folder_lock(tmp_path / "run"):
        child = os.fork()
        if child == 0:  # the worker: lives on after the parent has let go
            time.sleep(60)
            os._exit(0)
    try:
        code = f"from gennape_naslib._atomic import folder_lock\nwith folder_lock({str(tmp_path / 'run')!r}): pass"
        other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert other.returncode == 0, other.stderr
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
