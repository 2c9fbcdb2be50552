"""Multi-objective evolution (NSGA-II selection with mutation) over accuracy and cost metrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gennape_naslib.optimizers.base import Optimizer, Trial, register_optimizer
from gennape_naslib.optimizers.pareto import crowding_distance, hypervolume, non_dominated_sort

__all__ = ["MultiObjectiveEvolution", "parse_objectives"]

_DIRECTIONS = {"max": True, "maximize": True, "min": False, "minimize": False}


def parse_objectives(objectives: Sequence[Any]) -> list[tuple[str, bool]]:
    """``[(metric, maximize), ...]`` from items ``"name:max"``, ``("name", "min")`` or ``{"name": "max"}``.

    A bare name is maximised.

    Raises:
        ValueError: For fewer than two objectives or an unknown direction (naming the item).
    """
    out: list[tuple[str, bool]] = []
    for item in objectives:
        if isinstance(item, dict) and len(item) == 1:
            item = next(iter(item.items()))
        if isinstance(item, str):
            name, _, direction = item.partition(":")
            direction = direction or "max"
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            name, direction = item
            if isinstance(direction, bool):
                direction = "max" if direction else "min"
        else:
            raise ValueError(f"objective {item!r}: expected 'name:max', ('name', 'min') or {{name: max}}")
        if str(direction).lower() not in _DIRECTIONS:
            raise ValueError(f"objective {item!r}: direction {direction!r} is not one of max, min")
        out.append((str(name), _DIRECTIONS[str(direction).lower()]))
    if len(out) < 2:
        raise ValueError(f"multi-objective search needs at least two objectives, got {len(out)}")
    return out


@register_optimizer("multi_objective", aliases=("moo", "nsga2", "multi_objective_evolution"))
class MultiObjectiveEvolution(Optimizer):
    """Evolution towards the Pareto front of several metrics (e.g. accuracy vs FLOPs or latency).

    The first ``num_init`` architectures are random. Afterwards the ``population_size`` best
    successful trials are selected NSGA-II style (Pareto rank, then crowding distance), parents are
    picked by binary tournaments on (rank, crowding), and children are their mutations.

    Args:
        family, random_state, max_attempts: See :class:`Optimizer`.
        objectives: At least two objectives, e.g. ``["test_acc_200ep:max", "flops:min"]``.
        reference_point: One value per objective: the worst corner of the hypervolume (e.g.
            ``[0.0, 1e9]``). Required, because a hypervolume is only comparable with a declared one.
        num_init: Random architectures first.
        population_size: Survivors per generation.
        max_mutations: Mutations per child.
        metric, maximize: Ignored beyond :meth:`best` (they default to the first objective).
    """

    def __init__(
        self,
        family: Any,
        objectives: Sequence[Any] = ("accuracy:max", "flops:min"),
        reference_point: Sequence[float] | None = None,
        metric: str | None = None,
        maximize: bool | None = None,
        random_state: int | np.random.Generator | None = None,
        max_attempts: int = 1000,
        num_init: int = 20,
        population_size: int = 20,
        max_mutations: int = 1,
    ) -> None:
        parsed = parse_objectives(objectives)
        super().__init__(
            family,
            metric or parsed[0][0],
            parsed[0][1] if maximize is None else maximize,
            random_state,
            max_attempts,
        )
        if reference_point is None:
            raise ValueError("MultiObjectiveEvolution: reference_point is required (one value per objective)")
        if len(reference_point) != len(parsed):
            raise ValueError(
                f"MultiObjectiveEvolution: reference_point has {len(reference_point)} values "
                f"for {len(parsed)} objectives"
            )
        if num_init < 1 or population_size < 2:
            raise ValueError(
                "MultiObjectiveEvolution: need num_init >= 1 and population_size >= 2, "
                f"got {num_init} and {population_size}"
            )
        self.objectives = [f"{n}:{'max' if m else 'min'}" for n, m in parsed]
        self.objective_names = [n for n, _ in parsed]
        self.directions = [m for _, m in parsed]
        self.reference_point = [float(v) for v in reference_point]
        self.num_init = int(num_init)
        self.population_size = int(population_size)
        self.max_mutations = int(max_mutations)

    # ------------------------------------------------------------------ objective values
    def values(self, trials: Sequence[Trial]) -> np.ndarray:
        """``(n, d)`` objective values of ``trials`` (NaN where a metric is missing)."""
        return np.array(
            [[t.metrics.get(name, np.nan) for name in self.objective_names] for t in trials], dtype=np.float64
        ).reshape(len(trials), len(self.objective_names))

    def _complete(self) -> list[Trial]:
        return [t for t in self.history if np.all(np.isfinite(self.values([t])))]

    def pareto_front(self) -> list[Trial]:
        """The non-dominated successful trials, in history order."""
        done = self._complete()
        if not done:
            return []
        ranks = non_dominated_sort(self.values(done), self.directions)
        return [t for t, r in zip(done, ranks) if r == 0]

    def hypervolume(self, upto: int | None = None) -> float:
        """Hypervolume of the first ``upto`` trials (all by default) against :attr:`reference_point`."""
        trials = [t for t in self.history[:upto] if np.all(np.isfinite(self.values([t])))]
        if not trials:
            return 0.0
        return hypervolume(self.values(trials), self.reference_point, self.directions)

    # ------------------------------------------------------------------ selection
    def _population(self) -> tuple[list[Trial], np.ndarray, np.ndarray]:
        """NSGA-II survivors with their ranks and crowding distances."""
        done = self._complete()
        vals = self.values(done)
        ranks = non_dominated_sort(vals, self.directions)
        crowd = np.zeros(len(done))
        for r in np.unique(ranks):
            members = np.flatnonzero(ranks == r)
            crowd[members] = crowding_distance(vals[members])
        order = sorted(range(len(done)), key=lambda i: (ranks[i], -crowd[i], done[i].index))[: self.population_size]
        return [done[i] for i in order], ranks[order], crowd[order]

    def _propose(self, n: int) -> list[Any]:
        if len(self._complete()) + len(self._pending) < self.num_init or len(self._complete()) < 2:
            return self._random_new(n)
        pop, ranks, crowd = self._population()
        out = []
        for _ in range(n):
            a, b = self.rng.choice(len(pop), size=2, replace=False)
            win = a if (ranks[a], -crowd[a]) <= (ranks[b], -crowd[b]) else b
            child = self._mutate_new(pop[int(win)].arch, self.max_mutations)
            if child is not None:
                out.append(child)
        return out
