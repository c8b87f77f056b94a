"""Photo quality measures of one reduced image: sharpness, exposure, information, colour.

Pure functions over numpy arrays; the probe calls ``measure`` on the image it already decoded
for the phash (its grey copy brought to ``MEASURE_SIDE``, and an even sample
of its colour pixels: ``decode.quality_row``), so the measures cost no second decode. Every
value is for the reduced image, which is what makes a 640x480 photo and a 4000x3000 one of the
same scene comparable.

What cannot be measured is NaN with a reason in ``quality_note``, never a made-up number: a
uniform image has no sharpness, an image smaller than the Laplacian's 3x3 kernel neither.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from norwoodkit.columns import QUALITY_COLUMNS

__all__ = [
    "BRIGHT_LEVEL",
    "DARK_LEVEL",
    "GREY_MODES",
    "GREY_SHARE",
    "GREY_SPREAD",
    "MEASURE_SIDE",
    "MODE_NOTES",
    "QUALITY_COLUMNS",
    "brightness",
    "clipped_fractions",
    "entropy",
    "histogram",
    "is_grayscale",
    "luma",
    "measure",
    "not_measured",
    "sharpness",
]

#: Long side, in pixels, of the image the measures see. Larger images are shrunk to it
#: (antialiased), so sharpness means detail per frame rather than per stored pixel; 256 px
#: still shows a blurred hairline that a 160 px thumbnail would hide.
MEASURE_SIDE = 256

#: Luma levels (of 255) counted as clipped: at or below ``DARK_LEVEL`` (7/255, about 0.03) is
#: black, at or above ``BRIGHT_LEVEL`` (248/255, about 0.97) is blown-out white.
DARK_LEVEL = 7
BRIGHT_LEVEL = 248

#: A pixel is grey when its three channels lie within ``GREY_SPREAD`` levels of each other (JPEG
#: chroma rounding moves a grey pixel by a few levels); an RGB photo is grayscale when at most
#: ``GREY_SHARE`` of its pixels are not grey.
GREY_SPREAD = 8
GREY_SHARE = 0.01

#: Pillow modes that carry no colour whatever their pixels are.
GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})

#: Stored modes whose pixels are converted before they are measured, and what that means.
MODE_NOTES: dict[str, str] = {
    "I;16": "16-bit image measured after scaling to 8 bits",
    "I;16B": "16-bit image measured after scaling to 8 bits",
    "I;16L": "16-bit image measured after scaling to 8 bits",
    "I;16N": "16-bit image measured after scaling to 8 bits",
    "I": "16-bit image measured after scaling to 8 bits",
    "F": "floating-point image measured after clipping to 8 bits",
    "CMYK": "CMYK converted to RGB before measuring",
}


# ITU-R BT.601 luma weights, the ones Pillow's "L" conversion uses.
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float64)


def luma(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Luma levels 0..255 of an ``(h, w, 3)`` RGB array, rounded as Pillow's "L" conversion."""
    y = np.asarray(rgb, dtype=np.float64) @ _LUMA_WEIGHTS
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)


def sharpness(y: npt.NDArray[Any]) -> tuple[float, str]:
    """Variance of the 4-neighbour Laplacian of luma ``y`` (levels), and a note: why it is NaN,
    or why it is not comparable (an image under ``MEASURE_SIDE``); empty when fine.

    Only the interior is filtered (no padding), so a border adds no edge of its own. Integer
    levels are filtered exactly, in integers.
    """
    if y.dtype.kind in "bu":  # unsigned levels would wrap round below zero; int16 holds +-1020
        y = y.astype(np.int16)
    h, w = y.shape
    if h < 3 or w < 3:
        return math.nan, f"reduced decode {w}x{h} px is smaller than the 3x3 Laplacian kernel"
    if float(y.max()) == float(y.min()):
        return math.nan, "uniform image: sharpness undefined"
    lap = y[:-2, 1:-1] + y[2:, 1:-1] + y[1:-1, :-2] + y[1:-1, 2:] - 4 * y[1:-1, 1:-1]
    small = (
        f"image is {w}x{h} px, under the {MEASURE_SIDE} px measuring side: sharpness is not "
        "comparable with larger photos"
        if max(h, w) < MEASURE_SIDE
        else ""
    )
    return float(lap.var(dtype=np.float64)), small


def histogram(levels: npt.NDArray[Any]) -> npt.NDArray[np.intp]:
    """Pixels per luma level 0..255 of integer ``levels``: exposure and entropy read only this."""
    return np.bincount(np.asarray(levels).ravel(), minlength=256)


def brightness(counts: npt.NDArray[Any]) -> float:
    """Mean luma on [0, 1], from a ``histogram``."""
    return float(counts @ np.arange(256)) / (255.0 * int(counts.sum()))


def clipped_fractions(counts: npt.NDArray[Any]) -> tuple[float, float]:
    """Shares of pixels at or below ``DARK_LEVEL`` and at or above ``BRIGHT_LEVEL``, from a
    ``histogram``."""
    n = int(counts.sum())
    return int(counts[: DARK_LEVEL + 1].sum()) / n, int(counts[BRIGHT_LEVEL:].sum()) / n


def entropy(counts: npt.NDArray[Any]) -> float:
    """Shannon entropy, in bits (0..8), of a luma ``histogram``."""
    p = counts[counts > 0] / int(counts.sum())
    return max(0.0, float(-(p * np.log2(p)).sum()))  # max: a uniform image gives 0.0, not -0.0


def is_grayscale(rgb: npt.NDArray[np.uint8], mode: str | None = None) -> bool:
    """Whether a photo carries no colour: a grey ``mode``, or grey pixels (``GREY_SPREAD``)."""
    if mode in GREY_MODES:
        return True
    r, g, b = (rgb[..., i] for i in range(3))  # per channel: a max over axis 2 is 30x slower
    spread = np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)
    return bool(np.count_nonzero(spread > GREY_SPREAD) <= GREY_SHARE * spread.size)


def measure(
    grey: npt.NDArray[np.uint8], colour: npt.NDArray[np.uint8], mode: str | None = None
) -> dict[str, Any]:
    """Every quality column of one image.

    Args:
        grey: its luma levels 0..255, ``(h, w)``, at most ``MEASURE_SIDE`` on the long side:
            what sharpness, exposure and entropy are measured on.
        colour: its ``(h, w, 3)`` RGB pixels, or an even sample of them: what ``grayscale``
            is judged on.
        mode: the stored image's Pillow mode (grey modes are grayscale; 16-bit and CMYK
            images get a note saying how they were converted).
    """
    value, why = sharpness(grey)
    counts = histogram(grey)
    dark, bright = clipped_fractions(counts)
    notes = [n for n in (why, MODE_NOTES.get(mode or "", "")) if n]
    return {
        "sharpness": value,
        "brightness": brightness(counts),
        "dark_fraction": dark,
        "bright_fraction": bright,
        "entropy": entropy(counts),
        "grayscale": is_grayscale(colour, mode),
        "quality_note": "; ".join(notes),
    }


def not_measured(reason: str) -> dict[str, Any]:
    """The quality columns of an image that was not measured, ``reason`` in the note."""
    return {
        **dict.fromkeys(QUALITY_COLUMNS[:5], math.nan),
        "grayscale": None,
        "quality_note": f"not measured: {reason}",
    }
