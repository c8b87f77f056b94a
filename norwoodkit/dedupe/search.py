"""The tiled all-pairs search: every pair of uint64 hashes within a Hamming threshold.

XOR and popcount run over tiles of ``block_rows x block_cols`` hashes whose buffers are
allocated once, so memory is bounded by the tile plus the pairs found, never N x N.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from norwoodkit.dedupe.distance import U64, Distances, hamming_u64

I64 = npt.NDArray[np.int64]
Pairs = tuple[I64, I64, Distances]


def hamming_pairs(
    hashes: U64,
    threshold: int,
    *,
    others: U64 | None = None,
    block_rows: int = 64,
    block_cols: int = 4096,
    progress: Callable[[int], None] | None = None,
) -> Pairs:
    """All pairs (i, j), i < j, whose Hamming distance is <= threshold.

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
