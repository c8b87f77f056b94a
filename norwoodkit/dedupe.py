"""Probe hashes -> duplicate pairs and groups. Decodes nothing: sha256 and phash come from probe.

- exact duplicates: the same sha256 (the same bytes);
- near duplicates: Hamming distance between 64-bit phashes, in two tiers: ``same`` (re-encoded,
  resized, brightened copies of one photo) and ``near`` (for review);
- every pair is ``cross-subject`` (one photo under two people: leakage) or ``within-subject``
  (one photo reused for two views); ``--mirror`` also matches horizontally flipped copies;
- groups use complete linkage: every two members of a group are within the threshold, so
  unrelated images never chain into one group through intermediaries.

The all-pairs search (``hamming_pairs``) is blockwise: XOR and popcount over uint64 tiles whose
size bounds memory, never an N x N matrix.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from norwoodkit.columns import plain
from norwoodkit.dataset import Dataset
from norwoodkit.errors import InputError

log = logging.getLogger(__name__)

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

#: Hash bits; distances run 0..64.
HASH_BITS = 64
#: Above this, unrelated photos start to match (their phash distances centre near 32 +- 4).
SENSIBLE_NEAR_MAX = 16


class Tier(StrEnum):
    """How alike two images are."""

    EXACT = "exact"  # same bytes
    SAME = "same"  # distance <= same threshold: one photo re-encoded, resized, brightened
    NEAR = "near"  # distance <= near threshold: worth a look


class Kind(StrEnum):
    """Whose images the two are."""

    CROSS = "cross-subject"
    WITHIN = "within-subject"


class FailOn(StrEnum):
    """Which duplicates make ``dedupe --fail-on`` exit 1."""

    CROSS = "cross-subject"
    WITHIN = "within-subject"
    ANY = "any"


@dataclass(frozen=True)
class DedupeOptions:
    """Thresholds and switches of ``find``.

    Attributes:
        same: largest phash distance (bits) for the ``same`` tier.
        near: largest phash distance for the ``near`` tier; pairs and groups use it.
        mirror: also compare each image with the horizontal mirror of the others.
        block_rows: rows per tile of the all-pairs search (memory is rows x cols x 10 bytes).
        block_cols: columns per tile.
    """

    same: int = 4
    near: int = 10
    mirror: bool = False
    block_rows: int = 64
    block_cols: int = 4096

    def __post_init__(self) -> None:
        for name, value in (("--same", self.same), ("--near", self.near)):
            if not 0 <= value <= HASH_BITS:
                raise InputError(
                    f"{name} {value}: a distance between 64-bit hashes runs from 0 (identical) "
                    f"to 64; use e.g. --same 4 --near 10",
                    code="usage",
                )
        if self.same > self.near:
            raise InputError(
                f"--same {self.same} is larger than --near {self.near}: the 'same' tier must sit "
                "inside the 'near' tier (same <= near)",
                code="usage",
            )
        if self.block_rows < 1 or self.block_cols < 1:
            raise InputError("block sizes must be positive", code="usage")


# --------------------------------------------------------------------------- search


def hashes_to_u64(hex_hashes: pd.Series) -> U64:
    """16-hex-digit hashes -> uint64 array (rows must all hold a hash)."""
    return np.array([int(h, 16) for h in hex_hashes.astype(str)], dtype=np.uint64)


def hamming_pairs(
    hashes: U64,
    threshold: int,
    *,
    others: U64 | None = None,
    block_rows: int = 64,
    block_cols: int = 4096,
    progress: Callable[[int], None] | None = None,
) -> tuple[I64, I64, npt.NDArray[np.uint8]]:
    """All pairs (i, j), i < j, whose Hamming distance is <= threshold.

    With ``others`` (same length), row i of ``hashes`` is compared with ``others[j]`` for every
    j != i, and each unordered pair is reported once as (min, max) with the smaller of the two
    directions' distances: this is how mirrored copies are found (``others`` = mirror hashes).

    Memory stays at about ``block_rows * block_cols * 10`` bytes plus the pairs found.
    """
    n = len(hashes)
    rows_i: list[I64] = []
    cols_j: list[I64] = []
    dists: list[npt.NDArray[np.uint8]] = []
    xbuf = np.empty((block_rows, block_cols), np.uint64)
    pbuf = np.empty((block_rows, block_cols), np.uint8)
    mbuf = np.empty((block_rows, block_cols), np.bool_)
    target = hashes if others is None else others
    limit = np.uint8(threshold)
    for i0 in range(0, n, block_rows):
        a = hashes[i0 : i0 + block_rows]
        r = len(a)
        # Without `others` the relation is symmetric: only columns right of the diagonal.
        j_start = i0 if others is None else 0
        for j0 in range(j_start, n, block_cols):
            b = target[j0 : j0 + block_cols]
            c = len(b)
            x = np.bitwise_xor(a[:, None], b[None, :], out=xbuf[:r, :c])
            p = np.bitwise_count(x, out=pbuf[:r, :c])
            m = np.less_equal(p, limit, out=mbuf[:r, :c])
            if not m.any():
                continue
            ii, jj = np.nonzero(m)
            gi, gj = ii + i0, jj + j0
            keep = gi < gj if others is None else gi != gj
            rows_i.append(gi[keep].astype(np.int64))
            cols_j.append(gj[keep].astype(np.int64))
            dists.append(p[ii[keep], jj[keep]].copy())
        if progress:
            progress(r)
    if not rows_i:
        empty = np.empty(0, np.int64)
        return empty, empty.copy(), np.empty(0, np.uint8)
    i_all, j_all, d_all = np.concatenate(rows_i), np.concatenate(cols_j), np.concatenate(dists)
    if others is not None:
        # (i, mirror j) and (j, mirror i) describe one pair: keep the closer direction.
        lo, hi = np.minimum(i_all, j_all), np.maximum(i_all, j_all)
        order = np.lexsort((d_all, hi, lo))
        lo, hi, d_all = lo[order], hi[order], d_all[order]
        first = np.ones(len(lo), bool)
        first[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
        i_all, j_all, d_all = lo[first], hi[first], d_all[first]
    return i_all, j_all, d_all


# --------------------------------------------------------------------------- result


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
            return pd.DataFrame(
                columns=[
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
            )
        rows = []
        for gid, g in self.groups.groupby("group", sort=True):
            rows.append(
                {
                    "group": _int(gid),
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
            "pairs_by_kind_and_tier": {_join(key): _int(v) for key, v in by.to_dict().items()},
            "groups": int(self.groups["group"].nunique()) if len(self.groups) else 0,
            "chains_split": self.chains_split,
        }

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document."""
        summary = self.group_summary()
        members = (
            {
                _int(gid): g[
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


def _int(v: Any) -> int:
    return int(v)


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


PAIR_COLUMNS = [
    "a",
    "b",
    "subject_a",
    "subject_b",
    "view_a",
    "view_b",
    "distance",
    "tier",
    "kind",
    "mirrored",
]


# --------------------------------------------------------------------------- find


def find(
    dataset: Dataset,
    options: DedupeOptions | None = None,
    *,
    progress: Callable[[int], None] | None = None,
) -> DedupeResult:
    """Exact and near duplicates among a probed dataset's images (see ``probe.run``)."""
    opts = options or DedupeOptions()
    t = dataset.images
    if "sha256" not in t.columns:
        raise ValueError("dedupe needs the probe columns: call probe.run(dataset) first")
    t = t.reset_index(drop=True)
    hashed = t["phash"].notna().to_numpy()
    with_bytes = t["sha256"].notna().to_numpy()
    not_compared = t.loc[~hashed, ["path", "subject_id", "view"]].copy()
    not_compared["reason"] = [
        _not_compared_reason(s, e, b)
        for s, e, b in zip(
            t.loc[~hashed, "status"], t.loc[~hashed, "error"], with_bytes[~hashed], strict=True
        )
    ]
    pair_frames = [_exact_pairs(t)]
    idx = np.flatnonzero(hashed)
    if len(idx) > 1:
        h = hashes_to_u64(t.loc[idx, "phash"])
        i, j, d = hamming_pairs(
            h, opts.near, block_rows=opts.block_rows, block_cols=opts.block_cols, progress=progress
        )
        pair_frames.append(
            pd.DataFrame({"i": idx[i], "j": idx[j], "distance": d.astype(int), "mirrored": False})
        )
        if opts.mirror:
            m = hashes_to_u64(t.loc[idx, "phash_mirror"])
            mi, mj, md = hamming_pairs(
                h, opts.near, others=m, block_rows=opts.block_rows, block_cols=opts.block_cols
            )
            pair_frames.append(
                pd.DataFrame(
                    {"i": idx[mi], "j": idx[mj], "distance": md.astype(int), "mirrored": True}
                )
            )
    raw = (
        pd.concat([f for f in pair_frames if len(f)], ignore_index=True)
        if any(len(f) for f in pair_frames)
        else pd.DataFrame(columns=["i", "j", "distance", "mirrored"])
    )
    pairs = _classify(t, raw, opts)
    groups, chains_split = _group(t, pairs, opts)
    return DedupeResult(
        pairs=_pair_table(t, pairs),
        groups=groups,
        not_compared=not_compared.reset_index(drop=True),
        options=opts,
        images=len(t),
        compared=int(hashed.sum()),
        chains_split=chains_split,
    )


def _not_compared_reason(status: Any, error: Any, has_bytes: bool) -> str:
    base = f"{status}: {error}" if error is not None and error is not pd.NA else str(status)
    suffix = "; exact (byte) matches still checked" if has_bytes else ""
    return f"no perceptual hash ({base}){suffix}"


def _exact_pairs(t: pd.DataFrame) -> pd.DataFrame:
    sha = t["sha256"]
    dup = t[sha.notna() & sha.duplicated(keep=False)]
    out: list[tuple[int, int]] = []
    for _, g in dup.groupby("sha256", sort=False):
        members = sorted(g.index.tolist())
        out.extend((a, b) for k, a in enumerate(members) for b in members[k + 1 :])
    frame = pd.DataFrame(out, columns=["i", "j"])
    frame["distance"] = 0
    frame["mirrored"] = False
    frame["exact"] = True
    return frame


def _classify(t: pd.DataFrame, raw: pd.DataFrame, opts: DedupeOptions) -> pd.DataFrame:
    if raw.empty:
        return pd.DataFrame(columns=["i", "j", "distance", "mirrored", "tier", "kind"])
    raw = raw.copy()
    if "exact" not in raw.columns:
        raw["exact"] = False
    raw["exact"] = raw["exact"].fillna(False).astype(bool)
    # One row per unordered pair: exact beats hashed, direct beats mirrored, closer beats farther.
    raw = raw.sort_values(
        ["i", "j", "exact", "mirrored", "distance"], ascending=[True, True, False, True, True]
    )
    raw = raw.drop_duplicates(["i", "j"], keep="first").reset_index(drop=True)
    sha = t["sha256"].astype(object).to_numpy()
    ia, ja = raw["i"].to_numpy(np.int64), raw["j"].to_numpy(np.int64)
    same_bytes = np.asarray((sha[ia] == sha[ja]) & pd.notna(sha[ia]), dtype=bool)
    tier = np.where(
        same_bytes,
        Tier.EXACT.value,
        np.where(raw["distance"] <= opts.same, Tier.SAME.value, Tier.NEAR.value),
    )
    subj = t["subject_id"].astype(str).to_numpy()
    kind = np.where(subj[raw["i"]] == subj[raw["j"]], Kind.WITHIN.value, Kind.CROSS.value)
    raw["tier"] = tier
    raw["kind"] = kind
    raw.loc[same_bytes, "mirrored"] = False
    raw.loc[same_bytes, "distance"] = 0
    return raw[["i", "j", "distance", "mirrored", "tier", "kind"]]


def _pair_table(t: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    if pairs.empty:
        return pd.DataFrame({c: pd.Series([], dtype="object") for c in PAIR_COLUMNS})
    i, j = pairs["i"].to_numpy(int), pairs["j"].to_numpy(int)
    out = pd.DataFrame(
        {
            "a": t["path"].to_numpy()[i],
            "b": t["path"].to_numpy()[j],
            "subject_a": t["subject_id"].to_numpy()[i],
            "subject_b": t["subject_id"].to_numpy()[j],
            "view_a": t["view"].to_numpy()[i],
            "view_b": t["view"].to_numpy()[j],
            "distance": pairs["distance"].to_numpy(int),
            "tier": pairs["tier"].to_numpy(),
            "kind": pairs["kind"].to_numpy(),
            "mirrored": pairs["mirrored"].to_numpy(bool),
        }
    )
    order = {Tier.EXACT.value: 0, Tier.SAME.value: 1, Tier.NEAR.value: 2}
    out["_t"] = out["tier"].map(order)
    out = out.sort_values(["kind", "_t", "distance", "a", "b"]).drop(columns="_t")
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------- groups


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
    has: npt.NDArray[np.bool_]
    sha: npt.NDArray[np.object_]

    @classmethod
    def of(cls, t: pd.DataFrame) -> _Hashes:
        has = t["phash"].notna().to_numpy()
        direct = np.zeros(len(t), np.uint64)
        mirror = np.zeros(len(t), np.uint64)
        direct[has] = hashes_to_u64(t.loc[has, "phash"])
        mirror[has] = hashes_to_u64(t.loc[has, "phash_mirror"])
        return cls(direct, mirror, has, t["sha256"].astype(object).to_numpy())

    def matrix(
        self, members: list[int], opts: DedupeOptions
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """Distances between members (far where unknown) and where the mirror was closer."""
        m = np.asarray(members)
        far = opts.near + 1
        d = np.bitwise_count(self.direct[m][:, None] ^ self.direct[m][None, :]).astype(np.int64)
        mirrored = np.zeros(d.shape, bool)
        if opts.mirror:
            dm = np.bitwise_count(self.direct[m][:, None] ^ self.mirror[m][None, :])
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


def _complete_linkage(d: npt.NDArray[np.int64], threshold: int) -> list[list[int]]:
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


def _keeper(t: pd.DataFrame, members: list[int]) -> int:
    """The member to keep: readable, most pixels, largest file, then first path (deterministic)."""

    def key(i: int) -> tuple[int, int, int, str]:
        row = t.loc[i]
        ok = 0 if row["status"] == "ok" else 1
        w, h = row["oriented_width"], row["oriented_height"]
        pixels = _int(w) * _int(h) if pd.notna(w) and pd.notna(h) else 0
        size = _int(row["size"]) if pd.notna(row["size"]) else 0
        return (ok, -pixels, -size, str(row["path"]))

    return min(members, key=key)


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


def _group(t: pd.DataFrame, pairs: pd.DataFrame, opts: DedupeOptions) -> tuple[pd.DataFrame, int]:
    if pairs.empty:
        return pd.DataFrame(columns=GROUP_COLUMNS), 0
    hashes = _Hashes.of(t)
    rows: list[dict[str, Any]] = []
    chains = 0
    gid = 0
    for comp in _components(len(t), pairs):
        d, mirrored = hashes.matrix(comp, opts)
        if d.max() <= opts.near:
            clusters, chained = [list(range(len(comp)))], False
        else:
            clusters, chained = _complete_linkage(d, opts.near), True
            chains += 1
        for cl in clusters:
            gid += 1
            members = [comp[p] for p in cl]
            sub = d[np.ix_(cl, cl)]
            keeper = _keeper(t, members)
            kpos = cl[members.index(keeper)]
            sha = hashes.sha[members]
            all_exact = bool(pd.notna(sha).all() and len(set(sha.tolist())) == 1)
            max_d = int(sub.max())
            tier = (
                Tier.EXACT if all_exact else Tier.SAME if max_d <= opts.same else Tier.NEAR
            ).value
            kind = (
                Kind.WITHIN if t.loc[members, "subject_id"].nunique() == 1 else Kind.CROSS
            ).value
            is_mirror = bool(mirrored[np.ix_(cl, cl)].any())
            for pos, m in zip(cl, members, strict=True):
                rows.append(
                    {
                        "group": gid,
                        "path": t.at[m, "path"],
                        "subject_id": t.at[m, "subject_id"],
                        "view": t.at[m, "view"],
                        "keeper": m == keeper,
                        "distance_to_keeper": int(d[pos, kpos]),
                        "tier": tier,
                        "kind": kind,
                        "max_distance": max_d,
                        "mirrored": is_mirror,
                        "split_from_chain": chained,
                    }
                )
    return pd.DataFrame(rows, columns=GROUP_COLUMNS), chains


# --------------------------------------------------------------------------- calibrate


def calibrate(dataset: Dataset) -> dict[str, Any]:
    """Distance histograms that help choose thresholds for one's own photos.

    ``different_person_same_view``: phash distances between photos of the same view of two
    different people (what unrelated photos look like); ``same_person_different_view``: between
    two views of one person (related but different photos). A threshold well below both is safe.
    """
    t = dataset.images
    t = t[t["phash"].notna()].reset_index(drop=True)
    h = hashes_to_u64(t["phash"]) if len(t) else np.empty(0, np.uint64)
    subj = t["subject_id"].astype(str).to_numpy(dtype=object)
    view = t["view"].fillna("").astype(str).to_numpy(dtype=object)
    diff_hist = np.zeros(HASH_BITS + 1, np.int64)
    same_hist = np.zeros(HASH_BITS + 1, np.int64)
    for v in sorted(set(view) - {""}):
        idx = np.flatnonzero(view == v)
        hv, sv = h[idx], subj[idx]
        for k in range(len(idx) - 1):
            d = np.bitwise_count(hv[k] ^ hv[k + 1 :])
            other = sv[k + 1 :] != sv[k]
            diff_hist += np.bincount(d[other], minlength=HASH_BITS + 1)
    for s in sorted(set(subj)):
        idx = np.flatnonzero(subj == s)
        for a in range(len(idx)):
            for b in range(a + 1, len(idx)):
                if view[idx[a]] != view[idx[b]]:
                    same_hist[int(np.bitwise_count(h[idx[a]] ^ h[idx[b]]))] += 1
    return {
        "different_person_same_view": _hist_summary(diff_hist),
        "same_person_different_view": _hist_summary(same_hist),
    }


def _hist_summary(hist: npt.NDArray[np.int64]) -> dict[str, Any]:
    total = int(hist.sum())
    out: dict[str, Any] = {"pairs": total, "histogram": [int(x) for x in hist]}
    if total:
        cum = np.cumsum(hist) / total
        out["min"] = int(np.flatnonzero(hist)[0])
        for q in (0.001, 0.01, 0.5):
            out[f"p{q * 100:g}"] = int(np.searchsorted(cum, q))
    return out
