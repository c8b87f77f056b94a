"""The CSV annotation reader: a header row naming the columns, one record per row.

Only ``annotation.py`` calls it: the text arrives already read safely (``annotation_text``), and
the records leave as plain dicts for the same field mapping the JSON shapes get.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from norwoodkit.annotation_text import Where
from norwoodkit.errors import AnnotationError
from norwoodkit.findings import Finding, finding
from norwoodkit.labels import short_repr

__all__ = ["read_csv_records"]


def read_csv_records(
    path: Where, text: str, notes: list[Finding]
) -> list[tuple[str, dict[str, Any]]]:
    """The CSV annotation ``text`` as (where, record) pairs, the first of repeated columns
    winning; notes for a repeated column and a row of the wrong length.

    Raises:
        AnnotationError: no header row, or a line the CSV reader cannot read.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, [])
        if not header:
            raise AnnotationError(
                f"{path}: the CSV has no header row; the first line must name the "
                "columns (id, label, age, ...)",
                code="annotation-empty",
            )
        _note_repeated_columns(path, header, notes)
        return [
            (f"line {reader.line_num}", _csv_record(path, header, row, reader.line_num, notes))
            for row in reader
            if row
        ]
    except csv.Error as exc:
        # The field size limit (128 KiB) and bad quoting end up here.
        raise AnnotationError(
            f"{path} line {reader.line_num}: cannot read the CSV ({exc}); fix that line "
            "(a stray quote opens a field that runs on)",
            code="annotation-not-csv",
        ) from exc


def _note_repeated_columns(path: Where, header: list[str], notes: list[Finding]) -> None:
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        notes.append(
            finding(
                "duplicate-key",
                f"{path.name} line 1: column(s) {', '.join(map(short_repr, repeated))} appear "
                "more than once in the header; the first is used - rename the repeat",
                path=path.name,
                line=1,
            )
        )


def _csv_record(
    path: Where, header: list[str], row: list[str], line: int, notes: list[Finding]
) -> dict[str, Any]:
    """One row as a record (the first of repeated columns wins); a note when it has the wrong
    number of values."""
    if len(row) != len(header):
        what = (
            f"{len(row) - len(header)} value(s) more than the header"
            if len(row) > len(header)
            else f"no value for {', '.join(header[len(row) :])}"
        )
        notes.append(
            finding(
                "annotation-row-shape",
                f"{path.name} line {line}: {what}; fix the row (quotes around values with commas?)",
                path=path.name,
                line=line,
            )
        )
    rec: dict[str, Any] = {}
    for key, value in zip(header, row, strict=False):
        rec.setdefault(key, value)
    return rec
