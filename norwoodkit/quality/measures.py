"""The quality measures ``validate`` judges: each one's sides, finding codes, valid range,
absolute floors and calibration scale, and its values read from the probe columns."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

from norwoodkit.dataset import decoded


class Side(StrEnum):
    """Which side of a threshold is bad: a value below ``min`` or above ``max``."""

    MIN = "min"
    MAX = "max"


@dataclass(frozen=True)
class Measure:
    """One measure as the checks see it.

    Attributes:
        name: the key in a threshold file and in ``--quality-calibrate``.
        codes: side -> the finding code a value beyond that side's threshold gives.
        floors: side -> the absolute floor, unusable in any view (None: none on that side).
        valid: the closed range a threshold may take (``math.inf`` for no upper end).
        log: whether the view's typical value and spread are taken on a log scale (measures
            that change by factors: sharpness, pixel counts, aspect ratios).
        band: the narrowest distance (in that scale) between the view's typical value and its
            calibrated threshold, so a view of near-identical photos does not flag noise.
        digits: decimals shown in messages.
        example: a valid line of a threshold file.
    """

    name: str
    codes: dict[Side, str]
    floors: dict[Side, float | None]
    valid: tuple[float, float]
    log: bool
    band: float
    digits: int
    example: str

    def show(self, value: float) -> str:
        """``value`` as messages print it."""
        if self.log and abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.{self.digits}f}"


def _m(
    name: str,
    codes: dict[Side, str],
    floors: dict[Side, float | None],
    valid: tuple[float, float],
    *,
    log: bool,
    band: float,
    digits: int,
    example: str,
) -> Measure:
    return Measure(name, codes, floors, valid, log, band, digits, example)


_POSITIVE = (0.0, math.inf)

#: Every judged measure, in the order findings and the calibration view list them.
MEASURES: dict[str, Measure] = {
    m.name: m
    for m in (
        _m(
            "sharpness",
            {Side.MIN: "quality-blurry"},
            {Side.MIN: 5.0},
            _POSITIVE,
            log=True,
            band=math.log(4.0),
            digits=1,
            example="sharpness: {min: 40}",
        ),
        _m(
            "brightness",
            {Side.MIN: "quality-dark", Side.MAX: "quality-bright"},
            {Side.MIN: 0.08, Side.MAX: 0.92},
            (0.0, 1.0),
            log=False,
            band=0.15,
            digits=2,
            example="brightness: {min: 0.15, max: 0.85}",
        ),
        _m(
            "entropy",
            {Side.MIN: "quality-low-information"},
            {Side.MIN: 3.0},
            (0.0, 8.0),
            log=False,
            band=1.0,
            digits=2,
            example="entropy: {min: 4.5}",
        ),
        _m(
            "aspect_ratio",
            {Side.MIN: "quality-odd-aspect-ratio", Side.MAX: "quality-odd-aspect-ratio"},
            {Side.MIN: 0.4, Side.MAX: 2.5},
            _POSITIVE,
            log=True,
            band=math.log(1.3),
            digits=2,
            example="aspect_ratio: {min: 0.6, max: 1.7}",
        ),
        _m(
            "pixels",
            {Side.MIN: "quality-odd-size", Side.MAX: "quality-odd-size"},
            {Side.MIN: None, Side.MAX: None},
            _POSITIVE,
            log=True,
            band=math.log(4.0),
            digits=0,
            example="pixels: {min: 1000000}",
        ),
    )
}

#: Finding code of a grayscale photo in a view of colour photos.
GRAYSCALE_CODE = "quality-grayscale"

#: Finding code of a decoded photo whose measures could not be taken.
NOT_MEASURABLE_CODE = "quality-not-measurable"

#: The probe columns the measures come from (``aspect_ratio`` and ``pixels`` are derived).
PROBE_COLUMNS = ("sharpness", "brightness", "entropy")

#: What a view without a name is called (files that are none of the five views).
OTHER_VIEW = "other"


def measure_values(images: pd.DataFrame) -> pd.DataFrame:
    """Each decoded image's measures (NaN where not measurable), with its path, subject, view,
    grayscale flag and quality note; the index is ``images``'s."""
    ok = images[decoded(images)]
    width = pd.to_numeric(ok["oriented_width"], errors="coerce").astype("float64")
    height = pd.to_numeric(ok["oriented_height"], errors="coerce").astype("float64")
    out = pd.DataFrame(
        {
            "path": ok["path"].astype(str),
            "subject_id": ok["subject_id"].astype(str),
            "view": ok["view"].astype("object").where(ok["view"].notna(), OTHER_VIEW).astype(str),
        },
        index=ok.index,
    )
    for column in PROBE_COLUMNS:
        out[column] = pd.to_numeric(ok[column], errors="coerce").astype("float64")
    positive = (width > 0) & (height > 0)
    out["aspect_ratio"] = (width / height).where(positive, np.nan)
    out["pixels"] = (width * height).where(positive, np.nan)
    out["grayscale"] = ok["grayscale"].fillna(False).astype(bool)
    out["quality_note"] = ok["quality_note"].fillna("").astype(str)
    return out
