"""Executors on this machine: :class:`SerialExecutor` and :class:`ProcessExecutor`."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from gennape_naslib.execution.base import Executor, ResultCallback

__all__ = ["ProcessExecutor", "SerialExecutor"]


class SerialExecutor(Executor):
    """Runs every call in this process, one after the other (for debugging and tiny jobs)."""

    name = "serial"

    def __init__(self, max_workers: int | None = None) -> None:
        super().__init__(1 if max_workers is None else max_workers)

    def _run(self, fn: Callable[[Any], Any], items: Sequence[Any], done: ResultCallback) -> None:
        for index, item in enumerate(items):
            try:
                result = fn(item)
            except Exception as exc:
                self._note_item(exc, index, items)
                raise
            done(index, result)


def _limit_threads(threads: int) -> None:
    # Each worker is one of several on the machine: few intra-op threads avoid oversubscription.
    # torch and OpenMP read these variables when first imported (spawned workers import them later).
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None:  # already imported (fork start method)
        torch.set_num_threads(threads)


#: Seconds between a worker's checks that the process that started it is still alive.
ORPHAN_POLL_S = 1.0


def _exit_with_parent() -> None:
    """Stop this worker when its parent dies (a ``SIGKILL``ed run would otherwise leave idle workers forever).

    A daemon thread polls the parent pid: a killed parent's children are re-parented, so a changed
    ``getppid()`` means the run is gone and nothing will ever collect this worker's results.
    """
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(ORPHAN_POLL_S)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="gennape-orphan-watch", daemon=True).start()


def _init_worker(threads: int) -> None:
    _limit_threads(threads)
    _exit_with_parent()


class ProcessExecutor(Executor):
    """A local process pool (the default for benchmarks).

    Workers are started with the ``spawn`` method by default (safe with torch and threads; each
    worker imports what ``fn`` needs once) and each uses ``threads_per_worker`` torch threads. A worker
    whose parent dies (a run killed with ``SIGKILL``) exits within about a second. At
    most ``max_workers`` calls are in flight; further items are submitted as earlier ones finish.

    Workers import ``fn`` by its module name: predictors registered only inside a script (not
    through an importable module or the ``gennape_naslib.predictors`` entry-point group) are unknown
    there; use :class:`SerialExecutor` for those.

    Args:
        max_workers: Worker processes (default: ``os.cpu_count()``).
        threads_per_worker: torch/OpenMP threads per worker (default 1).
        start_method: ``"spawn"``, ``"forkserver"`` or ``"fork"``.
    """

    name = "process"

    def __init__(
        self, max_workers: int | None = None, threads_per_worker: int = 1, start_method: str = "spawn"
    ) -> None:
        super().__init__((os.cpu_count() or 1) if max_workers is None else max_workers)
        if threads_per_worker < 1:
            raise ValueError(f"threads_per_worker must be at least 1, got {threads_per_worker}")
        methods = multiprocessing.get_all_start_methods()
        if start_method not in methods:
            raise ValueError(f"start_method {start_method!r} is not available here; choose from {methods}")
        self.threads_per_worker = threads_per_worker
        self.start_method = start_method
        self._pool: cf.ProcessPoolExecutor | None = None

    def _get_pool(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(
                max_workers=self.max_workers,
                mp_context=multiprocessing.get_context(self.start_method),
                initializer=_init_worker,
                initargs=(self.threads_per_worker,),
            )
        return self._pool

    def _run(self, fn: Callable[[Any], Any], items: Sequence[Any], done: ResultCallback) -> None:
        pool = self._get_pool()
        limit = int(self.max_workers or 1)
        pending: dict[cf.Future[Any], int] = {}
        next_index = 0
        try:
            while next_index < len(items) or pending:
                while next_index < len(items) and len(pending) < limit:
                    pending[pool.submit(fn, items[next_index])] = next_index
                    next_index += 1
                finished, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for future in finished:
                    index = pending.pop(future)
                    try:
                        result = future.result()
                    except Exception as exc:
                        self._note_item(exc, index, items)
                        raise
                    done(index, result)
        except BaseException:
            for future in pending:
                future.cancel()
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
