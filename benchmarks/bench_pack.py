"""pack against its baselines, measured in one run on this machine.

    python benchmarks/bench_pack.py [--small-subjects 480] [--large-subjects 4800] [--repeats 3]

1. Throughput: ``pack`` (original bytes, warm probe cache) vs ``shutil.copytree`` of the same
   folder (target: pack >= 0.5x the copy's speed).
2. Memory: peak RSS of a ``norwoodkit pack`` process for 2,400 images vs 24,000 images
   (``sample --subjects 4800 --size small``), with a warm probe cache and with an empty one
   (the process then probes every image too); target ratio <= 1.2.
3. Reading back: every row of every shard with pyarrow vs reading every loose file's bytes
   (target: shards >= 0.8x the loose files' speed), with a warm page cache and, when run as
   root, a cold one (the page cache is dropped before every read).
4. Cold pack (issue 15): ``norwoodkit pack`` with an empty probe cache vs a cold ``norwoodkit
   validate`` alone and vs that validate plus WebDataset's ``ShardWriter`` writing the same
   files (one .jpg and one .json per image); each in a fresh process, a fresh cache dir each run,
   interleaved (targets: pack <= 1.0x the sum, <= 1.3x validate alone).
5. Memory with large photos (issue 15): peak RSS of ``norwoodkit pack`` for 60 12-megapixel
   originals (``sample --subjects 12 --size 12mp``) vs 2,400 640x480 photos, warm and cold probe
   cache (target <= 1.3x).

Samples are written under ``--work`` (default: a temporary folder) and reused when present.
This is a benchmark, not a test: it prints figures and never fails on speed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from norwoodkit import dataset, pack, probe, sample

CHILD = """
import atexit, json, sys, time
t0 = time.perf_counter()

def report():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent that started us.
    hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
    print(json.dumps({"seconds": time.perf_counter() - t0, "maxrss_mb": hwm / 1024}))

atexit.register(report)
root, out, cache = sys.argv[1:4]
sys.argv = ["norwoodkit", "pack", root, "--out", out, "--cache", cache, "--overwrite", "--quiet"]
from norwoodkit.cli import main
main()
"""


def ensure_sample(root: Path, subjects: int, size: str) -> None:
    if not (root / "annotation.json").is_file():
        t0 = time.perf_counter()
        sample.write(root, sample.SampleOptions(subjects=subjects, size=size, seed=1))
        print(f"wrote {subjects * 5} images ({size}) in {time.perf_counter() - t0:.0f} s")


def can_drop_caches() -> bool:
    return os.geteuid() == 0 and os.access("/proc/sys/vm/drop_caches", os.W_OK)


def drop_caches() -> None:
    """Empty the OS page cache (root only) so the next read comes from disk."""
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def read_back(packed: Path, files: list[Path], size: str, repeats: int) -> None:
    """Time reading every shard row (pyarrow) against reading every loose file."""
    import pyarrow.parquet as pq

    shards = sorted(packed.rglob("*-of-*.parquet"))
    total_mb = sum(f.stat().st_size for f in files) / 1e6

    def read_shards() -> int:
        return sum(pq.read_table(s, memory_map=True).num_rows for s in shards)

    def read_files() -> int:
        total = 0
        for f in files:
            with open(f, "rb") as fh:
                total += len(fh.read())
        return total

    print(
        f"\n3. {size}: {read_shards()} rows, {total_mb:.0f} MB of images in {len(shards)} "
        f"shards (pyarrow.parquet.read_table, memory_map) vs {len(files)} loose files"
    )
    for mode in ["warm"] + (["cold"] if can_drop_caches() else []):
        times: dict[str, list[float]] = {"shards": [], "files": []}
        for _ in range(repeats):
            for name, fn in (("shards", read_shards), ("files", read_files)):
                if mode == "cold":
                    drop_caches()
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
        rs, rf = statistics.median(times["shards"]), statistics.median(times["files"])
        print(
            f"   {mode} page cache: shards {rs:.3f} s ({total_mb / rs:.0f} MB/s), files "
            f"{rf:.3f} s ({total_mb / rf:.0f} MB/s); shards / files speed = {rf / rs:.2f}x "
            "(target >= 0.8x)"
        )


def folder_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small-subjects", type=int, default=480)
    ap.add_argument("--large-subjects", type=int, default=4800)
    ap.add_argument("--size", default="small")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--parts", default="1,2,3,4,5", help="which measurements to run")
    ap.add_argument(
        "--read-sizes", default="small,medium", help="sample sizes for the read-back comparison"
    )
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "nk-bench-pack")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    cache = args.work / "cache"
    small = args.work / f"sample-{args.small_subjects}"
    large = args.work / f"sample-{args.large_subjects}"
    ensure_sample(small, args.small_subjects, args.size)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )

    parts = set(args.parts.split(","))
    ds = probe.run(dataset.load(small), cache_dir=cache)
    size_mb = folder_bytes(small) / 1e6
    if "1" in parts:
        pack_vs_copy(args, ds, small, size_mb)
    if "3" in parts:
        read_backs(args, small, cache)
    if "2" in parts:
        peak_rss(args, small, large, cache)
    if "4" in parts:
        cold_pack(args, small)
    if "5" in parts:
        large_photos = args.work / "sample-12-12mp"
        ensure_sample(large_photos, 12, "12mp")
        print("\n5. peak RSS of `norwoodkit pack`, 60 12-MP originals vs 2,400 small photos")
        for mode in ("warm", "cold"):
            big, little = (
                child_rss(args, large_photos, cache, mode),
                child_rss(args, small, cache, mode),
            )
            print(
                f"   {mode} probe cache: {big[0]:.0f} MB ({big[1]:.1f} s) vs {little[0]:.0f} MB "
                f"({little[1]:.1f} s); ratio {big[0] / little[0]:.2f} (target <= 1.3); "
                f"whole process tree {big[2]:.0f} MB vs {little[2]:.0f} MB "
                f"({big[2] / little[2]:.2f})"
            )


def pack_vs_copy(
    args: argparse.Namespace, ds: dataset.ProbedDataset, small: Path, size_mb: float
) -> None:
    """1. pack vs copytree (warm probe cache; the OS file cache is warm for both)."""
    copy_s: list[float] = []
    pack_s: list[float] = []
    for i in range(args.repeats):
        dst = args.work / f"copy{i}"
        shutil.rmtree(dst, ignore_errors=True)
        t0 = time.perf_counter()
        shutil.copytree(small, dst)
        copy_s.append(time.perf_counter() - t0)
        shutil.rmtree(dst)
        out = args.work / f"packed{i}"
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        pack.write(ds, out, pack.PackOptions())
        pack_s.append(time.perf_counter() - t0)
        if i < args.repeats - 1:
            shutil.rmtree(out)
    c, p = statistics.median(copy_s), statistics.median(pack_s)
    print(f"\n1. {len(ds.images)} images, {size_mb:.0f} MB")
    print(
        f"   copytree: {c:.2f} s ({size_mb / c:.0f} MB/s); pack: {p:.2f} s "
        f"({size_mb / p:.0f} MB/s); pack / copy speed = {c / p:.2f}x (target >= 0.5x)"
    )

    for i in range(args.repeats):
        shutil.rmtree(args.work / f"packed{i}", ignore_errors=True)


def read_backs(args: argparse.Namespace, small: Path, cache: Path) -> None:
    """3. reading back: shards with pyarrow vs loose files, warm and (as root) cold cache."""
    for size in args.read_sizes.split(","):
        root = small if size == args.size else args.work / f"sample-{args.small_subjects}-{size}"
        ensure_sample(root, args.small_subjects, size)
        rds = probe.run(dataset.load(root), cache_dir=cache)
        packed = args.work / f"read-{size}"
        if not (packed / "manifest.json").is_file():
            pack.write(rds, packed, pack.PackOptions(), overwrite=True)
        read_back(packed, [root / str(x) for x in rds.images["path"]], size, args.repeats)


def peak_rss(args: argparse.Namespace, small: Path, large: Path, cache: Path) -> None:
    """2. peak RSS, 2,400 vs 24,000 images, each in a fresh process.

    warm: the probe cache knows every image (pack after validate, the usual order); cold: an
    empty cache, so the same process also probes every image (pack straight after download).
    """
    ensure_sample(large, args.large_subjects, args.size)
    probe.run(dataset.load(large), cache_dir=cache)
    n_small = args.small_subjects * 5
    n_large = args.large_subjects * 5
    print(f"\n2. peak RSS of `norwoodkit pack`, {n_small} vs {n_large} images (VmHWM)")
    for mode in ("warm", "cold"):
        rss = {}
        for name, root in (("small", small), ("large", large)):
            runs = []
            for i in range(max(1, args.repeats - 1)):
                out = args.work / f"rss-{name}"
                run_cache = cache if mode == "warm" else args.work / f"cold-cache-{name}-{i}"
                shutil.rmtree(run_cache if mode == "cold" else out, ignore_errors=True)
                proc = subprocess.run(
                    [sys.executable, "-c", CHILD, str(root), str(out), str(run_cache)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
                shutil.rmtree(out, ignore_errors=True)
                if mode == "cold":
                    shutil.rmtree(run_cache, ignore_errors=True)
            rss[name] = (
                statistics.median(r["maxrss_mb"] for r in runs),
                statistics.median(r["seconds"] for r in runs),
            )
        print(
            f"   {mode} probe cache: {rss['small'][0]:.0f} MB ({rss['small'][1]:.1f} s) vs "
            f"{rss['large'][0]:.0f} MB ({rss['large'][1]:.1f} s); "
            f"ratio {rss['large'][0] / rss['small'][0]:.2f} (target <= 1.2)"
        )
    for i in range(args.repeats):
        shutil.rmtree(args.work / f"packed{i}", ignore_errors=True)


WDS_CHILD = """
import json, sys
import webdataset as wds
from norwoodkit import dataset
root, out = sys.argv[1:3]
ds = dataset.load(root)
rows = ds.images.dropna(subset=["path"])
with wds.ShardWriter(out + "/shard-%05d.tar", maxsize=128 * 2**20, verbose=0) as sink:
    for i, r in enumerate(rows.itertuples()):
        with open(f"{root}/{r.path}", "rb") as fh:
            data = fh.read()
        meta = {"subject_id": str(r.subject_id), "view": str(r.view), "path": str(r.path)}
        sink.write({"__key__": f"{i:06d}", "jpg": data, "json": json.dumps(meta).encode()})
"""


def timed(argv: list[str]) -> float:
    """Seconds a fresh process running ``argv`` takes (its exit code is not checked: a
    validate that finds something exits 1)."""
    t0 = time.perf_counter()
    subprocess.run(argv, capture_output=True, check=False)
    return time.perf_counter() - t0


def cold_pack(args: argparse.Namespace, small: Path) -> None:
    """4. cold pack vs cold validate, and vs cold validate + WebDataset ShardWriter."""
    cli = [sys.executable, "-m", "norwoodkit"]
    times: dict[str, list[float]] = {"validate": [], "wds": [], "pack": []}
    for i in range(args.repeats):
        for name in times:
            cold = args.work / f"cold-{name}-{i}"
            out = args.work / f"cold-out-{name}-{i}"
            shutil.rmtree(cold, ignore_errors=True)
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            if name == "validate":
                argv = [*cli, "validate", str(small), "--cache", str(cold), "--quiet"]
            elif name == "wds":
                argv = [sys.executable, "-c", WDS_CHILD, str(small), str(out)]
            else:
                argv = [*cli, "pack", str(small), "--out", str(out), "--cache", str(cold)]
                argv += ["--overwrite", "--quiet"]
            times[name].append(timed(argv))
            shutil.rmtree(cold, ignore_errors=True)
            shutil.rmtree(out, ignore_errors=True)
    v, w, p = (statistics.median(times[k]) for k in ("validate", "wds", "pack"))
    print(f"\n4. cold pack of {args.small_subjects * 5} images (medians of {args.repeats})")
    print(
        f"   cold validate {v:.2f} s; WebDataset ShardWriter {w:.2f} s; cold pack {p:.2f} s\n"
        f"   pack / (validate + ShardWriter) = {p / (v + w):.2f}x (target <= 1.0x); "
        f"pack / validate = {p / v:.2f}x (target <= 1.3x)"
    )


def _tree(pid: int) -> list[int]:
    """``pid`` and every process below it (the fork server and pool workers included)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except OSError:
            continue
    return out


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            line = next((x for x in fh if x.startswith("VmRSS")), "VmRSS: 0 kB")
        return int(line.split()[1]) / 1024
    except OSError:
        return 0.0


def run_polled(argv: list[str]) -> tuple[str, float]:
    """Run ``argv``; its stdout and the peak over time of the RSS summed over its process
    tree (polled every 20 ms), so memory moved to pool workers still counts."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, sum(_rss_mb(p) for p in _tree(proc.pid)))
        time.sleep(0.02)
    out = proc.stdout.read() if proc.stdout else ""
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, argv)
    return out, peak


def child_rss(
    args: argparse.Namespace, root: Path, cache: Path, mode: str
) -> tuple[float, float, float]:
    """Median peak RSS (MB) of the ``norwoodkit pack`` process, median seconds, and median
    peak of its whole process tree (MB), of ``root`` in fresh processes, with the shared warm
    cache or an empty one."""
    if mode == "warm":
        probe.run(dataset.load(root), cache_dir=cache)
    runs = []
    for i in range(max(1, args.repeats - 1)):
        out = args.work / "rss-5"
        run_cache = cache if mode == "warm" else args.work / f"cold-cache-5-{i}"
        shutil.rmtree(out, ignore_errors=True)
        if mode == "cold":
            shutil.rmtree(run_cache, ignore_errors=True)
        argv = [sys.executable, "-c", CHILD, str(root), str(out), str(run_cache)]
        stdout, tree = run_polled(argv)
        runs.append(json.loads(stdout.strip().splitlines()[-1]) | {"tree_mb": tree})
        shutil.rmtree(out, ignore_errors=True)
        if mode == "cold":
            shutil.rmtree(run_cache, ignore_errors=True)
    return (
        statistics.median(r["maxrss_mb"] for r in runs),
        statistics.median(r["seconds"] for r in runs),
        statistics.median(r["tree_mb"] for r in runs),
    )


if __name__ == "__main__":
    main()
