"""Time ``read_format("nb101_tfrecord", ...)`` on a NAS-Bench-101-sized file made here.

The real ``nasbench_only108.tfrecord`` (423,624 cells x 3 runs, 499 MB) cannot be downloaded on the
project's machines, so this writes a file of the same layout: ``--cells`` distinct cells drawn by the
family's sampler (with their real module hashes), each with three runs whose ModelMetrics blobs are
copied from the 30 real records of ``shared/data/nb101/nb101_records_30.pkl`` (cycled). The accuracies
in it therefore belong to other cells: the file is a timing fixture, never a benchmark table.

Prints records/s, cells/s, wall seconds and the peak resident memory of the read.

    python scripts/bench_nb101_tfrecord.py --cells 20000
"""

from __future__ import annotations

import argparse
import base64
import json
import pickle
import resource
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT.parent / "shared" / "data" / "nb101" / "nb101_records_30.pkl"


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, wire: int, payload: bytes) -> bytes:
    return _varint(number << 3 | wire) + payload


def _blob(params: int, run: dict) -> bytes:
    """A ModelMetrics message (start, halfway, final evaluations) of one real run."""
    evaluations = [_field(1, 1, struct.pack("<d", 0.0))]
    for stage, epoch in (("halfway", 54.0), ("final", 108.0)):
        body = _field(1, 1, struct.pack("<d", epoch))
        keys = ((2, "training_time"), (3, "train_accuracy"), (4, "validation_accuracy"), (5, "test_accuracy"))
        for number, key in keys:
            body += _field(number, 1, struct.pack("<d", float(run[f"{stage}_{key}"])))
        evaluations.append(body)
    message = b"".join(_field(1, 2, _varint(len(e)) + e) for e in evaluations)
    return message + _field(2, 0, _varint(params))


def write_fixture(path: Path, cells: int, seed: int) -> int:
    from gennape_naslib.data._tfrecord import masked_crc32c
    from gennape_naslib.search_spaces import get

    with open(RECORDS, "rb") as handle:
        real = list(pickle.load(handle).values())
    blobs = [
        base64.b64encode(_blob(int(fixed["trainable_parameters"]), run)).decode()
        for fixed, computed in real
        for run in computed[108]
    ]
    family, rng = get("nb101"), np.random.default_rng(seed)
    seen: set[str] = set()
    n = 0
    with open(path, "wb") as out:
        while len(seen) < cells:
            arch = family.sample(rng)
            module = family.canonical_hash(arch)
            if module in seen:
                continue
            seen.add(module)
            adjacency = "".join(str(v) for row in arch.matrix for v in row)
            for run in range(3):
                row = [module, 108, adjacency, ",".join(arch.ops), blobs[(3 * len(seen) + run) % len(blobs)]]
                data = json.dumps(row).encode()
                header = struct.pack("<Q", len(data))
                out.write(header + struct.pack("<I", masked_crc32c(header)) + data)
                out.write(struct.pack("<I", masked_crc32c(data)))
                n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from gennape_naslib.data import read_format

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "nasbench_fixture.tfrecord"
        start = time.perf_counter()
        records = write_fixture(path, args.cells, args.seed)
        print(
            f"wrote {records:,} records of {args.cells:,} cells ({path.stat().st_size / 1e6:.1f} MB) "
            f"in {time.perf_counter() - start:.1f} s"
        )
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        table = read_format("nb101_tfrecord", path)
        wall = time.perf_counter() - start
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rates = f"{records / wall:,.0f} records/s, {len(table) / wall:,.0f} cells/s"
    print(f"read {len(table):,} cells in {wall:.2f} s: {rates}")
    print(f"peak RSS {rss_after / 1024:.0f} MB (before the read {rss_before / 1024:.0f} MB)")
    scale = 423_624 / len(table)
    print(f"extrapolated to nasbench_only108.tfrecord (423,624 cells, 1,270,872 records): {wall * scale:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
