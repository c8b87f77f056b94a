"""Probe hashes -> duplicate pairs and groups. Decodes nothing: sha256 and phash come from probe.

- exact duplicates: the same sha256 (the same bytes);
- near duplicates: Hamming distance between 64-bit phashes, in two tiers: ``same`` (re-encoded,
  resized, brightened copies of one photo) and ``near`` (for review);
- every pair is ``cross-subject`` (one photo under two people: leakage) or ``within-subject``
  (one photo reused for two views); ``mirror`` also matches horizontally flipped copies;
- groups use complete linkage: every two members of a group are within the threshold, so
  unrelated images never chain into one group through intermediaries.

Modules: ``distance`` (the one Hamming distance), ``search`` and ``mih`` (the exact pair search),
``pairs`` (pair sources, tiers and kinds), ``groups`` (components, complete linkage, keepers),
``result`` (``DedupeResult``, the exclude list), ``calibration``, ``options``, and
``duplicates`` (``find``, which runs them in order).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from norwoodkit import lazy

if TYPE_CHECKING:
    from norwoodkit.dedupe.calibration import calibrate
    from norwoodkit.dedupe.distance import (
        HASH_BITS,
        U64,
        hamming,
        hamming_u64,
        hashes_to_u64,
        u64_to_hex,
    )
    from norwoodkit.dedupe.duplicates import find
    from norwoodkit.dedupe.groups import GROUP_COLUMNS
    from norwoodkit.dedupe.options import SENSIBLE_NEAR_MAX, DedupeOptions, FailOn, Kind, Tier
    from norwoodkit.dedupe.pairs import PAIR_COLUMNS
    from norwoodkit.dedupe.result import DedupeResult, excluded
    from norwoodkit.dedupe.search import I64, hamming_pairs

__all__ = [
    "GROUP_COLUMNS",
    "HASH_BITS",
    "I64",
    "PAIR_COLUMNS",
    "SENSIBLE_NEAR_MAX",
    "U64",
    "DedupeOptions",
    "DedupeResult",
    "FailOn",
    "Kind",
    "Tier",
    "calibrate",
    "excluded",
    "find",
    "hamming",
    "hamming_pairs",
    "hamming_u64",
    "hashes_to_u64",
    "u64_to_hex",
]

# public name -> the module that defines it, imported on first use: the CLI reads FailOn
# for its options without importing numpy
_HOMES = {
    "DedupeOptions": "options",
    "DedupeResult": "result",
    "FailOn": "options",
    "GROUP_COLUMNS": "groups",
    "HASH_BITS": "distance",
    "I64": "search",
    "Kind": "options",
    "PAIR_COLUMNS": "pairs",
    "SENSIBLE_NEAR_MAX": "options",
    "Tier": "options",
    "U64": "distance",
    "calibrate": "calibration",
    "excluded": "result",
    "find": "duplicates",
    "hamming": "distance",
    "hamming_pairs": "search",
    "hamming_u64": "distance",
    "hashes_to_u64": "distance",
    "u64_to_hex": "distance",
}


if not TYPE_CHECKING:  # mypy sees the imports above; an unknown name stays an error for it
    __getattr__, __dir__ = lazy.exports(__name__, _HOMES, __all__)
