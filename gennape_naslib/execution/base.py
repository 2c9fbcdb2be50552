"""The executor interface: run one function over many items, in order, with bounded parallelism."""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

__all__ = ["Executor", "ResultCallback", "progress_bar"]

T = TypeVar("T")
R = TypeVar("R")

#: Called in the calling process as each item finishes: ``(index of the item, its result)``.
ResultCallback = Callable[[int, Any], None]


def progress_bar(total: int, progress: bool | None, desc: str) -> Any:
    """A tqdm bar over ``total`` steps, or ``None``.

    Args:
        total: Number of steps.
        progress: ``True`` on, ``False`` off, ``None`` on only when stderr is a terminal.
        desc: Label shown left of the bar.
    """
    if progress is None:
        progress = bool(getattr(sys.stderr, "isatty", lambda: False)())
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, file=sys.stderr, dynamic_ncols=True)


class Executor(ABC):
    """Runs ``fn(item)`` for many items and returns the results in item order.

    Implementations differ in where the calls run (this process, a local process pool, a Ray
    cluster). All of them:

    * return ``[fn(item) for item in items]`` (same order, same values for deterministic ``fn``);
    * keep at most :attr:`max_workers` calls in flight (bounded parallelism and memory);
    * call ``on_result(index, result)`` **in the calling process** as soon as each item finishes
      (in completion order), which is where benchmarks persist finished cells so that an
      interrupted run loses at most the cells in flight;
    * re-raise the first exception of ``fn`` after cancelling what has not started.

    ``fn`` and the items must be picklable for the process and Ray executors (module-level
    functions, plain data). Executors are context managers; :meth:`close` releases workers.

    Args:
        max_workers: Upper bound on concurrent calls (``None``: the implementation's default).
    """

    #: Name used by configs and ``--executor``.
    name: str = ""

    def __init__(self, max_workers: int | None = None) -> None:
        if max_workers is not None and max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        self.max_workers = max_workers

    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        progress: bool | None = None,
        desc: str = "",
        on_result: ResultCallback | None = None,
    ) -> list[R]:
        """Apply ``fn`` to every item.

        Args:
            fn: The function (picklable for out-of-process executors).
            items: The inputs.
            progress: Show a progress bar (``None``: only on a terminal).
            desc: Progress bar label.
            on_result: Called with ``(index, result)`` in this process when an item finishes.

        Returns:
            The results, in the order of ``items``.
        """
        seq = list(items)
        results: list[Any] = [None] * len(seq)
        bar = progress_bar(len(seq), progress, desc or type(self).__name__)

        def done(index: int, result: Any) -> None:
            results[index] = result
            if on_result is not None:
                on_result(index, result)
            if bar is not None:
                bar.update(1)

        try:
            if seq:
                self._run(fn, seq, done)
        finally:
            if bar is not None:
                bar.close()
        return results

    @staticmethod
    def _note_item(error: Exception, index: int, items: Sequence[Any]) -> None:
        """Add a note to ``error`` naming the item whose task raised it (its type and message stay)."""
        text = repr(items[index])
        text = text if len(text) <= 200 else text[:197] + "..."
        error.add_note(f"while running item {index} of {len(items)}: {text}")

    @abstractmethod
    def _run(self, fn: Callable[[Any], Any], items: Sequence[Any], done: ResultCallback) -> None:
        """Run ``fn`` on every item and call ``done(index, result)`` in this process for each."""

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op for executors without workers
        """Release workers (a no-op where there are none)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(max_workers={self.max_workers})"
