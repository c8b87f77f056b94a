"""A photo's EXIF orientation as Pillow's ``exif_transpose`` reads it, for every reader of it
(the probe, pack and the loader), so they agree on which photos turn and which do not.

Pillow's ``exif_transpose`` (what Hugging Face ``datasets`` and our loader apply) turns a photo
only for a tag of 1..8 and ignores any other value; a damaged EXIF block means no turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["ORIENTATION_TAG", "SWAPPED", "orientation", "upright_size"]

ORIENTATION_TAG = 0x0112
#: Orientations that put the width where the height was (a quarter turn, with or without a
#: mirror).
SWAPPED = frozenset({5, 6, 7, 8})


def orientation(im: Image.Image, caught: Sequence[Any] = ()) -> tuple[int | None, str | None]:
    """The image's EXIF orientation 1..8 (None: no tag, or one that means nothing) and, when
    there is a tag or block no client can use, what is wrong with it.

    ``caught``: the warnings Pillow gave while opening ``im`` (it reads the EXIF block then,
    and only warns about a damaged one).
    """
    try:
        value: Any = im.getexif().get(ORIENTATION_TAG)
    except Exception as exc:  # a broken EXIF block must not hide the image itself
        return None, f"its EXIF block cannot be read ({type(exc).__name__})"
    if isinstance(value, int) and 1 <= value <= 8:
        # Read despite damage elsewhere in the block: every client that rotates turns it.
        return value, None
    if value is not None:
        shown = value if isinstance(value, int) else repr(str(value)[:20])
        return None, f"its EXIF orientation {shown} is not one of 1..8"
    block = im.info.get("exif")
    if isinstance(block, bytes) and block[6:10] not in (b"II*\0", b"MM\0*"):
        return None, "its EXIF block has no TIFF header (damaged)"
    if caught:
        return None, f"its EXIF block is damaged ({str(caught[0].message).strip()[:80]})"
    return None, None


def upright_size(width: int, height: int, value: int | None) -> tuple[int, int]:
    """The size of a ``width`` x ``height`` image once turned by EXIF orientation ``value``."""
    return (height, width) if value in SWAPPED else (width, height)
