"""The report's "worst photos" gallery: per quality measure, the photos furthest on its bad side,
each with its subject, view, value and its view's threshold (pictures drawn by ``zoom``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from norwoodkit.dataset import ProbedDataset
from norwoodkit.report.markup import esc

if TYPE_CHECKING:
    from norwoodkit.quality.thresholds import Overrides
    from norwoodkit.report.zoom import Zoom

#: Photos shown per gallery row.
WORST_PER_MEASURE = 8

#: (heading, measure, side) of each gallery row, in page order.
GALLERIES = (
    ("Least sharp", "sharpness", "min"),
    ("Darkest", "brightness", "min"),
    ("Brightest", "brightness", "max"),
    ("Least information (lowest entropy)", "entropy", "min"),
)


def worst_photos_section(
    dataset: ProbedDataset,
    zoom: Zoom,
    overrides: Overrides | None = None,
    n: int = WORST_PER_MEASURE,
) -> str:
    """The gallery's HTML: ``n`` photos per row, the worst first; flagged ones say so."""
    from norwoodkit.quality.calibration import beyond, calibrate
    from norwoodkit.quality.measures import MEASURES, Side, measure_values

    values = measure_values(dataset.images)
    if values.empty:
        return "<p>No decoded photo to judge.</p>"
    cal = calibrate(values, overrides)
    rows = []
    for heading, name, side_name in GALLERIES:
        measure, side = MEASURES[name], Side(side_name)
        measured = values[values[name].notna()]
        worst = measured.sort_values(
            [name, "path"], ascending=[side is Side.MIN, True], kind="stable"
        ).head(n)
        figures = []
        for _, r in worst.iterrows():
            value = float(r[name])
            t = cal.entries[(str(r["view"]), name)].thresholds[side]
            limit = "no threshold" if t.value is None else f"threshold {measure.show(t.value)}"
            flagged = t.value is not None and beyond(value, side, t.value)
            caption = (
                f"subject {r['subject_id']} · {r['view']} · {name} {measure.show(value)} "
                f"({limit}{', flagged' if flagged else ''})"
            )
            detail = f"subject {r['subject_id']}, {r['view']} view: {name} {measure.show(value)}"
            figures.append(zoom.figure(str(r["path"]), caption, detail))
        rows.append(
            f"<h3>{esc(heading)}</h3><div class=cell>{''.join(figures)}</div>"
            if figures
            else f"<h3>{esc(heading)}</h3><p>No photo has a {esc(name)} value.</p>"
        )
    return (
        f"<p>Per measure, the {n} photos furthest on its bad side, worst first, with their "
        "view's threshold (calibrated on this dataset unless a threshold file set it); "
        "flagged photos are also in the findings. Click a photo to enlarge it.</p>" + "".join(rows)
    )
