"""ProcessExecutor workers and the life of the run that started them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROC = Path("/proc")


def _spawned_children(parent: int) -> list[int]:
    """Pids of the ``multiprocessing`` spawn workers whose parent is ``parent`` (from ``/proc``)."""
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not PROC.is_dir(), reason="needs /proc to find the workers")
def test_process_workers_exit_when_their_run_is_killed() -> None:
    """A SIGKILLed run must not leave its pool workers alive (they sat idle forever)."""
    script = (
        "import time\n"
        "from gennape_naslib.execution import ProcessExecutor\n"
        "ProcessExecutor(max_workers=1).map(time.sleep, [120])\n"
    )
    run = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while not workers and time.monotonic() < deadline:
            time.sleep(0.2)
            workers = [w for w in _spawned_children(run.pid) if _alive(w)]
        assert workers, "no worker started within 60 s"
        time.sleep(1.0)  # the worker is busy with its task
        assert all(_alive(w) for w in workers)
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait()
    deadline = time.monotonic() + 15
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [w for w in workers if _alive(w)]
    for w in left:
        os.kill(w, signal.SIGKILL)
    assert not left, f"workers {left} outlived their killed run by 15 s"
