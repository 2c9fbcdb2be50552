"""Lower any PyTorch module to a computation graph through torch.fx and shape propagation.

The mapping onto GENNAPE's vocabulary reproduces what a frozen TensorFlow graph of the same network
shows (GENNAPE_FACTS 1.7), so that graphs from PyTorch, ONNX and TensorFlow agree:

=================================  ==========================================================
PyTorch                            computation-graph nodes
=================================  ==========================================================
``Conv2d`` (``groups == C_in``)    ``depthwise`` ``[C, C_out/C, k1, k2]`` (else ``conv``
                                   ``[C_in/groups, C_out, k1, k2]``), bias flag
``Linear``                         ``matmul`` ``[C_in, C_out, 0, 0]``, bias flag
``MultiheadAttention``             ``matmul`` ``[E, 3E]`` (one per input if query, key and
                                   value differ), two ``<oov>`` (the heads' products
                                   ``q k^T`` and ``(.) v``), ``matmul`` ``[E, E]``, as
                                   ``torch.onnx.export`` writes it
``F.scaled_dot_product_attention`` the two ``<oov>`` products
``BatchNorm*d``                    ``batchnorm``
ReLU, ReLU6, Sigmoid, Tanh, GELU   ``relu``, ``relu6``, ``sigmoid``, ``tanh``, ``gelu``
LeakyReLU                          ``relu`` (TensorFlow's ``LeakyRelu`` label contains relu)
Hardswish                          ``relu6`` then ``mul`` (parents: the input and the relu6)
Hardsigmoid                        ``relu6``
SiLU / swish                       ``sigmoid`` then ``mul``
Max/Avg pooling                    ``maxpool`` / ``avgpool``
global average pooling             ``mean`` (``AdaptiveAvgPool2d(1)``, ``x.mean((2, 3))``)
``+``, ``*`` of two tensors        ``add``, ``mul``; with a constant the op vanishes;
                                   multiplication by the literal 0 is a ``zero`` node
``torch.cat``                      ``concat``
``F.pad``, ``ZeroPad2d``           ``paddings``
Dropout (inference)                ``identity``
flatten, reshape, view, slicing,   vanish (their parents connect to their children)
``Identity``, softmax, ``size``,
axis moves (``swapaxes``, ...),
``unbind``, ``narrow``, ``select``
an unknown op that returns its     vanishes (e.g. torchvision's fx-wrapped ``stochastic_depth``
input tensor untouched             in eval mode: drop-path computes nothing at inference)
anything else                      ``<oov>``, with one warning naming the ops
=================================  ==========================================================

Every node's resolution is the geometry of its *first* tensor input and of its output, NCHW
tensors read as ``(H, W, C)``, 2-D tensors as ``(1, 1, C)`` and tensors of rank 5 or more with the
axes between C and the last one folded into H (``_lowering.any_rank_hwc``). A ``Linear`` acts on the last
axis, so its C is the last axis and its rows are H x W: tokens ``(N, L, C)`` give ``(L, 1, C)``, a
channels-last map ``(N, H, W, C)`` gives ``(H, W, C)``; the graph is built for one input, so a
leading axis that is not 1 is rows too (sequence-first ``(L, 1, C)``: ``(L, 1, C)``).

Only tensors are data: sizes, shapes and the ints computed from them (``x.size(0)``,
``b, c, h, w = x.shape``, ``c // 2``) make no nodes and no edges. An in-place op (a method ending in
``_`` such as ``y.relu_()``, a module with ``inplace=True``, ``F.relu(y, inplace=True)``) stays in the
graph even when its result is not assigned: later uses of the tensor read it.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
import operator
import sys
import warnings
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from gennape_naslib.cg._lowering import RawNode, any_rank_hwc, dense_rows_hwc, finalize, split_dilated_conv
from gennape_naslib.cg.graph import ComputeGraph, GraphError

__all__ = ["from_torch", "TraceError"]

logger = logging.getLogger(__name__)


class TraceError(GraphError):
    """torch.fx could not trace the module."""


# Activation-like modules/functions mapped one to one.
_SIMPLE_ACT = {"relu": "relu", "relu6": "relu6", "sigmoid": "sigmoid", "tanh": "tanh", "gelu": "gelu"}


def _module_rules() -> dict[type, str]:
    import torch.nn as nn

    return {
        nn.ReLU: "relu",
        nn.ReLU6: "relu6",
        nn.LeakyReLU: "relu",
        nn.Sigmoid: "sigmoid",
        nn.Tanh: "tanh",
        nn.GELU: "gelu",
        nn.SiLU: "swish",
        nn.Hardswish: "hswish",
        nn.Hardsigmoid: "hsigmoid",
        nn.BatchNorm1d: "batchnorm",
        nn.BatchNorm2d: "batchnorm",
        nn.BatchNorm3d: "batchnorm",
        nn.SyncBatchNorm: "batchnorm",
        nn.MaxPool1d: "maxpool",
        nn.MaxPool2d: "maxpool",
        nn.AvgPool1d: "avgpool",
        nn.AvgPool2d: "avgpool",
        nn.Dropout: "identity",
        nn.Dropout1d: "identity",
        nn.Dropout2d: "identity",
        nn.AlphaDropout: "identity",
        nn.Identity: "",
        nn.Flatten: "",
        nn.Unflatten: "",
        nn.Softmax: "",
        nn.LogSoftmax: "",
        nn.ZeroPad2d: "paddings",
        nn.ConstantPad2d: "paddings",
        nn.ReflectionPad2d: "paddings",
        nn.ReplicationPad2d: "paddings",
    }


def _function_rules() -> dict[Any, str]:
    import torch
    import torch.nn.functional as F

    return {
        torch.relu: "relu",
        F.relu: "relu",
        F.relu6: "relu6",
        F.leaky_relu: "relu",
        torch.sigmoid: "sigmoid",
        F.sigmoid: "sigmoid",
        torch.tanh: "tanh",
        F.tanh: "tanh",
        F.gelu: "gelu",
        F.silu: "swish",
        F.hardswish: "hswish",
        F.hardsigmoid: "hsigmoid",
        F.hardtanh: "hardtanh",
        F.max_pool2d: "maxpool",
        F.avg_pool2d: "avgpool",
        F.adaptive_avg_pool2d: "adaptive_avg",
        F.adaptive_max_pool2d: "adaptive_max",
        F.batch_norm: "batchnorm",
        F.dropout: "identity",
        F.dropout2d: "identity",
        F.pad: "paddings",
        F.conv2d: "conv_fn",
        F.linear: "linear_fn",
        F.scaled_dot_product_attention: "sdpa",
        torch.matmul: "matmul_fn",
        torch.mm: "matmul_fn",
        operator.matmul: "matmul_fn",
        torch.add: "add",
        operator.add: "add",
        operator.iadd: "add",
        torch.sub: "sub",
        operator.sub: "sub",
        torch.mul: "mul",
        operator.mul: "mul",
        operator.imul: "mul",
        torch.div: "div",
        operator.truediv: "div",
        torch.cat: "concat",
        torch.concat: "concat",
        torch.mean: "mean",
        torch.zeros_like: "zero",
        torch.flatten: "",
        torch.reshape: "",
        torch.squeeze: "",
        torch.unsqueeze: "",
        torch.transpose: "",
        torch.permute: "",
        torch.softmax: "",
        F.softmax: "",
        F.log_softmax: "",
        operator.getitem: "",
        getattr: "",
        torch.chunk: "",
        torch.split: "",
        torch.unbind: "",
        torch.swapaxes: "",
        torch.swapdims: "",
        torch.movedim: "",
        torch.moveaxis: "",
        torch.narrow: "",
        torch.select: "",
    }


_METHOD_RULES = {
    "relu": "relu",
    "relu_": "relu",
    "sigmoid": "sigmoid",
    "sigmoid_": "sigmoid",
    "tanh": "tanh",
    "add": "add",
    "add_": "add",
    "sub": "sub",
    "mul": "mul",
    "mul_": "mul",
    "div": "div",
    "div_": "div",
    "mean": "mean",
    "matmul": "matmul_fn",
    "mm": "matmul_fn",
    "view": "",
    "reshape": "",
    "flatten": "",
    "squeeze": "",
    "unsqueeze": "",
    "permute": "",
    "transpose": "",
    "contiguous": "",
    "size": "",
    "dim": "",
    "expand": "",
    "expand_as": "",
    "chunk": "",
    "split": "",
    "unbind": "",
    "swapaxes": "",
    "swapdims": "",
    "movedim": "",
    "moveaxis": "",
    "narrow": "",
    "select": "",
    "view_as": "",
    "reshape_as": "",
    "unflatten": "",
    "softmax": "",
    "clone": "",
    "detach": "",
    "float": "",
    "to": "",
}


# Tensor methods whose names end in "_" but that do not change the tensor's values.
_NOT_IN_PLACE = frozenset({"requires_grad_", "share_memory_"})


def _shape_of(node: Any) -> tuple[int, ...] | None:
    meta = getattr(node, "meta", {}).get("tensor_meta")
    while not hasattr(meta, "shape") and isinstance(meta, (tuple, list)) and meta:
        meta = meta[0]  # tuple outputs: the first tensor
    shape = getattr(meta, "shape", None)
    return tuple(int(d) for d in shape) if shape is not None else None


def _flat_nodes(arg: Any) -> list[Any]:
    import torch.fx as fx

    out: list[Any] = []

    def visit(a: Any) -> None:
        if isinstance(a, fx.Node):
            out.append(a)
        elif isinstance(a, (list, tuple)):
            for b in a:
                visit(b)
        elif isinstance(a, Mapping):
            for b in a.values():
                visit(b)

    visit(arg)
    return out


def _shape_prop(gm: Any) -> Any:
    """``ShapeProp`` that also notes the nodes that return their first tensor argument untouched."""
    import torch
    from torch.fx.passes.shape_prop import ShapeProp

    class _Prop(ShapeProp):  # type: ignore[misc]
        def __init__(self, module: Any) -> None:
            super().__init__(module)
            self.passthrough: set[str] = set()

        def run_node(self, n: Any) -> Any:
            first = next(iter(_flat_nodes((n.args, n.kwargs))), None) if n.op.startswith("call_") else None
            value = self.env.get(first) if first is not None else None
            version = value._version if isinstance(value, torch.Tensor) else None
            result = super().run_node(n)
            # The same tensor object, not modified in place (its version counter did not move): a no-op
            # such as torchvision's fx-wrapped stochastic_depth in eval mode.
            if version is not None and result is value and value._version == version:
                self.passthrough.add(n.name)
            return result

    return _Prop(gm)


class _Lowerer:
    def __init__(
        self, gm: Any, input_hwc: tuple[int, int, int], passthrough: Collection[str] = (), tokens: bool = False
    ) -> None:
        self.gm = gm
        self.tokens = tokens  # 3-D tensors are (N, L, E) token sequences, not (N, C, L) maps
        self.passthrough = frozenset(passthrough)
        self.modules = dict(gm.named_modules())
        self.raw: list[RawNode] = []
        self.by_key: dict[str, RawNode] = {}
        self.oov: dict[str, int] = {}
        self.input_hwc = input_hwc
        self.module_rules = _module_rules()
        self.function_rules = _function_rules()

    # A tensor operand that is computed from the input (not a parameter/buffer constant).
    def _is_data(self, node: Any) -> bool:
        return node.op != "get_attr" and _shape_of(node) is not None and node.name in self.data_nodes

    def lower(self) -> list[RawNode]:
        self.data_nodes: set[str] = set()
        # In-place ops: the fx node of a tensor mutated later still names its old value, so every use
        # reads the last op that mutated it. ``tensor_of`` maps a node to the node that first held its
        # tensor, ``latest`` that tensor to its last mutation.
        self.tensor_of: dict[str, str] = {}
        self.latest: dict[str, str] = {}
        seen_input = False
        for node in self.gm.graph.nodes:
            tensor_args = [a for a in _flat_nodes((node.args, node.kwargs)) if a.name in self.data_nodes]
            if node.op == "placeholder":
                if seen_input:
                    raise GraphError(f"from_torch supports a single input tensor; extra input {node.name!r}")
                seen_input = True
                self.data_nodes.add(node.name)
                h, w, c = self.input_hwc
                self._add(node.name, "input", [], (h, w, c), (h, w, c))
                continue
            if node.op == "output":
                self._add(node.name, "output", [self._current(a.name) for a in tensor_args], None, None)
                continue
            if node.op == "get_attr" or not tensor_args or node.meta.get("tensor_meta") is None:
                continue  # constants, and shape arithmetic (sizes and ints are not tensors)
            self.data_nodes.add(node.name)
            self._lower_call(node, tensor_args)
            mutated = [a for a in tensor_args[:1] if node.args and a is node.args[0]]
            if mutated and self._mutates_first_argument(node):
                tensor = self.tensor_of.get(mutated[0].name, mutated[0].name)
                self.tensor_of[node.name] = tensor
                self.latest[tensor] = node.name
        return self.raw

    def _current(self, name: str) -> str:
        """The node holding the present value of node ``name``'s tensor (its last in-place op)."""
        return self.latest.get(self.tensor_of.get(name, name), name)

    def _mutates_first_argument(self, node: Any) -> bool:
        """Whether ``node`` is an in-place op on its first argument (``y.relu_()``, ``ReLU(inplace=True)``)."""
        if node.op == "call_method":
            name = str(node.target)
            return name.endswith("_") and not name.startswith("__") and name not in _NOT_IN_PLACE
        if node.op == "call_module":
            return getattr(self.modules[node.target], "inplace", False) is True
        if node.op == "call_function":
            name = getattr(node.target, "__name__", "")
            if name.endswith("_") and not name.startswith("__"):
                return True  # torch.relu_, F.relu_, ...
            if "inplace" in node.kwargs:
                return node.kwargs["inplace"] is True
            try:
                bound = inspect.signature(node.target).bind(*node.args, **node.kwargs)
            except (TypeError, ValueError):  # builtins without a signature, or another calling form
                return False
            return bound.arguments.get("inplace") is True
        return False

    def _add(self, key: str, op: str | None, parents: Sequence[str], in_hwc: Any, out_hwc: Any, **kw: Any) -> None:
        self.raw.append(RawNode(key, op, list(parents), in_hwc, out_hwc, label=kw.pop("label", key), **kw))
        self.by_key[key] = self.raw[-1]

    def _geometry(self, shape: Any) -> Any:
        """``(H, W, C)`` of a tensor: tokens ``(N, L, E)`` as ``(L, 1, E)`` in a token model, else by rank."""
        if self.tokens and shape is not None and len(shape) == 3:
            return dense_rows_hwc(shape)
        return any_rank_hwc(shape)

    def _lower_call(self, node: Any, tensor_args: list[Any]) -> None:
        parents = [self._current(a.name) for a in tensor_args]
        in_hwc = self._geometry(_shape_of(tensor_args[0]))
        out_hwc = self._geometry(_shape_of(node))
        if node.op == "call_module":
            mod = self.modules[node.target]
            kind = self._module_kind(mod)
            label = type(mod).__name__
        elif node.op == "call_function":
            kind = self.function_rules.get(node.target)
            label = getattr(node.target, "__name__", str(node.target))
            mod = None
        else:  # call_method
            kind = _METHOD_RULES.get(node.target)
            label = str(node.target)
            mod = None
        if kind is None and node.name in self.passthrough:
            # An unknown op that returned its input untouched (e.g. a drop-path function in eval mode)
            # computes nothing: it vanishes like the training-only branches that are never traced.
            kind = ""
        if kind is None:
            self._oov_node(node.name, parents, in_hwc, out_hwc, label)
            return
        if kind == "":
            self._add(node.name, None, parents, in_hwc, out_hwc)
            return
        common = {"label": label}
        if kind in ("conv", "conv_fn"):
            self._conv(node, mod, parents, in_hwc, out_hwc)
        elif kind in ("linear", "linear_fn"):
            if mod is not None:
                shape, bias = (mod.in_features, mod.out_features, 0, 0), mod.bias is not None
            else:
                w = _shape_of(node.args[1])
                shape = (w[1], w[0], 0, 0)
                bias = len(node.args) > 2 and node.args[2] is not None or node.kwargs.get("bias") is not None
            # A dense layer acts on the last axis: its rows (tokens, pixels of a channels-last map) are H x W.
            in_hwc, out_hwc = dense_rows_hwc(_shape_of(tensor_args[0])), dense_rows_hwc(_shape_of(node))
            self._add(node.name, "matmul", parents[:1], in_hwc, out_hwc, shape=shape, use_bias=bias, **common)
        elif kind == "matmul_fn":
            self._matmul(node, parents, in_hwc, out_hwc, label)
        elif kind == "mha":
            self._multihead_attention(node, mod, label)
        elif kind == "sdpa":
            self._sdpa(node, label)
        elif kind in _SIMPLE_ACT.values() or kind in ("batchnorm", "identity"):
            self._add(node.name, kind, parents[:1], in_hwc, out_hwc, **common)
        elif kind == "hardtanh":
            lo, hi = self._hardtanh_range(node)
            op = "relu6" if (lo, hi) == (0.0, 6.0) else "<oov>"
            if op == "<oov>":
                self.oov[label] = self.oov.get(label, 0) + 1
            self._add(node.name, op, parents[:1], in_hwc, out_hwc, **common)
        elif kind == "swish":
            self._add(node.name + "/sigmoid", "sigmoid", parents[:1], in_hwc, in_hwc, label="sigmoid")
            self._add(node.name, "mul", [parents[0], node.name + "/sigmoid"], in_hwc, out_hwc, label="mul")
        elif kind == "hswish":
            self._add(node.name + "/relu6", "relu6", parents[:1], in_hwc, in_hwc, label="relu6")
            self._add(node.name, "mul", [parents[0], node.name + "/relu6"], in_hwc, out_hwc, label="mul")
        elif kind == "hsigmoid":
            self._add(node.name, "relu6", parents[:1], in_hwc, out_hwc, **common)
        elif kind in ("maxpool", "avgpool"):
            self._pool(node, mod, kind, parents, in_hwc, out_hwc)
        elif kind in ("adaptive_avg", "adaptive_max"):
            op = "mean" if kind == "adaptive_avg" else "maxpool"
            if out_hwc is not None and out_hwc[:2] == (1, 1):
                out_hwc = (1, 1, out_hwc[2])
            elif kind == "adaptive_avg":
                op = "avgpool"
            self._add(node.name, op, parents[:1], in_hwc, out_hwc, **common)
        elif kind == "mean":
            self._add(node.name, "mean", parents[:1], in_hwc, out_hwc, **common)
        elif kind == "paddings":
            self._add(node.name, "paddings", parents[:1], in_hwc, out_hwc, metadata=self._pad_meta(node, mod), **common)
        elif kind == "concat":
            self._add(node.name, "concat", parents, in_hwc, out_hwc, **common)
        elif kind == "zero":
            self._add(node.name, "zero", parents[:1], in_hwc, out_hwc, **common)
        elif kind in ("add", "mul", "sub", "div"):
            self._binary(node, kind, parents, in_hwc, out_hwc, label)
        else:  # pragma: no cover - every rule value is handled above
            raise AssertionError(kind)

    def _matmul(self, node: Any, parents: list[str], in_hwc: Any, out_hwc: Any, label: str) -> None:
        """``x @ W`` with a 2-D parameter ``W`` is a dense layer ``[K, N]`` (as ONNX's ``MatMul``); else ``<oov>``."""
        x, w = (list(node.args) + [None, None])[:2]
        if (
            self._is_data(x)
            and getattr(w, "op", None) == "get_attr"
            and len(_shape_of(w) or ()) == 2
            and len(_shape_of(x) or ()) >= 2
        ):
            k, n = _shape_of(w)  # type: ignore[misc]
            rows_in, rows_out = dense_rows_hwc(_shape_of(x)), dense_rows_hwc(_shape_of(node))
            self._add(node.name, "matmul", parents[:1], rows_in, rows_out, shape=(k, n, 0, 0), label=label)
            return
        self._oov_node(node.name, parents, in_hwc, out_hwc, label)

    def _dense_producer(self, key: str) -> RawNode | None:
        """The ``matmul`` node whose output ``key`` is, through vanishing plumbing (reshapes, views)."""
        node = self.by_key.get(key)
        while node is not None and node.op is None and len(node.parents) == 1:
            node = self.by_key.get(node.parents[0])
        return node if node is not None and node.op == "matmul" else None

    def _oov_node(self, key: str, parents: list[str], in_hwc: Any, out_hwc: Any, label: str) -> None:
        self.oov[label] = self.oov.get(label, 0) + 1
        self._add(key, "<oov>", parents, in_hwc, out_hwc, label=label)

    def _attention_core(
        self, key: str, q: str, k: str, v: str, q_shape: Sequence[int], s_len: int, label: str, out_hwc: Any = None
    ) -> None:
        """The two data-by-data products of attention, ``scores = q k^T`` and ``scores v``, as ``<oov>`` nodes.

        ``q_shape`` is ``(..., L, d)``; the scores are ``(..., L, S)``. A product of two computed
        tensors has no weight, so it is not a ``matmul`` node (as a ``MatMul`` of two data tensors in
        :func:`~gennape_naslib.cg.from_onnx`); the softmax and the scaling between them vanish.
        """
        q_hwc = any_rank_hwc(q_shape)
        scores_hwc = any_rank_hwc([*q_shape[:-1], s_len])
        self._oov_node(key + "/scores", [q, k], q_hwc, scores_hwc, label)
        self._oov_node(key, [key + "/scores", v], scores_hwc, out_hwc or q_hwc, label)

    def _multihead_attention(self, node: Any, mod: Any, label: str) -> None:
        """``nn.MultiheadAttention``: input projections, the attention core, the output projection.

        As ``F.multi_head_attention_forward`` computes it (and ``torch.onnx.export`` writes it): one
        ``matmul`` ``[E, 3E]`` when query, key and value are one tensor (else one per input), the two
        products of the heads (:meth:`_attention_core`; ``(N, h, L, d)`` tensors, or ``(N h, L, d)``
        with ``need_weights=True``), and the ``matmul`` ``[E, E]`` of ``out_proj``.
        """
        bound = inspect.signature(type(mod).forward).bind(mod, *node.args, **node.kwargs)
        args = bound.arguments
        query, key_, value = args["query"], args["key"], args["value"]
        need_weights = args.get("need_weights", True) is not False

        def tokens(tensor: Any) -> list[int]:  # (N, L, E)
            shape = list(_shape_of(tensor) or ())
            if len(shape) == 2:
                return [1, *shape]
            return shape if mod.batch_first else [shape[1], shape[0], shape[2]]

        n, length, embed = tokens(query)
        source = tokens(key_)[1]
        heads, bias = mod.num_heads, mod.in_proj_bias is not None

        def rows(width: int, n_rows: int = length) -> tuple[int, int, int]:
            return (n_rows, 1, width)

        name = node.name
        if query is key_ is value and mod._qkv_same_embed_dim:
            proj = name + "/in_proj"
            self._add(proj, "matmul", [self._current(query.name)], rows(embed), rows(3 * embed),
                      shape=(embed, 3 * embed, 0, 0), use_bias=bias, label=label + "/in_proj")  # fmt: skip
            q = k = v = proj
        else:
            projected = []
            for which, tensor, width in (("q", query, embed), ("k", key_, mod.kdim), ("v", value, mod.vdim)):
                proj = f"{name}/{which}_proj"
                n_rows = length if which == "q" else source
                self._add(proj, "matmul", [self._current(tensor.name)], rows(width, n_rows), rows(embed, n_rows),
                          shape=(width, embed, 0, 0), use_bias=bias, label=f"{label}/{which}_proj")  # fmt: skip
                projected.append(proj)
            q, k, v = projected
        head_dim = embed // heads
        q_shape = [n * heads, length, head_dim] if need_weights else [n, heads, length, head_dim]
        self._attention_core(name + "/attention", q, k, v, q_shape, source, label)
        out = mod.out_proj
        self._add(name, "matmul", [name + "/attention"], rows(embed), rows(out.out_features),
                  shape=(out.in_features, out.out_features, 0, 0), use_bias=out.bias is not None,
                  label=label + "/out_proj")  # fmt: skip

    def _sdpa(self, node: Any, label: str) -> None:
        """``F.scaled_dot_product_attention(q, k, v)``: the two products of :meth:`_attention_core`."""
        names = ("query", "key", "value")
        q, k, v = (node.kwargs[n] if n in node.kwargs else node.args[i] for i, n in enumerate(names))
        q_shape, k_shape = _shape_of(q), _shape_of(k)
        if q_shape is None or k_shape is None or any(not self._is_data(t) for t in (q, k, v)):
            self._oov_node(node.name, [self._current(a.name) for a in (q, k, v) if self._is_data(a)],
                           any_rank_hwc(q_shape), any_rank_hwc(_shape_of(node)), label)  # fmt: skip
            return
        current = [self._current(t.name) for t in (q, k, v)]
        self._attention_core(node.name, *current, list(q_shape), k_shape[-2], label, any_rank_hwc(_shape_of(node)))

    def _module_kind(self, mod: Any) -> str | None:
        import torch.nn as nn

        if isinstance(mod, nn.modules.conv._ConvNd) and not mod.transposed:
            return "conv"
        if isinstance(mod, nn.Linear):
            return "linear"
        if isinstance(mod, nn.MultiheadAttention):
            return "mha"
        if isinstance(mod, nn.Hardtanh) and not isinstance(mod, nn.ReLU6):
            return "hardtanh"
        if isinstance(mod, nn.AdaptiveAvgPool2d):
            return "adaptive_avg"
        if isinstance(mod, nn.AdaptiveMaxPool2d):
            return "adaptive_max"
        for cls in type(mod).__mro__:
            if cls in self.module_rules:
                return self.module_rules[cls]
        return None

    def _hardtanh_range(self, node: Any) -> tuple[float, float]:
        if node.op == "call_module":
            mod = self.modules[node.target]
            return float(mod.min_val), float(mod.max_val)
        args = list(node.args[1:3])
        lo = node.kwargs.get("min_val", args[0] if args else -1.0)
        hi = node.kwargs.get("max_val", args[1] if len(args) > 1 else 1.0)
        return float(lo), float(hi)

    def _conv(self, node: Any, mod: Any, parents: list[str], in_hwc: Any, out_hwc: Any) -> None:
        if mod is not None:
            weight_shape = tuple(mod.weight.shape)
            groups, bias = mod.groups, mod.bias is not None
            stride, padding, dilation = mod.stride, mod.padding, mod.dilation
        else:
            weight_shape = _shape_of(node.args[1])
            get = lambda i, k, d: node.kwargs.get(k, node.args[i] if len(node.args) > i else d)
            bias = get(2, "bias", None) is not None
            stride, padding, dilation, groups = (
                get(3, "stride", 1),
                get(4, "padding", 0),
                get(5, "dilation", 1),
                get(6, "groups", 1),
            )
        c_out, c_in_per_group = weight_shape[0], weight_shape[1]
        kernel = tuple(weight_shape[2:]) + (1,) * (4 - len(weight_shape))
        c_in = c_in_per_group * groups
        if groups > 1 and groups == c_in:
            op, shape = "depthwise", (c_in, c_out // c_in, kernel[0], kernel[1])
        else:
            op, shape = "conv", (c_in_per_group, c_out, kernel[0], kernel[1])
        pair = lambda v: (
            [int(v), int(v)] if isinstance(v, int) else [int(x) for x in v] if not isinstance(v, str) else v
        )
        strides = pair(stride)
        meta = {"padding": pair(padding)}
        if pair(dilation) != [1, 1] and pair(dilation) != [1]:
            meta["dilation"] = pair(dilation)
        strides_t = (strides[0], strides[-1])
        conv = RawNode(
            node.name,
            op,
            parents[:1],
            in_hwc,
            out_hwc,
            shape=shape,
            use_bias=bias,
            strides=strides_t,
            metadata=meta,
            label=type(mod).__name__ if mod is not None else "conv2d",
        )
        dilations = pair(dilation)
        if len(weight_shape) == 4 and len(dilations) == 2:
            pads = _conv_pads(padding, kernel[:2], dilations)
            nodes = split_dilated_conv(conv, dilations, pads, strides_t) if pads is not None else [conv]
        else:
            nodes = [conv]
        for raw in nodes:
            self.raw.append(raw)
            self.by_key[raw.key] = raw

    def _pool(self, node: Any, mod: Any, op: str, parents: list[str], in_hwc: Any, out_hwc: Any) -> None:
        if mod is not None:
            k, s, p = mod.kernel_size, mod.stride, mod.padding
        else:
            get = lambda i, key, d: node.kwargs.get(key, node.args[i] if len(node.args) > i else d)
            k = get(1, "kernel_size", 1)
            s, p = get(2, "stride", None) or k, get(3, "padding", 0)
        pair = lambda v: (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[-1]))
        meta = {"ksize": list(pair(k)), "padding": list(pair(p))}
        self._add(node.name, op, parents[:1], in_hwc, out_hwc, strides=pair(s), metadata=meta, label=op)

    def _pad_meta(self, node: Any, mod: Any) -> dict[str, Any]:
        pad = mod.padding if mod is not None else node.args[1] if len(node.args) > 1 else node.kwargs.get("pad")
        pad = [int(v) for v in pad] + [0] * (4 - len(pad))
        return {"pad_w": pad[0:2], "pad_h": pad[2:4]}

    def _binary(self, node: Any, kind: str, parents: list[str], in_hwc: Any, out_hwc: Any, label: str) -> None:
        operands = list(node.args) + list(node.kwargs.values())
        if kind == "mul" and any(isinstance(a, (int, float)) and a == 0 for a in operands):
            self._add(node.name, "zero", parents[:1], in_hwc, out_hwc, label="zero")
            return
        if len(set(parents)) < 2:
            # Arithmetic with a constant (x + 3, x / 6, x * gamma) is not topology; a constant added
            # to a dense layer's output is its bias (``x @ W + b``, as in from_onnx).
            producer = self._dense_producer(parents[0]) if kind == "add" and parents else None
            if producer is not None and any(getattr(a, "op", None) == "get_attr" for a in operands):
                producer.use_bias = True
            self._add(node.name, None, parents, in_hwc, out_hwc)
            return
        if kind in ("sub", "div"):
            self.oov[label] = self.oov.get(label, 0) + 1
            self._add(node.name, "<oov>", parents, in_hwc, out_hwc, label=label)
            return
        self._add(node.name, kind, parents, in_hwc, out_hwc, label=kind)


def _conv_pads(padding: Any, kernel: Sequence[int], dilation: Sequence[int]) -> list[tuple[int, int]] | None:
    """``[(top, bottom), (left, right)]`` of a ``Conv2d`` padding (an int, a pair, ``"same"``, ``"valid"``)."""
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0), (0, 0)]
        if padding == "same":  # PyTorch's split: the odd pixel goes to the end
            totals = [int(d) * (int(k) - 1) for k, d in zip(kernel, dilation)]
            return [(t // 2, t - t // 2) for t in totals]
        return None
    values = [int(padding)] * 2 if isinstance(padding, int) else [int(v) for v in padding]
    if len(values) != 2:
        return None
    return [(values[0], values[0]), (values[1], values[1])]


#: ``input_kind`` -> (accepted ranks without and with the batch axis, what the shape is called).
_INPUT_KINDS = {
    "image": (3, "(C, H, W) or (N, C, H, W)"),
    "tokens": (2, "(L, E) or (N, L, E)"),
    "flat": (1, "(F,) or (N, F)"),
}


def _optional_arguments(module: Any) -> dict[str, Any] | None:
    """The root ``forward``'s optional arguments at their defaults (``mask=None``), fixed while tracing.

    The graph describes one call with one input tensor: an argument left at its default is a constant,
    and tracing it as an input would take the wrong branch of ``if mask is not None``.
    """
    try:
        parameters = list(inspect.signature(module.forward).parameters.values())
    except (TypeError, ValueError):
        return None
    fixed = {
        p.name: p.default
        for p in parameters[1:]
        if p.default is not inspect.Parameter.empty
        and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }
    return fixed or None


def _encoder_layer_inference(layer: Any, x: Any) -> Any:
    """``nn.TransformerEncoderLayer`` without masks, in eval mode: its slow path, from public attributes.

    Self-attention block ``dropout1(self_attn(x, x, x))`` and feed-forward block ``dropout2(linear2(
    dropout(activation(linear1(x)))))``, each added to its input, with ``norm1``/``norm2`` before the blocks
    (``norm_first``) or after the additions, as PyTorch computes them.
    """

    def attention(y: Any) -> Any:
        return layer.dropout1(layer.self_attn(y, y, y, need_weights=False)[0])

    def feed_forward(y: Any) -> Any:
        return layer.dropout2(layer.linear2(layer.dropout(layer.activation(layer.linear1(y)))))

    if layer.norm_first:
        x = x + attention(layer.norm1(x))
        return x + feed_forward(layer.norm2(x))
    x = layer.norm1(x + attention(x))
    return layer.norm2(x + feed_forward(x))


def _encoder_inference(encoder: Any, x: Any) -> Any:
    """``nn.TransformerEncoder`` without masks: its layers in turn, then its final norm if any."""
    for layer in encoder.layers:
        x = layer(x)
    return encoder.norm(x) if encoder.norm is not None else x


def _transformer_inference() -> dict[type, Callable[[Any, Any], Any]]:
    import torch.nn as nn

    return {nn.TransformerEncoderLayer: _encoder_layer_inference, nn.TransformerEncoder: _encoder_inference}


def _drop_fixed_arguments(graph: Any) -> None:
    """Remove the placeholders of arguments fixed while tracing and fx's checks of their values.

    fx keeps a placeholder per fixed argument and asserts its value at run time; the graph has one
    input, so the checks and the placeholders go (a fixed argument the body still reads stays).
    """
    import torch
    from torch.fx._symbolic_trace import _assert_is_none

    checks = (torch._assert, _assert_is_none)
    for node in reversed(list(graph.nodes)):
        if node.op == "call_function" and node.target in checks and not node.users:
            graph.erase_node(node)
    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    for node in reversed(list(graph.nodes)):
        unused = not node.users and node.op == "call_function" and node.target is operator.eq
        if unused and any(a in placeholders[1:] for a in node.args):
            graph.erase_node(node)
    for node in placeholders[1:]:
        if not node.users:
            graph.erase_node(node)


def _normalise_input_shape(input_shape: Sequence[int], kind: str = "image") -> tuple[int, ...]:
    """The batch-1 tensor shape of ``input_shape`` read as ``kind`` (a batch axis is added or set to 1)."""
    if kind not in _INPUT_KINDS:
        raise ValueError(f"input_kind must be one of {', '.join(_INPUT_KINDS)}, got {kind!r}")
    rank, described = _INPUT_KINDS[kind]
    try:
        dims = tuple(int(d) for d in input_shape)
    except (TypeError, ValueError):
        raise ValueError(f"input_shape must be {described} with positive sizes, got {input_shape!r}") from None
    if len(dims) == rank:
        dims = (1, *dims)
    if len(dims) != rank + 1 or any(d <= 0 for d in dims):
        hint = " (token or flat inputs: set input_kind)" if kind == "image" and len(dims) in (1, 2) else ""
        raise ValueError(f"input_shape must be {described} with positive sizes, got {tuple(input_shape)!r}{hint}")
    return (1, *dims[1:])


def _input_hwc(shape: tuple[int, ...], kind: str) -> tuple[int, int, int]:
    """``(H, W, C)`` of the input node: an image's map, or tokens and features as a dense layer's rows."""
    if kind == "image":
        return (shape[2], shape[3], shape[1])
    hwc = dense_rows_hwc(shape)
    assert hwc is not None
    return hwc


def from_torch(
    module: Any,
    input_shape: Sequence[int],
    name: str | None = None,
    leaf_modules: Iterable[type] = (),
    tracer_factory: Callable[..., Any] | None = None,
    input_kind: str = "image",
) -> ComputeGraph:
    """Build the computation graph of a PyTorch module.

    The module is traced with :mod:`torch.fx` in eval mode, so the graph is the inference graph
    (branches taken only ``if self.training``, such as drop-path or stochastic depth, are left out),
    run once in eval mode on zeros of ``input_shape`` to propagate shapes, and lowered with the rules
    in the module docstring. Its training flag is restored afterwards.

    Args:
        module: A ``torch.nn.Module`` with a single tensor input.
        input_shape: ``(C, H, W)`` or ``(N, C, H, W)``; the batch size is always taken as 1. With
            ``input_kind="tokens"`` ``(L, E)`` or ``(N, L, E)`` (a batch-first sequence of L tokens of
            width E), with ``input_kind="flat"`` ``(F,)`` or ``(N, F)`` (feature vectors, e.g. an MLP).
        name: Graph name (default: the module's class name).
        leaf_modules: Extra module types the tracer should not enter (they become nodes by their
            type, usually ``<oov>``); use this for submodules with data-dependent control flow.
        tracer_factory: Advanced: a callable returning a ``torch.fx.Tracer`` to use instead.
        input_kind: ``"image"`` (default), ``"tokens"`` or ``"flat"``: how ``input_shape`` is read. The
            input node of tokens and features describes them as a dense layer's rows (``(L, 1, E)``,
            ``(1, 1, F)``).

    Returns:
        The computation graph.

    Raises:
        TraceError: If torch.fx cannot trace the module; the message names the module.
        ValueError: If ``input_shape`` is malformed.
    """
    import torch
    import torch.fx as fx

    shape = _normalise_input_shape(input_shape, input_kind)
    input_hwc = _input_hwc(shape, input_kind)
    name = name or type(module).__name__
    leaves = tuple(leaf_modules)
    known = tuple(_module_rules()) + (
        torch.nn.modules.conv._ConvNd,
        torch.nn.Linear,
        torch.nn.MultiheadAttention,
        torch.nn.Hardtanh,
        torch.nn.AdaptiveAvgPool2d,
        torch.nn.AdaptiveMaxPool2d,
    )

    _TRANSFORMER_INFERENCE = _transformer_inference()

    class _Tracer(fx.Tracer):
        def is_leaf_module(self, m: torch.nn.Module, qualname: str) -> bool:
            if isinstance(m, leaves) or isinstance(m, known):
                return True
            return super().is_leaf_module(m, qualname)

        def call_module(self, m: torch.nn.Module, forward: Any, args: Any, kwargs: Any) -> Any:
            inference = _TRANSFORMER_INFERENCE.get(type(m))
            if inference is not None and not isinstance(m, leaves) and len(args) == 1 and not kwargs:
                # its forward branches on tensor properties for a fused fast path (untraceable)
                return inference(m, args[0])
            return super().call_module(m, forward, args, kwargs)

    tracer = tracer_factory() if tracer_factory is not None else _Tracer()
    was_training = module.training
    # The graph is the inference graph: branches taken only `if self.training:` (drop-path,
    # stochastic depth, auxiliary heads) are left out, as in a frozen TensorFlow graph.
    module.eval()
    try:
        try:
            root = module
            if type(module) in _TRANSFORMER_INFERENCE:  # the tracer rewrites such modules where they are called
                root = torch.nn.Sequential(module)
            fixed = _optional_arguments(module) if root is module else None
            graph = tracer.trace(root, concrete_args=fixed)
            if fixed:
                _drop_fixed_arguments(graph)
        except Exception as exc:
            raise TraceError(
                f"torch.fx could not trace {type(module).__name__} ({exc.__class__.__name__}: {exc}). "
                "Remove data-dependent control flow from its forward(), or pass the offending submodule "
                "types as leaf_modules=..."
            ) from exc
        gm = fx.GraphModule(tracer.root, graph, type(module).__name__)
        # ShapeProp prints the traceback of a failing node to stderr before raising; the TraceError
        # below says the same in one line, so the output is held back and only passed on when all
        # went well.
        printed = io.StringIO()
        try:
            with torch.no_grad(), contextlib.redirect_stderr(printed):
                propagation = _shape_prop(gm)
                propagation.propagate(torch.zeros(*shape))
        except Exception as exc:
            logger.debug("shape propagation of %s printed:\n%s", type(module).__name__, printed.getvalue())
            cause = exc.__cause__ if isinstance(exc.__cause__, Exception) else exc  # ShapeProp wraps the error
            raise TraceError(
                f"running {type(module).__name__} on an input of shape {tuple(shape)} failed "
                f"({cause.__class__.__name__}: {cause}); check input_shape"
            ) from exc
    finally:
        module.train(was_training)
    sys.stderr.write(printed.getvalue())  # e.g. warnings of the user's module

    lowerer = _Lowerer(gm, input_hwc, propagation.passthrough, tokens=input_kind == "tokens")
    raw = lowerer.lower()
    if lowerer.oov:
        names = ", ".join(f"{k} ({v}x)" for k, v in sorted(lowerer.oov.items()))
        message = f"{name}: ops outside the GENNAPE vocabulary became <oov> nodes: {names}"
        warnings.warn(message, stacklevel=2)
        logger.info(message)
    return finalize(raw, name, input_hwc)
