"""A ``Summary`` rendered: display text, a Markdown document, CSV files, Rich tables, JSON values.

``stats.summarize`` computes the tables; this module only words and lays them out, from one
formatter (``format_value``), so every rendering shows the same numbers the same way. The
``Summary`` methods (``to_markdown``, ``write_csv_dir``, ``rich_tables``, ...) call these
functions.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from norwoodkit.atomic import write_table_atomic
from norwoodkit.columns import plain
from norwoodkit.paths import guard_output
from norwoodkit.storage import Location

if TYPE_CHECKING:
    from collections.abc import Mapping

    from rich.table import Table

    from norwoodkit.stats import Summary

__all__ = [
    "FACT_LABELS",
    "TABLE_TITLES",
    "display",
    "facts_frame",
    "format_value",
    "json_records",
    "json_value",
    "markdown",
    "rich_tables",
    "write_csv_dir",
]

#: Every table of a ``Summary``, in output order, with its heading.
TABLE_TITLES: dict[str, str] = {
    "stages": "Subjects and images per Norwood stage",
    "age_bins": "Subjects per age bin",
    "gender": "Gender",
    "ethnicity": "Ethnicity",
    "stage_by_age_bin": "Subjects by stage and age bin",
    "stage_by_ethnicity": "Subjects by stage and ethnicity",
    "stage_by_gender": "Subjects by stage and gender",
    "views": "Images per view",
    "image_sizes": "Image sizes per view (upright, EXIF orientation applied)",
    "formats": "File formats per view",
    "modes": "Colour modes per view",
    "orientations": "EXIF orientation tags per view",
    "quality": "Photo quality per view: median and interquartile range (q1..q3) of each measure",
    "grayscale": "Grayscale photos per view",
}

#: Every fact of a ``Summary``, in output order, in words.
FACT_LABELS: dict[str, str] = {
    "subjects": "subjects",
    "images": "image files",
    "images_ok": "decodable images",
    "images_with_problems": "image files that could not be decoded",
    "missing_views": "missing views (subject x view with no file)",
    "extra_images": "images whose name is no view",
    "stage_missing": "subjects with no stage",
    "stages_present": "stages with subjects",
    "absent_stages": "stages with no subject",
    "largest_stage": "largest stage",
    "smallest_stage": "smallest stage",
    "imbalance_ratio": "imbalance ratio (largest / smallest stage)",
    "folds": "folds asked for",
    "too_few_for_folds": "stages with fewer subjects than folds",
    "age_known": "subjects with an age",
    "age_missing": "subjects with no age",
    "age_out_of_range": "subjects whose age is in no bin",
    "age_min": "age min",
    "age_max": "age max",
    "age_mean": "age mean",
    "age_median": "age median",
    "age_std": "age standard deviation",
    "gender_missing": "subjects with no gender",
    "ethnicity_missing": "subjects with no ethnicity",
}


# --------------------------------------------------------------------------- renderings


def facts_frame(facts: Mapping[str, Any]) -> pd.DataFrame:
    """The facts as a two-column table (``fact``, ``value``), values as display text."""
    return pd.DataFrame(
        {
            "fact": [FACT_LABELS.get(k, k) for k in facts],
            "value": [format_value(v) for v in facts.values()],
        }
    )


def markdown(summary: Summary, title: str | None = None) -> str:
    """One Markdown document: a heading and a pipe table for the facts and every table."""
    heading = title if title is not None else f"Dataset summary: {summary.dataset}"
    parts = [
        f"# {_md_escape(heading)}",
        "",
        "## Overview",
        "",
        _md_table(facts_frame(summary.facts)),
    ]
    for name, frame in summary.tables.items():
        parts += ["", f"## {TABLE_TITLES.get(name, name)}", "", _md_table(display(frame))]
    return "\n".join(parts) + "\n"


def write_csv_dir(
    summary: Summary,
    directory: str | os.PathLike[str],
    dataset_root: str | os.PathLike[str] | Location | None = None,
) -> list[Path]:
    """Write ``facts.csv`` and one ``<table>.csv`` per table, each atomically.

    The folder is created when its parent exists. Returns the paths written.

    Raises:
        OutputError: refused by ``paths.guard_output``: inside ``dataset_root``, the folder's
            parent missing, or the path not a folder.
    """
    folder = guard_output(directory, "directory", dataset_root=dataset_root, kind="folder")
    folder.mkdir(exist_ok=True)
    written: list[Path] = []
    facts = pd.DataFrame(
        {
            "fact": list(summary.facts),
            "value": [_csv_value(v) for v in summary.facts.values()],
        }
    )
    for name, frame in {"facts": facts, **summary.tables}.items():
        path = folder / f"{name}.csv"
        write_table_atomic(frame, path)
        written.append(path)
    return written


def rich_tables(summary: Summary) -> list[Table]:
    """Rich tables for the terminal: the overview, then every table."""
    from rich.table import Table

    out: list[Table] = []
    frames = {"overview": facts_frame(summary.facts)} | {
        name: display(frame) for name, frame in summary.tables.items()
    }
    for name, shown in frames.items():
        raw = summary.tables.get(name)
        title = "Overview" if name == "overview" else TABLE_TITLES.get(name, name)
        table = Table(title=title, header_style="bold", title_justify="left")
        for col in shown.columns:
            numeric = raw is not None and _is_numeric(raw[col])
            table.add_column(_header(str(col)), justify="right" if numeric else "left")
        for row in shown.itertuples(index=False):
            table.add_row(*(str(v) for v in row))
        out.append(table)
    return out


# --------------------------------------------------------------------------- output helpers


def json_value(value: Any) -> Any:
    """A JSON-safe value: scalars as ``schema.plain``, lists item by item, anything else as text."""
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    value = plain(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A table as JSON-safe records, one dict per row."""
    columns = [str(c) for c in frame.columns]
    return [
        {c: json_value(v) for c, v in zip(columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]


def _csv_value(value: Any) -> str:
    v = json_value(value)
    if v is None:
        return ""
    if isinstance(v, list):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def _is_numeric(series: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(series.dtype)) and not bool(
        pd.api.types.is_bool_dtype(series.dtype)
    )


def format_value(value: Any, *, share: bool = False) -> str:
    """One value as display text: percentages for shares, whole floats without decimals."""
    v = json_value(value)
    if v is None:
        return "-"
    if isinstance(v, list):
        return ", ".join(str(v) for v in v) or "none"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if share and isinstance(v, (int, float)):
        return f"{v * 100:.1f} %"
    if isinstance(v, float):
        if v.is_integer():
            return str(int(v))
        if abs(v) >= 100:
            return f"{v:.1f}"
        if abs(v) >= 1:
            return f"{v:.2f}"
        return f"{v:.3g}"
    return str(v)


def display(frame: pd.DataFrame) -> pd.DataFrame:
    """A table as display text (shares as percentages, floats rounded), for any renderer."""
    out: dict[str, list[str]] = {}
    for col in frame.columns:
        share = str(col).endswith("share")
        out[str(col)] = [format_value(v, share=share) for v in frame[col].tolist()]
    return pd.DataFrame(out, columns=[str(c) for c in frame.columns])


def _header(column: str) -> str:
    return column.replace("_", " ")


_MD_SPECIAL = re.compile(r"([\\|*_`<>\[\]])")


def _md_escape(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _md_table(shown: pd.DataFrame) -> str:
    """A GitHub-style pipe table; a numeric column (every cell a number or '-') is right-aligned."""
    headers = [_md_escape(_header(str(c))) for c in shown.columns]
    align = [
        "---:" if len(shown) and all(_looks_numeric(v) for v in shown[c]) else "---"
        for c in shown.columns
    ]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    for row in shown.itertuples(index=False):
        lines.append("| " + " | ".join(_md_escape(str(v)) for v in row) + " |")
    return "\n".join(lines)


_NUMBER_RE = re.compile(r"^-?\d+(\.\d+)?(e[-+]?\d+)?( %)?$|^-$")


def _looks_numeric(text: object) -> bool:
    return bool(_NUMBER_RE.match(str(text)))
