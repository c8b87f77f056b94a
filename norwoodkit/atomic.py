"""Writing output files safely: into a temporary name beside the target, then one rename.

A crash or Ctrl-C leaves either the old file or the new one, never half of one. Where a file
may go is checked before any work by ``paths.guard_output``; this module only writes.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

import pandas as pd

from norwoodkit.errors import OutputError


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


def check_table_suffix(path: str | os.PathLike[str], parameter: str) -> Path:
    """Refuse a table output whose extension is not a known table type (.csv, .parquet, .json).

    Where the file may go is ``paths.guard_output``'s question; this is only about its type.
    """
    p = Path(path)
    if p.suffix.lower() not in TABLE_SUFFIXES:
        raise OutputError(
            f"{p}: unknown file type '{p.suffix}'; use one of {', '.join(TABLE_SUFFIXES)}",
            code="output-type",
            parameter=parameter,
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
