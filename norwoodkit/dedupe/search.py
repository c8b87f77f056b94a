"""Every pair of uint64 hashes within a Hamming threshold: multi-index hashing or all pairs.

``hamming_pairs`` runs the exact multi-index search (``dedupe/mih.py``) where its cost model
expects it to be cheaper, else ``hamming_pairs_brute``: the tiled all-pairs search, kept as the
reference the tests hold the other to. Both return the same pairs, sorted by (i, j) here. The brute
force runs XOR and popcount over tiles of ``block_rows x block_cols`` hashes whose buffers are
allocated once, so memory is bounded by the tile plus the pairs found, never N x N.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from norwoodkit.dedupe import mih
from norwoodkit.dedupe.distance import U64, Distances, hamming_u64
from norwoodkit.dedupe.mih import I64, Pairs
from norwoodkit.engine import Engine, EngineChoice

__all__ = ["I64", "Pairs", "hamming_pairs", "hamming_pairs_brute"]


def hamming_pairs(
    hashes: U64,
    threshold: int,
    *,
    others: U64 | None = None,
    block_rows: int = 64,
    block_cols: int = 4096,
    progress: Callable[[int], None] | None = None,
    engine: EngineChoice | None = None,
) -> Pairs:
    """All pairs (i, j), i < j, whose Hamming distance is <= threshold, sorted by (i, j).

    With ``others`` (same length), row i of ``hashes`` is compared with ``others[j]`` for every
    j != i, and each unordered pair is reported once as (min, max) with the smaller of the two
    directions' distances: this is how mirrored copies are found (``others`` = mirror hashes).

    Exact whichever search runs: multi-index hashing where ``mih.plan`` finds it cheaper (large
    inputs, small thresholds), else the tiled brute force with ``block_rows x block_cols`` tiles.
    With ``engine`` Ray, the multi-index search runs as Ray tasks (``mih_ray.py``; same pairs);
    the brute force, chosen only where it is cheap, stays in this process.
    """
    p = mih.plan(len(hashes), threshold, n_index=None if others is None else len(others))
    if p is None:
        i, j, d = hamming_pairs_brute(
            hashes,
            threshold,
            others=others,
            block_rows=block_rows,
            block_cols=block_cols,
            progress=progress,
        )
        order = np.lexsort((j, i))
        return i[order], j[order], d[order]
    if engine is not None and engine.engine is Engine.ray:
        from norwoodkit.dedupe import mih_ray  # Ray only when asked for

        i, j, d = mih_ray.search(hashes, threshold, p, engine, others=others, progress=progress)
    else:
        i, j, d = mih.search(hashes, threshold, p, others=others, progress=progress)
    return (i, j, d) if others is None else _closer_direction(i, j, d)


def hamming_pairs_brute(
    hashes: U64,
    threshold: int,
    *,
    others: U64 | None = None,
    block_rows: int = 64,
    block_cols: int = 4096,
    progress: Callable[[int], None] | None = None,
) -> Pairs:
    """All pairs (i, j), i < j, whose Hamming distance is <= threshold, by comparing all pairs.

    With ``others`` (same length), row i of ``hashes`` is compared with ``others[j]`` for every
    j != i, and each unordered pair is reported once as (min, max) with the smaller of the two
    directions' distances: this is how mirrored copies are found (``others`` = mirror hashes).

    Memory stays at about ``block_rows * block_cols * 10`` bytes plus the pairs found.
    """
    n = len(hashes)
    symmetric = others is None
    target = hashes if others is None else others
    xbuf = np.empty((block_rows, block_cols), np.uint64)
    pbuf = np.empty((block_rows, block_cols), np.uint8)
    mbuf = np.empty((block_rows, block_cols), np.bool_)
    limit = np.uint8(threshold)
    found: list[Pairs] = []
    for i0 in range(0, n, block_rows):
        a = hashes[i0 : i0 + block_rows]
        r = len(a)
        # A symmetric relation needs only the columns right of the diagonal.
        for j0 in range(i0 if symmetric else 0, n, block_cols):
            b = target[j0 : j0 + block_cols]
            c = len(b)
            p = hamming_u64(a[:, None], b[None, :], out=(xbuf[:r, :c], pbuf[:r, :c]))
            m = np.less_equal(p, limit, out=mbuf[:r, :c])
            if m.any():
                found.append(_tile_pairs(p, m, i0, j0, symmetric=symmetric))
        if progress:
            progress(r)
    if not found:
        empty = np.empty(0, np.int64)
        return empty, empty.copy(), np.empty(0, np.uint8)
    i_all, j_all, d_all = (np.concatenate(part) for part in zip(*found, strict=True))
    return (i_all, j_all, d_all) if symmetric else _closer_direction(i_all, j_all, d_all)


def _tile_pairs(
    p: Distances, m: npt.NDArray[np.bool_], i0: int, j0: int, *, symmetric: bool
) -> Pairs:
    """The matches of one tile as global (i, j, distance), without self-pairs and repeats."""
    ii, jj = np.nonzero(m)
    gi, gj = ii + i0, jj + j0
    keep = gi < gj if symmetric else gi != gj
    return gi[keep].astype(np.int64), gj[keep].astype(np.int64), p[ii[keep], jj[keep]].copy()


def _closer_direction(i_all: I64, j_all: I64, d_all: Distances) -> Pairs:
    """(i, mirror j) and (j, mirror i) describe one pair: keep the closer direction."""
    lo, hi = np.minimum(i_all, j_all), np.maximum(i_all, j_all)
    order = np.lexsort((d_all, hi, lo))
    lo, hi, d_all = lo[order], hi[order], d_all[order]
    first = np.ones(len(lo), bool)
    first[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    return lo[first], hi[first], d_all[first]
