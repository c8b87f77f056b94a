"""Which images are duplicates of which: byte-identical and hashed pairs, with tier and kind.

Rows are addressed by position in the image table. Raw pairs come from two sources (equal
sha256, phash within ``near``, optionally against mirror hashes); ``classify`` keeps one row per
unordered pair and names its tier and kind; ``pair_table`` turns positions into paths.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from norwoodkit.dedupe.distance import hashes_to_u64
from norwoodkit.dedupe.options import DedupeOptions, Kind, Tier
from norwoodkit.dedupe.search import hamming_pairs
from norwoodkit.engine import EngineChoice

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
#: Positions (i < j) in the image table, distance in bits, and whether a mirror hash matched.
RAW_COLUMNS = ["i", "j", "distance", "mirrored"]


def not_compared(t: pd.DataFrame, hashed: npt.NDArray[np.bool_]) -> pd.DataFrame:
    """Images without a phash (path, subject_id, view) and why they were left out."""
    has_bytes = t["sha256"].notna().to_numpy()
    out = t.loc[~hashed, ["path", "subject_id", "view"]].copy()
    out["reason"] = [
        _not_compared_reason(s, e, b)
        for s, e, b in zip(
            t.loc[~hashed, "status"], t.loc[~hashed, "error"], has_bytes[~hashed], strict=True
        )
    ]
    return out.reset_index(drop=True)


def _not_compared_reason(status: Any, error: Any, has_bytes: bool) -> str:
    base = f"{status}: {error}" if error is not None and error is not pd.NA else str(status)
    suffix = "; exact (byte) matches still checked" if has_bytes else ""
    return f"no perceptual hash ({base}){suffix}"


def exact_pairs(t: pd.DataFrame) -> pd.DataFrame:
    """Every two images with the same sha256 (``RAW_COLUMNS`` plus ``exact`` = True)."""
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


def hashed_pairs(
    t: pd.DataFrame,
    hashed: npt.NDArray[np.bool_],
    opts: DedupeOptions,
    progress: Callable[[int], None] | None = None,
    engine: EngineChoice | None = None,
) -> list[pd.DataFrame]:
    """Pairs whose phashes are within ``near`` (and with ``mirror``, mirror-hash pairs)."""
    idx = np.flatnonzero(hashed)
    if len(idx) < 2:
        return []
    rows, cols = opts.block_rows, opts.block_cols
    h = hashes_to_u64(t.loc[idx, "phash"])
    i, j, d = hamming_pairs(
        h, opts.near, block_rows=rows, block_cols=cols, progress=progress, engine=engine
    )
    frames = [
        pd.DataFrame({"i": idx[i], "j": idx[j], "distance": d.astype(int), "mirrored": False})
    ]
    if opts.mirror:
        m = hashes_to_u64(t.loc[idx, "phash_mirror"])
        mi, mj, md = hamming_pairs(
            h, opts.near, others=m, block_rows=rows, block_cols=cols, engine=engine
        )
        frames.append(
            pd.DataFrame({"i": idx[mi], "j": idx[mj], "distance": md.astype(int), "mirrored": True})
        )
    return frames


def classify(t: pd.DataFrame, raw: pd.DataFrame, opts: DedupeOptions) -> pd.DataFrame:
    """One row per unordered pair (exact beats hashed, direct beats mirrored, closer beats
    farther), with its tier and kind."""
    if raw.empty:
        return pd.DataFrame(columns=[*RAW_COLUMNS, "tier", "kind"])
    raw = raw.copy()
    if "exact" not in raw.columns:
        raw["exact"] = False
    raw["exact"] = raw["exact"].fillna(False).astype(bool)
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
    return raw[[*RAW_COLUMNS, "tier", "kind"]]


def pair_table(t: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Classified pairs as ``PAIR_COLUMNS`` (paths, subjects, views), sorted for reading:
    kind, then tier (exact, same, near), distance and paths."""
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
