"""An image's bytes to its probe row: sniffing, the integrity decode, both phashes, the measures.

JPEGs are decoded once in Pillow's draft mode (DCT scaling to about 256 px): the entropy decoder
still reads every byte of the scan, so truncation and corruption surface, while the inverse DCT
runs at 1/8 scale. The perceptual hash and the quality measures (``quality``) come from that
same decode. No thumbnail is kept: a report makes those of the few photos it shows.

Whatever a decoder raises about one image (Pillow raises far more than ``OSError``) becomes that
image's status and error; Pillow's warnings are silenced here, since the row already says it all.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from norwoodkit import exif
from norwoodkit.columns import PROBE_COLUMNS
from norwoodkit.probe import quality

__all__ = [
    "DRAFT_MODE",
    "DRAFT_SIZE",
    "empty_row",
    "every_nth",
    "phash_pair",
    "probe_bytes",
    "quality_row",
    "sniff_format",
]

#: JPEG draft mode: decode in colour at the largest DCT reduction that stays >= 256 px (the
#: phash needs 32x32, the quality measures 256 px).
DRAFT_MODE = "RGB"
DRAFT_SIZE = (256, 256)

#: Formats Pillow identifies but the probe does not decode: Pillow hands EPS to Ghostscript, and
#: no file in a dataset may make us run another program.
REFUSED_FORMATS = frozenset({"EPS"})

#: The longest error text kept from an exception: decoders sometimes quote the bytes they met.
_ERROR_CHARS = 200

_TRANSPOSE: dict[int, list[Image.Transpose]] = {
    2: [Image.Transpose.FLIP_LEFT_RIGHT],
    3: [Image.Transpose.ROTATE_180],
    4: [Image.Transpose.FLIP_TOP_BOTTOM],
    5: [Image.Transpose.TRANSPOSE],
    6: [Image.Transpose.ROTATE_270],
    7: [Image.Transpose.TRANSVERSE],
    8: [Image.Transpose.ROTATE_90],
}


def empty_row() -> dict[str, Any]:
    """A probe row with every column null, but for the note that nothing was measured."""
    return {c.name: None for c in PROBE_COLUMNS} | quality.not_measured("the image was not decoded")


def sniff_format(head: bytes) -> str | None:
    """The real image format from the first bytes of a file, or None when unknown."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:2] == b"BM":
        return "BMP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head[4:8] == b"ftyp" and head[8:12] in (
        b"heic",
        b"heix",
        b"mif1",
        b"msf1",
        b"hevc",
        b"avif",
    ):
        return "HEIF"
    return None


#: Rows 0..7 of the 32-point DCT-II basis (scipy.fftpack's unnormalised type 2, as imagehash
#: uses): the 8x8 low-frequency block is ``_DCT8 @ pixels @ _DCT8.T``.
_DCT8 = 2.0 * np.cos(np.pi * np.outer(np.arange(8), 2 * np.arange(32) + 1) / 64)

#: Flipping a row reverses it, and reversing the input of a DCT-II multiplies coefficient k by
#: (-1)^k: the mirror image's low-frequency block is the same block with odd columns negated.
_MIRROR_SIGNS = np.where(np.arange(8) % 2 == 0, 1.0, -1.0)


def _bits_hex(bits: npt.NDArray[np.bool_]) -> str:
    return np.packbits(bits.ravel()).tobytes().hex()


def phash_pair(image: Image.Image) -> tuple[str, str]:
    """The 64-bit phash of an image and of its mirror image, from one resize and one DCT.

    Bit-identical to ``imagehash.phash(image, hash_size=8)`` and to the same call on the
    horizontally flipped image (the tests check both), at half the cost of two calls.

    A bit says whether a DCT value is above the block's median. The matrix DCT here rounds
    differently from scipy's FFT-based one (imagehash's), by about 1e-16 of the block's
    largest value; only a value that ties the median (a flat or symmetric image) could fall
    on the other side. Such a block is recomputed with scipy's own DCT, as imagehash does.
    """
    grey = image if image.mode == "L" else image.convert("L")
    small = grey.resize((32, 32), Image.Resampling.LANCZOS)
    pixels = np.asarray(small, dtype=np.float64)
    low = _DCT8 @ pixels @ _DCT8.T
    mirrored = low * _MIRROR_SIGNS
    both = [(low, _median64(low)), (mirrored, _median64(mirrored))]
    if any(_near_tie(block, median) for block, median in both):
        both = [(block, _median64(block)) for block in _scipy_blocks(pixels)]
    return (_bits_hex(both[0][0] > both[0][1]), _bits_hex(both[1][0] > both[1][1]))


#: How close to the median, as a share of the block's largest value, counts as a tie: far above
#: the two DCTs' rounding differences (1e-16), far below any real difference between photos.
_TIE = 1e-9


def _median64(block: npt.NDArray[np.float64]) -> float:
    """``np.median`` of the 64 DCT values, the same number at a quarter of its cost: the mean
    of the two middle values, added and then halved as numpy's mean does."""
    ordered = np.sort(block, axis=None)
    return float((ordered[31] + ordered[32]) / 2)


def _near_tie(block: npt.NDArray[np.float64], median: float) -> bool:
    """Whether a value lies so close to ``median`` that rounding could decide its bit."""
    return bool(np.abs(block - median).min() <= _TIE * np.abs(block).max())


def _scipy_blocks(pixels: npt.NDArray[np.float64]) -> list[npt.NDArray[np.float64]]:
    """The 8x8 low-frequency blocks of ``pixels`` and of its mirror image, by imagehash's own
    computation (scipy's DCT along each axis); imported only for the rare tied block."""
    from scipy.fftpack import dct

    return [dct(dct(p, axis=0), axis=1)[:8, :8] for p in (pixels, pixels[:, ::-1])]


def probe_bytes(data: bytes) -> dict[str, Any]:
    """Probe an image's bytes (what ``probe_file`` does once it has read the file); never raises
    for bad bytes: the status column says what is wrong."""
    row = _probe(data)
    if row["status"] != "ok":  # the note says why the measures are NaN
        row.update(quality.not_measured(f"the image was not decoded ({row['status']})"))
    return row


def _probe(data: bytes) -> dict[str, Any]:
    """``probe_bytes`` but for the quality note of an image that was not decoded."""
    out = empty_row()
    out["size"] = len(data)
    if not data:
        return {**out, "status": "empty", "error": "zero-byte file"}
    out["sha256"] = hashlib.sha256(data).hexdigest()
    out["format"] = sniff_format(data[:16])
    try:
        with warnings.catch_warnings():
            # The row says what is wrong; a warning per odd EXIF block or large image would only
            # flood stderr, and ``-W error`` must not turn one into a failure.
            warnings.simplefilter("ignore")
            return _decode(data, out)
    except Image.DecompressionBombError as exc:
        return {**out, "status": "too-large", "error": _words(exc)}
    except UnidentifiedImageError:
        return {**out, "status": "undecodable", "error": "not an image format Pillow can read"}
    except OSError as exc:
        msg = _words(exc)
        status = "truncated" if "truncated" in msg or "premature" in msg.lower() else "undecodable"
        return {**out, "status": status, "error": msg}
    except (SyntaxError, ValueError, TypeError, IndexError, EOFError) as exc:
        return {**out, "status": "undecodable", "error": _words(exc)}
    except Exception as exc:  # any other decoder failure is this image's finding, not a crash
        return {**out, "status": "undecodable", "error": f"{type(exc).__name__}: {_words(exc)}"}


def _words(exc: BaseException) -> str:
    """An exception's message as one short printable line (its type's name when it has none)."""
    text = str(exc) or type(exc).__name__
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= _ERROR_CHARS else text[: _ERROR_CHARS - 3] + "..."


def _decode(data: bytes, out: dict[str, Any]) -> dict[str, Any]:
    """The header, the integrity decode, the phashes and the quality measures into ``out``."""
    with Image.open(io.BytesIO(data)) as im:
        width, height = im.size
        out.update(width=width, height=height, mode=im.mode)
        if out["format"] is None and im.format:
            out["format"] = str(im.format)
        orientation, _ = exif.orientation(im)
        out["orientation"] = orientation
        swap = orientation in (5, 6, 7, 8)
        out["oriented_width"], out["oriented_height"] = (height, width) if swap else (width, height)
        limit = Image.MAX_IMAGE_PIXELS
        if limit is not None and width * height > limit:
            return {
                **out,
                "status": "too-large",
                "error": f"{width}x{height} = {width * height:,} pixels, over Pillow's "
                f"decompression-bomb limit of {limit:,}; not decoded",
            }
        if im.format in REFUSED_FORMATS:
            return {
                **out,
                "status": "undecodable",
                "error": f"{im.format} is not decoded (Pillow would run an external program)",
            }
        if im.format == "JPEG":
            im.draft(DRAFT_MODE, DRAFT_SIZE)
        im.load()  # the full entropy decode: truncation and corruption raise here
        small = _to_rgb(im)
    for step in _TRANSPOSE.get(orientation or 1, []):
        small = small.transpose(step)
    grey = small.convert("L")  # one conversion for the phash and the measures
    out["phash"], out["phash_mirror"] = phash_pair(grey)
    out.update(quality_row(grey, small, out["mode"]))
    out["status"] = "ok"
    return out


def quality_row(grey: Image.Image, upright: Image.Image, mode: str | None) -> dict[str, Any]:
    """The quality columns of a decoded image: ``upright`` (RGB) and ``grey``, its "L" copy.

    Luma is shrunk to ``quality.MEASURE_SIDE`` (antialiased, bilinear), so a 640x480 photo and a
    4000x3000 one of the same scene reach the measures alike; colour is judged on an even
    sample of about as many pixels. Neither image is changed.
    """
    width, height = grey.size
    step = -(-max(width, height) // quality.MEASURE_SIDE)  # ceiling: at most MEASURE_SIDE
    if max(width, height) > quality.MEASURE_SIDE:
        scale = quality.MEASURE_SIDE / max(width, height)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        grey = grey.resize(size, Image.Resampling.BILINEAR)
    return quality.measure(np.asarray(grey), every_nth(upright, step), mode)


def every_nth(image: Image.Image, step: int) -> npt.NDArray[np.uint8]:
    """``np.asarray(image)[::step, ::step]``, without copying the whole image out of Pillow.

    Pillow's nearest-neighbour affine transform samples input pixel ``floor(step * (x + 0.5)
    + offset)`` for output pixel ``x``; an offset of ``-step / 2`` makes that exactly
    ``step * x`` (every number involved is a small multiple of a half, so nothing rounds).
    The tests check it against the slice.
    """
    if step == 1:
        return np.asarray(image)
    width, height = image.size
    size = (-(-width // step), -(-height // step))
    shift = -step / 2
    matrix = (step, 0, shift, 0, step, shift)
    sample = image.transform(size, Image.Transform.AFFINE, matrix, Image.Resampling.NEAREST)
    return np.asarray(sample)


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode == "RGB":
        return im
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greys: scale to 8 bits instead of clipping everything above 255 to white.
        return im.convert("I").point(lambda v: v / 256).convert("L").convert("RGB")
    if im.mode in ("P", "PA", "LA", "RGBA", "1"):
        return im.convert("RGBA").convert("RGB")
    return im.convert("RGB")
