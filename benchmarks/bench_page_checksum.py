"""What the loader's two integrity checks cost per image, beside the decode they protect.

    python benchmarks/bench_page_checksum.py SHARDS_DIR [--images 200] [--repeats 5]

SHARDS_DIR is a ``norwoodkit pack`` folder (original bytes). In one run it times, per image:
decoding it as the loader does (``decode_image`` to 224 x 224), reading every row group with
and without Parquet page-checksum verification (the difference is the CRC32 cost), and the
sha256 of its stored bytes (the per-image check). It prints each as a share of decode time.
A benchmark, not a test: it never fails on speed.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from norwoodkit.loader.decode import decode_image


def read_all(shards: list[Path], verify: bool) -> tuple[float, int]:
    """Seconds to read every row group of every shard, and the rows read."""
    t0 = time.perf_counter()
    rows = 0
    for shard in shards:
        pf = pq.ParquetFile(shard, page_checksum_verification=verify)
        for g in range(pf.num_row_groups):
            rows += pf.read_row_group(g).num_rows
    return time.perf_counter() - t0, rows


def first_images(shard: Path, count: int) -> list[bytes]:
    """The stored bytes of the first ``count`` images of a shard."""
    pf = pq.ParquetFile(shard)
    out: list[bytes] = []
    for g in range(pf.num_row_groups):
        cells: list[dict[str, Any]] = pf.read_row_group(g).column("image").to_pylist()
        out += [c["bytes"] for c in cells]
        if len(out) >= count:
            break
    return out[:count]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("shards", type=Path)
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    shards = sorted(args.shards.glob("*/*.parquet"))
    images = first_images(shards[0], args.images)
    t0 = time.perf_counter()
    for data in images:
        decode_image(data, (224, 224))
    decode = (time.perf_counter() - t0) / len(images)
    crc: list[float] = []
    for _ in range(args.repeats):
        plain, rows = read_all(shards, verify=False)
        checked, _ = read_all(shards, verify=True)
        crc.append((checked - plain) / rows)
    t0 = time.perf_counter()
    for _ in range(args.repeats):
        for data in images:
            hashlib.sha256(data).hexdigest()
    sha = (time.perf_counter() - t0) / (args.repeats * len(images))
    page = statistics.median(crc)
    print(f"decode {decode * 1e3:.2f} ms/image")
    print(f"page CRC32 {page * 1e3:.3f} ms/image = {100 * page / decode:.2f} % of decode")
    print(f"image sha256 {sha * 1e3:.3f} ms/image = {100 * sha / decode:.2f} % of decode")
    print(f"both {100 * (page + sha) / decode:.2f} % of decode (target <= 5 %)")


if __name__ == "__main__":
    main()
