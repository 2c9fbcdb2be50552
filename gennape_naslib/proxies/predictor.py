"""Zero-cost proxies as predictors, so benchmarks treat proxies and trained predictors alike.

Every proxy except ``params`` and ``flops`` (whose predictors live in
:mod:`gennape_naslib.predictors.baselines`) is registered in the predictor registry under its own
name: ``get_predictor("synflow")`` returns a :class:`ZeroCostPredictor` whose ``fit`` only checks
its inputs (``needs_fit = False``) and whose ``predict`` is :func:`gennape_naslib.proxies.score`.
``higher_is_better`` is the proxy's.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from gennape_naslib.predictors.base import Predictor, as_archs_and_family, check_xy, register_predictor
from gennape_naslib.proxies.base import get_proxy, list_proxies
from gennape_naslib.proxies.batch import DEFAULT_BATCH_SIZE

__all__ = ["PROXY_PREDICTORS", "ZeroCostPredictor", "proxy_predictor_class"]

#: Proxies whose registry names belong to other predictors.
_OWNED_ELSEWHERE = frozenset({"params", "flops"})


class ZeroCostPredictor(Predictor):
    """A zero-cost proxy behind the :class:`~gennape_naslib.predictors.base.Predictor` contract.

    Args:
        batch_size: CIFAR-10 images per network (1..160; NAS-Bench-Suite-Zero used 32).
        random_state: Seed of the network weights, the image draw and any random input (``None``
            means 0, so predictions are always reproducible).
        num_threads: torch / BLAS threads while scoring (default 1; ``None`` keeps the process's
            setting; see :func:`gennape_naslib.proxies.score`).
        draws: Draws averaged per architecture (seeds ``random_state`` onwards; default 1; see
            :func:`gennape_naslib.proxies.score`).
    """

    needs_fit: ClassVar[bool] = False
    proxy_name: ClassVar[str] = ""

    def __init__(
        self,
        batch_size: int = DEFAULT_BATCH_SIZE,
        random_state: int | None = 0,
        num_threads: int | None = 1,
        draws: int = 1,
    ) -> None:
        self.batch_size = batch_size
        self.random_state = random_state
        self.num_threads = num_threads
        self.draws = draws

    def fit(self, X: Any, y: Any, family: Any = None) -> ZeroCostPredictor:
        """Check ``X`` and ``y`` (non-empty, same length, finite ``y``) and return ``self``; nothing is learned."""
        check_xy(X, y)
        return self

    def predict(self, X: Any, return_std: bool = False, family: Any = None) -> np.ndarray:
        """The proxy's scores of ``X`` (float64, one per architecture; see :func:`proxies.score`).

        Raises:
            NotImplementedError: If ``return_std`` is requested (proxies give no spread).
            ValueError: If ``X`` is empty.
        """
        if return_std:
            raise NotImplementedError(f"{type(self).__name__} gives no predictive std (supports_std is False)")
        from gennape_naslib.proxies import score

        archs, adapter = as_archs_and_family(X, family)
        if not archs:
            raise ValueError("X is empty: expected at least one architecture")
        seed = 0 if self.random_state is None else int(self.random_state)
        return score(
            self.proxy_name, adapter, archs, seed=seed, batch_size=int(self.batch_size), num_threads=self.num_threads,
            draws=self.draws,
        )  # fmt: skip


def proxy_predictor_class(name: str) -> type[ZeroCostPredictor]:
    """A :class:`ZeroCostPredictor` subclass for the proxy ``name`` (not registered)."""
    proxy = get_proxy(name)
    cls_name = "".join(part.capitalize() for part in proxy.name.split("_")) + "Predictor"
    attrs = {
        "proxy_name": proxy.name,
        "higher_is_better": type(proxy).higher_is_better,
        "__module__": __name__,
        "__doc__": f"The ``{proxy.name}`` zero-cost proxy as a predictor (no fitting).",
        "__qualname__": cls_name,
    }
    return type(cls_name, (ZeroCostPredictor,), attrs)


#: Registered predictor classes by proxy name.
PROXY_PREDICTORS: dict[str, type[ZeroCostPredictor]] = {}
for _name in list_proxies():
    if _name in _OWNED_ELSEWHERE:
        continue
    _cls = register_predictor(_name)(proxy_predictor_class(_name))
    PROXY_PREDICTORS[_name] = _cls
    globals()[_cls.__name__] = _cls
