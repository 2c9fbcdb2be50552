"""Readers for the benchmark files users already have, each returning a :class:`BenchmarkTable`.

==================  ================================================================================
format              file
==================  ================================================================================
``records``         "bring your own family": JSONL lines ``{"family", "arch", "metrics": {name: value}}``
                    or a CSV with columns ``family``, ``arch`` (the family's JSON encoding or text
                    form) and one column per metric
``naslib_zc``       NASLib / NAS-Bench-Suite-Zero ``zc_<space>.json``
``naslib_nb201``    NASLib ``nb201_<dataset>_full_training.pickle``
``naslib_nb301``    NASLib ``nb301_full_training.pickle`` (the NAS-Bench-301 training data, learning curves)
``nb101_records``   NAS-Bench-101 records ``{hash: (fixed_metrics, {epochs: [runs]})}`` (as ``nb101_records_30.pkl``)
``nb101_tfrecord``  NAS-Bench-101's own ``nasbench_only108.tfrecord`` / ``nasbench_full.tfrecord`` (no TensorFlow)
``nb201_pth``       the official NAS-Bench-201 ``.pth`` through the ``nas-bench-201`` package (``[nb201]`` extra)
``nats_tss``        NATS-Bench's topology benchmark (the NAS-Bench-201 cells): the ``NATS-tss-v1_0-3ffb9-simple``
                    or ``-full`` folder or ``NATS-tss-v1_0-3ffb9.pickle.pbz2``, through ``nats_bench`` (``[nb201]``)
``gennape_cache``   the GENNAPE authors' pickled CG caches and labelled JSON files
``hw_nas_bench``    HW-NAS-Bench's ``HW-NAS-Bench-v1_0.pickle``: NAS-Bench-201 latency/energy per device
==================  ================================================================================

Every reader validates each architecture with its family adapter; a malformed row raises
:class:`DataFormatError` naming the file and line (or key). With ``strict=False`` bad rows are
skipped, counted in ``table.meta["skipped"]`` and reported with one warning. Every reader takes
``family=``: the family the file must hold (an error otherwise); it picks the search space of a
NASLib zero-cost file holding several and is needed for GENNAPE caches whose name does not tell.
JSON, JSONL, CSV and pickle files may be gzip-, bzip2- or xz-compressed (recognised by content).
"""

from __future__ import annotations

import ast
import bz2
import contextlib
import csv
import gzip
import io
import itertools
import json
import lzma
import math
import numbers
import os
import pickle
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gennape_naslib.data._hwnas import read_hw_nas_bench
from gennape_naslib.data.table import BenchmarkTable, DataFormatError, DataNotFoundError

__all__ = ["FORMATS", "load_file", "read_format"]

DISTRIBUTION = {
    "naslib_zc": "NASLib's data folder (zc_nasbench101.json, zc_nasbench201.json, zc_nasbench301.json)",
    "naslib_nb201": "NASLib's data download (nb201_cifar10_full_training.pickle, ...)",
    "naslib_nb301": "NASLib's data download (nb301_full_training.pickle)",
    "nb101_records": "NASLib's nb101 data (nasbench_only108.pkl)",
    "nb101_tfrecord": "the NAS-Bench-101 release (nasbench_only108.tfrecord, nasbench_full.tfrecord)",
    "nb201_pth": "the NAS-Bench-201 release (NAS-Bench-201-v1_1-096897.pth)",
    "nats_tss": "the NATS-Bench release (the NATS-tss-v1_0-3ffb9-simple folder, unpacked from its .tar, or "
    "NATS-tss-v1_0-3ffb9.pickle.pbz2)",
    "gennape_cache": "the GENNAPE authors' data release (cache/*.pkl and data/*_labelled_cg_data.json)",
    "hw_nas_bench": "the HW-NAS-Bench repository (HW-NAS-Bench-v1_0.pickle, github.com/GATECH-EIC/HW-NAS-Bench)",
    "records": "",  # the user's own file: nothing to point to
}


class _Rows:
    """Collects rows of one family, validating each and enforcing strict/lenient mode."""

    def __init__(self, source: str, family: str | None, strict: bool) -> None:
        self.source, self.family, self.strict = source, family, strict
        self.encodings: list[Any] = []
        self.metrics: dict[str, list[float]] = {}
        self.skipped: list[str] = []

    def add(self, where: str, family: str | None, arch: Any, metrics: dict[str, Any], checked: bool = False) -> None:
        """Add one row; ``checked``: ``arch`` is already a valid architecture of ``family`` (not coerced again)."""
        from gennape_naslib.search_spaces import get
        from gennape_naslib.search_spaces.base import UnknownFamilyError

        try:
            family = family or self.family
            if family is None:
                raise ValueError("no family given")
            if self.family is not None and family != self.family:
                raise ValueError(f"family {family!r} differs from {self.family!r} of this file (one family per file)")
            try:
                adapter = get(family)
            except UnknownFamilyError as exc:
                raise ValueError(str(exc)) from None
            encoding = adapter.to_json(arch if checked else adapter.coerce(arch))
            values = {}
            for key, value in metrics.items():
                if value is None or value == "":
                    values[key] = math.nan
                    continue
                try:
                    values[str(key)] = float(value)
                except (TypeError, ValueError):
                    raise ValueError(f"metric {key!r} = {value!r} is not a number") from None
        except ValueError as exc:
            self.reject(f"{self.source}: {where}: {exc}", exc)
            return
        self.family = family  # only a valid row fixes the file's family (a typo on row 1 must not void the rest)
        n = len(self.encodings)
        for key in values:
            if key not in self.metrics:
                self.metrics[key] = [math.nan] * n
        for key, column in self.metrics.items():
            column.append(values.get(key, math.nan))
        self.encodings.append(encoding)

    def reject(self, message: str, cause: BaseException | None = None) -> None:
        """A malformed row: a :class:`DataFormatError` in strict mode, else counted and skipped."""
        if self.strict:
            raise DataFormatError(message) from cause
        self.skipped.append(message)

    def table(self, name: str, meta: dict[str, Any]) -> BenchmarkTable:
        if self.skipped:
            warnings.warn(
                f"{self.source}: skipped {len(self.skipped)} malformed rows; first: {self.skipped[0]}", stacklevel=3
            )
        if not self.encodings:
            raise DataFormatError(f"{self.source}: no valid rows")
        meta = dict(meta, source=meta.get("source", self.source), skipped=self.skipped)
        return BenchmarkTable(self.family or "", self.encodings, self.metrics, name=name, meta=meta)


def dataset_suffix(dataset: Any) -> str:
    """A benchmark dataset's column suffix: ``ImageNet16-120`` -> ``imagenet16_120``, ``cifar10-valid`` ->
    ``cifar10_valid`` (as in ``test_acc_200ep/imagenet16_120``)."""
    return str(dataset).lower().replace("-", "_")


def _check(path: str | os.PathLike[str], fmt: str) -> Path:
    p = Path(path).expanduser()
    if not p.is_file():
        where = f"; it is distributed with {DISTRIBUTION[fmt]}" if DISTRIBUTION.get(fmt) else ""
        raise DataNotFoundError(f"{fmt} file {p} not found (looked at {p.resolve()}){where}")
    return p


_COMPRESSED = ((b"\x1f\x8b", gzip.open), (b"BZh", bz2.open), (b"\xfd7zXZ\x00", lzma.open))
_COMPRESSION_ERRORS = (OSError, EOFError, lzma.LZMAError)  # gzip.BadGzipFile is an OSError


def _open_binary(path: Path) -> Any:
    """``path`` opened for reading, decompressed when it is a gzip, bzip2 or xz file."""
    with open(path, "rb") as handle:
        head = handle.read(6)
    for magic, opener in _COMPRESSED:
        if head.startswith(magic):
            return opener(path, "rb")
    return open(path, "rb")


def _decompressed(raw: Any) -> Any:
    """A binary file object read through its decompressor when gzip, bzip2 or xz (``raw`` stays open)."""
    head = raw.read(6)
    raw.seek(0)
    for magic, opener in _COMPRESSED:
        if head.startswith(magic):
            return opener(raw, "rb")
    return contextlib.nullcontext(raw)


def _open_text(path: Path, newline: str | None = None) -> Any:
    return io.TextIOWrapper(_open_binary(path), encoding="utf-8", newline=newline)


def _load_json(path: Path) -> Any:
    try:
        with _open_binary(path) as handle:
            return json.loads(handle.read())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{path}: not valid JSON ({exc})") from exc
    except _COMPRESSION_ERRORS as exc:
        raise DataFormatError(f"{path}: not readable ({exc.__class__.__name__}: {exc})") from exc


def _fixed_family(path: Path, fmt: str, family: str | None, expected: str) -> None:
    """A reader of one family's files refuses another ``family=`` (a clear error, not a wrong table)."""
    if family is not None and family != expected:
        raise DataFormatError(f"{path}: a {fmt} file holds {expected} architectures, not {family!r}")


# ---------------------------------------------------------------------- safe pickles
_SAFE_GLOBALS = {
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "tuple"),
    ("builtins", "list"),
    ("builtins", "dict"),
    ("builtins", "slice"),
    ("builtins", "complex"),
    ("_codecs", "encode"),  # protocol-2 pickles rebuild bytes (numpy arrays' data) with it
    ("collections", "OrderedDict"),
    ("collections", "defaultdict"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "float64"),
    ("numpy", "int64"),
}


class _DataUnpickler(pickle.Unpickler):
    """Reads pickles of plain data (containers, numbers, strings, numpy arrays) and nothing else."""

    def __init__(self, file: Any, source: str) -> None:
        super().__init__(file)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        raise DataFormatError(f"{self.source}: refusing to load {module}.{name} from a pickle of plain data")


def _load_data_pickle(path: Path, unpickler: type[_DataUnpickler] = _DataUnpickler, what: str = "pickle") -> Any:
    """A (possibly compressed) pickle of plain data; :class:`DataFormatError` naming the file if unreadable."""
    try:
        with _open_binary(path) as handle:
            return unpickler(handle, str(path)).load()
    except DataFormatError:
        raise
    except Exception as exc:  # decompression, pickle and the rebuilt objects fail in many ways on another file
        raise DataFormatError(f"{path}: not a readable {what} ({exc.__class__.__name__}: {exc})") from exc


class _NASLibGraph:
    """A duck-typed stand-in of a NASLib graph, so adapters' ``from_naslib`` can read NASLib keys."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def get_op_indices(self) -> Any:
        return self.value

    def get_spec(self) -> Any:
        return self.value

    def get_compact(self) -> Any:
        return self.value


def _nb101_spec_from_tuple(key: tuple[int, ...]) -> dict[str, Any]:
    if len(key) != 56:
        raise ValueError(f"NAS-Bench-101 key has {len(key)} integers, expected 56 (7x7 matrix + 7 op ids)")
    ops = ["input", "output", "maxpool3x3", "conv1x1-bn-relu", "conv3x3-bn-relu"]
    matrix = [list(key[i * 7 : (i + 1) * 7]) for i in range(7)]
    return {"matrix": matrix, "ops": [ops[i] for i in key[49:]]}


def _parse_naslib_key(family: str, key: str) -> Any:
    from gennape_naslib.search_spaces import get

    try:
        value = ast.literal_eval(key)
    except (ValueError, SyntaxError):
        raise ValueError(f"key {key!r} is not a NASLib encoding") from None
    if family == "nb101":
        return get("nb101").from_naslib(_NASLibGraph(_nb101_spec_from_tuple(tuple(value))))
    return get(family).from_naslib(_NASLibGraph(value))


def _infer_zc_family(key: str) -> str:
    value = ast.literal_eval(key)
    if isinstance(value, tuple) and len(value) == 6:
        return "nb201"
    if isinstance(value, tuple) and len(value) == 56:
        return "nb101"
    if isinstance(value, list) and len(value) == 2:
        return "nb301"
    raise ValueError(f"cannot tell the search space of NASLib key {key[:60]!r}")


_ZC_SPACES = {"nasbench101": "nb101", "nasbench201": "nb201", "nasbench301": "nb301"}
_ZC_SPACE_OF = {family: space for space, family in _ZC_SPACES.items()}
# Datasets of the image-classification benchmarks whose keys the NASLib tuples encode; NASLib's other
# zero-cost files (TransNAS-Bench-101 micro/macro: class_scene, class_object, room_layout, ...) use
# 6-tuples too, with other op meanings, so their keys must never be read as NAS-Bench-201 cells.
_ZC_DATASETS = {"cifar10", "cifar10-valid", "cifar100", "ImageNet16-120"}


def _is_zc_space(name: str) -> bool:
    """Whether a top-level key of a NASLib zero-cost file names a search space (not a dataset)."""
    return name in _ZC_SPACES or name.startswith(("nasbench", "transbench", "natsbench", "hierarchical"))


def _zc_space(p: Path, doc: dict[str, Any], family: str | None) -> tuple[str | None, dict[str, Any]]:
    """The family and the ``{dataset: {key: record}}`` part of a NASLib zero-cost file.

    The search space comes from a top-level space key (``{"nasbench201": {...}}``, one or several), else
    from ``family=``, else from the file name (``zc_<space>[_...].json``), else from the keys' shape
    (only for the datasets of NAS-Bench-101/201/301).
    """
    supported = ", ".join(_ZC_SPACES)
    if family is not None and family not in _ZC_SPACE_OF:
        raise DataFormatError(f"{p}: NASLib zero-cost files hold {supported} architectures, not family {family!r}")
    if doc and all(_is_zc_space(k) for k in doc):
        if family is not None:
            space = _ZC_SPACE_OF[family]
            if space not in doc:
                raise DataFormatError(f"{p}: no search space {space!r} (family {family}); the file has {sorted(doc)}")
        elif len(doc) > 1:
            raise DataFormatError(f"{p}: holds several search spaces ({', '.join(doc)}); pass family=... to pick one")
        else:
            space = next(iter(doc))
        if space not in _ZC_SPACES:
            raise DataFormatError(f"{p}: search space {space!r} has no gennape-naslib family (supported: {supported})")
        if not isinstance(doc[space], dict):
            raise DataFormatError(f"{p}: {space}: expected {{dataset: {{architecture key: {{metric: ...}}}}}}")
        return _ZC_SPACES[space], doc[space]
    if family is None:
        named = re.search(r"(nasbench\d+|transbench\w*)", p.name)
        if named and named.group(1) in _ZC_SPACES:
            family = _ZC_SPACES[named.group(1)]
        elif named:
            raise DataFormatError(
                f"{p}: a NASLib zero-cost file of {named.group(1)!r}, a search space with no gennape-naslib "
                f"family (supported: {supported})"
            )
    if family is None:  # the keys' shape decides: only sound for the NAS-Bench datasets
        foreign = sorted(str(d) for d in doc if d not in _ZC_DATASETS)
        if foreign:
            raise DataFormatError(
                f"{p}: dataset(s) {foreign} are not CIFAR-10/100 or ImageNet16-120, so the architecture keys "
                f"cannot be read as NAS-Bench-101/201/301 cells (TransNAS-Bench-101 files use the same tuples "
                f"with other ops); name the file zc_<space>.json or pass family=... for {supported}"
            )
    return family, doc


def read_naslib_zc(
    path: str | os.PathLike[str], strict: bool = True, name: str = "", family: str | None = None
) -> BenchmarkTable:
    """Read NASLib's ``zc_<space>.json``: per dataset, per architecture, proxy scores and ``val_accuracy``.

    Both layouts NASLib has shipped are read: ``{dataset: {key: {"idx", "arch", proxy: {"score",
    "time"}, "val_accuracy"}}}`` and ``{space: {dataset: {key: {proxy: score, "val_accuracy"}}}}``.
    Columns: ``val_acc/<dataset>`` (percent) and ``<proxy>/<dataset>`` (score).
    """
    p = _check(path, "naslib_zc")
    doc = _load_json(p)
    if not isinstance(doc, dict):
        raise DataFormatError(f"{p}: expected {{dataset: {{architecture key: {{metric: ...}}}}}}")
    family, doc = _zc_space(p, doc, family)
    if not all(isinstance(v, dict) for v in doc.values()):
        raise DataFormatError(f"{p}: expected {{dataset: {{architecture key: {{metric: ...}}}}}}")
    # Gather per architecture key across datasets, preserving first-seen order.
    merged: dict[str, dict[str, Any]] = {}
    for dataset, rows in doc.items():
        suffix = dataset_suffix(dataset)
        for key, record in rows.items():
            if not isinstance(record, dict):
                raise DataFormatError(f"{p}: {dataset}[{key}]: expected an object, got {type(record).__name__}")
            entry = merged.setdefault(key, {})
            for metric, value in record.items():
                if metric in ("idx", "arch"):
                    continue
                score = value.get("score") if isinstance(value, dict) else value
                column = "val_acc" if metric == "val_accuracy" else metric
                entry[f"{column}/{suffix}"] = score
    rows_out = _Rows(str(p), family, strict)
    for key, metrics in merged.items():
        try:
            fam = family or _infer_zc_family(key)
            arch = _parse_naslib_key(fam, key)
        except (ValueError, SyntaxError, TypeError) as exc:
            rows_out.reject(f"{p}: key {key[:60]}: {exc}", exc)
            continue
        rows_out.add(f"key {key[:60]}", fam, arch, metrics)
    meta = {"source": str(p), "format": "naslib_zc", "units": {"val_acc": "percent"}}
    return rows_out.table(name or p.stem, meta)


def read_naslib_nb201(
    path: str | os.PathLike[str], strict: bool = True, name: str = "", family: str | None = None
) -> BenchmarkTable:
    """Read NASLib's ``nb201_<dataset>_full_training.pickle``.

    Layout: ``{arch_str: {dataset: {"eval_acc1es": [per epoch], "train_acc1es": [...], "cost_info":
    {"params", "flops", "latency", "train_time"}, ...}}}``. Columns: ``eval_acc_final/<dataset>`` and
    ``train_acc_final/<dataset>`` (percent, last epoch) and ``params``/``flops``/``latency``/``train_time``
    ``/<dataset>`` where present.
    """
    p = _check(path, "naslib_nb201")
    _fixed_family(p, "naslib_nb201", family, "nb201")
    doc = _load_data_pickle(p)
    if not isinstance(doc, dict):
        raise DataFormatError(f"{p}: expected a dict keyed by NAS-Bench-201 arch strings")
    rows = _Rows(str(p), "nb201", strict)
    for arch_str, per_dataset in doc.items():
        metrics: dict[str, Any] = {}
        if not isinstance(per_dataset, dict):
            rows.reject(f"{p}: {arch_str}: expected a dict of datasets, got {type(per_dataset).__name__}")
            continue
        for dataset, result in per_dataset.items():
            suffix = dataset_suffix(dataset)
            if not isinstance(result, dict):
                continue
            for src, column in (("eval_acc1es", "eval_acc_final"), ("train_acc1es", "train_acc_final")):
                series = result.get(src)
                if series is not None and len(series):
                    metrics[f"{column}/{suffix}"] = series[-1]
            for cost, value in (result.get("cost_info") or {}).items():
                if isinstance(value, numbers.Real) and not isinstance(value, bool):  # numpy scalars too
                    metrics[f"{cost}/{suffix}"] = float(value)
        rows.add(f"arch {arch_str}", "nb201", arch_str, metrics)
    return rows.table(
        name or p.stem,
        {
            "source": str(p),
            "format": "naslib_nb201",
            "units": {"eval_acc_final": "percent", "train_acc_final": "percent"},
        },
    )


def read_naslib_nb301(
    path: str | os.PathLike[str], strict: bool = True, name: str = "", family: str | None = None
) -> BenchmarkTable:
    """Read NASLib's ``nb301_full_training.pickle`` (the architectures NAS-Bench-301 trained, with curves).

    Layout: ``{compact: {"val_accuracies": [per epoch], "train_losses": [...], "runtime": ...}}`` where
    ``compact`` is NASLib's NB-301 compact tuple ``((normal 8 x (input, op id)), (reduce ...))``.
    Columns: ``val_acc_final`` (percent, last epoch: a real training result, not a surrogate
    prediction), ``train_loss_final`` and ``runtime`` (the last value where it is a per-epoch list).
    """
    from gennape_naslib.search_spaces import get

    p = _check(path, "naslib_nb301")
    _fixed_family(p, "naslib_nb301", family, "nb301")
    doc = _load_data_pickle(p)
    if not isinstance(doc, dict):
        raise DataFormatError(f"{p}: expected a dict keyed by NASLib NB-301 compact tuples")
    adapter = get("nb301")
    rows = _Rows(str(p), "nb301", strict)
    for key, result in doc.items():
        where = f"compact {str(key)[:60]}"
        try:
            if not isinstance(result, dict):
                raise ValueError(f"expected a dict of curves, got {type(result).__name__}")
            arch = adapter.from_naslib(_NASLibGraph(key))
            metrics: dict[str, Any] = {}
            for src, column in (("val_accuracies", "val_acc_final"), ("train_losses", "train_loss_final"),
                                ("runtime", "runtime")):  # fmt: skip
                value = result.get(src)
                if isinstance(value, (list, tuple, np.ndarray)):
                    value = value[-1] if len(value) else None
                metrics[column] = value
        except (ValueError, TypeError, IndexError) as exc:
            rows.reject(f"{p}: {where}: {exc}", exc)
            continue
        rows.add(where, "nb301", arch, metrics)
    return rows.table(name or p.stem, {"source": str(p), "format": "naslib_nb301",
                                       "units": {"val_acc_final": "percent"}})  # fmt: skip


#: A NAS-Bench-101 run's final metrics -> our column prefix and scale (accuracies are fractions there).
_NB101_FINAL = (
    ("final_validation_accuracy", "val_acc", 100.0),
    ("final_test_accuracy", "test_acc", 100.0),
    ("final_training_time", "train_time", 1.0),
)


def _nb101_table(rows: _Rows, p: Path, name: str, fmt: str) -> BenchmarkTable:
    units = {column: "percent" for column in rows.metrics if "_acc_" in column}  # val_acc_108ep, test_acc_108ep ...
    return rows.table(name or p.stem, {"source": str(p), "format": fmt, "units": units})


def read_nb101_records(
    path: str | os.PathLike[str], strict: bool = True, name: str = "", family: str | None = None
) -> BenchmarkTable:
    """Read NAS-Bench-101 records ``{hash: (fixed_metrics, {epochs: [run, ...]})}``.

    Columns: ``val_acc_<E>ep`` and ``test_acc_<E>ep`` (percent, mean over runs) for every epoch budget
    ``E``, ``params`` (``trainable_parameters``) and ``train_time_<E>ep`` (seconds, mean).
    """
    p = _check(path, "nb101_records")
    _fixed_family(p, "nb101_records", family, "nb101")
    doc = _load_data_pickle(p)
    if not isinstance(doc, dict):
        raise DataFormatError(f"{p}: expected a dict {{hash: (fixed_metrics, computed_metrics)}}")
    rows = _Rows(str(p), "nb101", strict)
    for key, record in doc.items():
        try:
            fixed, computed = record
            spec = {"matrix": np.asarray(fixed["module_adjacency"]).tolist(), "ops": list(fixed["module_operations"])}
            metrics: dict[str, Any] = {"params": fixed.get("trainable_parameters")}
            for epochs, runs in computed.items():
                for src, column, scale in _NB101_FINAL:
                    values = [float(r[src]) for r in runs if src in r]
                    if values:
                        metrics[f"{column}_{epochs}ep"] = scale * float(np.mean(values))
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            rows.reject(f"{p}: record {key}: malformed NAS-Bench-101 record ({exc.__class__.__name__}: {exc})", exc)
            continue
        rows.add(f"record {key}", "nb101", spec, metrics)
    return _nb101_table(rows, p, name, "nb101_records")


def _nb101_run(blob: bytes) -> tuple[int | None, tuple[float | None, ...]]:
    """``trainable_parameters`` and the final (validation, test accuracy, training time) of a ModelMetrics.

    ``evaluation_data`` holds the evaluations at step 0, halfway and the end of training; the last is final.
    """
    from gennape_naslib.data._tfrecord import as_double, parse_message

    fields = parse_message(blob)
    evaluations = fields.get(1, [])
    if len(evaluations) < 2:
        raise ValueError(f"ModelMetrics holds {len(evaluations)} evaluations, expected at least 2 (start, final)")
    final = parse_message(evaluations[-1])
    values = tuple(as_double(final[n][-1]) if n in final else None for n in (4, 5, 2))  # validation, test, time
    params = fields[2][-1] if 2 in fields else None
    return params, values


def _nb101_cell(adjacency: Any, operations: Any) -> dict[str, Any]:
    """``{"matrix", "ops"}`` of a record's row-major adjacency digits and comma-separated op names."""
    if not isinstance(adjacency, str) or not isinstance(operations, str):
        raise ValueError("adjacency and operations must be strings")
    dim = math.isqrt(len(adjacency))
    if dim * dim != len(adjacency) or not set(adjacency) <= {"0", "1"}:
        raise ValueError(f"adjacency {adjacency!r} is not a square 0/1 matrix")
    matrix = [[int(adjacency[i * dim + j]) for j in range(dim)] for i in range(dim)]
    return {"matrix": matrix, "ops": operations.split(",")}


def read_nb101_tfrecord(
    path: str | os.PathLike[str],
    strict: bool = True,
    name: str = "",
    family: str | None = None,
    check_crc: bool = False,
    progress: bool | None = None,
) -> BenchmarkTable:
    """Read NAS-Bench-101's own dataset (``nasbench_only108.tfrecord``, ``nasbench_full.tfrecord``) without TensorFlow.

    Each record is one training run, JSON ``[module_hash, epochs, adjacency digits, "op,op,...", base64
    nasbench.ModelMetrics]``. Runs of a cell are averaged into the columns of ``nb101_records``:
    ``val_acc_<E>ep``, ``test_acc_<E>ep`` (percent), ``train_time_<E>ep`` (seconds) for every epoch budget
    and ``params``. A record whose module hash is not the hash of its cell is malformed.

    Args:
        check_crc: Also check every record's data checksum (pure Python, about 13 s per 100 MB);
            the length checksums, which find a file of another kind or a damaged frame, are always checked.
        progress: Progress bars over the records and the cells (``None``: only when stderr is a terminal).
            ``nasbench_only108.tfrecord`` takes about two minutes on one laptop core
            (``scripts/bench_nb101_tfrecord.py``); import it once with ``gennape data import``.

    A damaged frame ends the reading: an error, or with ``strict=False`` a skipped-row report that
    keeps the cells read before it (a truncated download loses only its tail).
    """
    import base64
    import binascii

    from gennape_naslib.data._tfrecord import TFRecordError, iter_records
    from gennape_naslib.execution.base import progress_bar
    from gennape_naslib.search_spaces import get

    p = _check(path, "nb101_tfrecord")
    _fixed_family(p, "nb101_tfrecord", family, "nb101")
    rows = _Rows(str(p), "nb101", strict)
    # module hash -> [adjacency, operations, params, {epochs: [sum val, n val, sum test, n test, sum time, n time]}]
    cells: dict[str, list[Any]] = {}
    bar = progress_bar(p.stat().st_size, progress, f"{p.name}: bytes read")  # of the file on disk
    with open(p, "rb") as raw, _decompressed(raw) as handle:
        records = iter_records(handle, check_data=check_crc)
        for count in itertools.count(1):
            try:
                offset, data = next(records)
            except StopIteration:
                break
            except (TFRecordError, *_COMPRESSION_ERRORS) as exc:
                rows.reject(f"{p}: {exc}", exc)
                break
            if bar is not None and count % 4096 == 0:
                bar.update(raw.tell() - bar.n)
            try:
                module_hash, epochs, adjacency, operations, blob = json.loads(data)
                epochs = int(epochs)
                params, final = _nb101_run(base64.b64decode(blob, validate=True))
                cell = cells.setdefault(str(module_hash), [adjacency, operations, params, {}])
                if cell[:2] != [adjacency, operations]:
                    raise ValueError(f"module {module_hash} appeared before with another cell")
            except (ValueError, TypeError, KeyError, binascii.Error) as exc:  # JSONDecodeError is a ValueError
                reason = f"{exc.__class__.__name__}: {exc}"
                rows.reject(f"{p}: record at byte {offset}: malformed NAS-Bench-101 record ({reason})", exc)
                continue
            sums = cell[3].setdefault(epochs, [0.0] * 6)
            for i, value in enumerate(final):
                if value is not None:
                    sums[2 * i] += value
                    sums[2 * i + 1] += 1
    if bar is not None:
        bar.n = bar.total
        bar.close()
    adapter = get("nb101")
    bar = progress_bar(len(cells), progress, f"{p.name}: cells")
    for module_hash, (adjacency, operations, params, per_epoch) in cells.items():
        if bar is not None:
            bar.update()
        try:
            arch = adapter.coerce(_nb101_cell(adjacency, operations))
            if adapter.canonical_hash(arch) != module_hash:
                raise ValueError(f"the cell's hash is {adapter.canonical_hash(arch)}, the record says {module_hash}")
        except ValueError as exc:  # ArchValidationError is a ValueError
            rows.reject(f"{p}: module {module_hash}: malformed NAS-Bench-101 cell ({exc})", exc)
            continue
        metrics: dict[str, Any] = {"params": params}
        for epochs, sums in sorted(per_epoch.items()):
            for i, (_, column, scale) in enumerate(_NB101_FINAL):
                if sums[2 * i + 1]:
                    metrics[f"{column}_{epochs}ep"] = scale * sums[2 * i] / sums[2 * i + 1]
        rows.add(f"module {module_hash}", "nb101", arch, metrics, checked=True)
    if bar is not None:
        bar.close()
    return _nb101_table(rows, p, name, "nb101_tfrecord")


def read_nb201_pth(
    path: str | os.PathLike[str], strict: bool = True, name: str = "", hp: str = "200", family: str | None = None
) -> BenchmarkTable:
    """Read the official NAS-Bench-201 ``.pth`` through ``nas_201_api`` (the ``[nb201]`` extra).

    Columns per dataset (``cifar10-valid`` -> ``cifar10_valid``, ``cifar10``, ``cifar100``,
    ``ImageNet16-120``): ``test_acc_<hp>ep``, ``val_acc_<hp>ep`` where the API reports them, ``flops``,
    ``params``, ``latency``.
    """
    from gennape_naslib._optional import require

    p = _check(path, "nb201_pth")
    _fixed_family(p, "nb201_pth", family, "nb201")
    api_module = require("nas_201_api", "nb201", "reading NAS-Bench-201 .pth files")
    try:
        api = api_module.NASBench201API(str(p), verbose=False)
    except Exception as exc:  # torch.load and the API fail in many ways on a file of another kind
        raise DataFormatError(f"{p}: not a readable NAS-Bench-201 .pth file ({exc.__class__.__name__}: {exc})") from exc
    from gennape_naslib.data._nats import nb201_api_metrics  # the columns NATS-Bench's reader gives too

    rows = _Rows(str(p), "nb201", strict)
    for index in range(len(api)):
        rows.add(f"index {index}", "nb201", api.arch(index), nb201_api_metrics(api, index, hp))
    units = {f"{column}_{hp}ep": "percent" for column in ("test_acc", "val_acc")}  # the columns' names, per dataset
    return rows.table(name or p.stem, {"source": str(p), "format": "nb201_pth", "units": units})


def gennape_config_to_encoding(family: str, config: Any) -> Any:
    """Our JSON encoding of a GENNAPE ``original config`` (GENNAPE_FACTS 1.12 and section 3).

    nb101 ``(ops, adj_mat)``; nb201 ``(ops, op_input_inds)`` with ops in arch-string edge order;
    nb301 a DARTS ``Genotype``; ofa_pn / ofa_mbv3 ``(res, net_config)`` with block names
    ``mbconv{2,3}_e{E}_k{K}``; ofa_resnet ``(res, {"d", "e", "w"})``; hiaml a list of block names;
    two_path / inception their config state dicts (already our encoding).

    Raises:
        ValueError: If ``config`` does not have the family's shape.
    """
    try:
        if family == "nb101":
            ops, adj = config
            return {"matrix": np.asarray(adj).astype(int).tolist(), "ops": [str(o) for o in ops]}
        if family == "nb201":
            ops = config[0] if len(config) == 2 and not isinstance(config[0], str) else config
            return [str(o) for o in ops]
        if family == "nb301":
            get_field = (lambda k: config[k]) if isinstance(config, dict) else (lambda k: getattr(config, k))
            return {
                key: [[str(op), int(i)] for op, i in get_field(key)]
                if "concat" not in key
                else [int(i) for i in get_field(key)]
                for key in ("normal", "normal_concat", "reduce", "reduce_concat")
            }
        if family in ("ofa_pn", "ofa_mbv3"):
            res, net_config = config
            return {"r": int(np.asarray(res).ravel()[0]), "stages": [[str(b) for b in stage] for stage in net_config]}
        if family == "ofa_resnet":
            res, spec = config
            return {
                "r": int(np.asarray(res).ravel()[0]),
                "d": list(spec["d"]),
                "e": list(spec["e"]),
                "w": list(spec["w"]),
            }
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
        raise ValueError(f"not a GENNAPE {family} config ({exc.__class__.__name__}: {exc})") from None
    return config


# GENNAPE's cache file names (GENNAPE_FACTS 1.12 and 4.4-4.5): family key -> our family. ``ofa`` is
# the mixed ProxylessNAS + MobileNetV3 cache and needs family=.
_GENNAPE_CACHE_FAMILIES = {
    "nb101": "nb101", "nb201c10": "nb201", "nb201c100": "nb201", "nb201imgnet": "nb201", "nb301": "nb301",
    "ofa_resnet": "ofa_resnet", "hiaml": "hiaml", "two_path": "two_path", "inception": "inception",
}  # fmt: skip
_GENNAPE_CACHE_NAME = re.compile(
    r"^(?:gpi_test_|gpi_|demo_)?(?P<key>ofa_resnet|ofa|nb201c100|nb201c10|nb201imgnet|nb101|nb301|hiaml|"
    r"two_path|inception)_(?:\d+_|full_unlabeled_|cifar10_labelled_cg_data|comp_graph_cache)"
)


def _gennape_family_from_name(p: Path) -> str | None:
    """The family a GENNAPE cache's file name tells (``gpi_nb101_comp_graph_cache.pkl`` -> nb101)."""
    found = _GENNAPE_CACHE_NAME.match(p.name)
    return _GENNAPE_CACHE_FAMILIES.get(found.group("key")) if found else None


def _ofa_subfamily(record: dict[str, Any]) -> str | None:
    """``ofa_pn`` or ``ofa_mbv3`` for a record of GENNAPE's mixed OFA cache.

    GENNAPE's data manager splits that cache by the graph's name (``OFA-PN-Net<i>`` / ``OFA-MBV3-Net<i>``,
    case-insensitive "pn" / "mbv3"); its cache builder by the first block's prefix (``mbconv2`` /
    ``mbconv3``). The name is used first, the prefix when the name tells neither.
    """
    graph_name = str(getattr(record.get("compute graph"), "name", "") or "").lower()
    if "mbv3" in graph_name:
        return "ofa_mbv3"
    if "pn" in graph_name:
        return "ofa_pn"
    try:
        first = str(record["original config"][1][0][0])
    except (KeyError, IndexError, TypeError):
        return None
    return {"mbconv2": "ofa_pn", "mbconv3": "ofa_mbv3"}.get(first.split("_", 1)[0])


def read_gennape_cache(
    path: str | os.PathLike[str], strict: bool = True, name: str = "", family: str | None = None
) -> BenchmarkTable:
    """Read a GENNAPE authors' cache (pickled records or labelled JSON) into a table.

    The architectures come from each record's ``original config`` and must be given as the family's
    JSON encoding in the cache or be convertible by the family's ``from_gennape_config`` method.
    Columns: ``acc`` (fraction, as GENNAPE stores it), ``flops`` and ``n_params`` where present
    (GENNAPE's units; its NB-201 caches keep FLOPs min-max normalised over the space). The family
    comes from ``family=`` or from GENNAPE's file name (``gpi_nb101_comp_graph_cache.pkl``,
    ``gpi_test_hiaml_cifar10_labelled_cg_data.json``, ``two_path_10_comp_graph_cache.pkl``, ...). From
    the mixed ``gpi_ofa_comp_graph_cache.pkl``, ``family="ofa_pn"`` or ``"ofa_mbv3"`` keeps that
    family's records as GENNAPE does (``meta["other_family_records"]`` counts the rest).
    """
    from gennape_naslib.cg import gennape_cache as caches
    from gennape_naslib.search_spaces import get

    p = _check(path, "gennape_cache")
    family = family or _gennape_family_from_name(p)
    if family is None:
        raise DataFormatError(
            f"{p}: pass the family of the cache (family=..., CLI --family); the file name does not tell it"
            + (" (the OFA cache mixes ofa_pn and ofa_mbv3)" if p.name.startswith(("gpi_ofa_", "demo_ofa_")) else "")
        )
    adapter = get(family)  # an unknown family fails here, before the file is read
    try:
        records = caches.load_gennape_json(p) if p.suffix == ".json" else caches.load_gennape_cache(p)
    except pickle.UnpicklingError as exc:  # UnsafePickleError: a clear refusal, not a traceback
        raise DataFormatError(str(exc)) from exc
    others = 0
    rows = _Rows(str(p), family, strict)
    for i, record in enumerate(records):
        if family in ("ofa_pn", "ofa_mbv3") and _ofa_subfamily(record) not in (family, None):
            others += 1  # the other half of GENNAPE's mixed OFA cache
            continue
        metrics: dict[str, Any] = {k: record[k] for k in ("acc", "flops", "n_params") if k in record}
        try:
            arch = adapter.coerce(gennape_config_to_encoding(family, record.get("original config")))
        except (ValueError, TypeError) as exc:
            rows.reject(f"{p}: record {i}: original config not readable as {family} ({exc})", exc)
            continue
        rows.add(f"record {i}", family, arch, metrics)
    meta: dict[str, Any] = {"source": str(p), "format": "gennape_cache", "units": {"acc": "fraction"}}
    if others:
        meta["other_family_records"] = others
    return rows.table(name or p.stem, meta)


def read_records(
    path: str | os.PathLike[str], strict: bool = True, name: str = "", family: str | None = None
) -> BenchmarkTable:
    """Read a "bring your own family" file: JSONL records or the equivalent CSV.

    JSONL: one object per line, ``{"family": name, "arch": <the family's JSON encoding>, "metrics":
    {name: value}}``; blank lines are ignored. CSV: a header with ``family`` and ``arch`` (JSON
    encoding, or the family's text form when it is not JSON) and one column per metric; empty cells
    are missing values. ``family=`` makes rows of any other family errors.
    """
    p = _check(path, "records")
    rows = _Rows(str(p), family, strict)
    try:
        _read_record_rows(p, rows, strict)
    except (UnicodeDecodeError, *_COMPRESSION_ERRORS) as exc:
        raise DataFormatError(f"{p}: not readable ({exc.__class__.__name__}: {exc})") from exc
    return rows.table(name or p.stem, {"source": str(p), "format": "records"})


def _read_record_rows(p: Path, rows: _Rows, strict: bool) -> None:
    if Path(_plain_name(p)).suffix == ".csv":
        with _open_text(p, newline="") as handle:
            reader = csv.DictReader(handle)
            missing = {"family", "arch"} - set(reader.fieldnames or [])
            if missing:
                raise DataFormatError(f"{p}: line 1: header lacks column(s) {sorted(missing)}")
            for line, row in enumerate(reader, start=2):
                arch_text = row.pop("arch")
                family = row.pop("family")
                try:
                    arch: Any = json.loads(arch_text)
                except (json.JSONDecodeError, TypeError):
                    arch = arch_text
                rows.add(f"line {line}", family, arch, dict(row))
    else:
        with _open_text(p) as handle:
            for line, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                try:
                    record = json.loads(text)
                    if not isinstance(record, dict) or "arch" not in record or "family" not in record:
                        raise ValueError('expected {"family": ..., "arch": ..., "metrics": {...}}')
                    metrics = record.get("metrics", {})
                    if not isinstance(metrics, dict):
                        raise ValueError("metrics must be an object")
                except ValueError as exc:
                    rows.reject(f"{p}: line {line}: {exc}", exc)
                    continue
                rows.add(f"line {line}", record["family"], record["arch"], metrics)


def read_nats_tss(path: str | os.PathLike[str], **kwargs: Any) -> BenchmarkTable:
    """NATS-Bench's topology benchmark: see :func:`gennape_naslib.data._nats.read_nats_tss`."""
    from gennape_naslib.data._nats import read_nats_tss as read  # it builds on this module's helpers

    return read(path, **kwargs)


FORMATS: dict[str, Callable[..., BenchmarkTable]] = {
    "records": read_records,
    "naslib_zc": read_naslib_zc,
    "naslib_nb201": read_naslib_nb201,
    "naslib_nb301": read_naslib_nb301,
    "nb101_records": read_nb101_records,
    "nb101_tfrecord": read_nb101_tfrecord,
    "nb201_pth": read_nb201_pth,
    "nats_tss": read_nats_tss,
    "gennape_cache": read_gennape_cache,
    "hw_nas_bench": read_hw_nas_bench,
}


def read_format(fmt: str, path: str | os.PathLike[str], **kwargs: Any) -> BenchmarkTable:
    """Read ``path`` with the reader of format ``fmt`` (a key of :data:`FORMATS`)."""
    try:
        reader = FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown data format {fmt!r}; choices: {', '.join(FORMATS)}") from None
    return reader(path, **kwargs)


def _plain_name(path: Path) -> str:
    """The file name in lower case without compression suffixes (the content decides when reading)."""
    name = path.name.lower()
    while name.endswith((".gz", ".bz2", ".xz")):
        name = name.rsplit(".", 1)[0]
    return name


def _sniff(path: Path) -> str:
    name = _plain_name(path)
    if path.is_dir() or name.endswith(".pickle.pbz2"):  # NATS-Bench's archive folders and benchmark files
        return "nats_tss"
    suffix = Path(name).suffix
    if suffix in (".jsonl", ".csv"):
        return "records"
    if suffix == ".pth":
        return "nb201_pth"
    if suffix in (".tfrecord", ".tfrecords"):
        return "nb101_tfrecord"
    if suffix == ".json":
        return "gennape_cache" if name.endswith("_labelled_cg_data.json") else "naslib_zc"
    if suffix in (".pkl", ".pickle"):
        if "comp_graph_cache" in name:  # before the benchmark names: gpi_nb201c10_comp_graph_cache.pkl
            return "gennape_cache"
        if re.search(r"hw[-_]?nas[-_]?bench", name):  # HW-NAS-Bench-v1_0.pickle, before "nb201"
            return "hw_nas_bench"
        if "nb201" in name:
            return "naslib_nb201"
        if "nb301" in name:
            return "naslib_nb301"
        return "nb101_records"
    raise DataFormatError(f"{path}: cannot tell the format from the file name; use read_format(FORMAT, path)")


def load_file(
    path: str | os.PathLike[str], strict: bool = True, fmt: str | None = None, **kwargs: Any
) -> BenchmarkTable:
    """Load a user file in one call, choosing the reader from ``fmt`` or the file name.

    ``.jsonl``/``.csv`` -> ``records``; ``.json`` -> ``naslib_zc`` (``*_labelled_cg_data.json`` ->
    ``gennape_cache``); ``.pth`` -> ``nb201_pth``; a folder or ``*.pickle.pbz2`` -> ``nats_tss`` (NATS-Bench);
    ``.tfrecord`` -> ``nb101_tfrecord``; ``.pkl``/``.pickle`` ->
    ``gennape_cache`` for ``*comp_graph_cache*``, ``hw_nas_bench`` for HW-NAS-Bench's pickle (``hw-nas-bench``
    or ``hw_nas_bench`` in the name), else ``naslib_nb201`` / ``naslib_nb301`` if the name
    mentions nb201 / nb301, else ``nb101_records`` (NASLib's ``nasbench_only108.pkl``). A
    ``.gz``/``.bz2``/``.xz`` suffix is looked through.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise DataNotFoundError(f"data file {p} not found (looked at {p.resolve()})")
    return read_format(fmt or _sniff(p), p, strict=strict, **kwargs)
