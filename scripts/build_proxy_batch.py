"""Build ``gennape_naslib/proxies/data/cifar10_batch.npz``, the images the zero-cost proxies score with.

The file holds the first 16 training images of each CIFAR-10 class (160 images, class-balanced)
from ``../shared/data/cifar10/cifar10_train_first1000.npz``, the first 1,000 images of the official
training batches:

* ``x``: uint8 ``(160, 32, 32, 3)`` NHWC, images in class order, then in source order;
* ``y``: uint8 ``(160,)`` class labels;
* ``index``: int32 ``(160,)`` position of each image in the source file.

The NPZ is written by hand with :mod:`zipfile` (entries stored uncompressed, fixed 1980-01-01 time
stamps) so that the script reproduces the file byte for byte; ``np.savez`` would embed the current
time. ``--check`` rebuilds in memory and fails if the packaged file differs.

Usage::

    python scripts/build_proxy_batch.py [--source PATH] [--out PATH] [--check]
"""

from __future__ import annotations

import argparse
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "cifar10" / "cifar10_train_first1000.npz"
DEFAULT_OUT = ROOT / "gennape_naslib" / "proxies" / "data" / "cifar10_batch.npz"
PER_CLASS = 16
NUM_CLASSES = 10


def select(y: np.ndarray, per_class: int = PER_CLASS) -> np.ndarray:
    """Indices of the first ``per_class`` images of each class, grouped by class."""
    picks = []
    for c in range(NUM_CLASSES):
        where = np.flatnonzero(y == c)
        if where.size < per_class:
            raise ValueError(f"class {c} has only {where.size} images in the source, need {per_class}")
        picks.append(where[:per_class])
    return np.concatenate(picks).astype(np.int32)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """A deterministic NPZ (stored zip entries with fixed time stamps) readable by ``np.load``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            payload = io.BytesIO()
            np.lib.format.write_array(payload, np.ascontiguousarray(arr), allow_pickle=False)
            zf.writestr(info, payload.getvalue())
    return buf.getvalue()


def build(source: Path) -> bytes:
    """The bytes of the batch file derived from ``source``."""
    with np.load(source) as data:
        x, y = data["x"], data["y"]
    if x.dtype != np.uint8 or x.shape[1:] != (32, 32, 3):
        raise ValueError(f"{source}: expected uint8 images of shape (N, 32, 32, 3), got {x.dtype} {x.shape}")
    idx = select(y)
    return npz_bytes({"x": x[idx], "y": y[idx].astype(np.uint8), "index": idx})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true", help="compare with the existing file instead of writing")
    args = parser.parse_args(argv)
    payload = build(args.source)
    if args.check:
        same = args.out.exists() and args.out.read_bytes() == payload
        print(f"{args.out}: {'identical' if same else 'DIFFERS'}")
        return 0 if same else 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(payload)
    print(f"wrote {args.out} ({len(payload)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
