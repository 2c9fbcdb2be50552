"""GENNAPE computation graphs: the model, builders, importers, features, I/O and drawing."""

from __future__ import annotations

from gennape_naslib.cg.builder import CGBuilder
from gennape_naslib.cg.features import gennape_feature_lists, gennape_features, gennape_order, to_pyg
from gennape_naslib.cg.from_onnx import from_onnx
from gennape_naslib.cg.from_tf import freeze_keras_model, from_tf_graphdef, write_pb
from gennape_naslib.cg.from_torch import TraceError, from_torch
from gennape_naslib.cg.gennape_cache import UnsafePickleError, load_gennape_cache, load_gennape_json
from gennape_naslib.cg.graph import ComputeGraph, GraphError, Node
from gennape_naslib.cg.io import (
    CGFormatError,
    GraphCollection,
    from_dict,
    from_gennape_state_dict,
    load_json,
    load_npz,
    save_json,
    save_npz,
    to_dict,
    to_gennape_state_dict,
)
from gennape_naslib.cg.vocab import OPS, op_from_label, op_index

__all__ = [
    "CGBuilder",
    "CGFormatError",
    "GraphCollection",
    "UnsafePickleError",
    "from_dict",
    "from_gennape_state_dict",
    "gennape_feature_lists",
    "gennape_features",
    "gennape_order",
    "load_gennape_cache",
    "load_gennape_json",
    "load_json",
    "load_npz",
    "save_json",
    "save_npz",
    "to_dict",
    "to_gennape_state_dict",
    "to_pyg",
    "ComputeGraph",
    "GraphError",
    "Node",
    "OPS",
    "TraceError",
    "freeze_keras_model",
    "from_onnx",
    "from_tf_graphdef",
    "from_torch",
    "op_from_label",
    "op_index",
    "write_pb",
]
