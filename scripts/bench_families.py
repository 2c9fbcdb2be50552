"""Benchmark the family adapters: graph building, network building, counting, and fidelity.

For every family, on N random architectures: milliseconds per ``to_cg``, ``to_module``, ``flops`` +
``params``; and (unless ``--no-verify``) whether ``to_cg(a) == from_torch(to_module(a))`` holds for
every one of them. Then the time to build and save the CGs of all 15,625 NAS-Bench-201 cells.

Usage::

    python scripts/bench_families.py [--n 50] [--families nb201,ofa_mbv3] [--no-verify] [--skip-nb201-all]

Goals (issue 3): ``to_cg`` <= 2 ms for NB-201 and <= 10 ms for the largest families (the original
GENNAPE TensorFlow pipeline takes about 8 s per network); all NB-201 CGs built and saved in < 60 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _ms(fn, items) -> list[float]:
    """CPU milliseconds per call (process time, robust to other load on the machine)."""
    times = []
    for item in items:
        start = time.process_time()
        fn(item)
        times.append((time.process_time() - start) * 1000)
    return times


def bench_family(name: str, n: int, verify: bool, seed: int) -> dict[str, object]:
    import numpy as np

    from gennape_naslib.cg import from_torch
    from gennape_naslib.search_spaces import get

    family = get(name)
    rng = np.random.default_rng(seed)
    archs = [family.sample(rng) for _ in range(n)]
    family.to_cg(archs[0])  # warm caches and imports
    cg_ms = _ms(family.to_cg, archs)
    count_ms = _ms(lambda a: (family.flops(a), family.params(a)), archs)
    modules = []
    module_ms = []
    for arch in archs[: min(n, 10)]:
        start = time.process_time()
        modules.append(family.to_module(arch))
        module_ms.append((time.process_time() - start) * 1000)
    mismatches = None
    if verify:
        mismatches = 0
        for arch in archs:
            module = family.to_module(arch)
            if family.to_cg(arch) != from_torch(module, family.module_input_shape(arch)):
                mismatches += 1
                print(f"  MISMATCH {name}: {family.to_str(arch)}", file=sys.stderr)
    nodes = [family.to_cg(a).n_nodes for a in archs[:20]]
    return {
        "family": name,
        "to_cg_ms": statistics.median(cg_ms),
        "to_cg_max_ms": max(cg_ms),
        "to_module_ms": statistics.median(module_ms),
        "counts_ms": statistics.median(count_ms),
        "nodes": statistics.median(nodes),
        "mismatches": mismatches,
    }


def bench_nb201_all() -> tuple[float, float, int]:
    from gennape_naslib.cg.io import save_npz
    from gennape_naslib.search_spaces import get

    family = get("nb201")
    start = time.process_time()
    graphs = [family.to_cg(a) for a in family.enumerate()]
    build_s = time.process_time() - start
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "nb201.npz"
        start = time.process_time()
        save_npz(graphs, path)
        save_s = time.process_time() - start
        size = path.stat().st_size
    return build_s, save_s, size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50, help="random architectures per family (default 50)")
    parser.add_argument("--families", default="", help="comma-separated subset (default: all)")
    parser.add_argument("--no-verify", action="store_true", help="skip the to_cg == from_torch(to_module) check")
    parser.add_argument("--skip-nb201-all", action="store_true", help="skip building all 15,625 NB-201 CGs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    args = parser.parse_args(argv)

    import torch

    from gennape_naslib.search_spaces import list_families

    torch.set_num_threads(args.threads)
    names = [n for n in args.families.split(",") if n] or list_families()
    print("CPU milliseconds (process time) per architecture; median over the sample, (max) the slowest call")
    print(f"{'family':<11} {'nodes':>6} {'to_cg ms':>9} {'(max)':>7} {'to_module ms':>13} {'flops+params ms':>16} "
          f"{'to_cg == fx':>12}")  # fmt: skip
    status = 0
    for name in names:
        row = bench_family(name, args.n, not args.no_verify, args.seed)
        check = "skipped" if row["mismatches"] is None else f"{args.n - row['mismatches']}/{args.n}"
        status |= int(bool(row["mismatches"]))
        print(
            f"{name:<11} {row['nodes']:>6.0f} {row['to_cg_ms']:>9.2f} {row['to_cg_max_ms']:>7.1f} "
            f"{row['to_module_ms']:>13.1f} {row['counts_ms']:>16.3f} {check:>12}",
            flush=True,
        )
    if not args.skip_nb201_all:
        build_s, save_s, size = bench_nb201_all()
        print(
            f"\nall 15,625 NB-201 CGs (CPU time): built in {build_s:.1f} s ({build_s / 15625 * 1000:.2f} ms each), "
            f"saved as NPZ in {save_s:.1f} s ({size / 1e6:.1f} MB); total {build_s + save_s:.1f} s (goal < 60 s)"
        )
    print("reference: the original GENNAPE TensorFlow pipeline takes about 8 s per NAS-Bench-201 network")
    return status


if __name__ == "__main__":
    sys.exit(main())
