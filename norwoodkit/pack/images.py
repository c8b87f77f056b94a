"""The image bytes a shard stores: each file as it is, or a resized upright JPEG copy.

``prepare_images`` is the pure unit of work that a process pool (or a cluster) maps over row
groups; it reads files and returns bytes, and writes nothing.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

from norwoodkit.errors import InputError


def prepare_images(
    root: str, paths: Sequence[str], resize: int | None, quality: int
) -> list[bytes]:
    """The bytes to store for each path: the file itself, or a resized upright JPEG copy.

    The pure unit of work that a pool (or a cluster) maps; it writes nothing.
    """
    from norwoodkit.probe.read import Refused, read_file

    out = []
    for p in paths:
        # The probe's own guarded read: a file swapped for a FIFO or a device since it was
        # probed is refused, never opened, so it cannot hang or flood the pack.
        try:
            data = read_file(os.path.join(root, p))
        except Refused as exc:
            raise InputError(
                f"{p}: {exc.error}; it changed since it was probed: run `norwoodkit validate` "
                "on the dataset, then pack again with --resume",
                code="image-changed",
            ) from None
        out.append(data if resize is None else _resized(data, resize, quality))
    return out


def _resized(data: bytes, short_side: int, quality: int) -> bytes:
    import io

    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as im:
        w, h = im.size
        scale = short_side / min(w, h)
        if im.format == "JPEG" and scale < 1:
            # DCT scaling makes the decode cheap; the final resize below sets the exact size.
            im.draft("RGB", (math.ceil(w * scale), math.ceil(h * scale)))
        upright = ImageOps.exif_transpose(im.convert("RGB") if im.mode != "RGB" else im)
        uw, uh = upright.size
        s = short_side / min(uw, uh)
        size = (max(1, round(uw * s)), max(1, round(uh * s)))
        if size != upright.size:
            upright = upright.resize(size, Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        upright.convert("RGB").save(buf, "JPEG", quality=quality, optimize=False)
        return buf.getvalue()
