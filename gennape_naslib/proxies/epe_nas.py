"""``epe_nas``: per-class Jacobian correlations (Lopes et al., 2021) as NASLib computes it.

The per-image input Jacobians (``jacobian_pass``) are grouped by label. For each class c with
correlation matrix ``Sigma_c = corrcoef(J_c)``: ``s_c = sum(log(|Sigma_c| + k))``, ``k = 1e-5`` (a
class with one image gives ``Sigma_c = 1``). With at most 100 output classes the score is
``sum_c |s_c|``; with more (ImageNet heads), each ``s_c`` is first divided by the class's image count,
classes with a single image are skipped, and the score is ``sum_{c, c'} |s_c - s_c'| / (#classes)``.
Classes whose correlations are undefined (zero Jacobians) are skipped, as in NASLib.
"""

from __future__ import annotations

import warnings

import numpy as np

from gennape_naslib.proxies._passes import jacobian_pass
from gennape_naslib.proxies.base import ProxyInput, ZeroCostProxy, register_proxy

_K = 1e-5


def epe_nas_score(jacobians: np.ndarray, labels: np.ndarray, n_classes: int) -> float:
    """The EPE-NAS score of ``(N, D)`` Jacobians with integer ``labels`` and an ``n_classes``-way head."""
    scores: list[float] = []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        for c in sorted(set(labels.tolist())):
            rows = jacobians[labels == c]
            if len(rows) == 1:
                if n_classes > 100:
                    continue  # NASLib: len() of the 0-d correlation fails and the class is skipped
                corrs = np.ones((1, 1))
            else:
                corrs = np.corrcoef(rows)
            s = float(np.sum(np.log(np.abs(corrs) + _K)))
            if n_classes > 100:
                s /= len(corrs)
            if np.isnan(s):
                continue
            scores.append(s)
    if n_classes <= 100:
        return float(sum(abs(s) for s in scores))
    if not scores:
        return 0.0
    arr = np.asarray(scores)
    return float(np.abs(arr[:, None] - arr[None, :]).sum() / len(arr))


@register_proxy("epe_nas")
class EpeNas(ZeroCostProxy):
    """EPE-NAS per-class Jacobian-correlation score; higher is better."""

    higher_is_better = True

    def compute(self, item: ProxyInput) -> float:
        jac = jacobian_pass(item)
        return epe_nas_score(jac.jacobians, item.targets.numpy(), jac.n_classes)
