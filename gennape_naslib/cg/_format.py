"""Validation helpers shared by the graph readers: field checks with messages that say where.

Every reader reports a problem as ``"<source>: <field>: <what was wrong>"``, where ``source`` is a
file name (or a description such as ``"cache.pkl: record 3: compute graph"``) and ``field`` a path
into the document (``nodes[3].resolution``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gennape_naslib.cg.graph import GraphError, Node

__all__ = ["CGFormatError", "check_int", "check_ints", "jsonable", "node_from_fields", "short"]


class CGFormatError(ValueError):
    """A stored graph (JSON, NPZ, GENNAPE state dict or cache) has the wrong format, version or content."""


def short(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_int(value: Any, source: str, field: str, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int, or raise :class:`CGFormatError` naming ``source`` and ``field``."""
    if not _is_int(value):
        raise CGFormatError(f"{source}: {field}: expected an integer, got {short(value)}")
    result = int(value)
    if (low is not None and result < low) or (high is not None and result > high):
        bounds = f"{'' if low is None else low}..{'' if high is None else high}"
        raise CGFormatError(f"{source}: {field}: expected an integer in {bounds}, got {result}")
    return result


def check_ints(value: Any, count: int, source: str, field: str, optional: bool = False) -> tuple[int, ...] | None:
    """Return ``value`` as a tuple of ``count`` ints (``None`` allowed when ``optional``).

    Raises:
        CGFormatError: ``"<source>: <field>: expected 6 integers, got [1, 2]"`` and the like.
    """
    if value is None and optional:
        return None
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or len(value) != count or not all(_is_int(v) for v in value):
        what = f"{count} integers" + (" or null" if optional else "")
        raise CGFormatError(f"{source}: {field}: expected {what}, got {short(value)}")
    return tuple(int(v) for v in value)


def jsonable(value: Any, where: str) -> Any:
    """A JSON-compatible copy of ``value``: tuples become lists, numpy scalars and arrays plain values.

    Raises:
        ValueError: If ``value`` holds something JSON cannot represent; the message names ``where``.
    """
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where}: key {key!r} is not a string; JSON needs string keys")
            out[key] = jsonable(item, f"{where}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [jsonable(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist(), where)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    raise ValueError(f"{where}: value {short(value)} of type {type(value).__name__} is not JSON-compatible")


def node_from_fields(
    op: str,
    *,
    resolution: Any,
    shape: Any,
    use_bias: bool,
    strides: Any,
    label: Any,
    metadata: Any,
    source: str,
    where: str,
) -> Node:
    """Check the raw fields of one node and build it.

    Raises:
        CGFormatError: Naming ``source`` and ``where`` plus the field, if a field is malformed.
    """
    res = check_ints(resolution, 6, source, f"{where}.resolution")
    shp = check_ints(shape, 4, source, f"{where}.shape", optional=True)
    strd = check_ints(strides, 2, source, f"{where}.strides", optional=True)
    if not isinstance(label, str):
        raise CGFormatError(f"{source}: {where}.label: expected a string, got {short(label)}")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise CGFormatError(f"{source}: {where}.metadata: expected an object or null, got {short(metadata)}")
    try:
        return Node(op, res, shp, use_bias, strd, label, metadata)  # type: ignore[arg-type]
    except GraphError as exc:
        raise CGFormatError(f"{source}: {where}: {exc}") from None
