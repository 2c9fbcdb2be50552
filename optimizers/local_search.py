"""Local search: first-improvement hill climbing with random restarts, after NASLib's ``LocalSearch``.

How it differs from NASLib's ``LocalSearch``: NASLib evaluates the *whole* neighbourhood of the
chosen architecture (one evaluation per neighbour, including neighbours evaluated before) and only
then moves to the best architecture found (best improvement); it restarts from a random architecture
when a whole neighbourhood brought no improvement. Here the move is made as soon as an evaluated
neighbour is better than the current architecture (first improvement), an architecture is never
evaluated twice, and neighbours evaluated earlier (in an earlier climb, or an equivalent cell with
the same canonical hash) are looked up in the history instead: when no unevaluated neighbour is
left, the climb moves to the best of them if it is better, and restarts only at a true local optimum.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gennape_naslib.optimizers.base import Optimizer, Trial, register_optimizer

__all__ = ["LocalSearch"]


@register_optimizer("local_search", aliases=("ls", "localsearch"))
class LocalSearch(Optimizer):
    """Hill climbing over the family's neighbourhood (first improvement, random restarts).

    Starts with ``num_init`` random architectures and climbs from the best. The neighbours of the
    current architecture that were not evaluated yet are proposed in random order, and the first one
    that is better becomes the current architecture (its neighbours are proposed next). When no
    unevaluated neighbour is left, the current architecture moves to its best neighbour evaluated
    earlier, if that one is better, and the climb goes on from there; when no neighbour at all is
    better (a local optimum) the search restarts from a new random architecture. See the module
    docstring for how this differs from NASLib's best-improvement ``LocalSearch``.

    Args:
        family, metric, maximize, random_state, max_attempts: See :class:`Optimizer`.
        num_init: Random architectures evaluated before climbing (NASLib's default 10).

    Attributes:
        current: The trial the climb is at (``None`` before the first climb and during a restart).
        restarts: How many times the search restarted from a local optimum.
        local_optima: The trials the climbs ended at, one per restart, in order: none of their
            neighbours evaluated so far is better.
    """

    @classmethod
    def proposal_revision(cls, ask_batch: int = 1) -> int:
        """2 since 2026-12-01: the climb moves to a better neighbour already evaluated instead of restarting."""
        return 2

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
        self.local_optima: list[Trial] = []
        self._restart_key: str | None = None
        self._told: dict[str, Trial] = {}

    def _on_tell(self, trial: Trial) -> None:
        """Called after each ``tell``: move to ``trial`` when it beats the current architecture."""
        self._told.setdefault(trial.hash, trial)
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

    def _move_to_evaluated_neighbour(self) -> bool:
        """Move :attr:`current` to its best already-evaluated neighbour if that one is better."""
        assert self.current is not None
        told = (self._told.get(self.family.canonical_hash(a)) for a in self.family.neighbors(self.current.arch))
        known = [t for t in told if t is not None]
        if not known:
            return False
        best = max(known, key=lambda t: (self.score(t), -t.index))
        if self.score(best) <= self.score(self.current):
            return False
        self.current = best
        return True

    def _propose(self, n: int) -> list[Any]:
        if self.current is None or self._restart_key is not None:
            return self._random_new(n)
        out: list[Any] = []
        if not self._queue:
            self._refill()
        while True:
            while len(out) < n and self._queue:
                arch = self._queue.pop(0)
                if self.is_new(arch):
                    out.append(arch)
            # No unevaluated neighbour is left: climb on through the history (each move is a strict
            # improvement, so this ends) until a neighbour is unevaluated or none is better.
            if out or not self._move_to_evaluated_neighbour():
                break
            self._refill()
        if not out and not self._pending:
            # Local optimum: every neighbour was evaluated and none is better; restart at random.
            restart = self._random_new(1)
            if restart:
                self.restarts += 1
                self.local_optima.append(self.current)
                self._restart_key = self.family.canonical_hash(restart[0])
                self.current, self._queue = None, []
            return restart
        return out
