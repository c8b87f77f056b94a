"""Writing output files safely: into a temporary name beside the target, then one rename.

A crash or Ctrl-C leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

import pandas as pd

from norwoodkit.errors import OutputError


def _parameter(name: str) -> str:
    """A parameter name; a flag spelling (``--exclude-list``) is read as ``exclude_list``."""
    return name[2:].replace("-", "_") if name.startswith("--") else name


def check_output_path(path: str | os.PathLike[str], parameter: str) -> Path:
    """Fail early (before any work) when an output file cannot be written where asked.

    ``parameter`` names the argument that gave ``path``; errors carry it.
    """
    p = Path(path)
    name = _parameter(parameter)
    if p.is_dir():
        raise OutputError(
            f"{p}: is a folder; give a file name", code="output-is-folder", parameter=name
        )
    if not p.parent.is_dir():
        raise OutputError(
            f"{p}: folder {p.parent} does not exist; create it first",
            code="output-parent-missing",
            parameter=name,
        )
    if not os.access(p.parent, os.W_OK):
        raise OutputError(
            f"{p}: folder {p.parent} is not writable; choose another place",
            code="output-not-writable",
            parameter=name,
        )
    return p


def check_output_dir(path: str | os.PathLike[str], parameter: str) -> Path:
    """Fail early when an output folder cannot be made or used (its parent must exist)."""
    p = Path(path)
    name = _parameter(parameter)
    if p.exists() and not p.is_dir():
        raise OutputError(
            f"{p}: is a file; give a folder", code="output-not-folder", parameter=name
        )
    if not p.exists() and not p.parent.is_dir():
        raise OutputError(
            f"{p}: folder {p.parent} does not exist; create it first",
            code="output-parent-missing",
            parameter=name,
        )
    where = p if p.exists() else p.parent
    if not os.access(where, os.W_OK):
        raise OutputError(
            f"{p}: folder {where} is not writable; choose another place",
            code="output-not-writable",
            parameter=name,
        )
    return p


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """``write_bytes_atomic`` for UTF-8 text."""
    write_bytes_atomic(path, text.encode("utf-8"))


#: Table file types by extension.
TABLE_SUFFIXES = (".csv", ".parquet", ".json")


def check_table_path(path: str | os.PathLike[str], parameter: str) -> Path:
    """``check_output_path`` plus a known table extension (.csv, .parquet, .json)."""
    p = check_output_path(path, parameter)
    if p.suffix.lower() not in TABLE_SUFFIXES:
        raise OutputError(
            f"{p}: unknown file type '{p.suffix}'; use one of {', '.join(TABLE_SUFFIXES)}",
            code="output-type",
            parameter=_parameter(parameter),
        )
    return p


def write_table_atomic(frame: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write a table as CSV, Parquet or JSON (records) by extension, atomically."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".csv":
        write_text_atomic(target, frame.to_csv(index=False, lineterminator="\n"))
    elif suffix == ".json":
        text = frame.to_json(orient="records", indent=2, force_ascii=False)
        write_text_atomic(target, (text or "[]") + "\n")
    elif suffix == ".parquet":
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        write_bytes_atomic(target, buf.getvalue())
    else:
        raise OutputError(f"{target}: unknown table type '{target.suffix}'", code="output-type")
