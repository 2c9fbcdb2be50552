"""The steps of ``gennape demo``: a quick tour that writes its results into one folder.

Each step is a small function ``step(ctx) -> StepOutput`` listed in :data:`STEPS`; later features
(families, predictors, search) add their own step to the tuple. A step that cannot run because an
optional dependency is missing raises :class:`DemoSkip` with a one-line reason; any other exception
marks the step as failed and the demo goes on with the next one.

The computation-graph steps are defined here; the predictor, proxy and search steps (transfer of
the pretrained GENNAPE model, proxies vs GENNAPE, a short BANANAS+GENNAPE search, which is last)
live in :mod:`gennape_naslib._demo_steps`. The whole demo is sized to take a few minutes of CPU.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gennape_naslib._demo_base import DemoContext, DemoSkip, DemoStep, StepOutput, StepReport
from gennape_naslib._demo_steps import step_proxies, step_search, step_transfer
from gennape_naslib.cg.graph import ComputeGraph

__all__ = ["DemoContext", "DemoSkip", "DemoStep", "StepOutput", "StepReport", "STEPS", "run_demo", "small_resnet"]

logger = logging.getLogger(__name__)


def _ops_line(cg: ComputeGraph, limit: int = 12) -> str:
    counts = sorted(cg.op_counts().items(), key=lambda kv: (-kv[1], kv[0]))
    text = ", ".join(f"{op} {n}" for op, n in counts[:limit])
    return text + (f", ... ({len(counts) - limit} more)" if len(counts) > limit else "")


def _save_and_draw(ctx: DemoContext, cg: ComputeGraph, stem: str) -> StepOutput:
    from gennape_naslib.cg import io
    from gennape_naslib.cg.draw import draw

    json_path = ctx.out_dir / f"{stem}.json"
    io.save_json(cg, json_path)
    paths = [json_path]
    lines = [
        f"{cg.summary()}: {cg.n_weighted} weighted nodes",
        f"ops: {_ops_line(cg)}",
    ]
    try:
        paths.append(draw(cg, ctx.out_dir / f"{stem}.png", engine=ctx.engine))
    except ImportError as exc:  # matplotlib (plot extra) missing and no Graphviz
        lines.append(f"drawing skipped: {exc}")
    return StepOutput(lines, paths)


# ---------------------------------------------------------------------------------------------- steps
def small_resnet() -> Any:
    """A small CIFAR-style ResNet (widths 16/32/64, one basic block per stage) as an ``nn.Module``."""
    from gennape_naslib.cg._examples import resnet_module

    return resnet_module(widths=(16, 32, 64), depths=(1, 1, 1), num_classes=10, stem="cifar")


def step_torch_graph(ctx: DemoContext) -> StepOutput:
    """Lower a small PyTorch ResNet with torch.fx, check it against the direct builder, save and draw it."""
    from gennape_naslib.cg import from_torch
    from gennape_naslib.cg._examples import resnet_cg

    cg = from_torch(small_resnet(), (3, 32, 32), name="small_resnet")
    built = resnet_cg((32, 32, 3), (16, 32, 64), (1, 1, 1), 10, "cifar", name="small_resnet")
    ctx.graphs["small_resnet"] = cg
    out = _save_and_draw(ctx, cg, "small_resnet")
    out.lines.append("torch.fx lowering == direct builder: " + ("yes" if cg == built else "NO\n" + cg.diff(built)))
    return out


def _keras_model(tf: Any) -> Any:
    layers = tf.keras.layers
    inputs = tf.keras.Input((32, 32, 3))
    x = layers.Conv2D(16, 3, padding="same", use_bias=False)(inputs)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    y = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
    y = layers.ReLU(6.0)(layers.BatchNormalization()(y))
    y = layers.BatchNormalization()(layers.Conv2D(16, 1, use_bias=False)(y))
    x = layers.Add()([x, y])
    x = layers.MaxPooling2D(2)(x)
    x = layers.GlobalAveragePooling2D()(x)
    return tf.keras.Model(inputs, layers.Dense(10)(x), name="small_keras_net")


def step_tf_graph(ctx: DemoContext) -> StepOutput:
    """Freeze a small Keras model to a ``.pb`` file and import it, as GENNAPE reads TensorFlow models."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf
    except ImportError:
        raise DemoSkip("TensorFlow is not installed; pip install 'gennape-naslib[tf]' to run this step") from None
    from gennape_naslib.cg import from_tf

    model = _keras_model(tf)
    graph_def = from_tf.freeze_keras_model(model, (32, 32, 3))
    pb_path = ctx.out_dir / "small_keras_net.pb"
    from_tf.write_pb(graph_def, pb_path)
    cg = from_tf.from_tf_graphdef(pb_path, name="small_keras_net")
    ctx.graphs["small_keras_net"] = cg
    out = _save_and_draw(ctx, cg, "small_keras_net")
    out.paths.insert(0, pb_path)
    built = _keras_twin_cg()
    out.lines.append("TensorFlow import == direct builder: " + ("yes" if cg == built else "NO\n" + cg.diff(built)))
    return out


def _keras_twin_cg() -> ComputeGraph:
    """The network of :func:`_keras_model` described with the direct builder."""
    from gennape_naslib.cg.builder import CGBuilder

    b = CGBuilder((32, 32, 3), name="small_keras_net")
    x = b.conv_bn_act(b.input_node, 16, 3, padding=1)
    y = b.act(b.bn(b.depthwise(x, 3, padding=1)), "relu6")
    x = b.add(x, b.conv_bn(y, 16, 1))
    x = b.mean(b.pool(x, "max", 2))
    return b.build(b.linear(x, 10))


def step_families(ctx: DemoContext) -> StepOutput:
    """Build and draw the computation graph of one example architecture of every family."""
    from gennape_naslib.cg.draw import draw
    from gennape_naslib.search_spaces import get, list_families

    out = StepOutput()
    folder = ctx.out_dir / "families"
    for name in list_families():
        family = get(name)
        arch = family.example()
        start = time.perf_counter()
        cg = family.to_cg(arch).copy(name=name)
        ms = (time.perf_counter() - start) * 1000
        ctx.graphs[name] = cg
        text = family.to_str(arch)
        text = text if len(text) <= 60 else text[:57] + "..."
        out.lines.append(f"{name:<11} {cg.n_nodes:>5} nodes {cg.n_edges:>5} edges  to_cg {ms:6.1f} ms  {text}")
        try:
            out.paths.append(draw(cg, folder / f"{name}.png", engine=ctx.engine))
        except ImportError as exc:
            out.lines.append(f"  drawing skipped: {exc}")
    return out


#: The demo, in order. Later features append their steps here.
STEPS: tuple[DemoStep, ...] = (
    DemoStep("PyTorch model -> computation graph (torch.fx)", step_torch_graph),
    DemoStep("Keras model -> frozen .pb -> computation graph", step_tf_graph),
    DemoStep("One architecture of each of the nine families -> computation graph", step_families),
    DemoStep("Pretrained GENNAPE (NB-201) ranks unseen families zero-shot, then 50-shot fine-tuning", step_transfer),
    DemoStep("Zero-cost proxies vs zero-shot GENNAPE vs FLOPs on NB-101 (one plot)", step_proxies),
    DemoStep("Short BANANAS + GENNAPE search on NB-201 (tabular)", step_search),
)


# ---------------------------------------------------------------------------------------------- runner
def run_demo(
    out_dir: str | os.PathLike[str] = "demo_output",
    engine: str = "auto",
    steps: Sequence[DemoStep] | None = None,
    echo: Callable[[str], None] = print,
) -> list[StepReport]:
    """Run the demo steps and print a one-screen summary.

    Args:
        out_dir: Folder for the outputs (created if needed).
        engine: Drawing engine (see :func:`gennape_naslib.cg.draw.draw`).
        steps: The steps to run (default: :data:`STEPS` as it is at call time).
        echo: Where the text goes (default ``print``).

    Returns:
        One report per step.
    """
    steps = STEPS if steps is None else steps
    ctx = DemoContext(Path(out_dir), engine)
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    echo(f"gennape demo: writing into {ctx.out_dir.resolve()}")
    reports: list[StepReport] = []
    total, total_cpu = time.perf_counter(), time.process_time()
    for number, step in enumerate(steps, 1):
        echo(f"[{number}/{len(steps)}] {step.title}")
        start, start_cpu = time.perf_counter(), time.process_time()
        try:
            output, status, message = step.run(ctx), "ok", ""
        except DemoSkip as exc:
            output, status, message = StepOutput(), "skipped", str(exc)
        except Exception as exc:  # one broken step should not hide the others
            logger.debug("demo step %r failed:\n%s", step.title, traceback.format_exc())
            output, status, message = StepOutput(), "failed", f"{type(exc).__name__}: {exc}"
        report = StepReport(
            step.title, status, time.perf_counter() - start, output, message, time.process_time() - start_cpu
        )
        reports.append(report)
        for line in output.lines:
            echo(f"      {line}")
        for path in output.paths:
            echo(f"      wrote {path}")
        timing = f"{report.seconds:.1f} s, CPU {report.cpu_seconds:.1f} s"
        echo(f"      {status}{': ' + message if message else ''} ({timing})")
    counts = {s: sum(r.status == s for r in reports) for s in ("ok", "skipped", "failed")}
    echo(
        f"done in {time.perf_counter() - total:.1f} s (CPU {time.process_time() - total_cpu:.1f} s): "
        f"{counts['ok']} ok, {counts['skipped']} skipped, "
        f"{counts['failed']} failed; outputs in {ctx.out_dir}"
    )
    return reports
