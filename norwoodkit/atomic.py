"""Writing output files safely: into a temporary name beside the target, then one rename.

A crash or Ctrl-C leaves either the old file or the new one, never half of one. Where a file
may go is checked before any work by ``paths.guard_output``; this module only writes.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from norwoodkit import interrupts
from norwoodkit.errors import OutputError
from norwoodkit.storage import Location


def _write_failed(target: Path, exc: OSError) -> OutputError:
    """A failed write as the error the user reads: the file, the system's reason, the fix."""
    reason = exc.strerror or str(exc)
    return OutputError(
        f"{target}: cannot write it ({reason}); nothing half-written is left - free space, "
        "make the folder writable or choose another place, then rerun",
        code="output-write-failed",
    )


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    Raises:
        OutputError: the write failed (disk full, file too large, no permission, a folder in
            the way); the temporary file is gone and the old file, if any, is untouched.
    """
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _write_failed(target, exc) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        interrupts.check()
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _write_failed(target, exc) from exc
        raise


def _utf8(text: str) -> bytes:
    """``text`` as UTF-8; a lone surrogate (an undecodable file name) becomes U+FFFD."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text).encode("utf-8")


_SURROGATE = re.compile("[\ud800-\udfff]")


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """``write_bytes_atomic`` for UTF-8 text (lone surrogates replaced by U+FFFD)."""
    write_bytes_atomic(path, _utf8(text))


#: A spreadsheet runs a cell that starts with one of these as a formula (OWASP, "CSV
#: injection"); a leading apostrophe is ours too, so that the quote we add can be undone exactly.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def neutralise_cell(value: str) -> str:
    """A text cell a spreadsheet shows as text: ``'`` put before a formula's first character."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def restore_cell(value: str) -> str:
    """Undo :func:`neutralise_cell` (exactly: ``restore_cell(neutralise_cell(x)) == x``)."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_STARTS) else value


def neutralised(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell and column name neutralised; numbers, booleans and nulls
    stay as they are.

    Returns ``frame`` itself when no cell needs it, so ordinary tables are not copied.
    """
    out = frame
    names = [neutralise_cell(c) if isinstance(c, str) else c for c in frame.columns]
    if names != list(frame.columns):  # a cross-tab's columns are values from the data
        out = frame.set_axis(names, axis="columns")  # a new frame: ``frame`` stays as it was
    for i, series, categorical in _text_columns(frame):
        values = series.tolist()
        if not any(isinstance(v, str) and v.startswith(FORMULA_STARTS) for v in values):
            continue
        if out is frame:
            out = frame.copy()
        cells = [neutralise_cell(v) if isinstance(v, str) else v for v in values]
        dtype = object if categorical else series.dtype
        out.isetitem(i, pd.Series(cells, index=frame.index, dtype=dtype, name=series.name).array)
    return out


def _text_columns(frame: pd.DataFrame) -> Iterator[tuple[int, pd.Series, bool]]:
    """Each column that may hold text: its position, the column, whether it is categorical."""
    for i in range(frame.shape[1]):
        series = frame.iloc[:, i]
        categorical = isinstance(series.dtype, pd.CategoricalDtype)
        if categorical or isinstance(series.dtype, pd.StringDtype) or series.dtype == object:
            yield i, series, categorical


def _holds_cr(frame: pd.DataFrame) -> bool:
    """Whether a text cell of ``frame`` holds a carriage return."""
    return any(
        any(isinstance(v, str) and "\r" in v for v in series.tolist())
        for _, series, _ in _text_columns(frame)
    )


#: Table file types by extension.
TABLE_SUFFIXES = (".csv", ".parquet", ".json")


def check_table_suffix(path: str | os.PathLike[str] | Location, parameter: str) -> None:
    """Refuse a table output (a path or a URL's ``Location``) whose extension is not a known
    table type (.csv, .parquet, .json).

    Where the file may go is ``paths.guard_output``'s question; this is only about its type.
    """
    p = Path(path.name) if isinstance(path, Location) else Path(path)
    if p.suffix.lower() not in TABLE_SUFFIXES:
        shown = path if isinstance(path, Location) else p
        raise OutputError(
            f"{shown}: unknown file type '{p.suffix}'; use one of {', '.join(TABLE_SUFFIXES)}",
            code="output-type",
            parameter=parameter,
        )


def write_table_atomic(frame: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write a table as CSV, Parquet or JSON (records) by extension, atomically.

    CSV text cells are neutralised (:func:`neutralised`); Parquet and JSON keep every value.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".csv":
        safe = neutralised(frame)
        # Python's csv quotes a cell holding a lone CR only when CR ends lines: quote them all.
        if _holds_cr(safe):
            text = safe.to_csv(index=False, lineterminator="\n", quoting=csv.QUOTE_ALL)
        else:
            text = safe.to_csv(index=False, lineterminator="\n")
        write_text_atomic(target, text)
    elif suffix == ".json":
        text = frame.to_json(orient="records", indent=2, force_ascii=False)
        write_text_atomic(target, (text or "[]") + "\n")
    elif suffix == ".parquet":
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        write_bytes_atomic(target, buf.getvalue())
    else:
        raise OutputError(f"{target}: unknown table type '{target.suffix}'", code="output-type")
