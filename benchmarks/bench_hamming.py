"""Hamming search at scale: ``dedupe.hamming_pairs`` (multi-index) against the brute force.

Each measurement runs in a fresh subprocess pinned to one CPU (one-thread env vars): seconds,
CPU seconds of the process (close to an idle core's seconds when the machine is shared), pairs
and peak RSS (VmHWM: the whole process, interpreter and numpy included). The brute force
(``hamming_pairs_brute``, the reference) runs on a subsample of ``--brute-size`` hashes of the
same distribution in the same run, interleaved with the multi-index runs, and is scaled by
``(n / brute_size) ** 2`` (its work is exactly quadratic and does not depend on the data). Medians
of ``--repeats`` interleaved runs; sizes in ``--once`` run one time only (10M takes long).

Distributions (``--dist``):

- ``uniform``: independent uniform 64-bit hashes (the textbook case, evenly filled buckets);
- ``phash-like``: what real phashes look like to the index, which is what matters: skewed bit
  marginals (each bit's probability of a 1 drawn from Beta(2, 2), so chunk values are crowded;
  the DCT's DC bit always 1, as imagehash's phash gives), photos in clusters of near copies of
  heavy-tailed size (1 + Pareto(2), at most 100) and each hash its photo with up to 6 bits
  flipped (re-encodes, crops: many near-identical hashes). Buckets are uneven and the output
  holds many true pairs; cluster sizes do not grow with n, so neither does pairs per hash.

Run (from the repository root):

    python benchmarks/bench_hamming.py --sizes 1000000 --once 10000000 --dist phash-like
    python benchmarks/bench_hamming.py --sizes 100000,1000000 --dist uniform
    python benchmarks/bench_hamming.py --fit 200000    # the cost model's constants (mih.py)
    python benchmarks/bench_hamming.py --ray 1000000   # Ray tasks on every CPU vs one core

This is a benchmark, not a test: it prints figures and never fails on them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from norwoodkit.dedupe import mih
from norwoodkit.dedupe.distance import U64
from norwoodkit.dedupe.search import hamming_pairs, hamming_pairs_brute
from norwoodkit.engine import Engine, EngineChoice, connect


def uniform(n: int, rng: np.random.Generator) -> U64:
    """Independent uniform hashes."""
    return rng.integers(0, 2**64, n, dtype=np.uint64, endpoint=False)


def phash_like(n: int, rng: np.random.Generator) -> U64:
    """Skewed bits, heavy-tailed near-copy clusters (see the module docstring)."""
    ones = rng.beta(2.0, 2.0, 64)
    ones[0] = 1.0  # the DC coefficient is above the median in every phash
    # Copies per photo: 1 + Pareto(2), at most 100 (a photo re-uploaded now and then, a few
    # stock layouts many times).
    sizes = np.minimum(1 + rng.pareto(2.0, n).astype(np.int64), 100)
    photos = int(np.searchsorted(np.cumsum(sizes), n)) + 1
    centres = np.zeros(photos, np.uint64)
    for bit in range(64):
        on = (rng.random(photos) < ones[bit]).astype(np.uint64)
        centres |= on << np.uint64(63 - bit)
    h = np.repeat(centres, sizes[:photos])[:n]
    for _ in range(6):
        flip = np.uint64(1) << rng.integers(0, 64, n).astype(np.uint64)
        h ^= np.where(rng.random(n) < 0.35, flip, np.uint64(0))
    return rng.permutation(h)


DISTS = {"uniform": uniform, "phash-like": phash_like}


def peak_rss_mib() -> float:
    """VmHWM of this process in MiB."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(method: str, n: int, args: argparse.Namespace) -> None:
    """One measurement in this fresh process; prints one JSON line."""
    if hasattr(os, "sched_setaffinity") and method != "ray":
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    startup = time.perf_counter()
    if method == "ray":  # every CPU of this machine, started before the clock
        connect(EngineChoice(Engine.ray))
    startup = time.perf_counter() - startup
    h = DISTS[args.dist](n, np.random.default_rng(args.seed))
    p = mih.plan(n, args.threshold)
    t0, c0 = time.perf_counter(), time.process_time()
    if method == "brute":
        found = hamming_pairs_brute(h, args.threshold)
    elif method.startswith("chunks="):  # one plan, forced (--fit)
        p = mih.chunking(int(method.split("=")[1]), args.threshold)
        found = mih.search(h, args.threshold, p)
    elif method == "ray":
        found = hamming_pairs(h, args.threshold, engine=EngineChoice(Engine.ray))
    else:
        found = hamming_pairs(h, args.threshold)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(
        json.dumps(
            {
                "seconds": seconds,
                "startup": startup,
                "cpu": cpu,
                "pairs": len(found[0]),
                "rss_mib": peak_rss_mib(),
                "plan": None if p is None else [list(p.widths), list(p.radii)],
            }
        )
    )


def measure(method: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    cmd = [
        sys.executable, str(Path(__file__).resolve()), "--child", method, str(n),
        "--dist", args.dist, "--threshold", str(args.threshold), "--seed", str(args.seed),
    ]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{method} n={n} failed: {done.stderr[-2000:]}")
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def report(n: int, runs: list[dict[str, Any]], brute: list[dict[str, Any]], bs: int) -> None:
    sec = statistics.median(r["seconds"] for r in runs)
    scaled = statistics.median(b["seconds"] for b in brute) * (n / bs) ** 2
    rss = max(r["rss_mib"] for r in runs)
    print(
        f"{n:>11,} {sec:>10.1f} {scaled:>12.0f} {scaled / sec:>8.1f}x {runs[0]['pairs']:>11,} "
        f"{rss:>9.0f}  {runs[0]['plan']}  runs {[round(r['seconds'], 1) for r in runs]}"
        f"  CPU s {[round(r['cpu'], 1) for r in runs]}",
        flush=True,
    )


def fit(n: int, args: argparse.Namespace) -> None:
    """Fit the cost model's probe and candidate constants on 3 and 4 chunks at ``n`` hashes."""
    runs: dict[int, list[float]] = {3: [], 4: []}
    brute = []
    for _ in range(args.repeats):
        brute.append(measure("brute", args.brute_size, args)["seconds"])
        for m in runs:
            runs[m].append(measure(f"chunks={m}", n, args)["seconds"])
    sec = {m: statistics.median(v) for m, v in runs.items()}
    work = {m: mih.work(n, n, mih.chunking(m, args.threshold)) for m in runs}
    # seconds = SORT * sort + PROBE * probes + CANDIDATE * candidates + TABLE_ENTRY * entries,
    # SORT and TABLE_ENTRY kept: two equations.
    rest = {m: sec[m] - mih._SORT * work[m][0] - mih._TABLE_ENTRY * work[m][3] for m in runs}
    a = np.array([[work[m][1], work[m][2]] for m in runs])
    probe, candidate = np.linalg.solve(a, np.array([rest[m] for m in runs]))
    pair = statistics.median(brute) / (args.brute_size * (args.brute_size - 1) / 2)
    print(f"fit at {n:,}: 3 chunks {sec[3]:.1f} s {runs[3]}, 4 chunks {sec[4]:.1f} s {runs[4]}")
    print(f"_BRUTE_PAIR = {pair:.3g}  _PROBE = {probe:.3g}  _CANDIDATE = {candidate:.3g}")


def ray_vs_local(n: int, args: argparse.Namespace) -> None:
    """The default path against the same search as Ray tasks on every CPU of this machine."""
    local, ray = [], []
    for _ in range(args.repeats):
        local.append(measure("mih", n, args))
        ray.append(measure("ray", n, args))
    lsec = statistics.median(r["seconds"] for r in local)
    rsec = statistics.median(r["seconds"] for r in ray)
    start = statistics.median(r["startup"] for r in ray)
    print(
        f"{n:,} hashes: local (one core) {lsec:.1f} s, ray ({os.cpu_count()} CPUs) {rsec:.1f} s, "
        f"local/ray {lsec / rsec:.2f}x; Ray start-up {start:.1f} s (not in the ray seconds); "
        f"runs local {[round(r['seconds'], 1) for r in local]} ray "
        f"{[round(r['seconds'], 1) for r in ray]}; same pairs: "
        f"{all(r['pairs'] == local[0]['pairs'] for r in local + ray)}",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--sizes", default="1000000", help="sizes measured --repeats times")
    ap.add_argument("--once", default="", help="sizes measured once (e.g. 10000000)")
    ap.add_argument("--dist", choices=sorted(DISTS), default="phash-like")
    ap.add_argument("--threshold", type=int, default=10)
    ap.add_argument("--brute-size", type=int, default=50_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fit", type=int, help="fit the cost model at this size, then stop")
    ap.add_argument("--ray", type=int, help="Ray tasks vs local at this size, then stop")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args)
        return
    if args.fit or args.ray:
        fit(args.fit, args) if args.fit else ray_vs_local(args.ray, args)
        return
    sizes = [int(x) for x in args.sizes.split(",") if x]
    once = [int(x) for x in args.once.split(",") if x]
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()}; one core per run; "
        f"dist={args.dist}, threshold={args.threshold}, brute force on {args.brute_size:,} "
        "hashes scaled quadratically"
    )
    print(
        f"{'hashes':>11} {'seconds':>10} {'brute s':>12} {'ratio':>9} {'pairs':>11} {'RSS MiB':>9}"
        "  plan (widths, radii)"
    )
    brute: list[dict[str, Any]] = []
    runs: dict[int, list[dict[str, Any]]] = {n: [] for n in sizes}
    for _ in range(args.repeats):
        brute.append(measure("brute", args.brute_size, args))
        for n in sizes:
            runs[n].append(measure("mih", n, args))
    for n in sizes:
        report(n, runs[n], brute, args.brute_size)
    for n in once:
        report(n, [measure("mih", n, args)], brute, args.brute_size)
        print("(measured once; the brute force at this size is extrapolated, not run)")
    bsec = [round(b["seconds"], 2) for b in brute]
    bcpu = [round(b["cpu"], 2) for b in brute]
    print(
        f"brute force on {args.brute_size:,}: {bsec} s (CPU {bcpu} s), "
        f"peak RSS {brute[0]['rss_mib']:.0f} MiB"
    )


if __name__ == "__main__":
    main()
