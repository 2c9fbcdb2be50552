"""Import a frozen TensorFlow ``GraphDef`` (or ``.pb`` file) as a computation graph.

This follows GENNAPE's GraphDef pipeline (GENNAPE_FACTS 1.4-1.6) and extends it so that graphs
frozen by TensorFlow 2 / Keras 3 lower to the same computation graph as the same network written in
PyTorch (:func:`~gennape_naslib.cg.from_torch.from_torch`):

1. **Labels.** A node's label is the last ``/``-separated part of its lower-cased name; when the
   label maps to no vocabulary op and the TF op type is sigmoid/relu/tanh/swish, the op type is the
   label. A label that GENNAPE's keyword rule keeps (:func:`is_kept`) and that maps to a vocabulary
   op (:func:`~gennape_naslib.cg.vocab.op_from_label`) gives the node's op, as in GENNAPE
   (``global_pool`` -> ``global``, ``identity_3`` -> ``identity``, ``zero`` -> ``zero``).
2. **Pruning.** Constants, variable reads and everything computed only from constants vanish, as do
   plumbing ops (reshape, squeeze, slices, softmax, ``IdentityN``, ...) and identities whose label is
   not kept (``skip_connect_3``); their parents connect to their children. Ops whose label is
   not kept but whose TF op type is a known computational op survive under that op (Keras 3 names a
   convolution ``convolution`` and a padding ``Pad``, which GENNAPE's keywords would drop).
3. **Kernels.** The weight tensor of ``Conv2D``, ``DepthwiseConv2dNative`` and ``MatMul`` becomes
   the op node's weight shape (TF ``[k1, k2, Cin, Cout]`` -> ``[Cin, Cout, k1, k2]``, depthwise
   ``[k1, k2, C, m]`` -> ``[C, m, k1, k2]``, dense ``[Cin, Cout]`` -> ``[Cin, Cout, 0, 0]``); the
   kernel constant and its reads disappear. A ``Conv2D`` whose kernel has ``C_in / groups`` input
   channels is a grouped convolution: ``groups == C_in`` gives a ``depthwise`` node
   ``[C, C_out / C, k1, k2]``, other groupings a ``conv`` with the per-group input channels, as
   ``nn.Conv2d(groups=...)`` in :func:`~gennape_naslib.cg.from_torch.from_torch`. Keras 3 runs a
   grouped convolution as a call (``StatefulPartitionedCall``) of an XLA function whose body is the
   one convolution (with ``SpaceToBatchND``/``BatchToSpaceND`` around it when dilated); such a call
   is imported as that convolution, its attributes and dilation read from the body, and a dilated
   stride-1 one as the ``spacetobatchnd -> conv -> batchtospacend`` of a plain dilated convolution.
4. **Bias.** A ``BiasAdd`` (or any node labelled ``*bias*``) is folded into the weighted op that feeds
   it as ``use_bias`` (through the ``BatchToSpaceND`` that follows a dilated convolution).
5. **Batch norm.** ``FusedBatchNorm*`` is one ``batchnorm`` node; its statistics are constants and
   vanish. The decomposed form that Keras 3 emits (a ``.../batchnorm/...`` name scope of mul/add/rsqrt
   ops, ``tf.nn.batch_normalization``) is collapsed into one ``batchnorm`` node; likewise a
   ``.../Gelu/...`` scope becomes one ``gelu`` node, and a Keras ``up_sampling2d`` scope (nearest
   upsampling is built from repeat/tile plumbing that would vanish) one ``<oov>`` node, as
   ``nn.Upsample`` is in :func:`~gennape_naslib.cg.from_torch.from_torch`. A layer scope that
   normalises over ``tf.nn.moments`` with nothing but normalisation arithmetic (Keras 3
   ``LayerNormalization``, ``GroupNormalization``) is one ``<oov>`` node too, as ``nn.LayerNorm`` and
   ``nn.GroupNorm`` are.
6. **Paddings.** ``Pad``/``PadV2``/``MirrorPad`` become a ``paddings`` node between the producer and
   the consumer, with ``pad_h``/``pad_w`` metadata (GENNAPE re-attaches the ``paddings`` constant to
   the same place).
7. **Degenerate arithmetic.** ``add``/``mul`` with fewer than two distinct data parents vanish
   (``x + 3``, ``x / 6``; hard-swish becomes ``relu6`` + ``mul``, SiLU ``sigmoid`` + ``mul``);
   multiplication by the constant 0 is a ``zero`` node.
8. **Input/output.** The ``Placeholder`` (or a source labelled ``input``) is the ``input`` node; the
   node labelled ``output`` is the output (trailing identities after it, as a TF 2 function adds,
   are dropped); without one, an ``output`` node is appended to the single sink. Internal
   ``input``/``output`` identities are contracted.
9. **Resolutions.** The graph is imported with ``tf.compat.v1`` and every node's resolution is read
   from its first *data* input tensor and its first output tensor (NHWC; 2-D tensors as
   ``(1, 1, C)``; a tensor of rank 5 or more keeps C and its last spatial axis as W and folds the
   other spatial axes into H). A ``MatMul`` counts rows as ``from_torch``'s ``Linear`` does: Keras
   applies a dense layer to tokens ``(N, L, C)`` or a channels-last map by ``Reshape -> MatMul ->
   Reshape``, and the matmul's resolution is that of the tensors around the reshapes (``(L, 1, C)``,
   ``(H, W, C)``); a plain 2-D operand of ``R`` rows (also after a ``Flatten``, which folds the map
   into C) gives ``(R / batch, 1, C)``. Strides
   ``(1, s, s, 1)`` become ``(s, s)``; padding, data format, dilations and pooling windows are kept
   in ``metadata``.

Deviations from the original pipeline (deliberate): edges follow inputs with port suffixes
(``x:1``); a shared kernel gives its shape to every consumer; the first *data* input (not a
constant) defines ``H_in/W_in/C_in``; node order is topological rather than "weighted first".
Known differences from :func:`from_torch`: Keras 3 drops ``Dropout`` at inference (no ``identity``
node). Dilated convolutions appear as ``spacetobatchnd -> conv/depthwise -> batchtospacend`` (GENNAPE
1.7), the inner node at the resolution of one of the ``dilation_h x dilation_w`` batch blocks, as every
other lowering now gives them (``count_flops`` counts the reassembled map, so the FLOPs equal the torch
twin's). Function calls other than a single convolution are ``<oov>``.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from gennape_naslib._optional import require
from gennape_naslib.cg._lowering import HWC, RawNode, any_rank_hwc, finalize, hwc_of, rows_hwc_of, split_dilated_conv
from gennape_naslib.cg._tf_freeze import freeze_keras_model, normalise_input_shape, write_pb
from gennape_naslib.cg.graph import ComputeGraph, GraphError
from gennape_naslib.cg.vocab import OOV, WEIGHTED_OPS, op_from_label

__all__ = [
    "EXCLUDE_KEYWORDS",
    "KEEP_KEYWORDS",
    "WEIGHTED_KEYWORDS",
    "freeze_keras_model",
    "from_tf_graphdef",
    "gennape_label",
    "is_kept",
    "is_weighted_label",
    "write_pb",
]

logger = logging.getLogger(__name__)

#: A label containing one of these marks a weighted node in GENNAPE (GENNAPE_FACTS 1.4).
WEIGHTED_KEYWORDS: tuple[str, ...] = ("kernel", "conv", "depthwise", "matmul", "biasadd", "pointwise", "weight")
#: Labels equal to, or (unless excluded) containing, one of these survive GENNAPE's pruning.
KEEP_KEYWORDS: tuple[str, ...] = tuple(
    "input output kernel conv2d add relu relu6 fusedbatchnorm matmul depthwise depthwise_kernel pointwise weight "
    "sigmoid tanh swish pool mul spacetobatchnd batchtospacend spacetodepthnd depthtospacend mean global identity "
    "zero concat gelu paddings reserved".split()
)
#: Labels excluded from the substring keep rule.
EXCLUDE_KEYWORDS: tuple[str, ...] = ("moving_mean",)
_OP_TYPE_FALLBACK = ("sigmoid", "relu", "tanh", "swish")

# TF op type -> vocabulary op ("" = plumbing that vanishes; "arith" = vanishes with a constant
# operand, <oov> between two data tensors; "bias" = folded into the weighted producer).
_OP_TYPES: dict[str, str] = {
    op_type: op
    for op, op_types in (
        ("input", "Placeholder PlaceholderWithDefault"),
        ("conv", "Conv2D"),
        ("depthwise", "DepthwiseConv2dNative"),
        ("matmul", "MatMul"),
        ("batchnorm", "FusedBatchNorm FusedBatchNormV2 FusedBatchNormV3"),
        ("relu", "Relu LeakyRelu"),
        ("relu6", "Relu6"),
        ("sigmoid", "Sigmoid"),
        ("tanh", "Tanh"),
        ("gelu", "Gelu"),
        ("maxpool", "MaxPool MaxPoolV2"),
        ("avgpool", "AvgPool"),
        ("mean", "Mean"),
        ("concat", "ConcatV2 Concat"),
        ("add", "AddV2 Add AddN"),
        ("mul", "Mul"),
        ("paddings", "Pad PadV2 MirrorPad"),
        ("spacetobatchnd", "SpaceToBatchND"),
        ("batchtospacend", "BatchToSpaceND"),
        ("spacetodepthnd", "SpaceToDepth"),
        ("depthtospacend", "DepthToSpace"),
        ("bias", "BiasAdd"),
        ("arith", "Sub RealDiv Div Maximum Minimum"),
        (
            "",
            "Identity Snapshot StopGradient PreventGradient Reshape Squeeze ExpandDims StridedSlice Slice Pack "
            "Unpack Cast Transpose Softmax LogSoftmax ReadVariableOp Fill Tile Split SplitV GatherV2 Shape ShapeN "
            "Size Rank ZerosLike OnesLike BroadcastTo CheckNumerics EnsureShape Range",
        ),
    )
    for op_type in op_types.split()
}
# Op types that vanish whatever their label says (``IdentityN`` is TF's custom-gradient pass-through).
_ALWAYS_PLUMBING = frozenset({"IdentityN", "NoOp", "Shape", "ShapeN", "Size", "Rank", "ReadVariableOp"})
# Their outputs describe a tensor's shape, not its values: never data.
_SHAPE_OPS = frozenset({"Shape", "ShapeN", "Size", "Rank"})
_PASS_THROUGH = frozenset({"Identity", "IdentityN", "Snapshot", "StopGradient"})
# Function calls. Keras 3 runs a grouped convolution (ConvNeXt's depthwise 7x7) as a call of an
# XLA-compiled function whose body is that one convolution; the call is imported as the convolution.
_CALL_OPS = frozenset({"PartitionedCall", "StatefulPartitionedCall"})
_CONV_TYPES = frozenset({"Conv2D", "DepthwiseConv2dNative"})
_SPACE_BATCH = frozenset({"SpaceToBatchND", "BatchToSpaceND"})
_CALL_BODY_PLUMBING = _PASS_THROUGH | _SPACE_BATCH | {"NoOp", "Const"}


class _CalledConv(NamedTuple):
    """The convolution in the body of a function call and the call inputs that feed it."""

    conv: Any  # the body's NodeDef (its attrs: strides, padding, data format)
    data: int  # index of the call input holding the data
    kernel: int  # index of the call input holding the kernel
    dilation: tuple[int, int] | None  # the SpaceToBatchND block shape of a dilated convolution


# Name scopes emitted as several primitive ops that stand for one vocabulary op.
_SCOPES = {"batchnorm": "batchnorm", "gelu": "gelu"}
# Keras 3 builds nearest-neighbour ``UpSamplingND`` from repeat/tile/reshape plumbing that would vanish;
# the layer's scope becomes one <oov> node, as ``nn.Upsample`` is in from_torch.
_UPSAMPLING_SCOPE = re.compile(r"up_sampling[123]d(_\d+)?")
# A layer scope holding ``tf.nn.moments`` (``.../moments/mean``, ``.../moments/variance``) and only the
# arithmetic of a normalisation is a layer/group norm (Keras 3 ``LayerNormalization``,
# ``GroupNormalization``): one <oov> node, as ``nn.LayerNorm``/``nn.GroupNorm`` are in from_torch.
_MOMENTS = "moments"
_NORM_ARITHMETIC = frozenset(
    "Mean StopGradient SquaredDifference Square Sub AddV2 Add Mul RealDiv Rsqrt Sqrt Neg Maximum Identity Reshape "
    "Squeeze ExpandDims Cast".split()
)


def _scope_op(part: str) -> str | None:
    """The op that a name-scope part stands for (``None``: not a collapsed scope)."""
    part = part.lower()
    if part in _SCOPES:
        return _SCOPES[part]
    return OOV if _UPSAMPLING_SCOPE.fullmatch(part) else None


def gennape_label(node_name: str, op_type: str = "") -> str:
    """GENNAPE's label of a GraphDef node (GENNAPE_FACTS 1.2).

    Args:
        node_name: Full TF node name, e.g. ``"model/conv2d/Conv2D"``.
        op_type: TF op type, e.g. ``"Relu"``; used when the name maps to no vocabulary op.

    Returns:
        The last ``/``-separated component, lower-cased, or the lower-cased op type if that label is
        out of vocabulary and the op type is one of sigmoid, relu, tanh, swish.
    """
    label = node_name.lower().rsplit("/", 1)[-1]
    if op_from_label(label) == OOV and op_type.lower() in _OP_TYPE_FALLBACK:
        return op_type.lower()
    return label


def is_kept(label: str) -> bool:
    """Whether GENNAPE's keyword pruning keeps a node with this label (GENNAPE_FACTS 1.6 step 2)."""
    if label in KEEP_KEYWORDS:
        return True
    return label not in EXCLUDE_KEYWORDS and any(k in label for k in KEEP_KEYWORDS)


def is_weighted_label(label: str) -> bool:
    """Whether GENNAPE makes a node with this label a weighted node (GENNAPE_FACTS 1.4)."""
    return any(k in label for k in WEIGHTED_KEYWORDS)


# ---------------------------------------------------------------------------------------------- loading
def _load_graph_def(tf: Any, graph_def: Any) -> tuple[Any, str | None]:
    if isinstance(graph_def, (str, os.PathLike)):
        path = Path(graph_def)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise GraphError(f"cannot read the GraphDef file {str(path)!r}: {exc}") from exc
        gd = tf.compat.v1.GraphDef()
        try:
            gd.ParseFromString(data)
        except Exception as exc:
            raise GraphError(
                f"{str(path)!r} is not a binary TensorFlow GraphDef (.pb) file ({exc.__class__.__name__}: {exc})"
            ) from exc
        if not gd.node:
            raise GraphError(f"{str(path)!r} holds no GraphDef nodes; is it a frozen .pb graph?")
        return gd, str(path)
    if not hasattr(graph_def, "node"):
        raise TypeError(f"from_tf_graphdef expects a GraphDef or a path to a .pb file, got {type(graph_def).__name__}")
    return graph_def, None


def _resolve_inputs(nodes: dict[str, Any]) -> dict[str, list[str]]:
    """Per node, the names of the nodes feeding its data inputs, in order.

    Control inputs (``^x``) are skipped, port suffixes (``x:1``) stripped, and ``IdentityN`` outputs
    forwarded to the matching input (TF's custom-gradient wrapper passes input ``k`` to output ``k``).
    """

    def source(ref: str, depth: int = 0) -> str:
        name, _, port = ref.partition(":")
        node = nodes.get(name)
        if node is not None and node.op == "IdentityN" and depth < 64:
            refs = [i for i in node.input if not i.startswith("^")]
            k = int(port) if port.isdigit() else 0
            if k < len(refs):
                return source(refs[k], depth + 1)
        return name

    return {n: [source(i) for i in node.input if not i.startswith("^")] for n, node in nodes.items()}


def _topological(nodes: dict[str, Any], inputs: dict[str, list[str]]) -> list[str]:
    indeg = {n: 0 for n in nodes}
    kids: dict[str, list[str]] = {n: [] for n in nodes}
    for n in nodes:
        for p in set(inputs[n]):
            if p in nodes:
                indeg[n] += 1
                kids[p].append(n)
    ready = [n for n in nodes if indeg[n] == 0]
    order: list[str] = []
    while ready:
        n = ready.pop()
        order.append(n)
        for c in kids[n]:
            indeg[c] -= 1
            if indeg[c] == 0:
                ready.append(c)
    return order  # nodes on cycles (while loops) are left out and never become data


class _Importer:
    def __init__(self, tf: Any, gd: Any, input_hwc: tuple[int, int, int] | None, name: str, source: str) -> None:
        self.tf, self.gd, self.name, self.source = tf, gd, name, source
        self.nodes = {n.name: n for n in gd.node}
        self.file_order = {n.name: i for i, n in enumerate(gd.node)}
        self.inputs = _resolve_inputs(self.nodes)
        self.input_hwc = input_hwc
        self.oov: dict[str, int] = {}
        self.functions = {f.signature.name: f for f in gd.library.function}
        self.calls: dict[str, _CalledConv] = {}  # function-call node -> the convolution it runs
        self.split_inner: dict[str, str] = {}  # a called dilated convolution split in three -> its inner node

    def _import(self, roots: list[str]) -> None:
        tf = self.tf
        graph = tf.Graph()
        with graph.as_default():
            input_map = {}
            if self.input_hwc is not None:
                h, w, c = self.input_hwc
                for r in roots:
                    if self.nodes[r].op == "Placeholder":
                        ph = tf.compat.v1.placeholder(tf.float32, (1, h, w, c), name="gennape_input_override")
                        input_map[f"{r}:0"] = ph
            try:
                tf.compat.v1.import_graph_def(self.gd, input_map=input_map, name="")
            except Exception as exc:
                raise GraphError(
                    f"{self.source}: TensorFlow cannot import the GraphDef ({exc.__class__.__name__}: {exc})"
                ) from exc
        self.graph = graph

    # --------------------------------------------------------------------------- tensor helpers
    def _op(self, name: str) -> Any:
        return self.graph.get_operation_by_name(name)

    def _hwc(self, tensor: Any) -> tuple[int, int, int] | None:
        if tensor.shape.rank is None:
            return None
        dims = tensor.shape.as_list()
        if dims and dims[0] is None:
            dims[0] = 1
        if any(d is None for d in dims):
            return None
        if len(dims) <= 4:
            return hwc_of(dims, self.layout)
        # Rank 5 or more (a grouped reshape (N, H, W, G, C/G), a 3-D map): read in NCHW order as
        # from_torch reads such tensors (C stays C, the other spatial axes fold into H).
        if self.layout != "NCHW":
            dims = [dims[0], dims[-1], *dims[1:-1]]
        return any_rank_hwc(dims)

    def _static(self, tensor: Any) -> Any:
        try:
            return self.tf.get_static_value(tensor)
        except Exception:  # pragma: no cover - defensive: unknown op kernels
            return None

    def _pair(self, values: Sequence[int]) -> tuple[int, int]:
        v = [int(x) for x in values]
        if len(v) == 4:
            return (v[2], v[3]) if self.layout == "NCHW" else (v[1], v[2])
        return (v[0], v[-1])

    # --------------------------------------------------------------------------- main
    def run(self) -> ComputeGraph:
        order = _topological(self.nodes, self.inputs)
        labels = {n: gennape_label(n, self.nodes[n].op) for n in self.nodes}
        consumed = {p for n in self.nodes for p in self.inputs[n]}
        placeholders = ("Placeholder", "PlaceholderWithDefault")
        roots = [n for n in order if self.nodes[n].op in placeholders and self._is_float(n) and n in consumed]
        if not roots:  # GENNAPE's model maker feeds constant ones into an identity named "input"
            below_input: set[str] = set()  # nodes downstream of an input-labelled node
            for n in order:
                if any(p in below_input or labels[p].startswith("input") for p in self.inputs[n]):
                    below_input.add(n)
            roots = [n for n in order if labels[n].startswith("input") and n not in below_input]
        if len(roots) != 1:
            raise GraphError(
                f"{self.source}: expected one input (a float Placeholder or a node named 'input' fed by constants), "
                f"found {sorted(roots) or 'none'}"
            )
        self._import(roots)
        batch = self._op(roots[0]).outputs[0].shape
        self.batch = int(batch[0]) if batch.rank and batch[0] is not None and int(batch[0]) > 0 else 1
        formats = {n.attr["data_format"].s for n in self.gd.node if "data_format" in n.attr}
        self.layout = "NCHW" if b"NCHW" in formats else "NHWC"

        data: set[str] = set()
        for n in order:
            node = self.nodes[n]
            if n in roots or (node.op not in _SHAPE_OPS and any(p in data for p in self.inputs[n])):
                data.add(n)
        self.data = data
        self.children: dict[str, list[str]] = {n: [] for n in data}
        for n in data:
            for p in self.inputs[n]:
                if p in data and n not in self.children[p]:
                    self.children[p].append(n)

        scope_op = self._scopes(order)
        out_key = self._find_output(labels, order)
        raw: list[RawNode] = []
        ops: dict[str, str | None] = {}
        by_key: dict[str, RawNode] = {}
        for n in sorted((n for n in order if n in data), key=self.file_order.__getitem__):
            if n in self.dropped:
                continue
            node = self.nodes[n]
            parents = [p for p in self.inputs[n] if p in data]
            first = next((t for t, p in zip(self._op(n).inputs, self.inputs[n]) if p in data), None)
            in_hwc = self._hwc(first) if first is not None else None
            out_hwc = self._hwc(self._op(n).outputs[0]) if self._op(n).outputs else None
            op: str | None
            if n in roots:
                op, in_hwc = "input", self.input_hwc or out_hwc
                out_hwc = in_hwc
            elif n in scope_op:
                op = scope_op[n]
                if op is not None:
                    parents, in_hwc = self._scope_inputs(n)
            else:
                op = self._classify(n, labels[n], parents, ops)
            ops[n] = op
            if op == "matmul" and node.op == "MatMul" and first is not None:
                in_hwc, out_hwc = self._dense_rows(n, first, in_hwc, out_hwc)
            rn = RawNode(n, op, parents, in_hwc, out_hwc, label=n)
            if op in WEIGHTED_OPS:
                rn.shape = self._weight_shape(n, str(op))
            if op is not None and self._op(n).node_def.attr:
                rn.strides, rn.metadata = self._attrs(n, op)
            if op == "bias":
                self._fold_bias(n, parents, ops, by_key)
                rn.op = None
            for part in self._split_called_dilation(n, rn):
                ops[part.key] = part.op
                raw.append(part)
                by_key[part.key] = part
        if out_key is None:
            raw.append(RawNode("gennape_output", "output", [self._single_sink(ops)], label="output"))
        if self.oov:
            names = ", ".join(f"{k} ({v}x)" for k, v in sorted(self.oov.items()))
            message = f"{self.name}: TF ops outside the GENNAPE vocabulary became <oov> nodes: {names}"
            warnings.warn(message, stacklevel=3)
            logger.info(message)
        return finalize(raw, self.name, self.input_hwc)

    def _is_float(self, n: str) -> bool:
        dtype = self.nodes[n].attr["dtype"].type if "dtype" in self.nodes[n].attr else 1
        return dtype in (1, 2, 19, 14)  # float32, float64, float16, bfloat16

    def _norm_scopes(self, order: list[str]) -> dict[str, list[str]]:
        """Layer scopes computing a normalisation over ``tf.nn.moments`` -> their data nodes."""
        prefixes = set()
        for n in order:
            parts = n.split("/")
            if n in self.data and _MOMENTS in parts[1:-1]:
                prefixes.add("/".join(parts[: parts.index(_MOMENTS, 1)]))
        groups: dict[str, list[str]] = {}
        for n in order:
            parts = n.split("/")
            prefix = next(("/".join(parts[:i]) for i in range(1, len(parts)) if "/".join(parts[:i]) in prefixes), None)
            if n in self.data and prefix is not None:
                groups.setdefault(prefix, []).append(n)
        # Only pure normalisation arithmetic: a scope that also convolves or activates is left alone.
        return {p: ms for p, ms in groups.items() if all(self.nodes[m].op in _NORM_ARITHMETIC for m in ms)}

    def _scopes(self, order: list[str]) -> dict[str, str | None]:
        """Collapse ``.../batchnorm/...``, ``.../Gelu/...``, upsampling and layer/group-norm scopes.

        One node of each scope (its last exit) keeps the scope's op; the others vanish.
        """
        groups = self._norm_scopes(order)
        ops: dict[str, str | None] = {prefix: OOV for prefix in groups}
        sources = {prefix: "LayerNorm/GroupNorm (moments)" for prefix in groups}  # <oov> warning names
        normalised = {m for ms in groups.values() for m in ms}
        for n in order:
            if n not in self.data or n in normalised:
                continue
            parts = n.split("/")
            for i, part in enumerate(parts[:-1]):
                if _scope_op(part) is not None:
                    prefix = "/".join(parts[: i + 1])
                    groups.setdefault(prefix, []).append(n)
                    ops[prefix] = _scope_op(part)
                    sources[prefix] = "UpSampling"
                    break
        result: dict[str, str | None] = {}
        self.scope_members: dict[str, list[str]] = {}
        for prefix, members in groups.items():
            inside = set(members)
            exits = [m for m in members if any(c not in inside for c in self.children[m])]
            rep = exits[-1] if exits else members[-1]
            for m in members:
                result[m] = None
            result[rep] = ops[prefix]
            if result[rep] == OOV:
                self.oov[sources[prefix]] = self.oov.get(sources[prefix], 0) + 1
            self.scope_members[rep] = members
        return result

    def _scope_inputs(self, rep: str) -> tuple[list[str], tuple[int, int, int] | None]:
        members = self.scope_members[rep]
        inside = set(members)
        parents: list[str] = []
        first = None
        for m in members:
            for t, p in zip(self._op(m).inputs, self.inputs[m]):
                if p in self.data and p not in inside and p not in parents:
                    parents.append(p)
                    first = first if first is not None else t
        return parents, (self._hwc(first) if first is not None else None)

    def _find_output(self, labels: dict[str, str], order: list[str]) -> str | None:
        """The node labelled ``output`` that data reaches; pass-through sinks after it are dropped."""
        self.dropped: set[str] = set()
        found: str | None = None
        for sink in (n for n in order if n in self.data and not self.children[n]):
            chain, cur = [], sink
            while not labels[cur].startswith("output") and self.nodes[cur].op in _PASS_THROUGH:
                parents = [p for p in self.inputs[cur] if p in self.data]
                if len(parents) != 1:
                    break
                chain.append(cur)
                cur = parents[0]
            if labels[cur].startswith("output"):
                if found is not None and found != cur:
                    raise GraphError(f"{self.source}: several output nodes ({found!r}, {cur!r}); one is supported")
                self.dropped.update(chain)
                found = cur
        return found

    def _single_sink(self, ops: dict[str, str | None]) -> str:
        sinks = [
            n
            for n, kids in self.children.items()
            if not kids and n not in self.dropped and self.nodes[n].op != "IdentityN"  # forwarded, see above
        ]
        if len(sinks) != 1:
            raise GraphError(
                f"{self.source}: the graph needs a single output tensor (or a node named 'output'); "
                f"found sinks {sorted(sinks)[:8]}"
            )
        return sinks[0]

    def _effective(self, name: str, ops: dict[str, str | None]) -> str | None:
        """The nearest node upstream of ``name`` (inclusive) that survives contraction."""
        cur: str | None = name
        while cur is not None and ops.get(cur) is None:
            parents = [p for p in self.inputs[cur] if p in self.data]
            cur = parents[0] if len(parents) == 1 else None
        return cur

    def _classify(self, n: str, label: str, parents: list[str], ops: dict[str, str | None]) -> str | None:
        op_type = self.nodes[n].op
        if op_type in _ALWAYS_PLUMBING:
            return None
        kind = _OP_TYPES.get(op_type)
        if op_type in _CALL_OPS and self._called_conv(n) is not None:
            kind = _OP_TYPES[self.calls[n].conv.op]
        if op_type == "BiasAdd" or "bias" in label:
            return "bias"
        if kind in WEIGHTED_OPS:
            k = self._conv_inputs(n)[1]
            weights = [p for p in self.inputs[n][k : k + 1] if p not in self.data]
            if weights:
                return "depthwise" if kind == "conv" and self._conv_groups(n) == "depthwise" else kind
            self.oov[op_type] = self.oov.get(op_type, 0) + 1
            return OOV
        by_label = op_from_label(label) if is_kept(label) else OOV
        if by_label != OOV and by_label not in WEIGHTED_OPS:
            kind = by_label
        if kind in ("mul", "arith") and len(set(parents)) < 2:
            if self._times_zero(n):
                upstream = self._effective(parents[0], ops) if parents else None
                return None if upstream is not None and ops.get(upstream) == "zero" else "zero"
            return None
        if kind == "arith":
            self.oov[op_type] = self.oov.get(op_type, 0) + 1
            return OOV
        if kind is None:
            self.oov[op_type] = self.oov.get(op_type, 0) + 1
            return OOV
        return kind or None

    def _called_conv(self, n: str) -> _CalledConv | None:
        """The convolution that a function call runs, if its body is that one convolution.

        Besides the convolution the body may hold only pass-throughs, constants and the
        ``SpaceToBatchND``/``BatchToSpaceND`` pair that TF wraps around a dilated convolution (whose
        block shape is then the dilation); the call's output must be the convolution's.
        """
        if n in self.calls:
            return self.calls[n]
        node = self.nodes[n]
        fn = self.functions.get(node.attr["f"].func.name) if "f" in node.attr else None
        if fn is None or len(fn.signature.output_arg) != 1 or len(fn.ret) != 1:
            return None
        body = {d.name: d for d in fn.node_def}
        convs = [d for d in fn.node_def if d.op in _CONV_TYPES]
        if len(convs) != 1 or any(d.op not in _CONV_TYPES | _CALL_BODY_PLUMBING for d in fn.node_def):
            return None
        args = [a.name for a in fn.signature.input_arg]
        conv, blocks = convs[0], []

        def upstream(ref: str) -> str:
            """The body node or argument behind ``ref``, through identities and space-to-batch moves."""
            name = ref.split(":", 1)[0]
            for _ in range(len(body) + 1):
                d = body.get(name)
                if d is None or d.op not in _PASS_THROUGH | _SPACE_BATCH:
                    break
                if d.op == "SpaceToBatchND" and len(d.input) > 1:
                    blocks.append(body.get(d.input[1].split(":", 1)[0]))
                name = d.input[0].split(":", 1)[0]
            return name

        data, kernel = upstream(conv.input[0]), upstream(conv.input[1])
        if data not in args or kernel not in args or upstream(next(iter(fn.ret.values()))) != conv.name:
            return None
        dilation = None
        if blocks and blocks[0] is not None and blocks[0].op == "Const":
            value = self.tf.make_ndarray(blocks[0].attr["value"].tensor).reshape(-1).tolist()
            dilation = (int(value[0]), int(value[-1]))
        self.calls[n] = _CalledConv(conv, args.index(data), args.index(kernel), dilation)
        return self.calls[n]

    def _conv_inputs(self, n: str) -> tuple[int, int]:
        """Input indices of a (possibly called) convolution's data and kernel."""
        return (self.calls[n].data, self.calls[n].kernel) if n in self.calls else (0, 1)

    def _conv_groups(self, n: str) -> str:
        """``"depthwise"`` for a ``Conv2D`` with one input channel per group (groups = C_in > 1), else ``"conv"``.

        TF writes a grouped convolution as a ``Conv2D`` whose kernel has ``C_in / groups`` input
        channels; as in :func:`~gennape_naslib.cg.from_torch.from_torch`, ``groups == C_in`` is a
        depthwise convolution and other groupings stay ``conv`` with the per-group input channels.
        """
        kernel = self._op(n).inputs[self._conv_inputs(n)[1]]
        if kernel.shape.rank != 4:
            return "conv"
        c_in = self._conv_channels(n)
        return "depthwise" if kernel.shape[2] == 1 and c_in is not None and c_in > 1 else "conv"

    def _conv_def(self, n: str) -> Any:
        """The ``NodeDef`` of the convolution node ``n`` runs (the body's, for a function call)."""
        return self.calls[n].conv if n in self.calls else self.nodes[n]

    def _conv_channels(self, n: str) -> int | None:
        """Input channels of the convolution ``n`` (``None`` when the data is not a 4-D map of known C)."""
        data = self._op(n).inputs[self._conv_inputs(n)[0]]
        if data.shape.rank != 4:
            return None
        attr = self._conv_def(n).attr
        nchw = "data_format" in attr and attr["data_format"].s.decode() == "NCHW"
        return data.shape[1] if nchw else data.shape[3]

    def _times_zero(self, n: str) -> bool:
        if self.nodes[n].op != "Mul":
            return False
        for t, p in zip(self._op(n).inputs, self.inputs[n]):
            if p not in self.data:
                value = self._static(t)
                if value is not None and value.size == 1 and float(value.reshape(-1)[0]) == 0.0:
                    return True
        return False

    def _split_called_dilation(self, n: str, rn: RawNode) -> list[RawNode]:
        """A function call running one dilated convolution, as TF's plain form ``spacetobatchnd -> conv ->
        batchtospacend`` (Keras' grouped ``Conv2D``: its body holds that form, see :meth:`_called_conv`).

        The convolution's own padding is read off the sizes (stride 1: ``total = H_out - H + d (k - 1)``),
        split as TF splits "same" padding; :func:`~gennape_naslib.cg._lowering.split_dilated_conv` does the rest.
        """
        call = self.calls.get(n)
        if call is None or call.dilation in (None, (1, 1)) or rn.shape is None or rn.in_hwc is None:
            return [rn]
        if rn.out_hwc is None or (rn.strides is not None and tuple(rn.strides) != (1, 1)):
            return [rn]
        pads = []
        for size, out, k, d in zip(rn.in_hwc[:2], rn.out_hwc[:2], rn.shape[2:], call.dilation):
            total = out - size + d * (k - 1)
            pads.append((total // 2, total - total // 2))
        parts = split_dilated_conv(rn, call.dilation, pads)
        if len(parts) > 1:
            self.split_inner[n] = parts[1].key
        return parts

    def _fold_bias(self, n: str, parents: list[str], ops: dict[str, str | None], by_key: dict[str, RawNode]) -> None:
        rep = self._effective(parents[0], ops) if parents else None
        if rep is not None and rep in self.split_inner:  # a called dilated convolution split into three nodes
            rep = self.split_inner[rep]
        if rep is not None and ops.get(rep) == "batchtospacend":
            # TF's dilated convolution: SpaceToBatchND -> conv -> BatchToSpaceND -> BiasAdd
            above = [p for p in self.inputs[rep] if p in self.data]
            rep = self._effective(above[0], ops) if above else None
        if rep is not None and ops.get(rep) in WEIGHTED_OPS:
            by_key[rep].use_bias = True

    def _dense_rows(self, n: str, first: Any, in_hwc: HWC | None, out_hwc: HWC | None) -> tuple[HWC | None, HWC | None]:
        """``(H, W, C)`` of a ``MatMul``'s input and output counted in rows, as in :func:`from_torch`.

        A ``MatMul`` sees 2-D ``(R, C)`` operands. Keras applies a dense layer to tokens or a
        channels-last map by flattening the leading axes (``Tensordot``: ``Reshape -> MatMul ->
        Reshape``), so the rows are read off the tensor before the first reshape and after the
        second when those keep the last axis; otherwise (a ``Flatten`` in front) a 2-D operand has
        ``R / batch`` rows (``(R/batch, 1, C)``).
        """

        def rows(tensor: Any, reshaped: Any) -> HWC | None:
            if reshaped is not None and reshaped.shape.rank is not None and reshaped.shape.rank >= 3:
                dims = reshaped.shape.as_list()
                # Only a reshape that merges the row axes and keeps C (Tensordot); a Flatten before
                # a Dense folds the map into C, and the matmul then sees one row of H*W*C.
                keeps_c = tensor.shape.rank is not None and dims[-1] == tensor.shape.as_list()[-1]
                if keeps_c and all(d is not None for d in dims[1:]):
                    return rows_hwc_of([1, *dims[1:]])
            if tensor.shape.rank != 2 or any(d is None for d in tensor.shape.as_list()):
                return None
            r, c = tensor.shape.as_list()
            return (r // self.batch, 1, c) if r % self.batch == 0 else None

        source = first.op.inputs[0] if first.op.type == "Reshape" else None
        output = self._op(n).outputs[0]
        consumers = output.consumers()
        target = consumers[0].outputs[0] if len(consumers) == 1 and consumers[0].type == "Reshape" else None
        return rows(first, source) or in_hwc, rows(output, target) or out_hwc

    def _weight_shape(self, n: str, op_name: str) -> tuple[int, int, int, int]:
        node = self.nodes[n]
        kernel = self._op(n).inputs[self._conv_inputs(n)[1]]
        dims = kernel.shape.as_list() if kernel.shape.rank is not None else None
        if dims is None or any(d is None for d in dims):
            raise GraphError(f"{self.source}: the weight of node {n!r} ({node.op}) has an unknown shape")
        if node.op == "MatMul":
            if node.attr["transpose_b"].b:
                dims = dims[::-1]
            return (dims[0], dims[1], 0, 0)
        if op_name == "depthwise" and self._conv_def(n).op == "Conv2D":
            # groups = C_in: a [k1, k2, 1, C_out] kernel is C channels times C_out / C filters each
            c = int(self._conv_channels(n) or 1)
            return (c, dims[3] // c, dims[0], dims[1])
        return (dims[2], dims[3], dims[0], dims[1])

    def _attrs(self, n: str, op: str) -> tuple[tuple[int, int] | None, dict[str, Any] | None]:
        attr = self._conv_def(n).attr
        meta: dict[str, Any] = {}
        strides = self._pair(attr["strides"].list.i) if "strides" in attr and attr["strides"].list.i else None
        if "padding" in attr and attr["padding"].s:
            meta["padding"] = attr["padding"].s.decode().lower()
        if "data_format" in attr and attr["data_format"].s and op != "bias":
            meta["data_format"] = attr["data_format"].s.decode().upper()
        if "dilations" in attr and attr["dilations"].list.i:
            dil = self._pair(attr["dilations"].list.i)
            if dil != (1, 1):
                meta["dilation"] = list(dil)
        if n in self.calls and self.calls[n].dilation not in (None, (1, 1)):
            meta["dilation"] = list(self.calls[n].dilation)  # type: ignore[arg-type]
        if op in ("maxpool", "avgpool"):
            ksize = list(attr["ksize"].list.i) if "ksize" in attr else None
            if ksize is None and len(self._op(n).inputs) > 1:
                value = self._static(self._op(n).inputs[1])
                ksize = [int(v) for v in value] if value is not None else None
                if strides is None and len(self._op(n).inputs) > 2:
                    value = self._static(self._op(n).inputs[2])
                    strides = self._pair(value) if value is not None else None
            if ksize:
                meta["ksize"] = list(self._pair(ksize))
        if op in ("paddings", "spacetobatchnd"):
            index = 2 if op == "spacetobatchnd" else 1
            inputs = self._op(n).inputs
            value = self._static(inputs[index]) if len(inputs) > index else None
            if value is not None and value.ndim == 2:
                rows = value.tolist()
                if len(rows) == 4:
                    rows = rows[2:4] if self.layout == "NCHW" else rows[1:3]
                if len(rows) >= 2:
                    meta["pad_h"], meta["pad_w"] = [int(v) for v in rows[0]], [int(v) for v in rows[1]]
        return strides, meta or None


def from_tf_graphdef(
    graph_def: Any,
    input_shape: Sequence[int] | None = None,
    name: str | None = None,
) -> ComputeGraph:
    """Build the computation graph of a frozen TensorFlow graph.

    Args:
        graph_def: A ``tf.compat.v1.GraphDef`` (or ``GraphDef`` proto) or the path of a binary ``.pb``
            file holding one. Variables must already be frozen into constants.
        input_shape: ``(H, W, C)`` or ``(1, H, W, C)`` of the input (NHWC). Needed only when the
            graph's input placeholder has unknown dimensions; otherwise read from the graph.
        name: Graph name (default: the file's stem, or ``"graph"``).

    Returns:
        The computation graph (see the module docstring for the rules).

    Raises:
        GraphError: If the file cannot be read or parsed (the message names the file), TensorFlow
            cannot import the graph, or the graph has no single input/output.
        TypeError: If ``graph_def`` is neither a GraphDef nor a path.
        MissingDependencyError: If TensorFlow is not installed.
    """
    tf = require("tensorflow", "tf", "Importing a TensorFlow GraphDef")
    input_hwc = normalise_input_shape(input_shape)
    gd, path = _load_graph_def(tf, graph_def)
    name = name or (Path(path).stem if path else "graph")
    return _Importer(tf, gd, input_hwc, name, path or f"GraphDef {name!r}").run()
