"""Surrogate models and acquisition functions of the predictor-guided optimizers (BANANAS, NPENAS).

A :class:`Surrogate` wraps any registered predictor (``"gennape"``, ``"kgnn"``, a zero-cost proxy,
...) or a ready predictor instance, optionally as an ensemble of ``num_ensemble`` copies with
different seeds, and returns a mean and a standard deviation per architecture.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["ACQUISITION_FUNCTIONS", "FIT_MODES", "Surrogate", "acquisition", "fit_mode"]

#: Acquisition function names (NASLib's spellings).
ACQUISITION_FUNCTIONS = ("its", "ucb", "ei", "probability_improvement", "exploit_only")
#: What the surrogate does with the evaluated architectures each round (``fit_predictor``):
#: ``True`` refits from scratch, ``False`` uses the predictor as given, ``"finetune"`` fine-tunes a
#: copy of the given (fitted) predictor with its ``finetune`` method.
FIT_MODES = (True, False, "finetune")


def fit_mode(value: Any, where: str = "fit_predictor") -> bool | str:
    """``value`` checked as one of :data:`FIT_MODES` (YAML spellings ``true``/``false``/``finetune``).

    Raises:
        ValueError: Naming ``where`` and the choices.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "finetune", "fine_tune", "fine-tune"):
        text = value.strip().lower()
        return text == "true" if text in ("true", "false") else "finetune"
    raise ValueError(
        f"{where} must be true (refit from scratch each round), false (use the predictor as given) or "
        f"'finetune' (fine-tune a copy of a fitted predictor each round), got {value!r}"
    )


def _is_fitted_instance(spec: Any) -> bool:
    return hasattr(spec, "predict") and callable(getattr(spec, "is_fitted", None)) and bool(spec.is_fitted())


def _seeded_copy(predictor: Any, seed: int) -> Any:
    """A deep copy of a fitted predictor whose ``random_state`` (if any) is ``seed``."""
    member = copy.deepcopy(predictor)
    if "random_state" in getattr(member, "get_params", dict)():
        member.set_params(random_state=seed)
    return member


def _make_predictor(spec: Any, seed: int, kwargs: Mapping[str, Any]) -> Any:
    """One predictor from a registry name, an instance (cloned with a new seed) or a factory ``f(seed)``."""
    if isinstance(spec, str):
        from gennape_naslib.predictors import get_predictor

        model = get_predictor(spec, **kwargs)
        if "random_state" in model.get_params() and "random_state" not in kwargs:  # not FLOPs, params, proxies
            model.set_params(random_state=seed)
        return model
    if hasattr(spec, "predict") and hasattr(spec, "get_params"):
        params = dict(spec.get_params())
        if "random_state" in params:
            params["random_state"] = seed
        params.update(kwargs)
        return type(spec)(**params)
    if callable(spec):
        return spec(seed)
    raise TypeError(f"predictor must be a registry name, a Predictor instance or a factory f(seed), got {spec!r}")


class Surrogate:
    """Mean and uncertainty of a metric from one predictor or an ensemble of them.

    Args:
        predictor: Registry name (``"gennape"``), a predictor instance (cloned through
            ``get_params`` for each ensemble member, unless ``num_ensemble == 1`` and ``clone`` is false,
            in which case it is used as given, e.g. a pretrained model), or a factory ``f(seed)``.
        family: Family name passed to the predictor's ``fit``/``predict``.
        num_ensemble: Number of copies with different seeds; their spread is the uncertainty
            (combined with each member's own std when the predictor has one).
        predictor_kwargs: Extra keyword arguments for each member.
        seeds: One seed per member.
        fit: One of :data:`FIT_MODES`: ``True`` (re)fits every member from scratch on the history,
            ``False`` uses the members as given (pretrained models; predictors with ``needs_fit =
            False`` are never fitted), ``"finetune"`` replaces each member, every round, by
            ``base.finetune(history)`` of its fitted starting point ``base`` (GENNAPE's setting: the
            fine-tuned copy always starts from the pretrained weights, not from the previous round).
        clone: With a predictor instance and ``num_ensemble == 1``: ``False`` uses the instance
            itself. Fitted instances used with ``fit=False`` or ``"finetune"`` are deep-copied (with
            a new ``random_state`` per member) rather than re-created unfitted.

    Raises:
        ValueError: For a bad ``num_ensemble``, too few seeds, an unknown ``fit`` mode, or
            ``"finetune"`` with a predictor that is not fitted or has no ``finetune`` method.
    """

    def __init__(
        self,
        predictor: str | Any | Callable[[int], Any],
        family: str,
        num_ensemble: int = 1,
        predictor_kwargs: Mapping[str, Any] | None = None,
        seeds: Sequence[int] = (0,),
        fit: bool = True,
        clone: bool = True,
    ) -> None:
        if num_ensemble < 1:
            raise ValueError(f"num_ensemble must be >= 1, got {num_ensemble}")
        if len(seeds) < num_ensemble:
            raise ValueError(f"need {num_ensemble} seeds, got {len(seeds)}")
        mode = fit_mode(fit, "fit")
        kwargs = dict(predictor_kwargs or {})
        keep_state = mode is not True and _is_fitted_instance(predictor)
        if mode == "finetune" and not (keep_state and callable(getattr(predictor, "finetune", None))):
            raise ValueError(
                "fit_predictor 'finetune' needs a fitted predictor instance with a finetune method "
                f"(e.g. a loaded GENNAPE checkpoint), got {predictor!r}"
            )
        if num_ensemble == 1 and not clone and not isinstance(predictor, str) and hasattr(predictor, "predict"):
            self.members = [predictor]
        elif keep_state:
            self.members = [_seeded_copy(predictor, int(seeds[i])) for i in range(num_ensemble)]
        else:
            self.members = [_make_predictor(predictor, int(seeds[i]), kwargs) for i in range(num_ensemble)]
        self.family = family
        self.mode: bool | str = mode
        self.bases = list(self.members) if mode == "finetune" else []
        self.fit_enabled = mode is not False and bool(getattr(self.members[0], "needs_fit", True))
        self.higher_is_better = bool(getattr(self.members[0], "higher_is_better", True))
        self.fitted = not self.fit_enabled or mode == "finetune"
        #: Factor on the returned std (1: as the predictors give it; set by BANANAS' ``calibrate_std``).
        self.std_scale = 1.0

    def fit(self, archs: Sequence[Any], y: Sequence[float]) -> None:
        """Fit (or fine-tune copies of) every member on ``archs`` with targets ``y``; no-op when disabled."""
        if not self.fit_enabled:
            return
        y = np.asarray(y, dtype=np.float64)
        if self.mode == "finetune":
            self.members = [base.finetune(list(archs), y, family=self.family) for base in self.bases]
        else:
            for member in self.members:
                member.fit(list(archs), y, family=self.family)
        self.fitted = True

    def predict(self, archs: Sequence[Any]) -> tuple[np.ndarray, np.ndarray | None]:
        """``(mean, std)`` per architecture in the predictor's units (see :attr:`higher_is_better`).

        ``std`` is ``None`` when neither an ensemble nor the predictor gives one; otherwise it is multiplied
        by :attr:`std_scale`.
        """
        archs = list(archs)
        means, variances = [], []
        for member in self.members:
            if getattr(member, "supports_std", False):
                mu, sd = member.predict(archs, return_std=True, family=self.family)
                variances.append(np.square(np.asarray(sd, dtype=np.float64)))
            else:
                mu = member.predict(archs, family=self.family)
            means.append(np.asarray(mu, dtype=np.float64).reshape(len(archs)))
        stack = np.stack(means)
        mean = stack.mean(axis=0)
        if len(self.members) == 1 and not variances:
            return mean, None
        var = stack.var(axis=0) if len(self.members) > 1 else np.zeros_like(mean)
        if variances:
            var = var + np.mean(np.stack(variances), axis=0)
        return mean, np.sqrt(var) * self.std_scale


def _norm_cdf(z: np.ndarray) -> np.ndarray:
    from scipy.special import ndtr

    return ndtr(z)


def acquisition(
    kind: str,
    mean: np.ndarray,
    std: np.ndarray | None,
    best: float,
    rng: np.random.Generator,
    explore_factor: float = 0.5,
) -> np.ndarray:
    """Acquisition values (larger = more promising) of candidates with predicted ``mean``/``std``.

    All quantities are oriented so that larger is better.

    Args:
        kind: ``"its"`` (independent Thompson sampling: one draw from N(mean, std) per candidate),
            ``"ucb"`` (mean + explore_factor * std), ``"ei"`` (expected improvement over ``best``),
            ``"probability_improvement"`` (P[f > best]), ``"exploit_only"`` (mean).
        mean, std: Predictions (``std`` may be ``None``: then every function reduces to the mean,
            except PI/EI which use a zero spread).
        best: Best value observed so far.
        rng: Generator for ITS.
        explore_factor: UCB's weight of the std.

    Raises:
        ValueError: For an unknown ``kind`` (the message lists the choices).
    """
    mean = np.asarray(mean, dtype=np.float64)
    sd = np.zeros_like(mean) if std is None else np.maximum(np.asarray(std, dtype=np.float64), 0.0)
    if kind == "exploit_only":
        return mean
    if kind == "its":
        return mean + sd * rng.standard_normal(mean.shape)
    if kind == "ucb":
        return mean + explore_factor * sd
    if kind in ("ei", "probability_improvement"):
        gap = mean - best
        safe = np.where(sd > 0, sd, 1.0)
        z = gap / safe
        if kind == "probability_improvement":
            return np.where(sd > 0, _norm_cdf(z), (gap > 0).astype(np.float64))
        pdf = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
        return np.where(sd > 0, gap * _norm_cdf(z) + sd * pdf, np.maximum(gap, 0.0))
    raise ValueError(f"unknown acquisition function {kind!r}; choices: {', '.join(ACQUISITION_FUNCTIONS)}")
