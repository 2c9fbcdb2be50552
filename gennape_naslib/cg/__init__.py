"""GENNAPE computation graphs: the model, builders, importers, features, I/O and drawing."""

from __future__ import annotations

from gennape_naslib.cg.builder import CGBuilder
from gennape_naslib.cg.from_onnx import from_onnx
from gennape_naslib.cg.from_tf import freeze_keras_model, from_tf_graphdef, write_pb
from gennape_naslib.cg.from_torch import TraceError, from_torch
from gennape_naslib.cg.graph import ComputeGraph, GraphError, Node
from gennape_naslib.cg.vocab import OPS, op_from_label, op_index

__all__ = [
    "CGBuilder",
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
