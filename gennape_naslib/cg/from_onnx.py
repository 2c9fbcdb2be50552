"""Import an ONNX model as a computation graph.

The rules are those of :func:`~gennape_naslib.cg.from_torch.from_torch` (and so of a frozen
TensorFlow graph, GENNAPE_FACTS 1.7), applied to ONNX operators:

=======================================  ======================================================
ONNX                                     computation-graph nodes
=======================================  ======================================================
``Conv`` (``group == C_in > 1``)         ``depthwise`` ``[C, C_out/C, k1, k2]`` (else ``conv``
                                         ``[C_in/group, C_out, k1, k2]``); bias flag from input 3
``Gemm``; ``MatMul`` (+ ``Add`` bias)    ``matmul`` ``[C_in, C_out, 0, 0]``; bias flag
``BatchNormalization``                   ``batchnorm``
``Relu``/``LeakyRelu``, ``Sigmoid``,     ``relu``, ``sigmoid``, ``tanh``, ``gelu``
``Tanh``, ``Gelu``
``Div``, ``Erf``, ``Add``, ``Mul``,     ``gelu`` (the GELU ``x * (1 + erf(x / sqrt 2)) * 0.5``
``Mul`` in a chain                       that ``torch.onnx.export`` writes below opset 20)
``Clip(0, 6)``, ``HardSigmoid``          ``relu6`` (other clips are ``<oov>``)
``HardSwish``                            ``relu6`` then ``mul`` (parents: the input and the relu6)
``Mul``/``Add`` of two data tensors      ``mul``/``add``; with a constant operand the op vanishes;
                                         multiplication by the constant 0 is a ``zero`` node
``Concat``                               ``concat``
``MaxPool``/``AveragePool``              ``maxpool``/``avgpool`` (strides, kernel, pads metadata)
``GlobalAveragePool``, ``ReduceMean``    ``mean`` (``GlobalMaxPool``: ``maxpool``)
``Pad``                                  ``paddings``
``Dropout``                              ``identity``
``Flatten``, ``Reshape``, ``Squeeze``,   vanish (their parents connect to their children)
``Unsqueeze``, ``Transpose``, ``Shape``,
``Gather``, ``Constant``, ``Identity``,
``Cast``, ``Slice``, ``Softmax``, ...
anything else                            ``<oov>``, with one warning naming the op types
=======================================  ======================================================

Resolutions come from shape inference: the first *data* input tensor and the first output tensor
of each node, NCHW read as ``(H, W, C)``, 2-D tensors as ``(1, 1, C)``, tensors of rank 5 or more
with the axes between C and the last one folded into H; a dense layer (``Gemm``, ``MatMul``) acts on
the last axis, so its C is the last axis and its rows (tokens ``(N, L, C)``: ``L x 1``;
channels-last ``(N, H, W, C)``: ``H x W``) are H x W. The graph describes one input (a free batch
axis counts as 1), so a dense layer's leading axis is rows too when it is not 1 (sequence-first
``(L, 1, C)``, flattened ``(L, C)``, stacked windows). Anything computed only from initializers and
constants (weights, shape arithmetic) is not data and vanishes; such subgraphs are first evaluated
with ``onnx.reference``, and ``Shape``/``Size`` of data tensors are constants too, so that every
data tensor gets its shape (the legacy torch exporter computes pad sizes, ``torch.chunk`` splits and
Swin's window partitions from them).

Exporters may change the graph before it gets here: ``torch.onnx.export`` in eval mode folds
batch norm into the preceding convolution (export with
``training=torch.onnx.TrainingMode.PRESERVE`` to keep it) and drops ``Dropout``; the legacy exporter
also merges identical ops on the same tensor (common-subexpression elimination: several ``ReLU`` of
one node, as in NB-201 / DARTS cells whose edges each start with a ReLU, become one) and nested
concatenations into one ``Concat`` (Inception-v3's ``InceptionE``: 1 instead of 3), and writes
``torch.roll`` as slices and a ``Concat``. Such graphs then differ from ``from_torch`` of the same
module; the lowering can only show what the file holds.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from pathlib import Path
from typing import Any

from gennape_naslib._optional import require
from gennape_naslib.cg._lowering import RawNode, any_rank_hwc, dense_rows_hwc, finalize, rows_hwc_of, split_dilated_conv
from gennape_naslib.cg.graph import ComputeGraph, GraphError
from gennape_naslib.cg.vocab import OOV

__all__ = ["from_onnx"]

logger = logging.getLogger(__name__)

_OPS: dict[str, str] = {
    "Conv": "conv",
    "Gemm": "gemm",
    "MatMul": "matmul",
    "BatchNormalization": "batchnorm",
    "Relu": "relu",
    "LeakyRelu": "relu",
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
    "Gelu": "gelu",
    "Clip": "clip",
    "HardSwish": "hswish",
    "HardSigmoid": "relu6",
    "Mul": "mul",
    "Add": "add",
    "Sum": "add",
    "Sub": "arith",
    "Div": "arith",
    "Concat": "concat",
    "MaxPool": "maxpool",
    "AveragePool": "avgpool",
    "GlobalAveragePool": "mean",
    "GlobalMaxPool": "maxpool",
    "ReduceMean": "mean",
    "Pad": "paddings",
    "Dropout": "identity",
    "SpaceToDepth": "spacetodepthnd",
    "DepthToSpace": "depthtospacend",
    **dict.fromkeys(
        (
            "Flatten Reshape Squeeze Unsqueeze Transpose Shape Size Gather Constant Identity Cast Slice "
            "Softmax LogSoftmax ConstantOfShape Expand Split Tile Range"
        ).split(),
        "",
    ),
}
# Their outputs describe a tensor's shape, not its values: never data.
_SHAPE_OPS = frozenset({"Shape", "Size"})
# Random and control-flow ops are never evaluated ahead of time.
_NO_FOLD = frozenset(
    {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "If", "Loop", "Scan"}
)


def _load(onnx: Any, model: Any) -> tuple[Any, str]:
    if isinstance(model, (str, os.PathLike)):
        path = Path(model)
        if not path.is_file():
            raise GraphError(f"ONNX file {str(path)!r} does not exist")
        try:
            proto = onnx.load(str(path), load_external_data=False)
            _load_small_external(onnx, proto, path.parent)
        except Exception as exc:
            raise GraphError(f"{str(path)!r} is not a readable ONNX model ({exc.__class__.__name__}: {exc})") from exc
        if not proto.graph.node:
            raise GraphError(f"{str(path)!r} holds an ONNX model without nodes; is it an ONNX file?")
        return proto, str(path)
    if not hasattr(model, "graph"):
        raise TypeError(f"from_onnx expects an onnx.ModelProto or a path to a .onnx file, got {type(model).__name__}")
    return model, "ONNX model"


#: External tensors up to this many elements are read (shapes, pads, axes: what folding and inference use).
_SMALL_EXTERNAL = 4096


def _load_small_external(onnx: Any, proto: Any, base_dir: Path) -> None:
    """Read the small tensors a model keeps in external files; leave its weights there.

    A graph needs its weights' shapes (in the model file), not their values. Models over protobuf's
    2 GB limit must keep their weights outside the model file; leaving them there keeps the model
    small enough for ONNX shape inference, which serialises it.
    """
    from onnx.external_data_helper import load_external_data_for_tensor, uses_external_data

    for tensor in _all_tensors(proto.graph):
        if uses_external_data(tensor) and math.prod(tensor.dims) <= _SMALL_EXTERNAL:
            load_external_data_for_tensor(tensor, str(base_dir))
            tensor.data_location = onnx.TensorProto.DEFAULT
            del tensor.external_data[:]


def _all_tensors(graph: Any) -> list[Any]:
    """The initializers and ``Constant`` values of a graph (not of subgraphs: never data here)."""
    tensors = list(graph.initializer)
    for node in graph.node:
        tensors += [a.t for a in node.attribute if a.HasField("t")]
    return tensors


def _has_data(onnx: Any, tensor: Any) -> bool:
    """Whether a tensor's values are in the model (not left in an external file)."""
    return tensor.data_location != onnx.TensorProto.EXTERNAL


def _dims(type_proto: Any) -> list[int | None] | None:
    """The dims of a tensor type (``None`` for an unknown one)."""
    tensor_type = type_proto.tensor_type
    if not tensor_type.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim]


def _shape_value(node: Any, dims: list[int], onnx: Any) -> Any:
    """The value of ``Shape`` (with its ``start``/``end``) or ``Size`` of a tensor of shape ``dims``."""
    import numpy as np

    if node.op_type == "Size":
        return np.array(int(np.prod(dims)), dtype=np.int64)
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    start, end = attrs.get("start", 0), attrs.get("end", None)
    return np.array(dims[start:end], dtype=np.int64)


def _static_dims(type_proto: Any) -> list[int] | None:
    """The dims of a tensor type when every one is known."""
    dims = _dims(type_proto)
    return None if dims is None or any(d is None for d in dims) else [int(d) for d in dims]


def _fold_constants(onnx: Any, proto: Any) -> Any:
    """Fold what the fixed input shape determines, and give every data tensor its shape, in one pass.

    Nodes computed only from constants are evaluated with ``onnx.reference`` (exporters build pad
    sizes that way), and so are ``Shape`` and ``Size`` of data tensors, whose shapes are fixed by the
    input's: the size arithmetic that exporters write for ``torch.chunk``, ``x.size(0) // 2`` or
    Swin's window partition (``Shape -> Gather -> Div -> Reshape``) becomes constants. The other
    nodes' output shapes are inferred one node at a time, from their inputs' shapes and constant
    values, in graph order; they become the returned model's value infos. (Whole-model shape
    inference cannot see through such arithmetic, and leaves the windows axis of Swin unknown.)
    Nodes that cannot be evaluated or inferred are kept as they are.
    """
    from onnx.reference import ReferenceEvaluator

    graph = proto.graph
    opset = {o.domain or "": o.version for o in proto.opset_import}
    known = {init.name: onnx.numpy_helper.to_array(init) for init in graph.initializer if _has_data(onnx, init)}
    types: dict[str, Any] = {}
    for vi in graph.input:
        if vi.name in known:
            continue
        t = onnx.TypeProto()
        t.CopyFrom(vi.type)
        dims = t.tensor_type.shape.dim if t.tensor_type.HasField("shape") else []
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_value = 1  # a free batch axis: the graph describes one input
        types[vi.name] = t
    data = set(types)
    kept, folded = [], {}
    for node in graph.node:
        inputs = [t for t in node.input if t]
        if node.op_type in _SHAPE_OPS and len(inputs) == 1 and inputs[0] in types:
            dims = _static_dims(types[inputs[0]])
            if dims is not None:
                known[node.output[0]] = folded[node.output[0]] = _shape_value(node, dims, onnx)
                continue
        if any(t in data for t in inputs) or not all(t in known for t in inputs) or node.op_type in _NO_FOLD:
            if any(t in data for t in inputs):
                data.update(node.output)
            kept.append(node)
            types.update(_infer_node(onnx, node, types, known, opset))
            continue
        try:
            outs = ReferenceEvaluator(node).run(None, {t: known[t] for t in inputs})
        except Exception:  # an op the reference runtime lacks: leave it to shape inference
            kept.append(node)
            continue
        for t, value in zip(node.output, outs):
            known[t] = folded[t] = value
    used = {t for node in kept for t in node.input} | {vo.name for vo in graph.output}
    new = onnx.ModelProto()
    new.CopyFrom(proto)
    del new.graph.node[:]
    new.graph.node.extend(kept)
    new.graph.initializer.extend(onnx.numpy_helper.from_array(value, t) for t, value in folded.items() if t in used)
    outputs = {vo.name for vo in graph.output}
    del new.graph.value_info[:]
    new.graph.value_info.extend(
        onnx.helper.make_value_info(t, type_proto)
        for t, type_proto in types.items()
        if t in data and t not in outputs and type_proto.HasField("tensor_type")
    )
    return new


def _infer_node(onnx: Any, node: Any, types: dict[str, Any], known: dict[str, Any], opset: dict[str, int]) -> Any:
    """Output types of one node from its inputs' types and constant values (empty if it cannot be inferred)."""
    try:
        schema = onnx.defs.get_schema(node.op_type, opset.get(node.domain or "", 1), node.domain or "")
        in_types = {}
        for t in node.input:
            if not t:
                continue
            if t in types:
                in_types[t] = types[t]
            elif t in known:
                in_types[t] = onnx.helper.make_tensor_type_proto(
                    onnx.helper.np_dtype_to_tensor_dtype(known[t].dtype), list(known[t].shape)
                )
            else:
                return {}
        # Constant values matter to inference only as shapes, pads, axes, ...: small (weights would be slow).
        small = [t for t in node.input if t in known and known[t].size <= 64]
        in_data = {t: onnx.numpy_helper.from_array(known[t], t) for t in small}
        return onnx.shape_inference.infer_node_outputs(schema, node, in_types, in_data)
    except Exception:  # unknown op or failed inference: whole-model inference may still know
        return {}


class _Importer:
    def __init__(self, onnx: Any, proto: Any, name: str, source: str) -> None:
        self.onnx, self.name, self.source = onnx, name, source
        try:
            proto = onnx.shape_inference.infer_shapes(_fold_constants(onnx, proto), data_prop=True)
        except Exception as exc:
            raise GraphError(f"{source}: ONNX shape inference failed ({exc.__class__.__name__}: {exc})") from exc
        self.graph = proto.graph
        self.shapes: dict[str, list[int | None] | None] = {}
        for vi in [*self.graph.input, *self.graph.value_info, *self.graph.output]:
            self.shapes[vi.name] = _dims(vi.type)
        self.consts: dict[str, Any] = {}
        for init in self.graph.initializer:
            self.shapes[init.name] = list(init.dims)
            self.consts[init.name] = init
        for node in self.graph.node:
            if node.op_type == "Constant" and node.output:
                for attr in node.attribute:
                    if attr.name == "value":
                        self.consts[node.output[0]] = attr.t
                        self.shapes[node.output[0]] = list(attr.t.dims)
        self.oov: dict[str, int] = {}
        self.batch_one = True

    def _hwc(self, tensor: str, rows: bool = False) -> tuple[int, int, int] | None:
        """``(H, W, C)`` of an NCHW tensor, or with ``rows`` of a dense layer's operand (last axis C)."""
        dims = self.shapes.get(tensor)
        if dims is None:
            return None
        dims = list(dims)
        if dims and dims[0] is None:
            dims[0] = 1
        if any(d is None for d in dims):
            return None
        if not rows:
            return any_rank_hwc(dims)
        # With one input (batch 1) every axis but the last is rows: (L, 1, C) and (L, C) too.
        return dense_rows_hwc(dims) if self.batch_one else rows_hwc_of(dims)

    def _scalar(self, tensor: str) -> float | None:
        value = self._value(tensor)
        return float(value.reshape(-1)[0]) if value is not None and value.size == 1 else None

    def _erf_gelus(self) -> tuple[dict[int, str], set[int]]:
        """Find GELU as torch exports it below opset 20: ``Div(x, sqrt 2) -> Erf -> Add(1) -> Mul(x) -> Mul(0.5)``.

        Returns:
            The index of each pattern's last ``Mul`` with its input ``x``, and the indices of the
            other nodes of the patterns (whose intermediate tensors feed nothing else).
        """
        nodes = list(self.graph.node)
        consumers: dict[str, list[int]] = {}
        for i, node in enumerate(nodes):
            for t in node.input:
                consumers.setdefault(t, []).append(i)
        graph_outputs = {vo.name for vo in self.graph.output}

        def only_consumer(tensor: str, op_type: str) -> int | None:
            users = consumers.get(tensor, [])
            if len(users) != 1 or tensor in graph_outputs or nodes[users[0]].op_type != op_type:
                return None
            return users[0]

        def other_input(node: Any, tensor: str) -> str | None:
            inputs = list(node.input)
            if len(inputs) != 2 or tensor not in inputs:
                return None
            return inputs[1] if inputs[0] == tensor else inputs[0]

        def is_const(tensor: str | None, value: float) -> bool:
            found = None if tensor is None else self._scalar(tensor)
            return found is not None and abs(found - value) <= 1e-4 * abs(value)

        last: dict[int, str] = {}
        inner: set[int] = set()
        for i, div in enumerate(nodes):
            if div.op_type != "Div" or len(div.input) != 2 or not is_const(div.input[1], 2.0**0.5):
                continue
            x = div.input[0]
            chain = [i]
            # The next op of the chain and its other operand: none, the constant 1, x, the constant 0.5.
            for op_type, operand in (("Erf", None), ("Add", 1.0), ("Mul", x), ("Mul", 0.5)):
                tensor = nodes[chain[-1]].output[0]
                step = only_consumer(tensor, op_type)
                if step is None:
                    break
                other = other_input(nodes[step], tensor)
                if isinstance(operand, float) and not is_const(other, operand):
                    break
                if isinstance(operand, str) and other != operand:
                    break
                chain.append(step)
            else:
                last[chain[-1]] = x
                inner.update(chain[:-1])
        return last, inner

    def _value(self, tensor: str) -> Any:
        proto = self.consts.get(tensor)
        if proto is None or not _has_data(self.onnx, proto):  # a weight left in its external file
            return None
        return self.onnx.numpy_helper.to_array(proto)

    def run(self) -> ComputeGraph:
        inputs = [vi for vi in self.graph.input if vi.name not in self.consts]
        if len(inputs) != 1:
            raise GraphError(f"{self.source}: from_onnx supports one data input, found {[vi.name for vi in inputs]}")
        outputs = list(self.graph.output)
        if len(outputs) != 1:
            raise GraphError(f"{self.source}: from_onnx supports one output, found {[vo.name for vo in outputs]}")
        in_name = inputs[0].name
        self.batch_one = (self.shapes.get(in_name) or [None])[0] in (None, 1)
        in_hwc = self._hwc(in_name)
        if in_hwc is None:
            raise GraphError(f"{self.source}: the input {in_name!r} has no fixed shape {self.shapes.get(in_name)}")
        raw = [RawNode("input", "input", [], in_hwc, in_hwc, label=in_name)]
        self.producer: dict[str, str] = {in_name: "input"}
        self.ops: dict[str, str | None] = {"input": "input"}
        self.by_key: dict[str, RawNode] = {"input": raw[0]}
        self.first_parent: dict[str, str | None] = {}
        gelu_of, gelu_inner = self._erf_gelus()
        for i, node in enumerate(self.graph.node):
            if i in gelu_inner:
                continue
            if i in gelu_of:
                raw.extend(self._gelu(i, node, gelu_of[i]))
                continue
            data_in = [t for t in node.input if t in self.producer]
            if not data_in or node.op_type in _SHAPE_OPS:
                continue
            key = f"{i}:{node.name or node.op_type}"
            for t in node.output:
                self.producer[t] = key
            parents = list(dict.fromkeys(self.producer[t] for t in data_in))
            self.first_parent[key] = parents[0] if len(parents) == 1 else None
            in_hwc = self._hwc(data_in[0])
            out_hwc = self._hwc(node.output[0]) if node.output else None
            raw.extend(self._lower(node, key, parents, in_hwc, out_hwc))
        out_tensor = outputs[0].name
        if out_tensor not in self.producer:
            raise GraphError(f"{self.source}: the output {out_tensor!r} does not depend on the input {in_name!r}")
        raw.append(RawNode("output", "output", [self.producer[out_tensor]], label=out_tensor))
        if self.oov:
            names = ", ".join(f"{k} ({v}x)" for k, v in sorted(self.oov.items()))
            message = f"{self.name}: ONNX ops outside the GENNAPE vocabulary became <oov> nodes: {names}"
            warnings.warn(message, stacklevel=3)
            logger.info(message)
        return finalize(raw, self.name, None)

    def _gelu(self, i: int, node: Any, x: str) -> list[RawNode]:
        """The ``gelu`` node of an erf-GELU pattern ending in ``node`` (nothing if ``x`` is not data)."""
        if x not in self.producer:
            return []
        key = f"{i}:{node.name or node.op_type}"
        for t in node.output:
            self.producer[t] = key
        parent = self.producer[x]
        self.first_parent[key] = parent
        rn = RawNode(key, "gelu", [parent], self._hwc(x), self._hwc(node.output[0]), label=node.name or "Gelu")
        self.ops[key] = "gelu"
        self.by_key[key] = rn
        return [rn]

    def _effective(self, key: str | None) -> str | None:
        while key is not None and self.ops.get(key) is None:
            key = self.first_parent.get(key)
        return key

    def _lower(self, node: Any, key: str, parents: list[str], in_hwc: Any, out_hwc: Any) -> list[RawNode]:
        attrs = {a.name: self.onnx.helper.get_attribute_value(a) for a in node.attribute}
        kind = _OPS.get(node.op_type)
        label = node.name or node.op_type
        make = lambda op, **kw: RawNode(key, op, parents[:1], in_hwc, out_hwc, label=label, **kw)
        op: str | None
        if kind is None:
            self.oov[node.op_type] = self.oov.get(node.op_type, 0) + 1
            op, rn = OOV, RawNode(key, OOV, parents, in_hwc, out_hwc, label=label)
        elif kind in ("conv", "gemm", "matmul"):
            rn = self._weighted(node, kind, attrs, make, parents, in_hwc, out_hwc, key, label)
            op = rn.op
            if kind == "conv" and op in ("conv", "depthwise"):
                nodes = _split_dilated(rn, attrs)
                for raw in nodes:
                    self.ops[raw.key] = raw.op
                    self.by_key[raw.key] = raw
                return nodes
        elif kind == "hswish":
            self.ops[key] = "mul"
            return [
                RawNode(key + "/relu6", "relu6", parents[:1], in_hwc, in_hwc, label=label + "/relu6"),
                RawNode(key, "mul", [parents[0], key + "/relu6"], in_hwc, out_hwc, label=label),
            ]
        elif kind == "clip":
            lo = self._value(node.input[1]) if len(node.input) > 1 and node.input[1] else attrs.get("min")
            hi = self._value(node.input[2]) if len(node.input) > 2 and node.input[2] else attrs.get("max")
            lo, hi = (None if v is None else float(v) for v in (lo, hi))
            op = "relu6" if (lo, hi) == (0.0, 6.0) else OOV
            if op == OOV:
                self.oov["Clip"] = self.oov.get("Clip", 0) + 1
            rn = make(op)
        elif kind in ("mul", "add", "arith"):
            op, rn = self._binary(node, kind, key, parents, in_hwc, out_hwc, label)
        elif kind in ("maxpool", "avgpool"):
            strides = tuple(int(s) for s in attrs.get("strides", ())) or None
            meta = {
                "ksize": [int(k) for k in attrs.get("kernel_shape", ())],
                "pads": [int(p) for p in attrs.get("pads", ())],
            }
            op, rn = kind, make(kind, strides=strides if strides is None else (strides[0], strides[-1]), metadata=meta)
        elif kind == "paddings":
            pads = self._value(node.input[1]) if len(node.input) > 1 and node.input[1] else attrs.get("pads")
            meta = None
            if pads is not None and len(pads) == 8:  # NCHW: begins then ends
                meta = {"pad_h": [int(pads[2]), int(pads[6])], "pad_w": [int(pads[3]), int(pads[7])]}
            op, rn = "paddings", make("paddings", metadata=meta)
        elif kind == "concat":
            op, rn = "concat", RawNode(key, "concat", parents, in_hwc, out_hwc, label=label)
        elif kind == "":
            op, rn = None, RawNode(key, None, parents, in_hwc, out_hwc, label=label)
        else:
            op, rn = kind, make(kind)
        self.ops[key] = op
        self.by_key[key] = rn
        return [rn]

    def _weighted(self, node: Any, kind: str, attrs: dict[str, Any], make: Any, *rest: Any) -> RawNode:
        parents, in_hwc, out_hwc, key, label = rest
        inputs = list(node.input)
        weight = inputs[1] if len(inputs) > 1 else ""
        dims = self.shapes.get(weight)
        if weight in self.producer or dims is None or any(d is None for d in dims):
            self.oov[node.op_type] = self.oov.get(node.op_type, 0) + 1
            return RawNode(key, OOV, parents, in_hwc, out_hwc, label=label)
        bias = len(inputs) > 2 and bool(inputs[2])
        if kind in ("gemm", "matmul"):
            # A dense layer acts on the last axis of its data input (input 0): its rows are H x W.
            sizes = [int(d) for d in dims if d is not None]  # all known (checked above)
            if kind == "gemm":
                k, n = (sizes[1], sizes[0]) if attrs.get("transB", 0) else (sizes[0], sizes[1])
            else:
                k, n, bias = sizes[-2], sizes[-1], False
            rows_in, rows_out = self._hwc(inputs[0], rows=True), self._hwc(node.output[0], rows=True)
            return RawNode(
                key, "matmul", parents[:1], rows_in, rows_out, shape=(k, n, 0, 0), use_bias=bias, label=label
            )
        groups = int(attrs.get("group", 1))
        c_out, c_in_per_group = dims[0], dims[1]
        kernel = (list(dims[2:]) + [1, 1])[:2]
        c_in = c_in_per_group * groups
        if groups > 1 and groups == c_in:
            op, shape = "depthwise", (c_in, c_out // c_in, kernel[0], kernel[1])
        else:
            op, shape = "conv", (c_in_per_group, c_out, kernel[0], kernel[1])
        strides = [int(s) for s in attrs.get("strides", (1, 1))]
        meta: dict[str, Any] = {"pads": [int(p) for p in attrs.get("pads", ())]}
        dilations = [int(d) for d in attrs.get("dilations", ())]
        if any(d != 1 for d in dilations):
            meta["dilation"] = dilations
        return make(op, shape=shape, use_bias=bias, strides=(strides[0], strides[-1]), metadata=meta)

    def _binary(self, node: Any, kind: str, key: str, parents: list[str], in_hwc: Any, out_hwc: Any, label: str) -> Any:
        if len(parents) >= 2:
            if kind == "arith":
                self.oov[node.op_type] = self.oov.get(node.op_type, 0) + 1
                return OOV, RawNode(key, OOV, parents, in_hwc, out_hwc, label=label)
            return kind, RawNode(key, kind, parents, in_hwc, out_hwc, label=label)
        constants = [self._value(t) for t in node.input if t not in self.producer]
        if kind == "mul" and any(c is not None and c.size == 1 and float(c.reshape(-1)[0]) == 0.0 for c in constants):
            return "zero", RawNode(key, "zero", parents[:1], in_hwc, out_hwc, label=label)
        if kind == "add":  # a constant added to a dense layer's output is its bias
            producer = self._effective(parents[0])
            if producer is not None and self.ops.get(producer) == "matmul":
                self.by_key[producer].use_bias = True
        return None, RawNode(key, None, parents, in_hwc, out_hwc, label=label)


def _split_dilated(conv: RawNode, attrs: dict[str, Any]) -> list[RawNode]:
    """A dilated 2-D ``Conv`` as TF's ``spacetobatchnd -> conv -> batchtospacend`` (see ``split_dilated_conv``)."""
    dilations = [int(d) for d in attrs.get("dilations", ())]
    if len(dilations) != 2 or conv.shape is None:
        return [conv]
    kernel = conv.shape[2:]
    auto_pad = attrs.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):  # stride 1: total padding d (k - 1)
        totals = [d * (k - 1) for k, d in zip(kernel, dilations)]
        small = [t // 2 for t in totals]
        pads = [(s, t - s) if auto_pad == "SAME_UPPER" else (t - s, s) for s, t in zip(small, totals)]
    elif auto_pad == "VALID":
        pads = [(0, 0), (0, 0)]
    else:
        values = [int(p) for p in attrs.get("pads", ())] or [0, 0, 0, 0]
        if len(values) != 4:
            return [conv]
        pads = [(values[0], values[2]), (values[1], values[3])]  # ONNX: begins (H, W), then ends
    strides = [int(v) for v in attrs.get("strides", (1, 1))]
    return split_dilated_conv(conv, dilations, pads, strides)


def from_onnx(model: Any, name: str | None = None) -> ComputeGraph:
    """Build the computation graph of an ONNX model.

    Args:
        model: An ``onnx.ModelProto`` or the path of a ``.onnx`` file, with one data input (NCHW)
            and one output.
        name: Graph name (default: the file's stem, the model's graph name, or ``"onnx"``).

    Returns:
        The computation graph (see the module docstring for the rules).

    Raises:
        GraphError: If the file cannot be read (the message names it), shape inference fails, or the
            model has several inputs/outputs or an input without a fixed shape.
        TypeError: If ``model`` is neither a ModelProto nor a path.
        MissingDependencyError: If onnx is not installed.
    """
    onnx = require("onnx", "onnx", "Importing an ONNX model")
    for submodule in ("onnx.numpy_helper", "onnx.shape_inference", "onnx.helper"):
        require(submodule, "onnx", "Importing an ONNX model")

    proto, source = _load(onnx, model)
    if name is None:
        name = Path(source).stem if isinstance(model, (str, os.PathLike)) else (proto.graph.name or "onnx")
    return _Importer(onnx, proto, name, source).run()
