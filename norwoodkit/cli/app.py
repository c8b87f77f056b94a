"""The Typer app and what every command shares: consoles, exit codes, errors, progress, JSON.

Exit codes: 0 ran and found nothing wrong; 1 ran and found problems; 2 could not run (bad usage,
missing or unreadable input); 3 internal error (a bug: the traceback is printed); 130 interrupted
(Ctrl-C, SIGINT: temporary files removed). A closed stdout (``| head``) changes none of them, and
a ``--json`` run prints exactly one document whatever the code: ``cli/contract.py`` keeps both.
"""

from __future__ import annotations

import errno
import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer

from norwoodkit import interrupts, memory
from norwoodkit.cli.contract import (
    EXIT_BUG,
    EXIT_FOUND,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    ContractGroup,
    hold_document,
    record_error,
    report_bug,
)
from norwoodkit.errors import NorwoodkitError, ParameterError

if TYPE_CHECKING:  # Rich loads on the first print: a --json run that succeeds never needs it
    from rich.console import Console

__all__ = [
    "EXIT_BUG",
    "EXIT_FOUND",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "app",
    "csv_items",
    "err",
    "flag",
    "handle_errors",
    "int_items",
    "log",
    "out",
    "print_json",
    "progress_bar",
]

app = typer.Typer(
    name="norwoodkit",
    cls=ContractGroup,
    help="Validate, deduplicate, describe, split and pack the Male Hair Loss dataset.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=True,
    rich_markup_mode="markdown",
)

# Piped output is 120 columns wide unless COLUMNS says otherwise (Rich reads it when width is
# None); stdout is None when the shell closed it (``>&-``): the run then writes into a sink.
_COLUMNS = os.environ.get("COLUMNS", "").isdigit()
_TTY = bool(sys.stdout and sys.stdout.isatty())


class LazyConsole:
    """A Rich ``Console`` made on first use, with the options given here.

    Rich costs about 0.04 CPU-seconds to import; a ``--json`` run that succeeds prints nothing
    through Rich, so it should not pay for it (issue 15's warm ``validate``).
    """

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def get(self) -> Console:
        """The console itself (made now if not yet)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


out = LazyConsole(soft_wrap=True, width=None if _TTY or _COLUMNS else 120)
err = LazyConsole(stderr=True, soft_wrap=True)
log = logging.getLogger("norwoodkit")

P = ParamSpec("P")
R = TypeVar("R")


def _version_callback(value: bool) -> None:
    if value:
        from norwoodkit import __version__

        out.print(f"norwoodkit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Validate, deduplicate, describe, split and pack the Male Hair Loss dataset."""
    memory.use_system_allocator()
    if not any(isinstance(h, _StderrHandler) for h in log.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("warning: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.WARNING)


class _StderrHandler(logging.Handler):
    """Log records to whatever ``sys.stderr`` is now (test runners swap it).

    A library warning about one argument says so with ``extra={"parameter": name}`` and
    starts ``name: ``; here that name becomes the flag that set it.
    """

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        parameter = getattr(record, "parameter", None)
        if isinstance(parameter, str):
            text = text.replace(f"{parameter}: ", f"{flag(parameter)}: ", 1)
        sys.stderr.write(text + "\n")


# Library parameters whose flag is not simply the name with dashes.
_FLAGS = {
    "fields": "--field",
    "cache_dir": "--cache",
    "use_cache": "--no-cache",
    "plots_dir": "--plots",
    "csv_dir": "--csv",
}


def flag(parameter: str) -> str:
    """The CLI flag of a library parameter: ``shard_size`` is ``--shard-size``.

    A parameter spelt in capitals is a positional argument's metavar (``OUT``) and stays so.
    """
    if parameter.isupper():
        return parameter
    return _FLAGS.get(parameter, "--" + parameter.replace("_", "-"))


def _cli_message(exc: NorwoodkitError) -> str:
    """A library error as the CLI says it: parameters named by their flags."""
    return exc.for_flag(flag(exc.parameter)) if exc.parameter else exc.message


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn library errors into exit 2 with ``error: ...`` and anything else into exit 3."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with interrupts.latched():
            result = _guarded(fn, *args, **kwargs)
            if interrupts.pressed():  # a Ctrl-C some finalizer swallowed: still an interruption
                _interrupted()
            return result

    return wrapper


def _guarded(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``fn(...)``, its errors turned into the CLI's exits (see ``handle_errors``)."""
    try:
        return fn(*args, **kwargs)
    except (typer.Exit, typer.Abort, SystemExit):
        if interrupts.pressed():
            _interrupted()
        raise
    except NorwoodkitError as exc:
        _refuse(_cli_message(exc), exc.code)
    except KeyboardInterrupt:
        _interrupted()
    except OSError as exc:
        if exc.errno not in _WRITE_ONLY_ERRNOS:
            _internal_error()
        # Only a write fails this way, and every write is an output: a refusal, not a bug.
        where = f"{exc.filename}: " if exc.filename else ""
        message = f"{where}cannot write it ({exc.strerror}); free space or choose another place"
        _refuse(message, "output-write-failed")
    except Exception:
        _internal_error()


def _interrupted() -> NoReturn:
    """``interrupted`` on stderr (and in the error document), exit 130."""
    err.print("interrupted")
    record_error("interrupted", "interrupted")
    raise typer.Exit(EXIT_INTERRUPTED) from None


def _refuse(message: str, code: str) -> NoReturn:
    """``error: message`` on stderr (and in the run's error document with ``--json``), exit 2."""
    record_error(code, message)
    from rich.text import Text

    # Text, not markup: a message may hold brackets ("pip install 'norwoodkit[report]'").
    err.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False)
    raise typer.Exit(EXIT_USAGE) from None


def _internal_error() -> NoReturn:
    """The traceback of the exception being handled, the bug notice, exit 3."""
    report_bug()
    raise typer.Exit(EXIT_BUG) from None


#: Errors that only a write can meet (disk full, file too large, quota, read-only file system):
#: one that escapes our writers is still about an output, so it exits 2, not 3.
_WRITE_ONLY_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS})


@contextmanager
def progress_bar(total: int, label: str, quiet: bool) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr, only when stderr is a terminal and not ``--quiet``."""
    if quiet or not sys.stderr.isatty() or total == 0:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err.get(),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def print_json(doc: dict[str, Any]) -> None:
    """A command's ``--json`` document: the run prints it, enveloped, when it ends.

    Outside a ``--json`` run (a command function called from Python) it is printed now, as is.
    """
    if not hold_document(doc):
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def csv_items(value: str, parameter: str) -> list[str]:
    """``"0,2,8"`` as ``["0", "2", "8"]``; an empty item is an error naming ``parameter``."""
    items = [v.strip() for v in value.split(",")]
    if not all(items):
        raise ParameterError(parameter, f"{value!r} has an empty item; write e.g. 0,2,8")
    return items


def int_items(value: str, parameter: str, least: int = 0, most: int = 1_000_000) -> list[int]:
    """``"0,2,8"`` as ``[0, 2, 8]``; each from ``least`` to ``most``."""
    items = csv_items(value, parameter)
    # isdigit() also takes superscripts and other digits int() refuses; ASCII only.
    if not all(v.isascii() and v.isdigit() and len(v) <= 9 for v in items):
        raise ParameterError(parameter, f"{value!r}: write whole numbers, e.g. 0,2,8")
    numbers = [int(v) for v in items]
    if not all(least <= n <= most for n in numbers):
        raise ParameterError(parameter, f"{value!r}: each number must be from {least} to {most}")
    return numbers
