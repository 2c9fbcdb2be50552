"""NPENAS-style predictor-guided evolution (Wei et al., 2022), with any registered predictor."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from gennape_naslib.optimizers.bananas import Bananas
from gennape_naslib.optimizers.base import register_optimizer

__all__ = ["Npenas"]


@register_optimizer("npenas", aliases=("predictor_guided_evolution",))
class Npenas(Bananas):
    """Evolution whose offspring are screened by a predictor before evaluation.

    After ``num_init`` random architectures, each round mutates every one of the
    ``num_arches_to_mutate`` best evaluated architectures once, ``num_candidates`` children in
    total, ranks the new children with the predictor (its mean with ``exploit_only``, NPENAS-NP; a
    Thompson draw with ``its``, NPENAS-BO, needs a std) and evaluates the ``k`` best. Compared with
    :class:`~gennape_naslib.optimizers.bananas.Bananas` the defaults differ (more parents, single
    mutations, mean ranking, one predictor) and the candidates always come from mutation.

    Args: As :class:`Bananas`; defaults ``num_ensemble=1``, ``acq_fn_type="exploit_only"``,
        ``num_arches_to_mutate=10``, ``num_candidates=100``, ``max_mutations=1``.
    """

    def __init__(
        self,
        family: Any,
        metric: str = "accuracy",
        maximize: bool = True,
        random_state: int | np.random.Generator | None = None,
        max_attempts: int = 1000,
        predictor: str | Any | Callable[[int], Any] = "gennape",
        predictor_kwargs: Mapping[str, Any] | None = None,
        num_ensemble: int = 1,
        fit_predictor: bool | str = True,
        num_init: int = 10,
        k: int = 10,
        num_candidates: int = 100,
        acq_fn_type: str = "exploit_only",
        acq_fn_optimization: str = "mutation",
        num_arches_to_mutate: int = 10,
        max_mutations: int = 1,
        explore_factor: float = 0.5,
    ) -> None:
        if acq_fn_optimization != "mutation":
            raise ValueError(
                f"Npenas: candidates always come from mutation, got acq_fn_optimization={acq_fn_optimization!r}"
            )
        super().__init__(
            family,
            metric,
            maximize,
            random_state,
            max_attempts,
            predictor,
            predictor_kwargs,
            num_ensemble,
            fit_predictor,
            num_init,
            k,
            num_candidates,
            acq_fn_type,
            acq_fn_optimization,
            num_arches_to_mutate,
            max_mutations,
            explore_factor,
        )

    def _candidates(self) -> list[Any]:
        """Children of the best architectures, spread evenly over the parents (round-robin).

        Random samples fill the round up to ``k`` candidates when the parents' neighbourhoods are
        used up.
        """
        parents = [t.arch for t in self.top(self.num_arches_to_mutate)]
        out: list[Any] = []
        keys: set[str] = set()
        attempts = 0
        while len(out) < self.num_candidates and attempts < 3 * self.num_candidates:
            parent = parents[attempts % len(parents)]
            attempts += 1
            child = parent
            for _ in range(self.max_mutations):
                child = self.family.mutate(child, self.rng)
            key = self.family.canonical_hash(child)
            if key not in keys and key not in self._seen:
                keys.add(key)
                out.append(child)
        return out + self._top_up(keys, self.k - len(out))
