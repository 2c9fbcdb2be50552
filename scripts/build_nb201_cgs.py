#!/usr/bin/env python
"""Build the computation graphs of all 15,625 NAS-Bench-201 cells and save them as one NPZ collection.

Prints the build time (total and milliseconds per cell), the save time and the file size. Graphs are
named ``nb201:<arch string>`` and stored in the order of ``search_spaces.get("nb201").enumerate()``.
With ``--verify N``, N random cells are also built step by step with ``CGBuilder`` and with
``from_torch`` on the real network, and compared with the fast graphs (not timed).

Usage::

    python scripts/build_nb201_cgs.py [--out nb201_cgs.npz] [--limit N] [--verify N] [--seed S]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Build, save, report; return the exit status (1 if a verified graph differs)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="NPZ file to write (default: a temporary file)")
    parser.add_argument("--limit", type=int, default=None, help="build only the first N cells")
    parser.add_argument("--verify", type=int, default=0, help="compare N random cells with CGBuilder and from_torch")
    parser.add_argument("--seed", type=int, default=0, help="seed of the cells checked by --verify")
    args = parser.parse_args(argv)

    from gennape_naslib import search_spaces

    family = search_spaces.get("nb201")
    archs = list(family.enumerate())[: args.limit]

    start = time.perf_counter()
    graphs = [family.to_cg(a) for a in archs]
    build_s = time.perf_counter() - start
    print(f"built {len(graphs)} NB-201 graphs in {build_s:.2f} s ({build_s / len(graphs) * 1000:.3f} ms per cell)")

    try:
        from gennape_naslib.cg.io import save_npz
    except ImportError as exc:  # the I/O module is optional for this measurement
        print(f"not saving: gennape_naslib.cg.io.save_npz is unavailable ({exc})")
        save_s = 0.0
    else:
        with tempfile.TemporaryDirectory() as tmp:
            out = args.out or Path(tmp) / "nb201_cgs.npz"
            start = time.perf_counter()
            save_npz(graphs, out)
            save_s = time.perf_counter() - start
            size_mb = out.stat().st_size / 1e6
            where = out if args.out else "a temporary file"
            print(f"saved to {where} in {save_s:.2f} s ({size_mb:.1f} MB)")
    print(f"build + save: {build_s + save_s:.2f} s (goal: under 60 s for all 15,625 cells)")

    if args.verify:
        import numpy as np

        from gennape_naslib.cg import from_torch
        from gennape_naslib.search_spaces import _nb201_net

        rng = np.random.default_rng(args.seed)
        bad = 0
        for _ in range(args.verify):
            arch = family.sample(rng)
            fast = family.to_cg(arch)
            for label, other in (
                ("CGBuilder", _nb201_net.build_cg_reference(arch.ops)),
                ("from_torch", from_torch(family.to_module(arch), family.input_shape)),
            ):
                if fast != other:
                    bad += 1
                    print(f"MISMATCH with {label} for {family.to_str(arch)}:\n{fast.diff(other)}")
        print(f"verified {args.verify} random cells against CGBuilder and from_torch: {bad} mismatches")
        return 1 if bad else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
