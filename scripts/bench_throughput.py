"""Prediction throughput on NB-201: architectures per second, CG construction and features included.

Cold: the per-architecture graph cache and the NB-201 adapter's per-cell caches (cell templates, FLOP
counts) are cleared before each timing, so every architecture's graph arrays are built (by the NB-201
fast path, see ``gennape_naslib.predictors.gennape._nb201_arrays``); warm: the arrays are cached.
Models: the shipped pretrained GENNAPE (6-member ensemble) and a fast configuration, a model with
``members=("cl_fcm_t",)`` (one encoder, one head; trained for one quick epoch, since the rate does not
depend on training). ``n_jobs`` 1 is one process with one torch thread; ``n_jobs`` 2 uses
:func:`gennape_naslib.predictors.parallel.predict_parallel` (one forked process per core). Prints a
Markdown table with wall-clock rates, the CPU seconds of the best timing (this process and its
workers, user + system) and the load average, since the machine may be shared.

Usage: ``python scripts/bench_throughput.py [--n 4000] [--repeats 2]``
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4000, help="architectures per timing (default 4000)")
    ap.add_argument("--repeats", type=int, default=2, help="timings per setting; the best is reported")
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    torch.set_num_threads(1)
    from gennape_naslib import data, search_spaces
    from gennape_naslib.predictors.gennape import GENNAPEPredictor
    from gennape_naslib.predictors.gennape import data as gdata
    from gennape_naslib.predictors.parallel import predict_parallel
    from gennape_naslib.search_spaces import _nb201_net, nb201

    archs = data.load("nb201", dataset="cifar10").archs
    sample = [archs[i] for i in np.random.default_rng(0).permutation(len(archs))[: args.n]]
    family = search_spaces.get("nb201")
    full = GENNAPEPredictor.pretrained()
    table = data.load("nb201", dataset="cifar10")
    y = table.metric("test_acc_200ep")
    # throughput does not depend on how well a model is trained: one quick epoch on 200 cells
    fast = GENNAPEPredictor(members=("cl_fcm_t",), epochs=1, cl_epochs=1, random_state=0)
    fast.fit(archs[:200], y[:200], family=family)
    models = {"6-member ensemble": full, "fast (cl_fcm_t)": fast}
    head = "| model | n_jobs | cold arch/s | warm arch/s | cold CPU s | warm CPU s | load avg |"
    print(f"{head}  (n = {args.n})", flush=True)
    print("|---|---|---|---|---|---|---|")
    for name, model in models.items():
        model.predict(sample[:8], family=family)
        for jobs in args.jobs:
            rates, cpu = {}, {}
            for mode in ("cold", "warm"):
                best, best_cpu = 0.0, 0.0
                for _ in range(args.repeats):
                    if mode == "cold":
                        gdata.clear_cache()
                        _nb201_net._cell_template.cache_clear()
                        nb201._analytic_counts.cache_clear()
                    else:
                        gdata.prepare(sample, family)
                    before = os.times()
                    t0 = time.perf_counter()
                    predict_parallel(model, sample, n_jobs=jobs, family=family)
                    rate = len(sample) / (time.perf_counter() - t0)
                    after = os.times()
                    used = sum(after[i] - before[i] for i in range(4))  # user + system, this process and workers
                    if rate > best:
                        best, best_cpu = rate, used
                rates[mode], cpu[mode] = best, best_cpu
            load = os.getloadavg()[0]
            row = f"| {name} | {jobs} | {rates['cold']:.0f} | {rates['warm']:.0f} "
            print(f"{row}| {cpu['cold']:.2f} | {cpu['warm']:.2f} | {load:.1f} |", flush=True)


if __name__ == "__main__":
    main()
