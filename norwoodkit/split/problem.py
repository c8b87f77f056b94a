"""The problem the search solves: a subjects table checked, labelled and reduced to group types.

Labelling is :func:`strata`: each stratify column's values as stratum labels, a stage or age
bin with fewer subjects than splits merged into a neighbour (or, in strict mode, refused), so
that the search and the quality see the same strata.

Groups with the same *type* (size and number of subjects per stratify value) are
interchangeable for every number the split balances, so the search runs on a small matrix
``M[type, split]`` of group counts instead of on subjects: single-subject groups with stages
1-7 and 5 age bins, "missing" counted in both, make at most 8 x 6 = 48 types, for 480 subjects
as for 100,000.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from norwoodkit.errors import InputError, ParameterError
from norwoodkit.split.spec import Mode, SplitSpec, target_sizes
from norwoodkit.strata import (
    MERGEABLE,
    MISSING,
    StratumMerge,
    label_key,
    merge_small,
    sorted_labels,
    stratum_column,
)

__all__ = ["FloatArray", "IntArray", "Prepared", "Problem", "Strata", "prepare", "strata"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def _check_subjects(subjects: pd.DataFrame, spec: SplitSpec) -> None:
    missing = [c for c in ("subject_id", "group_id") if c not in subjects.columns]
    if missing:
        raise InputError(
            f"subjects table lacks column(s) {', '.join(missing)}; it has "
            f"{', '.join(map(str, subjects.columns))}",
            code="missing-column",
        )
    absent = [c for c in spec.stratify if stratum_column(subjects, c) is None]
    if absent:
        raise ParameterError(
            "stratify",
            f"the subjects table has no column {', '.join(absent)} to balance; choose from "
            f"{', '.join(map(str, subjects.columns))}, e.g. stage,age_bin",
            code="missing-column",
        )
    ids = subjects["subject_id"].astype("string")
    if bool(ids.isna().any()):
        raise InputError("subjects table has rows without a subject_id", code="bad-subject")
    dupes = ids[ids.duplicated()].astype(str).unique().tolist()
    if dupes:
        raise InputError(
            f"subject_id must be unique, repeated: {', '.join(sorted(dupes)[:10])}",
            code="duplicate-subject",
        )


def _folds_fix(spec: SplitSpec, fewest: int, merge: str) -> str:
    fewer = f"Use --folds {fewest} or fewer, or merge" if fewest >= 2 else "Merge"
    return (
        f"{len(spec.names)} folds were asked for: every fold needs at least one subject of each "
        f"stage. {fewer} stage {merge} with a neighbouring stage"
    )


def _ratios_fix(spec: SplitSpec, fewest: int, merge: str) -> str:
    fewer = f"Use at most {fewest} splits, or merge" if fewest >= 2 else "Merge"
    return (
        f"{len(spec.names)} splits ({', '.join(spec.names)}) were asked for: each split needs at "
        f"least one subject of every stage. {fewer} stage {merge} with a neighbouring stage"
    )


_TOO_FEW_FIX: dict[Mode, Callable[[SplitSpec, int, str], str]] = {
    "folds": _folds_fix,
    "ratios": _ratios_fix,
}


def _too_few_message(spec: SplitSpec, short: list[tuple[str, int]]) -> str:
    listed = "; ".join(f"stage {s} has {n} subject{'s' if n != 1 else ''}" for s, n in short)
    fewest = min(n for _, n in short)
    merge = ", ".join(s for s, _ in short)
    return (
        f"{listed}, but {_TOO_FEW_FIX[spec.mode](spec, fewest, merge)}. Without --strict "
        "(strict=False in Python) these stages would be merged with a neighbouring stage instead"
    )


def _check_total(spec: SplitSpec, n: int) -> None:
    k = len(spec.names)
    if n < k:
        raise InputError(
            f"{n} subject(s) cannot fill {k} splits ({', '.join(spec.names)}): "
            f"use fewer splits or add subjects",
            code="too-few-subjects",
        )


def _refuse_small_stages(labels: dict[str, pd.Series], spec: SplitSpec) -> None:
    """Strict mode: a stage with fewer subjects than splits stops the split."""
    k = len(spec.names)
    stage = labels.get("stage")
    if stage is None:
        return
    counts = stage[stage != MISSING].value_counts()
    short = sorted(
        ((str(s), int(c)) for s, c in counts.items() if int(c) < k),
        key=lambda sc: label_key(sc[0]),
    )
    if short:
        raise InputError(_too_few_message(spec, short), code="too-few-subjects")


@dataclass(frozen=True)
class Strata:
    """Each stratify column's labels as the split balances them, and the merges made."""

    labels: dict[str, pd.Series]  # per stratify column, indexed like the table
    merges: tuple[StratumMerge, ...]  # stages first, then age bins, each in label order


def strata(subjects: pd.DataFrame, spec: SplitSpec, *, strict: bool = False) -> Strata:
    """Label each stratify column of a subjects table, merging strata too small for the splits.

    A stage or age-bin stratum with fewer subjects than splits joins a neighbour (see
    ``strata.merge_small``); other columns, ``missing`` and ``out of range`` are kept as they
    are. With ``strict`` nothing is merged and a too-small stage is refused instead.

    Raises:
        ParameterError: (parameter "stratify") a stratify column the table lacks.
        InputError: (code "too-few-subjects") fewer subjects than splits; with ``strict``, a
            stage (1-7; "missing" is exempt) with fewer subjects than splits.
    """
    _check_subjects(subjects, spec)
    _check_total(spec, len(subjects))
    labels: dict[str, pd.Series] = {}
    for name in spec.stratify:
        column = stratum_column(subjects, name)
        assert column is not None
        labels[name] = column
    if strict:
        _refuse_small_stages(labels, spec)
        return Strata(labels, ())
    merges: list[StratumMerge] = []
    for name in (c for c in MERGEABLE if c in labels):
        labels[name], made = merge_small(labels[name], name, len(spec.names))
        merges += made
    return Strata(labels, tuple(merges))


@dataclass(frozen=True)
class Problem:
    """Groups reduced to types: what the search needs, nothing about who is in them."""

    ext: IntArray  # types x (1 + F): group size, then subjects per stratify value
    count: IntArray  # types: how many groups have the type
    columns: tuple[slice, ...]  # each stratify column's slice of ext (after the size column)
    totals: IntArray  # F: subjects per stratify value
    p: FloatArray  # F: overall share of each value within its column
    target: IntArray  # splits: integer target sizes
    shares: FloatArray  # splits: target shares


def _reduce(
    labels: dict[str, pd.Series], group_codes: IntArray, n_groups: int, spec: SplitSpec
) -> tuple[Problem, IntArray]:
    """Count each group's subjects per stratify value and collapse identical groups to types."""
    n = len(group_codes)
    parts: list[IntArray] = [np.bincount(group_codes, minlength=n_groups).astype(np.int64)]
    slices: list[slice] = []
    offset = 1
    for name in spec.stratify:
        column = labels[name]
        values = sorted_labels(column)
        codes = pd.Categorical(column, categories=values).codes.astype(np.int64)
        flat = np.bincount(group_codes * len(values) + codes, minlength=n_groups * len(values))
        parts.append(flat.reshape(n_groups, len(values)).astype(np.int64))
        slices.append(slice(offset, offset + len(values)))
        offset += len(values)
    per_group = np.column_stack(parts)
    ext, type_of, count = np.unique(per_group, axis=0, return_inverse=True, return_counts=True)
    totals = per_group[:, 1:].sum(axis=0).astype(np.int64)
    problem = Problem(
        ext=ext.astype(np.int64),
        count=count.astype(np.int64),
        columns=tuple(slices),
        totals=totals,
        p=totals / n,
        target=np.array(target_sizes(n, spec), dtype=np.int64),
        shares=np.array(spec.shares, dtype=np.float64),
    )
    return problem, type_of.reshape(-1).astype(np.int64)


@dataclass(frozen=True)
class Prepared:
    """A subjects table made ready for the search: its groups, their types, the problem."""

    index: pd.Index  # the subjects' index, sorted by subject id (the order codes refer to)
    group_codes: IntArray  # subjects: which group each belongs to
    type_of: IntArray  # groups: which type each has
    problem: Problem


def prepare(subjects: pd.DataFrame, spec: SplitSpec, *, strict: bool = False) -> Prepared:
    """Check a subjects table, label its strata (merging too-small ones unless ``strict``, see
    :func:`strata`) and reduce its groups to types.

    Rows are taken in subject id order, so the result does not depend on the input's order.

    Raises:
        InputError: a needed column is absent or subject ids repeat; or what :func:`strata`
            raises.
        ParameterError: (parameter "stratify") a stratify column the table lacks.
    """
    _check_subjects(subjects, spec)
    ids = subjects["subject_id"].astype("string")
    order = np.argsort(ids.to_numpy(dtype=str), kind="stable")
    table = subjects.iloc[order]
    labels = {
        name: column.reset_index(drop=True)
        for name, column in strata(table, spec, strict=strict).labels.items()
    }
    own = table["subject_id"].astype("string")
    group = table["group_id"].astype("string").fillna(own).to_numpy(dtype=str)
    group_ids, group_codes = np.unique(group, return_inverse=True)
    group_codes = group_codes.reshape(-1).astype(np.int64)
    problem, type_of = _reduce(labels, group_codes, len(group_ids), spec)
    return Prepared(table.index, group_codes, type_of, problem)
