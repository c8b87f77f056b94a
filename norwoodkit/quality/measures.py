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
        log_sides: sides calibrated on a log scale although the measure itself is not (dark:
            a number of stops below the view's median brightness).
        spreads: side -> how many robust standard deviations (1.4826 x MAD) from the view's
            median its calibrated threshold lies, before ``band`` bounds that distance.
        band: side -> the narrowest and the widest distance (in that scale) between the
            view's median and its calibrated threshold: the narrowest keeps a view of
            near-identical photos from flagging noise, the widest keeps a view of varied scenes
            (or one with many bad photos, which widen its spread) from flagging nothing.
        digits: decimals shown in messages.
        example: a valid line of a threshold file.
    """

    name: str
    codes: dict[Side, str]
    floors: dict[Side, float | None]
    valid: tuple[float, float]
    log: bool
    spreads: dict[Side, float]
    band: dict[Side, tuple[float, float]]
    digits: int
    example: str
    log_sides: frozenset[Side] = frozenset()

    def logged(self, side: Side) -> bool:
        """Whether ``side`` is calibrated on a log scale."""
        return self.log or side in self.log_sides

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
    spreads: float | dict[Side, float],
    band: tuple[float, float] | dict[Side, tuple[float, float]],
    digits: int,
    example: str,
    log_sides: frozenset[Side] = frozenset(),
) -> Measure:
    each = {side: spreads for side in codes} if isinstance(spreads, float) else spreads
    bands = {side: band for side in codes} if isinstance(band, tuple) else band
    return Measure(name, codes, floors, valid, log, each, bands, digits, example, log_sides)


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
            spreads=3.0,
            band=(math.log(4.0), math.log(10.0)),
            digits=1,
            example="sharpness: {min: 40}",
        ),
        _m(
            "brightness",
            {Side.MIN: "quality-dark", Side.MAX: "quality-bright"},
            {Side.MIN: 0.08, Side.MAX: 0.92},
            (0.0, 1.0),
            log=False,
            # Under-exposure divides every pixel by a factor, so the dark side is judged in
            # stops below the median: 4.5 robust SDs of log brightness, at least 1.3 stops
            # (x0.41), so a view of near-identical photos does not flag a slightly dim one;
            # no widest bound, the floor already caps it (docs/benchmarks.md, quality).
            # Over-exposure clips at white, so the bright side stays linear and looser:
            # renders and phone photos of a bald scalp under a flash vary far more above the
            # median than below it.
            spreads={Side.MIN: 4.5, Side.MAX: 5.0},
            band={Side.MIN: (1.3 * math.log(2.0), math.inf), Side.MAX: (0.22, 0.5)},
            digits=2,
            example="brightness: {min: 0.15, max: 0.85}",
            log_sides=frozenset({Side.MIN}),
        ),
        _m(
            "entropy",
            {Side.MIN: "quality-low-information"},
            {Side.MIN: 3.0},
            (0.0, 8.0),
            log=False,
            spreads=4.0,
            band=(2.5, 3.0),
            digits=2,
            example="entropy: {min: 4.5}",
        ),
        _m(
            "aspect_ratio",
            {Side.MAX: "quality-odd-aspect-ratio"},
            {Side.MAX: 2.5},
            (1.0, math.inf),
            log=True,
            spreads=4.0,
            band=(math.log(1.3), math.log(2.0)),
            digits=2,
            example="aspect_ratio: {max: 1.8}",
        ),
        _m(
            "pixels",
            {Side.MIN: "quality-odd-size", Side.MAX: "quality-odd-size"},
            {Side.MIN: None, Side.MAX: None},
            _POSITIVE,
            log=True,
            spreads=4.0,
            band=(math.log(8.0), math.log(16.0)),
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

#: Codes of which a photo gets at most one, the first that applies: a wrong exposure also
#: flattens detail and the histogram, and a frame of wall has no detail to be sharp.
EXCLUSIVE = ("quality-dark", "quality-bright", "quality-low-information", "quality-blurry")

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
    # Long side over short side: a portrait photo among landscape ones is not odd (phones
    # shoot both), a strip or a panorama is.
    long, short = width.where(width >= height, height), width.where(width < height, height)
    out["aspect_ratio"] = (long / short).where(positive, np.nan)
    out["pixels"] = (width * height).where(positive, np.nan)
    out["grayscale"] = ok["grayscale"].fillna(False).astype(bool)
    out["quality_note"] = ok["quality_note"].fillna("").astype(str)
    return out
