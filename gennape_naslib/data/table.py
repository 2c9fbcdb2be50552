"""The one table interface for labelled architectures: :class:`BenchmarkTable`."""

from __future__ import annotations

import gzip
import json
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gennape_naslib._atomic import atomic_write

__all__ = ["BenchmarkTable", "DataFormatError", "DataNotFoundError", "TABLE_FORMAT", "TABLE_VERSION"]

TABLE_FORMAT = "gennape-naslib.table"
_HEX64 = re.compile(r"[0-9a-f]{64}")
TABLE_VERSION = 1


class DataFormatError(ValueError):
    """A data file is malformed; the message names the file and the line or field."""


class DataNotFoundError(FileNotFoundError):
    """A data file or table does not exist where it was looked for."""


class BenchmarkTable:
    """Architectures of one family with named metric columns.

    Architectures are kept as their family's JSON encoding and turned into ``Arch`` objects on first
    access to :attr:`archs` (so loading is fast and light). Metric columns are float numpy arrays
    with ``NaN`` for missing values.

    Args:
        family: Family name (``"nb201"``, ...).
        encodings: One JSON-compatible encoding per row (the family's ``to_json`` form).
        metrics: Column name -> values (one per row).
        name: Table name.
        meta: Descriptive metadata: ``source``, ``licence``, ``labels`` (column -> meaning), ``units``.
    """

    def __init__(
        self,
        family: str,
        encodings: Sequence[Any],
        metrics: Mapping[str, Iterable[float]],
        name: str = "",
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        self.family = family
        self.name = name or family
        self.encodings: list[Any] = list(encodings)
        self.meta: dict[str, Any] = dict(meta or {})
        self._metrics: dict[str, np.ndarray] = {}
        for key, values in metrics.items():
            # np.array turns None into NaN for a float dtype.
            column = np.array(values if isinstance(values, np.ndarray) else list(values), dtype=np.float64)
            if column.shape != (len(self.encodings),):
                raise DataFormatError(
                    f"table {self.name!r}: column {key!r} has {column.shape[0]} values for {len(self.encodings)} rows"
                )
            self._metrics[key] = column
        self._archs: list[Any] | None = None
        self._hash_index: dict[str, int] | None = None

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return len(self.encodings)

    def __repr__(self) -> str:
        return (
            f"BenchmarkTable(name={self.name!r}, family={self.family!r}, rows={len(self)}, metrics={self.metric_names})"
        )

    @property
    def metric_names(self) -> list[str]:
        """Names of the metric columns."""
        return list(self._metrics)

    @property
    def metrics(self) -> dict[str, np.ndarray]:
        """All metric columns (read-only views)."""
        out = {}
        for key, column in self._metrics.items():
            view = column.view()
            view.flags.writeable = False
            out[key] = view
        return out

    def metric(self, name: str) -> np.ndarray:
        """One metric column.

        Raises:
            KeyError: If the column does not exist; the message lists the columns.
        """
        try:
            view = self._metrics[name].view()
        except KeyError:
            raise KeyError(f"table {self.name!r} has no metric {name!r}; columns: {', '.join(self._metrics)}") from None
        view.flags.writeable = False
        return view

    def __getitem__(self, key: str) -> np.ndarray:
        return self.metric(key)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.archs)

    @property
    def adapter(self) -> Any:
        """The family adapter of this table."""
        from gennape_naslib.search_spaces import get

        return get(self.family)

    @property
    def archs(self) -> list[Any]:
        """The architectures as the family's ``Arch`` objects (parsed on first access)."""
        if self._archs is None:
            adapter = self.adapter
            archs = []
            for i, enc in enumerate(self.encodings):
                try:
                    archs.append(adapter.from_json(enc))
                except ValueError as exc:
                    raise DataFormatError(f"table {self.name!r}: row {i}: {exc}") from exc
            self._archs = archs
        return self._archs

    # ------------------------------------------------------------------ selection
    def subset(self, rows: Sequence[int] | np.ndarray) -> BenchmarkTable:
        """A new table with the given row indices (or boolean mask), in that order."""
        index = np.asarray(rows)
        if index.dtype == bool:
            if index.shape != (len(self),):
                raise ValueError(f"boolean mask has shape {index.shape}, expected ({len(self)},)")
            index = np.flatnonzero(index)
        index = index.astype(np.int64)
        if index.size and (index.min() < -len(self) or index.max() >= len(self)):
            raise IndexError(f"row index out of range for a table of {len(self)} rows")
        table = BenchmarkTable(
            self.family,
            [self.encodings[i] for i in index],
            {k: v[index] for k, v in self._metrics.items()},
            name=self.name,
            meta=self.meta,
        )
        if self._archs is not None:
            table._archs = [self._archs[i] for i in index]
        return table

    def split(self, rng: np.random.Generator | int | None, sizes: Sequence[int | float]) -> list[BenchmarkTable]:
        """Shuffle the rows with ``rng`` and cut them into consecutive parts.

        Args:
            rng: Generator or seed.
            sizes: Part sizes as row counts or fractions of the table; a final part holding the
                remaining rows is added when the sizes do not cover the table.

        Raises:
            ValueError: If the sizes ask for more rows than the table has.
        """
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        counts = [int(round(s * len(self))) if isinstance(s, float) and s <= 1.0 else int(s) for s in sizes]
        if any(c < 0 for c in counts) or sum(counts) > len(self):
            raise ValueError(f"split sizes {list(sizes)} ask for {sum(counts)} rows of a table of {len(self)}")
        order = gen.permutation(len(self))
        parts, start = [], 0
        for c in counts:
            parts.append(self.subset(order[start : start + c]))
            start += c
        if start < len(self):
            parts.append(self.subset(order[start:]))
        return parts

    def dropna(self, metric: str) -> BenchmarkTable:
        """Rows whose ``metric`` is not NaN."""
        return self.subset(~np.isnan(self.metric(metric)))

    # ------------------------------------------------------------------ lookup
    def _index(self) -> tuple[dict[str, int], dict[str, int]]:
        if self._hash_index is None:
            adapter = self.adapter
            self._hash_index = {}
            self._exact_index: dict[str, int] = {}
            for i, arch in enumerate(self.archs):
                self._hash_index.setdefault(adapter.canonical_hash(arch), i)
                self._exact_index.setdefault(json.dumps(self.encodings[i], sort_keys=True), i)
        return self._exact_index, self._hash_index

    def index_of(self, arch_or_hash: Any) -> int:
        """Row of an architecture (``Arch``, its encoding, or its canonical hash).

        An architecture whose encoding is in the table gives that row; otherwise the first row with
        the same canonical hash (an equivalent architecture, e.g. an isomorphic cell) is returned.

        Raises:
            KeyError: If the table has no such or equivalent architecture.
        """
        exact, by_hash = self._index()
        if (
            isinstance(arch_or_hash, str)
            and len(arch_or_hash) == 64
            and all(c in "0123456789abcdef" for c in arch_or_hash)
        ):
            key = arch_or_hash
        else:
            arch = self.adapter.coerce(arch_or_hash)
            row = exact.get(json.dumps(self.adapter.to_json(arch), sort_keys=True))
            if row is not None:
                return row
            key = self.adapter.canonical_hash(arch)
        try:
            return by_hash[key]
        except KeyError:
            raise KeyError(f"table {self.name!r} has no architecture with canonical hash {key[:12]}...") from None

    def lookup(self, arch_or_hash: Any) -> dict[str, float]:
        """All metric values of one architecture (see :meth:`index_of`)."""
        i = self.index_of(arch_or_hash)
        return {k: float(v[i]) for k, v in self._metrics.items()}

    def __contains__(self, arch_or_hash: Any) -> bool:
        try:
            self.index_of(arch_or_hash)
        except (KeyError, ValueError):
            return False
        return True

    # ------------------------------------------------------------------ export
    def to_pandas(self) -> Any:
        """A ``pandas.DataFrame`` with an ``arch`` column (the text form) and one column per metric."""
        from gennape_naslib._optional import require

        pd = require("pandas", "pandas", "BenchmarkTable.to_pandas()")
        adapter = self.adapter
        data: dict[str, Any] = {"arch": [adapter.to_str(a) for a in self.archs]}
        data.update(self._metrics)
        return pd.DataFrame(data)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-compatible document written by :meth:`save` (NaN becomes ``null``)."""
        return {
            "format": TABLE_FORMAT,
            "version": TABLE_VERSION,
            "name": self.name,
            "family": self.family,
            "meta": self.meta,
            "archs": self.encodings,
            "metrics": {k: [None if math.isnan(x) else float(x) for x in v] for k, v in self._metrics.items()},
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the table as deterministic gzip-compressed JSON (same input -> same bytes), atomically."""
        path = Path(path)
        payload = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()
        with atomic_write(path, "wb") as handle:
            with gzip.GzipFile(filename="", mode="wb", fileobj=handle, compresslevel=9, mtime=0) as gz:
                gz.write(payload)
        return path

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], source: str = "<dict>") -> BenchmarkTable:
        """Inverse of :meth:`to_dict`; raises :class:`DataFormatError` naming ``source`` and the field."""
        if not isinstance(doc, Mapping):
            raise DataFormatError(f"{source}: expected a JSON object, got {type(doc).__name__}")
        if doc.get("format") != TABLE_FORMAT:
            raise DataFormatError(f"{source}: format: expected {TABLE_FORMAT!r}, got {doc.get('format')!r}")
        if doc.get("version") != TABLE_VERSION:
            raise DataFormatError(
                f"{source}: version: this gennape-naslib reads version {TABLE_VERSION}, "
                f"the file has {doc.get('version')!r}"
            )
        for key, kind in (("family", str), ("archs", list), ("metrics", dict)):
            if not isinstance(doc.get(key), kind):
                raise DataFormatError(f"{source}: {key}: expected {kind.__name__}, got {type(doc.get(key)).__name__}")
        try:
            return cls(doc["family"], doc["archs"], doc["metrics"], name=doc.get("name", ""), meta=doc.get("meta"))
        except (TypeError, ValueError) as exc:
            raise DataFormatError(f"{source}: metrics: {exc}") from exc

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> BenchmarkTable:
        """Read a table written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise DataNotFoundError(f"table file {path} does not exist")
        try:
            with gzip.open(path, "rb") as handle:
                doc = json.loads(handle.read())
        except (OSError, EOFError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataFormatError(f"{path}: not a gzip-compressed JSON table ({exc})") from exc
        return cls.from_dict(doc, source=str(path))
