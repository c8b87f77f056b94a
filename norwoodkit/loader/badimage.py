"""The bad-image policy: where an undecodable image is, and one handler chosen from the policy.

``on_bad_image`` picks a handler once (WebDataset's ``handler=``); the CPU decode and the GPU
batch decode both call it with an ``ImagePlace`` and the exception. ``raise`` stops with an
``InputError`` naming shard, row group, row and subject; ``skip`` logs it and returns, and the
caller counts the skip and moves on. An image whose bytes no longer match the sha256 stored
beside them (``ChangedImage``: the shard changed after packing) is a bad image too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from norwoodkit.errors import InputError
from norwoodkit.loader.options import BadImage

__all__ = [
    "HANDLERS",
    "BadImageHandler",
    "ChangedImage",
    "ImagePlace",
    "raise_bad_image",
    "skip_bad_image",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImagePlace:
    """Where an image lives in a pack folder, as an error message names it."""

    root: Path
    shard: str
    row_group: int
    row: int
    subject: str
    path: str = ""
    view: str = ""  # subject layout, GPU path: the view of the sample that failed

    def __str__(self) -> str:
        extra = (f", {self.path}" if self.path else "") + (
            f", view {self.view}" if self.view else ""
        )
        return (
            f"{self.root / self.shard} row group {self.row_group} row {self.row} "
            f"(subject {self.subject}{extra})"
        )


BadImageHandler = Callable[[ImagePlace, BaseException], None]


class ChangedImage(Exception):
    """An image's bytes differ from the sha256 the shard stores for them."""

    def __str__(self) -> str:
        return "its bytes differ from the sha256 stored at packing: the shard changed"


def raise_bad_image(place: ImagePlace, exc: BaseException) -> NoReturn:
    """Stop: the image cannot be decoded or changed; say where and how to find the others."""
    if isinstance(exc, ChangedImage):
        raise InputError(
            f"{place}: {exc}; run `norwoodkit verify {place.root}` and pack again with "
            "--resume, or pass on_bad_image='skip'",
            code="image-hash",
        )
    raise InputError(
        f"{place}: cannot be decoded ({type(exc).__name__}: {exc}); run `norwoodkit verify "
        f"{place.root} --decode` and pack again, or pass on_bad_image='skip'",
        code="image-undecodable-in-shard",
    ) from exc


def skip_bad_image(place: ImagePlace, exc: BaseException) -> None:
    """Log the undecodable or changed image and carry on without it."""
    if isinstance(exc, ChangedImage):
        log.warning("%s: %s; skipped (run `norwoodkit verify %s`)", place, exc, place.root)
    else:
        log.warning("%s: cannot be decoded (%s); skipped", place, exc)


HANDLERS: dict[BadImage, BadImageHandler] = {"raise": raise_bad_image, "skip": skip_bad_image}
