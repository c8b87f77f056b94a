"""The ``norwoodkit`` command: a thin Typer layer over the library.

Each command lives in its own module: it parses its options, calls one library function,
renders the result and picks the exit code (0 clean, 1 problems found, 2 could not run, 3 a
bug, 130 interrupted). This module puts them on :data:`app`, in the order ``--help`` lists them.
"""

from __future__ import annotations

from norwoodkit.cli import bench_load, dedupe, pack, report, sample, split, stats, validate
from norwoodkit.cli.app import app
from norwoodkit.cli.vocabulary import Command

__all__ = ["app", "main"]

for _command in (
    validate.validate,
    dedupe.dedupe,
    split.split,
    pack.pack,
    pack.verify,
    stats.stats,
    report.report,
    bench_load.bench_load,
    sample.sample,
):
    app.command(cls=Command)(_command)


def main() -> None:
    """Console-script entry point."""
    app()
