"""A ``Gate`` as GitHub Actions workflow commands: ``::error file=...,line=N,title=CODE::...``.

Escaping follows the runner's rules: in the message ``%``, CR and LF are percent-encoded; in a
property ``:`` and ``,`` are too, so no file name can end a property or start a new one.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from norwoodkit.findings import Severity
from norwoodkit.reporting.gate import Gate, Outcome, plain
from norwoodkit.storage import Location

_MESSAGE_ESCAPES = (("%", "%25"), ("\r", "%0D"), ("\n", "%0A"))
_PROPERTY_ESCAPES = (*_MESSAGE_ESCAPES, (":", "%3A"), (",", "%2C"))


def _escape(text: str, table: tuple[tuple[str, str], ...]) -> str:
    for char, code in table:  # "%" first, so no escape is escaped again
        text = text.replace(char, code)
    return plain(text)


def github_annotations(gate: Gate, least: Severity = Severity.WARNING) -> list[str]:
    """One workflow command per finding shown at ``least`` (failing findings always are).

    ``file`` is the path as the command was given it (ROOT joined with the finding's path),
    since the runner resolves it against the job's working folder.
    """
    return [_command(gate, o) for o in gate.shown(least)]


def _command(gate: Gate, o: Outcome) -> str:
    f = o.finding
    props = []
    where = gate.file(f)
    if where is not None:
        root = str(gate.root) if isinstance(gate.root, Location) else gate.root.as_posix()
        path = where if f.path is None else (PurePosixPath(root) / where).as_posix()
        props.append("file=" + _escape(path, _PROPERTY_ESCAPES))
        if f.line is not None:
            props.append(f"line={f.line}")
    props.append("title=" + _escape(f.code, _PROPERTY_ESCAPES))
    return f"::{o.level} {','.join(props)}::{_escape(f.message, _MESSAGE_ESCAPES)}"
