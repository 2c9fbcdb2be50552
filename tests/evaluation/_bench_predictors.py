"""Tiny registered predictors for the benchmark tests (fast, deterministic, observable)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from gennape_naslib.cg.counting import count_weight_params
from gennape_naslib.cg.graph import ComputeGraph
from gennape_naslib.predictors import Predictor, as_archs_and_family, check_x, check_xy, register_predictor


def _log_params(X: Any, family: Any) -> np.ndarray:
    items = check_x(X)
    if all(isinstance(item, ComputeGraph) for item in items):  # several families: graphs
        counts = [count_weight_params(cg) for cg in items]
    else:
        archs, adapter = as_archs_and_family(items, family)
        counts = [adapter.params(a) for a in archs]
    return np.log1p(np.asarray(counts, dtype=np.float64))


@register_predictor("bench_test_linear")
class LinearOnParams(Predictor):
    """Least-squares line of accuracy on log(params); records what it was trained and fine-tuned on."""

    calls: ClassVar[list[tuple[str, Any, int, tuple[str, ...]]]] = []
    fail_on_size: ClassVar[int | None] = None

    def __init__(self, tag: str = "", random_state: int | None = None) -> None:
        self.tag = tag
        self.random_state = random_state

    def fit(self, X: Any, y: Any, family: Any = None) -> LinearOnParams:
        X, y = check_xy(X, y)
        if self.fail_on_size is not None and len(X) == self.fail_on_size:
            raise KeyboardInterrupt  # stands in for a user pressing Ctrl-C in the middle of a run
        type(self).calls.append(("fit", self.tag, self.random_state, len(X)))
        feature = _log_params(X, family)
        design = np.stack([feature, np.ones_like(feature)], axis=1)
        self.coef_ = np.linalg.lstsq(design, np.asarray(y, dtype=np.float64), rcond=None)[0]
        return self

    def predict(self, X: Any, return_std: bool = False, family: Any = None) -> np.ndarray:
        feature = _log_params(X, family)
        return self.coef_[0] * feature + self.coef_[1]


@register_predictor("bench_test_tunable")
class TunableLinear(LinearOnParams):
    """The same line, with a ``finetune`` that records the fine-tune samples it receives."""

    tuned: ClassVar[list[tuple[str, Any, tuple[str, ...]]]] = []

    def finetune(self, X: Any, y: Any, epochs: int | None = None, family: Any = None) -> TunableLinear:
        archs, adapter = as_archs_and_family(check_x(X), family)
        type(self).tuned.append((self.tag, self.random_state, tuple(adapter.canonical_hash(a) for a in archs)))
        return self.fit(X, y, family=family)


@register_predictor("bench_test_lower")
class LowerIsBetter(LinearOnParams):
    """The same line negated, declared lower-is-better: a benchmark must rank it like the line."""

    higher_is_better = False

    def predict(self, X: Any, return_std: bool = False, family: Any = None) -> np.ndarray:
        return -super().predict(X, family=family)


@register_predictor("bench_test_wrong_shape")
class WrongShape(LinearOnParams):
    """Returns one prediction too many."""

    def predict(self, X: Any, return_std: bool = False, family: Any = None) -> np.ndarray:
        return np.append(super().predict(X, family=family), 0.0)
