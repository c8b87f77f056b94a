"""The ``--quality-calibrate`` view as plain text: per measure and view, a one-line histogram
with the threshold (T) and the floor (F) marked under it."""

from __future__ import annotations

import math
from typing import Any

from norwoodkit.quality.measures import MEASURES

_BARS = " ▁▂▃▄▅▆▇█"


def calibration_text(doc: dict[str, Any]) -> list[str]:
    """Lines of text for ``Calibration.to_dict()``'s document."""
    lines = [
        "Photo quality thresholds per view: the median -/+ a few robust spreads (within "
        "bounds per measure), never looser than the floor; views with fewer than "
        f"{doc['min_photos']} measured photos use the floors only. T marks the threshold, "
        "F the floor."
    ]
    for entry in doc["measures"]:
        lines.extend(_entry_lines(entry))
    return lines


def _entry_lines(entry: dict[str, Any]) -> list[str]:
    measure = MEASURES[entry["measure"]]
    typical = entry["typical"]
    sides = "; ".join(
        f"{side} {_show(measure.name, t['value'])} ({t['source']}"
        + (f", floor {_show(measure.name, t['floor'])}" if t["floor"] is not None else "")
        + ")"
        for side, t in entry["thresholds"].items()
    )
    head = (
        f"{measure.name}, {entry['view']}: {entry['photos']} photos, typical "
        f"{_show(measure.name, typical)}; {sides}"
    )
    edges, counts = entry["edges"], entry["counts"]
    if not counts:
        return ["", head, "  (nothing measured)"]
    top = max(counts) or 1
    bars = "".join(_BARS[math.ceil(c / top * (len(_BARS) - 1))] for c in counts)
    marks = [" "] * len(counts)
    for t in entry["thresholds"].values():
        for value, letter in ((t["floor"], "F"), (t["value"], "T")):
            if value is not None:
                marks[_bin(edges, value)] = letter
    left = _show(measure.name, edges[0])
    pad = " " * (len(left) + 3)
    return [
        "",
        head,
        f"  {left} |{bars}| {_show(measure.name, edges[-1])}",
        f"{pad}{''.join(marks).rstrip()}",
    ]


def _bin(edges: list[float], value: float) -> int:
    """The bin that holds ``value`` (the edges always span every mark)."""
    for i in range(len(edges) - 1):
        if value < edges[i + 1]:
            return i
    return len(edges) - 2


def _show(name: str, value: float | None) -> str:
    return "-" if value is None else MEASURES[name].show(float(value))
