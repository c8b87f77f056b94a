"""The pictures of the photos a report shows: read again, decoded once, shrunk twice.

The probe keeps no picture of a photo. A report shows a few hundred photos at most, so it reads
those files again, through the probe's guarded read (inside the root, regular files only,
bounded in size), and uses them only when the bytes still hash to the probe's sha256. One decode
gives both copies: the enlarged one (``ENLARGED_SIZE``, to judge a hairline) and the thumbnail
(``THUMBNAIL_SIZE``) shrunk from it. A photo deleted, replaced or grown unreadable since the probe
gets a note instead, and the page shows no picture of it: every figure on the page comes from
the probe's reading of the file, so nothing else may be drawn beside them. A photo in an object
store is fetched again the way the probe fetched it (``probe/remote.fetch``: bounded in size),
with the same sha256 check.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps

from norwoodkit.paths import inside
from norwoodkit.probe.decode import DRAFT_MODE
from norwoodkit.probe.read import Refused, read_file
from norwoodkit.storage import Location

__all__ = ["ENLARGED_QUALITY", "ENLARGED_SIZE", "THUMBNAIL_SIZE", "Enlarged", "enlarge"]

#: Long side of an enlarged photo: a hairline is visible and a phone screen is filled, at about
#: 30-60 kB of JPEG for a photo (measured in docs/benchmarks.md).
ENLARGED_SIZE = 640

#: Long side of a thumbnail, in pixels (the contact sheet, the pairs, the galleries).
THUMBNAIL_SIZE = 160

#: JPEG quality of both copies: no visible blocking at these sizes.
ENLARGED_QUALITY = 80


@dataclass(frozen=True)
class Enlarged:
    """A shown photo's enlarged copy and thumbnail (JPEG bytes), or neither and a note why."""

    jpeg: bytes | None
    thumb: bytes | None = None
    note: str = ""

    @staticmethod
    def failed(note: str) -> Enlarged:
        """No copy: ``note`` says why (it ends a sentence "not shown: ...")."""
        return Enlarged(None, None, note)


def enlarge(
    root: str | os.PathLike[str] | Location, path: str, sha256: str | None, size: int
) -> Enlarged:
    """The photo at root-relative ``path`` shrunk to ``size`` px long side, and its thumbnail,
    if unchanged since the probe.

    Never raises for a bad file: what went wrong is the note.
    """
    if isinstance(root, Location):
        return _fetched(root, path, sha256, size)
    root_text = os.fspath(root)
    full = os.path.join(root_text, path)
    if not inside(os.path.realpath(root_text), full):
        return Enlarged.failed("not read again: it now leads outside the dataset root")
    try:
        data = read_file(full)
    except Refused as why:
        return Enlarged.failed(f"could not be read again ({why.error}) since the probe")
    except MemoryError:
        return Enlarged.failed("could not be read again (not enough memory)")
    return _checked(data, sha256, size)


def _fetched(root: Location, path: str, sha256: str | None, size: int) -> Enlarged:
    """``enlarge`` for a photo in a store: fetched again, bounded, then the same check."""
    from norwoodkit.errors import NorwoodkitError
    from norwoodkit.probe.remote import fetch

    try:
        data = fetch(root, path, -1)
    except NorwoodkitError as exc:  # the store refused or failed: the page still gets made
        return Enlarged.failed(f"could not be fetched again ({exc.code})")
    if not isinstance(data, bytes):
        return Enlarged.failed(f"could not be fetched again ({data['error']}) since the probe")
    return _checked(data, sha256, size)


def _checked(data: bytes, sha256: str | None, size: int) -> Enlarged:
    """The shrunk copies of ``data`` when it still hashes to the probe's ``sha256``."""
    if sha256 is None or hashlib.sha256(data).hexdigest() != sha256:
        return Enlarged.failed("the file changed since the probe (its sha256 differs)")
    try:
        return Enlarged(*_shrunk(data, size))
    except Exception as exc:  # the bytes decoded at probe time; whatever fails now is a note
        return Enlarged.failed(f"could not be decoded again ({type(exc).__name__})")


def _shrunk(data: bytes, size: int) -> tuple[bytes, bytes]:
    """JPEG bytes of the upright photo, long side at most ``size`` px, and of its thumbnail
    (at most ``THUMBNAIL_SIZE`` px, shrunk from the first copy: the file is decoded once)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the probe already reported what Pillow warns about
        with Image.open(io.BytesIO(data)) as im:
            if im.format == "JPEG":
                im.draft(DRAFT_MODE, (size, size))  # DCT scaling: never below ``size``
            im.load()
            upright = ImageOps.exif_transpose(im).convert("RGB")
    upright.thumbnail((size, size), Image.Resampling.LANCZOS)
    big = _jpeg(upright)
    upright.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.LANCZOS)  # in place
    return big, _jpeg(upright)


def _jpeg(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=ENLARGED_QUALITY)
    return buf.getvalue()
