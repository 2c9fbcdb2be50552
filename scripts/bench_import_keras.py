#!/usr/bin/env python
"""Audit ``from_tf_graphdef`` on the ``keras.applications`` zoo.

For every model of ``keras.applications`` (random weights, ``weights=None``) the script freezes the
model with :func:`~gennape_naslib.cg.freeze_keras_model`, imports the frozen graph with
:func:`~gennape_naslib.cg.from_tf_graphdef` and compares:

* ``count_flops`` of the graph with an analytic count from the Keras layers' shapes: two FLOPs per
  multiply-accumulate of ``Conv*``, ``DepthwiseConv2D``, ``SeparableConv2D`` and ``Dense`` (the
  ``FlopCounterMode`` convention that ``gennape_naslib.cg.counting`` documents; nothing else counts);
* ``count_weight_params`` with the kernels and biases of those layers (normalisation layers,
  preprocessing statistics and layer-scale vectors are left out and listed apart);
* the ``<oov>`` nodes and the TF ops they come from (the importer's warning);
* the geometry: weighted nodes whose channels disagree with their weight shape, and nodes whose
  input matches the output of none of their parents (column ``geometry``; the second count also
  catches a vanished ``Cropping2D`` slice, NASNet's four "adjust" crops).

Each model runs in its own process with a time limit. TensorFlow and Keras are needed; without
them the script exits with status 2.

Usage::

    python scripts/bench_import_keras.py [--models ResNet50,VGG16] [--skip NASNetLarge] [--size 128]
        [--timeout 150] [--out results.jsonl] [--markdown table.md]
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
import warnings
from typing import Any

from _zoo_audit import audit_parser, emit, ratio, run_workers

#: Layer classes whose kernels count as FLOPs and weight parameters.
_WEIGHTED = ("Conv1D", "Conv2D", "Conv3D", "DepthwiseConv2D", "SeparableConv2D", "Dense")


def _model_names() -> list[str]:
    import keras

    return sorted(n for n in dir(keras.applications) if n[:1].isupper())


def _shape(tensor: Any) -> list[int]:
    return [int(d) if d is not None else 1 for d in tensor.shape]


def _leaf_layers(model: Any) -> list[Any]:
    """The layers of ``model``, nested models (ConvNeXt's stem and downsampling blocks) expanded."""
    leaves = []
    for layer in model.layers:
        leaves.extend(_leaf_layers(layer) if hasattr(layer, "layers") else [layer])
    return leaves


def reference_counts(model: Any) -> dict[str, int]:
    """FLOPs and parameters of the weighted Keras layers, from their kernels and output shapes."""
    flops = params = other = 0
    for layer in _leaf_layers(model):
        kind = type(layer).__name__
        n_weights = sum(int(w.numpy().size) for w in layer.weights)
        if kind not in _WEIGHTED:
            other += n_weights
            continue
        params += n_weights
        out = _shape(layer.output)
        if kind == "Dense":
            rows = 1
            for d in out[1:-1]:
                rows *= d
            flops += 2 * rows * int(layer.kernel.numpy().size)
        elif kind == "SeparableConv2D":
            pixels = out[1] * out[2]
            flops += 2 * pixels * (int(layer.depthwise_kernel.numpy().size) + int(layer.pointwise_kernel.numpy().size))
        else:
            kernel = layer.kernel if hasattr(layer, "kernel") else layer.depthwise_kernel  # Keras 3 / 2
            pixels = 1
            for d in out[1:-1]:
                pixels *= d
            flops += 2 * pixels * int(kernel.numpy().size)
    return {"flops_ref": flops, "params_ref": params, "params_other": other}


def consistency(cg: Any) -> dict[str, int]:
    """Geometry checks that need no reference: weight shapes against channels, inputs against parents.

    ``shape_mismatch`` counts weighted nodes whose input/output channels disagree with their weight
    shape; ``edge_mismatch`` counts nodes whose input size ``H * W * C`` is the output size of none
    of their parents (a node reads its first data input, and vanished reshapes keep the size).
    """
    shape_bad = edge_bad = 0
    parents = cg.parents()
    for i, node in enumerate(cg.nodes):
        h_in, _, w_in, _, c_in, c_out = node.resolution
        if node.shape is not None:
            s_in, s_out = node.shape[0], node.shape[1]
            if node.op == "depthwise":
                ok = c_in == s_in and c_out == s_in * s_out
            elif node.op == "conv":
                ok = c_in % s_in == 0 and c_out == s_out
            else:
                ok = c_in == s_in and c_out == s_out
            shape_bad += not ok
        outs = [cg.nodes[p].resolution[1] * cg.nodes[p].resolution[3] * cg.nodes[p].resolution[5] for p in parents[i]]
        edge_bad += bool(outs) and h_in * w_in * c_in not in outs
    return {"shape_mismatch": shape_bad, "edge_mismatch": edge_bad}


def run_one(name: str, size: int) -> dict[str, Any]:
    """Measure one model; every failure is recorded, never raised."""
    import keras

    from gennape_naslib.cg import freeze_keras_model, from_tf_graphdef
    from gennape_naslib.cg.counting import count_flops, count_weight_params

    rec: dict[str, Any] = {"model": name, "input": size}
    start = time.perf_counter()
    model = getattr(keras.applications, name)(weights=None, input_shape=(size, size, 3))
    rec["build_s"] = round(time.perf_counter() - start, 2)
    try:
        rec.update(reference_counts(model))
    except Exception as exc:  # a reference that cannot be computed is recorded, not fatal
        rec["reference_error"] = f"{exc.__class__.__name__}: {str(exc)[:200]}"
    start = time.perf_counter()
    try:
        gd = freeze_keras_model(model, (size, size, 3))
        rec["freeze_s"] = round(time.perf_counter() - start, 2)
        rec["tf_nodes"] = len(gd.node)
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cg = from_tf_graphdef(gd, name=name)
        rec["import_s"] = round(time.perf_counter() - start, 2)
    except Exception as exc:  # the audit records every failure
        rec["ok"] = False
        rec["error"] = f"{exc.__class__.__name__}: {str(exc)[:400]}"
        return rec
    rec["ok"] = True
    rec["nodes"], rec["edges"] = cg.n_nodes, cg.n_edges
    ops = cg.op_counts()
    rec["ops"] = dict(ops)
    rec["oov"] = ops.get("<oov>", 0)
    found = [str(w.message).split("became <oov> nodes: ", 1) for w in caught]
    rec["oov_from"] = "; ".join(f[1] for f in found if len(f) == 2)
    rec["flops"], rec["params"] = count_flops(cg), count_weight_params(cg)
    rec.update(consistency(cg))
    return rec


def markdown(rows: list[dict[str, Any]]) -> str:
    """The summary table: one row per model."""
    lines = [
        "| model | input | ok | nodes | oov | FLOPs ours/ref | params ours/ref | geometry | s | oov from / error |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ok = "yes" if r.get("ok") else ("timeout" if r.get("timeout") else "NO")
        secs = r.get("build_s", 0) + r.get("freeze_s", 0) + r.get("import_s", 0)
        note = r.get("oov_from") or r.get("error") or ""
        lines.append(
            f"| {r['model']} | {r.get('input', '-')} | {ok} | {r.get('nodes', '-')} | {r.get('oov', '-')}"
            f" | {ratio(r.get('flops'), r.get('flops_ref'))} | {ratio(r.get('params'), r.get('params_ref'))}"
            f" | {r.get('shape_mismatch', '-')}/{r.get('edge_mismatch', '-')} | {secs:.0f} | {note} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = audit_parser(__doc__.split("\n\n")[0], "all of keras.applications", 150.0)
    parser.add_argument(
        "--size", type=int, default=128, help="input side in pixels (default 128; Inception needs >= 75)"
    )
    args = parser.parse_args(argv)

    if importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("keras") is None:
        print("bench_import_keras: TensorFlow and Keras are needed (pip install tensorflow)", file=sys.stderr)
        return 2
    if args.worker:
        emit(run_one(args.worker, args.size))
        return 0

    names = args.models.split(",") if args.models else _model_names()
    skip = set(filter(None, args.skip.split(",")))

    def failure(name: str, stderr: str | None) -> dict[str, Any]:
        if stderr is None:
            return {"model": name, "ok": False, "timeout": True, "error": f"over {args.timeout:.0f} s"}
        return {"model": name, "ok": False, "error": stderr.strip().splitlines()[-1:]}

    def report(rec: dict[str, Any]) -> str:
        return (
            f"{rec['model']:20s} ok={rec.get('ok')} nodes={rec.get('nodes', '-')} oov={rec.get('oov', '-')} "
            f"flops={ratio(rec.get('flops'), rec.get('flops_ref'))} "
            f"params={ratio(rec.get('params'), rec.get('params_ref'))} {rec['wall_s']} s"
        )

    rows = run_workers(
        (n for n in names if n not in skip),
        lambda name: [sys.executable, os.path.abspath(__file__), "--worker", name, "--size", str(args.size)],
        args.timeout,
        failure,
        report,
        out=args.out,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    table = markdown(rows)
    print(table)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as handle:
            handle.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
