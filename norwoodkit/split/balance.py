"""How good a split is: sizes against targets, and the balance of each stratum across splits.

Balance is computed by one pair of functions, :func:`shares` (the share of each stratum value
within each split and overall) and :func:`max_deviation_pp` (each split's largest gap to the
overall share, in percentage points); ``split`` reports them in its ``Quality`` and the HTML
report in its split section, so both show the same numbers for the same split.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from norwoodkit.columns import plain
from norwoodkit.errors import ParameterError
from norwoodkit.split.assignment import Assignment
from norwoodkit.split.bound import rounding_bound
from norwoodkit.split.spec import SplitSpec
from norwoodkit.strata import sorted_labels, stratum_column

__all__ = ["OVERALL", "Quality", "max_deviation_pp", "quality", "shares"]

#: The row of :func:`shares` that holds the whole population's shares.
OVERALL = "overall"


def shares(
    labels: pd.Series,
    split: pd.Series,
    names: Sequence[str],
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The share of each label within each split, and overall.

    Args:
        labels: each subject's stratum label.
        split: each subject's split name, aligned with ``labels``.
        names: the splits to show, in order; a split without subjects gets NaN shares.
        columns: the labels to show, in order; None: those present, in ``strata.label_key``
            order.

    Returns:
        Rows ``names`` then ``OVERALL`` (index named ``split``), one float column per label.
    """
    values = sorted_labels(labels) if columns is None else list(columns)
    rows = list(names)
    counts = pd.crosstab(split, labels).reindex(index=rows, columns=values, fill_value=0)
    sizes = split.value_counts().reindex(rows, fill_value=0)
    table = counts.div(sizes.where(sizes > 0), axis=0)
    table.loc[OVERALL] = labels.value_counts().reindex(values, fill_value=0) / len(labels)
    table.index.name = "split"
    table.columns.name = None
    return table.astype(float)


def max_deviation_pp(table: pd.DataFrame) -> pd.Series:
    """Each split's largest ``|share in split - overall share|`` over the labels of a
    :func:`shares` table, in percentage points; NaN for a split without subjects."""
    rows = table.drop(index=OVERALL)
    return (rows - table.loc[OVERALL]).abs().max(axis=1) * 100.0


@dataclass(frozen=True)
class Quality:
    """How close a split came to its targets, beside the best integer counts allow.

    ``per_split`` (one row per split name): ``subjects``, ``groups``, ``share`` and
    ``target_share`` (fractions), ``size_dev_pp``, ``max_stage_dev_pp``, ``max_age_dev_pp``.
    ``stage_shares``: share of each stage (columns, "missing" last) in each split and
    ``overall`` (rows). Deviations are in percentage points; an empty split has NaN shares and
    is left out of the maxima. The bounds are ``rounding_bound`` at the achieved sizes.
    """

    per_split: pd.DataFrame
    stage_shares: pd.DataFrame
    max_stage_dev_pp: float
    max_age_dev_pp: float
    max_size_dev_pp: float
    stage_bound_pp: float
    age_bound_pp: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready document with stable keys; NaN becomes None."""
        per_split = self.per_split.reset_index().to_dict(orient="records")
        by_split = self.stage_shares.to_dict(orient="index")
        return {
            "per_split": [{str(k): plain(v) for k, v in row.items()} for row in per_split],
            "stage_shares": {
                str(split): {str(k): plain(v) for k, v in row.items()}
                for split, row in by_split.items()
            },
            "max_stage_dev_pp": plain(self.max_stage_dev_pp),
            "max_age_dev_pp": plain(self.max_age_dev_pp),
            "max_size_dev_pp": plain(self.max_size_dev_pp),
            "stage_bound_pp": plain(self.stage_bound_pp),
            "age_bound_pp": plain(self.age_bound_pp),
        }


def quality(subjects: pd.DataFrame, split: Assignment | pd.Series, spec: SplitSpec) -> Quality:
    """Measure a split: sizes, stage and age-bin deviations, and their rounding bounds.

    Args:
        subjects: one row per subject with ``subject_id`` and ``group_id``.
        split: an Assignment, or each subject's split name (a Series indexed like
            ``subjects``, as ``assign`` returns).
        spec: the splits that were asked for.

    Stage deviations use the ``stage`` column and age deviations ``age_bin`` (or ``age``),
    whatever ``spec.stratify`` says; a table without them reports NaN.

    Raises:
        ParameterError: (parameter "split") when ``split`` leaves a subject out or names a
            split that ``spec`` does not have.
    """
    names = list(spec.names)
    label = _split_of_subjects(subjects, split, spec)
    n = len(subjects)
    counts = label.value_counts().reindex(names, fill_value=0).astype(int)
    share = counts / n if n else counts.astype(float)
    target = pd.Series(spec.shares, index=names)
    groups = subjects["group_id"].astype("string").fillna(subjects["subject_id"].astype("string"))
    stage = stratum_column(subjects, "stage")
    age = stratum_column(subjects, "age_bin")
    stage_shares, stage_dev = _balance(stage, label, names)
    _, age_dev = _balance(age, label, names)
    size_dev = (share - target).abs() * 100.0
    per_split = pd.DataFrame(
        {
            "subjects": counts,
            "groups": groups.groupby(label).nunique().reindex(names, fill_value=0).astype(int),
            "share": share.astype(float),
            "target_share": target,
            "size_dev_pp": size_dev.astype(float),
            "max_stage_dev_pp": stage_dev.astype(float),
            "max_age_dev_pp": age_dev.astype(float),
        },
        index=pd.Index(names, name="split"),
    )
    sizes = [int(c) for c in counts]
    return Quality(
        per_split=per_split,
        stage_shares=stage_shares,
        max_stage_dev_pp=_nanmax(stage_dev),
        max_age_dev_pp=_nanmax(age_dev),
        max_size_dev_pp=_nanmax(size_dev),
        stage_bound_pp=_bound(stage, sizes),
        age_bound_pp=_bound(age, sizes),
    )


def _split_of_subjects(
    subjects: pd.DataFrame, split: Assignment | pd.Series, spec: SplitSpec
) -> pd.Series:
    """Each subject's split name, checked against the spec."""
    if isinstance(split, Assignment):
        split = split.lookup(subjects["subject_id"])
    elif len(split) != len(subjects) or not split.index.equals(subjects.index):
        split = split.reindex(subjects.index)
    unknown = set(split.dropna().astype(str)) - set(spec.names)
    if bool(split.isna().any()) or unknown:
        raise ParameterError(
            "split",
            "must give every subject one of the spec's splits "
            f"({', '.join(spec.names)}); found {sorted(unknown) or 'missing values'}",
        )
    return split.astype("string").rename("split")


def _balance(
    labels: pd.Series | None, split: pd.Series, names: Sequence[str]
) -> tuple[pd.DataFrame, pd.Series]:
    if labels is None:
        empty = pd.DataFrame(index=pd.Index([*names, OVERALL], name="split"), dtype=float)
        return empty, pd.Series(math.nan, index=list(names))
    table = shares(labels, split, names)
    return table, max_deviation_pp(table)


def _bound(labels: pd.Series | None, sizes: Sequence[int]) -> float:
    if labels is None:
        return math.nan
    counts = {str(k): int(v) for k, v in labels.value_counts().items()}
    return rounding_bound(counts, sizes)


def _nanmax(values: pd.Series) -> float:
    known = values.dropna()
    return float(known.max()) if len(known) else math.nan
