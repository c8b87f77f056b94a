"""Thresholds calibrated on the dataset itself: per view and measure, the median and the
median absolute deviation, bounded by the absolute floors; and the histograms that show them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from norwoodkit.labels import VIEWS
from norwoodkit.quality.measures import MEASURES, OTHER_VIEW, Measure, Side
from norwoodkit.quality.thresholds import Overrides

#: A view needs this many measured photos before its own statistics set thresholds; below it
#: only the absolute floors apply.
MIN_PHOTOS = 20

#: Bins of the ``--quality-calibrate`` histograms.
BINS = 24

#: A view's share of grayscale photos below which a grayscale photo is flagged.
GRAYSCALE_SHARE = 0.5


@dataclass(frozen=True)
class Threshold:
    """One side of one measure in one view: the value findings use and where it came from.

    ``source`` is ``calibrated`` (the view's statistics, never looser than the floor),
    ``floor`` (the floor is stricter, or the view has too few photos) or ``file`` (set in the
    threshold file). ``value`` is None when nothing applies (no floor, too few photos).
    """

    value: float | None
    source: str
    calibrated: float | None
    floor: float | None


@dataclass(frozen=True)
class ViewMeasure:
    """One measure in one view: its statistics and the thresholds of each side."""

    view: str
    measure: str
    photos: int
    typical: float | None
    thresholds: dict[Side, Threshold]

    @property
    def calibrated(self) -> bool:
        """Whether the view had enough photos for its own thresholds."""
        return self.photos >= MIN_PHOTOS


@dataclass(frozen=True)
class Calibration:
    """Every view's thresholds, and the values they were calibrated on."""

    values: pd.DataFrame
    entries: dict[tuple[str, str], ViewMeasure]
    grayscale_share: dict[str, float]
    view_photos: dict[str, int]
    overrides: Overrides

    def views(self) -> list[str]:
        """The views present, in the usual order (``other`` last)."""
        present = set(self.values["view"])
        order = [v.value for v in VIEWS] + [OTHER_VIEW]
        return [v for v in order if v in present]

    def to_dict(self) -> dict[str, Any]:
        """The ``--quality-calibrate --json`` document: statistics, thresholds, histograms."""
        return {
            "min_photos": MIN_PHOTOS,
            "thresholds_file": self.overrides.source or None,
            "measures": [
                _entry_dict(self.entries[(view, name)], self.values, view)
                for name in MEASURES
                for view in self.views()
            ],
        }


def calibrate(values: pd.DataFrame, overrides: Overrides | None = None) -> Calibration:
    """Thresholds for every view and measure of ``values`` (``measures.measure_values``)."""
    given = overrides or Overrides()
    entries: dict[tuple[str, str], ViewMeasure] = {}
    shares: dict[str, float] = {}
    photos: dict[str, int] = {}
    for view, rows in values.groupby("view", sort=False):
        name = str(view)
        shares[name] = float(rows["grayscale"].mean()) if len(rows) else 0.0
        photos[name] = len(rows)
        for measure in MEASURES.values():
            entries[(name, measure.name)] = _view_measure(name, measure, rows, given)
    return Calibration(values, entries, shares, photos, given)


def _view_measure(view: str, measure: Measure, rows: pd.DataFrame, given: Overrides) -> ViewMeasure:
    x = rows[measure.name].to_numpy(dtype="float64")
    x = x[np.isfinite(x) & ((x > 0) if measure.log else True)]
    typical = float(np.median(x)) if len(x) else None
    thresholds = {}
    for side in measure.codes:
        calibrated = None
        stats = _centre_spread(x, measure.logged(side)) if len(x) >= MIN_PHOTOS else None
        if stats is not None:
            centre, sd = stats
            narrowest, widest = measure.band[side]
            spread = min(max(measure.spreads[side] * sd, narrowest), widest)
            edge = centre - spread if side is Side.MIN else centre + spread
            calibrated = math.exp(edge) if measure.logged(side) else edge
        thresholds[side] = _threshold(
            calibrated, measure.floors.get(side), side, given.get(view, measure.name, side)
        )
    return ViewMeasure(view, measure.name, len(x), typical, thresholds)


def _centre_spread(x: npt.NDArray[np.float64], log: bool) -> tuple[float, float] | None:
    """The median and the robust standard deviation (1.4826 x MAD) of ``x``, on a log scale
    when ``log``; None when no value is left to take them from."""
    if log:
        # A photo of brightness 0 has no logarithm; the floor flags it whatever the view.
        x = np.log(x[x > 0])
    if not len(x):
        return None
    centre = float(np.median(x))
    return centre, 1.4826 * float(np.median(np.abs(x - centre)))


def _threshold(
    calibrated: float | None, floor: float | None, side: Side, set_by_hand: float | None
) -> Threshold:
    if set_by_hand is not None:
        return Threshold(set_by_hand, "file", calibrated, floor)
    if calibrated is None:
        return Threshold(floor, "floor", None, floor)
    if floor is None:
        return Threshold(calibrated, "calibrated", calibrated, None)
    stricter = max(calibrated, floor) if side is Side.MIN else min(calibrated, floor)
    source = "floor" if stricter == floor and stricter != calibrated else "calibrated"
    return Threshold(stricter, source, calibrated, floor)


def beyond(value: float, side: Side, threshold: float) -> bool:
    """Whether ``value`` lies on the bad side of ``threshold``."""
    return value < threshold if side is Side.MIN else value > threshold


def histogram(
    values: npt.NDArray[np.float64], measure: Measure, marks: list[float]
) -> tuple[list[float], list[int]]:
    """Bin edges and counts of ``values`` over a range that also holds every mark, on the
    measure's scale (log for factor-like measures)."""
    x = values[np.isfinite(values) & ((values > 0) if measure.log else True)]
    points = np.concatenate([x, np.asarray([m for m in marks if m > 0 or not measure.log])])
    if not len(points):
        return [], []
    scaled = np.log(points) if measure.log else points
    lo, hi = float(scaled.min()), float(scaled.max())
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, BINS + 1)
    counts, _ = np.histogram(np.log(x) if measure.log else x, bins=edges)
    shown = np.exp(edges) if measure.log else edges
    return [float(e) for e in shown], [int(c) for c in counts]


def _entry_dict(entry: ViewMeasure, values: pd.DataFrame, view: str) -> dict[str, Any]:
    measure = MEASURES[entry.measure]
    column = values.loc[values["view"] == view, entry.measure].to_numpy(dtype="float64")
    marks = [v for t in entry.thresholds.values() for v in (t.value, t.floor) if v is not None]
    edges, counts = histogram(column, measure, marks)
    return {
        "view": view,
        "measure": entry.measure,
        "photos": entry.photos,
        "calibrated": entry.calibrated,
        "typical": entry.typical,
        "thresholds": {
            side.value: {
                "value": t.value,
                "source": t.source,
                "calibrated": t.calibrated,
                "floor": t.floor,
            }
            for side, t in entry.thresholds.items()
        },
        "edges": edges,
        "counts": counts,
    }
