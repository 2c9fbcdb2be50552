"""A small random-forest regressor in numpy (bagged CART trees with random feature subsets).

Kept deliberately short: it serves the ``cg_trees`` baseline, whose inputs are a few dozen graph
statistics and at most a few thousand samples. Trees are stored as flat arrays so that a fitted
forest is plain data (saved in predictor files without pickles).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["TREE_FIELDS", "fit_tree", "predict_tree"]

_LEAF = -1
#: The flat arrays of a tree from :func:`fit_tree`.
TREE_FIELDS = ("feature", "threshold", "left", "right", "value")


def _best_split(x: np.ndarray, y: np.ndarray, min_leaf: int) -> tuple[int, float, float]:
    """Best (column, threshold, score) over the columns of ``x`` (n, k); column -1 if none is valid.

    The score is the reduction of the sum of squared errors, computed for every split position of
    every column at once from cumulative sums of the sorted targets.
    """
    n = x.shape[0]
    order = np.argsort(x, axis=0, kind="stable")
    xs = np.take_along_axis(x, order, axis=0)
    ys = y[order]
    csum = np.cumsum(ys, axis=0)
    total = csum[-1]
    left_n = np.arange(1, n, dtype=np.float64)[:, None]
    left_sum = csum[:-1]
    # SSE(parent) - SSE(children) = sL^2/nL + sR^2/nR - s^2/n.
    gain = left_sum**2 / left_n + (total - left_sum) ** 2 / (n - left_n) - total**2 / n
    # Round so that equal partitions found through different columns tie exactly (the first column
    # wins) whatever the rounding of the sums; callers pass standardised targets.
    gain = np.round(gain, 9)
    valid = xs[1:] > xs[:-1]
    positions = np.arange(1, n)[:, None]
    valid &= (positions >= min_leaf) & (n - positions >= min_leaf)
    gain = np.where(valid, gain, -np.inf)
    flat = int(np.argmax(gain))
    row, col = divmod(flat, gain.shape[1])
    best = float(gain[row, col])
    if not np.isfinite(best) or best <= 1e-12 * max(1.0, float(np.sum(y**2))):
        return -1, 0.0, 0.0
    threshold = 0.5 * (float(xs[row, col]) + float(xs[row + 1, col]))
    if not threshold < xs[row + 1, col]:  # midpoint rounded onto the upper value
        threshold = float(xs[row, col])
    return col, threshold, best


def fit_tree(
    X: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    max_depth: int,
    min_samples_leaf: int,
    n_split_features: int,
) -> dict[str, np.ndarray]:
    """Grow one regression tree (CART, squared error) on ``(X, y)``.

    Args:
        X: ``(n, d)`` float features.
        y: ``(n,)`` targets.
        rng: Source of the random feature subsets.
        max_depth: Deepest level a node may have (the root is level 0).
        min_samples_leaf: Fewest samples in a leaf.
        n_split_features: Features drawn (without replacement) at each node.

    Returns:
        Flat arrays ``feature`` (-1 at leaves), ``threshold``, ``left``, ``right``, ``value``.
    """
    feature: list[int] = []
    threshold: list[float] = []
    left: list[int] = []
    right: list[int] = []
    value: list[float] = []
    d = X.shape[1]
    stack: list[tuple[int, np.ndarray, int]] = []

    def new_node(idx: np.ndarray) -> int:
        feature.append(_LEAF)
        threshold.append(0.0)
        left.append(_LEAF)
        right.append(_LEAF)
        value.append(float(np.mean(y[idx])))
        return len(feature) - 1

    stack.append((new_node(np.arange(len(y))), np.arange(len(y)), 0))
    while stack:
        node, idx, depth = stack.pop()
        if depth >= max_depth or len(idx) < 2 * min_samples_leaf or np.ptp(y[idx]) == 0.0:
            continue
        cols = np.sort(rng.choice(d, size=min(n_split_features, d), replace=False))
        col, thr, _ = _best_split(X[np.ix_(idx, cols)], y[idx], min_samples_leaf)
        if col < 0:
            continue
        f = int(cols[col])
        go_left = X[idx, f] <= thr
        li, ri = idx[go_left], idx[~go_left]
        feature[node], threshold[node] = f, thr
        left[node] = new_node(li)
        right[node] = new_node(ri)
        stack.append((right[node], ri, depth + 1))
        stack.append((left[node], li, depth + 1))
    return {
        "feature": np.asarray(feature, dtype=np.int64),
        "threshold": np.asarray(threshold, dtype=np.float64),
        "left": np.asarray(left, dtype=np.int64),
        "right": np.asarray(right, dtype=np.int64),
        "value": np.asarray(value, dtype=np.float64),
    }


def predict_tree(tree: dict[str, Any], X: np.ndarray) -> np.ndarray:
    """Predictions of one tree from :func:`fit_tree` for the rows of ``X``."""
    feature, threshold = tree["feature"], tree["threshold"]
    left, right = tree["left"], tree["right"]
    node = np.zeros(X.shape[0], dtype=np.int64)
    rows = np.arange(X.shape[0])
    active = feature[node] != _LEAF
    while np.any(active):
        r, n = rows[active], node[active]
        goes_left = X[r, feature[n]] <= threshold[n]
        node[r] = np.where(goes_left, left[n], right[n])
        active = feature[node] != _LEAF
    return tree["value"][node]
