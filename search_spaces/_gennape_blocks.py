"""Layer programs: one description of a network, run by PyTorch and by the direct CG builder.

The HiAML, Two-Path and Inception families are defined by GENNAPE's TensorFlow builders. Their
adapters describe a network once, as a :class:`Program` (a straight-line list of layer steps over
numbered values, with nested programs for blocks), and derive both representations from it:

* :func:`build_module` gives the PyTorch network (:class:`~._gennape_torch.LayerProgram`): one
  submodule per parametric step, a ``forward`` that runs the steps in order (static control flow,
  so ``torch.fx`` traces it to a flat graph);
* :func:`emit_cg` replays the same steps on a :class:`~gennape_naslib.cg.CGBuilder`.

Because both are interpreters of the same steps, ``to_cg(arch) == from_torch(to_module(arch))``
holds by construction once the per-step lowering agrees, which the family tests check.

TensorFlow ``"same"`` padding is expressed with symmetric PyTorch padding ``k // 2`` per axis. For
stride 1 and odd kernels the two are identical. For stride 2 on even inputs TensorFlow pads one
pixel at the bottom/right only, PyTorch one pixel on each side: the output size, the parameters,
the FLOPs and the computation graph are the same, but the sampling grid is shifted by one pixel
(an explicit asymmetric ``F.pad`` would add a ``paddings`` node the TF graphs do not have).
TensorFlow's "same" average pooling ignores padded zeros, hence ``count_include_pad=False``.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gennape_naslib.search_spaces.base import FamilyAdapter

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from gennape_naslib.cg.builder import CGBuilder
    from gennape_naslib.cg.graph import ComputeGraph

__all__ = ["Program", "ProgramFamily", "Step", "build_module", "emit_cg", "program_params"]

Pair = tuple[int, int]


def _pair(v: int | Sequence[int]) -> Pair:
    if isinstance(v, int):
        return (v, v)
    a, b = v
    return (int(a), int(b))


@dataclass(frozen=True, slots=True)
class Step:
    """One layer of a :class:`Program`.

    Attributes:
        kind: ``conv``, ``bn``, ``relu``, ``relu6``, ``maxpool``, ``avgpool``, ``add``, ``concat``,
            ``mean`` (global average pool), ``dropout``, ``linear`` or ``sub`` (a nested program).
        name: Submodule name (unique within its program).
        inputs: Indices of the values the step reads (0 is the program input).
        c_in, c_out: Channels of the (first) input and of the output.
        kernel, stride: Window geometry of convolutions and pools.
        bias: Whether a convolution or dense layer has a bias.
        groups: Convolution groups (``groups == c_in`` is a depthwise convolution).
        p: Dropout probability; for ``bn`` steps the momentum (PyTorch convention).
        eps: Batch-norm epsilon.
        sub: The nested program of a ``sub`` step.
    """

    kind: str
    name: str
    inputs: tuple[int, ...]
    c_in: int
    c_out: int
    kernel: Pair = (1, 1)
    stride: Pair = (1, 1)
    bias: bool = False
    groups: int = 1
    p: float = 0.0
    eps: float = 1e-5
    sub: Program | None = None


class Program:
    """A straight-line layer program; every method appends a step and returns its value index.

    Args:
        c_in: Channels of the program input (value 0).
        key: A hashable description that determines the program completely (e.g. the block's
            arguments). Programs with a key are compiled to a graph fragment once per input
            geometry and then reused (see :func:`emit_cg`); do not modify them after use.
        bn_momentum, bn_eps: Batch-norm settings of the ``bn`` steps (PyTorch momentum convention,
            i.e. 1 - TensorFlow's momentum).
    """

    __slots__ = ("steps", "channels", "key", "bn_args", "_names")

    def __init__(self, c_in: int, key: Hashable = None, bn_momentum: float = 0.1, bn_eps: float = 1e-5) -> None:
        self.steps: list[Step] = []
        self.channels: list[int] = [int(c_in)]
        self.key = key
        self.bn_args = {"p": float(bn_momentum), "eps": float(bn_eps)}
        self._names: dict[str, int] = {}

    @property
    def output(self) -> int:
        """Index of the last value (the program output)."""
        return len(self.channels) - 1

    def _unique(self, name: str) -> str:
        name = name.replace(".", "_").replace("-", "_")
        count = self._names.get(name, 0)
        self._names[name] = count + 1
        return name if count == 0 else f"{name}_{count}"

    def _add(self, kind: str, name: str, inputs: Sequence[int], c_out: int, **params: Any) -> int:
        step = Step(kind, self._unique(name), tuple(inputs), self.channels[inputs[0]], int(c_out), **params)
        self.steps.append(step)
        self.channels.append(int(c_out))
        return len(self.channels) - 1

    # ------------------------------------------------------------------ primitive layers
    def conv(
        self,
        x: int,
        c_out: int,
        kernel: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        bias: bool = False,
        groups: int = 1,
        name: str = "conv",
    ) -> int:
        """A convolution with TF-"same"-equivalent padding ``k // 2``."""
        return self._add("conv", name, [x], c_out, kernel=_pair(kernel), stride=_pair(stride), bias=bias, groups=groups)

    def bn(self, x: int, name: str = "bn") -> int:
        """Batch normalisation (with the program's momentum and epsilon)."""
        return self._add("bn", name, [x], self.channels[x], **self.bn_args)

    def act(self, x: int, kind: str | None, name: str = "") -> int:
        """``relu`` or ``relu6``; ``None`` returns ``x`` unchanged."""
        if kind is None:
            return x
        return self._add(kind, name or kind, [x], self.channels[x])

    def pool(self, x: int, kind: str, stride: int = 1, name: str = "pool") -> int:
        """3x3 max or average pooling (``kind`` = ``"max"``/``"avg"``), TF "same" padding."""
        return self._add(f"{kind}pool", name, [x], self.channels[x], kernel=(3, 3), stride=_pair(stride))

    def add(self, *xs: int) -> int:
        """Element-wise sum (a left fold of binary additions)."""
        if len(xs) == 1:
            return xs[0]
        return self._add("add", "add", xs, self.channels[xs[0]])

    def concat(self, xs: Sequence[int]) -> int:
        """Channel concatenation (a single input is returned unchanged)."""
        if len(xs) == 1:
            return xs[0]
        return self._add("concat", "concat", xs, sum(self.channels[i] for i in xs))

    def mean(self, x: int) -> int:
        """Global average pooling to a ``(N, C)`` tensor."""
        return self._add("mean", "gap", [x], self.channels[x])

    def dropout(self, x: int, p: float = 0.0) -> int:
        """Dropout (an ``identity`` node at inference)."""
        return self._add("dropout", "dropout", [x], self.channels[x], p=float(p))

    def linear(self, x: int, c_out: int, bias: bool = True) -> int:
        """A dense layer."""
        return self._add("linear", "classifier", [x], c_out, bias=bias)

    def sub(self, x: int, program: Program, name: str) -> int:
        """Run a nested program (a block) on value ``x``."""
        if program.channels[0] != self.channels[x]:
            raise ValueError(f"block {name!r} expects {program.channels[0]} input channels, got {self.channels[x]}")
        return self._add("sub", name, [x], program.channels[-1], sub=program)

    # ------------------------------------------------------------------ composites
    def cba(
        self,
        x: int,
        c_out: int,
        kernel: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        act: str | None = None,
        bias: bool = False,
        bn: bool = True,
        name: str = "conv",
    ) -> int:
        """Convolution, optional batch norm, optional activation (GENNAPE's ``AugmentedConv2D``)."""
        y = self.conv(x, c_out, kernel, stride, bias=bias, name=name)
        if bn:
            y = self.bn(y, name=f"{name}_bn")
        return self.act(y, act, name=f"{name}_{act}") if act else y


# ---------------------------------------------------------------------- PyTorch
def build_module(program: Program) -> torch.nn.Module:
    """The PyTorch network of ``program`` (freshly initialised, train mode)."""
    from gennape_naslib.search_spaces._gennape_torch import LayerProgram

    return LayerProgram(program)


# ---------------------------------------------------------------------- computation graph
def emit_cg(program: Program, b: CGBuilder, x: int) -> int:
    """Replay ``program`` on builder ``b`` starting from node ``x``; return the output node."""
    values = [x]
    for s in program.steps:
        first = values[s.inputs[0]]
        kind = s.kind
        if kind == "conv":
            pad = (s.kernel[0] // 2, s.kernel[1] // 2)
            y = b.conv(first, s.c_out, s.kernel, s.stride, pad, groups=s.groups, bias=s.bias)
        elif kind == "bn":
            y = b.bn(first)
        elif kind in ("relu", "relu6"):
            y = b.node(kind, first)
        elif kind in ("maxpool", "avgpool"):
            y = b.pool(first, kind[:3], s.kernel, s.stride, (s.kernel[0] // 2, s.kernel[1] // 2))
        elif kind == "add":
            y = b.add(*(values[i] for i in s.inputs))
        elif kind == "concat":
            y = b.concat([values[i] for i in s.inputs])
        elif kind == "mean":
            y = b.mean(first)
        elif kind == "dropout":
            y = b.identity(first)
        elif kind == "linear":
            y = b.linear(first, s.c_out, bias=s.bias)
        elif kind == "sub":
            y = _emit_sub(s.sub, b, first)  # type: ignore[arg-type]
        else:  # pragma: no cover - Program only creates the kinds above
            raise ValueError(f"unknown step kind {kind!r}")
        values.append(y)
    return values[-1]


_FRAGMENTS: dict[tuple[Hashable, tuple[int, int, int]], Any] = {}
_MAX_FRAGMENTS = 4096


def _emit_sub(program: Program, b: CGBuilder, x: int) -> int:
    if program.key is None:
        return emit_cg(program, b, x)
    hwc = b.out_shape(x)
    cache_key = (program.key, hwc)
    entry = _FRAGMENTS.get(cache_key)
    if entry is None:
        from gennape_naslib.cg.builder import CGBuilder

        fragment = CGBuilder(hwc)
        out = emit_cg(program, fragment, fragment.input_node)
        if len(_FRAGMENTS) >= _MAX_FRAGMENTS:
            _FRAGMENTS.clear()
        entry = _FRAGMENTS[cache_key] = (fragment, out)
    return b.graft(entry[0], x, entry[1])


def program_params(program: Program) -> int:
    """Number of parameters of :func:`build_module` (``sum(p.numel())``), counted analytically."""
    total = 0
    for s in program.steps:
        if s.kind == "conv":
            total += (s.c_in // s.groups) * s.c_out * s.kernel[0] * s.kernel[1] + (s.c_out if s.bias else 0)
        elif s.kind == "bn":
            total += 2 * s.c_out
        elif s.kind == "linear":
            total += s.c_in * s.c_out + (s.c_out if s.bias else 0)
        elif s.kind == "sub":
            total += program_params(s.sub)  # type: ignore[arg-type]
    return total


class ProgramFamily(FamilyAdapter):
    """A family whose networks are layer programs: module, graph and parameter count share one description.

    Subclasses implement :meth:`build_program` and :meth:`graph_name`; ``to_module``, ``to_cg`` and
    ``params`` follow from them, so the three always agree.
    """

    def build_program(self, arch: Any, num_classes: int, dropout: float = 0.0) -> Program:
        """The layer program of ``arch`` with a head of ``num_classes`` (dropout before the head)."""
        raise NotImplementedError

    def graph_name(self, arch: Any) -> str:
        """Name of the computation graph of ``arch``."""
        return self.name

    def to_module(self, arch: Any, num_classes: int | None = None, dropout: float = 0.0, **kwargs: Any) -> Any:
        """The network in PyTorch (input ``(N, 3, 32, 32)``)."""
        if kwargs:
            raise TypeError(f"{self.name}.to_module got unexpected arguments {sorted(kwargs)}")
        self.validate(arch)
        return build_module(self.build_program(arch, num_classes or self.num_classes, dropout))

    def to_cg(self, arch: Any) -> ComputeGraph:
        """The computation graph, built directly (equal to lowering :meth:`to_module`)."""
        from gennape_naslib.cg.builder import CGBuilder

        self.validate(arch)
        b = CGBuilder((32, 32, 3), name=self.graph_name(arch))
        return b.build(emit_cg(self.build_program(arch, self.num_classes), b, b.input_node))

    def params(self, arch: Any) -> int:
        """Parameters of :meth:`to_module` (analytic)."""
        self.validate(arch)
        return program_params(self.build_program(arch, self.num_classes))
