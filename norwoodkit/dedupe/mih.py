"""Exact sub-quadratic Hamming range search over uint64 hashes: multi-index hashing.

Why it is exact. The 64 bits are cut into ``m`` contiguous chunks, chunk k searched within radius
``s_k`` with ``sum(s_k + 1) = threshold + 1`` (the generalised pigeonhole of Qin et al., after
Norouzi et al.'s multi-index hashing): if every chunk of a pair differed by more than its radius,
the pair would differ by at least ``threshold + 1`` bits. So every pair within the threshold has
at least one chunk within its radius, and is found in the first such chunk only (a candidate
found in chunk k is dropped when an earlier chunk is also within its radius), which reports each
pair exactly once without a global de-duplication.

How. Per chunk, the hashes are sorted by the chunk's value into buckets; a bucket meets itself
and, through a table indexed by chunk value, every bucket whose value lies within the radius
(XOR masks of up to ``s_k`` bits), each unordered pair of buckets probed from its smaller value
only (a mask probes only the keys where its highest bit is clear: half the probes). Candidates
are verified with the full 64-bit distance as tiles: a bucket pair is the XOR of one bucket's run
of sorted hashes against the other's (each run a row of a sliding-window view: one contiguous
copy per bucket, no index per candidate or per hash), and the bucket pairs of one tile shape (the
two buckets' size classes) are verified at once, into scratch that stays in cache. Work per hash
had cost more than the XORs: the search at 1M took 0.6-0.7x the time of verifying hash by hash.
A bucket pair with more candidates than ``BIG`` (real phashes are far from uniform, so some chunk
values are crowded) is searched as dense XOR tiles instead, as fast per pair as the brute force
and with bounded memory. Memory is the hashes, their sorted copy (padded) and order, one chunk
table (at most 2**24 int32), a block of keys x masks and a batch of candidates: never N x N,
never every candidate at once.

``plan`` chooses ``m`` from a cost model whose constants were fitted on phash-like hashes against
the brute force (``benchmarks/bench_hamming.py --fit``; docs/benchmarks.md); it returns None where
the brute force is cheaper (few hashes, or a threshold so large that no chunking prunes much),
and ``search`` runs either.

Spreading the work (``--engine ray``, ``mih_ray.py``): every (chunk, range of chunk values) is an
independent task: it needs only the hashes (broadcast once), the chunk's sorted order and table,
and reports each of its pairs exactly once by the first-chunk rule, so the tasks' outputs
concatenate (then sort) into the same pairs; ``chunk_pairs`` is that task, with ``key_range``.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from norwoodkit.dedupe.distance import HASH_BITS, U64, Distances

I64 = npt.NDArray[np.int64]
Pairs = tuple[I64, I64, Distances]
Bools = npt.NDArray[np.bool_]

#: A bucket pair with more candidates than this is searched as dense tiles.
BIG = 1 << 16
#: Candidate cells verified per vectorised batch (9 bytes of scratch each: 1 MiB stays in L2).
BATCH = 1 << 17
#: Keys x masks probed at once.
PROBE_BLOCK = 1 << 21
#: Widest chunk with a lookup table (2**24 int32 = 64 MiB); wider chunks get radius 0 only.
TABLE_BITS = 24
#: Bucket counts up to this have a tile width of their own; larger ones, a power of two.
EXACT = 8

# Seconds per unit of work on one idle core: a brute-force pair, a probe of one key with one mask,
# a candidate counted as on uniform hashes (phash-like buckets hold several times more: the
# constant absorbs that), a hash sorted per chunk. Probe and candidate were fitted on 200k
# phash-like hashes with 3 and 4 chunks, in units of the brute force measured beside them
# (``bench_hamming.py --fit``; docs/benchmarks.md); only their ratios choose the plan.
_BRUTE_PAIR = 3.0e-9
_PROBE = 4.5e-9
_CANDIDATE = 8.0e-9
_SORT = 150e-9
# Seconds per entry of a chunk's direct table (filled with -1: 0.3 ns measured at 2**21-2**22
# entries): what makes a few thousand hashes prefer more chunks of radius 0, which need none.
_TABLE_ENTRY = 0.3e-9


@dataclass(frozen=True)
class Plan:
    """Chunk widths (most significant chunk first) and the radius each chunk is searched in."""

    widths: tuple[int, ...]
    radii: tuple[int, ...]

    def shifts(self) -> tuple[int, ...]:
        """Right shift that brings each chunk to the low bits."""
        ends = itertools.accumulate(self.widths)
        return tuple(HASH_BITS - e for e in ends)


def chunking(m: int, threshold: int) -> Plan:
    """``m`` near-equal chunks with radii summing (plus one each) to ``threshold + 1``."""
    if not 1 <= m <= threshold + 1:
        raise ValueError(f"chunks must be 1..threshold+1 ({threshold + 1}), not {m}")
    base, wide = divmod(HASH_BITS, m)
    widths = tuple(base + (k < wide) for k in range(m))
    q, extra = divmod(threshold + 1, m)
    # The wider chunks take the extra radius: their neighbourhoods are the sparser ones.
    radii = tuple(q - 1 + (k < extra) for k in range(m))
    return Plan(widths, radii)


def ball_size(width: int, radius: int) -> int:
    """Chunk values within ``radius`` bits of one value of ``width`` bits (itself included)."""
    return sum(math.comb(width, k) for k in range(radius + 1))


def work(n_query: int, n_index: int, p: Plan) -> tuple[float, float, float, float]:
    """Units of work of plan ``p`` on uniform hashes: (sorted hashes, probes, candidates, table
    entries)."""
    sort, probes, candidates = float((n_query + n_index) * len(p.widths)), 0.0, 0.0
    table = 0.0
    for w, s in zip(p.widths, p.radii, strict=True):
        if s > 0 and w > TABLE_BITS:
            return sort, math.inf, math.inf, 0.0
        occupied = 2.0**w * -math.expm1(-n_query / 2.0**w)  # expected non-empty buckets
        probes += occupied * (ball_size(w, s) - 1)
        candidates += n_query * n_index * ball_size(w, s) / 2.0**w
        table += 2.0**w if s > 0 else 0.0
    return sort, probes, candidates, table


def estimate(n_query: int, n_index: int, p: Plan) -> float:
    """Seconds this plan should take (the cost model ``plan`` minimises)."""
    sort, probes, candidates, table = work(n_query, n_index, p)
    return _SORT * sort + _PROBE * probes + _CANDIDATE * candidates + _TABLE_ENTRY * table


def plan(n: int, threshold: int, *, n_index: int | None = None) -> Plan | None:
    """The cheapest chunking for ``n`` hashes (against ``n_index`` others), or None: brute."""
    n_index = n if n_index is None else n_index
    pairs = n * n_index / (2 if n_index == n else 1)
    best: tuple[float, Plan | None] = (_BRUTE_PAIR * pairs, None)
    for m in range(1, min(threshold + 1, 16) + 1):
        p = chunking(m, threshold)
        cost = estimate(n, n_index, p)
        if cost < best[0]:
            best = (cost, p)
    return best[1]


def search(
    hashes: U64,
    threshold: int,
    p: Plan,
    *,
    others: U64 | None = None,
    progress: Callable[[int], None] | None = None,
) -> Pairs:
    """All (i, j, distance) within ``threshold``, found by plan ``p``.

    Without ``others``: pairs i < j of ``hashes``. With ``others``: directed pairs (i, j), i != j,
    of ``hashes[i]`` against ``others[j]`` (the caller folds the two directions). Sorted by (i, j).
    """
    found: list[Pairs] = []
    n = len(hashes)
    for k in range(len(p.widths)):
        found.extend(chunk_pairs(hashes, threshold, p, k, others=others))
        if progress:
            progress(n * (k + 1) // len(p.widths) - n * k // len(p.widths))
    return sort_pairs(concat(found))


def concat(found: list[Pairs]) -> Pairs:
    """Parts of a search as one (i, j, distance) triple of arrays (empty ones when none)."""
    if not found:
        empty = np.empty(0, np.int64)
        return empty, empty.copy(), np.empty(0, np.uint8)
    i, j, d = (np.concatenate(part) for part in zip(*found, strict=True))
    return i, j, d


def sort_pairs(found: Pairs) -> Pairs:
    """Pairs sorted by (i, j): the order every search returns."""
    i, j, d = found
    if not len(i):
        return i, j, d
    # One int64 key per pair instead of a two-key lexsort: 5M pairs sort in a fifth of the
    # time. i * span + j orders as (i, j) does, and cannot overflow while both stay below 2**31
    # (far more hashes than fit in memory); keys are unique, so no stable sort is needed.
    order = np.argsort(i * (int(j.max()) + 1) + j)
    return i[order], j[order], d[order]


def chunk_values(hashes: U64, p: Plan, k: int) -> U64:
    """Chunk ``k``'s value of every hash."""
    return _chunk(hashes, p.shifts()[k], p.widths[k])


@dataclass(frozen=True)
class _Side:
    """One side's hashes sorted by a chunk's value, grouped into buckets."""

    order: I64  # sorted position -> original index
    sorted: U64  # hashes in that order
    keys: U64  # each bucket's chunk value, ascending
    starts: I64
    counts: I64

    @classmethod
    def of(cls, hashes: U64, shift: int, width: int) -> _Side:
        key = _chunk(hashes, shift, width)
        order = np.argsort(key, kind="stable").astype(np.int64)
        ks = key[order]
        first = np.ones(len(ks), bool)
        first[1:] = ks[1:] != ks[:-1]
        starts = np.flatnonzero(first).astype(np.int64)
        counts = np.diff(np.append(starts, len(ks))).astype(np.int64)
        return cls(order, hashes[order], ks[starts], starts, counts)

    @functools.cached_property
    def padded(self) -> U64:
        """The sorted hashes followed by zeros: a window as wide as any bucket's tile exists at
        every bucket's start (at most ``BIG``: a wider bucket only ever meets others densely)."""
        widest = min(_tile_width(int(self.size_class.max())), BIG) if len(self.counts) else 1
        return np.concatenate([self.sorted, np.zeros(widest, np.uint64)])

    @functools.cached_property
    def size_class(self) -> npt.NDArray[np.uint16]:
        """Each bucket's tile width class (``_size_class`` of its count)."""
        return _size_class(self.counts)

    @functools.cached_property
    def _windows(self) -> dict[int, U64]:
        return {}

    def windows(self, width: int) -> U64:
        """Every run of ``width`` sorted hashes, by its start: a view, made once per width."""
        if width not in self._windows:
            self._windows[width] = sliding_window_view(self.padded, width)
        return self._windows[width]


def _chunk(h: U64, shift: int, width: int) -> U64:
    mask = np.uint64((1 << width) - 1)
    return np.bitwise_and(np.right_shift(h, np.uint64(shift)), mask)


def _masks(width: int, radius: int) -> U64:
    """Every non-zero value of ``width`` bits with at most ``radius`` bits set."""
    out = [
        sum(1 << b for b in bits)
        for r in range(1, radius + 1)
        for bits in itertools.combinations(range(width), r)
    ]
    return np.array(out, dtype=np.uint64)


def chunk_pairs(
    hashes: U64,
    threshold: int,
    p: Plan,
    k: int,
    *,
    others: U64 | None = None,
    key_range: tuple[int, int] | None = None,
) -> Iterator[Pairs]:
    """The pairs whose first chunk within its radius is chunk ``k`` (one independent task).

    ``key_range`` (lo, hi) limits the task to query buckets whose chunk value is in [lo, hi).
    """
    shift, width, radius = p.shifts()[k], p.widths[k], p.radii[k]
    query = _Side.of(hashes, shift, width)
    index = query if others is None else _Side.of(others, shift, width)
    check = _Verify(query, index, threshold, p, k, symmetric=others is None)
    rows = np.arange(len(query.keys))
    if key_range is not None:
        lo, hi = np.searchsorted(query.keys, np.array(key_range, np.uint64))
        rows = rows[lo:hi]
    masks = _masks(width, radius)
    table = _Table(index, width, masks) if len(masks) else None
    step = max(1, PROBE_BLOCK // max(1, len(masks)))
    for b0 in range(0, len(rows), step):
        qa = rows[b0 : b0 + step]
        qb = _self_buckets(query, index, qa, symmetric=others is None)
        if table is not None:
            na, nb = table.neighbours(query, qa, symmetric=others is None)
            qa, qb = np.concatenate([qa[qb >= 0], na]), np.concatenate([qb[qb >= 0], nb])
        else:
            qa, qb = qa[qb >= 0], qb[qb >= 0]
        yield from check.bucket_pairs(qa, qb)


#: Bits of a size class in a tile shape key (classes up to 63: counts far beyond any input).
_CLS = 6
_CLS_MASK = (1 << _CLS) - 1


def _size_class(c: I64) -> npt.NDArray[np.uint16]:
    """A bucket count's tile width class: exact up to 8, then the next power of two (16 -> 9)."""
    cls = np.minimum(c, EXACT + 1).astype(np.uint16)
    wide = np.flatnonzero(cls == EXACT + 1)
    cls[wide] = EXACT - EXACT.bit_length() + 1 + np.ceil(np.log2(c[wide])).astype(np.uint16)
    return cls


def _tile_width(cls: int) -> int:
    """The width of size class ``cls`` (inverse of ``_size_class`` on its bounds)."""
    return cls if cls <= EXACT else 1 << (cls - EXACT + EXACT.bit_length() - 1)


def _self_buckets(query: _Side, index: _Side, rows: I64, *, symmetric: bool) -> I64:
    """For each query bucket, the index bucket with the same chunk value (-1: none)."""
    if symmetric:
        return np.where(query.counts[rows] >= 2, rows, -1)
    pos = np.searchsorted(index.keys, query.keys[rows])
    pos = np.minimum(pos, len(index.keys) - 1)
    hit = (len(index.keys) > 0) & (index.keys[pos] == query.keys[rows])
    return np.where(hit, pos, -1)


class _Table:
    """Chunk value -> index bucket (-1: empty): a direct table, or a binary search when wide."""

    def __init__(self, index: _Side, width: int, masks: U64) -> None:
        self.keys = index.keys
        self.direct: npt.NDArray[np.int32] | None = None
        self.masks: npt.NDArray[np.int32] | U64 = masks
        self.width = width
        if width <= TABLE_BITS:
            # int32 keys and masks index the table directly: half the memory traffic of int64.
            self.direct = np.full(1 << width, -1, np.int32)
            self.direct[index.keys.astype(np.int64)] = np.arange(len(index.keys), dtype=np.int32)
            self.masks = masks.astype(np.int32)
        # Each mask's highest set bit: a key with that bit clear is the smaller of the two.
        top = np.zeros(len(masks), np.int64)
        for b in range(width):
            top[(masks >> np.uint64(b)) != 0] = b
        self.top = top

    def neighbours(self, query: _Side, rows: I64, *, symmetric: bool) -> tuple[I64, I64]:
        """(query bucket, index bucket) pairs whose chunk values differ by one of the masks."""
        own = query.keys[rows]
        keys: npt.NDArray[Any] = own.astype(self.masks.dtype)
        if not symmetric:
            return self._probe(rows, keys, self.masks)
        # Each unordered bucket pair once, from its smaller key: key ^ mask > key exactly when
        # the mask's highest bit is clear in the key, so only those keys probe those masks
        # (half the probes of testing afterwards).
        found_a, found_b = [], []
        for b in np.unique(self.top).tolist():
            clear = np.bitwise_and(own, np.uint64(1 << b)) == 0
            qa, qb = self._probe(rows[clear], keys[clear], self.masks[self.top == b])
            found_a.append(qa)
            found_b.append(qb)
        return np.concatenate(found_a), np.concatenate(found_b)

    def _probe(self, rows: I64, keys: npt.NDArray[Any], masks: npt.NDArray[Any]) -> tuple[I64, I64]:
        """Every (row, mask) probe that lands on a bucket."""
        # Mask-major: one mask's probes over ascending keys land close together in the table.
        probe = np.bitwise_xor(masks[:, None], keys[None, :]).ravel()
        if self.direct is not None:
            hit: npt.NDArray[Any] = self.direct[probe]  # int32: widened for the hits only
        else:
            pos = np.minimum(np.searchsorted(self.keys, probe), len(self.keys) - 1)
            hit = np.where(self.keys[pos] == probe, pos, -1)
        flat = np.flatnonzero(hit >= 0)
        return rows[flat % len(keys)], hit[flat].astype(np.int64)


class _Verify:
    """Bucket pairs -> verified pairs of original indices, each reported by one chunk only."""

    def __init__(
        self, query: _Side, index: _Side, threshold: int, p: Plan, k: int, *, symmetric: bool
    ) -> None:
        self.query, self.index, self.threshold = query, index, threshold
        self.earlier = [(p.shifts()[e], p.widths[e], p.radii[e]) for e in range(k)]
        self.symmetric = symmetric
        self._x, self._bits = np.empty(0, np.uint64), np.empty(0, np.uint8)

    def bucket_pairs(self, qa: I64, qb: I64) -> Iterator[Pairs]:
        """Verified pairs of the bucket pairs (qa[t], qb[t])."""
        # Bucket pairs grouped by tile shape: the two buckets' size classes (and, on one side,
        # whether the bucket meets itself), by a counting sort (radix, for uint16 keys).
        shape = (self.query.size_class[qa] << _CLS) | self.index.size_class[qb]
        if self.symmetric:
            shape |= (qa == qb).astype(np.uint16) << 2 * _CLS
        order = np.argsort(shape, kind="stable")
        sizes = np.bincount(shape, minlength=2 << 2 * _CLS)
        ends = np.cumsum(sizes)

        def group(g: int) -> tuple[I64, I64]:
            sel = order[ends[g] - sizes[g] : ends[g]]
            return qa[sel], qb[sel]

        for g in np.flatnonzero(sizes).tolist():
            a, b, same = (g >> _CLS) & _CLS_MASK, g & _CLS_MASK, g >= 1 << 2 * _CLS
            ga, gb = group(g)
            mirror = (b << _CLS) | a
            if self.symmetric and a != b and sizes[mirror]:
                # One side: a (b, a) pair is an (a, b) pair read the other way round, so the
                # two shapes make one group, the smaller class first.
                if a > b:
                    continue  # joined to its mirror's group
                ma, mb = group(mirror)
                ga, gb = np.concatenate([ga, mb]), np.concatenate([gb, ma])
            yield from self._shape(ga, gb, (_tile_width(a), _tile_width(b)), same)

    def _shape(self, qa: I64, qb: I64, tile: tuple[int, int], same: bool) -> Iterator[Pairs]:
        """Bucket pairs of one tile shape: crowded ones as dense tiles, the rest as tiles."""
        sa, sb = self.query.starts[qa], self.index.starts[qb]
        if tile[0] <= EXACT and tile[1] <= EXACT:  # exact classes: a tile is its two buckets
            yield from self._tiles(sa, None, sb, None, tile, same)
            return
        ca, cb = self.query.counts[qa], self.index.counts[qb]
        if tile[0] * tile[1] > BIG:
            big = ca * cb > BIG
            for t in np.flatnonzero(big).tolist():
                yield self._dense(int(sa[t]), int(ca[t]), int(sb[t]), int(cb[t]), same)
            small = np.flatnonzero(~big)
            sa, ca, sb, cb = sa[small], ca[small], sb[small], cb[small]
        yield from self._tiles(sa, ca, sb, cb, tile, same)

    def _tiles(
        self, sa: I64, ca: I64 | None, sb: I64, cb: I64 | None, tile: tuple[int, int], same: bool
    ) -> Iterator[Pairs]:
        """Bucket pairs whose counts fit ``tile``: each pair one (wa x wb) tile of XORs.

        A bucket's hashes are a window of the padded sorted hashes (a contiguous copy per bucket,
        no index per candidate). Where classes are padded (counts ``ca``, ``cb`` given), cells
        past a bucket's count are dropped, as are a bucket's cells with itself on or below the
        diagonal, from the few cells that pass.
        """
        wa, wb = tile
        rows, cols = self.query.windows(wa), self.index.windows(wb)
        step = max(1, BATCH // (wa * wb))
        x, bits = self._buffers(step * wa * wb)
        for s0 in range(0, len(sa), step):
            pa, pb = sa[s0 : s0 + step], sb[s0 : s0 + step]
            xt = x[: len(pa) * wa * wb].reshape(len(pa), wa, wb)
            np.bitwise_xor(rows[pa][:, :, None], cols[pb][:, None, :], out=xt)
            counts = np.bitwise_count(xt.ravel(), out=bits[: xt.size])
            flat = np.flatnonzero(counts <= self.threshold)
            t, cell = np.divmod(flat, wa * wb)
            i, j = np.divmod(cell, wb)
            if ca is not None and cb is not None:
                keep = (i < ca[s0 : s0 + step][t]) & (j < cb[s0 : s0 + step][t])
                t, i, j = t[keep], i[keep], j[keep]
            if same:
                t, i, j = t[i < j], i[i < j], j[i < j]
            yield self._finish(pa[t] + i, pb[t] + j)

    def _buffers(self, cells: int) -> tuple[U64, npt.NDArray[np.uint8]]:
        """Scratch for ``cells`` XORs and their bit counts, reused across tiles."""
        if len(self._x) < cells:
            self._x, self._bits = np.empty(cells, np.uint64), np.empty(cells, np.uint8)
        return self._x, self._bits

    def _dense(self, sa: int, ca: int, sb: int, cb: int, same: bool) -> Pairs:
        """A crowded bucket pair as dense tiles: bounded memory, brute-force speed."""
        a, b = self.query.sorted[sa : sa + ca], self.index.sorted[sb : sb + cb]
        rows = max(1, BATCH // max(cb, 1))
        found_a, found_b = [], []
        for r0 in range(0, ca, rows):
            d = np.bitwise_count(np.bitwise_xor(a[r0 : r0 + rows, None], b[None, :]))
            ii, jj = np.nonzero(d <= self.threshold)
            ii = ii + r0
            if same:
                ii, jj = ii[ii < jj], jj[ii < jj]
            found_a.append(ii + sa)
            found_b.append(jj + sb)
        return self._finish(np.concatenate(found_a), np.concatenate(found_b))

    def _finish(self, pa: I64, pb: I64) -> Pairs:
        """Verify positions (sorted order) and map them to original indices."""
        x = np.bitwise_xor(self.query.sorted[pa], self.index.sorted[pb])
        d = np.bitwise_count(x)
        ok = np.flatnonzero(d <= self.threshold)
        for shift, width, radius in self.earlier:
            # Within an earlier chunk's radius: that chunk reports the pair.
            ok = ok[np.bitwise_count(_chunk(x[ok], shift, width)) > radius]
        i, j = self.query.order[pa[ok]], self.index.order[pb[ok]]
        d = d[ok]
        if self.symmetric:
            return np.minimum(i, j), np.maximum(i, j), d
        keep = i != j
        return i[keep], j[keep], d[keep]
