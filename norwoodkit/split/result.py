"""Split a probed dataset: ``make`` leaves out what cannot be used, joins subjects that share a
duplicate photo into groups, assigns the groups and returns a ``SplitResult``.

Every subject of a group (a person, merged with the other persons who share a duplicate photo,
on every dedupe tier) lands in the same split: two look-alikes kept together cost a little
balance, a real duplicate split apart leaks. Sizes come first: a user who asks for 70/15/15 of
480 subjects gets 336/72/72 whenever the groups allow it, and the strata balance is the best
possible *for those sizes*. A group too big for its split is placed anyway, and the quality
reports the size deviation.

A stage or age bin with fewer subjects than splits is merged with a neighbour first (unless
``strict``; see ``problem.strata``); the result records each merge, the subject table carries
each subject's merged stratum (``stage_stratum``, ``age_bin_stratum``) and the quality is
measured on the merged strata, the ones the search balanced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from norwoodkit.columns import plain
from norwoodkit.dataset import ProbedDataset, decoded
from norwoodkit.dedupe import excluded as excluded_rows
from norwoodkit.dedupe import find
from norwoodkit.errors import InputError
from norwoodkit.labels import id_sort_key
from norwoodkit.split.assignment import Assignment
from norwoodkit.split.balance import Quality, quality
from norwoodkit.split.problem import strata
from norwoodkit.split.search import assign
from norwoodkit.split.spec import SplitSpec, fold_index, target_sizes
from norwoodkit.strata import MERGEABLE, StratumMerge, age_bin_labels

__all__ = ["SplitResult", "make"]

_NO_USABLE_IMAGE = "no usable image (validate: missing, empty or undecodable views)"
# The stage bound is met when the worst stage deviation is within float noise of it.
_BOUND_TOL = 1e-9


@dataclass(frozen=True)
class SplitResult:
    """What :func:`make` made: assignments, the quality table and what was left out, and why."""

    subjects: pd.DataFrame  # subject_id, split (or fold), group_id, stage, age_bin
    images: pd.DataFrame  # path, subject_id, view, split (or fold)
    quality: Quality
    spec: SplitSpec
    excluded: pd.DataFrame  # subject_id, reason
    merged_groups: int  # groups of more than one subject (shared duplicate photos)
    assignment: Assignment  # subject -> split name (fold0 ... for folds), in subject id order
    strata_merges: tuple[StratumMerge, ...] = ()  # strata too small for the splits, merged

    @property
    def column(self) -> str:
        """The assignment column of the output: ``fold`` for k folds, else ``split``."""
        return "fold" if self.spec.mode == "folds" else "split"

    def stratum_columns(self) -> list[str]:
        """The merged strata columns (``stage_stratum``, ``age_bin_stratum``) that the subject
        table carries: one per column whose strata were merged, none when nothing was."""
        merged = {m.column for m in self.strata_merges}
        return [_stratum_column(c) for c in MERGEABLE if c in merged]

    def subject_table(self) -> pd.DataFrame:
        """One row per subject: subject_id, split or fold, group_id, and the merged strata
        columns when strata were merged (what ``--out`` writes)."""
        columns = ["subject_id", self.column, "group_id", *self.stratum_columns()]
        return self.subjects[columns].reset_index(drop=True)

    def image_table(self) -> pd.DataFrame:
        """One row per image: path, subject_id, view, split or fold (what ``--images`` writes)."""
        return self.images[["path", "subject_id", "view", self.column]].reset_index(drop=True)

    def target_sizes(self) -> tuple[int, ...]:
        """The integer split sizes the ratios ask for."""
        return target_sizes(len(self.subjects), self.spec)

    def sizes_met(self) -> bool:
        """True when every split has exactly its target number of subjects."""
        got = self.quality.per_split["subjects"].tolist()
        return [int(x) for x in got] == list(self.target_sizes())

    def balance_met(self) -> bool:
        """True when the worst stage deviation is at its rounding bound (no stages: True)."""
        q = self.quality
        return not q.max_stage_dev_pp > q.stage_bound_pp + _BOUND_TOL

    def meets_targets(self) -> bool:
        """True when the sizes are met and the worst stage deviation is at its rounding bound
        (what ``split --strict`` asks for); a table without stages only needs the sizes."""
        return self.sizes_met() and self.balance_met()

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document; ``strata_merges`` only when strata were merged."""
        doc: dict[str, Any] = {
            "mode": self.spec.mode,
            "names": list(self.spec.names),
            "ratios": list(self.spec.ratios) if self.spec.ratios else None,
            "folds": self.spec.folds,
            "stratify": list(self.spec.stratify),
            "seed": self.spec.seed,
            "subjects": len(self.subjects),
            "images": len(self.images),
            "target_sizes": list(self.target_sizes()),
            "sizes_met": self.sizes_met(),
            "merged_groups": self.merged_groups,
            "excluded": [
                {k: plain(v) for k, v in r.items()} for r in self.excluded.to_dict(orient="records")
            ],
            "quality": self.quality.to_dict(),
        }
        if self.strata_merges:
            # Only then: a split that merged nothing keeps the document it always had.
            doc["strata_merges"] = [m.to_dict() for m in self.strata_merges]
        return doc


def make(
    dataset: ProbedDataset,
    spec: SplitSpec,
    *,
    duplicates: pd.DataFrame | None = None,
    exclude: pd.DataFrame | None = None,
    strict: bool = False,
) -> SplitResult:
    """Split a probed dataset's subjects (see ``probe.run``), whole duplicate groups at a time.

    Args:
        dataset: a probed Dataset.
        spec: ratios or folds, strata, seed.
        duplicates: subject pairs that share a photo (``subject_a``, ``subject_b``, optionally the
            image paths ``a``, ``b``); None: found now with ``dedupe.find`` (all tiers, so a
            leak is never missed; merging two look-alikes only costs a little balance).
        exclude: an exclude list (``path`` and/or ``subject_id`` columns) applied first; a pair
            whose image was excluded no longer joins its subjects.
        strict: refuse a stage with fewer subjects than splits (``InputError``) instead of
            merging it, or a small age bin, with a neighbour.

    Raises:
        InputError: too few subjects for the splits, or none left after exclusions; with
            ``strict``, a stage with fewer subjects than splits.
        ParameterError: (parameter "stratify") a stratify column the subjects lack.
    """
    table, notes = _usable_rows(dataset, exclude)
    pairs = _pairs(dataset, table, duplicates, exclude is not None)
    subjects = dataset.with_table(table).subjects
    ids = subjects["subject_id"].astype(str).tolist()
    group_of = _subject_groups(ids, pairs)
    subjects = subjects.assign(
        subject_id=subjects["subject_id"].astype(str),
        group_id=[group_of[s] for s in ids],
        age_bin=age_bin_labels(subjects["age"]),
    )
    subjects, merges = _assigned(subjects, spec, strict)
    if spec.mode == "folds":
        subjects["fold"] = fold_index(subjects["split"], spec)
    order = {s: i for i, s in enumerate(_id_sort(ids))}
    subjects = subjects.sort_values("subject_id", key=lambda c: c.map(order)).reset_index(drop=True)
    assignment = Assignment.from_rows(subjects["subject_id"], subjects["split"])
    column = "fold" if spec.mode == "folds" else "split"
    images = table[table["path"].notna()][["path", "subject_id", "view"]].merge(
        subjects[["subject_id", column]], on="subject_id", how="left"
    )
    sizes = pd.Series(list(group_of.values())).value_counts()
    keep = ["subject_id", *(["fold"] if column == "fold" else []), "split", "group_id"]
    merged = [c for c in MERGEABLE if _stratum_column(c) in subjects.columns]
    return SplitResult(
        subjects=subjects[[*keep, "stage", "age_bin", *map(_stratum_column, merged)]],
        images=images.reset_index(drop=True),
        quality=quality(_as_balanced(subjects, merged), assignment, spec),
        spec=spec,
        excluded=pd.DataFrame(notes, columns=["subject_id", "reason"]),
        merged_groups=int((sizes > 1).sum()),
        assignment=assignment,
        strata_merges=merges,
    )


def _assigned(
    subjects: pd.DataFrame, spec: SplitSpec, strict: bool
) -> tuple[pd.DataFrame, tuple[StratumMerge, ...]]:
    """The subjects with their split and, for each merged column, their merged stratum."""
    balanced = strata(subjects, spec, strict=strict)
    merged = {_stratum_column(m.column): balanced.labels[m.column] for m in balanced.merges}
    return subjects.assign(split=assign(subjects, spec, strict=strict), **merged), balanced.merges


def _as_balanced(subjects: pd.DataFrame, merged: Sequence[str]) -> pd.DataFrame:
    """The subjects with each merged column's labels in place of its own, so that the quality
    measures the strata the search balanced."""
    return subjects.assign(**{c: subjects[_stratum_column(c)] for c in merged})


def _stratum_column(column: str) -> str:
    """The subject-table column holding a stratify column's merged strata."""
    return f"{column}_stratum"


def _usable_rows(
    dataset: ProbedDataset, exclude: pd.DataFrame | None
) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """The rows of subjects left after the exclude list and with a usable image, and a note on
    each subject left out."""
    table = dataset.table
    drop = excluded_rows(table, exclude)
    gone = set(table.loc[drop, "subject_id"].astype(str))
    left = set(table.loc[~drop, "subject_id"].astype(str))
    notes = [
        {"subject_id": s, "reason": "listed in the exclude list"}
        for s in _id_sort(list(gone - left))
    ]
    table = table[~drop]
    present = set(table.loc[decoded(table), "subject_id"].astype(str))
    for sid in _id_sort(list(set(table["subject_id"].astype(str)) - present)):
        notes.append({"subject_id": sid, "reason": _NO_USABLE_IMAGE})
    table = table[table["subject_id"].astype(str).isin(present)]
    if table.empty:
        raise InputError(
            f"{dataset.root}: no subject with a usable image left to split", code="empty-dataset"
        )
    return table, notes


def _pairs(
    dataset: ProbedDataset,
    table: pd.DataFrame,
    duplicates: pd.DataFrame | None,
    excluding: bool,
) -> pd.DataFrame:
    """The duplicate pairs that join subjects: given, or found among the usable rows; with an
    exclude list, only pairs whose both images are still in."""
    pairs = duplicates if duplicates is not None else find(dataset.with_table(table)).pairs
    if excluding and {"a", "b"} <= set(pairs.columns):
        kept = set(table["path"].dropna().astype(str))
        pairs = pairs[pairs["a"].astype(str).isin(kept) & pairs["b"].astype(str).isin(kept)]
    return pairs


def _id_sort(ids: Sequence[str]) -> list[str]:
    return sorted(ids, key=id_sort_key)


def _subject_groups(subject_ids: Sequence[str], pairs: pd.DataFrame) -> dict[str, str]:
    """Union of subjects that share a duplicate; a group is named by its first subject id."""
    parent = {s: s for s in subject_ids}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    order = {s: i for i, s in enumerate(_id_sort(list(subject_ids)))}
    for a, b in zip(pairs["subject_a"].astype(str), pairs["subject_b"].astype(str), strict=True):
        if a in parent and b in parent:
            ra, rb = root(a), root(b)
            if ra != rb:
                first, second = (ra, rb) if order[ra] < order[rb] else (rb, ra)
                parent[second] = first
    return {s: root(s) for s in subject_ids}
