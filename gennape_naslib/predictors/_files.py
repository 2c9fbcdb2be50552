"""The predictor file format: one NPZ archive, no pickles.

A predictor file is an uncompressed-on-read, ``allow_pickle=False`` NPZ archive holding every array of
the predictor's state plus one text entry, ``__predictor__``, with a JSON header::

    {"format": "gennape_naslib.predictor", "format_version": 1, "version": "<package version>",
     "class": "<module>:<QualName>", "name": "<registry name>", "params": {...}, "state": {...}}

``params`` and ``state`` are trees of JSON values, tuples, dicts, numpy arrays, torch tensors and
computation graphs; arrays and tensors are stored as NPZ members and referenced from the JSON.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from gennape_naslib._atomic import atomic_write

__all__ = ["FORMAT", "FORMAT_VERSION", "PredictorFileError", "decode_tree", "encode_tree", "read_file", "write_file"]

FORMAT = "gennape_naslib.predictor"
FORMAT_VERSION = 1
_HEADER = "__predictor__"


class PredictorFileError(ValueError):
    """A file is not a readable gennape-naslib predictor file."""


def encode_tree(value: Any, arrays: dict[str, np.ndarray], where: str = "state") -> Any:
    """Encode ``value`` as JSON, moving arrays and tensors into ``arrays``.

    Raises:
        TypeError: If the tree holds an object that cannot be saved; the message names its place.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise TypeError(f"{where}: cannot save a numpy array of Python objects")
        key = f"a{len(arrays)}"
        arrays[key] = value
        return {"__array__": key}
    if isinstance(value, tuple):
        return {"__tuple__": [encode_tree(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [encode_tree(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {"__dict__": {k: encode_tree(v, arrays, f"{where}[{k!r}]") for k, v in value.items()}}
        return {
            "__items__": [
                [encode_tree(k, arrays, f"{where}.key"), encode_tree(v, arrays, f"{where}[{k!r}]")]
                for k, v in value.items()
            ]
        }
    module = type(value).__module__.split(".")[0]
    if module == "torch":
        import torch

        if isinstance(value, torch.Tensor):
            tensor = value.detach().cpu()
            dtype = str(tensor.dtype).removeprefix("torch.")
            if tensor.dtype == torch.bfloat16:
                tensor = tensor.float()
            key = f"a{len(arrays)}"
            arrays[key] = tensor.numpy()
            return {"__tensor__": key, "dtype": dtype}
    if module == "gennape_naslib":
        from gennape_naslib.cg.graph import ComputeGraph

        if isinstance(value, ComputeGraph):
            from gennape_naslib.cg.io import to_dict

            return {"__cg__": encode_tree(to_dict(value), arrays, where)}
    raise TypeError(
        f"{where}: cannot save an object of type {type(value).__module__}.{type(value).__qualname__}; "
        "store JSON values, tuples, dicts, numpy arrays, torch tensors or ComputeGraphs"
    )


def _member(arrays: Any, key: Any, source: str) -> np.ndarray:
    """The array member ``key`` of a predictor file, copied out of the archive.

    Raises:
        PredictorFileError: If the file has no such member (an incomplete or corrupted file).
    """
    if not isinstance(key, str) or key not in arrays:
        raise PredictorFileError(
            f"{source}: the predictor file lacks the array member {key!r} that its header refers to "
            "(the file is incomplete or corrupted)"
        )
    return np.array(arrays[key])


def decode_tree(value: Any, arrays: Any, source: str = "<file>") -> Any:
    """Inverse of :func:`encode_tree`.

    Raises:
        PredictorFileError: If the tree refers to an array member ``arrays`` lacks, or holds an entry of an
            unknown kind (the message names ``source``).
    """
    if isinstance(value, list):
        return [decode_tree(v, arrays, source) for v in value]
    if not isinstance(value, dict):
        return value
    if "__array__" in value:
        return _member(arrays, value["__array__"], source)
    if "__tensor__" in value:
        import torch

        tensor = torch.from_numpy(_member(arrays, value["__tensor__"], source))
        return tensor.to(getattr(torch, value.get("dtype", "float32")))
    if "__tuple__" in value:
        return tuple(decode_tree(v, arrays, source) for v in value["__tuple__"])
    if "__dict__" in value:
        return {k: decode_tree(v, arrays, source) for k, v in value["__dict__"].items()}
    if "__items__" in value:
        return {decode_tree(k, arrays, source): decode_tree(v, arrays, source) for k, v in value["__items__"]}
    if "__cg__" in value:
        from gennape_naslib.cg.io import from_dict

        return from_dict(decode_tree(value["__cg__"], arrays, source))
    raise PredictorFileError(f"{source}: unknown entry in the predictor file: keys {sorted(value)}")


def write_file(path: str | os.PathLike[str], header: dict[str, Any], params: Any, state: Any) -> Path:
    """Write a predictor file atomically and return its path."""
    arrays: dict[str, np.ndarray] = {}
    doc = dict(header)
    doc["params"] = encode_tree(params, arrays, "params")
    doc["state"] = encode_tree(state, arrays, "state")
    text = json.dumps(doc, allow_nan=True)
    target = Path(path)
    with atomic_write(target, "wb") as handle:
        np.savez_compressed(handle, **{_HEADER: np.array(text)}, **arrays)
    return target


def read_file(path: str | os.PathLike[str]) -> tuple[dict[str, Any], Any, Any]:
    """Read a predictor file.

    Returns:
        ``(header, params, state)`` with arrays and tensors restored.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        PredictorFileError: If ``path`` is not a predictor file (the message names the file).
    """
    source = str(path)
    if not Path(path).exists():
        raise FileNotFoundError(f"predictor file not found: {source}")
    with open(path, "rb") as handle:
        magic = handle.read(4)
    if magic != b"PK\x03\x04":
        raise PredictorFileError(f"{source} is not a gennape-naslib predictor file (not an NPZ archive)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if _HEADER not in archive.files:
                raise PredictorFileError(f"{source} is not a gennape-naslib predictor file (no {_HEADER} entry)")
            doc = json.loads(str(archive[_HEADER]))
            if not isinstance(doc, dict) or doc.get("format") != FORMAT:
                raise PredictorFileError(f"{source} is not a gennape-naslib predictor file (format is not {FORMAT!r})")
            arrays = {name: archive[name] for name in archive.files if name != _HEADER}
    except PredictorFileError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise PredictorFileError(f"{source} is not a gennape-naslib predictor file ({exc})") from None
    if int(doc.get("format_version", 0)) > FORMAT_VERSION:
        raise PredictorFileError(
            f"{source} uses predictor file format {doc.get('format_version')}, newer than this package reads "
            f"({FORMAT_VERSION}); upgrade gennape-naslib"
        )
    params = decode_tree(doc.pop("params", {}), arrays, source)
    state = decode_tree(doc.pop("state", {}), arrays, source)
    return doc, params, state
