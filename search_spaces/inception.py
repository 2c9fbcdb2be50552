"""Inception: GENNAPE's family of multi-path (Inception-like) blocks (GENNAPE_FACTS 3.9).

Encoding (JSON; also the text form)::

    {"stages": [{"n_blocks": 3, "c_in": 32, "c_out": 32, "stride": 1,
                 "paths": [{"ops": ["conv3x3", "maxpool3x3"], "c_internal": 16, "c_out": 16}, ...]},
                ...]}                                              # exactly 4 stages

GENNAPE's state-dict form (``"block": {"paths": [...]}``, ``C_in``/``C_out``/``C_internal``,
``op_types``) is accepted by ``from_json``. The space is exactly the support of GENNAPE's sampler,
and ``validate`` enforces it:

* stages ``(c_in, c_out, stride)`` = (32, 32, 1), (32, 64, 2), (64, 128, 2), (128, 256, 2);
  ``n_blocks`` in 2..6; one block configuration per stage, repeated ``n_blocks`` times;
* 1-4 paths per block, whose ``c_out`` values are a permutation of GENNAPE's split of the stage
  width (3 paths: ``[2q, q, q + r]`` with ``q = C // 4``; else ``C // n`` each, remainder to the
  last), each floored at 16;
* each path has at least one *conv* op (:data:`CONV_OPS`) and at most one *supp* op
  (:data:`SUPP_OPS`); at least 1 (1-2 paths) or 2 (3-4 paths) ops per path and at most 3, 4, 8, 10
  ops per block for 1, 2, 3, 4 paths;
* ``c_internal`` is ``c_out`` unless the path has two channel-changing ops (conv ops, ``conv1x1``,
  ``double1x1``); then it is one of ``max(c_out // 2, 16)``, ``c_out``, ``2 * c_out``.

Network (GENNAPE's TensorFlow ``InceptionNet``, which produced the labels and CGs; 32x32 input, 10
classes; every conv has a bias except the 1x1 channel adapter of a depthwise op): stem conv3x3
(3 -> 32) -> BN -> ReLU6; the blocks; post conv3x3 (512) -> BN -> ReLU6; global average pool ->
dropout(0) -> dense(10). A block feeds its input to every path, concatenates the path outputs (if
more than one), projects with conv1x1 -> BN when their widths do not sum to the block width, and
adds the block input when the block has stride 1 and equal widths. In a path, the first
channel-changing op maps to ``c_internal``, the first conv op carries the stride, and the last
channel-changing op maps to ``c_out``. Ops: ``convK`` = conv KxK -> BN -> ReLU6; ``depthwiseK`` =
[conv1x1 without bias/BN if the width changes] -> depthwise KxK -> BN -> ReLU6; ``inception_sK`` =
conv 1xK stride (1, s) -> BN -> ReLU6 -> conv Kx1 stride (s, 1) -> BN -> ReLU6; ``inception_pK`` =
two branches (1xK and Kx1 convs with BN, each split in two strided convs when s = 2) concatenated
-> ReLU6; ``double1x1`` = two conv1x1 -> BN -> ReLU6; pools 3x3 -> BN.

Deviations from GENNAPE's CGs: none known (dropout is an ``identity`` node as in GENNAPE).
Numerically, stride-2 layers pad symmetrically instead of TF's bottom/right "same" padding.
``canonical_hash`` is the default: reordering paths changes the concat order, which the residual
add does not absorb, and changes the CG's concat resolution. ``configspace()`` is not provided: the
budgeted op counts, the channel permutations and the op-dependent ``c_internal`` choices are not
expressible as a ConfigSpace without enumerating block configurations (use :meth:`Inception.sample`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from gennape_naslib.search_spaces._gennape_blocks import Program, ProgramFamily
from gennape_naslib.search_spaces._inception_net import (
    C_CHANGE_PROBS,
    CONV_OPS,
    MAX_BLOCK_OPS,
    MAX_BLOCKS,
    MIN_BLOCKS,
    MIN_CHANNELS,
    MIN_PATH_OPS,
    N_PATHS,
    N_STAGES,
    OPS,
    SUPP_OPS,
    InceptionArch,
    InceptionPath,
    InceptionStage,
    block_count,
    build_program,
    c_internal_options,
    can_change_channels,
    path_channels,
    stage_skeleton,
)
from gennape_naslib.search_spaces.base import ArchValidationError, as_rng, register_family

if TYPE_CHECKING:  # pragma: no cover
    pass

__all__ = ["CONV_OPS", "SUPP_OPS", "Inception", "InceptionArch", "InceptionPath", "InceptionStage"]

_SKELETON = stage_skeleton()


def _int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _path_ok(ops: tuple[str, ...]) -> bool:
    n_supp = sum(op in SUPP_OPS for op in ops)
    return bool(ops) and all(op in OPS for op in ops) and n_supp <= 1 and n_supp < len(ops)


@register_family("inception")
class Inception(ProgramFamily):
    """Inception: 4 stages of repeated multi-path blocks (1-4 paths, up to 10 ops), CIFAR-10."""

    Arch = InceptionArch
    input_shape = (3, 32, 32)
    num_classes = 10

    # ------------------------------------------------------------------ encodings
    def _get(self, obj: dict, field: str, *keys: str) -> Any:
        for key in keys:
            if key in obj:
                return obj[key]
        raise ArchValidationError(self.name, field, None, f"missing (expected key {keys[0]!r})")

    def _parse_path(self, obj: Any, field: str) -> InceptionPath:
        if not isinstance(obj, dict):
            raise ArchValidationError(self.name, field, obj, "expected a dict with ops, c_internal, c_out")
        ops = self._get(obj, f"{field}.ops", "ops")
        if not isinstance(ops, (list, tuple)) or not all(isinstance(op, str) for op in ops):
            raise ArchValidationError(self.name, f"{field}.ops", ops, "expected a list of op names")
        types = obj.get("op_types")
        expected = ["conv" if op in CONV_OPS else "supp" for op in ops]
        if types is not None and (not isinstance(types, (list, tuple)) or list(types) != expected):
            raise ArchValidationError(self.name, f"{field}.op_types", types, "do not match the op names")
        c_internal = self._get(obj, f"{field}.c_internal", "c_internal", "C_internal")
        c_out = self._get(obj, f"{field}.c_out", "c_out", "C_out")
        for key, value in (("c_internal", c_internal), ("c_out", c_out)):
            if not _int(value):
                raise ArchValidationError(self.name, f"{field}.{key}", value, "expected an integer")
        return InceptionPath(tuple(ops), int(c_internal), int(c_out))

    def _parse_stage(self, obj: Any, field: str) -> InceptionStage:
        if not isinstance(obj, dict):
            raise ArchValidationError(
                self.name, field, obj, "expected a dict with n_blocks, c_in, c_out, stride, paths"
            )
        block = obj.get("block")
        paths = block.get("paths") if isinstance(block, dict) else self._get(obj, f"{field}.paths", "paths")
        if not isinstance(paths, (list, tuple)):
            raise ArchValidationError(self.name, f"{field}.paths", paths, "expected a list of paths")
        ints = {}
        for key, alias in (("n_blocks", "n_blocks"), ("c_in", "C_in"), ("c_out", "C_out"), ("stride", "stride")):
            value = self._get(obj, f"{field}.{key}", key, alias)
            if not _int(value):
                raise ArchValidationError(self.name, f"{field}.{key}", value, "expected an integer")
            ints[key] = int(value)
        parsed = tuple(self._parse_path(p, f"{field}.paths[{i}]") for i, p in enumerate(paths))
        return InceptionStage(ints["n_blocks"], ints["c_in"], ints["c_out"], ints["stride"], parsed)

    def from_json(self, obj: Any) -> InceptionArch:
        """Parse ``{"stages": [...]}`` (or GENNAPE's ``NetConfig`` state dict)."""
        if not isinstance(obj, dict) or not isinstance(obj.get("stages"), (list, tuple)):
            raise ArchValidationError(self.name, "stages", obj, "expected a dict with a list of stages")
        arch = InceptionArch(tuple(self._parse_stage(s, f"stages[{i}]") for i, s in enumerate(obj["stages"])))
        self.validate(arch)
        return arch

    def to_json(self, arch: InceptionArch) -> dict[str, Any]:
        """The JSON encoding."""
        return {
            "stages": [
                {
                    "n_blocks": s.n_blocks,
                    "c_in": s.c_in,
                    "c_out": s.c_out,
                    "stride": s.stride,
                    "paths": [{"ops": list(p.ops), "c_internal": p.c_internal, "c_out": p.c_out} for p in s.paths],
                }
                for s in arch.stages
            ]
        }

    # ------------------------------------------------------------------ validity
    def validate(self, arch: InceptionArch) -> None:
        """Check the stage skeleton, block counts, path widths, op lists and internal widths."""
        if not isinstance(arch, InceptionArch) or not isinstance(arch.stages, tuple):
            raise ArchValidationError(self.name, "arch", arch, "expected an InceptionArch")
        if len(arch.stages) != N_STAGES:
            raise ArchValidationError(self.name, "stages", len(arch.stages), f"expected {N_STAGES} stages")
        for si, stage in enumerate(arch.stages):
            f = f"stages[{si}]"
            if not isinstance(stage, InceptionStage):
                raise ArchValidationError(self.name, f, stage, "expected an InceptionStage")
            for key, expected in zip(("c_in", "c_out", "stride"), _SKELETON[si]):
                if not _int(getattr(stage, key)) or getattr(stage, key) != expected:
                    raise ArchValidationError(self.name, f"{f}.{key}", getattr(stage, key), f"must be {expected}")
            if not (_int(stage.n_blocks) and MIN_BLOCKS <= stage.n_blocks <= MAX_BLOCKS):
                raise ArchValidationError(
                    self.name, f"{f}.n_blocks", stage.n_blocks, f"must be {MIN_BLOCKS}..{MAX_BLOCKS}"
                )
            self._validate_block(stage.paths, stage.c_out, f)

    def _validate_block(self, paths: tuple[InceptionPath, ...], c: int, f: str) -> None:
        if not isinstance(paths, tuple) or len(paths) not in N_PATHS:
            raise ArchValidationError(self.name, f"{f}.paths", paths, f"a block has {N_PATHS[0]}-{N_PATHS[-1]} paths")
        n = len(paths)
        if not all(isinstance(p, InceptionPath) for p in paths):
            raise ArchValidationError(self.name, f"{f}.paths", paths, "expected InceptionPath objects")
        widths = [p.c_out for p in paths]
        if not all(_int(w) for w in widths) or sorted(widths) != sorted(path_channels(c, n)):
            raise ArchValidationError(
                self.name,
                f"{f}.paths[*].c_out",
                widths,
                f"{n} paths of a {c}-wide block have widths {path_channels(c, n)}",
            )
        total = 0
        for pi, path in enumerate(paths):
            pf = f"{f}.paths[{pi}]"
            ops = path.ops
            if not isinstance(ops, tuple) or len(ops) < MIN_PATH_OPS[n]:
                raise ArchValidationError(self.name, f"{pf}.ops", ops, f"needs at least {MIN_PATH_OPS[n]} ops")
            for oi, op in enumerate(ops):
                if op not in OPS:
                    raise ArchValidationError(self.name, f"{pf}.ops[{oi}]", op, f"unknown op; choose from {OPS}")
            n_supp = sum(op in SUPP_OPS for op in ops)
            if n_supp == len(ops) or n_supp > 1:
                raise ArchValidationError(
                    self.name, f"{pf}.ops", ops, f"a path needs a conv op {CONV_OPS} and at most one of {SUPP_OPS}"
                )
            options = c_internal_options(ops, path.c_out)
            if not _int(path.c_internal) or path.c_internal not in options:
                raise ArchValidationError(self.name, f"{pf}.c_internal", path.c_internal, f"must be one of {options}")
            total += len(ops)
        if total > MAX_BLOCK_OPS[n]:
            raise ArchValidationError(self.name, f"{f}.paths", total, f"{n} paths hold at most {MAX_BLOCK_OPS[n]} ops")

    # ------------------------------------------------------------------ space
    def _sample_path(self, gen: np.random.Generator, n_ops: int, c_io: int) -> InceptionPath:
        ops = [CONV_OPS[int(gen.integers(len(CONV_OPS)))]]
        p_supp = len(SUPP_OPS) / len(OPS)
        supp_added = False
        for _ in range(n_ops - 1):
            if not supp_added and gen.random() < p_supp:
                ops.append(SUPP_OPS[int(gen.integers(len(SUPP_OPS)))])
                supp_added = True
            else:
                ops.append(CONV_OPS[int(gen.integers(len(CONV_OPS)))])
        shuffled = tuple(ops[i] for i in gen.permutation(len(ops)))
        c_internal = c_io
        if can_change_channels(shuffled):
            change = int(gen.choice(3, p=C_CHANGE_PROBS))
            c_internal = max((c_io // 2, c_io, 2 * c_io)[change], MIN_CHANNELS)
        return InceptionPath(shuffled, c_internal, c_io)

    def _sample_block(self, gen: np.random.Generator, c: int) -> tuple[InceptionPath, ...]:
        n = N_PATHS[int(gen.integers(len(N_PATHS)))]
        widths = [path_channels(c, n)[i] for i in gen.permutation(n)]
        paths: list[InceptionPath] = []
        for pi in range(n):
            budget = MAX_BLOCK_OPS[n] - sum(len(p.ops) for p in paths) - MIN_PATH_OPS[n] * (n - pi - 1)
            n_ops = int(gen.integers(MIN_PATH_OPS[n], budget + 1))
            paths.append(self._sample_path(gen, n_ops, widths[pi]))
        return tuple(paths)

    def sample(self, rng: np.random.Generator | int | None = None) -> InceptionArch:
        """GENNAPE's sampler: per stage a uniform block count in 2..6 and one block: a uniform path
        count, the shuffled width split, per path a uniform op count within the remaining budget, a
        uniform conv op then conv/supp ops (supp with probability 4/12 while the path has none),
        shuffled, and the internal width change (halve 0.3, keep 0.6, double 0.1) where possible."""
        gen = as_rng(rng)
        stages = []
        for c_in, c_out, stride in _SKELETON:
            n_blocks = int(gen.integers(MIN_BLOCKS, MAX_BLOCKS + 1))
            stages.append(InceptionStage(n_blocks, c_in, c_out, stride, self._sample_block(gen, c_out)))
        return InceptionArch(tuple(stages))

    def _path_variants(self, path: InceptionPath, spare: int, min_ops: int) -> list[InceptionPath]:
        ops, out, seen = path.ops, [], {path}
        candidates = []
        for oi in range(len(ops)):
            candidates += [ops[:oi] + (op,) + ops[oi + 1 :] for op in OPS if op != ops[oi]]
            if len(ops) > min_ops:
                candidates.append(ops[:oi] + ops[oi + 1 :])
        if spare > 0:
            candidates += [ops[:oi] + (op,) + ops[oi:] for oi in range(len(ops) + 1) for op in OPS]
        for new_ops in candidates:
            if _path_ok(new_ops) and path.c_internal in c_internal_options(new_ops, path.c_out):
                new = InceptionPath(new_ops, path.c_internal, path.c_out)
                if new not in seen:
                    seen.add(new)
                    out.append(new)
        for c_internal in c_internal_options(ops, path.c_out):
            if c_internal != path.c_internal:
                out.append(InceptionPath(ops, c_internal, path.c_out))
        return out

    def neighbors(self, arch: InceptionArch) -> list[InceptionArch]:
        """One change: a stage's block count, or in one path an op substitution, insertion or removal
        (within the budgets) or another internal width."""
        out = []
        for si, stage in enumerate(arch.stages):

            def replace(new_stage: InceptionStage, si: int = si) -> InceptionArch:
                return InceptionArch(arch.stages[:si] + (new_stage,) + arch.stages[si + 1 :])

            for n_blocks in range(MIN_BLOCKS, MAX_BLOCKS + 1):
                if n_blocks != stage.n_blocks:
                    out.append(replace(InceptionStage(n_blocks, stage.c_in, stage.c_out, stage.stride, stage.paths)))
            n = len(stage.paths)
            spare = MAX_BLOCK_OPS[n] - sum(len(p.ops) for p in stage.paths)
            for pi, path in enumerate(stage.paths):
                for new in self._path_variants(path, spare, MIN_PATH_OPS[n]):
                    paths = stage.paths[:pi] + (new,) + stage.paths[pi + 1 :]
                    out.append(replace(InceptionStage(stage.n_blocks, stage.c_in, stage.c_out, stage.stride, paths)))
        return out

    def size(self) -> int:
        """Number of distinct encodings (exact count of the sampler's support, about 1.4e54)."""
        total = 1
        for _, c_out, _ in _SKELETON:
            total *= (MAX_BLOCKS - MIN_BLOCKS + 1) * block_count(c_out)
        return total

    def example(self) -> InceptionArch:
        """A fixed architecture (the sampler's draw for seed 0)."""
        return self.sample(0)

    # ------------------------------------------------------------------ networks and graphs
    def build_program(self, arch: InceptionArch, num_classes: int, dropout: float = 0.0) -> Program:
        """GENNAPE's TF ``InceptionNet`` as a layer program (dropout before the head)."""
        return build_program(arch, num_classes, dropout)

    def graph_name(self, arch: InceptionArch) -> str:
        return "InceptionNet"
