"""Benchmark data: tables with their accuracy column, and the seeded splits of each protocol.

Every split is a pure function of the seed and the table name (``numpy`` generators seeded with
``[seed, crc32(name), crc32(purpose)]``), so every method, worker process and resumed run sees the
same test sets, training samples and fine-tune samples.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from gennape_naslib.evaluation.config import DEFAULT_TARGETS, TableSpec

__all__ = ["LoadedTable", "load_table", "proxy_rows", "split_for_seed", "train_rows", "transfer_split"]


class LoadedTable:
    """A table restricted to rows with a known label, with the label column and its units."""

    def __init__(self, spec: TableSpec, table: Any, metric: str, units: str | None) -> None:
        self.spec = spec
        self.table = table
        self.metric = metric
        self.labels = np.asarray(table.metric(metric), dtype=np.float64)
        self.units = units if units in ("percent", "fraction") else None
        self.family = table.family

    def __len__(self) -> int:
        return len(self.table)

    def archs(self, rows: Sequence[int] | np.ndarray) -> list[Any]:
        archs = self.table.archs
        return [archs[int(i)] for i in rows]

    def info(self) -> dict[str, Any]:
        return {
            "table": self.spec.name,
            "dataset": self.spec.dataset,
            "metric": self.metric,
            "units": self.units,
            "family": self.family,
            "rows": len(self),
            "source": self.table.meta.get("source", ""),
        }


@functools.lru_cache(maxsize=16)
def load_table(spec: TableSpec) -> LoadedTable:
    """Load a table for a benchmark (cached per process).

    Raises:
        ValueError: If the dataset or accuracy column cannot be found (the message lists the choices).
    """
    from gennape_naslib import data

    raw = data.load(spec.name)
    datasets = sorted({k.split("/", 1)[1] for k in raw.metric_names if "/" in k})
    dataset = spec.dataset
    if dataset is None and datasets:
        dataset = "cifar10" if "cifar10" in datasets else datasets[0] if len(datasets) == 1 else None
        if dataset is None:
            raise ValueError(f"table {spec.name!r} has several datasets ({', '.join(datasets)}); name one")
    try:
        table = data.load(spec.name, dataset=dataset) if dataset else raw
    except KeyError as exc:
        raise ValueError(str(exc).strip("'\"")) from None
    metric = spec.metric or next((m for m in DEFAULT_TARGETS if m in table.metric_names), None)
    if metric is None or metric not in table.metric_names:
        raise ValueError(
            f"table {spec.name!r} has no accuracy column {metric!r}; columns: {', '.join(table.metric_names)}"
        )
    table = table.dropna(metric)
    units = (table.meta.get("units") or {}).get(metric)
    return LoadedTable(TableSpec(spec.name, dataset, metric), table, metric, units)


def _rng(seed: int, *salt: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), *(zlib.crc32(s.encode()) for s in salt)])


def train_rows(loaded: LoadedTable, seed: int, limit: int | None) -> np.ndarray:
    """Training rows of a transfer run: all rows, or a seeded sample of ``limit`` rows (sorted)."""
    if limit is None or limit >= len(loaded):
        return np.arange(len(loaded))
    return np.sort(_rng(seed, loaded.spec.name, "train").choice(len(loaded), limit, replace=False))


def split_for_seed(
    loaded: LoadedTable, seed: int, test_size: int, train_size: int, sampling: str = "uniform"
) -> tuple[np.ndarray, np.ndarray]:
    """The test rows and the ordered training rows of one seed (NASLib's protocol).

    Uniform sampling: a permutation of the rows gives the test set, then the training rows.
    Mutation sampling: the training rows start from one random architecture and grow by mutating a
    random earlier one, keeping mutants that are in the table and not yet used.

    Raises:
        ValueError: If the table is too small, or mutation sampling cannot find enough mutants in it.
    """
    n = len(loaded)
    if test_size + train_size > n:
        raise ValueError(
            f"table {loaded.spec.name!r} has {n} labelled rows; test size {test_size} plus training size "
            f"{train_size} do not fit"
        )
    rng = _rng(seed, loaded.spec.name, "split")
    order = rng.permutation(n)
    test = order[:test_size]
    if sampling == "uniform":
        return test, order[test_size : test_size + train_size]
    used = set(test.tolist())
    start = int(order[test_size])
    train, used = [start], used | {start}
    adapter, archs = loaded.table.adapter, loaded.table.archs
    tries, max_tries = 0, 100 * train_size + 1000
    while len(train) < train_size:
        tries += 1
        if tries > max_tries:
            raise ValueError(
                f"mutation sampling found only {len(train)} of {train_size} training architectures in table "
                f"{loaded.spec.name!r} ({n} rows) after {max_tries} mutations; use a table covering the space "
                "(e.g. nb201) or uniform sampling"
            )
        parent = archs[train[int(rng.integers(len(train)))]]
        try:
            row = loaded.table.index_of(adapter.mutate(parent, rng))
        except KeyError:
            continue
        if row not in used:
            used.add(row)
            train.append(row)
    return test, np.asarray(train, dtype=np.int64)


def transfer_split(
    loaded: LoadedTable, seed: int, max_shots: int, test_size: int | None, fixed_test: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Fine-tune rows (first ``max_shots`` of a fixed permutation) and test rows (the rest).

    With ``fixed_test`` the test rows are one sample of ``test_size`` rows that does not depend on
    the seed (sorted), and the fine-tune rows are the first ``max_shots`` of a seeded permutation of
    the other rows.
    """
    n = len(loaded)
    if fixed_test:
        if test_size is None:
            raise ValueError("fixed_test needs a test_size")
        if test_size + max_shots > n:
            raise ValueError(
                f"test table {loaded.spec.name!r} has {n} labelled rows: too few for a fixed test set of "
                f"{test_size} plus {max_shots} fine-tune samples"
            )
        test = np.sort(_rng(0, loaded.spec.name, "transfer-test").choice(n, test_size, replace=False))
        rest = np.setdiff1d(np.arange(n), test)
        return rest[_rng(seed, loaded.spec.name, "transfer").permutation(rest.size)][:max_shots], test
    order = _rng(seed, loaded.spec.name, "transfer").permutation(n)
    test = order[max_shots:] if test_size is None else order[max_shots : max_shots + test_size]
    if test.size < 2:
        raise ValueError(
            f"test table {loaded.spec.name!r} has {len(loaded)} labelled rows: too few for {max_shots} "
            "fine-tune samples plus a test set"
        )
    return order[:max_shots], test


def proxy_rows(loaded: LoadedTable, n_archs: int | None) -> np.ndarray:
    """A fixed random sample of ``n_archs`` rows (all rows for ``None``), the same for every proxy and seed."""
    if n_archs is None or n_archs >= len(loaded):
        return np.arange(len(loaded))
    return np.sort(_rng(0, loaded.spec.name, "proxies").choice(len(loaded), n_archs, replace=False))
