"""Local search (first improvement with random restarts), as in NASLib's ``LocalSearch``."""

from __future__ import annotations

from typing import Any

import numpy as np

from gennape_naslib.optimizers.base import Optimizer, Trial, register_optimizer

__all__ = ["LocalSearch"]


@register_optimizer("local_search", aliases=("ls", "localsearch"))
class LocalSearch(Optimizer):
    """Hill climbing over the family's neighbourhood.

    Starts with ``num_init`` random architectures and climbs from the best: the unevaluated
    neighbours of the current architecture are proposed in random order, and the first one that is
    better becomes the current architecture. When every neighbour was evaluated without improvement
    (a local optimum) the search restarts from a new random architecture.

    Args:
        family, metric, maximize, random_state, max_attempts: See :class:`Optimizer`.
        num_init: Random architectures evaluated before climbing (NASLib's default 10).
    """

    def __init__(
        self,
        family: Any,
        metric: str = "accuracy",
        maximize: bool = True,
        random_state: int | np.random.Generator | None = None,
        max_attempts: int = 1000,
        num_init: int = 10,
    ) -> None:
        super().__init__(family, metric, maximize, random_state, max_attempts)
        if num_init < 1:
            raise ValueError(f"LocalSearch: num_init must be >= 1, got {num_init}")
        self.num_init = int(num_init)
        self.current: Trial | None = None
        self._queue: list[Any] = []
        self.restarts = 0
        self._restart_key: str | None = None

    def _on_tell(self, trial: Trial) -> None:
        """Called after each ``tell``: move to ``trial`` when it beats the current architecture."""
        if trial.hash == self._restart_key:
            self._restart_key = None
            self.current, self._queue = trial, []
            return
        if len(self.history) < self.num_init or self._restart_key is not None:
            return
        if self.current is None:
            self.current, self._queue = self.best(), []
        elif self.score(trial) > self.score(self.current):
            self.current, self._queue = trial, []

    def _refill(self) -> None:
        assert self.current is not None
        options = [a for a in self.family.neighbors(self.current.arch) if self.is_new(a)]
        order = self.rng.permutation(len(options))
        self._queue = [options[i] for i in order]

    def _propose(self, n: int) -> list[Any]:
        if self.current is None or self._restart_key is not None:
            return self._random_new(n)
        out: list[Any] = []
        if not self._queue:
            self._refill()
        while len(out) < n and self._queue:
            arch = self._queue.pop(0)
            if self.is_new(arch):
                out.append(arch)
        if not out and not self._pending:
            # Local optimum: every neighbour was evaluated and none is better; restart at random.
            restart = self._random_new(1)
            if restart:
                self.restarts += 1
                self._restart_key = self.family.canonical_hash(restart[0])
                self.current, self._queue = None, []
            return restart
        return out
