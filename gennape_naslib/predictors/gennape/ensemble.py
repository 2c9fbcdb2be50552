"""Label-free member weights for zero-shot ensembles (an option; the paper uses equal weights).

GENNAPE's zero-shot ensemble averages its members with equal weights (PAPER_FACTS 1.8). When some
members do not transfer to a family (e.g. a member whose scores are unrelated to the others'),
equal weights let them pull the average down. :func:`agreement_weights` estimates, without any
label, how much each member tracks the signal the members share, following the spectral
meta-learner of Parisi et al. (PNAS 2014, "Ranking and combining multiple predictors without
labeled data"): if member ``m`` scores ``s_m = a_m t + e_m`` with a common latent quality ``t`` and
independent errors, the off-diagonal of the members' correlation matrix is the rank-one matrix
``a a^T``. The loadings ``a`` are found by principal-axis factoring (the diagonal replaced by the
current communalities ``a_m^2``, a few fixed-point iterations), oriented so that the regressors of
accuracy load positively, and the weights are the non-negative loadings normalised to sum 1.

Computed on the unlabelled reference sample of the family being predicted (the same sample that
standardises the members' scores), so predictions stay pointwise. Caveat: members sharing one
encoder have correlated errors, which the model assumes away.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

__all__ = ["agreement_weights"]


def agreement_weights(scores: np.ndarray, anchor: int = 0, n_iter: int = 50) -> np.ndarray:
    """One-factor (spectral meta-learner) weights of ``M`` members from unlabelled scores.

    Args:
        scores: ``(M, n)`` member scores on the same ``n`` architectures (any monotone scale).
        anchor: Index of a member known to score "higher is better"; the loadings are oriented so
            that it loads non-negatively.
        n_iter: Principal-axis iterations.

    Returns:
        float64 ``(M,)`` non-negative weights summing to 1 (equal weights when no member carries a
        shared signal, e.g. fewer than 3 members or constant scores).

    Raises:
        ValueError: If ``scores`` is not 2-D or ``anchor`` is out of range.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2:
        raise ValueError(f"scores must be (members, architectures), got shape {s.shape}")
    m, n = s.shape
    if not 0 <= anchor < m:
        raise ValueError(f"anchor {anchor} is not a member index (0..{m - 1})")
    equal = np.full(m, 1.0 / m)
    if m < 3 or n < 3:
        return equal
    ranks = np.stack([rankdata(row) for row in s])
    ranks -= ranks.mean(1, keepdims=True)
    norms = np.linalg.norm(ranks, axis=1)
    live = norms > 1e-12
    if live.sum() < 3:
        return equal
    r = np.zeros((m, m))
    z = ranks[live] / norms[live, None]
    r[np.ix_(live, live)] = z @ z.T  # Spearman correlations of the non-constant members
    a = np.zeros(m)
    comm = np.zeros(m)
    for _ in range(int(n_iter)):
        red = r.copy()
        np.fill_diagonal(red, comm)
        vals, vecs = np.linalg.eigh(red)
        a = vecs[:, -1] * np.sqrt(max(vals[-1], 0.0))
        new = np.minimum(a**2, 1.0) * live
        if np.allclose(new, comm, atol=1e-10):
            break
        comm = new
    if a[anchor] < 0:
        a = -a
    w = np.clip(a, 0.0, None)
    return w / w.sum() if w.sum() > 1e-12 else equal
