"""Duplicate groups: connected components of the pair graph, cut by complete linkage, and the
member each group keeps.

Complete linkage means every two members of a group are within ``near``, so unrelated images
never chain into one group through intermediaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from norwoodkit.columns import as_int
from norwoodkit.dedupe.distance import U64, hamming_u64, hashes_to_u64
from norwoodkit.dedupe.options import DedupeOptions, Kind, Tier

I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

GROUP_COLUMNS = [
    "group",
    "path",
    "subject_id",
    "view",
    "keeper",
    "distance_to_keeper",
    "tier",
    "kind",
    "max_distance",
    "mirrored",
    "split_from_chain",
]


def group(t: pd.DataFrame, pairs: pd.DataFrame, opts: DedupeOptions) -> tuple[pd.DataFrame, int]:
    """``GROUP_COLUMNS`` rows, one per member, and how many chained components were cut."""
    if pairs.empty:
        return pd.DataFrame(columns=GROUP_COLUMNS), 0
    hashes = _Hashes.of(t)
    rows: list[dict[str, Any]] = []
    chains = 0
    gid = 0
    for members in _components(len(t), pairs):
        comp = _Component.of(members, hashes, opts)
        chains += comp.chained
        for cluster in comp.clusters(opts.near):
            gid += 1
            rows.extend(_group_rows(t, hashes, comp, cluster, gid, opts))
    return pd.DataFrame(rows, columns=GROUP_COLUMNS), chains


def _components(n: int, pairs: pd.DataFrame) -> list[list[int]]:
    """Connected components of the pair graph (only rows that are in some pair)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    i, j = pairs["i"].to_numpy(np.int64), pairs["j"].to_numpy(np.int64)
    graph = coo_matrix((np.ones(len(i), np.int8), (i, j)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    involved = np.unique(np.concatenate([i, j]))
    comps: dict[int, list[int]] = {}
    for x in involved.tolist():
        comps.setdefault(int(labels[x]), []).append(x)
    return sorted((sorted(c) for c in comps.values()), key=lambda c: c[0])


@dataclass(frozen=True)
class _Hashes:
    """Per-row hashes of the image table (0 where a row has none) and the masks."""

    direct: U64
    mirror: U64
    has: Mask
    sha: npt.NDArray[np.object_]

    @classmethod
    def of(cls, t: pd.DataFrame) -> _Hashes:
        has = t["phash"].notna().to_numpy()
        direct = np.zeros(len(t), np.uint64)
        mirror = np.zeros(len(t), np.uint64)
        direct[has] = hashes_to_u64(t.loc[has, "phash"])
        mirror[has] = hashes_to_u64(t.loc[has, "phash_mirror"])
        return cls(direct, mirror, has, t["sha256"].astype(object).to_numpy())

    def matrix(self, members: list[int], opts: DedupeOptions) -> tuple[I64, Mask]:
        """Distances between members (far where unknown) and where the mirror was closer."""
        m = np.asarray(members)
        far = opts.near + 1
        d = hamming_u64(self.direct[m][:, None], self.direct[m][None, :]).astype(np.int64)
        mirrored = np.zeros(d.shape, bool)
        if opts.mirror:
            dm = hamming_u64(self.direct[m][:, None], self.mirror[m][None, :])
            dm = np.minimum(dm, dm.T).astype(np.int64)
            mirrored = (dm < d) & (d > opts.near)
            d = np.minimum(d, dm)
        both = self.has[m][:, None] & self.has[m][None, :]
        d[~both] = far
        sha = self.sha[m]
        same = (sha[:, None] == sha[None, :]) & pd.notna(sha)[:, None]
        d[same] = 0
        mirrored[same] = False
        np.fill_diagonal(d, 0)
        return d, mirrored


@dataclass(frozen=True)
class _Component:
    """One connected component: its rows, their distance matrix, and whether it is a chain."""

    members: list[int]
    d: I64
    mirrored: Mask
    chained: bool  # some two members are farther apart than ``near``

    @classmethod
    def of(cls, members: list[int], hashes: _Hashes, opts: DedupeOptions) -> _Component:
        d, mirrored = hashes.matrix(members, opts)
        return cls(members, d, mirrored, chained=bool(d.max() > opts.near))

    def clusters(self, threshold: int) -> list[list[int]]:
        """Groups as positions into ``members``: the whole component unless it is a chain."""
        if not self.chained:
            return [list(range(len(self.members)))]
        return _complete_linkage(self.d, threshold)


def _complete_linkage(d: I64, threshold: int) -> list[list[int]]:
    """Split members (positions in ``d``) into clusters whose every pair is within threshold."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    labels = fcluster(
        linkage(squareform(d.astype(np.float64), checks=False), method="complete"),
        t=threshold,
        criterion="distance",
    )
    clusters: dict[int, list[int]] = {}
    for pos, lab in enumerate(labels.tolist()):
        clusters.setdefault(int(lab), []).append(pos)
    return sorted((c for c in clusters.values() if len(c) > 1), key=lambda c: c[0])


def _group_rows(
    t: pd.DataFrame,
    hashes: _Hashes,
    comp: _Component,
    cluster: list[int],
    gid: int,
    opts: DedupeOptions,
) -> list[dict[str, Any]]:
    """The ``GROUP_COLUMNS`` rows of one group (``cluster``: positions into the component)."""
    members = [comp.members[p] for p in cluster]
    keeper = _keeper(t, members)
    kpos = cluster[members.index(keeper)]
    sha = hashes.sha[members]
    all_exact = bool(pd.notna(sha).all() and len(set(sha.tolist())) == 1)
    max_d = int(comp.d[np.ix_(cluster, cluster)].max())
    tier = (Tier.EXACT if all_exact else Tier.SAME if max_d <= opts.same else Tier.NEAR).value
    kind = (Kind.WITHIN if t.loc[members, "subject_id"].nunique() == 1 else Kind.CROSS).value
    mirrored = bool(comp.mirrored[np.ix_(cluster, cluster)].any())
    return [
        {
            "group": gid,
            "path": t.at[m, "path"],
            "subject_id": t.at[m, "subject_id"],
            "view": t.at[m, "view"],
            "keeper": m == keeper,
            "distance_to_keeper": int(comp.d[pos, kpos]),
            "tier": tier,
            "kind": kind,
            "max_distance": max_d,
            "mirrored": mirrored,
            "split_from_chain": comp.chained,
        }
        for pos, m in zip(cluster, members, strict=True)
    ]


def _keeper(t: pd.DataFrame, members: list[int]) -> int:
    """The member to keep: readable, most pixels, largest file, then first path (deterministic)."""

    def key(i: int) -> tuple[bool, int, int, str]:
        row = t.loc[i]
        unreadable = row["status"] != "ok"  # False sorts first: readable members win
        w, h = row["oriented_width"], row["oriented_height"]
        pixels = as_int(w) * as_int(h) if pd.notna(w) and pd.notna(h) else 0
        size = as_int(row["size"]) if pd.notna(row["size"]) else 0
        return (bool(unreadable), -pixels, -size, str(row["path"]))

    return min(members, key=key)
