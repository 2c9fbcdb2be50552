#!/usr/bin/env python
"""How fast computation graphs are built, saved and loaded.

Prints milliseconds per graph for the torch.fx lowering (``from_torch``, module already built) and
for the direct builder (``CGBuilder``) on a ResNet-18 and a MobileNetV3-Large-style network at
224x224, and the NPZ save/load rate for a collection of graphs. The networks come from
``gennape_naslib.cg._examples`` (tests check that both ways give equal graphs).

Usage::

    python scripts/bench_cg.py [--graphs 5000] [--repeats 10] [--out-dir DIR]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Reference figure for the original GENNAPE pipeline (Keras model -> frozen TF graph -> CG); not measured here.
GENNAPE_TF_SECONDS_PER_NB201 = 8.0


def _time_ms(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> float:
    """Best wall time of ``fn`` over ``repeats`` calls in milliseconds (as ``timeit`` advises: noise only adds)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return min(times)


def _random_mbv3(rng: random.Random, index: int) -> Any:
    """A MobileNetV3-style graph with random kernels, expansion ratios and depths (OFA-like)."""
    from gennape_naslib.cg._examples import MBBlock, make_divisible, mobilenetv3_cg

    blocks = []
    c_in = 16
    blocks.append(MBBlock(3, 16, 16, False, "relu", 1))
    for width, stride, se, act in ((24, 2, False, "relu"), (40, 2, True, "relu"), (80, 2, False, "hswish"),
                                   (112, 1, True, "hswish"), (160, 2, True, "hswish")):  # fmt: skip
        for i in range(rng.choice((2, 3, 4))):
            expand = make_divisible(c_in * rng.choice((3, 4, 6)))
            blocks.append(MBBlock(rng.choice((3, 5, 7)), expand, width, se, act, stride if i == 0 else 1))
            c_in = width
    return mobilenetv3_cg(blocks=blocks, name=f"mbv3_{index}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--graphs", type=int, default=5000, help="graphs in the NPZ round trip (default 5000)")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls of from_torch per network (default 10)")
    parser.add_argument("--out-dir", type=Path, help="where to write the NPZ file (default: a temporary folder)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random NPZ graphs")
    parser.add_argument("--threads", type=int, help="torch threads for the forward pass (default: torch's choice)")
    args = parser.parse_args(argv)

    import torch

    from gennape_naslib.cg import from_torch
    from gennape_naslib.cg._examples import mobilenetv3_cg, mobilenetv3_module, resnet_cg, resnet_module
    from gennape_naslib.cg.io import load_npz, save_npz

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, Python {sys.version.split()[0]}")
    print()
    networks = [
        ("ResNet-18", resnet_module, resnet_cg),
        ("MobileNetV3-Large", mobilenetv3_module, mobilenetv3_cg),
    ]
    rows = []
    for label, make_module, make_cg in networks:
        module = make_module()
        cg = make_cg()
        if from_torch(module, (3, 224, 224)) != cg:  # the tests assert this; here it only guards the figures
            print(f"warning: {label}: builder and torch.fx graphs differ", file=sys.stderr)
        fx_ms = _time_ms(lambda m=module: from_torch(m, (3, 224, 224)), args.repeats)
        build_ms = _time_ms(make_cg, max(20, args.repeats * 10))
        module_ms = _time_ms(make_module, max(3, args.repeats // 2))
        rows.append((label, cg.n_nodes, cg.n_edges, fx_ms, module_ms, build_ms))

    print("Building one computation graph (224x224 input), ms per graph (best of several calls)")
    header = (
        f"{'network':<20}{'nodes':>7}{'edges':>7}{'from_torch':>13}{'nn.Module':>12}{'CGBuilder':>12}{'speed-up':>10}"
    )
    print(header)
    print("-" * len(header))
    for label, n, e, fx_ms, module_ms, build_ms in rows:
        print(f"{label:<20}{n:>7}{e:>7}{fx_ms:>13.1f}{module_ms:>12.1f}{build_ms:>12.2f}{fx_ms / build_ms:>9.0f}x")
    print("  from_torch: torch.fx trace + shape propagation (one forward pass) + lowering, module prebuilt")
    print("  nn.Module:  constructing the PyTorch module (needed before from_torch, not included in it)")
    ref_ms = GENNAPE_TF_SECONDS_PER_NB201 * 1000
    print(
        f"  reference: the original GENNAPE TensorFlow pipeline takes about {GENNAPE_TF_SECONDS_PER_NB201:.0f} s "
        f"per NAS-Bench-201 network (quoted, not measured here): {ref_ms / rows[0][3]:.0f}x slower than "
        f"from_torch and {ref_ms / rows[0][5]:.0f}x slower than CGBuilder on ResNet-18 (a larger graph)."
    )
    print()

    rng = random.Random(args.seed)
    start = time.perf_counter()
    graphs = [_random_mbv3(rng, i) for i in range(args.graphs)]
    gen_s = time.perf_counter() - start
    nodes = sum(g.n_nodes for g in graphs)
    with tempfile.TemporaryDirectory() as tmp:
        path = (args.out_dir or Path(tmp)) / "bench_graphs.npz"
        start = time.perf_counter()
        save_npz(graphs, path)
        save_s = time.perf_counter() - start
        size_mb = path.stat().st_size / 1e6
        start = time.perf_counter()
        loaded = load_npz(path)
        load_s = time.perf_counter() - start
    if loaded[0] != graphs[0] or loaded[-1] != graphs[-1] or len(loaded) != len(graphs):
        print("warning: the NPZ round trip changed the graphs", file=sys.stderr)
    print(f"NPZ collection: {len(graphs)} random MobileNetV3-style graphs, {nodes / len(graphs):.0f} nodes on average")
    header = f"{'step':<28}{'seconds':>10}{'graphs/s':>12}"
    print(header)
    print("-" * len(header))
    for step, seconds in (("build (CGBuilder)", gen_s), ("save_npz", save_s), ("load_npz (all graphs)", load_s)):
        print(f"{step:<28}{seconds:>10.2f}{len(graphs) / seconds:>12.0f}")
    print(f"  file size {size_mb:.1f} MB ({size_mb * 1e6 / len(graphs) / 1024:.1f} KiB per graph)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
