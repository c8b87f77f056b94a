"""``find``: a probed dataset's images -> ``DedupeResult``, step by step (pairs, then groups)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pandas as pd

from norwoodkit.dataset import ProbedDataset
from norwoodkit.dedupe.groups import group
from norwoodkit.dedupe.options import SENSIBLE_NEAR_MAX, DedupeOptions
from norwoodkit.dedupe.pairs import (
    RAW_COLUMNS,
    classify,
    exact_pairs,
    hashed_pairs,
    not_compared,
    pair_table,
)
from norwoodkit.dedupe.result import DedupeResult
from norwoodkit.engine import EngineChoice

log = logging.getLogger(__name__)

#: The probe columns ``find`` reads (a warm ``dedupe`` reads only these from the probe cache).
PROBE_READS = frozenset(
    {"status", "error", "size", "sha256", "phash", "phash_mirror"}
    | {"oriented_width", "oriented_height"}  # the keeper of a group: its largest photo
)


def find(
    dataset: ProbedDataset,
    options: DedupeOptions | None = None,
    *,
    progress: Callable[[int], None] | None = None,
    engine: EngineChoice | None = None,
) -> DedupeResult:
    """Exact and near duplicates among a probed dataset's images (see ``probe.run``).

    ``engine`` Ray runs the Hamming search as Ray tasks (same result); None or local: here.
    """
    opts = options or DedupeOptions()
    dataset.require(PROBE_READS, "dedupe")
    if opts.near > SENSIBLE_NEAR_MAX:
        log.warning(
            "near: %d bits is above about %d, where unrelated photos start to match; expect "
            "many false pairs",
            opts.near,
            SENSIBLE_NEAR_MAX,
            extra={"parameter": "near"},
        )
    t = dataset.images.reset_index(drop=True)
    hashed = t["phash"].notna().to_numpy()
    hashed_frames = hashed_pairs(t, hashed, opts, progress, engine)
    frames = [f for f in (exact_pairs(t), *hashed_frames) if len(f)]
    raw = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=RAW_COLUMNS)
    pairs = classify(t, raw, opts)
    groups, chains_split = group(t, pairs, opts)
    return DedupeResult(
        pairs=pair_table(t, pairs),
        groups=groups,
        not_compared=not_compared(t, hashed),
        options=opts,
        images=len(t),
        compared=int(hashed.sum()),
        chains_split=chains_split,
    )
