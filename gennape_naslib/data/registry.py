"""Where tables live: packaged files inside the package and user tables under ``GENNAPE_HOME``."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from gennape_naslib.data.table import BenchmarkTable, DataNotFoundError

__all__ = ["PACKAGED", "PackagedTable", "gennape_home", "import_table", "list_tables", "load", "table_info"]


@dataclass(frozen=True)
class PackagedTable:
    """A table shipped inside the package."""

    name: str
    family: str
    filename: str
    description: str


PACKAGED: dict[str, PackagedTable] = {
    t.name: t
    for t in (
        PackagedTable(
            "nb201",
            "nb201",
            "nb201.json.gz",
            "All 15,625 NAS-Bench-201 cells: test accuracy after 200 epochs on CIFAR-10, CIFAR-100 and "
            "ImageNet16-120 (NATS-Bench API), plus HW-NAS-Bench latencies and energies (CIFAR-10 input).",
        ),
        PackagedTable(
            "nb201_zc",
            "nb201",
            "nb201_zc.json.gz",
            "725 NAS-Bench-201 cells of NAS-Bench-Suite-Zero: validation accuracy per dataset and 12 zero-cost "
            "proxy scores.",
        ),
        PackagedTable(
            "nb101",
            "nb101",
            "nb101.json.gz",
            "NAS-Bench-101 cells of NAS-Bench-Suite-Zero, pruned and de-duplicated (isomorphic rows averaged, "
            "count kept): validation accuracy (108 epochs), FLOPs, params and 9 zero-cost proxies.",
        ),
        PackagedTable(
            "nb301",
            "nb301",
            "nb301.json.gz",
            "725 NAS-Bench-301 (DARTS) genotypes: CIFAR-10 validation accuracy predicted by the official "
            "NAS-Bench-301 surrogate (surrogate labels) and 12 zero-cost proxies.",
        ),
        PackagedTable(
            "ofa_mbv3",
            "ofa_mbv3",
            "ofa_mbv3.json.gz",
            "2,610 Once-for-All MobileNetV3 (w1.0) subnets: ImageNet top-1 accuracy with inherited supernet "
            "weights, input resolution and peak activation memory.",
        ),
    )
}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def gennape_home() -> Path:
    """The user data folder: ``$GENNAPE_HOME`` or ``~/.cache/gennape`` (never created on import)."""
    return Path(os.environ.get("GENNAPE_HOME", "~/.cache/gennape")).expanduser()


def _user_tables_dir() -> Path:
    return gennape_home() / "tables"


def _packaged_path(entry: PackagedTable) -> Path:
    return Path(str(resources.files("gennape_naslib.data") / "files" / entry.filename))


def list_tables() -> list[str]:
    """Names of the packaged tables and of the tables imported into ``GENNAPE_HOME``."""
    names = set(PACKAGED)
    folder = _user_tables_dir()
    if folder.is_dir():
        names |= {p.name[: -len(".json.gz")] for p in folder.glob("*.json.gz")}
    return sorted(names)


def _select_dataset(table: BenchmarkTable, dataset: str) -> BenchmarkTable:
    suffix = "/" + dataset
    datasets = sorted({k.split("/", 1)[1] for k in table.metric_names if "/" in k})
    if dataset not in datasets:
        raise KeyError(f"table {table.name!r} has no dataset {dataset!r}; datasets: {', '.join(datasets)}")
    metrics = {}
    for key, values in table.metrics.items():
        if key.endswith(suffix):
            metrics[key[: -len(suffix)]] = values
        elif "/" not in key:
            metrics[key] = values
    meta = dict(table.meta, dataset=dataset)
    out = BenchmarkTable(table.family, table.encodings, metrics, name=table.name, meta=meta)
    return out.dropna(next(iter(metrics))) if metrics else out


def load(name: str, dataset: str | None = None) -> BenchmarkTable:
    """Load a packaged or user table by name.

    Args:
        name: A name from :func:`list_tables`.
        dataset: Keep only this dataset's columns (``"cifar10"``, ``"cifar100"``, ``"imagenet16_120"``,
            ``"imagenet"``), with the ``/<dataset>`` suffix removed, and rows where its first column is known.

    Raises:
        DataNotFoundError: If no such table exists; the message says where it was looked for.
    """
    if name in PACKAGED:
        path = _packaged_path(PACKAGED[name])
        if not path.is_file():
            raise DataNotFoundError(
                f"packaged table {name!r} is missing at {path}; rebuild it with scripts/build_packaged_data.py"
            )
    else:
        path = _user_tables_dir() / f"{name}.json.gz"
        if not path.is_file():
            raise DataNotFoundError(
                f"no table {name!r}: not packaged ({', '.join(PACKAGED)}) and no file {path} "
                "(import one with `gennape data import FORMAT PATH --name NAME`; GENNAPE_HOME sets the folder)"
            )
    table = BenchmarkTable.load(path)
    return _select_dataset(table, dataset) if dataset else table


def import_table(table: BenchmarkTable, name: str, overwrite: bool = False) -> Path:
    """Save ``table`` under ``GENNAPE_HOME/tables`` so that ``load(name)`` finds it.

    Raises:
        ValueError: For a bad name, a packaged name, or an existing table without ``overwrite``.
    """
    if not _NAME.match(name):
        raise ValueError(f"table name {name!r} must be letters, digits, '_', '.', '-'")
    if name in PACKAGED:
        raise ValueError(f"table name {name!r} is taken by a packaged table")
    path = _user_tables_dir() / f"{name}.json.gz"
    if path.exists() and not overwrite:
        raise ValueError(f"table {name!r} already exists at {path}; pass overwrite=True (CLI: --overwrite)")
    table.name = name
    return table.save(path)


def table_info(name: str) -> dict[str, Any]:
    """Summary of a table: family, rows, columns with their non-missing counts and ranges, metadata."""
    table = load(name)
    columns = {}
    for key, values in table.metrics.items():
        known = values[~(values != values)]  # drop NaN without importing numpy here
        columns[key] = {
            "count": int(known.size),
            "min": float(known.min()) if known.size else None,
            "max": float(known.max()) if known.size else None,
        }
    description = PACKAGED[name].description if name in PACKAGED else table.meta.get("description", "")
    return {"name": name, "family": table.family, "rows": len(table), "description": description,
            "columns": columns, "meta": table.meta}  # fmt: skip
