"""How long ``stats`` and ``report`` take on a warm probe cache, measured in one run.

    python benchmarks/bench_stats.py [--subjects 480] [--size tiny] [--repeats 5] [--root DIR]

Writes a sample of ``--subjects`` x 5 JPEGs (or uses ``--root``), fills a probe cache in a
temporary folder, then times, as medians over ``--repeats``:

- load + warm probe of the columns ``stats`` reads, and of every column (``report``);
- ``stats.summarize`` on the probed dataset (target: under 1 s);
- ``report.build`` with the dedupe result given and findings left to it (it runs validate),
  plots inlined and the photos shown read again (target: under 10 s);
- ``norwoodkit stats ROOT --json`` as a subprocess, Python start-up and imports included, beside
  ``python -c "import norwoodkit"``. Where the installed CLI has no ``stats`` command yet, the
  same work as a ``python -c`` one-liner (load, warm probe, summarize, print JSON) is timed
  instead, and the line says so.

This is a benchmark, not a test: it prints figures and never fails on them.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from norwoodkit import dataset, dedupe, probe, report, sample, stats
from norwoodkit.dataset import ProbedDataset

STATS_ONE_LINER = (
    "import json, sys; from norwoodkit import dataset, probe, stats; "
    "ds = probe.run(dataset.load(sys.argv[1])); "
    "print(json.dumps(stats.summarize(ds).to_dict()))"
)


def timed(fn: Callable[[], object], repeats: int) -> list[float]:
    """Wall seconds of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def load_warm(
    root: Path, cache: Path, workers: int | None, columns: frozenset[str] | None
) -> object:
    """Load the dataset and probe it from a warm cache (``columns``: None for all)."""
    return probe.run(dataset.load(root), cache_dir=cache, workers=workers, columns=columns)


def run_quiet(args: Sequence[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, env=env, check=False)


def line(name: str, times: list[float], target: float | None = None) -> str:
    med = statistics.median(times)
    spread = f"min {min(times):.3f} s, max {max(times):.3f} s"
    goal = f"; target < {target:g} s: {'met' if med < target else 'MISSED'}" if target else ""
    return f"{name:<44} median {med:7.3f} s  ({spread}, n={len(times)}){goal}"


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the options, then print every figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=480)
    parser.add_argument("--size", default="tiny", help="sample size: tiny, small, ... or WxH")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--root", type=Path, help="an existing dataset instead of a new sample")
    parser.add_argument("--workers", type=int, default=None, help="probe/sample processes")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="nk-bench-stats-") as tmp:
        work = Path(tmp)
        cache = work / "cache"
        env = {**os.environ, "NORWOODKIT_CACHE_DIR": str(cache)}
        root = args.root if args.root is not None else write_sample(args, work / "sample")
        ds = cold_probe(root, cache, args.workers)
        time_in_process(args, root, cache, ds)
        time_subprocesses(args, root, env)


def write_sample(args: argparse.Namespace, root: Path) -> Path:
    """A fresh sample of ``--subjects`` subjects at ``root``."""
    start = time.perf_counter()
    sample.write(
        root,
        sample.SampleOptions(subjects=args.subjects, size=args.size, workers=args.workers),
    )
    print(
        f"sample: {args.subjects} subjects, size {args.size}, "
        f"{time.perf_counter() - start:.1f} s to write"
    )
    return root


def cold_probe(root: Path, cache: Path, workers: int | None) -> ProbedDataset:
    """Probe with an empty cache (filling it) and print the machine and dataset."""
    start = time.perf_counter()
    ds = probe.run(dataset.load(root), cache_dir=cache, workers=workers)
    print(f"cold probe (fills the cache): {time.perf_counter() - start:.1f} s")
    n_images = int(ds.table["path"].notna().sum())
    print(
        f"machine: {platform.processor() or platform.machine()}, "
        f"os.cpu_count()={os.cpu_count()}; Python {platform.python_version()}; "
        f"{ds.table['subject_id'].nunique()} subjects, {n_images} images"
    )
    print()
    return ds


def time_in_process(args: argparse.Namespace, root: Path, cache: Path, ds: ProbedDataset) -> None:
    """Warm loads, ``stats.summarize`` and ``report.build``, in this process."""
    for label, columns in (("stats's columns", stats.PROBE_READS), ("every column", None)):
        warm = timed(functools.partial(load_warm, root, cache, args.workers, columns), args.repeats)
        print(line(f"load + warm probe, {label}", warm))
    print(line("stats.summarize", timed(lambda: stats.summarize(ds), args.repeats), 1.0))
    pairs = dedupe.find(ds)
    build_times = timed(lambda: report.build(ds, dedupe=pairs), max(3, args.repeats // 2))
    html_text = report.build(ds, dedupe=pairs)
    print(line("report.build (validate + plots + inlining)", build_times, 10.0))
    print(f"{'':<44} report size {len(html_text.encode('utf-8')) / 1e6:.2f} MB")
    print()


def time_subprocesses(args: argparse.Namespace, root: Path, env: dict[str, str]) -> None:
    """``norwoodkit stats`` (or its one-liner) as a subprocess, beside bare Python start-up."""
    python = sys.executable
    probe_cli = run_quiet([python, "-m", "norwoodkit", "stats", "--help"], env)
    if probe_cli.returncode == 0:
        cmd = [python, "-m", "norwoodkit", "stats", str(root), "--json", "--quiet"]
        label = "norwoodkit stats ROOT --json (subprocess)"
    else:
        cmd = [python, "-c", STATS_ONE_LINER, str(root)]
        label = "stats one-liner (subprocess; no CLI yet)"
    first = run_quiet(cmd, env)
    if first.returncode != 0:
        print(f"{label}: failed with exit {first.returncode}:\n{first.stderr[-2000:]}")
    else:
        print(line(label, timed(lambda: run_quiet(cmd, env), args.repeats)))
    start_up = timed(lambda: run_quiet([python, "-c", "import norwoodkit"], env), args.repeats)
    print(line('python -c "import norwoodkit"', start_up))
    bare = timed(lambda: run_quiet([python, "-c", "pass"], env), args.repeats)
    print(line('python -c "pass"', bare))


if __name__ == "__main__":
    main()
