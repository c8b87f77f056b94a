"""The multi-index Hamming search spread over Ray tasks, one per (chunk, range of chunk values).

Every task runs ``mih.chunk_pairs`` for one chunk and the query buckets whose chunk value falls in
its range. The first-chunk rule reports each pair in one chunk only, and within a chunk each pair
of buckets is found from its smaller value only (``mih._Table.neighbours``), so the tasks' pairs
never overlap and, sorted by (i, j), are the local search's pairs exactly. The hashes travel to
the workers once, through Ray's object store; each task sorts them by its chunk again (n log n,
small beside the candidates it verifies) rather than shipping one sorted copy per chunk.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from norwoodkit.dedupe import mih
from norwoodkit.dedupe.distance import U64
from norwoodkit.dedupe.mih import Pairs
from norwoodkit.engine import EngineChoice, connect

__all__ = ["search"]

#: Tasks per chunk for each CPU of the cluster: a few, so a slow range does not hold the rest.
TASKS_PER_CPU = 2


def _task(
    hashes: U64, others: U64 | None, threshold: int, p: mih.Plan, k: int, key_range: tuple[int, int]
) -> Pairs:
    """One (chunk, value range) of the search, on a worker."""
    found = list(mih.chunk_pairs(hashes, threshold, p, k, others=others, key_range=key_range))
    return mih.concat(found)


def key_ranges(hashes: U64, p: mih.Plan, k: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` ranges [lo, hi) covering chunk ``k``'s values, about as many hashes in each."""
    keys = np.sort(mih.chunk_values(hashes, p, k))
    cuts = [int(keys[len(keys) * q // parts]) for q in range(1, parts)] if len(keys) else []
    bounds = sorted({0, *cuts, 1 << p.widths[k]})
    return list(itertools.pairwise(bounds))


def search(
    hashes: U64,
    threshold: int,
    p: mih.Plan,
    engine: EngineChoice,
    *,
    others: U64 | None = None,
    progress: Callable[[int], None] | None = None,
) -> Pairs:
    """``mih.search`` with every (chunk, value range) a Ray task on ``engine``'s cluster.

    Raises:
        RayMissingError: Ray is not installed.
        RayUnreachableError: the cluster cannot be reached.
    """
    ray: Any = connect(engine)
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    remote = ray.remote(_task)
    h_ref = ray.put(hashes)
    o_ref = None if others is None else ray.put(others)
    pending = [
        remote.remote(h_ref, o_ref, threshold, p, k, key_range)
        for k in range(len(p.widths))
        for key_range in key_ranges(hashes, p, k, TASKS_PER_CPU * cpus)
    ]
    n, total, found = len(hashes), len(pending), []
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        found.append(ray.get(done[0]))
        if progress:
            progress(n * len(found) // total - n * (len(found) - 1) // total)
    return mih.sort_pairs(mih.concat(found))
