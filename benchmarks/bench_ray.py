"""``--engine ray`` against the local engine: a cold ``norwoodkit pack`` (probe + pack).

    python benchmarks/bench_ray.py [--subjects 480] [--size small] [--repeats 3] [--cpus 2]

Each run is a fresh ``norwoodkit pack ROOT --out OUT --cache EMPTY --quiet`` process, so it
probes every image and writes every shard. Three kinds, interleaved, ``--repeats`` rounds:

- ``local``: the default engine (``--workers`` one per core);
- ``ray, joined``: ``--engine ray`` joining a Ray instance this script started once (``--cpus``
  CPUs), as a run on a cluster that is already up: the engine's overhead (target <= 1.3x local);
- ``ray, own start``: ``--engine ray`` starting its own local instance, as a user's first run.

Ray's fixed start-up cost is measured apart: a fresh process that imports Ray, starts a local
instance and runs one empty task (``ray.init`` to the first result). The sample (the repo's
``sample`` command, seed 1) is written under ``--work`` and reused when present. Both engines'
packs are checked to be byte-identical. A benchmark, not a test: it never fails on speed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from norwoodkit import sample

START = """
import time
t0 = time.perf_counter()
import ray
ray.init(num_cpus={cpus}, include_dashboard=False, log_to_driver=False)
ray.get(ray.remote(lambda: 1).remote())
print(time.perf_counter() - t0)
ray.shutdown()
"""


def ensure_sample(root: Path, subjects: int, size: str) -> None:
    """Write the sample once (seed 1, as the other benchmarks)."""
    if not (root / "annotation.json").is_file():
        t0 = time.perf_counter()
        sample.write(root, sample.SampleOptions(subjects=subjects, size=size, seed=1))
        print(f"wrote {subjects * 5} images ({size}) in {time.perf_counter() - t0:.0f} s")


def pack_once(root: Path, work: Path, extra: list[str], env: dict[str, str]) -> float:
    """Seconds of one cold ``norwoodkit pack`` in a fresh process (a fresh cache and out)."""
    out, cache = work / "out", work / "cache"
    for folder in (out, cache):
        shutil.rmtree(folder, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "norwoodkit", "pack", str(root), "--out", str(out)]
    t0 = time.perf_counter()
    subprocess.run(
        [*args, "--cache", str(cache), "--quiet", *extra],
        check=True,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - t0


def digest(folder: Path) -> dict[str, str]:
    """Every file of a pack with its sha256."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def start_cost(cpus: int) -> float:
    """Seconds from ``import ray`` to a first task's result on a fresh local instance."""
    done = subprocess.run(
        [sys.executable, "-c", START.format(cpus=cpus)],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def joined(root: Path, tiny: Path, work: Path, cpus: int) -> float:
    """A cold pack joining a running instance whose workers have already run a pack (a tiny
    one, unmeasured): a cluster that is up, as the engine's overhead is meant."""
    import ray

    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    try:
        env = {"RAY_ADDRESS": str(ray.get_runtime_context().gcs_address)}
        pack_once(tiny, work / "warm-up", ["--engine", "ray"], env)
        return pack_once(root, work / "run", ["--engine", "ray"], env)
    finally:
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=480)
    parser.add_argument("--size", default="small")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # see bench_startup: compiles every run
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-ray-"))
    work.mkdir(parents=True, exist_ok=True)
    root = work / "sample"
    ensure_sample(root, args.subjects, args.size)

    tiny = work / "tiny"
    ensure_sample(tiny, 6, "tiny")
    kinds = ("local", "ray, own start", "ray start-up", "ray, joined")
    times: dict[str, list[float]] = {k: [] for k in kinds}
    packs: dict[str, dict[str, str]] = {}
    for r in range(args.repeats):
        # No Ray instance runs during the first three, so none takes CPU from them.
        times["local"].append(pack_once(root, work / "run", [], {}))
        packs["local"] = digest(work / "run" / "out")
        ray_env = {"RAY_ADDRESS": ""}
        times["ray, own start"].append(pack_once(root, work / "run", ["--engine", "ray"], ray_env))
        packs["ray, own start"] = digest(work / "run" / "out")
        times["ray start-up"].append(start_cost(args.cpus))
        times["ray, joined"].append(joined(root, tiny, work, args.cpus))
        packs["ray, joined"] = digest(work / "run" / "out")
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()))

    same = packs["local"] == packs["ray, joined"] == packs["ray, own start"]
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n{platform.node()} {os.cpu_count()} cores, {args.subjects * 5} images ({args.size})")
    import ray

    print(f"Ray {ray.__version__}, {args.cpus} CPUs; medians of {args.repeats}, interleaved")
    for k, v in med.items():
        print(f"  {k:15s} {v:7.2f} s   (runs: {', '.join(f'{t:.2f}' for t in times[k])})")
    print(f"overhead, ray joined / local:    {med['ray, joined'] / med['local']:.2f}x (<= 1.3)")
    print(f"first run, ray own start / local: {med['ray, own start'] / med['local']:.2f}x")
    print(f"packs byte-identical across engines: {same}")


if __name__ == "__main__":
    main()
