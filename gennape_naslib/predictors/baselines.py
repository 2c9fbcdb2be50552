"""Simple baseline predictors: FLOPs, parameter count, and a random forest on graph statistics.

- ``flops`` and ``params`` rank architectures by their size; they need no training (``fit`` only
  validates its inputs). Architectures use their family's exact counts; ``ComputeGraph`` inputs are
  counted on the graph (:mod:`gennape_naslib.cg.counting`).
- ``cg_trees`` is a random forest on :func:`cg_statistics` (op histogram, weighted-layer shape
  statistics, depth), which works on any family; its trees' spread is the uncertainty.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gennape_naslib.cg.counting import count_flops, count_weight_params
from gennape_naslib.cg.graph import ComputeGraph
from gennape_naslib.cg.vocab import OP_INDEX, OPS
from gennape_naslib.predictors._forest import TREE_FIELDS, fit_tree, predict_tree
from gennape_naslib.predictors.base import (
    Predictor,
    as_archs_and_family,
    as_graphs,
    check_is_fitted,
    check_x,
    check_xy,
    register_predictor,
)

__all__ = ["CG_STATISTICS", "CGTreesPredictor", "FlopsPredictor", "ParamsPredictor", "cg_statistics"]


def _no_std(predictor: Predictor) -> None:
    raise NotImplementedError(
        f"{type(predictor).__name__} gives no uncertainty (supports_std is False); call predict without return_std"
    )


class _SizePredictor(Predictor):
    """Shared code of the FLOPs and parameter-count predictors."""

    needs_fit = False

    def __init__(self) -> None:
        pass

    def _from_family(self, adapter: Any, arch: Any) -> float:
        raise NotImplementedError

    def _from_graph(self, cg: Any) -> float:
        raise NotImplementedError

    def fit(self, X: Any, y: Any, family: Any = None) -> Predictor:
        """Validate ``X`` and ``y`` (nothing is learned) and return ``self``."""
        check_xy(X, y)
        return self

    def predict(self, X: Any, return_std: bool = False, family: Any = None) -> Any:
        """The size of each architecture, as a float64 array (higher = predicted better)."""
        if return_std:
            _no_std(self)
        items = check_x(X)
        out = np.empty(len(items), dtype=np.float64)
        rest = [i for i, item in enumerate(items) if not isinstance(item, ComputeGraph)]
        for i, item in enumerate(items):
            if isinstance(item, ComputeGraph):
                out[i] = self._from_graph(item)
        if rest:
            archs, adapter = as_archs_and_family([items[i] for i in rest], family)
            for i, arch in zip(rest, archs):
                out[i] = self._from_family(adapter, arch)
        return out


@register_predictor("flops")
class FlopsPredictor(_SizePredictor):
    """Predicts FLOPs of one forward pass (``FlopCounterMode`` convention); needs no training."""

    def _from_family(self, adapter: Any, arch: Any) -> float:
        return float(adapter.flops(arch))

    def _from_graph(self, cg: Any) -> float:
        return float(count_flops(cg))


@register_predictor("params")
class ParamsPredictor(_SizePredictor):
    """Predicts the parameter count; needs no training.

    Architectures use their family's count of the real network; a ``ComputeGraph`` counts the
    weights and biases of its weighted nodes (batch-norm parameters are not in the graph).
    """

    def _from_family(self, adapter: Any, arch: Any) -> float:
        return float(adapter.params(arch))

    def _from_graph(self, cg: Any) -> float:
        return float(count_weight_params(cg))


def _statistic_names() -> tuple[str, ...]:
    return (
        *(f"count_{op}" for op in OPS),
        "n_nodes",
        "n_edges",
        "n_weighted",
        "depth",
        "log10_flops",
        "log10_weight_params",
        "kernel_1",
        "kernel_3",
        "kernel_5",
        "kernel_7_or_more",
        "mean_log2_out_channels",
        "max_log2_out_channels",
        "mean_log2_out_height",
        "n_resolutions",
    )


#: Names of the entries of :func:`cg_statistics`, in order.
CG_STATISTICS: tuple[str, ...] = _statistic_names()


def cg_statistics(cg: Any) -> np.ndarray:
    """A fixed-length float64 vector describing a computation graph.

    Entries (names in :data:`CG_STATISTICS`): the count of each of the 32 vocabulary ops; numbers of
    nodes, edges and weighted nodes; depth (nodes on the longest path); log10 of FLOPs and of weight
    parameters (+1); weighted nodes per kernel size (1, 3, 5, 7 or more); mean and max log2 of output
    channels and mean log2 of output height over weighted nodes; number of distinct output heights.
    """
    ops = np.zeros(len(OPS))
    for node in cg.nodes:
        ops[OP_INDEX[node.op]] += 1
    depth = np.ones(cg.n_nodes)
    for s, d in cg.edges:  # edges are sorted by source, and sources precede destinations
        if depth[s] + 1 > depth[d]:
            depth[d] = depth[s] + 1
    weighted = [node for node in cg.nodes if node.shape is not None]
    kernels = np.zeros(4)
    channels, heights = [], []
    for node in weighted:
        k = max(node.shape[2], node.shape[3])
        if k > 0:
            kernels[0 if k <= 1 else 1 if k <= 3 else 2 if k <= 5 else 3] += 1
        channels.append(np.log2(max(node.resolution[5], 1)))
        heights.append(np.log2(max(node.resolution[1], 1)))
    extra = [
        cg.n_nodes,
        cg.n_edges,
        len(weighted),
        float(depth.max()) if cg.n_nodes else 0.0,
        np.log10(count_flops(cg) + 1.0),
        np.log10(count_weight_params(cg) + 1.0),
        *kernels,
        float(np.mean(channels)) if channels else 0.0,
        float(np.max(channels)) if channels else 0.0,
        float(np.mean(heights)) if heights else 0.0,
        len({node.resolution[1] for node in cg.nodes}),
    ]
    return np.concatenate([ops, np.asarray(extra, dtype=np.float64)])


def _features(X: Any, family: Any) -> np.ndarray:
    return np.stack([cg_statistics(cg) for cg in as_graphs(check_x(X), family)])


@register_predictor("cg_trees")
class CGTreesPredictor(Predictor):
    """A random forest on :func:`cg_statistics`; works on graphs of any family.

    Args:
        n_estimators: Number of trees.
        max_depth: Deepest tree level (``None``: 32).
        min_samples_leaf: Fewest training samples in a leaf.
        max_features: Fraction of the statistics drawn at each split (0 < f <= 1).
        bootstrap: Train each tree on a bootstrap sample (else on all samples).
        random_state: Seed of the bootstrap samples and feature draws.
    """

    supports_std = True

    def __init__(
        self,
        n_estimators: int = 100,
        max_depth: int | None = None,
        min_samples_leaf: int = 2,
        max_features: float = 0.5,
        bootstrap: bool = True,
        random_state: int | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.bootstrap = bootstrap
        self.random_state = random_state

    def _check_params(self) -> None:
        if not (isinstance(self.n_estimators, (int, np.integer)) and self.n_estimators >= 1):
            raise ValueError(f"n_estimators must be a positive integer, got {self.n_estimators!r}")
        if self.max_depth is not None and not (isinstance(self.max_depth, (int, np.integer)) and self.max_depth >= 0):
            raise ValueError(f"max_depth must be None or a non-negative integer, got {self.max_depth!r}")
        if not (isinstance(self.min_samples_leaf, (int, np.integer)) and self.min_samples_leaf >= 1):
            raise ValueError(f"min_samples_leaf must be a positive integer, got {self.min_samples_leaf!r}")
        if not 0.0 < float(self.max_features) <= 1.0:
            raise ValueError(f"max_features must be a fraction in (0, 1], got {self.max_features!r}")

    def fit(self, X: Any, y: Any, family: Any = None) -> CGTreesPredictor:
        """Fit the forest on the statistics of ``X``'s graphs and targets ``y``."""
        self._check_params()
        X, target = check_xy(X, y)
        features = _features(X, family)
        rng = np.random.default_rng(self.random_state)
        # Scale the targets so that split tolerances do not depend on percent vs fraction.
        scale = float(np.std(target)) or 1.0
        offset = float(np.mean(target))
        z = (target - offset) / scale
        n, d = features.shape
        n_split = max(1, int(round(float(self.max_features) * d)))
        depth = 32 if self.max_depth is None else int(self.max_depth)
        trees = []
        for _ in range(int(self.n_estimators)):
            rows = rng.integers(0, n, size=n) if self.bootstrap else np.arange(n)
            trees.append(fit_tree(features[rows], z[rows], rng, depth, int(self.min_samples_leaf), n_split))
        self.trees_ = trees
        self.y_offset_ = offset
        self.y_scale_ = scale
        self.n_features_in_ = d
        return self

    def _set_state(self, state: dict[str, Any]) -> None:
        """Restore a saved forest, checking that every entry and tree array is there (a corrupted file).

        Raises:
            KeyError: Naming the first missing entry (``load`` reports it as a ``PredictorFileError``).
        """
        for key in ("trees_", "y_offset_", "y_scale_", "n_features_in_"):
            if key not in state:
                raise KeyError(key)
        for i, tree in enumerate(state["trees_"]):
            missing = [f for f in TREE_FIELDS if f not in tree]
            if missing:
                raise KeyError(f"trees_[{i}][{missing[0]!r}]")
        super()._set_state(state)

    def predict(self, X: Any, return_std: bool = False, family: Any = None) -> Any:
        """Mean of the trees (and, with ``return_std``, their standard deviation)."""
        check_is_fitted(self)
        features = _features(X, family)
        per_tree = np.stack([predict_tree(tree, features) for tree in self.trees_])
        per_tree = per_tree * self.y_scale_ + self.y_offset_
        mean = per_tree.mean(axis=0)
        if return_std:
            return mean, per_tree.std(axis=0)
        return mean
