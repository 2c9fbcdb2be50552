"""Reader of HW-NAS-Bench's ``HW-NAS-Bench-v1_0.pickle``: hardware cost of every NAS-Bench-201 cell.

The file is one pickled dict of plain data (its layout as the official ``HWNASBenchAPI`` reads it)::

    {"nasbench201": {dataset: {metric: [value of architecture 0, 1, ...],
                               "config": [{"arch_str": ..., "name", "C", "N", "num_classes"}, ...]}},
     "fbnet": {metric: {operator key: value}}}

Datasets are ``cifar10``, ``cifar100`` and ``ImageNet16-120``. Position ``i`` of every list is
NAS-Bench-201's architecture index ``i``; ``config[i]["arch_str"]`` is that architecture's arch
string, so no NAS-Bench-201 file is needed to name the rows. Metrics are ``<device>_latency`` (ms),
``<device>_energy`` (mJ) and ``eyeriss_arithmetic_intensity``; ``-1`` marks a value that was not
measured (4,699 Edge TPU latencies of the CIFAR-10 part). The FBNet part holds per-operator lookup
tables that the API sums per architecture, not per-architecture values, and is not read.
"""

from __future__ import annotations

import math
import numbers
import os
from typing import Any

import numpy as np

from gennape_naslib.data.table import BenchmarkTable, DataFormatError

__all__ = ["read_hw_nas_bench"]

FORMAT = "hw_nas_bench"
_SPACE = "nasbench201"
_CONFIG = "config"
_NOT_MEASURED = -1.0
_UNITS = (("_latency", "ms"), ("_energy", "mJ"))
_LAYOUT = "{'nasbench201': {dataset: {metric: [one value per architecture index], 'config': [...]}}, 'fbnet': ...}"


def read_hw_nas_bench(
    path: str | os.PathLike[str],
    strict: bool = True,
    name: str = "",
    family: str | None = None,
    dataset: str | None = None,
) -> BenchmarkTable:
    """Read HW-NAS-Bench's pickle into a NAS-Bench-201 table of hardware costs.

    Columns are ``<metric>/<dataset>`` with the metric names of the file (``edgegpu_latency``,
    ``edgegpu_energy``, ``raspi4_latency``, ``edgetpu_latency``, ``pixel3_latency``,
    ``eyeriss_latency``, ``eyeriss_energy``, ``eyeriss_arithmetic_intensity``, ``fpga_latency``,
    ``fpga_energy``) and the dataset suffixes of the other readers (``cifar10``, ``cifar100``,
    ``imagenet16_120``), the names of the packaged ``nb201`` table. Rows follow NAS-Bench-201's
    architecture index. HW-NAS-Bench's ``-1`` (not measured) becomes ``NaN``, counted per column in
    ``meta["not_measured"]``; the FBNet part is skipped and named in ``meta["skipped_spaces"]``.

    Args:
        path: The pickle (may be gzip-, bzip2- or xz-compressed).
        strict: Raise on a malformed architecture entry (a missing or invalid ``arch_str``, arch
            strings that differ between datasets, a value that is not a number or is negative but
            not ``-1``); with ``False`` such architectures are skipped and listed in ``meta["skipped"]``.
        name: Table name (default: the file's stem).
        family: ``None`` or ``"nb201"``. ``"fbnet"`` is refused: gennape-naslib has no FBNet family
            and the file has no per-architecture FBNet values.
        dataset: Read only this dataset's columns (``"cifar10"``, ``"cifar100"``,
            ``"ImageNet16-120"`` or its suffix ``"imagenet16_120"``); default: every dataset.

    Returns:
        A ``nb201`` :class:`BenchmarkTable`.

    Raises:
        DataNotFoundError: If ``path`` is not a file.
        DataFormatError: If the file is not an HW-NAS-Bench pickle, a list's length differs from the
            number of configs, the dataset or family is not in the file, or (strict) an entry is malformed.
    """
    # formats.py imports this module to register the reader, so its helpers are imported at call time
    from gennape_naslib.data.formats import _check, _fixed_family, _load_data_pickle, _Rows, dataset_suffix
    from gennape_naslib.search_spaces import get

    p = _check(path, FORMAT)
    if family == "fbnet":
        raise DataFormatError(
            f"{p}: HW-NAS-Bench's FBNet part holds per-operator lookup tables (the API sums them for a "
            f"22-layer FBNet network), not per-architecture values, and gennape-naslib has no fbnet family; "
            f"this reader gives the NAS-Bench-201 part (family='nb201')"
        )
    _fixed_family(p, FORMAT, family, "nb201")
    doc = _load_data_pickle(p)
    space = _nb201_part(p, doc)
    by_name = {str(ds): ds for ds in space}
    suffixes = {ds: dataset_suffix(ds) for ds in by_name}
    datasets = _pick_datasets(p, suffixes, dataset)

    columns: dict[str, dict[int, Any]] = {}  # "<metric>/<dataset>" -> {architecture index: value}
    configs: dict[int, list[tuple[str, Any]]] = {}  # architecture index -> [(dataset, config)]
    for ds in datasets:
        part = space[by_name[ds]]
        if not isinstance(part, dict) or _CONFIG not in part:
            found = sorted(map(str, part)) if isinstance(part, dict) else type(part).__name__
            raise DataFormatError(f"{p}: {_SPACE}/{ds}: expected {{metric: [...], 'config': [...]}}, found {found}")
        ds_configs = _by_index(p, f"{_SPACE}/{ds}/{_CONFIG}", part[_CONFIG])
        suffix = suffixes[ds]
        for metric, values in part.items():
            if metric == _CONFIG:
                continue
            where = f"{_SPACE}/{ds}/{metric}"
            column = _by_index(p, where, values)
            if column.keys() != ds_configs.keys():
                raise DataFormatError(
                    f"{p}: {where}: {len(column)} values for {len(ds_configs)} architectures "
                    f"(the {_CONFIG} list); every list is indexed by NAS-Bench-201 architecture index"
                )
            columns[f"{metric}/{suffix}"] = column
        for index, config in ds_configs.items():
            configs.setdefault(index, []).append((ds, config))

    adapter = get("nb201")
    rows = _Rows(str(p), "nb201", strict)
    not_measured = dict.fromkeys(columns, 0)
    first_index: dict[str, int] = {}
    for index in sorted(configs):
        try:
            arch_str = _arch_string(configs[index])
            if arch_str in first_index:
                raise ValueError(f"arch_str {arch_str!r} repeats that of index {first_index[arch_str]}")
            arch = adapter.coerce(arch_str)
            metrics = {key: _measurement(key, column[index]) for key, column in columns.items() if index in column}
        except ValueError as exc:  # ArchValidationError is a ValueError
            rows.reject(f"{p}: index {index}: {exc}", exc)
            continue
        rows.add(f"index {index}", "nb201", arch, metrics, checked=True)
        first_index[arch_str] = index
        for key in metrics:
            if _is_not_measured(columns[key][index]):
                not_measured[key] += 1

    metric_names = sorted({key.split("/", 1)[0] for key in columns})
    units = {m: unit for m in metric_names for end, unit in _UNITS if m.endswith(end)}
    meta: dict[str, Any] = {
        "source": str(p),
        "format": FORMAT,
        "space": _SPACE,
        "datasets": list(datasets),
        "units": units,
        "labels": {
            "*_latency": "HW-NAS-Bench latency (ms) on the named device",
            "*_energy": "HW-NAS-Bench energy (mJ) on the named device",
            "eyeriss_arithmetic_intensity": "HW-NAS-Bench arithmetic intensity on Eyeriss, as published",
            "missing": "HW-NAS-Bench's -1 (not measured on that device) is stored as NaN",
        },
        "not_measured": {key: count for key, count in not_measured.items() if count},
        "skipped_spaces": _skipped_spaces(doc),
    }
    return rows.table(name or p.stem, meta)


def _nb201_part(p: os.PathLike[str], doc: Any) -> dict[Any, Any]:
    """``doc["nasbench201"]``, or a :class:`DataFormatError` saying why the file is not HW-NAS-Bench's."""
    if not isinstance(doc, dict):
        raise DataFormatError(f"{p}: not an HW-NAS-Bench pickle: expected {_LAYOUT}, got a {type(doc).__name__}")
    if _SPACE not in doc:
        keys = [str(k)[:40] for k in list(doc)[:5]]
        raise DataFormatError(
            f"{p}: not an HW-NAS-Bench pickle: no {_SPACE!r} key (expected {_LAYOUT}); "
            f"the top-level keys are {keys}{' ...' if len(doc) > 5 else ''}"
        )
    space = doc[_SPACE]
    if not isinstance(space, dict) or not space:
        raise DataFormatError(f"{p}: {_SPACE}: expected {{dataset: {{metric: [...], 'config': [...]}}}}")
    return space


def _pick_datasets(p: os.PathLike[str], suffixes: dict[str, str], dataset: str | None) -> list[str]:
    """The datasets to read: all, or the one named by ``dataset`` (the file's name or its column suffix)."""
    if dataset is None:
        return list(suffixes)
    for ds, suffix in suffixes.items():
        if dataset in (ds, suffix):
            return [ds]
    raise DataFormatError(f"{p}: no dataset {dataset!r} in {_SPACE}; the file has {list(suffixes)}")


def _by_index(p: os.PathLike[str], where: str, values: Any) -> dict[int, Any]:
    """A list (or array, or dict keyed by index) of per-architecture entries as ``{index: entry}``."""
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise DataFormatError(
                f"{p}: {where}: expected one value per architecture, got an array of shape {values.shape}"
            )
        return dict(enumerate(values.tolist()))
    if isinstance(values, (list, tuple)):
        return dict(enumerate(values))
    if isinstance(values, dict) and all(isinstance(k, numbers.Integral) for k in values):
        return {int(k): v for k, v in values.items()}
    raise DataFormatError(
        f"{p}: {where}: expected a list indexed by NAS-Bench-201 architecture index, got {type(values).__name__}"
    )


def _arch_string(configs: list[tuple[str, Any]]) -> str:
    """The ``arch_str`` of one architecture index, the same in the config of every dataset."""
    found: list[tuple[str, str]] = []
    for ds, config in configs:
        arch_str = config.get("arch_str") if isinstance(config, dict) else None
        if not isinstance(arch_str, str):
            raise ValueError(f"{ds} config has no arch_str string (got {str(config)[:80]})")
        found.append((ds, arch_str))
    for ds, arch_str in found[1:]:
        if arch_str != found[0][1]:
            raise ValueError(f"arch_str differs between {found[0][0]} ({found[0][1]!r}) and {ds} ({arch_str!r})")
    return found[0][1]


def _is_not_measured(value: Any) -> bool:
    return isinstance(value, numbers.Real) and float(value) == _NOT_MEASURED


def _measurement(key: str, value: Any) -> float:
    """A metric value as a float: ``-1`` (not measured) is NaN; other negatives are malformed."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{key} = {str(value)[:40]!r} is not a number")
    number = float(value)
    if number == _NOT_MEASURED:
        return math.nan
    if number < 0:
        raise ValueError(f"{key} = {number} is negative (only -1, not measured, may be)")
    return number


def _skipped_spaces(doc: dict[Any, Any]) -> dict[str, str]:
    skipped = {}
    for key in doc:
        if key == "fbnet":
            skipped["fbnet"] = "per-operator lookup tables, not per-architecture values; no gennape-naslib family"
        elif key != _SPACE:
            skipped[str(key)] = "not a search space this reader knows"
    return skipped
