"""ProbedDataset -> summary tables: stages, ages, demographics, images and their quality per view.

No image is opened again: every number comes from the table that ``dataset.load`` and
``probe.run`` built (sizes, formats and modes are probe columns). ``summarize`` returns a
``Summary``: named plain tables (pandas, default index) plus scalar facts, rendered four ways
from one formatter: ``to_dict`` (``--json``), ``to_markdown``, ``write_csv_dir`` and
``rich_tables`` (the wording and layout live in ``stats_render``).

Nothing is dropped silently: a subject with no stage, no age or no gender is counted in a
``missing`` row, an age outside every bin in an ``out of range`` row, an image whose file name
names no view in a ``(no view)`` row.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from norwoodkit import stats_render as render
from norwoodkit.atomic import write_text_atomic
from norwoodkit.columns import QUALITY_COLUMNS
from norwoodkit.dataset import ProbedDataset, decoded
from norwoodkit.errors import InputError, ParameterError
from norwoodkit.labels import VIEWS, category_key
from norwoodkit.paths import guard_output
from norwoodkit.stats_render import FACT_LABELS, TABLE_TITLES, format_value
from norwoodkit.storage import Location
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
    "QUALITY_MEASURES",
    "STAGE_LABELS",
    "TABLE_TITLES",
    "AgeBins",
    "Summary",
    "age_bin_labels",
    "check_age_bins",
    "format_value",
    "parse_age_bins",
    "stage_labels",
    "summarize",
]

#: Row label of image files whose name is not one of the five views.
NO_VIEW = "(no view)"
#: Column or row label of a total over views.
ALL = "all"

#: Measures of ``image_sizes``: name -> how to compute it from the images table.
_SIZE_MEASURES: dict[str, Callable[[pd.DataFrame], pd.Series]] = {
    "width": lambda t: t["oriented_width"].astype("Float64"),
    "height": lambda t: t["oriented_height"].astype("Float64"),
    "megapixels": lambda t: (
        t["oriented_width"].astype("Float64") * t["oriented_height"].astype("Float64") / 1e6
    ),
    "bytes": lambda t: t["size"].astype("Float64"),
}

#: The probe's quality measures (``probe/quality.py``) that ``quality`` summarises per view.
QUALITY_MEASURES = ("sharpness", "brightness", "dark_fraction", "bright_fraction", "entropy")

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
            "facts": {k: render.json_value(v) for k, v in self.facts.items()},
            "tables": {name: render.json_records(frame) for name, frame in self.tables.items()},
        }

    def facts_frame(self) -> pd.DataFrame:
        """The facts as a two-column table (``fact``, ``value``), values as display text."""
        return render.facts_frame(self.facts)

    def display_frame(self, name: str) -> pd.DataFrame:
        """A table as display text (shares as percentages, floats rounded), for any renderer."""
        return render.display(self.tables[name])

    def to_markdown(self, title: str | None = None) -> str:
        """One Markdown document: a heading and a pipe table for the facts and every table."""
        return render.markdown(self, title)

    def write_csv_dir(
        self,
        directory: str | os.PathLike[str],
        *,
        dataset_root: str | os.PathLike[str] | Location | None = None,
    ) -> list[Path]:
        """Write ``facts.csv`` and one ``<table>.csv`` per table, each atomically.

        The folder is created when its parent exists. Returns the paths written. Pass the
        dataset's ``dataset_root`` so that a folder inside it is refused.

        Raises:
            OutputError: refused by ``paths.guard_output``.
        """
        return render.write_csv_dir(self, directory, dataset_root)

    def write_markdown(
        self,
        path: str | os.PathLike[str],
        *,
        dataset_root: str | os.PathLike[str] | Location | None = None,
    ) -> None:
        """``to_markdown`` written atomically to ``path`` (refused inside ``dataset_root``)."""
        target = guard_output(path, "path", dataset_root=dataset_root, kind="file")
        write_text_atomic(target, self.to_markdown())

    def rich_tables(self) -> list[Table]:
        """Rich tables for the terminal: the overview, then every table."""
        return render.rich_tables(self)


# --------------------------------------------------------------------------- summarize


#: The probe columns ``summarize`` reads (a warm ``stats`` reads only these from the cache).
PROBE_READS = frozenset(
    {"status", "size", "format", "mode", "orientation", "oriented_width", "oriented_height"}
    | set(QUALITY_COLUMNS)
)


def summarize(dataset: ProbedDataset, *, folds: int = 5, age_bins: AgeBins = AGE_BINS) -> Summary:
    """Describe a probed dataset in tables; no image is read (see ``probe.run``).

    Args:
        dataset: from ``probe.run(dataset.load(root))``.
        folds: a stage with fewer subjects than this cannot reach every fold of a stratified
            k-fold split; such stages are listed in ``too_few_for_folds``.
        age_bins: ``(lo, hi)`` bins, both ends inclusive, young to old.

    Raises:
        ParameterError: ``folds`` is not a whole number of at least 2.
        InputError: the dataset has no subjects, or the age bins are bad.
    """
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ParameterError(
            "folds", f"got {folds!r}; a k-fold split needs at least 2 folds, e.g. 5"
        )
    bins = check_age_bins(age_bins)
    dataset.require(PROBE_READS, "stats")
    table = dataset.table
    if table.empty or table["subject_id"].dropna().empty:
        raise InputError(
            f"{dataset.root}: the dataset has no subjects (no annotation records and no subject "
            "folders); check the dataset folder and its annotation file",
            code="dataset-empty",
        )
    subjects = dataset.subjects
    images = table[table["path"].notna()]
    ages = age_bin_labels(subjects["age"], bins)
    tables = _subject_tables(subjects, images, ages, bins, folds)
    tables.update(_image_tables(table, images))
    return Summary(
        tables=tables,
        facts=_facts(subjects, images, table, tables["stages"], ages, folds),
        dataset=dataset.root.name or str(dataset.root),
        folds=folds,
        age_bins=bins,
    )


def _subject_tables(
    subjects: pd.DataFrame, images: pd.DataFrame, ages: pd.Series, bins: AgeBins, folds: int
) -> dict[str, pd.DataFrame]:
    """Stages, age bins, gender and ethnicity, and the stage cross-tabs, in output order."""
    stage = stage_labels(subjects["stage"])
    age_order = [*(bin_label(lo, hi) for lo, hi in bins), OUT_OF_RANGE, MISSING]
    gender, gender_table = _categories(subjects["gender"])
    ethnicity, ethnicity_table = _categories(subjects["ethnicity"])
    return {
        "stages": _stage_table(stage, stage_labels(images["stage"]), folds),
        "age_bins": _count_table("age_bin", ages, age_order),
        "gender": gender_table,
        "ethnicity": ethnicity_table,
        "stage_by_age_bin": _crosstab(stage, ages, age_order),
        "stage_by_ethnicity": _crosstab(stage, ethnicity, list(ethnicity_table["ethnicity"])),
        "stage_by_gender": _crosstab(stage, gender, list(gender_table["gender"])),
    }


def _image_tables(table: pd.DataFrame, images: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Files per view, sizes, formats, modes, orientation tags and quality, in output order."""
    view_order = [v.value for v in VIEWS]
    if bool(images["view"].isna().any()):
        view_order.append(NO_VIEW)
    view = images["view"].astype("string").fillna(NO_VIEW)
    orient = images["orientation"].astype("Int64").astype("string").fillna("none")
    return {
        "views": _view_table(table, view_order),
        "image_sizes": _size_table(images, view, view_order),
        "formats": _by_view("format", images["format"].fillna("unknown"), view, view_order),
        "modes": _by_view("mode", images["mode"].fillna("unknown"), view, view_order),
        "orientations": _by_view("orientation", orient, view, view_order),
        "quality": _quality_table(images, view, view_order),
        "grayscale": _grayscale_table(images, view, view_order),
    }


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
    ok = decoded(table)
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


def _quality_table(
    images: pd.DataFrame, view: pd.Series, view_order: Sequence[str]
) -> pd.DataFrame:
    """Median and interquartile range of each quality measure, per view and overall.

    ``not_measured`` counts the view's image files whose measure is NaN: not decoded, or not
    measurable (the probe's ``quality_note`` says why, image by image).
    """
    rows: list[dict[str, Any]] = []
    for name in [*view_order, ALL]:
        mask = np.ones(len(images), dtype=bool) if name == ALL else (view == name).to_numpy(bool)
        for measure in QUALITY_MEASURES:
            values = images[measure].to_numpy(dtype=np.float64, na_value=np.nan)[mask]
            known = values[np.isfinite(values)]
            q1, median, q3 = np.quantile(known, [0.25, 0.5, 0.75]) if len(known) else [math.nan] * 3
            rows.append(
                {
                    "view": name,
                    "measure": measure,
                    "measured": len(known),
                    "not_measured": len(values) - len(known),
                    "median": float(median),
                    "q1": float(q1),
                    "q3": float(q3),
                    "iqr": float(q3 - q1),
                }
            )
    frame = pd.DataFrame(rows)
    frame["view"] = frame["view"].astype("string")
    frame["measure"] = frame["measure"].astype("string")
    return frame


def _grayscale_table(
    images: pd.DataFrame, view: pd.Series, view_order: Sequence[str]
) -> pd.DataFrame:
    """Per view and overall: images whose colour was judged, and how many carry none."""
    grey = images["grayscale"].astype("boolean")
    rows = []
    for name in [*view_order, ALL]:
        mask = pd.Series(True, index=images.index) if name == ALL else (view == name)
        judged = grey[mask.to_numpy(dtype=bool)].dropna()
        n_grey = int(judged.sum())
        rows.append((name, len(judged), n_grey, n_grey / len(judged) if len(judged) else 0.0))
    return pd.DataFrame(
        {
            "view": pd.array([r[0] for r in rows], dtype="string"),
            "measured": np.array([r[1] for r in rows], dtype=np.int64),
            "grayscale": np.array([r[2] for r in rows], dtype=np.int64),
            "share": np.array([r[3] for r in rows], dtype=np.float64),
        }
    )


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
    n_ok = int(decoded(images).sum())

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
