"""Protocol variants of the zero-cost proxies on a fixed subset of the NAS-Bench-201 validation cells.

Diagnoses why some proxies (``plain``, ``grasp``, ``epe_nas``) miss the NAS-Bench-Suite-Zero validation
target: every variant changes one thing about *how* a proxy is measured (network mode, initial
weights, images), keeps the proxy formulas of :mod:`gennape_naslib.proxies`, and the report gives the
Spearman correlation of each variant with the published scores and between variants (two
independent draws of a random protocol measure how noisy the protocol itself is).

Variants (``--variants``, comma-separated):

* ``base``: the package's protocol (seed-0 weights, the fixed seed-0 batch of 32 packaged images,
  train mode).
* ``eval``: as ``base`` but the network in eval mode (BatchNorm uses its initial running statistics,
  mean 0 and variance 1).
* ``shared``: NASLib's benchmark runner initialises *one* search-space object and deep-copies it per
  architecture (``naslib/runners/zc/benchmarks/runner.py``: ``search_space.clone()``), so the stem,
  reduction blocks and classifier have the same weights for every architecture, and each cell edge's
  candidate op has fixed weights. Emulated here: skeleton weights from one seed-0 reference network,
  each cell edge's conv weights drawn from a generator seeded by (cell, edge, kernel size).
* ``batch``: a new random batch per architecture (NASLib re-iterates its shuffled, augmented training
  loader for every architecture, ``p_utils.get_some_data``): 32 of the 1,000 shared CIFAR-10 training
  images with a random 4-pixel-padded crop and horizontal flip, drawn from the architecture's position.
* ``weights``: new seeded weights per architecture (seed = position), fixed batch.
* ``shared_batch``: ``shared`` and ``batch`` together (the closest emulation of the published runs).
* ``*_b``: the same random protocol with an independent second draw (``batch_b``, ``shared_batch_b``,
  ``weights_b``), to measure the protocol's own repeatability.

Usage::

    python scripts/proxy_variants.py run --n 100 --variants base,eval,batch,batch_b --out runs/proxy_variants.jsonl
    python scripts/proxy_variants.py run --n 60 --variants shared_batch,shared_batch_b --grasp
    python scripts/proxy_variants.py report --out runs/proxy_variants.jsonl
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import validate_proxies as vp  # noqa: E402

SHARED_IMAGES = ROOT.parent / "shared" / "data" / "cifar10" / "cifar10_train_first1000.npz"
FREE = ("plain", "snip", "grad_norm", "fisher", "jacov", "epe_nas", "nwot")
RANDOM_BASES = {"batch", "weights", "shared_batch"}


def _base_variant(variant: str) -> tuple[str, int]:
    """(variant without the ``_b`` suffix, draw index)."""
    if variant.endswith("_b") and variant[:-2] in RANDOM_BASES:
        return variant[:-2], 1
    return variant, 0


def _augmented_batch(position: int, draw: int, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    from gennape_naslib.proxies.batch import CIFAR10_MEAN, CIFAR10_STD

    with np.load(SHARED_IMAGES) as data:
        x, y = data["x"], data["y"]
    rng = np.random.default_rng([position, draw, 4242])
    idx = rng.choice(len(x), size=batch_size, replace=False)
    padded = np.pad(x[idx], ((0, 0), (4, 4), (4, 4), (0, 0)))  # torchvision RandomCrop(32, padding=4): zeros
    out = np.empty((batch_size, 32, 32, 3), dtype=np.uint8)
    for i in range(batch_size):
        dy, dx = rng.integers(0, 9, size=2)
        img = padded[i, dy : dy + 32, dx : dx + 32]
        out[i] = img[:, ::-1] if rng.random() < 0.5 else img
    images = torch.from_numpy(out.astype(np.float32) / 255.0).permute(0, 3, 1, 2).contiguous()
    images = (images - torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)) / torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    return images, torch.from_numpy(y[idx].astype(np.int64))


_REFERENCE: dict[str, torch.Tensor] = {}


def _apply_shared_weights(net: nn.Module, draw: int) -> None:
    """Skeleton weights of one reference network; cell-edge convs from (cell, edge, kernel)-seeded draws."""
    from gennape_naslib.search_spaces._nb201_torch import NB201Network

    key = f"draw{draw}"
    if key not in _REFERENCE:
        torch.manual_seed(1000 * draw)
        _REFERENCE[key] = NB201Network(["nor_conv_3x3"] * 6).state_dict()  # type: ignore[assignment]
    ref = _REFERENCE[key]
    with torch.no_grad():
        for name, tensor in net.state_dict().items():
            parts = name.split(".")
            if parts[0] == "cells" and parts[2] == "edges":
                if name.endswith(".1.weight") and tensor.dim() == 4:  # _ReLUConvBN conv
                    cell, edge, kernel = int(parts[1]), int(parts[3]), int(tensor.shape[-1])
                    gen = torch.Generator().manual_seed(zlib.crc32(f"{draw}/{cell}/{edge}/{kernel}".encode()))
                    w = torch.empty_like(tensor)
                    nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=gen)
                    tensor.copy_(w)
                continue  # BN parameters/buffers keep their (architecture-independent) defaults
            tensor.copy_(ref[name])


def _install(variant: str, position: int) -> None:
    """Route the proxies' network construction through ``variant``."""
    from gennape_naslib.proxies import _passes

    base, draw = _base_variant(variant)

    def build(item):  # type: ignore[no-untyped-def]
        seed = item.seed
        if base == "weights":
            seed = 10_000 * (draw + 1) + position
        torch.manual_seed(seed)
        net = item.family.to_module(item.arch)
        if base in ("shared", "shared_batch"):
            _apply_shared_weights(net, draw)
        net.train()
        if base == "eval":
            net.eval()
        return net

    _passes.build_network = build


def score_cell(key: str, position: int, variant: str, with_grasp: bool, names: tuple[str, ...] = FREE) -> dict:
    """Scores of one published cell (``key``, at ``position`` in the order) under ``variant``."""
    from gennape_naslib import proxies, search_spaces
    from gennape_naslib.proxies.base import ProxyInput

    nb201 = search_spaces.get("nb201")
    arch = nb201.from_naslib(ast.literal_eval(key))
    base, draw = _base_variant(variant)
    _install(variant, position)
    if base in ("batch", "shared_batch"):
        inputs, targets = _augmented_batch(position, draw, 32)
    else:
        inputs, targets = proxies.batch.proxy_batch(nb201, arch, batch_size=32, seed=0)
    item = ProxyInput(family=nb201, arch=arch, inputs=inputs, targets=targets, seed=0)
    scores = {}
    start = time.process_time()
    with torch.random.fork_rng(devices=[]):
        for name in [*names, *(["grasp"] if with_grasp else [])]:
            scores[name] = float(proxies.get_proxy(name).compute(item))
    return {"key": key, "variant": variant, "scores": scores, "cpu_s": time.process_time() - start}


def cmd_run(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    keys = vp.order(list(vp.load_published()), 0)[: args.n]
    done = set()
    if args.out.exists():
        for line in args.out.read_text().splitlines():
            r = json.loads(line)
            if args.grasp and "grasp" not in r["scores"]:
                continue
            done.add((r["key"], r["variant"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a") as fh:
        for variant in args.variants.split(","):
            t0 = time.time()
            for pos, key in enumerate(keys):
                if (key, variant) in done:
                    continue
                row = score_cell(key, pos, variant, args.grasp)
                fh.write(json.dumps(row) + "\n")
                fh.flush()
            print(f"{variant}: {len(keys)} cells, {time.time() - t0:.0f} s wall", flush=True)
    return 0


def _clean(values: list[float]) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    arr[~np.isfinite(arr)] = -1e8
    return arr


def cmd_report(args: argparse.Namespace) -> int:
    from scipy.stats import spearmanr

    published = vp.load_published()
    rows = [json.loads(line) for line in args.out.read_text().splitlines() if line.strip()]
    by: dict[str, dict[str, dict]] = {}
    for r in rows:
        by.setdefault(r["variant"], {})[r["key"]] = r["scores"]  # a later row wins
    variants = list(by)
    names = [n for n in (*FREE, "grasp") if any(n in s for v in by.values() for s in v.values())]
    print("rho(variant, published) [cells]; rho(variant, accuracy)")
    print("| proxy | " + " | ".join(variants) + " | published vs acc |")
    print("|---|" + "---|" * (len(variants) + 1))
    for name in names:
        cells = []
        for v in variants:
            keys = [k for k, s in by[v].items() if name in s]
            if len(keys) < 10:
                cells.append("")
                continue
            ours = _clean([by[v][k][name] for k in keys])
            pub = _clean([published[k][name]["score"] for k in keys])
            acc = np.asarray([published[k]["val_accuracy"] for k in keys])
            cells.append(f"{spearmanr(ours, pub).statistic:.3f} [{len(keys)}]; {spearmanr(ours, acc).statistic:+.3f}")
        keys = [k for k in by[variants[0]] if name in by[variants[0]][k]]
        pub = _clean([published[k][name]["score"] for k in keys])
        acc = np.asarray([published[k]["val_accuracy"] for k in keys])
        print(f"| {name} | " + " | ".join(cells) + f" | {spearmanr(pub, acc).statistic:+.3f} |")
    pairs = [p.split(":") for p in args.pairs.split(",") if p]
    if pairs:
        print("\nrho between variants (same cells)")
        print("| proxy | " + " | ".join(f"{a} vs {b}" for a, b in pairs) + " |")
        print("|---|" + "---|" * len(pairs))
        for name in names:
            cells = []
            for a, b in pairs:
                if a not in by or b not in by:
                    cells.append("")
                    continue
                keys = [k for k in by[a] if k in by[b] and name in by[a][k] and name in by[b][k]]
                if len(keys) < 10:
                    cells.append("")
                    continue
                x = _clean([by[a][k][name] for k in keys])
                y = _clean([by[b][k][name] for k in keys])
                cells.append(f"{spearmanr(x, y).statistic:.3f} [{len(keys)}]")
            print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run")
    run.add_argument("--out", type=Path, default=ROOT / "runs" / "proxy_variants" / "variants.jsonl")
    run.add_argument("--n", type=int, default=100, help="first N cells of the validation order")
    run.add_argument("--variants", default="base,eval,batch,batch_b")
    run.add_argument("--grasp", action="store_true", help="also grasp (3-4x the cost of the others)")
    run.add_argument("--threads", type=int, default=1)
    rep = sub.add_parser("report")
    rep.add_argument("--out", type=Path, default=ROOT / "runs" / "proxy_variants" / "variants.jsonl")
    rep.add_argument("--pairs", default="batch:batch_b,shared_batch:shared_batch_b,weights:weights_b,base:batch")
    args = parser.parse_args(argv)
    return {"run": cmd_run, "report": cmd_report}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
