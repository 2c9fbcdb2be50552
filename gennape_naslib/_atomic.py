"""Atomic file writes: write to a temporary file in the target folder, then rename.

Also the other pieces of a resumable run folder: :func:`append_text` (an append that lands whole or not at
all, for JSON-lines and CSV files that grow one record at a time), :func:`drop_torn_line` (cut the half line
a kill left at the end of such a file, before appending to it again) and :func:`folder_lock` (one writer
per run folder at a time).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "FolderInUseError",
    "append_text",
    "atomic_write",
    "drop_torn_line",
    "folder_lock",
    "path_lock",
    "read_json_lines",
]


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path`` and move it into place only if the block succeeds.

    A crash or exception inside the block leaves any existing file at ``path`` untouched and no
    half-written file behind.

    Args:
        path: Final destination.
        mode: ``"w"`` (text) or ``"wb"`` (binary).
        **kwargs: Passed to :func:`open` (e.g. ``encoding``).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write supports modes 'w' and 'wb', got {mode!r}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.chmod(tmp, _final_mode(target))  # mkstemp makes 0600; the file should get what open() would give
        if mode == "w":
            kwargs.setdefault("encoding", "utf-8")
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _final_mode(target: Path) -> int:
    """The mode of an existing ``target`` (an overwrite keeps it), else ``0o666`` less the umask."""
    with contextlib.suppress(OSError):
        return stat.S_IMODE(os.stat(target).st_mode)
    return 0o666 & ~_umask()


def _umask() -> int:
    """The process umask, read without changing it where Linux exposes it (``os.umask`` sets it)."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def append_text(path: str | os.PathLike[str], text: str) -> None:
    """Append ``text`` to ``path`` (created when missing) whole or not at all, and flush it to disk.

    ``os.write`` may write only part of its bytes (a full disk, a file-size limit) and report it only by
    its return value; the rest is written by further calls, and when one of them fails the file is cut
    back to its size before this call, so a group of records (e.g. a benchmark cell's rows) is never
    left half-recorded by an error. A kill in the middle of the write can still leave a torn last line,
    which :func:`drop_torn_line` removes.
    """
    data = text.encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        size = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                if written <= 0:  # not expected from a regular file; never loop forever
                    raise OSError(errno.EIO, f"write to {os.fspath(path)} made no progress")
                view = view[written:]
            os.fsync(fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)


def drop_torn_line(path: str | os.PathLike[str]) -> bool:
    """Cut ``path`` back to its last complete line (a run killed while appending); ``True`` if it cut."""
    target = Path(path)
    if not target.is_file():
        return False
    with open(target, "r+b") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return False
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return False
        keep = 0
        step = 1 << 16
        end = size
        while end > 0:  # search backwards for the last newline (files can be large)
            start = max(0, end - step)
            handle.seek(start)
            at = handle.read(end - start).rfind(b"\n")
            if at >= 0:
                keep = start + at + 1
                break
            end = start
        handle.truncate(keep)
        handle.flush()
        os.fsync(handle.fileno())
    return True


def read_json_lines(path: str | os.PathLike[str]) -> list[Any]:
    """The records of a JSON-lines file in file order (none when it is missing).

    A last line without its newline that does not parse was cut by a killed run and is left out (its
    work runs again); a bad line anywhere else is corruption, a ``ValueError`` naming the line.
    """
    import json

    target = Path(path)
    if not target.is_file():
        return []
    text = target.read_text(encoding="utf-8")
    lines = text.splitlines()
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines) and not text.endswith("\n"):
                break
            raise ValueError(f"{target}:{number}: not a JSON line") from None
    return records


class FolderInUseError(OSError):
    """Another process is writing to the same result folder (or file)."""


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike[str], what: str = "run") -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (created when missing) for the block.

    A second process (or a second lock in this one) fails at once with :class:`FolderInUseError`
    instead of appending the same records again. The lock is ``flock`` on the folder itself: no lock
    file is left behind, and the kernel releases it when the holder dies (``SIGKILL`` included), so
    a killed run never blocks its own resumption. Where ``fcntl`` is missing (Windows) nothing is locked.
    """
    Path(folder).mkdir(parents=True, exist_ok=True)
    with path_lock(folder, what):
        yield


@contextlib.contextmanager
def path_lock(path: str | os.PathLike[str], what: str = "run") -> Iterator[None]:
    """:func:`folder_lock` on an existing file or folder (e.g. the one JSON-lines file a script appends to)."""
    target = Path(path)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Linux / macOS
        yield
        return
    fd = os.open(target, os.O_RDONLY)
    _HELD.add(fd)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderInUseError(
                f"{target} is in use by another {what} (only one process may write it at a time); "
                "wait for it to finish or choose another output"
            ) from None
        except OSError:  # a file system without flock: run unlocked rather than not at all
            pass
        yield
    finally:
        _HELD.discard(fd)
        os.close(fd)


#: Descriptors of the locks this process holds. A forked child (a ``fork`` process-pool worker) closes its
#: copies at once: ``flock`` belongs to the open file, so a worker left running after its parent was killed
#: would otherwise keep the folder locked and refuse the resume.
_HELD: set[int] = set()


def _close_inherited_locks() -> None:
    for fd in list(_HELD):
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_inherited_locks)
