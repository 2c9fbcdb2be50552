"""BANANAS-style Bayesian optimisation with any registered predictor (White et al., 2021)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from gennape_naslib.optimizers._surrogate import ACQUISITION_FUNCTIONS, Surrogate, acquisition, fit_mode
from gennape_naslib.optimizers.base import Optimizer, register_optimizer
from gennape_naslib.predictors.spread import spread_scale

__all__ = ["CALIBRATION_MIN_PAIRS", "CALIBRATION_WINDOW", "Bananas", "CANDIDATE_GENERATORS"]

#: Ways of generating acquisition candidates (NASLib's ``acq_fn_optimization``).
CANDIDATE_GENERATORS = ("mutation", "random_sampling")
#: ``calibrate_std``: the scale is fitted on the most recent this many (prediction, label) pairs ...
CALIBRATION_WINDOW = 30
#: ... once at least this many exist (before: the predictor's own spread, scale 1).
CALIBRATION_MIN_PAIRS = 5


@register_optimizer("bananas", aliases=("bo", "bayesian_optimization"))
class Bananas(Optimizer):
    """Bayesian optimisation with a neural predictor as surrogate (NASLib's ``Bananas`` semantics).

    The first ``num_init`` architectures are random. Then, whenever its queue is empty, the optimizer
    fits the surrogate on every successful trial, generates ``num_candidates`` new candidates (by
    mutating the ``num_arches_to_mutate`` best architectures 1..``max_mutations`` times, or by random
    sampling), scores them with the acquisition function and queues the ``k`` best; proposals are
    taken from the queue.

    Args:
        family, metric, maximize, random_state, max_attempts: See :class:`Optimizer`.
        predictor: Predictor registry name (``"gennape"``, ``"kgnn"``, ...), an instance, or a factory
            ``f(seed)``; see :class:`~gennape_naslib.optimizers._surrogate.Surrogate`.
        predictor_kwargs: Keyword arguments for the predictor.
        num_ensemble: Ensemble size (NASLib default 3); 1 uses the predictor's own std if it has one.
        fit_predictor: What happens to the surrogate each round: ``True`` refits it from scratch on
            the history, ``False`` keeps a pretrained predictor as it is (predictors with
            ``needs_fit = False`` are never fitted), ``"finetune"`` fine-tunes a copy of a fitted
            predictor instance (e.g. ``GENNAPEPredictor.pretrained()``) on the history with its
            ``finetune`` method, each round from the given weights.
        num_init: Random architectures before the first fit (NASLib default 10).
        k: Architectures queued per round (NASLib default 10).
        num_candidates: Candidates scored per round (NASLib default 100).
        acq_fn_type: One of ``its``, ``ucb``, ``ei``, ``probability_improvement``, ``exploit_only``.
        acq_fn_optimization: ``mutation`` or ``random_sampling``.
        num_arches_to_mutate: Parents of the mutation candidates (NASLib default 2).
        max_mutations: Mutation chain length per candidate (NASLib default 1).
        explore_factor: UCB weight of the std (NASLib default 0.5).
        calibrate_std: Not in NASLib (default ``False``: the surrogate's std as it is). ``True`` rescales
            the std every round by :func:`~gennape_naslib.predictors.spread.spread_scale` of the surrogate's
            own earlier predictions of the architectures evaluated since (each predicted before its label
            was known): the :data:`CALIBRATION_WINDOW` most recent pairs with a positive spread, once there
            are :data:`CALIBRATION_MIN_PAIRS`. Only when the surrogate is fitted or fine-tuned on the
            evaluated architectures (its predictions are then in the metric's units).
    """

    uses_predictor = True

    def __init__(
        self,
        family: Any,
        metric: str = "accuracy",
        maximize: bool = True,
        random_state: int | np.random.Generator | None = None,
        max_attempts: int = 1000,
        predictor: str | Any | Callable[[int], Any] = "gennape",
        predictor_kwargs: Mapping[str, Any] | None = None,
        num_ensemble: int = 3,
        fit_predictor: bool | str = True,
        num_init: int = 10,
        k: int = 10,
        num_candidates: int = 100,
        acq_fn_type: str = "its",
        acq_fn_optimization: str = "mutation",
        num_arches_to_mutate: int = 2,
        max_mutations: int = 1,
        explore_factor: float = 0.5,
        calibrate_std: bool = False,
    ) -> None:
        super().__init__(family, metric, maximize, random_state, max_attempts)
        name = type(self).__name__
        if acq_fn_type not in ACQUISITION_FUNCTIONS:
            raise ValueError(
                f"{name}: acq_fn_type {acq_fn_type!r} unknown; choices: {', '.join(ACQUISITION_FUNCTIONS)}"
            )
        if acq_fn_optimization not in CANDIDATE_GENERATORS:
            raise ValueError(
                f"{name}: acq_fn_optimization {acq_fn_optimization!r} unknown; "
                f"choices: {', '.join(CANDIDATE_GENERATORS)}"
            )
        for key, value in (
            ("num_init", num_init),
            ("k", k),
            ("num_candidates", num_candidates),
            ("num_arches_to_mutate", num_arches_to_mutate),
            ("max_mutations", max_mutations),
            ("num_ensemble", num_ensemble),
        ):
            if int(value) < 1:
                raise ValueError(f"{name}: {key} must be >= 1, got {value}")
        self.predictor = predictor
        self.predictor_kwargs = dict(predictor_kwargs or {})
        self.num_ensemble = int(num_ensemble)
        try:
            self.fit_predictor = fit_mode(fit_predictor)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
        self.num_init = int(num_init)
        self.k = int(k)
        self.num_candidates = int(num_candidates)
        self.acq_fn_type = acq_fn_type
        self.acq_fn_optimization = acq_fn_optimization
        self.num_arches_to_mutate = int(num_arches_to_mutate)
        self.max_mutations = int(max_mutations)
        self.explore_factor = float(explore_factor)
        if not isinstance(calibrate_std, (bool, np.bool_)):
            raise ValueError(f"{name}: calibrate_std must be true or false, got {calibrate_std!r}")
        self.calibrate_std = bool(calibrate_std)
        self._raw_std: dict[str, float] = {}  # uncalibrated predicted std of each queued architecture
        seeds = [int(s) for s in self.rng.integers(0, 2**31 - 1, size=self.num_ensemble)]
        self.surrogate = Surrogate(
            predictor,
            self.family.name,
            self.num_ensemble,
            self.predictor_kwargs,
            seeds,
            fit=self.fit_predictor,
            clone=self.num_ensemble > 1,
        )
        self._queue: list[Any] = []
        self.rounds = 0

    # ------------------------------------------------------------------ candidates
    def _candidates(self) -> list[Any]:
        """New, distinct candidate architectures for one round (called when the queue is empty).

        With ``mutation``, the ``num_arches_to_mutate`` best architectures are mutated; when their
        neighbourhoods are used up (fewer than ``k`` new candidates), the next-best architectures are
        mutated too, and random samples fill what is still missing, so that every round scores at
        least ``k`` new candidates (when the space has them).
        """
        if self.acq_fn_optimization == "random_sampling":
            return self._random_new(self.num_candidates)
        ranked = [t.arch for t in self.top(len(self.history))]
        per_parent = max(
            1, self.num_candidates // max(min(len(ranked), self.num_arches_to_mutate), 1) // self.max_mutations
        )
        out: list[Any] = []
        keys: set[str] = set()
        for rank, parent in enumerate(ranked):
            if rank >= self.num_arches_to_mutate and len(out) >= self.k:
                break
            for _ in range(per_parent):
                child = parent
                for _ in range(self.max_mutations):
                    child = self.family.mutate(child, self.rng)
                    key = self.family.canonical_hash(child)
                    if key not in keys and key not in self._seen:
                        keys.add(key)
                        out.append(child)
        return out + self._top_up(keys, self.k - len(out))

    def _top_up(self, keys: set[str], missing: int) -> list[Any]:
        """Up to ``missing`` random new architectures not in ``keys``."""
        extra = [a for a in self._random_new(max(missing, 0)) if self.family.canonical_hash(a) not in keys]
        return extra[: max(missing, 0)]

    def _fit(self) -> None:
        """Fit the surrogate on the successful trials (called once per round, before scoring)."""
        done = self.successful
        self.surrogate.fit([t.arch for t in done], [t.metrics[self.metric] for t in done])
        if self.calibrate_std and self.surrogate.fit_enabled:
            self.surrogate.std_scale = self._spread_scale(done)

    def _spread_scale(self, done: list[Any]) -> float:
        """The std factor from the most recent earlier predictions of evaluated architectures (1 until
        there are enough, or when their errors give no scale)."""
        pairs = [
            (t.metrics[self.metric], t.prediction[0], self._raw_std[t.hash])
            for t in done
            if t.prediction is not None and self._raw_std.get(t.hash, 0.0) > 0
        ][-CALIBRATION_WINDOW:]
        if len(pairs) < CALIBRATION_MIN_PAIRS:
            return 1.0
        y, mean, std = (np.array(v, dtype=np.float64) for v in zip(*pairs))
        try:
            return spread_scale(y, mean, std)
        except ValueError:  # every recent prediction exact: keep the predictor's own spread
            return 1.0

    def _oriented(self, mean: np.ndarray) -> np.ndarray:
        """Predictions oriented so that larger is better."""
        if self.surrogate.fit_enabled:
            return mean if self.maximize else -mean
        return mean if self.surrogate.higher_is_better else -mean

    def _incumbent(self, oriented_fn: Callable[[list[Any]], np.ndarray]) -> float:
        """Best value of the evaluated architectures, on the acquisition's scale."""
        done = self.successful
        if self.surrogate.fit_enabled:
            return max(self.score(t) for t in done)
        return float(np.max(oriented_fn([t.arch for t in done])))

    def _next_round(self) -> None:
        """Fit, generate candidates, score them and queue the ``k`` best (called when the queue is empty)."""
        self._fit()
        candidates = self._candidates()
        if not candidates:
            return
        mean, std = self.surrogate.predict(candidates)
        oriented = self._oriented(mean)

        def predict_oriented(archs: list[Any]) -> np.ndarray:
            return self._oriented(self.surrogate.predict(archs)[0])

        best = self._incumbent(predict_oriented) if self.acq_fn_type in ("ei", "probability_improvement") else 0.0
        values = acquisition(self.acq_fn_type, oriented, std, best, self.rng, self.explore_factor)
        order = np.argsort(-values, kind="stable")[: self.k]
        self._queue = [candidates[i] for i in order]
        for i in order:
            key = self.family.canonical_hash(candidates[i])
            self._predictions[key] = (float(mean[i]), None if std is None else float(std[i]))
            if std is not None:
                self._raw_std[key] = float(std[i]) / self.surrogate.std_scale
        self.rounds += 1

    def _propose(self, n: int) -> list[Any]:
        if len(self.successful) + len(self._pending) < self.num_init or not self.successful:
            return self._random_new(min(n, max(self.num_init - len(self.history) - len(self._pending), 1)))
        out: list[Any] = []
        for _ in range(2):
            if not self._queue:
                self._next_round()
            while self._queue and len(out) < n:
                arch = self._queue.pop(0)
                if self.is_new(arch):
                    out.append(arch)
            if len(out) == n:
                break
        return out
