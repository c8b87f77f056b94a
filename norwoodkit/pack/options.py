"""How to pack: ``PackOptions``, checked when made, ``Orientation``, and ``parse_size``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from norwoodkit.errors import ParameterError
from norwoodkit.pack.layout import Layout

MIN_SHARD_BYTES = 64 * 1024
MAX_SHARD_BYTES = 2**40
MAX_ROWS_PER_GROUP = 1_000_000
#: The default byte cap of a row group: far above 20 small photos (640x480, about 1.2 MB in
#: all), so their row groups are those the row cap makes; twenty 12-megapixel originals would
#: make 60 MB or more, and then one or two subjects fill a group.
DEFAULT_ROW_GROUP_BYTES = 8 * 2**20


class Orientation(StrEnum):
    """What pack does with a photo whose EXIF orientation says it must be turned.

    ``apply`` stores it upright (re-encoded with the source's own JPEG tables, its orientation
    tag removed) so that every client shows the same pixels; ``keep`` stores the original bytes
    and their tag, which Hugging Face ``datasets`` and our loader honour and a plain
    ``PIL.Image.open`` or Daft do not.
    """

    APPLY = "apply"
    KEEP = "keep"


@dataclass(frozen=True)
class PackOptions:
    """How to pack.

    Attributes:
        layout: ``image`` (one row per image) or ``subject`` (five image columns per row).
        shard_size: target shard size in bytes (64-256 MB recommended; 64 KiB to 1 TiB).
        rows_per_group: rows per row group (image layout; subjects are never split, so groups
            hold whole subjects: 20 rows = 4 subjects). In subject layout, subjects per group.
            At most ``MAX_ROWS_PER_GROUP``.
        row_group_bytes: a row group closes when its next subject would take its image bytes
            past this cap (estimated before writing: file sizes, or the ``resize`` estimate);
            a subject larger than the cap gets a row group of its own. It also caps the image
            bytes re-encoded ahead of the writer with ``resize``.
        seed: shuffles subjects before writing (same seed, same shards).
        resize: store a copy re-encoded with this short side (EXIF orientation applied);
            None stores the original bytes.
        quality: JPEG quality of resized copies.
        orientation: ``apply`` stores photos with an EXIF orientation other than 1 upright
            (``width``/``height`` are then the upright size); ``keep`` stores every file's
            bytes as they are. ``resize`` copies are upright either way.
        workers: processes for re-encoding; None: one per core.
        license: the card's license id (Hub spelling, e.g. ``cc-by-4.0``); None: ``other``.
        pretty_name: the card's title; None: ``card.DEFAULT_PRETTY_NAME``.
        card_data: extra card header fields (``card.read_card_data``); never those pack
            computes (``card.COMPUTED_FIELDS``).

    Raises:
        ParameterError: a value out of range (names the attribute).
    """

    layout: Layout = Layout.IMAGE
    shard_size: int = 128 * 2**20
    rows_per_group: int = 20
    row_group_bytes: int = DEFAULT_ROW_GROUP_BYTES
    seed: int = 0
    resize: int | None = None
    quality: int = 90
    orientation: Orientation = Orientation.APPLY
    workers: int | None = None
    license: str | None = None
    pretty_name: str | None = None
    card_data: dict[str, Any] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.orientation, Orientation):
            # A config file hands over text; anything but the two names is refused here.
            if self.orientation not in [o.value for o in Orientation]:
                raise ParameterError(
                    "orientation", f"{self.orientation!r} is not apply or keep; use apply"
                )
            object.__setattr__(self, "orientation", Orientation(self.orientation))
        if self.shard_size < MIN_SHARD_BYTES:
            raise ParameterError(
                "shard_size",
                f"{self.shard_size} bytes is too small; use at least 64KiB (64-256MB is "
                "right for training)",
            )
        if self.shard_size > MAX_SHARD_BYTES:
            raise ParameterError(
                "shard_size", f"{self.shard_size} bytes is too large; use at most 1TiB"
            )
        if self.rows_per_group < 1:
            raise ParameterError(
                "rows_per_group", f"{self.rows_per_group} rows; it must be at least 1"
            )
        if self.rows_per_group > MAX_ROWS_PER_GROUP:
            raise ParameterError(
                "rows_per_group",
                f"{self.rows_per_group} rows; use at most {MAX_ROWS_PER_GROUP:,} (e.g. 20)",
            )
        if not 1 <= self.row_group_bytes <= MAX_SHARD_BYTES:
            raise ParameterError(
                "row_group_bytes",
                f"{self.row_group_bytes} bytes is outside 1 byte..1TiB; use e.g. 32MiB",
            )
        if self.resize is not None and not 16 <= self.resize <= 8192:
            raise ParameterError(
                "resize",
                f"{self.resize} is outside 16..8192; use a short side from 16 to 8192 pixels",
            )
        if not 0 <= self.seed <= 2**63 - 1:
            # numpy seeds its shuffle from non-negative integers only.
            raise ParameterError("seed", f"{self.seed} is outside 0..2**63-1; use e.g. 0")
        if not 1 <= self.quality <= 100:
            raise ParameterError("quality", f"{self.quality} is outside 1..100; use e.g. 90")
        from norwoodkit.pack.card import check_card_options

        check_card_options(self.license, self.pretty_name, self.card_data)


def parse_size(text: str, parameter: str = "shard_size") -> int:
    """``128MB``, ``1MiB``, ``500k``, ``1048576`` -> bytes.

    Raises:
        ParameterError: ``parameter`` (``shard_size`` or ``row_group_bytes``), for text that
            is not a size.
    """
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*", text.lower())
    if not m:
        example = "128MB, 256MiB or 500k" if parameter == "shard_size" else "32MiB, 8MB or 500k"
        raise ParameterError(parameter, f"{text!r} is not a size; write e.g. {example}")
    power = " kmgt".index(m.group(2) or " ")
    base = 1024 if m.group(3) else 1000  # MiB = 2^20 bytes, MB = 10^6
    size = float(m.group(1)) * base**power
    if not size <= MAX_SHARD_BYTES:  # also inf, from a number with hundreds of digits
        hint = "64-256MB suits training" if parameter == "shard_size" else "e.g. 32MiB"
        raise ParameterError(parameter, f"{text!r} is too large; use at most 1TiB ({hint})")
    return int(size)
