"""What ``norwoodkit`` costs at start-up and on a warm probe cache, against bare Python, in one run.

    python benchmarks/bench_startup.py [--repeats 9] [--root DATASET] [--subjects 480]

Runs, in turn and ``--repeats`` times (interleaved, so a busy machine slows all alike):

- ``python -c pass``, ``norwoodkit --version`` and ``norwoodkit --help`` (issue 15's target:
  ``--version`` at most 5x the bare start);
- ``python -c "import pandas, pyarrow.parquet"``, and a warm ``norwoodkit validate``,
  ``dedupe`` and ``stats`` (``--json`` to /dev/null, no plots) of a sample of ``--subjects``
  subjects at ``--size`` (2,400 640x480 photos by default; or ``--root``), whose probe cache is
  filled once before the timed runs (issue 15's target: warm ``validate`` at most 1.5x the
  import of pandas and pyarrow.parquet).

It prints the median CPU seconds of each command's process tree (user + system of the child and
the children it reaped, from ``os.wait4``) and wall seconds, and each CPU ratio to its baseline.
The command is the ``norwoodkit`` script beside this interpreter when there is one, else
``python -m norwoodkit``. Set nothing that stops Python writing ``.pyc`` files
(``PYTHONDONTWRITEBYTECODE``): every run would compile the package again.

This is a benchmark, not a test: it prints figures and never fails on them.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

PANDAS = "python -c 'import pandas, pyarrow.parquet'"
PASS = "python -c pass"


def command() -> list[str]:
    """How to run the CLI: the installed script if this interpreter has one."""
    script = Path(sys.executable).with_name("norwoodkit")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "norwoodkit"]


def cost(argv: Sequence[str]) -> tuple[float, float]:
    """CPU seconds (user + system, the process and the children it reaped) and wall seconds."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):  # 1: the command found something; it still ran
        raise SystemExit(f"{' '.join(argv)} failed with exit code {proc.returncode}")
    return usage.ru_utime + usage.ru_stime, wall


def cases(cli: list[str], root: Path, cache: Path) -> dict[str, tuple[list[str], str]]:
    """Each measured command, and the name of its baseline."""
    warm = [str(root), "--json", "--quiet", "--cache", str(cache)]
    return {
        PASS: ([sys.executable, "-c", "pass"], PASS),
        "norwoodkit --version": ([*cli, "--version"], PASS),
        "norwoodkit --help": ([*cli, "--help"], PASS),
        PANDAS: ([sys.executable, "-c", "import pandas, pyarrow.parquet"], PANDAS),
        "warm validate": ([*cli, "validate", *warm], PANDAS),
        "warm dedupe": ([*cli, "dedupe", *warm], PANDAS),
        "warm stats": ([*cli, "stats", *warm], PANDAS),
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="interleaved runs of each (>= 5)")
    parser.add_argument("--root", type=Path, help="an existing dataset instead of a new sample")
    parser.add_argument("--subjects", type=int, default=480, help="subjects of the new sample")
    parser.add_argument("--size", default="small", help="photo size of the new sample")
    args = parser.parse_args(argv)
    cli = command()
    work = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    try:
        root = args.root
        if root is None:
            root = work / "sample"
            sample = ["sample", str(root), "--subjects", str(args.subjects), "--size", args.size]
            subprocess.run([*cli, *sample, "--quiet"], stdout=subprocess.DEVNULL, check=True)
        todo = cases(cli, root, work / "cache")
        for argv_, _ in todo.values():  # fill the probe cache; warm the .pyc files
            cost(argv_)
        runs = max(5, args.repeats)
        cpu: dict[str, list[float]] = {name: [] for name in todo}
        wall: dict[str, list[float]] = {name: [] for name in todo}
        for _ in range(runs):
            for name, (argv_, _) in todo.items():
                c, w = cost(argv_)
                cpu[name].append(c)
                wall[name].append(w)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    dataset = args.root or f"a new sample of {args.subjects} subjects, {args.size}"
    print(f"command: {' '.join(cli)}; dataset: {dataset}")
    print(f"medians of {runs} interleaved runs; CPU of the process tree (os.wait4)")
    for name, (_, base) in todo.items():
        c, w = statistics.median(cpu[name]), statistics.median(wall[name])
        ratio = c / statistics.median(cpu[base])
        print(f"{name:42} cpu {c:.3f} s  wall {w:.3f} s  cpu ratio {ratio:.2f}x  vs {base}")


if __name__ == "__main__":
    main()
