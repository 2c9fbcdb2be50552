"""Import the computation-graph caches that the GENNAPE authors publish, without TensorFlow.

Two kinds of files exist (GENNAPE_FACTS 1.12):

* **Pickled caches** (``gpi_<family>_comp_graph_cache.pkl``): a list of records ``{"compute graph":
  <ComputeGraph>, "acc", "flops", "n_params", "original config"}`` whose graphs are objects of
  GENNAPE's ``model_src.comp_graph.tf_comp_graph`` module. :func:`load_gennape_cache` reads them with
  a restricted unpickler: only those three classes (mapped onto small local stand-ins that hold
  attributes), plain containers (and ``range``), numpy arrays and scalars, and a ``Genotype`` namedtuple (the
  NB-301 configs, under whatever module path it was written) may be constructed. Anything else
  raises :class:`UnsafePickleError` before it is called, so a crafted file cannot run code.
  Unlabelled caches written by GENNAPE's ``make_new_family_cgs.py`` (records ``{"compute graph",
  "original config"}``) keep Two-Path and Inception configs as objects of
  ``model_src.search_space.hiaml_two_path.arch_configs`` (``TwoPathNetConfig``,
  ``SinglePathBlockConfig``) and ``model_src.search_space.inception.arch_config`` (``NetConfig``,
  ``BlockConfig``); those four names are read into stand-ins too and returned as the config's state
  dict (what the configs' own ``state_dict()`` gives; sets of reduction positions become sorted lists).
* **Labelled JSON files** (HiAML, Two-Path, Inception): ``{id: {"net_config", "max_perf" (percent),
  "perfs", "cg" (a GENNAPE state dict)}}``, read by :func:`load_gennape_json`.

Graphs are converted to :class:`~gennape_naslib.cg.graph.ComputeGraph` through
:func:`~gennape_naslib.cg.io.from_gennape_state_dict` (topological node order, stored maxima kept).
"""

from __future__ import annotations

import _compat_pickle
import codecs
import collections
import copyreg
import importlib
import json
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from gennape_naslib.cg._format import CGFormatError, short
from gennape_naslib.cg.io import from_gennape_state_dict

__all__ = [
    "CachedComputeGraph",
    "CachedRegularNode",
    "CachedWeightedNode",
    "Genotype",
    "UnsafePickleError",
    "cached_graph_to_state_dict",
    "load_gennape_cache",
    "load_gennape_json",
]

_GENNAPE_MODULE = "model_src.comp_graph.tf_comp_graph"
_TWO_PATH_MODULE = "model_src.search_space.hiaml_two_path.arch_configs"
_INCEPTION_MODULE = "model_src.search_space.inception.arch_config"


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle asks for a class or function that a GENNAPE cache has no reason to contain."""


class Genotype(NamedTuple):
    """A DARTS / NAS-Bench-301 genotype, as stored in the ``"original config"`` of NB-301 records."""

    normal: Any
    normal_concat: Any
    reduce: Any
    reduce_concat: Any


class _StandIn:
    """Holds the attributes of a pickled GENNAPE object; never runs any of GENNAPE's code."""

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict state, slot state)
            state, slots = state
            if isinstance(slots, dict):
                self.__dict__.update(slots)
        if isinstance(state, dict):
            self.__dict__.update(state)
        elif state is not None:
            raise pickle.UnpicklingError(f"unexpected state of type {type(state).__name__} for {type(self).__name__}")


class CachedComputeGraph(_StandIn):
    """Stand-in for GENNAPE's ``ComputeGraph``."""


class CachedRegularNode(_StandIn):
    """Stand-in for GENNAPE's ``RegularNode``."""


class CachedWeightedNode(_StandIn):
    """Stand-in for GENNAPE's ``WeightedNode``."""


class _CachedConfig(_StandIn):
    """Stand-in for one of GENNAPE's architecture-config classes (attributes only)."""


class _CachedTwoPathNetConfig(_CachedConfig):
    pass


class _CachedSinglePathBlockConfig(_CachedConfig):
    pass


class _CachedInceptionNetConfig(_CachedConfig):
    pass


class _CachedInceptionBlockConfig(_CachedConfig):
    pass


_CONFIG_FIELDS: dict[type, tuple[str, ...]] = {
    _CachedTwoPathNetConfig: ("path1", "path2", "path1_reduce_inds", "path2_reduce_inds"),
    _CachedSinglePathBlockConfig: ("op_names", "op_types"),
    _CachedInceptionNetConfig: ("stages",),
    _CachedInceptionBlockConfig: ("paths",),
}


def _config_state(value: Any, where: str) -> Any:
    """GENNAPE's state dict of a config stand-in (recursively); plain values are returned unchanged."""
    if isinstance(value, _CachedConfig):
        state = {}
        kind = type(value).__name__.removeprefix("_Cached").removeprefix("Inception")
        for field in _CONFIG_FIELDS[type(value)]:
            if not hasattr(value, field):
                raise CGFormatError(f"{where}.{field}: missing attribute of a GENNAPE {kind}")
            state[field] = _config_state(getattr(value, field), f"{where}.{field}")
        return state
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, dict):
        return {k: _config_state(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)) and any(isinstance(v, (_CachedConfig, set, frozenset, dict)) for v in value):
        return type(value)(_config_state(v, f"{where}[{i}]") for i, v in enumerate(value))
    return value


def _numpy_attr(name: str, modules: tuple[str, ...]) -> Any:
    """The installed numpy's ``name`` from the first importable module (numpy 2 moved ``core``)."""
    for module in modules:
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    return None


def _allowed() -> dict[tuple[str, str], Any]:
    table: dict[tuple[str, str], Any] = {
        (_GENNAPE_MODULE, "ComputeGraph"): CachedComputeGraph,
        (_GENNAPE_MODULE, "RegularNode"): CachedRegularNode,
        (_GENNAPE_MODULE, "WeightedNode"): CachedWeightedNode,
        (_TWO_PATH_MODULE, "TwoPathNetConfig"): _CachedTwoPathNetConfig,
        (_TWO_PATH_MODULE, "SinglePathBlockConfig"): _CachedSinglePathBlockConfig,
        (_INCEPTION_MODULE, "NetConfig"): _CachedInceptionNetConfig,
        (_INCEPTION_MODULE, "BlockConfig"): _CachedInceptionBlockConfig,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("copyreg", "_reconstructor"): copyreg._reconstructor,  # type: ignore[attr-defined]
        ("_codecs", "encode"): codecs.encode,  # bytes in protocol 0-2 pickles
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }
    for name in ("set", "frozenset", "tuple", "list", "dict", "bytes", "bytearray", "str", "int", "float"):
        table[("builtins", name)] = getattr(__import__("builtins"), name)
    table[("builtins", "range")] = range  # DARTS genotypes store concat lists as range(2, 6)
    table[("builtins", "complex")] = complex
    table[("builtins", "bool")] = bool
    table[("builtins", "object")] = object  # only useful as the base argument of copyreg._reconstructor
    for name, modules in (
        ("_reconstruct", ("numpy._core.multiarray", "numpy.core.multiarray")),
        ("scalar", ("numpy._core.multiarray", "numpy.core.multiarray")),
        ("_frombuffer", ("numpy._core.numeric", "numpy.core.numeric")),
    ):
        func = _numpy_attr(name, modules)
        if func is not None:
            for module in modules:
                table[(module, name)] = func
    return table


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the names a GENNAPE cache needs."""

    _ALLOWED: dict[tuple[str, str], Any] | None = None

    def __init__(self, file: Any, source: str) -> None:
        super().__init__(file)
        self.source = source
        if _RestrictedUnpickler._ALLOWED is None:
            _RestrictedUnpickler._ALLOWED = _allowed()

    def find_class(self, module: str, name: str) -> Callable[..., Any]:
        allowed = self._ALLOWED or {}
        # Python-2 names, which Python 3 writes for protocols 0-2 (copy_reg, __builtin__); renaming
        # is harmless for other protocols because the result still has to pass the allow-list.
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        found = allowed.get((module, name))
        if found is not None:
            return found  # type: ignore[no-any-return]
        if name == "Genotype":
            return Genotype
        raise UnsafePickleError(
            f"{self.source}: refusing to load {module}.{name}: a GENNAPE cache may only contain "
            f"{_GENNAPE_MODULE}.{{ComputeGraph,RegularNode,WeightedNode}}, GENNAPE's Two-Path and "
            "Inception config classes, a Genotype namedtuple, plain containers and numpy arrays"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"{self.source}: refusing to load persistent id {short(pid)}")


def _gennape_name(cls: type) -> str:
    """GENNAPE's class name for a stand-in class (``CachedRegularNode`` -> ``RegularNode``)."""
    return cls.__name__.removeprefix("Cached")


def _attr(obj: Any, name: str, where: str) -> Any:
    if not hasattr(obj, name):
        raise CGFormatError(f"{where}.{name}: missing attribute of a GENNAPE {_gennape_name(type(obj))}")
    return getattr(obj, name)


def _node_state(node: Any, where: str, weighted: bool) -> dict[str, Any]:
    expected = CachedWeightedNode if weighted else CachedRegularNode
    if not isinstance(node, (CachedRegularNode, CachedWeightedNode)):
        raise CGFormatError(f"{where}: expected a GENNAPE {_gennape_name(expected)}, got {type(node).__name__}")
    state = {
        "str_id": getattr(node, "str_id", None),
        "op_type_idx": _attr(node, "op_type_idx", where),
        "label": getattr(node, "label", ""),
        "resolution": _attr(node, "resolution", where),
        "strides": getattr(node, "strides", None),
        "metadata": getattr(node, "metadata", None),
    }
    if weighted:
        state["shape"] = _attr(node, "shape", where)
    return state


def cached_graph_to_state_dict(graph: Any, where: str = "compute graph") -> dict[str, Any]:
    """Turn an unpickled GENNAPE ``ComputeGraph`` stand-in into a GENNAPE state dict.

    Args:
        graph: A :class:`CachedComputeGraph` (as produced by the restricted unpickler).
        where: Description used in error messages.

    Raises:
        CGFormatError: If the object is not a GENNAPE graph or lacks an attribute.
    """
    if not isinstance(graph, CachedComputeGraph):
        raise CGFormatError(f"{where}: expected a GENNAPE ComputeGraph, got {type(graph).__name__}")
    state: dict[str, Any] = {
        "name": getattr(graph, "name", ""),
        "input_shape": getattr(graph, "input_shape", None),
        "edge_pairs": _attr(graph, "edge_pairs", where),
    }
    for key in ("max_hidden_size", "max_kernel_size", "max_derived_H", "max_derived_W"):
        if hasattr(graph, key):
            state[key] = getattr(graph, key)
    for key, weighted in (("regular_nodes", False), ("weighted_nodes", True)):
        nodes = _attr(graph, key, where)
        if not isinstance(nodes, (list, tuple)):
            raise CGFormatError(f"{where}.{key}: expected a list of nodes, got {type(nodes).__name__}")
        state[key] = [_node_state(node, f"{where}.{key}[{i}]", weighted) for i, node in enumerate(nodes)]
    return state


def _plain(value: Any) -> Any:
    """numpy scalars become Python numbers; everything else is returned unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def load_gennape_cache(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a pickled GENNAPE cache safely and convert its graphs.

    Args:
        path: A ``gpi_*_comp_graph_cache.pkl`` file.

    Returns:
        One dict per record, in file order, with ``"compute graph"`` (a
        :class:`~gennape_naslib.cg.graph.ComputeGraph`) and, where the record has them, ``"acc"``,
        ``"flops"``, ``"n_params"`` (numpy scalars turned into Python numbers) and ``"original
        config"`` (GENNAPE's Two-Path / Inception config objects as their state dicts); other keys
        are passed through.

    Raises:
        UnsafePickleError: If the pickle references anything outside the allowed set (nothing it
            references is called).
        CGFormatError: If the file is not a readable pickle, or not a list of GENNAPE records.
    """
    source = str(path)
    with open(path, "rb") as handle:
        try:
            data = _RestrictedUnpickler(handle, source).load()
        except UnsafePickleError:
            raise
        except (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError, IndexError, KeyError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
            raise CGFormatError(f"{source}: not a readable GENNAPE cache pickle ({reason})") from None
    if not isinstance(data, list):
        raise CGFormatError(f"{source}: expected a list of records, got {type(data).__name__}")
    records = []
    for i, record in enumerate(data):
        where = f"{source}: record {i}"
        if not isinstance(record, dict):
            raise CGFormatError(f"{where}: expected a dict, got {type(record).__name__}")
        if "compute graph" not in record:
            raise CGFormatError(f"{where}: 'compute graph': missing (keys: {sorted(map(str, record))})")
        out = {key: _plain(value) for key, value in record.items()}
        if "original config" in out:
            out["original config"] = _config_state(out["original config"], f"{where}: original config")
        state = cached_graph_to_state_dict(record["compute graph"], f"{where}: compute graph")
        out["compute graph"] = from_gennape_state_dict(state, source=f"{where}: compute graph")
        records.append(out)
    return records


def load_gennape_json(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read one of GENNAPE's labelled JSON files (HiAML, Two-Path, Inception).

    Args:
        path: A file such as ``gpi_test_hiaml_cifar10_labelled_cg_data.json``.

    Returns:
        One dict per entry, in file order: ``"compute graph"``, ``"acc"`` (``max_perf / 100``, a
        fraction), ``"original config"`` (the entry's ``net_config``, when present) and ``"id"``
        (the entry's key).

    Raises:
        CGFormatError: If the file is not JSON of that layout; the message names the entry and field.
    """
    source = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CGFormatError(f"{source}: not a valid JSON file ({exc})") from None
    if not isinstance(data, dict):
        raise CGFormatError(f"{source}: expected an object mapping ids to entries, got {type(data).__name__}")
    records = []
    for key, entry in data.items():
        where = f"{source}: [{key!r}]"
        if not isinstance(entry, dict):
            raise CGFormatError(f"{where}: expected an object, got {short(entry)}")
        for field in ("cg", "max_perf"):
            if field not in entry:
                raise CGFormatError(f"{where}.{field}: missing")
        perf = entry["max_perf"]
        if not isinstance(perf, (int, float)) or isinstance(perf, bool):
            raise CGFormatError(f"{where}.max_perf: expected a number (percent), got {short(perf)}")
        record: dict[str, Any] = {
            "compute graph": from_gennape_state_dict(entry["cg"], source=f"{where}.cg"),
            "acc": float(perf) / 100.0,
        }
        if "net_config" in entry:
            record["original config"] = entry["net_config"]
        record["id"] = key
        records.append(record)
    return records
