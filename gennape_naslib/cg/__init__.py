"""GENNAPE computation graphs: the model, builders, importers, features, I/O and drawing."""

from __future__ import annotations

from gennape_naslib.cg.builder import CGBuilder
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
    "from_torch",
    "op_from_label",
    "op_index",
]
