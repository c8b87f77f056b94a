"""The ``norwoodkit`` command: a thin Typer layer over the library.

Each command lives in its own module: it parses its options, calls one library function,
renders the result and picks the exit code (0 clean, 1 problems found, 2 could not run, 3 a
bug, 130 interrupted). :mod:`norwoodkit.cli.commands` lists them, in the order ``--help`` lists
them. :func:`main` runs the bare Typer app, whose group builds only the command a run invokes;
:data:`app`, the app with every command on it (for Python callers and tests), is built on first
use. So ``norwoodkit --version`` answers before Typer, Rich or any command module is imported,
and ``norwoodkit validate ...`` imports no other command's module (issue 15: start-up).
"""

from __future__ import annotations

import atexit
import functools
import gc
import os
import sys
from typing import TYPE_CHECKING, Any

from norwoodkit import lazy

if TYPE_CHECKING:
    import typer

    app: typer.Typer

__all__ = ["app", "main"]


@functools.cache
def _app() -> typer.Typer:
    """The Typer app with every command on it (registered once, on first use)."""
    from norwoodkit.cli import commands
    from norwoodkit.cli.app import app
    from norwoodkit.cli.vocabulary import Command

    for name in commands.TABLE:
        app.command(cls=Command)(commands.function(name))
    return app


def _print_version() -> None:
    """``norwoodkit --version`` without the app: what CI and shell scripts ask most often."""
    from norwoodkit import __version__

    if sys.stdout is None:  # the shell closed stdout (``>&-``): nothing to say it to
        return
    try:
        sys.stdout.write(f"norwoodkit {__version__}\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader is gone (``| head -0``): not an error. Pointing the descriptor at
        # os.devnull keeps Python's own flush at exit from failing on the bytes still held.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def main() -> None:
    """Console-script entry point."""
    if sys.argv[1:] == ["--version"]:
        _print_version()
        return
    # A run makes millions of short-lived objects and few reference cycles: Python's default
    # (a young-generation pass every 700 allocations) costs about 3 % of a warm validate's CPU
    # for nothing collected. Cycles are still collected, just less often.
    gc.set_threshold(20_000, 50, 100)
    # At exit, the interpreter's full collections walk every object still alive (pandas',
    # pyarrow's, pydantic's...) only to free memory the OS takes back anyway: 0.05-0.09 s of CPU,
    # a seventh of a warm validate. Frozen objects are left to the OS. Registered now, this runs
    # at exit only (a Python caller's process keeps its collector until then), and after the
    # atexit work registered later (logs flushed, temporary folders removed). What it skips is
    # the collection of cyclic garbage at exit, whose finalizers Python never promised to run;
    # every output is written, closed and renamed into place before a command returns.
    atexit.register(gc.freeze)
    from norwoodkit.cli.app import app

    # The app as app.py declares it, no command registered: its group builds the one invoked.
    # (After ``_app()`` ran, in a Python caller, every command is on it: the same runs then.)
    app()


if not TYPE_CHECKING:  # mypy sees ``app`` above; an unknown name stays an error for it

    def __getattr__(name: str) -> Any:
        if name == "app":
            return _app()
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ``app`` stays the Typer app when the ``cli.app`` module loads.
lazy.keep_functions(__name__, ["app"])
