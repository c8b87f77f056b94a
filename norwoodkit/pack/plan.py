"""The deterministic shard plan: which rows go into which shard and row group, in what order.

Each split's subjects are shuffled with ``(seed, split)`` and cut into shards of about
``shard_size`` bytes (counts that reader counts divide, where sizes allow); row groups hold
whole subjects, at most ``rows_per_group`` rows and ``row_group_bytes`` bytes (a subject over
the byte cap alone gets a group of its own). A plan holds row positions into the packed table,
never a copy of its rows.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from norwoodkit.labels import VIEWS, id_sort_key
from norwoodkit.pack.hub import split_order
from norwoodkit.pack.layout import FORMAT_VERSION, Layout, shard_relpath
from norwoodkit.pack.options import PackOptions

#: Reader counts that shard counts should divide when sizes allow (GPUs x workers).
READER_COUNTS = (8, 4, 2)
SHARD_BYTES_RANGE = (64 * 2**20, 256 * 2**20)


@dataclass(frozen=True, eq=False)
class ShardPlan:
    """One shard to write: its split, file name and rows (in order, grouped into row groups).

    ``positions`` are row positions in the packed table (``prepare_table``), not a copy of the
    rows: a plan for 24,000 images costs a few hundred kilobytes, whatever the columns.
    """

    split: str
    index: int
    count: int
    positions: np.ndarray  # row positions in the packed table, one per image, subjects contiguous
    groups: tuple[tuple[int, int], ...]  # ranges [start, end) of ``positions``, one per row group

    @property
    def relpath(self) -> str:
        """The shard's file, relative to the pack folder."""
        return shard_relpath(self.split, self.index, self.count)

    def rows(self, table: pd.DataFrame) -> pd.DataFrame:
        """This shard's rows of the packed table, in write order."""
        return table.iloc[self.positions]

    def key(self, table: pd.DataFrame, options: PackOptions) -> str:
        """Identity of the shard's content: same key, same bytes (used by resume)."""
        h = hashlib.sha256()
        h.update(
            json.dumps(
                {
                    "format": FORMAT_VERSION,
                    "layout": options.layout.value,
                    "resize": options.resize,
                    "quality": options.quality,
                    "orientation": options.orientation.value,
                    "groups": self.groups,
                    "path": self.relpath,
                }
            ).encode()
        )
        hash_rows(h, self.rows(table), ["path", "sha256", "label", "split"], end=b"")
        return h.hexdigest()


def hash_rows(h: Any, rows: pd.DataFrame, columns: list[str], end: bytes) -> None:
    """Feed each row's values (NUL-separated, then ``end``) to ``h``, a thousand rows at a time."""
    for start in range(0, len(rows), 1000):
        chunk = rows.iloc[start : start + 1000][columns]
        for row in chunk.itertuples(index=False):
            h.update("\0".join(map(str, row)).encode() + end)


def _shard_count(total_bytes: int, target: int) -> int:
    n = max(1, math.ceil(total_bytes / target))
    if n == 1:
        return 1
    for readers in READER_COUNTS:
        rounded = math.ceil(n / readers) * readers
        if total_bytes / rounded >= min(SHARD_BYTES_RANGE[0], target / 2):
            return rounded
    return n


def plan(table: pd.DataFrame, options: PackOptions) -> list[ShardPlan]:
    """Cut each split's shuffled subjects into shards of about ``shard_size`` bytes."""
    out: list[ShardPlan] = []
    per_group = (
        max(1, options.rows_per_group // len(VIEWS))
        if options.layout is Layout.IMAGE
        else options.rows_per_group
    )
    view_rank = {v.value: i for i, v in enumerate(VIEWS)}
    for split in split_order(table["split"].astype(str)):
        where = np.flatnonzero((table["split"] == split).to_numpy(dtype=bool))
        part = table.iloc[where][["subject_id", "view", "path", "est_bytes"]]
        subjects = sorted(part["subject_id"].unique(), key=id_sort_key)
        rng = np.random.default_rng([options.seed, zlib.crc32(split.encode())])
        order = [subjects[i] for i in rng.permutation(len(subjects))]
        rank = {s: i for i, s in enumerate(order)}
        sizes = part.groupby("subject_id")["est_bytes"].sum()
        total = int(sizes.sum())
        n = min(_shard_count(total, options.shard_size), len(order))
        cuts = np.searchsorted(
            np.cumsum([sizes[s] for s in order]), [total * k / n for k in range(1, n)], side="left"
        )
        bounds = [0, *[int(c) + 1 for c in cuts], len(order)]
        bounds = sorted(set(min(b, len(order)) for b in bounds))
        # Write order: shuffled subjects, each subject's views in VIEWS order, then by path.
        ranks = part["subject_id"].map(rank).to_numpy(dtype=np.int64)
        views = part["view"].map(view_rank).to_numpy(dtype=np.int64)
        paths = part["path"].to_numpy(dtype=object)
        by = np.lexsort((paths, views, ranks))
        positions, ranks = where[by], ranks[by]
        weights = part["est_bytes"].to_numpy(dtype=np.int64)[by]
        edges = np.searchsorted(ranks, bounds, side="left")
        spans = [(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]
        for index, (a, b) in enumerate(spans):
            groups = _row_groups(ranks[a:b], weights[a:b], per_group, options.row_group_bytes)
            out.append(ShardPlan(split, index, len(spans), positions[a:b], groups))
    return out


def _row_groups(
    subjects: np.ndarray, weights: np.ndarray, per_group: int, cap: int
) -> tuple[tuple[int, int], ...]:
    """Ranges of a shard's rows holding whole subjects: at most ``per_group`` subjects and, where
    a group already holds one, at most ``cap`` bytes of ``weights`` (estimated image bytes).

    ``subjects`` labels each row with its subject (contiguous). In subject layout the writer
    turns each subject's image rows into one row, so ``per_group`` subjects make that many rows.
    A subject over ``cap`` on its own still gets a group: subjects never straddle two.
    """
    starts = [0, *(np.flatnonzero(subjects[1:] != subjects[:-1]) + 1).tolist(), len(subjects)]
    sums = np.r_[0, np.cumsum(weights)]
    groups: list[tuple[int, int]] = []
    first, count = 0, 0  # the open group's first row and number of subjects
    for a, b in itertools.pairwise(starts):
        if count and (count == per_group or sums[b] - sums[first] > cap):
            groups.append((first, a))
            first, count = a, 0
        count += 1
    if count:
        groups.append((first, len(subjects)))
    return tuple(groups)
