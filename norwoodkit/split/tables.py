"""The side tables split reads: any CSV, Parquet or JSON table (exclude lists, split files), the
duplicate pairs or groups that ``norwoodkit dedupe`` writes, and, as a split file, the document
``norwoodkit split --json`` prints (``split.document``).

``parameter`` names, in every message, where the file came from: a Python caller's parameter
name ("duplicates") or, from the CLI, the option that gave it ("--dedupe").
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from norwoodkit.atomic import restore_cell
from norwoodkit.errors import InputError
from norwoodkit.split.document import SplitInfo, is_document, split_document

__all__ = ["duplicate_pairs_from_file", "read_split_table", "read_table"]


def duplicate_pairs_from_file(
    path: str | os.PathLike[str], parameter: str = "duplicates"
) -> pd.DataFrame:
    """Subject pairs from a ``dedupe --pairs`` or ``--groups`` file (CSV, Parquet or JSON)."""
    frame = read_table(path, parameter, allow_empty=True)
    if frame.empty:  # dedupe found no pairs: a header alone, or [] in JSON
        return pd.DataFrame(columns=["subject_a", "subject_b", "a", "b"]).astype("string")
    if {"subject_a", "subject_b"} <= set(frame.columns):
        cols = ["subject_a", "subject_b"] + [c for c in ("a", "b") if c in frame.columns]
        return frame[cols].astype("string")
    if {"group", "subject_id"} <= set(frame.columns):
        rows = []
        for _, g in frame.groupby("group", sort=True):
            members = g["subject_id"].astype(str).tolist()
            paths = g["path"].astype(str).tolist() if "path" in g.columns else [""] * len(g)
            rows += [
                {"subject_a": members[0], "subject_b": m, "a": paths[0], "b": p}
                for m, p in zip(members[1:], paths[1:], strict=True)
            ]
        return pd.DataFrame(rows, columns=["subject_a", "subject_b", "a", "b"]).astype("string")
    raise InputError(
        f"{parameter} {path}: expected a pairs file (columns subject_a, subject_b) or a groups "
        f"file (columns group, subject_id) from `norwoodkit dedupe`; found "
        f"{', '.join(frame.columns)}",
        code="usage",
    )


def read_exclude_list(path: str | os.PathLike[str], parameter: str) -> pd.DataFrame:
    """An exclude list from ``dedupe --exclude-list`` (``path`` and/or ``subject_id``); an empty
    one (dedupe found nothing to leave out) excludes nothing."""
    return read_table(path, parameter, allow_empty=True)


def read_table(
    path: str | os.PathLike[str], parameter: str, *, allow_empty: bool = False
) -> pd.DataFrame:
    """A CSV, Parquet or JSON table as strings; clear errors for missing, empty or odd files.

    A JSON object of plain values is read as ``{subject_id: split}``. A CSV cell that our writer
    neutralised (``'=1``) reads back as it was (``=1``). A command's ``--json`` document is not
    a table: refused, never read as an empty one.

    Raises:
        InputError: the file is missing, of an unknown type, unreadable or empty, or a
            ``--json`` document; the message starts with ``parameter`` and the path.
    """
    frame, _ = _read(Path(path), parameter, allow_empty=allow_empty, documents=False)
    return frame


def read_split_table(
    path: str | os.PathLike[str], parameter: str
) -> tuple[pd.DataFrame, SplitInfo | None]:
    """A split file as a table (see ``read_table``), and how the split was made when the file
    is the document ``norwoodkit split --json`` printed (its ``assignment`` is the table).

    Raises:
        InputError: what ``read_table`` raises, and for a ``--json`` document what
            ``split.document.split_document`` raises (another command's, a newer schema, a
            ``split --check`` audit).
    """
    return _read(Path(path), parameter, allow_empty=False, documents=True)


def _read(
    p: Path, parameter: str, *, allow_empty: bool, documents: bool
) -> tuple[pd.DataFrame, SplitInfo | None]:
    """The table of a file and, for a split document when ``documents``, its SplitInfo."""
    if not p.is_file():
        raise InputError(f"{parameter} {p}: no such file", code="input-missing")
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".parquet", ".json"):
        raise InputError(
            f"{parameter} {p}: unknown file type '{p.suffix}'; use .csv, .parquet or .json",
            code="input-type",
        )
    info = None
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(p)
        elif suffix == ".json":
            doc = json.loads(p.read_text(encoding="utf-8-sig") or "null")
            if is_document(doc):
                if not documents:
                    raise _not_a_table(p, parameter)
                frame, info = split_document(doc, f"{parameter} {p}")
            else:
                frame = _json_frame(doc)
        else:
            frame = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
            # Our CSV writer quotes formula-like cells; undo exactly that (atomic.restore_cell).
            frame = frame.map(restore_cell).rename(columns=restore_cell)
    except pd.errors.EmptyDataError:
        # A subclass of ValueError: caught first, a file with no bytes is empty, not unreadable.
        frame = pd.DataFrame()
    except (ValueError, OSError, json.JSONDecodeError) as exc:
        raise InputError(
            f"{parameter} {p}: cannot read it as {suffix or 'CSV'} ({exc})",
            code="input-unreadable",
        ) from exc
    if frame.empty and not allow_empty:
        raise InputError(
            f"{parameter} {p}: the file is empty; write a header and one row per subject",
            code="input-empty",
        )
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.astype("string"), info


def _json_frame(doc: object) -> pd.DataFrame:
    """Records, or one ``{subject_id: split}`` object of plain values, as a frame."""
    if isinstance(doc, dict) and all(not isinstance(v, (dict, list)) for v in doc.values()):
        doc = [{"subject_id": k, "split": v} for k, v in doc.items()]
    return pd.DataFrame(doc if isinstance(doc, list) else [])


def _not_a_table(p: Path, parameter: str) -> InputError:
    return InputError(
        f"{parameter} {p}: a norwoodkit `--json` document, not a table; give the CSV, Parquet "
        "or JSON records file that the command's output option writes (e.g. `dedupe "
        "--exclude-list FILE`)",
        code="input-type",
    )
