"""The quality findings ``validate`` reports: each decoded photo's measures against its view's
thresholds, a grayscale photo among colour ones, and measures that could not be taken."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from norwoodkit.dataset import ProbedDataset
from norwoodkit.findings import Finding, finding
from norwoodkit.quality.calibration import (
    GRAYSCALE_SHARE,
    MIN_PHOTOS,
    Calibration,
    Threshold,
    ViewMeasure,
    beyond,
    calibrate,
)
from norwoodkit.quality.measures import (
    EXCLUSIVE,
    GRAYSCALE_CODE,
    MEASURES,
    NOT_MEASURABLE_CODE,
    PROBE_COLUMNS,
    Measure,
    Side,
    measure_values,
)
from norwoodkit.quality.thresholds import Overrides

#: What to do about each finding code.
FIXES = {
    "quality-blurry": "retake it in focus, or leave it out",
    "quality-dark": "retake it with more light, or leave it out",
    "quality-bright": "retake it with less light (no flash glare), or leave it out",
    "quality-low-information": "check that the frame shows the head, not a wall or the floor",
    "quality-odd-aspect-ratio": "check that it is not cropped or turned by mistake",
    "quality-odd-size": "check that it is the full-resolution original",
}

_WORDS = {Side.MIN: "below", Side.MAX: "above"}


def dataset_calibration(ds: ProbedDataset, overrides: Overrides | None = None) -> Calibration:
    """The thresholds of a probed dataset: its measures, calibrated per view."""
    return calibrate(measure_values(ds.images), overrides)


def check_quality(ds: ProbedDataset, overrides: Overrides | None = None) -> Iterator[Finding]:
    """Photos beyond their view's thresholds (warnings), grayscale photos among colour ones
    (warnings) and photos whose measures could not be taken (info)."""
    cal = dataset_calibration(ds, overrides)
    values = cal.values
    # Most photos pass every check: find the few that do not with whole-column comparisons, and
    # only those go through the per-photo messages below (the same findings, in the same order).
    flagged = values[_flagged(values, cal)]
    for rec in flagged.to_dict("records"):
        r = {str(k): v for k, v in rec.items()}
        entries = {name: cal.entries[(str(r["view"]), name)] for name in MEASURES}
        yield from _beyond(r, entries)
        yield from _grayscale(r, cal)
        yield from _not_measurable(r)


def _flagged(values: pd.DataFrame, cal: Calibration) -> npt.NDArray[np.bool_]:
    """Rows that may hold a finding: a measure beyond a threshold, grayscale or not measured."""
    views = values["view"].to_numpy(dtype=object)
    hit = np.zeros(len(values), dtype=bool)
    # Each view's rows once (a sort of text objects: once, not once per measure).
    by_view = [(str(view), views == view) for view in (np.unique(views) if len(views) else ())]
    for name in MEASURES:
        x = values[name].to_numpy(dtype="float64")
        for view, rows in by_view:
            for side, t in cal.entries[(view, name)].thresholds.items():
                if t.value is not None:
                    bad = x < t.value if side is Side.MIN else x > t.value
                    hit |= rows & bad
    hit |= values["grayscale"].to_numpy(dtype=bool)
    for column in PROBE_COLUMNS:
        hit |= np.isnan(values[column].to_numpy(dtype="float64"))
    return hit


def _beyond(r: dict[str, Any], entries: dict[str, ViewMeasure]) -> Iterator[Finding]:
    found: dict[str, Finding] = {}
    for name, entry in entries.items():
        value = r[name]
        if pd.isna(value):
            continue
        measure = MEASURES[name]
        for side, t in entry.thresholds.items():
            code = measure.codes[side]
            if code not in found and t.value is not None and beyond(float(value), side, t.value):
                found[code] = _finding(r, measure, side, float(value), t, entry)
    first = next((code for code in EXCLUSIVE if code in found), None)
    yield from (f for code, f in found.items() if code == first or code not in EXCLUSIVE)


def _finding(
    r: dict[str, Any], measure: Measure, side: Side, value: float, t: Threshold, entry: ViewMeasure
) -> Finding:
    path, sid, view = str(r["path"]), str(r["subject_id"]), entry.view
    assert t.value is not None
    code = measure.codes[side]
    why = {
        "calibrated": "",
        "file": " (set in the threshold file)",
        "floor": " (the floor for any photo)",
    }[t.source]
    typical = f" (typical {measure.show(entry.typical)})" if entry.typical is not None else ""
    few = (
        ""
        if entry.calibrated
        else f"; only {entry.photos} {view} photos, fewer than {MIN_PHOTOS} to calibrate on, "
        "so only the floor applies"
    )
    return finding(
        code,
        f"{path}: {measure.name} {measure.show(value)} is {_WORDS[side]} "
        f"{measure.show(t.value)}{why} for {view} views{typical}{few}; subject {sid}: "
        f"{FIXES[code]}",
        subject=sid,
        path=path,
    )


def _grayscale(r: dict[str, Any], cal: Calibration) -> Iterator[Finding]:
    view = str(r["view"])
    photos = cal.view_photos.get(view, 0)
    share = cal.grayscale_share.get(view, 0.0)
    if not bool(r["grayscale"]) or photos < MIN_PHOTOS or share >= GRAYSCALE_SHARE:
        return
    path, sid = str(r["path"]), str(r["subject_id"])
    yield finding(
        GRAYSCALE_CODE,
        f"{path}: grayscale, while {1 - share:.0%} of the {photos} {view} photos are in "
        f"colour; subject {sid}: use the colour original",
        subject=sid,
        path=path,
    )


def _not_measurable(r: dict[str, Any]) -> Iterator[Finding]:
    missing = [c for c in PROBE_COLUMNS if pd.isna(r[c])]
    if not missing:
        return
    path, sid = str(r["path"]), str(r["subject_id"])
    note = str(r["quality_note"]) or "the probe recorded no reason"
    yield finding(
        NOT_MEASURABLE_CODE,
        f"{path}: {', '.join(missing)} not measurable ({note}); subject {sid}: no quality "
        "check ran on it, so look at the photo yourself",
        subject=sid,
        path=path,
    )
