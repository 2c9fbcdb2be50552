"""Reader of NATS-Bench's topology-space (``tss``) files, the maintained successor of NAS-Bench-201.

NATS-Bench's topology space is NAS-Bench-201's: the same 15,625 cells, indexed and written as the
same arch strings, with more training runs. Its files come in three layouts, all bzip2-compressed
pickles (``*.pickle.pbz2``):

* the archive folder ``NATS-tss-v1_0-3ffb9-simple/`` (what ``fast_mode=True`` reads): ``meta.pickle.pbz2``
  holds ``{"meta_archs": [arch string of each index], "total_archs": n, ...}`` and ``NNNNNN.pickle.pbz2``
  (the index, six digits) holds one architecture's ``{hp: ArchResults state dict}`` (``hp`` is the
  number of training epochs as a string, ``"12"`` or ``"200"``);
* the full archive ``NATS-tss-v1_0-3ffb9-full/``, the same layout with the trained weights in every run;
* the benchmark file ``NATS-tss-v1_0-3ffb9.pickle.pbz2``: ``{"meta_archs", "arch2infos": {index: {hp:
  ArchResults state dict}}, "evaluated_indexes"}``.

The metrics come from the official ``nats_bench`` package's own record classes and queries
(``get_more_info``; ``ArchResults.get_compute_costs``, which ``get_cost_info`` returns), as
``read_nb201_pth`` gets them from ``nas_201_api``. The files are
read with the allow-list unpickler of :mod:`gennape_naslib.data.formats` rather than the package's
plain ``pickle.load``: plain data loads, trained weights are dropped unread, and anything else is
refused. One architecture is held in memory at a time (the package's fast mode keeps every record it
has read, weights included).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gennape_naslib.data.formats import _DataUnpickler, _fixed_family, _load_data_pickle, _Rows, dataset_suffix
from gennape_naslib.data.table import BenchmarkTable, DataFormatError, DataNotFoundError

__all__ = ["NB201_DATASETS", "nb201_api_metrics", "read_nats_tss"]

#: The datasets of a NAS-Bench-201 / NATS-Bench topology record, as the APIs name them.
NB201_DATASETS = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")

_FORMAT = "nats_tss"
_EXT = ".pickle.pbz2"  # nats_bench.api_utils.PICKLE_EXT
_META = "meta" + _EXT
_SIZE_ARCH = re.compile(r"^\d+(?::\d+)+$")  # a size-space architecture: channel counts "8:16:32:..."


def nb201_api_metrics(api: Any, index: int, hp: str) -> dict[str, Any]:
    """The NAS-Bench-201 columns of one architecture, read through an official API object.

    Works with ``nas_201_api.NASBench201API`` and ``nats_bench``'s topology API, whose queries have the
    same signatures. Per dataset (``cifar10-valid`` -> suffix ``cifar10_valid``, ``cifar10``,
    ``cifar100``, ``ImageNet16-120`` -> ``imagenet16_120``): ``test_acc_<hp>ep`` and ``val_acc_<hp>ep``
    (percent, the mean over the runs, where the API reports them), ``flops`` (M), ``params`` (M, the
    packages print "MB") and
    ``latency`` (seconds), the costs of the runs trained with ``hp``. The API must hold the record
    in ``api.arch2infos_dict[index]`` (both packages' name for their loaded records).

    Args:
        api: The API object holding the architecture's records.
        index: The architecture's index in the benchmark.
        hp: The number of training epochs of the runs to read, as a string (``"12"``, ``"200"``).

    Returns:
        ``{column: value}``; a dataset the architecture has no runs on contributes no column.
    """
    metrics: dict[str, Any] = {}
    for dataset in NB201_DATASETS:
        suffix = dataset_suffix(dataset)
        try:
            info = api.get_more_info(index, dataset, hp=hp, is_random=False)
        except (KeyError, ValueError, IndexError):
            continue  # no runs on this dataset
        for src, column in (("test-accuracy", "test_acc"), ("valid-accuracy", "val_acc")):
            if info.get(src) is not None:
                metrics[f"{column}_{hp}ep/{suffix}"] = info[src]
        try:  # what get_cost_info(index, dataset, hp) returns, without its deep copy of the whole record
            cost = api.arch2infos_dict[index][hp].get_compute_costs(dataset)  # (30x the time of the rest)
        except (KeyError, ValueError, IndexError):
            continue  # e.g. nats_bench's legacy-cost fix looks for the 200-epoch seed 888
        for key in ("flops", "params", "latency"):
            if cost.get(key) is not None:
                metrics[f"{key}/{suffix}"] = cost[key]
    return metrics


class _DroppedWeights:
    """Stands in for every torch object of a pickle (the trained weights of a full archive).

    Nothing of torch is imported or called: the pickle's tensors and storages become inert instances.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> _DroppedWeights:
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass


class _NATSUnpickler(_DataUnpickler):
    """The plain-data unpickler, with torch's tensor globals mapped to :class:`_DroppedWeights`."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" or module.startswith("torch."):
            return _DroppedWeights
        return super().find_class(module, name)


def _load_pickle(path: Path) -> Any:
    """A NATS-Bench ``.pickle.pbz2`` file's content; :class:`DataFormatError` naming it if unreadable."""
    return _load_data_pickle(path, _NATSUnpickler, "NATS-Bench pickle")


def _existing(path: str | os.PathLike[str]) -> Path:
    from gennape_naslib.data.formats import DISTRIBUTION

    p = Path(path).expanduser()
    if not p.exists():
        raise DataNotFoundError(
            f"{_FORMAT} file or folder {p} not found (looked at {p.resolve()}); "
            f"it is distributed with {DISTRIBUTION[_FORMAT]}"
        )
    return p


def _refuse_size_space(p: Path, archs: Sequence[Any] = ()) -> None:
    """NATS-Bench's size space (``sss``: channel counts of one fixed cell) is no gennape-naslib family."""
    named = "nats-sss" in p.name.lower()
    if named or (archs and isinstance(archs[0], str) and _SIZE_ARCH.match(archs[0])):
        why = "its name says so" if named else f"its architectures are channel counts such as {archs[0]!r}"
        raise DataFormatError(
            f"{p}: a NATS-Bench size-space (sss) benchmark ({why}); only the topology space (tss, the "
            f"NAS-Bench-201 cells, e.g. NATS-tss-v1_0-3ffb9-simple) can be read"
        )


def _arch_strings(where: Path, doc: Any) -> list[str]:
    if not isinstance(doc, Mapping) or "meta_archs" not in doc:
        keys = sorted(map(str, doc))[:8] if isinstance(doc, Mapping) else type(doc).__name__
        raise DataFormatError(f"{where}: not NATS-Bench meta data: expected a dict with 'meta_archs', got {keys}")
    archs = doc["meta_archs"]
    if not isinstance(archs, (list, tuple)) or not all(isinstance(a, str) for a in archs):
        raise DataFormatError(f"{where}: 'meta_archs' must be a list of arch strings")
    return list(archs)


def _folder_records(p: Path) -> tuple[list[str], Callable[[int], Any], str]:
    """An archive folder's arch strings and a loader of one index's ``{hp: state}``."""
    meta = p / _META
    if not meta.is_file():
        raise DataFormatError(
            f"{p}: not a NATS-Bench archive folder (no {_META}); expected the folder unpacked from "
            f"NATS-tss-v1_0-3ffb9-simple.tar (or the -full archive), or the file NATS-tss-v1_0-3ffb9{_EXT}"
        )
    archs = _arch_strings(meta, _load_pickle(meta))
    names = set(os.listdir(p))

    def load(index: int) -> Any:
        for file_name in (f"{index:06d}{_EXT}", f"{index:d}{_EXT}"):  # the names nats_bench's reload looks for
            if file_name in names:
                return _load_pickle(p / file_name)
        raise ValueError(f"no {index:06d}{_EXT} in the folder")

    return archs, load, "archive folder"


def _file_records(p: Path) -> tuple[list[str], Callable[[int], Any], str]:
    """A benchmark file's arch strings and a loader of one index's ``{hp: state}`` (handed over once)."""
    doc = _load_pickle(p)
    archs = _arch_strings(p, doc)
    infos = doc.get("arch2infos")
    if not isinstance(infos, dict):
        hint = f"; it is an archive folder's meta file: pass the folder {p.parent}" if p.name == _META else ""
        raise DataFormatError(f"{p}: not a NATS-Bench benchmark file ('arch2infos' is not a dict){hint}")

    def load(index: int) -> Any:
        if index not in infos:
            raise ValueError("no results in 'arch2infos'")
        return infos.pop(index)  # handed over once: the loaded file shrinks as the table grows

    return archs, load, "benchmark file"


def _arch_results(nats: Any, per_hp: Any, arch_str: str, hp: str) -> dict[str, Any]:
    """``{hp: ArchResults}`` of one architecture's record, built by the package's own class."""
    if not isinstance(per_hp, Mapping):
        raise ValueError(f"expected {{hp: results}}, got {type(per_hp).__name__}")
    if hp not in per_hp:
        raise ValueError(f"no results for hp={hp!r} (the record has hp {sorted(map(str, per_hp))})")
    state = per_hp[hp]
    if not isinstance(state, dict):
        raise ValueError(f"hp {hp}: expected an ArchResults state dict, got {type(state).__name__}")
    if state.get("arch_str", arch_str) != arch_str:
        raise ValueError(f"the record is of {state['arch_str']}, the meta data lists {arch_str}")
    return {hp: nats.ArchResults.create_from_state_dict(state)}


def read_nats_tss(
    path: str | os.PathLike[str],
    strict: bool = True,
    name: str = "",
    family: str | None = None,
    hp: str = "200",
    progress: bool | None = None,
) -> BenchmarkTable:
    """Read NATS-Bench's topology benchmark (``NATS-tss-v1_0-3ffb9-simple/`` and the other layouts).

    Needs the official ``nats_bench`` package (the ``[nb201]`` extra). The columns are those of
    ``read_nb201_pth`` (see :func:`nb201_api_metrics`): ``test_acc_<hp>ep/<dataset>``,
    ``val_acc_<hp>ep/<dataset>`` (percent, mean over the runs), ``flops/<dataset>``,
    ``params/<dataset>`` and ``latency/<dataset>`` for ``cifar10_valid``, ``cifar10``, ``cifar100`` and
    ``imagenet16_120``; a dataset an architecture was not trained on is NaN.

    Args:
        path: The archive folder (``NATS-tss-v1_0-3ffb9-simple``) or the benchmark file
            ``NATS-tss-v1_0-3ffb9.pickle.pbz2``. The ``-full`` folder reads too, but its files hold the
            trained weights, which are decompressed only to be skipped: prefer ``-simple``.
        strict: Raise on a malformed architecture record; ``False`` skips it, counts it in
            ``table.meta["skipped"]`` and warns once.
        name: The table's name (default: the file or folder name without ``.pickle.pbz2``).
        family: The family the caller expects; only ``"nb201"`` (or ``None``) is accepted.
        hp: The training budget to read, in epochs: ``"200"`` (default) or ``"12"``.
        progress: A progress bar over the architectures (``None``: only when stderr is a terminal).

    Returns:
        A table of family ``nb201``, one row per architecture in index order, keyed by arch string.

    Raises:
        DataNotFoundError: If ``path`` does not exist.
        DataFormatError: If ``path`` is not a NATS-Bench topology benchmark (a size-space ``sss``
            benchmark is refused), if ``family`` is not ``nb201``, or (``strict``) for a malformed record;
            each message names the file or folder and the architecture index.
        MissingDependencyError: If ``nats_bench`` is not installed.
    """
    from gennape_naslib._optional import require
    from gennape_naslib.execution.base import progress_bar

    p = _existing(path)
    _fixed_family(p, _FORMAT, family, "nb201")
    _refuse_size_space(p)
    nats = require("nats_bench", "nb201", "reading NATS-Bench topology files")
    hp = str(hp)
    archs, load, layout = _folder_records(p) if p.is_dir() else _file_records(p)
    _refuse_size_space(p, archs)
    try:  # the package's own API object, given one architecture's records at a time below
        api = nats.create({"meta_archs": archs, "arch2infos": {}, "evaluated_indexes": set()}, "tss",
                          fast_mode=False, verbose=False)  # fmt: skip
    except ValueError as exc:  # two indexes with the same arch string
        raise DataFormatError(f"{p}: {exc}") from exc
    rows = _Rows(str(p), "nb201", strict)
    bar = progress_bar(len(archs), progress, f"{p.name}: architectures")
    for index, arch_str in enumerate(archs):
        if bar is not None:
            bar.update()
        try:
            api.arch2infos_dict[index] = _arch_results(nats, load(index), arch_str, hp)
            api.evaluated_indexes.add(index)
            metrics = nb201_api_metrics(api, index, hp)
        except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:  # DataFormatError is a ValueError
            rows.reject(f"{p}: index {index}: NATS-Bench record not readable ({exc})", exc)
            continue
        finally:
            api.arch2infos_dict.pop(index, None)
            api.evaluated_indexes.discard(index)
        rows.add(f"index {index}", "nb201", arch_str, metrics)
    if bar is not None:
        bar.close()
    units = {f"{column}_{hp}ep": "percent" for column in ("test_acc", "val_acc")}  # the columns' names, per dataset
    meta = {"source": str(p), "format": _FORMAT, "layout": layout, "hp": hp, "units": units}
    return rows.table(name or p.name.removesuffix(_EXT), meta)
