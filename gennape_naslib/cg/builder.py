"""A direct, fast builder of computation graphs.

Family adapters describe their networks with this builder instead of tracing a PyTorch module: the
builder tracks the output geometry ``(H, W, C)`` of every node and applies the same lowering rules
as :func:`gennape_naslib.cg.from_torch` (a hard-swish becomes ``relu6`` + ``mul``, a global average
pool becomes ``mean``, a dense layer becomes ``matmul`` with a bias flag, ...). Geometry follows
PyTorch's arithmetic: ``H_out = floor((H + 2 * pad - dilation * (k - 1) - 1) / stride) + 1``.

Example:
    >>> b = CGBuilder((32, 32, 3), name="tiny")
    >>> x = b.conv_bn_act(b.input_node, 16, 3, padding=1)
    >>> x = b.linear(b.mean(x), 10)
    >>> cg = b.build(x)
    >>> cg.op_counts()["conv"]
    1
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gennape_naslib.cg._lowering import space_to_batch
from gennape_naslib.cg.graph import ComputeGraph, GraphError, Node

__all__ = ["CGBuilder", "conv_out"]

HWC = tuple[int, int, int]


def conv_out(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1, ceil: bool = False) -> int:
    """Output length of a convolution or pooling window along one axis (PyTorch arithmetic)."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = -(-span // stride) + 1 if ceil else span // stride + 1
    if ceil and (out - 1) * stride >= size + padding:
        out -= 1  # PyTorch drops a last window that would start inside the right padding only
    if out < 1:
        raise GraphError(
            f"window of size {kernel} (stride {stride}, padding {padding}) does not fit an input of {size}"
        )
    return out


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    a, b = value
    return (int(a), int(b))


class CGBuilder:
    """Incrementally build a :class:`ComputeGraph`; every method returns the new node's index.

    Args:
        input_hwc: ``(H, W, C)`` of the network input.
        name: Name of the graph.
    """

    def __init__(self, input_hwc: Sequence[int], name: str = "") -> None:
        h, w, c = (int(v) for v in input_hwc)
        self.name = name
        self._nodes: list[Node] = []
        self._edges: list[tuple[int, int]] = []
        self._out: list[HWC] = []
        self.input_node = self._append(Node("input", (h, h, w, w, c, c), label="input"), [], (h, w, c))

    # ------------------------------------------------------------------ core
    def _append(self, node: Node, parents: Iterable[int], out: HWC) -> int:
        index = len(self._nodes)
        for p in parents:
            if not 0 <= p < index:
                raise GraphError(f"builder {self.name!r}: parent {p} of new {node.op} node does not exist")
            self._edges.append((p, index))
        self._nodes.append(node)
        self._out.append(out)
        return index

    def out_shape(self, index: int) -> HWC:
        """Output ``(H, W, C)`` of node ``index``."""
        return self._out[index]

    def node(
        self,
        op: str,
        parents: int | Sequence[int],
        out_hwc: Sequence[int] | None = None,
        *,
        in_hwc: Sequence[int] | None = None,
        shape: Sequence[int] | None = None,
        use_bias: bool = False,
        strides: Sequence[int] | None = None,
        label: str = "",
        metadata: Mapping[str, Any] | None = None,
    ) -> int:
        """Add a generic node whose input geometry is its first parent's output.

        Args:
            op: Vocabulary op name.
            parents: One parent index or several (the first one defines the input geometry).
            out_hwc: Output ``(H, W, C)``; defaults to the input geometry.
            in_hwc: Input ``(H, W, C)`` when it differs from the first parent's output (e.g. the
                parent's output is sliced before the op, as in a strided ``zero``).
            shape, use_bias, strides, label, metadata: See :class:`Node`.
        """
        plist = [parents] if isinstance(parents, int) else list(parents)
        if not plist:
            raise GraphError(f"builder {self.name!r}: a {op} node needs at least one parent")
        h, w, c = self._out[plist[0]] if in_hwc is None else (int(v) for v in in_hwc)
        oh, ow, oc = (h, w, c) if out_hwc is None else (int(v) for v in out_hwc)
        node = Node(
            op,
            (h, oh, w, ow, c, oc),
            shape=tuple(int(v) for v in shape) if shape is not None else None,
            use_bias=use_bias,
            strides=tuple(int(v) for v in strides) if strides is not None else None,
            label=label or op,
            metadata=dict(metadata) if metadata else None,
        )
        return self._append(node, plist, (oh, ow, oc))

    def graft(self, other: CGBuilder, x: int, output: int | None = None) -> int:
        """Append every node of ``other`` but its input node, fed by node ``x``.

        Lets a family build a repeated block once and reuse it (nodes are immutable and shared).

        Args:
            other: A builder holding the block, built from an input of the geometry of ``x``.
            x: The node that feeds the block.
            output: A node index of ``other`` (default: its last node).

        Returns:
            The index that ``output`` has in this builder.

        Raises:
            GraphError: If ``other``'s input geometry differs from the output of ``x``.
        """
        if other._out[0] != self._out[x]:
            raise GraphError(f"graft: block expects input {other._out[0]}, node {x} gives {self._out[x]}")
        offset = len(self._nodes) - 1
        self._edges.extend((x if s == 0 else s + offset, d + offset) for s, d in other._edges)
        self._nodes.extend(other._nodes[1:])
        self._out.extend(other._out[1:])
        if output is None:
            return len(self._nodes) - 1
        return x if output == 0 else output + offset

    def build(self, output: int | Sequence[int], **graph_kwargs: Any) -> ComputeGraph:
        """Add the ``output`` node after ``output`` (one index or several) and return the graph."""
        outs = [output] if isinstance(output, int) else list(output)
        self.node("output", outs, label="output")
        h, w, c = self._out[0]
        return ComputeGraph(self._nodes, self._edges, name=self.name, input_shape=(1, h, w, c), **graph_kwargs)

    # ------------------------------------------------------------------ weighted ops
    def conv(
        self,
        x: int,
        c_out: int,
        kernel: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        bias: bool = False,
    ) -> int:
        """A 2-D convolution (``nn.Conv2d``). ``groups == C_in == C_out / m`` gives a depthwise node."""
        h, w, c = self._out[x]
        kh, kw = _pair(kernel)
        sh, sw = _pair(stride)
        ph, pw = _pair(padding)
        dh, dw = _pair(dilation)
        oh, ow = conv_out(h, kh, sh, ph, dh), conv_out(w, kw, sw, pw, dw)
        if c % groups or c_out % groups:
            raise GraphError(f"conv with groups={groups} needs C_in ({c}) and C_out ({c_out}) divisible by it")
        if groups > 1 and groups == c:
            op, shape = "depthwise", (c, c_out // c, kh, kw)
        else:
            op, shape = "conv", (c // groups, c_out, kh, kw)
        meta = {"padding": [ph, pw]}
        geometry = None
        if (sh, sw) == (1, 1):
            geometry = space_to_batch((h, w), (kh, kw), (dh, dw), ((ph, ph), (pw, pw)))
        if geometry is not None:
            # TF's dilated convolution (GENNAPE_FACTS 1.7), as every importer lowers it (_lowering.split_dilated_conv)
            (bh, bw), (boh, bow) = geometry.block, geometry.block_out
            s2b = self.node(
                "spacetobatchnd",
                x,
                (bh, bw, c),
                label="spacetobatchnd",
                metadata={"pad_h": list(geometry.pad_h), "pad_w": list(geometry.pad_w)},
            )
            inner = self.node(
                op, s2b, (boh, bow, c_out), shape=shape, use_bias=bias, strides=(1, 1), metadata={"padding": "valid"}
            )
            return self.node("batchtospacend", inner, (oh, ow, c_out), label="batchtospacend")
        if (dh, dw) != (1, 1):
            meta["dilation"] = [dh, dw]
        return self.node(op, x, (oh, ow, c_out), shape=shape, use_bias=bias, strides=(sh, sw), metadata=meta)

    def depthwise(self, x: int, kernel: int | Sequence[int], stride: int = 1, padding: int = 0, **kw: Any) -> int:
        """A depthwise convolution with multiplier 1."""
        return self.conv(x, self._out[x][2], kernel, stride, padding, groups=self._out[x][2], **kw)

    def linear(self, x: int, c_out: int, bias: bool = True) -> int:
        """A dense layer (``nn.Linear``) on a flattened input: a ``matmul`` node."""
        _, _, c = self._out[x]
        node = Node("matmul", (1, 1, 1, 1, c, c_out), shape=(c, c_out, 0, 0), use_bias=bias, label="matmul")
        return self._append(node, [x], (1, 1, c_out))

    # ------------------------------------------------------------------ regular ops
    def bn(self, x: int) -> int:
        """Batch normalisation in inference mode."""
        return self.node("batchnorm", x)

    def act(self, x: int, kind: str | None) -> int:
        """An activation by name: relu, relu6, sigmoid, tanh, gelu, swish (silu), hswish, hsigmoid, or None."""
        if kind is None or kind == "none":
            return x
        if kind in ("hswish", "hardswish", "h_swish"):
            return self.hswish(x)
        if kind in ("hsigmoid", "hardsigmoid", "h_sigmoid"):
            return self.node("relu6", x)
        if kind in ("swish", "silu"):
            return self.mul(x, self.node("sigmoid", x))
        if kind not in ("relu", "relu6", "sigmoid", "tanh", "gelu"):
            raise GraphError(f"unknown activation {kind!r}")
        return self.node(kind, x)

    def relu(self, x: int) -> int:
        """ReLU."""
        return self.node("relu", x)

    def hswish(self, x: int) -> int:
        """Hard swish as a frozen TF graph shows it: ``relu6`` then ``mul`` with the input."""
        return self.mul(x, self.node("relu6", x))

    def add(self, *xs: int) -> int:
        """Left fold of binary additions (a single distinct input adds nothing)."""
        return self._fold("add", xs)

    def mul(self, *xs: int) -> int:
        """Left fold of binary multiplications; the first operand defines the input geometry."""
        return self._fold("mul", xs)

    def _fold(self, op: str, xs: Sequence[int]) -> int:
        acc = xs[0]
        for other in xs[1:]:
            if other == acc:
                continue
            h, w, c = self._out[acc]
            oh, ow, oc = self._out[other]
            acc = self.node(op, [acc, other], (max(h, oh), max(w, ow), max(c, oc)))
        return acc

    def concat(self, xs: Sequence[int]) -> int:
        """Channel concatenation; the first input defines ``C_in``."""
        if len(xs) == 1:
            return self.node("concat", xs)
        h, w, _ = self._out[xs[0]]
        return self.node("concat", list(xs), (h, w, sum(self._out[i][2] for i in xs)))

    def pool(
        self,
        x: int,
        kind: str,
        kernel: int | Sequence[int],
        stride: int | Sequence[int] | None = None,
        padding: int | Sequence[int] = 0,
        ceil_mode: bool = False,
    ) -> int:
        """Max or average pooling (``kind`` = ``"max"`` or ``"avg"``)."""
        h, w, c = self._out[x]
        kh, kw = _pair(kernel)
        sh, sw = _pair(stride if stride is not None else kernel)
        ph, pw = _pair(padding)
        oh, ow = conv_out(h, kh, sh, ph, 1, ceil_mode), conv_out(w, kw, sw, pw, 1, ceil_mode)
        op = {"max": "maxpool", "avg": "avgpool"}[kind]
        meta = {"ksize": [kh, kw], "padding": [ph, pw]}
        return self.node(op, x, (oh, ow, c), strides=(sh, sw), metadata=meta)

    def mean(self, x: int) -> int:
        """Global average pooling to ``(1, 1, C)``."""
        return self.node("mean", x, (1, 1, self._out[x][2]))

    def pad(self, x: int, pad: Sequence[int]) -> int:
        """Zero padding ``(left, right, top, bottom)`` as in ``F.pad``: a ``paddings`` node."""
        left, right, top, bottom = (int(v) for v in pad)
        h, w, c = self._out[x]
        meta = {"pad_h": [top, bottom], "pad_w": [left, right]}
        return self.node("paddings", x, (h + top + bottom, w + left + right, c), metadata=meta)

    def zero(self, x: int, stride: int = 1, c_out: int | None = None) -> int:
        """The ``none`` operation of cell-based spaces: a ``zero`` node.

        With ``stride > 1`` the input is first sliced ``x[:, :, ::s, ::s]`` (as NAS-Bench-201 does), so
        the node's input geometry is the sliced one.
        """
        h, w, c = self._out[x]
        sliced = (-(-h // stride), -(-w // stride), c)
        return self.node("zero", x, (sliced[0], sliced[1], c_out or c), in_hwc=sliced)

    def identity(self, x: int) -> int:
        """An explicit identity (e.g. dropout at inference)."""
        return self.node("identity", x)

    # ------------------------------------------------------------------ composites
    def conv_bn(
        self, x: int, c_out: int, kernel: int | Sequence[int], stride: int = 1, padding: int = 0, **kw: Any
    ) -> int:
        """Convolution followed by batch norm."""
        return self.bn(self.conv(x, c_out, kernel, stride, padding, **kw))

    def conv_bn_act(
        self,
        x: int,
        c_out: int,
        kernel: int | Sequence[int],
        stride: int = 1,
        padding: int = 0,
        act: str | None = "relu",
        **kw: Any,
    ) -> int:
        """Convolution, batch norm and an activation (see :meth:`act`)."""
        return self.act(self.conv_bn(x, c_out, kernel, stride, padding, **kw), act)

    def act_conv_bn(
        self,
        x: int,
        c_out: int,
        kernel: int | Sequence[int],
        stride: int = 1,
        padding: int = 0,
        act: str | None = "relu",
        **kw: Any,
    ) -> int:
        """Activation, convolution and batch norm (the ReLU-Conv-BN order of cell-based spaces)."""
        return self.conv_bn(self.act(x, act), c_out, kernel, stride, padding, **kw)

    def squeeze_excite(self, x: int, c_mid: int, gate: str = "hsigmoid", inner_act: str = "relu") -> int:
        """Squeeze-and-excitation: mean -> conv(bias) -> act -> conv(bias) -> gate -> mul with ``x``."""
        c = self._out[x][2]
        s = self.mean(x)
        s = self.act(self.conv(s, c_mid, 1, bias=True), inner_act)
        s = self.act(self.conv(s, c, 1, bias=True), gate)
        return self.mul(x, s)
