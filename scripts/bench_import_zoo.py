#!/usr/bin/env python
"""Audit ``from_torch`` and ``from_onnx`` on the torchvision classification zoo.

For every classification constructor of ``torchvision.models`` (random weights), the script builds
the computation graph with :func:`~gennape_naslib.cg.from_torch`, exports the network to ONNX
(legacy exporter, ``TrainingMode.PRESERVE`` so batch norm stays) and imports it with
:func:`~gennape_naslib.cg.from_onnx`, then compares:

* ``count_flops`` of the graph with :class:`torch.utils.flop_counter.FlopCounterMode` on the same
  input (the convention ``gennape_naslib.cg.counting`` documents);
* ``count_weight_params`` with the network's parameters minus normalisation affine parameters;
* the torch and ONNX graphs (node count, op multiset, FLOPs);
* the ``<oov>`` nodes and the ops they come from.

Each model runs in its own process with a time limit. torchvision is needed but is not a
dependency of the project; install it next to the project's torch, e.g.::

    pip install --no-deps --target /tmp/tv "torchvision==<the version matching torch>"
    PYTHONPATH=/tmp/tv python scripts/bench_import_zoo.py --out zoo.jsonl

Usage::

    python scripts/bench_import_zoo.py [--models resnet18,vit_b_16] [--skip vit_h_14] [--no-onnx]
        [--opset 17] [--timeout 300] [--out results.jsonl] [--markdown table.md]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import warnings
from collections import Counter
from typing import Any

from _zoo_audit import audit_parser, emit, ratio, run_workers

#: Inputs other than 3 x 224 x 224.
INPUT_SIZE = {"inception_v3": 299}


def _reference_params(module: Any, x: Any) -> tuple[int, int]:
    """Parameters an eval forward pass reads, without normalisation layers' affine ones; and all of them.

    A parameter counts when some torch function receives it, so auxiliary heads that run only in
    training (GoogLeNet, Inception-v3) are left out, and weights that a module reads without calling
    the submodule that holds them (``MultiheadAttention.out_proj``) are kept.
    """
    import torch
    import torch.nn as nn
    from torch.overrides import TorchFunctionMode
    from torch.utils._pytree import tree_leaves

    used: dict[int, int] = {}

    class _Reads(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            for a in tree_leaves((args, kwargs or {})):
                if isinstance(a, nn.Parameter):
                    used[id(a)] = a.numel()
            return func(*args, **(kwargs or {}))

    with torch.no_grad(), _Reads():
        module(x)
    norms = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm)
    norm_ids = {id(p) for m in module.modules() if isinstance(m, norms) for p in m.parameters(recurse=False)}
    return sum(n for i, n in used.items() if i not in norm_ids), sum(p.numel() for p in module.parameters())


def _oov_sources(messages: list[str]) -> str:
    found = [m.split("became <oov> nodes: ", 1)[1] for m in messages if "became <oov> nodes: " in m]
    return "; ".join(found)


def _describe(cg: Any, messages: list[str], prefix: str = "") -> dict[str, Any]:
    """The audit's figures of one imported graph (keys prefixed with ``prefix``)."""
    from gennape_naslib.cg.counting import count_flops, count_weight_params

    ops = cg.op_counts()
    figures = {
        "nodes": cg.n_nodes,
        "edges": cg.n_edges,
        "ops": dict(ops),
        "oov": ops.get("<oov>", 0),
        "oov_from": _oov_sources(messages),
        "flops": count_flops(cg),
        "params": count_weight_params(cg),
    }
    return {prefix + key: value for key, value in figures.items()}


def run_one(name: str, onnx_too: bool, opset: int) -> dict[str, Any]:
    """Measure one model; every failure is recorded, never raised."""
    import torch
    import torchvision.models as models
    from torch.utils.flop_counter import FlopCounterMode

    from gennape_naslib.cg import from_onnx, from_torch

    size = INPUT_SIZE.get(name, 224)
    rec: dict[str, Any] = {"model": name, "input": size}
    torch.manual_seed(0)
    start = time.perf_counter()
    net = models.get_model(name, weights=None).eval()
    rec["build_s"] = round(time.perf_counter() - start, 2)
    x = torch.zeros(1, 3, size, size)
    # MultiheadAttention's inference fast path is one fused op that FlopCounterMode does not count.
    torch.backends.mha.set_fastpath_enabled(False)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(x)
    rec["flops_ref"] = int(counter.get_total_flops())
    rec["flops_ref_ops"] = {str(k): int(v) for k, v in counter.get_flop_counts().get("Global", {}).items()}
    rec["params_ref"], rec["params_total"] = _reference_params(net, x)

    start = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cg = from_torch(net, (3, size, size), name=name)
        rec["torch_ok"] = True
        rec["torch_s"] = round(time.perf_counter() - start, 2)
        rec.update(_describe(cg, [str(w.message) for w in caught]))
    except Exception as exc:  # the audit records every failure
        rec["torch_ok"] = False
        rec["torch_error"] = f"{exc.__class__.__name__}: {str(exc)[:400]}"
        cg = None

    if onnx_too:
        with tempfile.TemporaryDirectory(prefix=f"zoo_{name}_") as tmp:
            path = os.path.join(tmp, f"{name}.onnx")
            start = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    torch.onnx.export(
                        net,
                        (x,),
                        path,
                        dynamo=False,
                        opset_version=opset,
                        training=torch.onnx.TrainingMode.PRESERVE,
                    )
                rec["export_s"] = round(time.perf_counter() - start, 2)
            except Exception as exc:
                rec["onnx_ok"] = False
                rec["onnx_error"] = f"export: {exc.__class__.__name__}: {str(exc)[:400]}"
                return rec
            start = time.perf_counter()
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    ocg = from_onnx(path, name=name)  # by path: weights stay in their external files
                rec["onnx_ok"] = True
                rec["onnx_s"] = round(time.perf_counter() - start, 2)
                rec.update(_describe(ocg, [str(w.message) for w in caught], prefix="onnx_"))
                if cg is not None:
                    diff = Counter(cg.op_counts())
                    diff.subtract(ocg.op_counts())
                    rec["ops_torch_minus_onnx"] = {k: v for k, v in diff.items() if v}
                    rec["equal"] = bool(cg == ocg)
                    # The exporter drops Dropout (an ``identity`` node in from_torch): compare without them.
                    no_identity = lambda g: Counter({k: v for k, v in g.op_resolutions().items() if k[0] != "identity"})
                    rec["equal_but_identity"] = no_identity(cg) == no_identity(ocg)
            except Exception as exc:
                rec["onnx_ok"] = False
                rec["onnx_error"] = f"import: {exc.__class__.__name__}: {str(exc)[:400]}"
    return rec


def markdown(rows: list[dict[str, Any]]) -> str:
    """The summary table: one row per model."""
    lines = [
        "| model | torch ok | onnx ok | nodes (torch/onnx) | oov (torch/onnx) | FLOPs ours/ref | ONNX FLOPs / ref"
        " | params ours/ref | oov from |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        t_ok = "yes" if r.get("torch_ok") else ("timeout" if r.get("timeout") else "NO")
        o_ok = "yes" if r.get("onnx_ok") else ("-" if "onnx_ok" not in r else "NO")
        lines.append(
            f"| {r['model']} | {t_ok} | {o_ok} | {r.get('nodes', '-')}/{r.get('onnx_nodes', '-')}"
            f" | {r.get('oov', '-')}/{r.get('onnx_oov', '-')} | {ratio(r.get('flops'), r.get('flops_ref'))}"
            f" | {ratio(r.get('onnx_flops'), r.get('flops_ref'))} | {ratio(r.get('params'), r.get('params_ref'))}"
            f" | {r.get('oov_from', '') or ''} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = audit_parser(__doc__.split("\n\n")[0], "all classification models", 300.0)
    parser.add_argument("--no-onnx", action="store_true", help="only from_torch")
    parser.add_argument("--opset", type=int, default=17)
    args = parser.parse_args(argv)

    try:
        import torchvision.models as models
    except ImportError as exc:
        print(
            f"bench_import_zoo: this audit needs torchvision, which is not installed ({exc}).\n"
            "Install the version that matches your torch without touching torch, e.g.\n"
            "  pip install --no-deps --target /tmp/tv 'torchvision==<version>'  and run with PYTHONPATH=/tmp/tv",
            file=sys.stderr,
        )
        return 2

    if args.worker:
        emit(run_one(args.worker, not args.no_onnx, args.opset))
        return 0

    names = args.models.split(",") if args.models else sorted(models.list_models(module=models))
    skip = set(filter(None, args.skip.split(",")))

    def command(name: str) -> list[str]:
        return [sys.executable, __file__, "--worker", name, "--opset", str(args.opset)] + (
            ["--no-onnx"] if args.no_onnx else []
        )

    def failure(name: str, stderr: str | None) -> dict[str, Any]:
        return {"model": name, "timeout": True} if stderr is None else {"model": name, "crash": stderr[-600:]}

    def report(rec: dict[str, Any]) -> str:
        return (
            f"{rec['model']}: torch={rec.get('torch_ok')} onnx={rec.get('onnx_ok')} nodes={rec.get('nodes')}/"
            f"{rec.get('onnx_nodes')} oov={rec.get('oov')}/{rec.get('onnx_oov')} "
            f"flops={ratio(rec.get('flops'), rec.get('flops_ref'))} "
            f"params={ratio(rec.get('params'), rec.get('params_ref'))} ({rec['wall_s']} s)"
        )

    measured = run_workers((n for n in names if n not in skip), command, args.timeout, failure, report, out=args.out)
    by_name = {rec["model"]: rec for rec in measured}
    rows = [by_name.get(name, {"model": name, "skipped": True}) for name in names]  # the table keeps skipped ones
    table = markdown(rows)
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(table)
    else:
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
