"""The multi-index search finds exactly the brute force's pairs, on every kind of input."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from norwoodkit.dedupe import mih
from norwoodkit.dedupe.distance import HASH_BITS, U64
from norwoodkit.dedupe.options import DedupeOptions
from norwoodkit.dedupe.search import hamming_pairs, hamming_pairs_brute

Triples = set[tuple[int, int, int]]
#: 0, 1, the defaults of ``same`` and ``near``, a wide one, and the largest dedupe accepts.
THRESHOLDS = [0, 1, DedupeOptions.same, DedupeOptions.near, 20, HASH_BITS]


def triples(found: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Triples:
    i, j, d = found
    assert len(i) == len(j) == len(d)
    out = set(zip(i.tolist(), j.tolist(), d.tolist(), strict=True))
    assert len(out) == len(i), "a pair was reported twice"
    return out


def random_hashes(n: int, seed: int) -> U64:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2**64, n, dtype=np.uint64, endpoint=False)


def clustered(n: int, seed: int, centres: int = 5, flips: int = 3) -> U64:
    """Many near-identical hashes: a few centres, each copy with up to ``flips`` bits flipped."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**64, centres, dtype=np.uint64, endpoint=False)
    h = base[rng.integers(0, centres, n)]
    for _ in range(flips):
        bit = rng.integers(0, 64, n).astype(np.uint64)
        h = h ^ np.where(rng.random(n) < 0.7, np.uint64(1) << bit, np.uint64(0))
    return h


def plans(threshold: int) -> list[mih.Plan]:
    """Every chunking the search could run at this threshold whose masks stay few."""
    out = []
    for m in range(1, min(threshold + 1, 8) + 1):
        p = mih.chunking(m, threshold)
        if sum(mih.ball_size(w, s) for w, s in zip(p.widths, p.radii, strict=True)) < 3000:
            out.append(p)
    return out


def mirror_reference(h: U64, threshold: int, m: U64) -> Triples:
    return triples(hamming_pairs_brute(h, threshold, others=m))


KINDS: dict[str, Callable[[int], U64]] = {
    "random": lambda n: random_hashes(n, 1),
    "clustered": lambda n: clustered(n, 2),
    "all-equal": lambda n: np.full(n, 0xDEADBEEF12345678, np.uint64),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_every_plan_finds_the_brute_force_pairs(kind: str, threshold: int) -> None:
    h = KINDS[kind](300)
    expected = triples(hamming_pairs_brute(h, threshold))
    for p in plans(threshold):
        assert triples(mih.search(h, threshold, p)) == expected, p
    assert triples(hamming_pairs(h, threshold)) == expected


@pytest.mark.parametrize("n", [0, 1, 2])
@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_tiny_inputs(n: int, threshold: int) -> None:
    h = np.array([0x0F, 0x0E][:n], np.uint64)
    expected = triples(hamming_pairs_brute(h, threshold))
    assert expected == ({(0, 1, 1)} if n == 2 and threshold >= 1 else set())
    for p in plans(threshold):
        assert triples(mih.search(h, threshold, p)) == expected
        assert triples(mih.search(h, threshold, p, others=h)) == {
            (a, b, d) for a, b, d in expected
        } | {(b, a, d) for a, b, d in expected}


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("threshold", [0, 1, 4, 10, HASH_BITS])
def test_mirror_hashes_match_the_brute_force(kind: str, threshold: int) -> None:
    h = KINDS[kind](200)
    m = h ^ np.uint64(0b1011)  # as if every image had a mirror 3 bits away
    m[::7] = random_hashes(len(m[::7]), 9)
    expected = mirror_reference(h, threshold, m)
    assert triples(hamming_pairs(h, threshold, others=m)) == expected
    for p in plans(threshold):
        i, j, d = mih.search(h, threshold, p, others=m)
        assert not (i == j).any()
        folded: dict[tuple[int, int], int] = {}
        for a, b, dist in zip(i.tolist(), j.tolist(), d.tolist(), strict=True):
            key = (min(a, b), max(a, b))
            folded[key] = min(dist, folded.get(key, HASH_BITS + 1))
        assert {(a, b, d) for (a, b), d in folded.items()} == expected, p


def test_crowded_buckets_are_searched_as_dense_tiles() -> None:
    # 700 equal chunk values in every chunk: 700 x 699 / 2 candidates, above BIG, so the dense
    # path runs; every pair is within 2 bits.
    h = clustered(700, 4, centres=1, flips=1)
    assert mih.BIG < 700 * 699 // 2
    p = mih.chunking(4, 10)
    assert triples(mih.search(h, 10, p)) == triples(hamming_pairs_brute(h, 10))


def test_large_input_takes_the_multi_index_path_and_agrees() -> None:
    h = np.concatenate([random_hashes(30_000, 5), clustered(10_000, 6, centres=50, flips=4)])
    assert mih.plan(len(h), 10) is not None
    i, j, d = hamming_pairs(h, 10)
    ref = hamming_pairs_brute(h, 10)
    assert triples((i, j, d)) == triples(ref)
    assert (np.lexsort((j, i)) == np.arange(len(i))).all(), "pairs come sorted by (i, j)"


def test_a_task_per_key_range_adds_up_to_the_whole() -> None:
    h = clustered(400, 7, centres=20, flips=4)
    p = mih.chunking(3, 10)
    whole = triples(mih.search(h, 10, p))
    parts: Triples = set()
    for k in range(3):
        for lo, hi in [(0, 1 << 10), (1 << 10, 1 << 23)]:
            for found in mih.chunk_pairs(h, 10, p, k, key_range=(lo, hi)):
                parts |= triples(found)
    assert parts == whole


def test_chunking_rejects_more_chunks_than_the_threshold_allows() -> None:
    with pytest.raises(ValueError, match="chunks"):
        mih.chunking(12, 10)


def test_small_inputs_and_wide_thresholds_choose_the_brute_force() -> None:
    assert mih.plan(500, 10) is None
    assert mih.plan(1_000_000, HASH_BITS) is None
    assert mih.plan(1_000_000, 10) is not None


hash_lists = st.lists(st.integers(0, 2**64 - 1), max_size=60)


@settings(max_examples=60, deadline=None)
@given(
    seeds=hash_lists,
    copies=st.lists(st.tuples(st.integers(0, 59), st.integers(0, 2**64 - 1)), max_size=60),
    threshold=st.sampled_from([*THRESHOLDS, 2, 3, 7, 12]),
    m=st.integers(1, 8),
)
def test_property_same_pairs_as_the_brute_force(
    seeds: list[int], copies: list[tuple[int, int]], threshold: int, m: int
) -> None:
    # Copies flip a few bits of a seed (the AND of three random masks keeps ~1/8 of the bits).
    values = list(seeds)
    for k, noise in copies:
        if seeds:
            values.append(seeds[k % len(seeds)] ^ (noise & (noise >> 7) & (noise >> 19)))
    h = np.array(values, dtype=np.uint64)
    p = mih.chunking(min(m, threshold + 1), threshold)
    if sum(mih.ball_size(w, s) for w, s in zip(p.widths, p.radii, strict=True)) > 3000:
        p = mih.chunking(min(8, threshold + 1), threshold)
    expected = triples(hamming_pairs_brute(h, threshold))
    assert triples(mih.search(h, threshold, p)) == expected
    assert triples(hamming_pairs(h, threshold)) == expected


def shaped_buckets(seed: int) -> U64:
    """Buckets of many sizes in a chain of chunk values one bit apart: each meets the next."""
    rng = np.random.default_rng(seed)
    sizes = [1, 40, 1, 2, 17, 12, 30, 12, 3, 5, 8, 9, 16, 300, 1, 1]
    high = np.repeat(np.array([(1 << k) - 1 for k in range(len(sizes))], np.uint64), sizes)
    low = rng.integers(0, 16, len(high)).astype(np.uint64) * np.uint64(0x01010101)
    return rng.permutation((high << np.uint64(32)) | low)


@pytest.mark.parametrize("seed", [0, 1])
def test_every_tile_shape_and_the_dense_path_agree(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A smaller BIG puts both sides of it into one padded tile shape (17 x 12: a 32 x 16 tile
    # over BIG; 30 x 12 over BIG itself), beside exact shapes, mirrored shapes and buckets meeting
    # themselves.
    monkeypatch.setattr(mih, "BIG", 256)
    h = shaped_buckets(seed)
    p = mih.chunking(2, 3)
    assert p.widths == (32, 32) and p.radii == (1, 1)
    expected = triples(hamming_pairs_brute(h, 3))
    assert len(expected) > 1000
    assert triples(mih.search(h, 3, p)) == expected
    m = h ^ np.uint64(1)
    i, j, d = mih.search(h, 3, p, others=m)
    assert triples((i, j, d)) == triples(mirror_pairs(h, 3, m))


def mirror_pairs(h: U64, threshold: int, m: U64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Directed pairs (i, j), i != j, of h[i] against m[j] within the threshold (brute force)."""
    d = np.bitwise_count(np.bitwise_xor(h[:, None], m[None, :]))
    i, j = np.nonzero((d <= threshold) & ~np.eye(len(h), dtype=bool))
    return i.astype(np.int64), j.astype(np.int64), d[i, j]
