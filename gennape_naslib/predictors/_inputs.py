"""Input coercion and validation shared by every predictor.

Predictors accept architectures in several forms: a family's ``Arch`` objects, their JSON encodings or
text (with ``family=`` given), NASLib graph objects (read through their public methods, duck-typed) and
:class:`~gennape_naslib.cg.graph.ComputeGraph` objects. These helpers turn any of them into what a
predictor needs and reject malformed inputs with messages that say what was wrong and where.
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from gennape_naslib.cg.graph import ComputeGraph
    from gennape_naslib.search_spaces.base import FamilyAdapter

__all__ = [
    "LabelScaleWarning",
    "NotFittedError",
    "as_archs_and_family",
    "as_graphs",
    "check_x",
    "check_xy",
    "clear_graph_cache",
    "naslib_family_name",
    "resolve_family",
    "warn_label_scale",
]

#: NASLib's search-space names (``ss_type``) and the families that read their graph objects.
NASLIB_SS_TYPES: dict[str, str] = {"nasbench201": "nb201", "nasbench101": "nb101", "nasbench301": "nb301"}

#: Duck-typed NASLib graph methods, checked in this order, and the family each one implies.
_NASLIB_READERS: tuple[tuple[str, str], ...] = (
    ("get_op_indices", "nb201"),
    ("get_spec", "nb101"),
    ("get_compact", "nb301"),
)

_GRAPH_CACHE: OrderedDict[tuple[str, Any], ComputeGraph] = OrderedDict()
_GRAPH_CACHE_MAX = 65536
_GRAPH_CACHE_LOCK = threading.Lock()


class NotFittedError(ValueError, AttributeError):
    """A predictor that needs fitting was used before :meth:`fit` was called."""


class LabelScaleWarning(UserWarning):
    """Labels given to a fitted predictor (e.g. fine-tuning shots) are about 100x off its training labels' scale."""


#: Labels above this are taken as percent, labels within ``[0, FRACTION_MAX]`` as fractions (also the rule by
#: which ``gennape_naslib.evaluation.protocols`` reads a model's training-label mean ``y_mean_``).
FRACTION_MAX = 1.5


def resolve_family(family: Any) -> FamilyAdapter:
    """The family adapter for a name (``"nb201"``), a NASLib ss_type (``"nasbench201"``) or an adapter."""
    from gennape_naslib.search_spaces import FamilyAdapter, get

    if isinstance(family, FamilyAdapter):
        return family
    if not isinstance(family, str):
        raise TypeError(f"family must be a family name or a FamilyAdapter, got {type(family).__name__}")
    return get(NASLIB_SS_TYPES.get(family, family))


def naslib_family_name(item: Any) -> str | None:
    """The family whose NASLib graph objects have the methods ``item`` has, or ``None``."""
    for method, family in _NASLIB_READERS:
        if callable(getattr(item, method, None)):
            return family
    return None


def _is_graph(item: Any) -> bool:
    from gennape_naslib.cg.graph import ComputeGraph

    return isinstance(item, ComputeGraph)


def _as_list(X: Any, what: str = "X") -> list[Any]:
    single = isinstance(X, (str, bytes, dict)) or _is_graph(X) or not hasattr(X, "__iter__")
    if single or _family_of_item(X) is not None or naslib_family_name(X) is not None:
        raise TypeError(
            f"{what} must be a sequence of architectures (a list), got a single {type(X).__name__}; "
            "wrap one architecture in a list"
        )
    return list(X)


def _family_of_item(item: Any) -> FamilyAdapter | None:
    from gennape_naslib.search_spaces import family_of

    try:
        return family_of(item)
    except TypeError:
        return None


def as_archs_and_family(X: Any, family: Any = None) -> tuple[list[Any], FamilyAdapter]:
    """Turn a sequence of architectures in any accepted form into family ``Arch`` objects.

    Args:
        X: Sequence whose items are family ``Arch`` objects, NASLib graph objects (``get_op_indices``
            -> nb201, ``get_spec`` -> nb101, ``get_compact`` -> nb301) or, when ``family`` is given,
            JSON encodings or text forms of the family's architectures. All items must belong to one
            family.
        family: Family name, NASLib ss_type (``"nasbench201"``) or adapter; required for JSON/text
            items, checked against the items otherwise.

    Returns:
        ``(archs, adapter)``: validated ``Arch`` objects in input order and the family's adapter.

    Raises:
        ValueError: If ``X`` is empty and no family is given, if items come from different families
            or do not match ``family``, or if a JSON/text item is given without ``family``; the
            message names the index of the offending item.
        TypeError: If ``X`` is not a sequence or holds a ``ComputeGraph`` (use :func:`as_graphs`).
    """
    items = _as_list(X)
    adapter = resolve_family(family) if family is not None else None
    if not items:
        if adapter is None:
            raise ValueError("X is empty: expected at least one architecture")
        return [], adapter
    archs: list[Any] = []
    for i, item in enumerate(items):
        if _is_graph(item):
            raise TypeError(
                f"X[{i}] is a ComputeGraph; this needs family architectures (a graph has no FLOPs-free "
                "family encoding): pass Arch objects, or use as_graphs() where graphs are accepted"
            )
        item_family = _family_of_item(item)
        if item_family is None:
            naslib_name = naslib_family_name(item)
            if naslib_name is not None:
                item_family = resolve_family(naslib_name)
                if adapter is not None and adapter.name != item_family.name:
                    raise ValueError(
                        f"X[{i}] is a NASLib graph of {item_family.name} ({type(item).__name__}), "
                        f"but the family is {adapter.name!r}"
                    )
                adapter = adapter or item_family
                archs.append(item_family.from_naslib(item))
                continue
            if adapter is None:
                raise ValueError(
                    f"X[{i}] is a {type(item).__name__}, not an architecture object; pass family= to "
                    "read JSON encodings or text forms"
                )
            archs.append(adapter.coerce(item))
            continue
        if adapter is None:
            adapter = item_family
        elif item_family.name != adapter.name:
            raise ValueError(
                f"X[{i}] is an architecture of family {item_family.name!r}, expected {adapter.name!r} "
                "(all items must come from one family)"
            )
        archs.append(item)
    assert adapter is not None
    return archs, adapter


def _cached_graph(adapter: FamilyAdapter, arch: Any) -> ComputeGraph:
    # Keyed by the exact (hashable, immutable) Arch value rather than a canonical hash, so the graph
    # returned never depends on which of two isomorphic encodings happened to be seen first.
    try:
        key = (adapter.name, arch)
        hash(key)
    except TypeError:
        return adapter.to_cg(arch)
    with _GRAPH_CACHE_LOCK:
        cg = _GRAPH_CACHE.get(key)
        if cg is not None:
            _GRAPH_CACHE.move_to_end(key)
            return cg
    cg = adapter.to_cg(arch)
    with _GRAPH_CACHE_LOCK:
        _GRAPH_CACHE[key] = cg
        while len(_GRAPH_CACHE) > _GRAPH_CACHE_MAX:
            _GRAPH_CACHE.popitem(last=False)
    return cg


def clear_graph_cache() -> None:
    """Drop every computation graph cached by :func:`as_graphs`."""
    with _GRAPH_CACHE_LOCK:
        _GRAPH_CACHE.clear()


def as_graphs(X: Any, family: Any = None) -> list[ComputeGraph]:
    """Turn a sequence of architectures in any accepted form into computation graphs.

    ``ComputeGraph`` items are returned as they are; every other item goes through
    :func:`as_archs_and_family` and the family's ``to_cg`` (graphs are cached per architecture, up
    to 65,536 of them; see :func:`clear_graph_cache`).

    Args:
        X: Sequence of ``ComputeGraph`` objects and/or architectures (see :func:`as_archs_and_family`).
        family: As in :func:`as_archs_and_family`, for the non-graph items.

    Returns:
        One graph per item, in input order.

    Raises:
        ValueError, TypeError: As :func:`as_archs_and_family`; an empty ``X`` gives an empty list.
    """
    items = _as_list(X)
    graphs: list[Any] = [item if _is_graph(item) else None for item in items]
    rest = [i for i, g in enumerate(graphs) if g is None]
    if rest:
        archs, adapter = as_archs_and_family([items[i] for i in rest], family)
        for i, arch in zip(rest, archs):
            graphs[i] = _cached_graph(adapter, arch)
    return graphs


def check_x(X: Any, what: str = "X") -> list[Any]:
    """Check that ``X`` is a non-empty sequence of architectures and return it as a list.

    Raises:
        ValueError: If ``X`` is empty.
        TypeError: If ``X`` is a single architecture or not a sequence.
    """
    items = _as_list(X, what)
    if not items:
        raise ValueError(f"{what} is empty: expected at least one architecture")
    return items


def check_xy(X: Any, y: Any, min_samples: int = 1) -> tuple[list[Any], np.ndarray]:
    """Validate training inputs.

    Args:
        X: Sequence of architectures (any accepted form).
        y: Sequence of finite floats, one per architecture (accuracy in percent or as a fraction).
        min_samples: Fewest samples the caller can fit on.

    Returns:
        ``(X as a list, y as a float64 array of shape (n,))``.

    Raises:
        ValueError: If ``X`` is empty or has fewer than ``min_samples`` items, if ``len(X) !=
            len(y)``, or if ``y`` is not one-dimensional, not numeric or holds NaN or infinity (the
            message names the first bad index).
        TypeError: If ``X`` is not a sequence.
    """
    items = check_x(X)
    try:
        values = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"y must be a sequence of numbers, got {type(y).__name__}") from None
    if values.ndim != 1:
        raise ValueError(f"y must be one-dimensional (one value per architecture), got shape {values.shape}")
    if len(items) != len(values):
        raise ValueError(f"X and y have different lengths: {len(items)} architectures but {len(values)} targets")
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        first = int(bad[0])
        raise ValueError(f"y holds a non-finite value at index {first}: {float(values[first])!r} (NaN/inf not allowed)")
    if len(items) < min_samples:
        raise ValueError(f"need at least {min_samples} training samples, got {len(items)}")
    return items, values


def warn_label_scale(
    y: np.ndarray, train_mean: float, train_range: tuple[float, float] | None, where: str, stacklevel: int = 3
) -> None:
    """Warn with :class:`LabelScaleWarning` when labels ``y`` look like fractions and the model's training labels
    like percent, or the reverse (e.g. fine-tuning the shipped, percent-trained GENNAPE model on fractions).

    The model's labels are percent when their mean ``train_mean`` is above 1.5 (as
    :mod:`gennape_naslib.evaluation.protocols` reads ``y_mean_``), fractions when they all lie in ``[0, 1.5]``
    (``train_range``, their ``(min, max)``, when known; else their mean). ``y`` is fractions when every value is in
    ``[0, 1.5]``, percent when its median is above 1.5. Nothing is changed: the warning only tells the caller to pass
    labels on the model's scale.

    Args:
        y: The new labels (finite floats).
        train_mean: Mean of the model's training labels.
        train_range: ``(min, max)`` of the model's training labels, or ``None`` when unknown.
        where: What received the labels, for the message (e.g. ``"GENNAPEPredictor.finetune"``).
        stacklevel: Passed to :func:`warnings.warn` (3: the caller of the function that calls this one).
    """
    y = np.asarray(y, dtype=np.float64)
    if y.size == 0 or not np.isfinite(train_mean):
        return
    lo, hi = (train_mean, train_mean) if train_range is None else train_range
    model_percent = train_mean > FRACTION_MAX
    model_fraction = 0.0 <= lo and hi <= FRACTION_MAX
    y_fraction = bool(np.all((y >= 0.0) & (y <= FRACTION_MAX)))
    y_percent = float(np.median(y)) > FRACTION_MAX
    if model_percent and y_fraction:
        seen, expected, fix = "fractions (all within [0, 1.5])", "percent", "multiply them by 100"
    elif model_fraction and y_percent:
        seen, expected, fix = "percent (median above 1.5)", "fractions", "divide them by 100"
    else:
        return
    warnings.warn(
        f"{where}: the labels look like {seen}, but the model was trained on {expected} (training labels' mean "
        f"{train_mean:.4g}); pass labels on the model's scale ({fix}; the shipped GENNAPE model is trained on "
        "percent accuracies) and read its predictions on that scale. Labels ~100x off its training scale give "
        "meaningless predictions.",
        LabelScaleWarning,
        stacklevel=stacklevel,
    )
