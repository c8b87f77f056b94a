"""The rows to pack: the probed table's usable images, with their split and label.

``prepare_table`` leaves out what cannot go into a shard (in the exclude list, an unusable
image, no stage, no view) and records why; ``pack_input`` keeps only the columns packing reads.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from norwoodkit.columns import ALL_COLUMNS
from norwoodkit.dataset import ProbedDataset
from norwoodkit.errors import InputError
from norwoodkit.labels import id_sort_key
from norwoodkit.split.assignment import Assignment
from norwoodkit.text import few

#: Columns of the dataset table that packing reads: those shards store, ``path`` (the file to
#: read, also kept beside its bytes), ``status`` (only readable images are packed) and the
#: upright size (``width``/``height`` of photos stored upright).
PACK_INPUT_COLUMNS: tuple[str, ...] = tuple(
    c.name
    for c in ALL_COLUMNS
    if c.shard is not None or c.name in ("path", "status", "oriented_width", "oriented_height")
)


def pack_input(dataset: ProbedDataset) -> ProbedDataset:
    """The dataset with only the columns packing reads.

    ``write`` needs nothing else; a caller that hands over its only reference (the CLI does)
    lets the probe's hashes and measures be freed before the first shard is written.
    """
    return dataset.with_table(
        dataset.table[[c for c in PACK_INPUT_COLUMNS if c in dataset.table.columns]]
    )


def prepare_table(
    dataset: ProbedDataset,
    splits: Assignment | pd.DataFrame | None = None,
    exclude: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """The rows to pack (one per image, with split and label) and what was left out, and why.

    Raises:
        InputError: the split file does not match the dataset (lists the mismatches).
    """
    t = pack_input(dataset).images.copy()
    excluded: list[dict[str, Any]] = []
    from norwoodkit.dedupe import excluded as excluded_rows

    drop = excluded_rows(t, exclude)
    excluded += [
        {"path": p, "subject_id": s, "reason": "in the exclude list"}
        for p, s in zip(t.loc[drop, "path"], t.loc[drop, "subject_id"], strict=True)
    ]
    t = t[~drop]
    bad = t["status"] != "ok"
    excluded += [
        {"path": p, "subject_id": s, "reason": f"unusable image ({st})"}
        for p, s, st in zip(
            t.loc[bad, "path"], t.loc[bad, "subject_id"], t.loc[bad, "status"], strict=True
        )
    ]
    t = t[~bad]
    nostage = t["stage"].isna()
    excluded += [
        {"path": p, "subject_id": s, "reason": "no valid Norwood stage (no label)"}
        for p, s in zip(t.loc[nostage, "path"], t.loc[nostage, "subject_id"], strict=True)
    ]
    t = t[~nostage]
    noview = t["view"].isna()
    excluded += [
        {"path": p, "subject_id": s, "reason": "file name is not a view"}
        for p, s in zip(t.loc[noview, "path"], t.loc[noview, "subject_id"], strict=True)
    ]
    t = t[~noview].copy()
    t["subject_id"] = t["subject_id"].astype(str)
    if splits is None:
        t["split"] = "all"
    else:
        t["split"] = _match_splits(t, splits, excluded)
    t["label"] = t["stage"].astype("int64") - 1
    t["est_bytes"] = t["size"].astype("int64")
    return t.reset_index(drop=True), excluded


def _match_splits(
    t: pd.DataFrame, splits: Assignment | pd.DataFrame, excluded: list[dict[str, Any]]
) -> pd.Series:
    assignment = Assignment.of(splits)
    listed = set(assignment.subjects)
    have = set(t["subject_id"])
    gone = {e["subject_id"] for e in excluded}
    unknown = sorted(listed - have - gone, key=id_sort_key)
    missing = sorted(have - listed, key=id_sort_key)
    problems = []
    if unknown:
        problems.append(f"{len(unknown)} subject(s) not in the dataset: {few(unknown, limit=8)}")
    if missing:
        problems.append(f"{len(missing)} dataset subject(s) in no split: {few(missing, limit=8)}")
    if problems:
        raise InputError(
            "the split file does not match the dataset: "
            + "; ".join(problems)
            + "; make the split file from this dataset (norwoodkit split)",
            code="split-mismatch",
        )
    return t["subject_id"].map(assignment.to_dict())
