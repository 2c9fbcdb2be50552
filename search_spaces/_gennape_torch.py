"""The PyTorch side of layer programs (imported on first use, so that the adapters need no torch)."""

from __future__ import annotations

import torch
from torch import nn

from gennape_naslib.search_spaces._gennape_blocks import Program, Step

__all__ = ["LayerProgram"]


def _make_layer(step: Step) -> nn.Module:
    kind = step.kind
    if kind == "conv":
        padding = (step.kernel[0] // 2, step.kernel[1] // 2)
        return nn.Conv2d(step.c_in, step.c_out, step.kernel, step.stride, padding, groups=step.groups, bias=step.bias)
    if kind == "bn":
        return nn.BatchNorm2d(step.c_out, eps=step.eps, momentum=step.p)
    if kind == "relu":
        return nn.ReLU()
    if kind == "relu6":
        return nn.ReLU6()
    if kind == "maxpool":
        return nn.MaxPool2d(step.kernel, step.stride, (step.kernel[0] // 2, step.kernel[1] // 2))
    if kind == "avgpool":
        pad = (step.kernel[0] // 2, step.kernel[1] // 2)
        return nn.AvgPool2d(step.kernel, step.stride, pad, count_include_pad=False)
    if kind == "dropout":
        return nn.Dropout(step.p)
    if kind == "linear":
        return nn.Linear(step.c_in, step.c_out, bias=step.bias)
    if kind == "sub":
        return LayerProgram(step.sub)  # type: ignore[arg-type]
    raise ValueError(f"unknown step kind {kind!r}")


class LayerProgram(nn.Module):
    """Runs a :class:`~gennape_naslib.search_spaces._gennape_blocks.Program`.

    Each parametric step is a submodule named after the step (``stem``, ``stage1_block0``,
    ``conv33_1_bn``, ...); ``forward`` executes the steps in order. Additions, concatenations and
    the global average pool are written inline so that ``torch.fx`` sees them as ``+``, ``torch.cat``
    and ``mean``.

    Args:
        program: The layer program.
    """

    def __init__(self, program: Program) -> None:
        super().__init__()
        self._plan = tuple((s.kind, s.inputs, s.name) for s in program.steps)
        for s in program.steps:
            if s.kind not in ("add", "concat", "mean"):
                self.add_module(s.name, _make_layer(s))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the program on a batch ``(N, C, H, W)``."""
        values = [x]
        modules = self._modules
        for kind, inputs, name in self._plan:
            if kind == "add":
                y = values[inputs[0]]
                for i in inputs[1:]:
                    y = y + values[i]
            elif kind == "concat":
                y = torch.cat([values[i] for i in inputs], 1)
            elif kind == "mean":
                y = values[inputs[0]].mean((2, 3))
            else:
                y = modules[name](values[inputs[0]])
            values.append(y)
        return values[-1]
