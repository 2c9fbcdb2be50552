"""An executor on a Ray cluster (the ``[ray]`` extra; Ray is imported only when one is created)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from gennape_naslib._optional import require
from gennape_naslib.execution.base import Executor, ResultCallback

__all__ = ["RayExecutor"]


class RayExecutor(Executor):
    """Runs each call as a Ray task.

    Connects to a running cluster when ``address`` is given (or ``RAY_ADDRESS`` is set), else
    starts a local single-node Ray instance (stopped again by :meth:`close`). At most
    ``max_workers`` tasks are in flight. (Ray's old in-process ``local_mode`` was removed in recent
    Ray releases, so it is not offered here.)

    Args:
        max_workers: Tasks in flight (default: the cluster's CPU count).
        address: Ray cluster address (``"auto"``, ``"ray://host:10001"``) or ``None``.
        num_cpus: CPUs per task (Ray's ``num_cpus`` option, default 1).
        init_kwargs: Further ``ray.init`` arguments.

    Raises:
        MissingDependencyError: If Ray is not installed.
    """

    name = "ray"

    def __init__(
        self,
        max_workers: int | None = None,
        address: str | None = None,
        num_cpus: float = 1,
        init_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(max_workers)
        self._ray = require("ray", "ray", "RayExecutor")
        self.address = address
        self.num_cpus = num_cpus
        self.init_kwargs = dict(init_kwargs or {})
        self._started = False

    def _ensure_started(self) -> None:
        ray = self._ray
        if ray.is_initialized():
            return
        kwargs: dict[str, Any] = {"ignore_reinit_error": True, "include_dashboard": False, "log_to_driver": False}
        if self.address:
            kwargs["address"] = self.address
        kwargs.update(self.init_kwargs)
        ray.init(**kwargs)
        self._started = True

    def _run(self, fn: Callable[[Any], Any], items: Sequence[Any], done: ResultCallback) -> None:
        self._ensure_started()
        ray = self._ray
        limit = self.max_workers or max(1, int(ray.cluster_resources().get("CPU", 1) // max(self.num_cpus, 1e-9)))
        remote = ray.remote(num_cpus=self.num_cpus)(fn)
        pending: dict[Any, int] = {}
        next_index = 0
        try:
            while next_index < len(items) or pending:
                while next_index < len(items) and len(pending) < limit:
                    pending[remote.remote(items[next_index])] = next_index
                    next_index += 1
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    index = pending.pop(ref)
                    try:
                        result = ray.get(ref)
                    except Exception as exc:
                        self._note_item(exc, index, items)
                        raise
                    done(index, result)
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=False)
            raise

    def close(self) -> None:
        """Shut Ray down if this executor started it."""
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()
        self._started = False
