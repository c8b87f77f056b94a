"""What ``norwoodkit --version`` costs against a bare Python start, measured in one run.

    python benchmarks/bench_startup.py [--repeats 9]

Runs ``python -c pass``, ``norwoodkit --version`` and ``norwoodkit --help`` in turn, ``--repeats``
times (interleaved, so a busy machine slows all three alike), and prints the median CPU seconds
(user + system of the child, from ``getrusage(RUSAGE_CHILDREN)`` deltas) and wall seconds of
each, and the CPU ratio of each command to the bare start (issue 15's target: ``--version`` at
most 5x). The command is the ``norwoodkit`` script beside this interpreter when there is one,
else ``python -m norwoodkit``.

This is a benchmark, not a test: it prints figures and never fails on them.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path


def command() -> list[str]:
    """How to run the CLI: the installed script if this interpreter has one."""
    script = Path(sys.executable).with_name("norwoodkit")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "norwoodkit"]


def cost(argv: Sequence[str]) -> tuple[float, float]:
    """CPU seconds (user + system) and wall seconds of one run of ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def main(argv: Sequence[str] | None = None) -> None:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="interleaved runs of each (>= 5)")
    args = parser.parse_args(argv)
    cli = command()
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "norwoodkit --version": [*cli, "--version"],
        "norwoodkit --help": [*cli, "--help"],
    }
    for argv_ in cases.values():  # warm the file-system cache and .pyc files first
        cost(argv_)
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    wall: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(max(5, args.repeats)):
        for name, argv_ in cases.items():
            c, w = cost(argv_)
            cpu[name].append(c)
            wall[name].append(w)
    print(f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"command: {' '.join(cli)}; medians of {max(5, args.repeats)} interleaved runs")
    floor = statistics.median(cpu["python -c pass"])
    for name in cases:
        c, w = statistics.median(cpu[name]), statistics.median(wall[name])
        print(f"{name:24} cpu {c:.3f} s  wall {w:.3f} s  cpu ratio {c / floor:.1f}x")


if __name__ == "__main__":
    main()
