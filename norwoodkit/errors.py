"""Exceptions that stop a command. Findings about the data are not exceptions (see findings.py).

Every message names the file (and record, where there is one) and says how to fix it. The CLI
catches ``NorwoodkitError`` in one place and exits with ``exit_code``.
"""

from __future__ import annotations


class NorwoodkitError(Exception):
    """A problem that stops a command before it can produce a result (exit code 2).

    When the problem lies in one argument, ``parameter`` names it (the Python name, e.g.
    ``shard_size``) and the message reads ``shard_size: <problem>``, so a Python caller is told
    about the argument they passed; the CLI shows the same problem under the flag that set it
    (``--shard-size: <problem>``) through :meth:`for_flag`.
    """

    exit_code = 2

    def __init__(self, message: str, *, code: str = "error", parameter: str | None = None) -> None:
        full = f"{parameter}: {message}" if parameter else message
        super().__init__(full)
        self.code = code
        self.message = full
        self.problem = message
        self.parameter = parameter

    def for_flag(self, flag: str) -> str:
        """The message with the parameter's name replaced by the CLI flag that set it."""
        return f"{flag}: {self.problem}" if self.parameter else self.message


class ParameterError(NorwoodkitError, ValueError):
    """A parameter value a library function cannot use (``parameter`` names it)."""

    def __init__(self, parameter: str, problem: str, *, code: str = "usage") -> None:
        super().__init__(problem, code=code, parameter=parameter)


class InputError(NorwoodkitError):
    """The dataset root or another input path is missing, unreadable or of the wrong kind."""


class AnnotationError(NorwoodkitError):
    """The annotation file is missing, unreadable or not in a shape norwoodkit understands."""


class LabelError(NorwoodkitError, ValueError):
    """A Norwood stage or view name that cannot be parsed."""


class OutputError(NorwoodkitError):
    """An output path cannot be written (missing folder, not writable, refused)."""
