"""pack --orientation apply against keep, measured in one run on this machine.

    python benchmarks/bench_orientation.py [--subjects 480] [--size small] [--repeats 3]

1. Time: ``pack.write`` of the sample (``norwoodkit sample --subjects 480``: 2,400 photos, the
   vendor's share of EXIF orientation 6) with ``orientation="keep"`` and ``"apply"``; runs
   interleaved, probe cache warm; medians and the ratio to keep.
2. Quality: every photo ``apply`` re-encoded, decoded as stored (no EXIF handling) against
   ``exif_transpose`` of the original's full decode: PSNR (median, min), max absolute
   difference in levels of 0..255, and the byte-size change of those photos. Split by whether
   the size is a whole number of 16-pixel MCUs (phone photos are) or not (the sample's vary).

The sample is written under ``--work`` (default: a temporary folder) and reused when present.
This is a benchmark, not a test: it prints figures and never fails on speed.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from norwoodkit import dataset, pack, probe, sample


def ensure_sample(root: Path, subjects: int, size: str) -> None:
    if not (root / "annotation.json").is_file():
        t0 = time.perf_counter()
        sample.write(root, sample.SampleOptions(subjects=subjects, size=size, seed=1))
        print(f"wrote {subjects * 5} images ({size}) in {time.perf_counter() - t0:.0f} s")


#: What is timed: (label, orientation, workers). ``apply`` re-encodes in the writing process:
#: a pool measured slower on this sample (every photo's bytes cross a pipe for 5 % of re-encodes).
VARIANTS = (("keep", "keep", 1), ("apply", "apply", 1))


def timed_packs(ds: Any, work: Path, repeats: int) -> dict[str, list[float]]:
    """Seconds per pack, each variant once per round, the order rotating between rounds."""
    times: dict[str, list[float]] = {label: [] for label, _, _ in VARIANTS}
    for r in range(repeats):
        for k in range(len(VARIANTS)):
            label, mode, workers = VARIANTS[(r + k) % len(VARIANTS)]
            opts = pack.PackOptions(orientation=pack.Orientation(mode), workers=workers)
            t0 = time.perf_counter()
            pack.write(ds, work / f"out-{mode}", opts, overwrite=True)
            times[label].append(time.perf_counter() - t0)
    return times


def quality(root: Path, out: Path) -> dict[bool, dict[str, list[float]]]:
    """PSNR, max abs difference and sizes of every re-encoded photo, by MCU alignment."""
    import pyarrow.parquet as pq
    from PIL import Image, ImageOps

    found: dict[bool, dict[str, list[float]]] = {}
    for shard in sorted(out.rglob("*.parquet")):
        table = pq.read_table(shard, columns=["image", "orientation"]).to_pylist()
        for row in table:
            if row["orientation"] in (None, 1):
                continue
            original = (root / row["image"]["path"]).read_bytes()
            stored = row["image"]["bytes"]
            ref = ImageOps.exif_transpose(Image.open(io.BytesIO(original))).convert("RGB")
            got = Image.open(io.BytesIO(stored)).convert("RGB")
            a = np.asarray(got, dtype=np.float64)
            b = np.asarray(ref, dtype=np.float64)
            mse = float(((a - b) ** 2).mean())
            aligned = got.width % 16 == 0 and got.height % 16 == 0
            f = found.setdefault(aligned, {"psnr": [], "maxdiff": [], "before": [], "after": []})
            f["psnr"].append(10 * np.log10(255**2 / mse) if mse else float("inf"))
            f["maxdiff"].append(float(np.abs(a - b).max()))
            f["before"].append(len(original))
            f["after"].append(len(stored))
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subjects", type=int, default=480)
    ap.add_argument("--size", default="small")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--work", type=Path, default=None)
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-orientation-"))
    work.mkdir(parents=True, exist_ok=True)
    root = work / f"sample-{args.subjects}-{args.size}"
    ensure_sample(root, args.subjects, args.size)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {sys.argv[0]} {' '.join(sys.argv[1:])}"
    )
    ds = probe.run(dataset.load(root), cache_dir=work / "cache")
    counts = ds.images["orientation"].value_counts(dropna=False).to_dict()
    print(f"{len(ds.images)} images; EXIF orientation counts: {counts}")
    times = timed_packs(ds, work, args.repeats)
    medians = {label: statistics.median(t) for label, t in times.items()}
    for label, t in times.items():
        runs = ", ".join(f"{x:.2f}" for x in t)
        ratio = medians[label] / medians["keep"]
        print(f"pack, {label}: median {medians[label]:.2f} s ({runs}); {ratio:.2f}x keep")
    for aligned, f in sorted(quality(root, work / "out-apply").items()):
        grid = "whole 16-px MCUs" if aligned else "partial edge MCUs"
        change = sum(f["after"]) / sum(f["before"]) - 1
        print(
            f"re-encoded ({grid}): {len(f['psnr'])} photos; PSNR median "
            f"{statistics.median(f['psnr']):.1f} dB, min {min(f['psnr']):.1f} dB; max abs "
            f"difference {max(f['maxdiff']):.0f}; bytes {change:+.1%} "
            f"({sum(f['before']) / 1e6:.2f} MB -> {sum(f['after']) / 1e6:.2f} MB)"
        )


if __name__ == "__main__":
    main()
