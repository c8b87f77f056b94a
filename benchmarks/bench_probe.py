"""Probe throughput against its baselines, and warm vs cold validate, measured in one run.

    python benchmarks/bench_probe.py [--subjects 8] [--size 12mp] [--repeats 3] [--workers 2]

Writes a sample of ``--subjects`` x 5 JPEGs (quality 90) at ``--size``, then times, with the same
worker processes for each:

- baseline: ``Image.open`` + full decode + ``imagehash.phash`` (what a plain script does);
- floor: decoding only, in the same JPEG draft mode the probe uses (nothing else done);
- probe: ``probe.probe_file`` (sha256, header, EXIF, integrity decode, two phashes, measures);
- reads, in this process: the probe's guarded read (stat, non-blocking open, fstat, bounded
  read, the inside-the-root check) against a plain ``open().read()``, per file;
- validate cold (empty probe cache) vs warm (cache filled), end to end in this process.

Prints medians over ``--repeats`` and the ratios the foundation issue sets targets for.
This is a benchmark, not a test: it never fails on speed.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import imagehash
from PIL import Image

from norwoodkit import dataset, probe, sample
from norwoodkit.parallel import pool_context
from norwoodkit.validate import validate


def baseline_batch(paths: Sequence[str]) -> int:
    """Open, fully decode and phash each file: the plain-script way."""
    for p in paths:
        with Image.open(p) as im:
            im.load()
            imagehash.phash(im)
    return len(paths)


def floor_batch(paths: Sequence[str]) -> int:
    """Decode only, in the probe's draft mode: the least any integrity check can cost."""
    for p in paths:
        with Image.open(p) as im:
            im.draft(probe.DRAFT_MODE, probe.DRAFT_SIZE)
            im.load()
    return len(paths)


def probe_only(paths: Sequence[str]) -> int:
    """The probe's per-image work."""
    for p in paths:
        probe.probe_file(p)
    return len(paths)


def time_reads(root: Path, paths: list[str], repeats: int) -> tuple[float, float]:
    """Median microseconds per file of a plain read and of the probe's guarded read."""
    from norwoodkit.paths import inside
    from norwoodkit.probe.read import read_file

    root_real = os.path.realpath(root)

    def plain() -> None:
        for p in paths:
            with open(p, "rb") as fh:
                fh.read()

    def guarded() -> None:
        for p in paths:
            assert inside(root_real, p)
            read_file(p)

    times: dict[str, list[float]] = {"plain": [], "guarded": []}
    for _ in range(max(repeats, 5)):
        for name, fn in (("plain", plain), ("guarded", guarded)):  # interleaved
            t0 = time.perf_counter()
            fn()
            times[name].append(1e6 * (time.perf_counter() - t0) / len(paths))
    return statistics.median(times["plain"]), statistics.median(times["guarded"])


def timed_map(
    fn: Callable[[Sequence[str]], int], paths: list[str], pool: ProcessPoolExecutor, batch: int
) -> float:
    t0 = time.perf_counter()
    chunks = [paths[i : i + batch] for i in range(0, len(paths), batch)]
    done = sum(pool.map(fn, chunks))
    assert done == len(paths)
    return time.perf_counter() - t0


def main() -> None:
    """Parse the options, then time every step and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subjects", type=int, default=8)
    ap.add_argument("--size", default="12mp")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--keep", type=Path, help="reuse/keep the sample in this folder")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="nk-bench-"))
    root = args.keep or work / "sample"
    paths = prepare(args, root)
    med = time_steps(paths, args.workers, args.repeats)
    cold, warm = time_validate(root, work, args.workers, args.repeats)
    plain, guarded = time_reads(root, paths, args.repeats)
    print()
    print(f"{'step':<34}{'median s':>10}{'images/s':>10}")
    for name in ("baseline", "floor", "probe"):
        print(f"{name:<34}{med[name]:>10.2f}{len(paths) / med[name]:>10.1f}")
    print(f"{'validate, cold cache':<34}{cold:>10.2f}")
    print(f"{'validate, warm cache':<34}{warm:>10.3f}")
    print(f"{'read per file, plain (us)':<34}{plain:>10.0f}")
    print(f"{'read per file, guarded (us)':<34}{guarded:>10.0f}")
    print()
    print(f"probe vs baseline (speed-up, target >= 3.5x): {med['baseline'] / med['probe']:.2f}x")
    print(f"probe vs draft-decode floor (target >= 0.85x): {med['floor'] / med['probe']:.2f}x")
    print(f"warm / cold validate (target <= 5 %): {100 * warm / cold:.1f} %")
    shutil.rmtree(work, ignore_errors=True)


def prepare(args: argparse.Namespace, root: Path) -> list[str]:
    """The sample's image paths (writing the sample first if ``root`` is new); prints the data."""
    if not root.exists():
        t0 = time.perf_counter()
        sample.write(root, sample.SampleOptions(subjects=args.subjects, size=args.size, seed=1))
        print(
            f"wrote {args.subjects * 5} images at {args.size} in {time.perf_counter() - t0:.1f} s"
        )
    ds = dataset.load(root)
    paths = [str((root / p).resolve()) for p in ds.images["path"]]
    total_mb = sum(os.path.getsize(p) for p in paths) / 1e6
    pixels = []
    for p in paths:
        with Image.open(p) as im:
            pixels.append(im.size[0] * im.size[1])
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; workers: {args.workers}"
    )
    print(
        f"data: {len(paths)} JPEGs, {statistics.mean(pixels) / 1e6:.1f} MP on average "
        f"({min(pixels) / 1e6:.1f}-{max(pixels) / 1e6:.1f}), {total_mb:.0f} MB, "
        f"quality 90; OS file cache warm (files just written or read)"
    )
    return paths


def time_steps(paths: list[str], workers: int, repeats: int) -> dict[str, float]:
    """Median seconds of the baseline, the draft-decode floor and the probe over ``paths``."""
    times: dict[str, list[float]] = {"baseline": [], "floor": [], "probe": []}
    fns = {"baseline": baseline_batch, "floor": floor_batch, "probe": probe_only}
    with ProcessPoolExecutor(workers, mp_context=pool_context()) as pool:
        timed_map(floor_batch, paths[: workers * 2], pool, 1)  # start the workers
        for _ in range(repeats):
            for name, fn in fns.items():  # interleaved, so drift hits all three alike
                times[name].append(timed_map(fn, paths, pool, probe.BATCH_SIZE // 4 or 1))
    return {k: statistics.median(v) for k, v in times.items()}


def time_validate(root: Path, work: Path, workers: int, repeats: int) -> tuple[float, float]:
    """Median seconds of load + probe + validate with an empty cache, then a warm one."""
    cold: list[float] = []
    warm: list[float] = []
    for i in range(repeats):
        cache = work / f"cache{i}"
        for bucket in (cold, warm):
            t0 = time.perf_counter()
            d = probe.run(dataset.load(root), cache_dir=cache, workers=workers)
            validate(d)
            bucket.append(time.perf_counter() - t0)
    return statistics.median(cold), statistics.median(warm)


if __name__ == "__main__":
    main()
