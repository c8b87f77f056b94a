"""Audit a split (ours or anyone's) against a probed dataset: ``check`` returns findings.

Errors are leakage: a subject in two splits, the views of one subject in two splits (per-image
files), a duplicate photo whose subjects sit in different splits (any dedupe tier). Warnings: a
stage with no subject in some split, ids the dataset does not have, dataset subjects the split
leaves out.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from norwoodkit.dataset import ProbedDataset
from norwoodkit.dedupe import find
from norwoodkit.findings import Finding, finding, sort_findings
from norwoodkit.labels import id_sort_key
from norwoodkit.split.assignment import Assignment, SplitFile
from norwoodkit.text import few

__all__ = ["check"]


def check(
    dataset: ProbedDataset,
    split: Assignment | SplitFile,
    duplicates: pd.DataFrame | None = None,
) -> list[Finding]:
    """Audit a split against a probed dataset; the findings come sorted.

    Args:
        dataset: a probed Dataset.
        split: an Assignment, or a split file as read (``read_split_file``), whose subjects in
            two splits become findings; the rest of the audit takes each such subject at the
            first split the file gives it.
        duplicates: subject pairs that share a photo (``subject_a``, ``subject_b``; ``a``, ``b``
            and ``tier`` are named when present); None: found now with ``dedupe.find``.
    """
    if isinstance(split, SplitFile):
        found, assignment = _conflicts(split), split.assignment
    else:
        found, assignment = [], split
    found += _coverage(dataset, assignment)
    pairs = duplicates if duplicates is not None else find(dataset).pairs
    found += _leaks(assignment, pairs)
    found += _stage_gaps(dataset, assignment)
    return sort_findings(found)


def _conflicts(split: SplitFile) -> list[Finding]:
    """A subject in two splits; for a per-image file, a subject whose views are apart."""
    out = []
    for c in split.conflicts:
        splits = ", ".join(c.splits)
        if split.per_image:
            out.append(
                finding(
                    "split-views-apart",
                    f"subject {c.subject_id}: its images are in {splits}; all views of a person "
                    "belong in one split",
                    subject=c.subject_id,
                )
            )
        else:
            out.append(
                finding(
                    "split-subject-in-two-splits",
                    f"subject {c.subject_id} is in {splits}; a person must be in one split only",
                    subject=c.subject_id,
                )
            )
    return out


def _coverage(dataset: ProbedDataset, assignment: Assignment) -> list[Finding]:
    """Ids the dataset does not have, and dataset subjects in no split."""
    known = set(dataset.table["subject_id"].astype(str))
    listed = set(assignment.subjects)
    out = []
    unknown = _id_sort(list(listed - known))
    if unknown:
        out.append(
            finding(
                "split-unknown-subject",
                f"{len(unknown)} subject id(s) in the split file are not in the dataset: "
                f"{few(unknown)}; check that the file belongs to this dataset",
            )
        )
    missing = _id_sort(list(known - listed))
    if missing:
        out.append(
            finding(
                "split-subject-missing",
                f"{len(missing)} dataset subject(s) are in no split: {few(missing)}; they will "
                "not be used",
            )
        )
    return out


def _leaks(assignment: Assignment, pairs: pd.DataFrame) -> list[Finding]:
    """Duplicate photos whose two subjects sit in different splits."""
    out = []
    cross = pairs[pairs["subject_a"].astype(str) != pairs["subject_b"].astype(str)]
    for r in cross.itertuples(index=False):
        sa, sb = str(r.subject_a), str(r.subject_b)
        xa, xb = assignment.get(sa), assignment.get(sb)
        if xa is not None and xb is not None and xa != xb:
            what = f"{r.a} and {r.b}" if hasattr(r, "a") else "a photo"
            tier = f"{r.tier} " if hasattr(r, "tier") else ""
            out.append(
                finding(
                    "split-duplicate-across-splits",
                    f"subjects {sa} ({xa}) and {sb} ({xb}) share a {tier}duplicate ({what}): the "
                    "same photo is in two splits; put both subjects in one split",
                    subject=sb,
                )
            )
    return out


def _stage_gaps(dataset: ProbedDataset, assignment: Assignment) -> list[Finding]:
    """Splits that have no subject at some stage the dataset has."""
    stages = dataset.subjects[["subject_id", "stage"]].dropna()
    stages = stages.assign(subject_id=stages["subject_id"].astype(str))
    all_stages = sorted(int(s) for s in stages["stage"].unique())
    stages = stages.assign(split=assignment.lookup(stages["subject_id"])).dropna(subset="split")
    out = []
    for name in sorted(set(assignment.names)):
        have = {int(s) for s in stages.loc[stages["split"] == name, "stage"]}
        out += [
            finding(
                "split-stage-missing",
                f"split {name!r} has no subject at stage {stage}; its metrics cannot cover that "
                "stage - re-split with stratification",
            )
            for stage in all_stages
            if stage not in have
        ]
    return out


def _id_sort(ids: Sequence[str]) -> list[str]:
    return sorted(ids, key=id_sort_key)
