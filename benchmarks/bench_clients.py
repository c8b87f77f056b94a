"""Ray Data and Daft against every pack layout, checked as tests/test_clients.py checks the
clients that CI runs.

    pip install 'ray[data]' daft        # not in the test extra: see docs/benchmarks.md
    python benchmarks/bench_clients.py [--subjects 30] [--work DIR]

Packs the six layouts of tests/test_clients.py (its cases, its packing and its expectations,
imported, so the two cannot drift) from the tests' clean sample, then reads each one with
``ray.data.read_parquet`` (on ``DIR/data`` and on ``DIR``) and ``daft.read_parquet`` (on
``DIR/data`` and on ``DIR/**/*.parquet``) and checks: the row count, the split names in the
``split`` column, every row's label, and the pixels of a few rows per split decoded from the
image struct's bytes with a plain ``PIL.Image.open`` (equal to ``exif_transpose`` of the source
for ordinary photos, upright within re-encoding error, PSNR > 35 dB, for EXIF-rotated ones).

Prints the versions, the import times, and a table layout x client: ``ok`` or the error, rows,
seconds (each client reads one layout untimed first, so worker start-up is not in the cells),
with ``pq.read_table`` of the same columns, checked alike, as the baseline of the same run.
Exits 1 if any check fails. Seconds are for information only; nothing fails on speed.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import importlib.util
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import pyarrow.parquet as pq
import test_clients as tc

import conftest
from norwoodkit import dataset, probe, sample

Records = list[dict[str, Any]]
Reader = Callable[[tc.Packed], Records]


def _columns(p: tc.Packed) -> list[str]:
    return ["split", "label", "subject_id", tc.key_column(p.case)]


def pyarrow_baseline(p: tc.Packed) -> Records:
    """The matrix's ``pq.read_table(DIR / "data")``, in this process: the seconds to compare."""
    rows: Records = pq.read_table(p.folder / "data", columns=_columns(p)).to_pylist()
    return rows


def ray_reader(where: Callable[[Path], Path]) -> Reader:
    """Ray Data's ``read_parquet`` on the folder that ``where`` picks in a pack."""

    def read(p: tc.Packed) -> Records:
        data = importlib.import_module("ray.data")
        rows: Records = (
            data.read_parquet(str(where(p.folder))).select_columns(_columns(p)).take_all()
        )
        return rows

    return read


def daft_reader(where: Callable[[Path], Path]) -> Reader:
    """Daft's ``read_parquet`` on the folder or glob that ``where`` picks in a pack."""

    def read(p: tc.Packed) -> Records:
        daft = importlib.import_module("daft")
        frame = daft.read_parquet(str(where(p.folder))).select(*_columns(p)).to_pydict()
        return [dict(zip(frame, row, strict=True)) for row in zip(*frame.values(), strict=True)]

    return read


#: The calls a user would make: the ``data/`` folder, and the pack's root where the client
#: can skip the card, manifest and croissant.json (Daft cannot: it reads README.md as Parquet).
CLIENTS: dict[str, Reader] = {
    "pyarrow data/ (baseline)": pyarrow_baseline,
    "daft data/": daft_reader(lambda d: d / "data"),
    "daft **/*.parquet": daft_reader(lambda d: d / "**" / "*.parquet"),
    "ray data/": ray_reader(lambda d: d / "data"),
    "ray DIR": ray_reader(lambda d: d),
}


@dataclasses.dataclass(frozen=True)
class Cell:
    """One layout read by one client: None when every check passed, else what failed."""

    problem: str | None
    rows: int
    seconds: float


def check(records: Records, p: tc.Packed, layout: str) -> str | None:
    """What the client got wrong against the split file and the source photos, or None."""
    want = sum(len(rows) for rows in p.expected.values())
    if len(records) != want:
        return f"{len(records)} rows, the pack holds {want}"
    seen = tc.from_rows(records, p)
    if set(seen.rows) != set(tc.WRITTEN[layout]):
        return f"splits {sorted(seen.rows)}, written {sorted(tc.WRITTEN[layout])}"
    if seen.rows != p.expected:
        return "a row's split or label differs from the split file"
    if set(seen.pixels) != p.picks:
        return f"picked rows missing: {sorted(p.picks - set(seen.pixels))}"
    for key, got in seen.pixels.items():
        try:
            tc.reference(p, key, got)  # the matrix's own pixel check (asserts)
        except AssertionError:
            return f"pixels of {key} differ from the upright source"
    return None


def measure(read: Reader, p: tc.Packed, layout: str) -> Cell:
    """Read one pack with one client, time it, and check what came back."""
    t0 = time.perf_counter()
    try:
        records = read(p)
    except Exception as exc:  # the client's own error is the result being recorded
        return Cell(_said(exc), 0, time.perf_counter() - t0)
    seconds = time.perf_counter() - t0
    try:
        problem = check(records, p, layout)
    except Exception as exc:  # rows of another shape (no image struct, say) fail that cell only
        problem = f"rows of an unexpected shape: {_said(exc)}"
    return Cell(problem, len(records), seconds)


def _said(exc: Exception) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first[:160]}"


def import_seconds(module: str, repeats: int = 3) -> float:
    """Median wall time of ``import module`` in a fresh interpreter (the interpreter's own
    start-up subtracted)."""

    def run(code: str) -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        return time.perf_counter() - t0

    bare = statistics.median(run("pass") for _ in range(repeats))
    return statistics.median(run(f"import {module}") for _ in range(repeats)) - bare


def quiet_clients() -> None:
    """No progress bars or INFO lines from either client on this script's output; Daft runs on
    its own native runner even once Ray is started, as a Daft user without Ray has it."""
    os.environ["DAFT_PROGRESS_BAR"] = "0"
    importlib.import_module("daft").set_runner_native()
    ray = importlib.import_module("ray")
    context = importlib.import_module("ray.data").DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    for name in ("ray", "ray.data"):  # Ray Data logs every execution at INFO
        logging.getLogger(name).setLevel(logging.ERROR)
    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    print(f"ray.init(num_cpus=2): {time.perf_counter() - t0:.1f} s (not in the cells)")


def build(work: Path, subjects: int) -> dict[str, tc.Packed]:
    """The tests' clean sample (``--subjects`` of them), probed, packed in every layout."""
    root = work / f"sample-{subjects}"
    if not (root / "annotation.json").is_file():
        sample.write(root, dataclasses.replace(conftest.CLEAN_SAMPLE, subjects=subjects))
    probed = probe.run(dataset.load(root), workers=1, cache_dir=work / "cache")
    packs = Path(tempfile.mkdtemp(prefix="packs-", dir=work))
    return {name: tc._pack(probed, packs, name, case) for name, case in tc.CASES.items()}


def table(cells: dict[tuple[str, str], Cell]) -> list[str]:
    """The layout x client table as Markdown, and each failure in full below it."""
    lines = ["| layout | " + " | ".join(CLIENTS) + " |", "|---" * (len(CLIENTS) + 1) + "|"]
    notes: list[str] = []
    for layout in tc.CASES:
        row = []
        for client in CLIENTS:
            c = cells[layout, client]
            if c.problem is not None:
                notes.append(f"- {layout} x {client}: {c.problem}")
            word = "ok" if c.problem is None else f"FAIL [{len(notes)}]"
            row.append(f"{word}, {c.rows} rows, {c.seconds:.2f} s")
        lines.append(f"| {layout} | " + " | ".join(row) + " |")
    return lines + notes


def versions() -> str:
    """The machine and the versions that the figures belong to."""
    found = []
    for name in ("ray", "daft", "pyarrow", "PIL", "datasets"):
        found.append(f"{name} {getattr(importlib.import_module(name), '__version__', '?')}")
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        + ", ".join(found)
    )


def main() -> int:
    """Pack every layout, read each with every client, print the table; 1 if a check failed."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subjects", type=int, default=conftest.CLEAN_SAMPLE.subjects)
    ap.add_argument("--work", type=Path, default=None, help="where the sample and packs go")
    args = ap.parse_args()
    if not __debug__:
        sys.exit("bench_clients checks pixels with the tests' asserts: run it without -O")
    for module in ("ray.data", "daft"):
        if importlib.util.find_spec(module.split(".")[0]) is None:
            sys.exit(f"{module} is not installed: pip install 'ray[data]' daft")
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-clients-"))
    work.mkdir(parents=True, exist_ok=True)
    print(versions())
    for module in ("ray", "ray.data", "daft"):
        print(f"import {module}: {import_seconds(module):.2f} s")
    packs = build(work, args.subjects)
    quiet_clients()
    cells: dict[tuple[str, str], Cell] = {}
    for client, read in CLIENTS.items():
        measure(read, packs["ratios"], "ratios")  # warm-up: Ray's workers, Daft's runtime
        for layout, p in packs.items():
            cells[layout, client] = measure(read, p, layout)
    print("\n".join(table(cells)))
    return 0 if all(c.problem is None for c in cells.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
