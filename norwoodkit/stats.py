"""Dataset (with probe columns) -> summary tables: stages, ages, demographics, images per view.

No image is opened again: every number comes from the table that ``dataset.load`` and
``probe.run`` built (sizes, formats and modes are probe columns). ``summarize`` returns a
``Summary``: named plain tables (pandas, default index) plus scalar facts, rendered four ways
from one formatter: ``to_dict`` (``--json``), ``to_markdown``, ``write_csv_dir`` and
``rich_tables``.

Nothing is dropped silently: a subject with no stage, no age or no gender is counted in a
``missing`` row, an age outside every bin in an ``out of range`` row, an image whose file name
names no view in a ``(no view)`` row.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from norwoodkit.atomic import write_table_atomic, write_text_atomic
from norwoodkit.dataset import Dataset
from norwoodkit.errors import InputError, OutputError
from norwoodkit.labels import VIEWS, category_key
from norwoodkit.schema import plain
from norwoodkit.strata import (
    AGE_BINS,
    MISSING,
    OUT_OF_RANGE,
    STAGE_LABELS,
    AgeBins,
    age_bin_labels,
    bin_label,
    check_age_bins,
    parse_age_bins,
    stage_labels,
)

if TYPE_CHECKING:
    from rich.table import Table

__all__ = [
    "AGE_BINS",
    "FACT_LABELS",
    "MISSING",
    "NO_VIEW",
    "OUT_OF_RANGE",
    "STAGE_LABELS",
    "TABLE_TITLES",
    "AgeBins",
    "Summary",
    "age_bin_labels",
    "check_age_bins",
    "check_output_dir",
    "format_value",
    "parse_age_bins",
    "stage_labels",
    "summarize",
]

#: Row label of image files whose name is not one of the five views.
NO_VIEW = "(no view)"
#: Column or row label of a total over views.
ALL = "all"

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

#: Measures of ``image_sizes``: name -> how to compute it from the images table.
_SIZE_MEASURES: dict[str, Callable[[pd.DataFrame], pd.Series]] = {
    "width": lambda t: t["oriented_width"].astype("Float64"),
    "height": lambda t: t["oriented_height"].astype("Float64"),
    "megapixels": lambda t: (
        t["oriented_width"].astype("Float64") * t["oriented_height"].astype("Float64") / 1e6
    ),
    "bytes": lambda t: t["size"].astype("Float64"),
}

# --------------------------------------------------------------------------- the summary


@dataclass(frozen=True)
class Summary:
    """What ``summarize`` returns: named plain tables and scalar facts.

    Attributes:
        tables: ``TABLE_TITLES`` order; each a DataFrame with a default index (its first
            column is the row label). Shares are fractions 0..1, sizes in pixels and bytes.
        facts: scalars (and short lists) in ``FACT_LABELS`` order; ``None`` when unknown
            (the mean age of a dataset with no age).
        dataset: the dataset folder's name.
        folds: the number of folds ``too_few_for_folds`` was checked against.
        age_bins: the age bins used.
    """

    tables: Mapping[str, pd.DataFrame]
    facts: Mapping[str, Any]
    dataset: str
    folds: int
    age_bins: AgeBins

    def table(self, name: str) -> pd.DataFrame:
        """One table by name (see ``TABLE_TITLES``)."""
        return self.tables[name]

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document: JSON-safe values, stable keys, NaN and NA as None."""
        return {
            "dataset": self.dataset,
            "parameters": {
                "folds": self.folds,
                "age_bins": [bin_label(lo, hi) for lo, hi in self.age_bins],
            },
            "facts": {k: _plain(v) for k, v in self.facts.items()},
            "tables": {name: _records(frame) for name, frame in self.tables.items()},
        }

    def facts_frame(self) -> pd.DataFrame:
        """The facts as a two-column table (``fact``, ``value``), values as display text."""
        return pd.DataFrame(
            {
                "fact": [FACT_LABELS.get(k, k) for k in self.facts],
                "value": [format_value(v) for v in self.facts.values()],
            }
        )

    def display_frame(self, name: str) -> pd.DataFrame:
        """A table as display text (shares as percentages, floats rounded), for any renderer."""
        return _display(self.tables[name])

    def to_markdown(self, title: str | None = None) -> str:
        """One Markdown document: a heading and a pipe table for the facts and every table."""
        heading = title if title is not None else f"Dataset summary: {self.dataset}"
        parts = [f"# {_md_escape(heading)}", "", "## Overview", "", _md_table(self.facts_frame())]
        for name, frame in self.tables.items():
            parts += ["", f"## {TABLE_TITLES.get(name, name)}", "", _md_table(_display(frame))]
        return "\n".join(parts) + "\n"

    def write_csv_dir(self, directory: str | os.PathLike[str]) -> list[Path]:
        """Write ``facts.csv`` and one ``<table>.csv`` per table, each atomically.

        The folder is created when its parent exists. Returns the paths written.

        Raises:
            OutputError: the folder's parent is missing, or the path is a file.
        """
        folder = check_output_dir(directory, "--csv")
        folder.mkdir(exist_ok=True)
        written: list[Path] = []
        facts = pd.DataFrame(
            {
                "fact": list(self.facts),
                "value": [_csv_value(v) for v in self.facts.values()],
            }
        )
        for name, frame in {"facts": facts, **self.tables}.items():
            path = folder / f"{name}.csv"
            write_table_atomic(frame, path)
            written.append(path)
        return written

    def write_markdown(self, path: str | os.PathLike[str]) -> None:
        """``to_markdown`` written atomically to ``path``."""
        write_text_atomic(path, self.to_markdown())

    def rich_tables(self) -> list[Table]:
        """Rich tables for the terminal: the overview, then every table."""
        from rich.table import Table

        out: list[Table] = []
        frames = {"overview": self.facts_frame()} | {
            name: _display(frame) for name, frame in self.tables.items()
        }
        for name, shown in frames.items():
            raw = self.tables.get(name)
            title = "Overview" if name == "overview" else TABLE_TITLES.get(name, name)
            table = Table(title=title, header_style="bold", title_justify="left")
            for col in shown.columns:
                numeric = raw is not None and _is_numeric(raw[col])
                table.add_column(_header(str(col)), justify="right" if numeric else "left")
            for row in shown.itertuples(index=False):
                table.add_row(*(str(v) for v in row))
            out.append(table)
        return out


# --------------------------------------------------------------------------- summarize


def summarize(dataset: Dataset, *, folds: int = 5, age_bins: AgeBins = AGE_BINS) -> Summary:
    """Describe a probed dataset in tables; no image is read (see ``probe.run``).

    Args:
        dataset: from ``probe.run(dataset.load(root))``.
        folds: a stage with fewer subjects than this cannot reach every fold of a stratified
            k-fold split; such stages are listed in ``too_few_for_folds``.
        age_bins: ``(lo, hi)`` bins, both ends inclusive, young to old.

    Raises:
        InputError: the dataset has no subjects, has not been probed, or the options are bad.
    """
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise InputError(
            f"--folds {folds}: a k-fold split needs at least 2 folds; use e.g. --folds 5",
            code="usage",
        )
    bins = check_age_bins(age_bins)
    table = dataset.table
    if table.empty or table["subject_id"].dropna().empty:
        raise InputError(
            f"{dataset.root}: the dataset has no subjects (no annotation records and no subject "
            "folders); check the dataset folder and its annotation file",
            code="dataset-empty",
        )
    if "status" not in table.columns:
        raise InputError(
            "stats needs the probe columns: call probe.run(dataset) first", code="not-probed"
        )
    subjects = dataset.subjects
    images = table[table["path"].notna()]
    stage = stage_labels(subjects["stage"])
    ages = age_bin_labels(subjects["age"], bins)
    age_order = [*(bin_label(lo, hi) for lo, hi in bins), OUT_OF_RANGE, MISSING]
    gender, gender_table = _categories(subjects["gender"])
    ethnicity, ethnicity_table = _categories(subjects["ethnicity"])

    stages = _stage_table(stage, stage_labels(images["stage"]), folds)
    tables: dict[str, pd.DataFrame] = {
        "stages": stages,
        "age_bins": _count_table("age_bin", ages, age_order),
        "gender": gender_table,
        "ethnicity": ethnicity_table,
        "stage_by_age_bin": _crosstab(stage, ages, age_order),
        "stage_by_ethnicity": _crosstab(stage, ethnicity, list(ethnicity_table["ethnicity"])),
        "stage_by_gender": _crosstab(stage, gender, list(gender_table["gender"])),
    }
    view_order = [v.value for v in VIEWS]
    if bool(images["view"].isna().any()):
        view_order.append(NO_VIEW)
    view = images["view"].astype("string").fillna(NO_VIEW)
    tables["views"] = _view_table(table, view_order)
    tables["image_sizes"] = _size_table(images, view, view_order)
    tables["formats"] = _by_view("format", images["format"].fillna("unknown"), view, view_order)
    tables["modes"] = _by_view("mode", images["mode"].fillna("unknown"), view, view_order)
    orient = images["orientation"].astype("Int64").astype("string").fillna("none")
    tables["orientations"] = _by_view("orientation", orient, view, view_order)

    facts = _facts(subjects, images, table, stages, ages, folds)
    return Summary(
        tables=tables,
        facts=facts,
        dataset=dataset.root.name or str(dataset.root),
        folds=folds,
        age_bins=bins,
    )


def _stage_table(stage: pd.Series, image_stage: pd.Series, folds: int) -> pd.DataFrame:
    subjects = _counts(stage, STAGE_LABELS)
    images = _counts(image_stage, STAGE_LABELS)
    n_subjects, n_images = int(subjects.sum()), int(images.sum())
    labels = list(STAGE_LABELS)
    return pd.DataFrame(
        {
            "stage": pd.array(labels, dtype="string"),
            "subjects": subjects.to_numpy(),
            "subject_share": _share(subjects, n_subjects),
            "images": images.to_numpy(),
            "image_share": _share(images, n_images),
            "too_few_for_folds": [
                label != MISSING and 0 < int(n) < folds
                for label, n in zip(labels, subjects, strict=True)
            ],
        }
    )


def _counts(labels: pd.Series, order: Sequence[str]) -> pd.Series:
    counts = labels.value_counts()
    return pd.Series(
        [int(counts.get(k, 0)) for k in order], index=pd.Index(list(order)), dtype="int64"
    )


def _share(counts: pd.Series, total: int) -> np.ndarray[Any, np.dtype[np.float64]]:
    values = counts.to_numpy(dtype=np.float64)
    return values / total if total else np.zeros_like(values)


def _count_table(column: str, labels: pd.Series, order: Sequence[str]) -> pd.DataFrame:
    counts = _counts(labels, order)
    return pd.DataFrame(
        {
            column: pd.array(list(order), dtype="string"),
            "subjects": counts.to_numpy(),
            "share": _share(counts, len(labels)),
        }
    )


def _categories(values: pd.Series) -> tuple[pd.Series, pd.DataFrame]:
    """Group the spellings of one value (``category_key``); label each subject by its group.

    A group is shown under its most common spelling (ties: the first in sorted order) and lists
    every spelling with its count when there is more than one. Subjects with no value are
    ``MISSING``; so is a written value whose key is "missing".
    """
    column = str(values.name)
    written = values.dropna().astype(str)
    spellings: dict[str, dict[str, int]] = defaultdict(dict)
    for spelling, n in written.value_counts().items():
        spellings[category_key(str(spelling))][str(spelling)] = int(n)
    display: dict[str, str] = {}
    rows: list[tuple[str, int, str]] = []
    for key, counts in spellings.items():
        ordered = sorted(counts)
        main = (
            MISSING
            if key == MISSING
            else max(ordered, key=lambda s: (counts[s], -ordered.index(s)))
        )
        for spelling in counts:
            display[spelling] = main
        variants = ", ".join(f"{s} ({counts[s]})" for s in ordered) if len(counts) > 1 else ""
        rows.append((main, sum(counts.values()), variants))
    labels = pd.Series(
        [MISSING if pd.isna(v) else display[str(v)] for v in values.tolist()],
        index=values.index,
        dtype="string",
    )
    n_missing = int(values.isna().sum())
    known = [r for r in rows if r[0] != MISSING]
    known.sort(key=lambda r: (-r[1], r[0].casefold(), r[0]))
    written_missing = next((r for r in rows if r[0] == MISSING), None)
    missing_row = (
        MISSING,
        n_missing + (written_missing[1] if written_missing else 0),
        written_missing[2] if written_missing else "",
    )
    ordered_rows = [*known, missing_row]
    total = len(values)
    frame = pd.DataFrame(
        {
            column: pd.array([r[0] for r in ordered_rows], dtype="string"),
            "subjects": np.array([r[1] for r in ordered_rows], dtype=np.int64),
            "share": np.array(
                [r[1] / total if total else 0.0 for r in ordered_rows], dtype=np.float64
            ),
            "variants": pd.array([r[2] for r in ordered_rows], dtype="string"),
        }
    )
    return labels.rename(column), frame


def _crosstab(stage: pd.Series, other: pd.Series, columns: Sequence[str]) -> pd.DataFrame:
    """Subjects per stage (rows, ``STAGE_LABELS``) and value (columns, in the given order)."""
    lookup = _pair_counts(stage, other)
    data: dict[str, Any] = {"stage": pd.array(list(STAGE_LABELS), dtype="string")}
    for col in columns:
        # A value spelled "stage" must not overwrite the row labels.
        name = f"{col} (value)" if col == "stage" else col
        data[name] = np.array([lookup.get((r, col), 0) for r in STAGE_LABELS], dtype=np.int64)
    return pd.DataFrame(data)


def _pair_counts(rows: pd.Series, columns: pd.Series) -> dict[tuple[str, str], int]:
    """How many times each (row label, column label) pair occurs (two aligned label series)."""
    pairs = pd.DataFrame({"r": rows.to_numpy(dtype=object), "c": columns.to_numpy(dtype=object)})
    counts = pairs.groupby(["r", "c"]).size().reset_index(name="n")
    return {
        (str(r), str(c)): int(n)
        for r, c, n in zip(counts["r"], counts["c"], counts["n"], strict=True)
    }


def _view_table(table: pd.DataFrame, view_order: Sequence[str]) -> pd.DataFrame:
    view = table["view"].astype("string").fillna(NO_VIEW)
    present = table["path"].notna()
    ok = (table["status"] == "ok").fillna(False).astype(bool)
    rows = []
    for name in [*view_order, ALL]:
        mask = pd.Series(True, index=table.index) if name == ALL else (view == name)
        n_files = int((mask & present).sum())
        n_ok = int((mask & present & ok).sum())
        rows.append((name, n_files, int((mask & ~present).sum()), n_ok, n_files - n_ok))
    return pd.DataFrame(
        {
            "view": pd.array([r[0] for r in rows], dtype="string"),
            "images": np.array([r[1] for r in rows], dtype=np.int64),
            "missing": np.array([r[2] for r in rows], dtype=np.int64),
            "ok": np.array([r[3] for r in rows], dtype=np.int64),
            "problems": np.array([r[4] for r in rows], dtype=np.int64),
        }
    )


def _size_table(images: pd.DataFrame, view: pd.Series, view_order: Sequence[str]) -> pd.DataFrame:
    measures = {name: fn(images) for name, fn in _SIZE_MEASURES.items()}
    rows: list[dict[str, Any]] = []
    for name in [*view_order, ALL]:
        mask = pd.Series(True, index=images.index) if name == ALL else (view == name)
        for measure, values in measures.items():
            known = values[mask.to_numpy(dtype=bool)].dropna().astype("float64")
            quart = (
                known.quantile([0.0, 0.25, 0.5, 0.75, 1.0]).to_list()
                if len(known)
                else [math.nan] * 5
            )
            rows.append(
                {
                    "view": name,
                    "measure": measure,
                    "count": len(known),
                    "min": quart[0],
                    "q1": quart[1],
                    "median": quart[2],
                    "q3": quart[3],
                    "max": quart[4],
                }
            )
    frame = pd.DataFrame(rows)
    frame["view"] = frame["view"].astype("string")
    frame["measure"] = frame["measure"].astype("string")
    return frame


def _by_view(
    column: str, values: pd.Series, view: pd.Series, view_order: Sequence[str]
) -> pd.DataFrame:
    """Images per value (rows, most common first) and view (columns), with an ``all`` column."""
    values = values.astype("string")
    totals = values.value_counts()
    order = sorted((str(k) for k in totals.index), key=lambda k: (-int(totals[k]), k))
    lookup = _pair_counts(values, view)
    data: dict[str, Any] = {column: pd.array(order, dtype="string")}
    for name in view_order:
        data[name] = np.array([lookup.get((k, name), 0) for k in order], dtype=np.int64)
    data[ALL] = np.array([int(totals[k]) for k in order], dtype=np.int64)
    return pd.DataFrame(data)


def _facts(
    subjects: pd.DataFrame,
    images: pd.DataFrame,
    table: pd.DataFrame,
    stages: pd.DataFrame,
    ages: pd.Series,
    folds: int,
) -> dict[str, Any]:
    per_stage = stages[stages["stage"] != MISSING].set_index("stage")["subjects"]
    present = per_stage[per_stage > 0]
    # The first stage wins a tie, so the facts do not depend on row order.
    largest = str(present.idxmax()) if len(present) else None
    smallest = str(present.idxmin()) if len(present) else None
    known_age = subjects["age"].dropna().astype("float64")
    n_ok = int((images["status"] == "ok").fillna(False).astype(bool).sum())

    def age(fn: Callable[[pd.Series], float]) -> float | None:
        if not len(known_age):
            return None
        value = float(fn(known_age))
        return None if math.isnan(value) else value

    return {
        "subjects": len(subjects),
        "images": len(images),
        "images_ok": n_ok,
        "images_with_problems": len(images) - n_ok,
        "missing_views": int(table["path"].isna().sum()),
        "extra_images": int(images["view"].isna().sum()),
        "stage_missing": int(subjects["stage"].isna().sum()),
        "stages_present": len(present),
        "absent_stages": [str(s) for s, n in per_stage.items() if int(n) == 0],
        "largest_stage": largest,
        "smallest_stage": smallest,
        "imbalance_ratio": float(present.max() / present.min()) if len(present) else None,
        "folds": folds,
        "too_few_for_folds": list(stages.loc[stages["too_few_for_folds"], "stage"].astype(str)),
        "age_known": len(known_age),
        "age_missing": int((ages == MISSING).sum()),
        "age_out_of_range": int((ages == OUT_OF_RANGE).sum()),
        "age_min": int(known_age.min()) if len(known_age) else None,
        "age_max": int(known_age.max()) if len(known_age) else None,
        "age_mean": age(lambda s: float(s.mean())),
        "age_median": age(lambda s: float(s.median())),
        "age_std": age(lambda s: float(s.std())),
        "gender_missing": int(subjects["gender"].isna().sum()),
        "ethnicity_missing": int(subjects["ethnicity"].isna().sum()),
    }


# --------------------------------------------------------------------------- output helpers


def check_output_dir(path: str | os.PathLike[str], option: str) -> Path:
    """Fail early when an output folder cannot be made or used (its parent must exist)."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputError(f"{option} {p}: is a file; give a folder", code="output-not-folder")
    if not p.exists() and not p.parent.is_dir():
        raise OutputError(
            f"{option} {p}: folder {p.parent} does not exist; create it first",
            code="output-parent-missing",
        )
    where = p if p.exists() else p.parent
    if not os.access(where, os.W_OK):
        raise OutputError(
            f"{option} {p}: folder {where} is not writable; choose another place",
            code="output-not-writable",
        )
    return p


def _plain(value: Any) -> Any:
    """A JSON-safe value: scalars as ``schema.plain``, lists item by item, anything else as text."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    value = plain(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    columns = [str(c) for c in frame.columns]
    return [
        {c: _plain(v) for c, v in zip(columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]


def _csv_value(value: Any) -> str:
    v = _plain(value)
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
    v = _plain(value)
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


def _display(frame: pd.DataFrame) -> pd.DataFrame:
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
