"""Freeze Keras models into inference GraphDefs and write them as ``.pb`` files.

Part of :mod:`gennape_naslib.cg.from_tf` (re-exported there); TensorFlow is imported only when a
function runs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gennape_naslib._atomic import atomic_write
from gennape_naslib._optional import require

__all__ = ["freeze_keras_model", "normalise_input_shape", "write_pb"]


def normalise_input_shape(input_shape: Sequence[int] | None) -> tuple[int, int, int] | None:
    """``(H, W, C)`` from ``(H, W, C)`` or ``(1, H, W, C)``; ``None`` stays ``None``."""
    if input_shape is None:
        return None
    dims = tuple(int(d) for d in input_shape)
    if len(dims) == 4:
        dims = dims[1:]
    if len(dims) != 3 or any(d <= 0 for d in dims):
        raise ValueError(f"input_shape must be (H, W, C) or (1, H, W, C), got {tuple(input_shape)!r}")
    return dims  # type: ignore[return-value]


def _example_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    """The shape of one example: ``(H, W, C)``, tokens ``(L, C)`` or ``(C,)``; ``(1, H, W, C)`` drops its batch."""
    dims = tuple(int(d) for d in input_shape)
    if len(dims) == 4 and dims[0] == 1:
        dims = dims[1:]
    if not 1 <= len(dims) <= 3 or any(d <= 0 for d in dims):
        raise ValueError(
            f"input_shape must be one example's shape, (H, W, C), (L, C) or (C,), or (1, H, W, C), "
            f"got {tuple(input_shape)!r}"
        )
    return dims


def freeze_keras_model(model: Any, input_shape: Sequence[int]) -> Any:
    """Freeze a Keras model into an inference ``GraphDef`` the way GENNAPE's model maker does.

    The input is wrapped in an identity named ``input``, the model is called with
    ``training=False`` (batch norm in inference mode, dropout off), the result is wrapped in an
    identity named ``output`` and variables become constants. The wrapper nodes a TF 2 function adds
    after ``output`` (``Identity``, ``NoOp``) are removed, so ``output`` is the graph's sink.

    Args:
        model: A Keras (2 or 3) model or any callable accepting ``training=``.
        input_shape: One example's shape: an image ``(H, W, C)`` (or ``(1, H, W, C)``), a token
            sequence ``(L, C)`` or a vector ``(C,)``; the batch size is 1.

    Returns:
        A ``tf.compat.v1.GraphDef``.

    Raises:
        ValueError: If ``input_shape`` is malformed or the model returns several tensors.
    """
    tf = require("tensorflow", "tf", "Freezing a Keras model")
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    example = _example_shape(input_shape)

    @tf.function
    def forward(x: Any) -> Any:
        y = model(tf.identity(x, name="input"), training=False)
        if isinstance(y, (list, tuple, dict)):
            raise ValueError(f"freeze_keras_model supports models with one output tensor, got {type(y).__name__}")
        return tf.identity(y, name="output")

    concrete = forward.get_concrete_function(tf.TensorSpec((1, *example), tf.float32, name="x"))
    gd = convert_variables_to_constants_v2(concrete).graph.as_graph_def()
    out = tf.compat.v1.GraphDef()
    out.versions.CopyFrom(gd.versions)
    out.library.CopyFrom(gd.library)
    for node in gd.node:
        trailing = node.op == "Identity" and node.input and node.input[0] == "output"
        if node.op == "NoOp" or trailing:
            continue
        new = out.node.add()
        new.CopyFrom(node)
        del new.input[:]
        new.input.extend(i for i in node.input if i != "^NoOp")
    return out


def write_pb(graph_def: Any, path: str | os.PathLike[str]) -> Path:
    """Write a ``GraphDef`` as a binary ``.pb`` file (atomically) and return its path."""
    target = Path(path)
    with atomic_write(target, "wb") as handle:
        handle.write(graph_def.SerializeToString())
    return target
