"""A split in the report: the split file, each split's stage and age balance, the section."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

import pandas as pd

from norwoodkit.dataset import Dataset
from norwoodkit.labels import id_sort_key
from norwoodkit.split.assignment import Assignment, read_assignment
from norwoodkit.split.balance import max_deviation_pp, shares
from norwoodkit.strata import (
    AGE_BINS,
    STAGE_LABELS,
    AgeBins,
    age_bin_labels,
    age_bin_order,
    stage_labels,
)

if TYPE_CHECKING:
    from norwoodkit.dedupe import DedupeResult

from norwoodkit.report.markup import display_frame, esc, html_table

log = logging.getLogger(__name__)


#: Split label of dataset subjects that the split assignment does not mention.
UNASSIGNED = "(unassigned)"


def read_splits(path: str | os.PathLike[str]) -> Assignment:
    """Read a split file (any that ``split --check`` reads) into an Assignment.

    Raises:
        InputError: the file is missing, empty, of an unknown header, or puts a subject in two
            splits.
    """
    return read_assignment(path, "--splits")


def split_assignment(splits: Assignment | pd.DataFrame) -> Assignment:
    """Subject id -> split name, from a table with ``subject_id`` and ``split`` columns (an
    Assignment is returned as it is).

    Ids are made canonical (``"001"`` and ``1`` are ``"1"``); a per-image table (one row per
    image, the same split for a subject's rows) is accepted.

    Raises:
        InputError: a column is missing, an id or split is blank, or a subject is in two splits.
    """
    return Assignment.of(splits)


def split_balance(
    dataset: Dataset, assignment: Assignment, age_bins: AgeBins = AGE_BINS
) -> dict[str, pd.DataFrame]:
    """Each split's size and its stage and age-bin balance.

    Returns:
        ``splits``: split, subjects, images, share, age_mean, age_median, max_stage_dev_pp,
        max_age_dev_pp (largest gap between a stage's or bin's share in the split and overall,
        in percentage points, as ``split`` reports it); ``stage_shares`` and ``age_shares``: the
        share of each stage / age bin (columns) in each split and ``overall`` (rows). Dataset
        subjects the assignment leaves out form the split ``UNASSIGNED``.
    """
    subjects = dataset.subjects
    split = _subject_splits(subjects, assignment)
    images = dataset.table[dataset.table["path"].notna()]
    image_split = (
        images["subject_id"]
        .astype(str)
        .map(dict(zip(subjects["subject_id"].astype(str), split, strict=True)))
    )
    order = _split_order(split, assignment)
    stage_shares = shares(stage_labels(subjects["stage"]), split, order, STAGE_LABELS)
    ages = age_bin_labels(subjects["age"], age_bins)
    age_shares = shares(ages, split, order, age_bin_order(age_bins))
    stage_dev, age_dev = max_deviation_pp(stage_shares), max_deviation_pp(age_shares)
    known_age = subjects["age"].astype("Float64")
    rows = []
    n = len(subjects)
    for name in order:
        mask = (split == name).to_numpy()
        ages_in = known_age[mask].dropna().astype("float64")
        rows.append(
            {
                "split": name,
                "subjects": int(mask.sum()),
                "images": int((image_split == name).sum()),
                "share": float(mask.sum()) / n if n else 0.0,
                "age_mean": float(ages_in.mean()) if len(ages_in) else float("nan"),
                "age_median": float(ages_in.median()) if len(ages_in) else float("nan"),
                "max_stage_dev_pp": float(stage_dev[name]),
                "max_age_dev_pp": float(age_dev[name]),
            }
        )
    frame = pd.DataFrame(rows)
    frame["split"] = frame["split"].astype("string")
    return {
        "splits": frame,
        "stage_shares": _split_column(stage_shares),
        "age_shares": _split_column(age_shares),
    }


def _split_column(table: pd.DataFrame) -> pd.DataFrame:
    """A ``split.shares`` table with its split names as the first column, as the page shows it."""
    return table.reset_index().astype({"split": "string"})


def split_lookup(dataset: Dataset, assignment: Assignment | None) -> dict[str, str]:
    if assignment is None:
        return {}
    subjects = dataset.subjects
    split = _subject_splits(subjects, assignment)
    return dict(zip(subjects["subject_id"].astype(str), split.astype(str), strict=True))


def _subject_splits(subjects: pd.DataFrame, assignment: Assignment) -> pd.Series:
    return assignment.lookup(subjects["subject_id"], default=UNASSIGNED)


def _split_order(split: pd.Series, assignment: Assignment) -> list[str]:
    present = set(split.astype(str))
    order = [n for n in assignment.names if n in present]
    if UNASSIGNED in present:
        order.append(UNASSIGNED)
    return order


def splits_section(
    dataset: Dataset,
    assignment: Assignment,
    age_bins: AgeBins,
    dedupe: DedupeResult | None,
) -> str:
    balance = split_balance(dataset, assignment, age_bins)
    known = set(dataset.subjects["subject_id"].astype(str))
    extra = sorted((s for s in assignment.subjects if s not in known), key=id_sort_key)
    notes = []
    if extra:
        shown = ", ".join(extra[:10]) + (" ..." if len(extra) > 10 else "")
        notes.append(
            f"<p class=warn>{len(extra)} subject(s) in the split table are not in the "
            f"dataset: {esc(shown)}</p>"
        )
    if (balance["splits"]["split"] == UNASSIGNED).any():
        frame = balance["splits"]
        n = int(frame["subjects"].to_numpy()[(frame["split"] == UNASSIGNED).to_numpy()].sum())
        notes.append(f"<p class=warn>{n} dataset subject(s) have no split ({esc(UNASSIGNED)}).</p>")
    if dedupe is not None and not dedupe.pairs.empty:
        split_of = split_lookup(dataset, assignment)
        crossing = sum(
            split_of.get(str(a), "") != split_of.get(str(b), "")
            for a, b in zip(dedupe.pairs["subject_a"], dedupe.pairs["subject_b"], strict=True)
        )
        klass = "warn" if crossing else "ok"
        notes.append(
            f"<p class={klass}>{crossing} duplicate pair(s) cross splits (leakage); "
            "see Duplicates.</p>"
        )
    return (
        "".join(notes)
        + html_table(
            display_frame(balance["splits"]),
            numeric=[c for c in balance["splits"].columns if c != "split"],
            caption="Split sizes, ages and worst share gaps (percentage points)",
        )
        + html_table(
            display_frame(balance["stage_shares"], share=True),
            numeric=[c for c in balance["stage_shares"].columns if c != "split"],
            caption="Share of each stage within each split",
        )
        + html_table(
            display_frame(balance["age_shares"], share=True),
            numeric=[c for c in balance["age_shares"].columns if c != "split"],
            caption="Share of each age bin within each split",
        )
    )
