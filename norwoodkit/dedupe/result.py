"""What ``find`` returns: pairs, groups, what was not compared; its summaries, counts, the
``--json`` document, and the exclude list that ``split`` and ``pack`` read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from norwoodkit.columns import as_int, plain
from norwoodkit.dedupe.options import DedupeOptions, FailOn

SUMMARY_COLUMNS = [
    "group",
    "tier",
    "kind",
    "size",
    "subjects",
    "max_distance",
    "keeper",
    "split_from_chain",
    "mirrored",
]


@dataclass(frozen=True)
class DedupeResult:
    """Pairs, groups and what could not be compared."""

    pairs: pd.DataFrame  # PAIR_COLUMNS
    groups: pd.DataFrame  # GROUP_COLUMNS, one row per member
    not_compared: pd.DataFrame  # path, subject_id, view, reason
    options: DedupeOptions
    images: int
    compared: int
    chains_split: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def group_summary(self) -> pd.DataFrame:
        """One row per group: id, tier, kind, size, subjects, max distance, keeper, split."""
        if self.groups.empty:
            return pd.DataFrame(columns=SUMMARY_COLUMNS)
        rows = []
        for gid, g in self.groups.groupby("group", sort=True):
            rows.append(
                {
                    "group": as_int(gid),
                    "tier": g["tier"].iloc[0],
                    "kind": g["kind"].iloc[0],
                    "size": len(g),
                    "subjects": ", ".join(dict.fromkeys(g["subject_id"].astype(str))),
                    "max_distance": int(g["max_distance"].iloc[0]),
                    "keeper": str(g.loc[g["keeper"], "path"].iloc[0]),
                    "split_from_chain": bool(g["split_from_chain"].iloc[0]),
                    "mirrored": bool(g["mirrored"].iloc[0]),
                }
            )
        return pd.DataFrame(rows)

    def exclude_list(self) -> pd.DataFrame:
        """Every group member but the keeper: path, subject_id, reason (what split/pack drop)."""
        if self.groups.empty:
            return pd.DataFrame(columns=["path", "subject_id", "reason"])
        drop = self.groups[~self.groups["keeper"]]
        keepers: dict[Any, Any] = (
            self.groups[self.groups["keeper"]].set_index("group")["path"].to_dict()
        )
        reasons = [
            f"{r.tier} duplicate ({r.kind}) of {keepers[r.group]}, group {r.group}"
            for r in drop.itertuples(index=False)
        ]
        return pd.DataFrame(
            {
                "path": drop["path"].to_numpy(),
                "subject_id": drop["subject_id"].to_numpy(),
                "reason": reasons,
            }
        )

    def failing(self, fail_on: FailOn) -> pd.DataFrame:
        """Pairs that ``--fail-on`` counts (mirrored pairs count under their kind)."""
        if fail_on is FailOn.ANY:
            return self.pairs
        return self.pairs[self.pairs["kind"] == fail_on.value]

    def counts(self) -> dict[str, Any]:
        """Pair and group counts by tier and kind, for --json and the summary line."""
        by = self.pairs.groupby(["kind", "tier"]).size() if len(self.pairs) else pd.Series()
        return {
            "images": self.images,
            "compared": self.compared,
            "not_compared": len(self.not_compared),
            "pairs": len(self.pairs),
            "pairs_by_kind_and_tier": {_join(key): int(v) for key, v in by.to_dict().items()},
            "groups": int(self.groups["group"].nunique()) if len(self.groups) else 0,
            "chains_split": self.chains_split,
        }

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document."""
        summary = self.group_summary()
        members = (
            {
                as_int(gid): g[
                    ["path", "subject_id", "view", "keeper", "distance_to_keeper"]
                ].to_dict("records")
                for gid, g in self.groups.groupby("group", sort=True)
            }
            if len(self.groups)
            else {}
        )
        return {
            "thresholds": {
                "same": self.options.same,
                "near": self.options.near,
                "mirror": self.options.mirror,
            },
            "counts": self.counts(),
            "groups": [
                {
                    **{k: plain(v) for k, v in row.items()},
                    "members": [
                        {k: plain(v) for k, v in m.items()} for m in members[int(row["group"])]
                    ],
                }
                for row in summary.to_dict("records")
            ],
            "not_compared": [
                {k: plain(v) for k, v in r.items()} for r in self.not_compared.to_dict("records")
            ],
        }


def _join(key: Any) -> str:
    return "/".join(str(k) for k in key)


def excluded(table: pd.DataFrame, exclude: pd.DataFrame | None) -> pd.Series:
    """Which rows of an image table an exclude list removes (True = excluded).

    A row of the list with a ``path`` removes that image; a row with only a ``subject_id``
    (empty path) removes every image of the subject. This is the format ``exclude_list()``
    writes and ``split`` and ``pack`` read.
    """
    if exclude is None or exclude.empty:
        return pd.Series(False, index=table.index)
    has_path = "path" in exclude.columns
    paths = set(exclude["path"].dropna().astype(str)) - {""} if has_path else set()
    whole = (
        exclude[exclude["path"].isna() | (exclude["path"].astype(str) == "")]
        if has_path
        else exclude
    )
    subjects = set(whole["subject_id"].dropna().astype(str)) if "subject_id" in whole else set()
    by_path = table["path"].astype("string").isin(paths).fillna(False).astype(bool)
    return by_path | table["subject_id"].astype(str).isin(subjects)
