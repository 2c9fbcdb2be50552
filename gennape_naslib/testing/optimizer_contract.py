"""A conformance suite every :class:`~gennape_naslib.optimizers.Optimizer` must pass.

Usage from a plug-in's tests::

    OptimizerContract(lambda seed: MySearch("nb201", metric="acc", random_state=seed), evaluate).check_all()

where ``evaluate(arch) -> {"acc": ...}`` is any deterministic objective (a table look-up, a proxy).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["OptimizerContract"]


@dataclass
class OptimizerContract:
    """Checks of the ask/tell contract; each method raises ``AssertionError`` with a reason.

    Args:
        make: ``make(seed)`` builds a fresh optimizer with that ``random_state``.
        evaluate: Deterministic ``arch -> metrics``.
        budget: Evaluations per check.
    """

    make: Callable[[int], Any]
    evaluate: Callable[[Any], Mapping[str, float]]
    budget: int = 30

    def _run(self, seed: int, batch: int = 1) -> Any:
        opt = self.make(seed)
        while len(opt.history) < self.budget:
            n = min(batch, self.budget - len(opt.history))
            archs = opt.ask(n)
            assert len(archs) == n, f"ask({n}) returned {len(archs)} architectures"
            for arch in archs:
                opt.tell(arch, self.evaluate(arch))
        return opt

    def check_no_repeats(self) -> None:
        """No two proposals share a canonical hash, also with batched asks."""
        for batch in (1, 4):
            opt = self._run(0, batch)
            hashes = [t.hash for t in opt.history]
            assert len(set(hashes)) == len(hashes), f"repeated architectures with ask({batch})"

    def check_deterministic(self) -> None:
        """The same seed gives the same proposals; another seed gives others."""
        first = [t.hash for t in self._run(1).history]
        again = [t.hash for t in self._run(1).history]
        other = [t.hash for t in self._run(2).history]
        assert first == again, "same seed, different proposals"
        assert first != other, "different seeds, identical proposals"

    def check_best(self) -> None:
        """``best()`` is the best successful trial under the optimizer's metric and direction."""
        opt = self._run(3)
        best = opt.best()
        assert best is not None, "best() is None after a whole budget"
        scores = [opt.score(t) for t in opt.history if math.isfinite(opt.score(t))]
        assert opt.score(best) == max(scores), "best() is not the best trial"

    def check_valid_archs(self) -> None:
        """Every proposal is a valid architecture of the optimizer's family."""
        opt = self._run(4)
        for trial in opt.history:
            opt.family.validate(trial.arch)

    def check_all(self) -> None:
        """Every check above."""
        self.check_no_repeats()
        self.check_deterministic()
        self.check_best()
        self.check_valid_archs()
