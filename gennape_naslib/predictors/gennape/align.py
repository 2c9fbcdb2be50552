"""Label-free alignment of a predicted family's graph embeddings to the training set's (``embed_align``).

Not the paper's method. Zero-shot, the embeddings of a family the model was not trained on lie where no
head was trained. With ``embed_align="moments"`` every embedding dimension of an architecture of family
``F`` is mapped, before the heads, by ``h' = (h - mean_F) * (std_train / std_F) + mean_train``, where
``mean_F`` / ``std_F`` are taken over ``F``'s reference sample (drawn with ``F``'s sampler, no labels) and
``mean_train`` / ``std_train`` over the training set (stored with the model as ``embed_stats_``); with
``"mean"`` only the means are matched (``h' = h - mean_F + mean_train``). A dimension that does not vary on
``F``'s sample (std below :data:`_STD_FLOOR`) is only shifted. Each encoder (the CL members' and the
k-GNN member's) has its own statistics. Round 15 of ``docs/data/dev_hparams/PROTOCOL.md`` tested it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from gennape_naslib.predictors.gennape.encoder import encode_records

__all__ = [
    "EMBED_ALIGN", "aligned", "check_embed_align", "embedding_stats", "encoders_of", "maps", "stats_from_arrays",
    "stats_to_arrays",
]  # fmt: skip

#: Values of ``embed_align``.
EMBED_ALIGN = ("none", "mean", "moments")
_STD_FLOOR = 1e-6

#: Per encoder ``(mean, std)`` of the embeddings, each ``(hidden,)`` float32.
Stats = list[tuple[torch.Tensor, torch.Tensor]]
#: Per encoder ``(scale, shift)``: ``h' = h * scale + shift``.
Maps = list[tuple[torch.Tensor, torch.Tensor]]


def check_embed_align(value: Any) -> str:
    """``value`` if it is one of :data:`EMBED_ALIGN`.

    Raises:
        ValueError: Otherwise.
    """
    if not isinstance(value, str) or value not in EMBED_ALIGN:
        raise ValueError(f"embed_align must be one of {EMBED_ALIGN}, got {value!r}")
    return value


def encoders_of(model: Any) -> list[torch.nn.Module]:
    """The encoders of a fitted ``GENNAPEPredictor``: the CL members' (when it has any), then the k-GNN member's."""
    net, kgnn = model.net_, model.kgnn_
    return ([net.encoder] if net.members else []) + ([] if kgnn is None else [kgnn.encoder])


@torch.no_grad()
def embedding_stats(model: Any, records: list[Any]) -> Stats:
    """Mean and std (ddof 0) of every encoder's embeddings over ``records``."""
    return [(h.mean(0), h.std(0, unbiased=False)) for h in encode_records(encoders_of(model), records)]


def maps(source: Stats, target: Stats, mode: str) -> Maps:
    """The per-encoder affine maps taking ``target``'s statistics to ``source``'s under ``mode`` (not ``"none"``)."""
    out = []
    for (mu_s, sd_s), (mu_t, sd_t) in zip(source, target):
        scale = torch.ones_like(mu_s)
        if mode == "moments":
            scale = torch.where(sd_t > _STD_FLOOR, sd_s / sd_t.clamp_min(_STD_FLOOR), scale)
        out.append((scale, mu_s - mu_t * scale))
    return out


def aligned(embeddings: list[torch.Tensor], align: Maps | None) -> list[torch.Tensor]:
    """``embeddings`` (one tensor per encoder) mapped by ``align`` (unchanged when ``None``)."""
    if align is None:
        return embeddings
    return [h * scale + shift for h, (scale, shift) in zip(embeddings, align)]


def stats_to_arrays(stats: Stats | None) -> list[list[np.ndarray]] | None:
    """``stats`` as nested numpy arrays for a saved state (``None`` stays ``None``)."""
    return None if stats is None else [[m.numpy().astype(np.float32), s.numpy().astype(np.float32)] for m, s in stats]


def stats_from_arrays(arrays: Any) -> Stats | None:
    """Inverse of :func:`stats_to_arrays`."""
    if arrays is None:
        return None
    return [(torch.as_tensor(np.asarray(m, dtype=np.float32)), torch.as_tensor(np.asarray(s, dtype=np.float32)))
            for m, s in arrays]  # fmt: skip
