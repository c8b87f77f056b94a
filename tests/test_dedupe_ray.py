"""The Hamming search as Ray tasks finds exactly the brute force's pairs (a local Ray instance)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_dedupe_search import clustered, random_hashes, triples

from norwoodkit import dataset, dedupe, probe
from norwoodkit.dedupe import mih, mih_ray
from norwoodkit.dedupe.search import hamming_pairs, hamming_pairs_brute
from norwoodkit.engine import Engine, EngineChoice

RAY = EngineChoice(Engine.ray)


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    ray = pytest.importorskip("ray")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    if started:
        ray.shutdown()


def mixed(n: int) -> np.ndarray:
    """Random hashes and clusters of near copies: crowded and empty buckets both."""
    return np.concatenate([random_hashes(n // 2, 11), clustered(n - n // 2, 12, centres=40)])


@pytest.mark.parametrize("m", [3, 4, 8])
def test_tasks_find_the_brute_force_pairs(m: int) -> None:
    h = mixed(3000)
    p = mih.chunking(m, 10)
    expected = hamming_pairs_brute(h, 10)
    found = mih_ray.search(h, 10, p, RAY)
    assert triples(found) == triples(expected)
    i, j, _ = found
    assert (np.lexsort((j, i)) == np.arange(len(i))).all(), "pairs come sorted by (i, j)"


def test_mirror_hashes_as_tasks_match_the_local_search() -> None:
    h = mixed(2000)
    m = h ^ np.uint64(0b1011)
    m[::5] = random_hashes(len(m[::5]), 13)
    p = mih.chunking(4, 10)
    assert triples(mih_ray.search(h, 10, p, RAY, others=m)) == triples(
        mih.search(h, 10, p, others=m)
    )


def test_hamming_pairs_under_the_ray_engine_agrees_with_the_brute_force() -> None:
    h = mixed(20_000)
    assert mih.plan(len(h), 10) is not None, "the multi-index path (the one Ray spreads) runs"
    ticks: list[int] = []
    found = hamming_pairs(h, 10, engine=RAY, progress=ticks.append)
    assert triples(found) == triples(hamming_pairs_brute(h, 10))
    assert sum(ticks) == len(h)


def test_no_pairs_and_empty_ranges() -> None:
    h = np.array([0, 2**64 - 1, 0x5555_5555_5555_5555], np.uint64)
    assert triples(mih_ray.search(h, 2, mih.chunking(3, 2), RAY)) == set()


def test_key_ranges_cover_every_value_once() -> None:
    h = clustered(500, 14)
    p = mih.chunking(3, 10)
    for k in range(3):
        ranges = mih_ray.key_ranges(h, p, k, 5)
        assert ranges[0][0] == 0 and ranges[-1][1] == 1 << p.widths[k]
        assert all(a[1] == b[0] and a[0] < a[1] for a, b in itertools.pairwise(ranges))


def test_find_under_the_ray_engine_gives_the_local_result(defect_sample: Path) -> None:
    ds = probe.run(dataset.load(defect_sample), workers=1)
    opts = dedupe.DedupeOptions(mirror=True)
    local = dedupe.find(ds, opts)
    on_ray = dedupe.find(ds, opts, engine=RAY)
    assert len(local.pairs), "the defects sample plants duplicates"
    pd.testing.assert_frame_equal(on_ray.pairs, local.pairs)
    pd.testing.assert_frame_equal(on_ray.groups, local.groups)
