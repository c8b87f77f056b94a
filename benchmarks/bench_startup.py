"""What ``norwoodkit`` costs at start-up and on a warm probe cache, against bare Python, in one run.

    python benchmarks/bench_startup.py [--repeats 9] [--root DATASET] [--subjects 480]
                                       [--before SRC]

Runs, in turn and ``--repeats`` times (interleaved, so a busy machine slows all alike):

- ``python -c pass``, ``norwoodkit --version`` and ``norwoodkit --help`` (issue 15's target:
  ``--version`` at most 5x the bare start);
- ``python -c "import pandas, pyarrow.parquet"``, and a warm ``norwoodkit validate``,
  ``dedupe`` and ``stats`` (``--json`` to /dev/null, no plots) of a sample of ``--subjects``
  subjects at ``--size`` (2,400 640x480 photos by default; or ``--root``), whose probe cache is
  filled once before the timed runs (issue 15's target: warm ``validate`` at most 1.5x the
  import of pandas and pyarrow.parquet).

With ``--before SRC`` (a folder holding an earlier ``norwoodkit`` package, e.g. from
``git archive``), each ``norwoodkit`` case also runs with ``SRC`` first on ``PYTHONPATH``, in
the same interleaved rounds, so before and after are measured under the same load.

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


def cost(argv: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """CPU seconds (user + system, the process and the children it reaped) and wall seconds."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
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
    parser.add_argument("--before", type=Path, help="also time the package in this folder")
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
        envs = _envs(todo, args.before)
        for name, (argv_, _) in todo.items():  # fill the probe cache; warm the .pyc files
            for env in envs[name].values():
                cost(argv_, env)
        runs = max(5, args.repeats)
        cpu: dict[str, list[float]] = {}
        wall: dict[str, list[float]] = {}
        for _ in range(runs):
            for name, (argv_, _) in todo.items():
                for label, env in envs[name].items():
                    c, w = cost(argv_, env)
                    cpu.setdefault(label, []).append(c)
                    wall.setdefault(label, []).append(w)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    dataset = args.root or f"a new sample of {args.subjects} subjects, {args.size}"
    print(f"command: {' '.join(cli)}; dataset: {dataset}")
    print(f"medians of {runs} interleaved runs; CPU of the process tree (os.wait4)")
    for name, (_, base) in todo.items():
        for label in envs[name]:
            c, w = statistics.median(cpu[label]), statistics.median(wall[label])
            ratio = c / statistics.median(cpu[base])
            print(f"{label:42} cpu {c:.3f} s  wall {w:.3f} s  cpu ratio {ratio:.2f}x  vs {base}")


def _envs(
    todo: dict[str, tuple[list[str], str]], before: Path | None
) -> dict[str, dict[str, dict[str, str] | None]]:
    """Each case's runs by label: as it is, and (``norwoodkit`` cases) with ``before`` first."""
    envs: dict[str, dict[str, dict[str, str] | None]] = {}
    for name in todo:
        envs[name] = {name: None}
        if before is not None and name not in (PASS, PANDAS):
            path = os.pathsep.join([str(before.resolve()), os.environ.get("PYTHONPATH", "")])
            envs[name][f"before: {name}"] = {**os.environ, "PYTHONPATH": path.rstrip(os.pathsep)}
    return envs


if __name__ == "__main__":
    main()
