"""What ``find`` is asked and the words it answers in: thresholds, tiers, kinds, ``fail_on``."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from norwoodkit.errors import ParameterError

#: Above this, unrelated photos start to match (their phash distances centre near 32 +- 4).
SENSIBLE_NEAR_MAX = 16


class Tier(StrEnum):
    """How alike two images are."""

    EXACT = "exact"  # same bytes
    SAME = "same"  # distance <= same threshold: one photo re-encoded, resized, brightened
    NEAR = "near"  # distance <= near threshold: worth a look


class Kind(StrEnum):
    """Whose images the two are."""

    CROSS = "cross-subject"
    WITHIN = "within-subject"


class FailOn(StrEnum):
    """Which duplicates make ``dedupe --fail-on`` exit 1."""

    CROSS = "cross-subject"
    WITHIN = "within-subject"
    ANY = "any"

    @classmethod
    def _missing_(cls, value: object) -> FailOn:
        # Enum lets a ValueError raised here through unchanged, so the caller learns the choices.
        choices = ", ".join(m.value for m in cls)
        raise ParameterError("fail_on", f"{value!r} is not one of {choices}")


@dataclass(frozen=True)
class DedupeOptions:
    """Thresholds and switches of ``find``.

    Attributes:
        same: largest phash distance (bits) for the ``same`` tier.
        near: largest phash distance for the ``near`` tier; pairs and groups use it.
        mirror: also compare each image with the horizontal mirror of the others.
        block_rows: rows per tile of the all-pairs search (memory is rows x cols x 10 bytes).
        block_cols: columns per tile.

    Raises:
        ParameterError: a threshold outside 0..64, ``same`` above ``near``, or a block size
            below 1.
    """

    same: int = 4
    near: int = 10
    mirror: bool = False
    block_rows: int = 64
    block_cols: int = 4096

    def __post_init__(self) -> None:
        from norwoodkit.dedupe.distance import HASH_BITS  # numpy: not at import, for --help

        for name, value in (("same", self.same), ("near", self.near)):
            if not 0 <= value <= HASH_BITS:
                raise ParameterError(
                    name,
                    f"{value} is outside 0..{HASH_BITS}: a distance between 64-bit hashes runs "
                    f"from 0 (identical) to {HASH_BITS}; use e.g. 4 for same and 10 for near",
                )
        if self.same > self.near:
            raise ParameterError(
                "same",
                f"{self.same} is larger than near ({self.near}): the 'same' tier must sit inside "
                "the 'near' tier (same <= near)",
            )
        for name, value in (("block_rows", self.block_rows), ("block_cols", self.block_cols)):
            if value < 1:
                raise ParameterError(name, f"{value} is not a tile size; use a positive number")
