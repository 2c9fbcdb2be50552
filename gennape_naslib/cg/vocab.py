"""GENNAPE's primitive-op vocabulary and the label -> op-index rule.

The vocabulary is the 31 op names of GENNAPE's ``tf_primitive_ops_simplified.txt`` (lower-cased, same
order) with the out-of-vocabulary token ``<oov>`` prepended at index 0, 32 entries in all.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = [
    "OOV",
    "OPS",
    "OP_INDEX",
    "WEIGHTED_OPS",
    "MAX_H",
    "MAX_W",
    "MAX_HIDDEN",
    "MAX_KERNEL",
    "op_index",
    "op_from_label",
]

OOV = "<oov>"

#: The 32 op names, index = GENNAPE's ``op_type_idx``.
OPS: tuple[str, ...] = (
    OOV,
    "input",
    "output",
    "conv",
    "depthwise",
    "batchnorm",
    "relu",
    "relu6",
    "matmul",
    "add",
    "mul",
    "concat",
    "maxpool",
    "avgpool",
    "sigmoid",
    "tanh",
    "swish",
    "gelu",
    "paddings",
    "mean",
    "spacetobatchnd",
    "batchtospacend",
    "spacetodepthnd",
    "depthtospacend",
    "global",
    "identity",
    "zero",
    "reserved1",
    "reserved2",
    "reserved3",
    "reserved4",
    "reserved5",
)

OP_INDEX: dict[str, int] = {name: i for i, name in enumerate(OPS)}

#: Ops whose nodes carry a weight shape ``[C_in, C_out, k1, k2]``.
WEIGHTED_OPS: frozenset[str] = frozenset({"conv", "depthwise", "matmul"})

#: GENNAPE's "classification" domain maxima used to normalise features (GENNAPE_FACTS 1.8).
MAX_H = 256
MAX_W = 256
MAX_HIDDEN = 512
MAX_KERNEL = 7


def op_index(op: str) -> int:
    """Return the vocabulary index of an op name.

    Args:
        op: An entry of :data:`OPS` (case-insensitive).

    Raises:
        ValueError: If ``op`` is not in the vocabulary.
    """
    try:
        return OP_INDEX[op.lower()]
    except KeyError:
        raise ValueError(f"unknown op {op!r}; expected one of {', '.join(OPS)}") from None


@lru_cache(maxsize=4096)
def op_from_label(label: str) -> str:
    """Map a framework node label to a vocabulary op, as GENNAPE does.

    An exact (case-insensitive) match wins; otherwise the longest vocabulary entry that occurs as a
    substring of the label; otherwise :data:`OOV`. ``relu6`` therefore maps to ``relu6`` (not
    ``relu``), ``matmul_1`` to ``matmul`` and ``global_pool`` to ``global``.
    """
    lab = label.lower()
    if lab in OP_INDEX:
        return lab
    best = OOV
    for name in OPS[1:]:
        if name in lab and len(name) > len(best if best != OOV else ""):
            best = name
    return best
