"""Safe parsing of DARTS genotype text (``Genotype(normal=[...], ...)``) without ``eval``.

Private helper of :mod:`gennape_naslib.search_spaces.nb301`. Only literals and ``range(...)`` with
small integer arguments are accepted; anything else raises
:class:`~gennape_naslib.search_spaces.base.ArchValidationError`.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Any

from gennape_naslib.search_spaces.base import ArchValidationError

__all__ = ["pairs_repr", "parse_genotype_text"]


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _literal(node: ast.expr, field: str, text: str) -> Any:
    """A Python literal, or ``range(a[, b[, s]])`` with small integer literals, from an AST node."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
        try:
            args = [ast.literal_eval(a) for a in node.args]
        except (ValueError, TypeError, SyntaxError, RecursionError):
            args = []
        if node.keywords or not 1 <= len(args) <= 3 or not all(type(a) is int and abs(a) <= 64 for a in args):
            raise ArchValidationError("nb301", field, _short(text), "range(...) needs 1 to 3 small integer literals")
        return list(range(*args))
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
        raise ArchValidationError("nb301", field, _short(text), f"not a Python literal ({exc})") from None


def parse_genotype_text(text: str) -> Any:
    """The JSON-like object encoded by a Genotype(...) string or a Python/JSON literal."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        raise ArchValidationError("nb301", "text", _short(text), f"cannot be parsed ({exc})") from None
    body = tree.body
    if not isinstance(body, ast.Call):
        return _literal(body, "text", text)
    func = body.func
    fname = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    if fname != "Genotype":
        raise ArchValidationError(
            "nb301", "text", _short(text), "expected Genotype(normal=..., reduce=...) or a literal"
        )
    fields = ("normal", "normal_concat", "reduce", "reduce_concat")
    if len(body.args) > len(fields):
        raise ArchValidationError("nb301", "text", _short(text), "Genotype(...) takes at most 4 positional fields")
    out: dict[str, Any] = {}
    for key, arg in zip(fields, body.args):
        out[key] = _literal(arg, key, text)
    for kw in body.keywords:
        if kw.arg not in fields or kw.arg in out:
            raise ArchValidationError(
                "nb301", "text", _short(text), f"unexpected or repeated Genotype field {kw.arg!r}"
            )
        out[kw.arg] = _literal(kw.value, kw.arg, text)
    return out


def pairs_repr(pairs: Sequence[tuple[str, int]]) -> str:
    """``[('op', input), ...]`` exactly as Python prints a DARTS genotype's list of tuples."""
    return "[" + ", ".join(f"({op!r}, {i})" for op, i in pairs) + "]"
