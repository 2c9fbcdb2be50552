"""Regularized (aging) evolution of Real et al. (2019), after NASLib's ``RegularizedEvolution``.

It differs from NASLib's in the tournament: the ``sample_size`` members are drawn *without*
replacement (``sample_size`` distinct members, or the whole population when it is smaller), while
NASLib (like Real et al.'s pseudo-code) draws ``sample_size`` times with replacement
(``np.random.choice`` of one member per draw), so a member can appear twice and the tournament
sees fewer distinct members, a slightly weaker selection pressure. As in NASLib, the first
``population_size`` architectures are random, then each evaluation is one mutation of the tournament
winner and the oldest member leaves the population. Unlike NASLib, a child already proposed is
mutated again (every evaluation is a new architecture) and failed evaluations (NaN) never join the
population.
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np

from gennape_naslib.optimizers.base import Optimizer, Trial, register_optimizer

__all__ = ["RegularizedEvolution"]


@register_optimizer("regularized_evolution", aliases=("re", "rea", "regularizedevolution", "evolution"))
class RegularizedEvolution(Optimizer):
    """Aging evolution: tournament selection in a population that forgets its oldest member.

    The first ``population_size`` architectures are random (in a batched ``ask`` only the slots left
    in the warm-up; the rest of the batch are already mutations). Afterwards each proposal draws
    ``sample_size`` members of the population uniformly without replacement, mutates the best of them,
    and every told trial joins the population while the oldest member leaves.

    Args:
        family, metric, maximize, random_state, max_attempts: See :class:`Optimizer`.
        population_size: Number of trials in the population (NASLib's default 100; 50 suits small budgets).
        sample_size: Tournament size (NASLib's default 25; 10 here).
        max_mutations: Mutations applied per child (1 = NASLib's behaviour).
    """

    @classmethod
    def proposal_revision(cls, ask_batch: int = 1) -> int:
        """2 for batched asks since 2026-12-01 (only the free warm-up slots are random); serial asks are unchanged."""
        return 1 if ask_batch == 1 else 2

    def __init__(
        self,
        family: Any,
        metric: str = "accuracy",
        maximize: bool = True,
        random_state: int | np.random.Generator | None = None,
        max_attempts: int = 1000,
        population_size: int = 50,
        sample_size: int = 10,
        max_mutations: int = 1,
    ) -> None:
        super().__init__(family, metric, maximize, random_state, max_attempts)
        if population_size < 1 or sample_size < 1:
            raise ValueError(
                f"RegularizedEvolution: population_size and sample_size must be >= 1, got "
                f"{population_size} and {sample_size}"
            )
        self.population_size = int(population_size)
        self.sample_size = int(sample_size)
        self.max_mutations = int(max_mutations)
        self.population: collections.deque[Trial] = collections.deque(maxlen=self.population_size)

    def _on_tell(self, trial: Trial) -> None:
        """Called after each ``tell``: a successful trial joins the population, the oldest leaves."""
        if self.score(trial) > -np.inf:
            self.population.append(trial)

    def _propose(self, n: int) -> list[Any]:
        # Architectures still being evaluated count towards filling the initial population.
        warmup = self.population_size - len(self.population) - len(self._pending)
        if warmup >= n or not self.population:
            return self._random_new(n)
        # A batch that completes the warm-up: random architectures for the free slots only.
        out = self._random_new(warmup) if warmup > 0 else []
        members = list(self.population)
        for _ in range(n - len(out)):
            size = min(self.sample_size, len(members))
            picks = self.rng.choice(len(members), size=size, replace=False)
            parent = max((members[i] for i in picks), key=lambda t: (self.score(t), -t.index))
            child = self._mutate_new(parent.arch, self.max_mutations)
            if child is not None:
                out.append(child)
        return out
