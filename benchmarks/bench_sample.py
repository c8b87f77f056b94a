"""Peak memory of ``norwoodkit sample`` at two sizes, measured in one run (issue 15).

    python benchmarks/bench_sample.py [--small 480] [--large 4800] [--repeats 3] [--size small]

Writes a sample of ``--small`` subjects and one of ``--large`` subjects in turn, ``--repeats``
times each (interleaved, so a busy machine slows both alike), each into a fresh temporary folder
that is removed afterwards. For each run it records the peak resident memory (VmHWM) of the
largest process of the command's tree, the command itself or any pool worker (``/proc`` polled
every 50 ms, and the ``wait4`` figure of the command, which covers the children it reaped),
and the wall seconds. It prints the medians and the ratio large / small (issue 15's target: at
most 1.3x). Linux only (``/proc``).

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


def command() -> list[str]:
    """How to run the CLI: the installed script if this interpreter has one."""
    script = Path(sys.executable).with_name("norwoodkit")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "norwoodkit"]


def _children() -> dict[int, list[int]]:
    """Every process's children, from ``/proc/<pid>/stat``."""
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        kids.setdefault(int(fields[1]), []).append(int(entry))
    return kids


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants now."""
    kids = _children()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def _hwm_kib(pid: int) -> int:
    """VmHWM of one process in KiB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def peak(argv: Sequence[str]) -> tuple[float, float]:
    """Peak RSS (MiB) of the largest process in ``argv``'s tree, and wall seconds."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    largest = 0
    while True:
        done, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if done:
            break
        largest = max([largest, *(_hwm_kib(p) for p in _tree(proc.pid))])
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed with exit code {proc.returncode}")
    wall = time.perf_counter() - start
    largest = max(largest, int(usage.ru_maxrss))  # ru_maxrss is KiB on Linux
    return largest / 1024, wall


def main(argv: Sequence[str] | None = None) -> None:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=480, help="subjects of the small sample")
    parser.add_argument("--large", type=int, default=4800, help="subjects of the large sample")
    parser.add_argument("--size", default="small", help="photo size (sample --size)")
    parser.add_argument("--workers", type=int, default=None, help="sample --workers (default)")
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="interleaved runs of each (3 or more for a median; 1 for a single memory figure)",
    )
    args = parser.parse_args(argv)
    cli = command()
    repeats = max(1, args.repeats)
    extra = ["--workers", str(args.workers)] if args.workers else []
    rss: dict[int, list[float]] = {args.small: [], args.large: []}
    wall: dict[int, list[float]] = {args.small: [], args.large: []}
    work = Path(tempfile.mkdtemp(prefix="bench-sample-"))
    try:
        for _ in range(repeats):
            for n in (args.small, args.large):
                out = work / f"s{n}"
                r, w = peak([*cli, "sample", str(out), "--subjects", str(n), "--size", args.size,
                             "-q", *extra])  # fmt: skip
                shutil.rmtree(out)
                rss[n].append(r)
                wall[n].append(w)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(
        f"command: {' '.join(cli)} sample --size {args.size}"
        f"{' --workers ' + str(args.workers) if args.workers else ''}; "
        f"medians of {repeats} interleaved runs"
    )
    for n in (args.small, args.large):
        print(
            f"--subjects {n:6} ({5 * n:,} images)  peak RSS {statistics.median(rss[n]):7.1f} MiB"
            f"  wall {statistics.median(wall[n]):7.1f} s"
        )
    ratio = statistics.median(rss[args.large]) / statistics.median(rss[args.small])
    print(f"peak RSS ratio {args.large} / {args.small}: {ratio:.2f}x (target <= 1.3x)")


if __name__ == "__main__":
    main()
