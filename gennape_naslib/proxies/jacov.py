"""``jacov``: Jacobian covariance (Mellor et al., 2020, first version) as NASLib computes it.

With ``J`` the per-image input Jacobians of the summed logits (``jacobian_pass``) and
``Sigma = corrcoef(J)`` (``N x N``, images as variables) with eigenvalues ``v``:
``score = -sum(log(v + k) + 1 / (v + k))``, ``k = 1e-5``. The score is at most about ``-N`` (reached
when the images' Jacobians are uncorrelated); networks whose Jacobian is zero give NaN, reported as
NASLib's ``-1e8``.
"""

from __future__ import annotations

import warnings

import numpy as np

from gennape_naslib.proxies._passes import jacobian_pass
from gennape_naslib.proxies.base import ProxyInput, ZeroCostProxy, register_proxy

_K = 1e-5


def jacov_score(jacobians: np.ndarray) -> float:
    """The jacov score of ``(N, D)`` Jacobians (NaN where the correlation matrix is undefined)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        corrs = np.corrcoef(jacobians)
        if not np.all(np.isfinite(corrs)):
            return float("nan")
        v = np.linalg.eigvalsh(corrs)
        return float(-np.sum(np.log(v + _K) + 1.0 / (v + _K)))


@register_proxy("jacov")
class Jacov(ZeroCostProxy):
    """Jacobian-correlation score; higher (less correlated Jacobians) is better."""

    higher_is_better = True

    def compute(self, item: ProxyInput) -> float:
        return jacov_score(jacobian_pass(item).jacobians)
