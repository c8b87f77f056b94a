"""The contract every run keeps with scripts, enforced in one place: exit codes, stdout, ``--json``.

A run from the shell (the ``norwoodkit`` script, ``python -m norwoodkit``, Typer's test runner)
goes through :meth:`ContractGroup.main`, which

- keeps stdout harmless: once its reader is gone (``| head``) the rest of the output goes to
  ``os.devnull``, so a closed pipe never becomes an error and the exit code stays the one the
  work earned (Python's own flush at exit finds nothing left to fail on);
- with ``--json`` on the command line, prints exactly one JSON document when the run ends: the
  command's own (handed over by ``app.print_json``), else the error document (exit 2, 3, 130,
  click's usage errors included). Each starts with ``schema_version``, ``command``, ``ok`` and
  ``exit_code``. An error after a command handed over its document replaces that document: the
  run failed, and a script must not read a result and an error;
- turns click's usage errors into exit 2 and an exception that escaped every handler into exit 3
  with its traceback on stderr.

``--help`` and ``--version`` print text and no document: they are not runs of a command.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import IO, Any

import typer

from norwoodkit.cli.vocabulary import Group

try:  # recent Typer runs on its own copy of click: its exceptions are the ones raised
    from typer import _click as click
except ImportError:  # older Typer runs on click itself
    import click  # type: ignore[no-redef]

#: The version of every ``--json`` document's shape (docs/schemas/); a new key keeps it, a key
#: removed, renamed or retyped raises it.
SCHEMA_VERSION = 1
#: The ``command`` of an error document when no command was recognised.
GROUP = "norwoodkit"

EXIT_OK, EXIT_FOUND, EXIT_USAGE, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

#: The error code of the document each failing exit code gets when nothing more precise was said.
_DEFAULT_ERRORS = {
    EXIT_USAGE: ("usage", "could not run; the reason is on stderr"),
    EXIT_BUG: ("internal-error", "this is a bug in norwoodkit; the traceback is on stderr"),
    EXIT_INTERRUPTED: ("interrupted", "interrupted"),
}
#: Options that print text and end the run before any command runs: no document follows them.
_EAGER = frozenset({"--help", "-h", "--version"})


@dataclass
class _Run:
    """What one run has said so far: its command, its document, its error."""

    json: bool
    eager: bool
    command: str = GROUP
    document: dict[str, Any] | None = None
    error: tuple[str, str] | None = None


_RUN: ContextVar[_Run | None] = ContextVar("norwoodkit_run", default=None)


def hold_document(doc: dict[str, Any]) -> bool:
    """Keep a command's ``--json`` document for the end of the run; False outside a ``--json`` run.

    Raises:
        RuntimeError: the command already handed over a document (a bug: one run, one document).
    """
    run = _RUN.get()
    if run is None or not run.json:
        return False
    if run.document is not None:
        raise RuntimeError(f"{run.command} printed two JSON documents; a run prints one")
    run.document = doc
    return True


def record_error(code: str, message: str) -> None:
    """Say why the run failed, for its error document (the first reason given is kept)."""
    run = _RUN.get()
    if run is not None and run.error is None:
        run.error = (code, message)


def report_bug() -> None:
    """The traceback of the exception being handled and the bug notice, on stderr."""
    kind, exc, _ = sys.exc_info()
    traceback.print_exc(file=sys.stderr)
    from rich.console import Console

    Console(stderr=True).print(
        "[bold red]internal error:[/] this is a bug in norwoodkit; please report "
        "it with the traceback above."
    )
    what = f"{kind.__name__}: {exc}"[:300] if kind is not None else "unknown"
    record_error("internal-error", f"this is a bug in norwoodkit ({what}); please report it")


class _QuietStream:
    """An output stream that a reader going away cannot break: after EPIPE, os.devnull.

    Pointing the descriptor itself at os.devnull (not just dropping writes) matters: the text
    wrapper still holds the bytes that failed, and Python flushes them at exit.
    """

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        """Write, or swallow the text once the reader is gone."""
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._to_devnull()
            return len(text)

    def flush(self) -> None:
        """Flush, or drop what is buffered once the reader is gone."""
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._to_devnull()

    def _to_devnull(self) -> None:
        try:
            fd = self._stream.fileno()
        except (OSError, ValueError):  # an in-memory stream (tests): nothing at exit to fail
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def _quiet_streams() -> Iterator[None]:
    """``sys.stdout`` and ``sys.stderr`` guarded for the run, restored after (test runners swap
    them; ``2>&1 | head`` closes stderr's reader too)."""
    out, err = sys.stdout, sys.stderr
    # A stream the shell closed (``>&-``) is None in Python: the run writes into a sink instead.
    sinks = [open(os.devnull, "w", encoding="utf-8") for s in (out, err) if s is None]  # noqa: SIM115
    sys.stdout = _QuietStream(out if out is not None else sinks[0])
    sys.stderr = _QuietStream(err if err is not None else sinks[-1])
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = out, err
        for sink in sinks:
            sink.close()


def _asks_json(argv: Sequence[str]) -> bool:
    """Whether ``--json`` is on the command line (before ``--``), whether it parses or not."""
    words = list(argv)
    if "--" in words:
        words = words[: words.index("--")]
    return "--json" in words


def _usage_message(exc: click.ClickException) -> str:
    """A usage error as one line that says where to look for the fix."""
    ctx: click.Context | None = getattr(exc, "ctx", None)
    where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    return exc.format_message() + where


def _finish(run: _Run, code: int) -> int:
    """Print the run's one document (with ``--json``) and give the exit code it ends with."""
    if not run.json:
        return code
    if code in (EXIT_OK, EXIT_FOUND) and run.error is None and run.document is None:
        if run.eager:
            return code
        run.error = ("internal-error", f"{run.command} printed no JSON document (a bug)")
    if run.error is None and code not in (EXIT_OK, EXIT_FOUND):
        run.error = _DEFAULT_ERRORS.get(code, ("error", f"exit {code}; the reason is on stderr"))
    if run.error is not None and code in (EXIT_OK, EXIT_FOUND):
        code = EXIT_BUG  # an error said but a success exit: the run cannot claim both
    envelope = {
        "schema_version": SCHEMA_VERSION,
        "command": run.command,
        "ok": code == EXIT_OK,
        "exit_code": code,
    }
    error = {"code": run.error[0], "message": run.error[1]} if run.error else None
    body = {"error": error} if error else run.document
    doc = {**envelope, **{k: v for k, v in (body or {}).items() if k not in envelope}}
    try:
        text = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):  # NaN or an object JSON cannot hold: a bug of the command
        report_bug()
        return _finish(run, EXIT_BUG)  # now with the error, which always serialises
    sys.stdout.write(text + "\n")
    return code


class ContractGroup(Group):
    """The ``norwoodkit`` group: every standalone run keeps the contract (module docstring)."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """Find the subcommand, and name the run after it."""
        name, command, rest = super().resolve_command(ctx, args)
        run = _RUN.get()
        if run is not None and command is not None and command.name:
            run.command = command.name
        return name, command, rest

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line under the contract, then exit with the code it earned."""
        if not standalone_mode:  # a caller who handles exits itself gets click's behaviour
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        argv = list(sys.argv[1:] if args is None else args)
        run = _Run(json=_asks_json(argv), eager=bool(_EAGER.intersection(argv)))
        token = _RUN.set(run)
        try:
            with _quiet_streams():
                code = self._run(argv, prog_name, complete_var, windows_expand_args, extra)
                code = _finish(run, code)
        finally:
            _RUN.reset(token)
        sys.exit(code)

    def _run(
        self,
        argv: list[str],
        prog_name: str | None,
        complete_var: str | None,
        windows_expand_args: bool,
        extra: dict[str, Any],
    ) -> int:
        """The command line's exit code; usage errors and escaped exceptions said on stderr."""
        try:
            rv = super().main(argv, prog_name, complete_var, False, windows_expand_args, **extra)
        except click.ClickException as exc:
            if self.rich_markup_mode is not None:
                from typer import rich_utils

                rich_utils.rich_format_error(exc)
            else:
                exc.show()
            record_error("usage", _usage_message(exc))
            return EXIT_USAGE
        except typer.Abort:  # click's word for input that ended early: an interrupt
            record_error("interrupted", "aborted")
            return EXIT_INTERRUPTED
        except SystemExit as exc:  # shell completion ends the run itself
            return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        except Exception:
            report_bug()
            return EXIT_BUG
        # Without standalone mode click returns an Exit's code, or the command's return value.
        return rv if isinstance(rv, int) and not isinstance(rv, bool) else EXIT_OK
