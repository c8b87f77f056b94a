"""Distance histograms of a probed dataset that help choose ``same`` and ``near`` thresholds."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from norwoodkit.dataset import ProbedDataset
from norwoodkit.dedupe.distance import HASH_BITS, hamming_u64, hashes_to_u64


def calibrate(dataset: ProbedDataset) -> dict[str, Any]:
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
            d = hamming_u64(hv[k], hv[k + 1 :])
            other = sv[k + 1 :] != sv[k]
            diff_hist += np.bincount(d[other], minlength=HASH_BITS + 1)
    for s in sorted(set(subj)):
        idx = np.flatnonzero(subj == s)
        for a in range(len(idx)):
            for b in range(a + 1, len(idx)):
                if view[idx[a]] != view[idx[b]]:
                    same_hist[int(hamming_u64(h[idx[a]], h[idx[b]]))] += 1
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
