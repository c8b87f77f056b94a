"""The image bytes a shard stores, and the size of the pixels they hold.

Each file is stored as it is, turned upright (``--orientation apply``: only photos whose EXIF
orientation is 2..8, re-encoded in their own format; JPEGs with their own quantization tables
and chroma subsampling), or as a resized upright JPEG copy (``--resize``). ``prepare_images`` is
the pure unit of work that a process pool (or a cluster) maps over row groups; it reads files
and returns bytes and notes, and writes nothing. ``stored_sizes`` gives the parent the
``width``/``height`` of those pixels without decoding anything.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from collections.abc import Sequence
from concurrent.futures import Executor, Future
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from norwoodkit import exif
from norwoodkit.errors import InputError
from norwoodkit.pack.options import Orientation, PackOptions

if TYPE_CHECKING:
    from PIL import Image


class Prepared(NamedTuple):
    """One row group's image bytes, in path order, and a warning per file stored as is."""

    images: list[bytes]
    notes: list[str]


def prepare_images(
    root: str,
    paths: Sequence[str],
    resize: int | None,
    quality: int,
    orientation: Orientation = Orientation.APPLY,
) -> Prepared:
    """The bytes to store for each path: the file itself, turned upright, or a resized copy.

    The pure unit of work that a pool (or a cluster) maps; it writes nothing. A photo whose
    orientation tag cannot be read or is not 1..8 is stored as it is, with a note naming it.

    Raises:
        InputError: a file that is no longer a readable regular file or image (it changed
            since it was probed).
    """
    out = Prepared([], [])
    for p in paths:
        data = source_bytes(root, p)
        try:
            if resize is not None:
                out.images.append(_resized(data, resize, quality))
            elif orientation is Orientation.KEEP:
                out.images.append(data)
            else:
                stored, note = upright_bytes(data)
                out.images.append(stored)
                if note:
                    out.notes.append(f"{p}: {note}")
        except Exception as exc:  # Pillow raises many types for bytes that no longer decode
            raise _changed(p, f"cannot be decoded ({type(exc).__name__}: {exc})") from None
    return out


def source_bytes(root: str, path: str) -> bytes:
    """One image's bytes, read as the probe read them: the guarded read of a file under a
    folder, or one bounded GET of the object under a store's URL (``root``).

    Raises:
        InputError: the file or object is no longer a readable image file (it changed since
            it was probed), naming it.
    """
    from norwoodkit.probe.read import MAX_FILE_BYTES, Refused, read_file
    from norwoodkit.storage import is_url, locate, storage_error

    if not is_url(root):
        # The probe's own guarded read: a file swapped for a FIFO or a device since it was
        # probed is refused, never opened, so it cannot hang or flood the pack.
        try:
            return read_file(os.path.join(root, path))
        except Refused as exc:
            raise _changed(path, exc.error) from None
    where = locate(root, parameter="root").join(path)
    try:
        data = bytes(where.fs.cat_file(where.path, start=0, end=MAX_FILE_BYTES + 1))
    except FileNotFoundError:
        raise _changed(path, f"{where.url} is no longer in the store") from None
    except Exception as exc:
        raise storage_error(exc, where, "read") from None
    if len(data) > MAX_FILE_BYTES:
        raise _changed(path, f"over the probe's limit of {MAX_FILE_BYTES:,} bytes")
    return data


def _changed(path: str, problem: str) -> InputError:
    return InputError(
        f"{path}: {problem}; it changed since it was probed: run `norwoodkit validate` "
        "on the dataset, then pack again with --resume",
        code="image-changed",
    )


def upright_bytes(data: bytes) -> tuple[bytes, str | None]:
    """``data`` turned upright when its EXIF orientation is 2..8, else ``data`` itself; and a
    note when the orientation tag could not be used (the bytes are then stored as they are)."""
    turn, note = needs_turning(data)
    return (turned(data) if turn else data), note


#: A photo to turn whose decoded pixels take more than this is turned in a pool worker; a
#: smaller one here (its decode and turned copy cost less than starting the pool).
TURN_HERE_BYTES = 8 * 2**20


def needs_turning(data: bytes) -> tuple[bool, str | None]:
    """Whether ``data``'s EXIF orientation asks for a turn (2..8), read from its header alone;
    and a note when the tag cannot be used (such a photo is stored as it is)."""
    turn, _, note = _turn_and_size(data)
    return turn, note


def _turn_and_size(data: bytes) -> tuple[bool, int, str | None]:
    """``needs_turning``, and the bytes the decoded pixels take (width x height x bands)."""
    from PIL import Image

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Image.open(io.BytesIO(data)) as im:
            value, problem = exif.orientation(im, caught)
            decoded = im.width * im.height * max(1, len(im.getbands()))
    if problem is not None:
        # Pillow's exif_transpose (Hugging Face, our loader) leaves such a photo as it is,
        # so storing it untouched keeps every client in agreement.
        return False, decoded, problem + "; stored as it is (no client turns it)"
    return value is not None and value != 1, decoded, None


def turned(data: bytes) -> bytes:
    """``data`` (a photo whose orientation is 2..8) decoded, turned upright and re-encoded."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Image.open(io.BytesIO(data)) as im:
            value, _ = exif.orientation(im, [])
            assert value is not None
            return _reencoded(im, value)


def turn_task(path: str, data: bytes) -> tuple[bytes | None, str | None]:
    """``turned`` for a pool worker: the bytes, or the problem to report for ``path``."""
    try:
        return turned(data), None
    except Exception as exc:  # Pillow raises many types for bytes that no longer decode
        return None, f"cannot be decoded ({type(exc).__name__}: {exc})"


def prepare_upright(root: str, paths: Sequence[str], pool: Executor) -> Prepared:
    """``prepare_images`` with ``apply``, each large turn (a full decode and encode) in ``pool``.

    Files are read and their headers checked here. A photo to turn whose decoded pixels take
    more than ``TURN_HERE_BYTES`` goes to a worker, so this process never holds a large decoded
    photo (36 MB at 12 MP, twice while it turns); a smaller one is turned here, which costs less
    than starting the pool (a lazy pool then never starts).
    """
    out = Prepared([], [])
    jobs: dict[int, Future[tuple[bytes | None, str | None]]] = {}
    for i, p in enumerate(paths):
        data = source_bytes(root, p)
        try:
            turn, decoded, note = _turn_and_size(data)
            if turn and decoded <= TURN_HERE_BYTES:
                data, turn = turned(data), False
        except Exception as exc:
            raise _changed(p, f"cannot be decoded ({type(exc).__name__}: {exc})") from None
        if note:
            out.notes.append(f"{p}: {note}")
        if turn:
            jobs[i] = pool.submit(turn_task, p, data)
        out.images.append(data)
    for i, job in jobs.items():
        stored, problem = job.result()
        if stored is None:
            raise _changed(paths[i], problem or "cannot be turned upright")
        out.images[i] = stored
    return out


def _reencoded(im: Image.Image, orientation: int) -> bytes:
    """The pixels of ``im`` turned upright, in its own format, with no orientation tag left."""
    from PIL import Image, ImageOps

    fmt = "JPEG" if im.format == "MPO" else (im.format or "PNG")
    if fmt not in Image.SAVE:
        fmt = "PNG"  # a format Pillow reads but cannot write: lossless, and every client reads it
    try:
        upright = ImageOps.exif_transpose(im)
    except Exception:
        # Another EXIF tag that Pillow cannot write back: turn the pixels and drop the EXIF and
        # XMP blocks, so that no orientation is left for a client to apply a second time.
        for key in ("exif", "xmp", "XML:com.adobe.xmp"):
            im.info.pop(key, None)
        upright = im.transpose(_transposes()[orientation])
    kw: dict[str, Any] = {"exif": upright.info.get("exif", b"")}
    for key in ("icc_profile", "dpi", "comment"):
        if im.info.get(key):
            kw[key] = im.info[key]
    if upright.info.get("xmp"):  # exif_transpose took tiff:Orientation out of it too
        kw["xmp"] = upright.info["xmp"]
    if fmt == "JPEG":
        kw.update(_jpeg_settings(im, orientation in exif.SWAPPED))
    elif fmt == "WEBP":
        kw.update(lossless=True, exact=True)  # no second loss on top of the source's own
    buf = io.BytesIO()
    upright.save(buf, fmt, **kw)
    return buf.getvalue()


def _jpeg_settings(im: Image.Image, swapped: bool) -> dict[str, Any]:
    """Save arguments that keep a JPEG's own quantization tables and chroma subsampling.

    After a quarter turn the source's horizontal frequencies are the vertical ones, so each
    table is transposed (as jpegtran does; measured 56 dB PSNR instead of 47 dB untransposed),
    and 4:2:2 chroma, which halved the other axis, is stored 4:4:4 rather than lose detail.
    """
    from PIL import JpegImagePlugin

    quantization = getattr(im, "quantization", None) or {}
    tables = []
    for _, table in sorted(quantization.items()):
        grid = np.asarray(list(table), dtype=np.int64).reshape(8, 8)
        tables.append((grid.T if swapped else grid).ravel().tolist())
    kw: dict[str, Any] = {"progressive": bool(im.info.get("progressive"))}
    if tables:
        kw["qtables"] = tables
    else:
        kw["quality"] = 95
    sampling = JpegImagePlugin.get_sampling(im)
    if sampling >= 0:
        kw["subsampling"] = 0 if swapped and sampling == 1 else sampling
    return kw


def _transposes() -> dict[int, Any]:
    from PIL import Image

    t = Image.Transpose
    return {
        2: t.FLIP_LEFT_RIGHT,
        3: t.ROTATE_180,
        4: t.FLIP_TOP_BOTTOM,
        5: t.TRANSPOSE,
        6: t.ROTATE_270,
        7: t.TRANSVERSE,
        8: t.ROTATE_90,
    }


def resized_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """The size of a ``--resize`` copy of an upright ``width`` x ``height`` image."""
    s = short_side / min(width, height)
    return max(1, round(width * s)), max(1, round(height * s))


def _resized(data: bytes, short_side: int, quality: int) -> bytes:
    from PIL import Image, ImageOps

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a damaged EXIF block only means no turn
        im = Image.open(io.BytesIO(data))
        value, _ = exif.orientation(im)
    with im:
        w, h = im.size
        upright_full = exif.upright_size(w, h, value)
        size = resized_size(*upright_full, short_side)
        scale = short_side / min(w, h)
        if im.format == "JPEG" and scale < 1:
            # DCT scaling makes the decode cheap; the final resize below sets the exact size.
            im.draft("RGB", (math.ceil(w * scale), math.ceil(h * scale)))
        upright = ImageOps.exif_transpose(im.convert("RGB") if im.mode != "RGB" else im)
        if size != upright.size:
            upright = upright.resize(size, Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        upright.convert("RGB").save(buf, "JPEG", quality=quality, optimize=False)
        return buf.getvalue()


def stored_sizes(table: pd.DataFrame, opts: PackOptions) -> tuple[pd.Series, pd.Series]:
    """``width`` and ``height`` of the pixels each row's stored bytes hold.

    ``--resize`` copies and photos turned by ``apply`` are upright: their size is the probe's
    oriented size (resized); ``keep`` stores the files' own size, before their EXIF tag.
    """
    if opts.resize is None and opts.orientation is Orientation.KEEP:
        return table["width"], table["height"]
    uw, uh = table["oriented_width"], table["oriented_height"]
    if opts.resize is None:
        return uw, uh
    short = opts.resize
    pairs = [resized_size(int(w), int(h), short) for w, h in zip(uw, uh, strict=True)]
    width = pd.Series([p[0] for p in pairs], index=table.index, dtype="Int64")
    height = pd.Series([p[1] for p in pairs], index=table.index, dtype="Int64")
    return width, height
