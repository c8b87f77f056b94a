"""One self-contained HTML report: stats tables and plots, a contact sheet, findings, duplicates
and split balance, with every image inlined as a ``data:`` URI.

Nothing is fetched when the file is opened (a Content-Security-Policy in the page forbids it).
Only the photos shown are read again, each decoded once into a thumbnail (``THUMBNAIL_SIZE``) and
a copy at ``ENLARGED_SIZE`` for click-to-enlarge overlays (CSS ``:target``, no script). Plots need
matplotlib, the optional extra ``norwoodkit[report]``; it is imported only here, when a report is
built, and drawn on the Agg canvas without pyplot, so no global backend is switched. The same
data gives the same HTML, byte for byte: PNGs carry no software tag or date, and every list is
sorted.
"""

from __future__ import annotations

from norwoodkit.report.document import Made, build, make, write
from norwoodkit.report.enlarge import ENLARGED_SIZE, THUMBNAIL_SIZE
from norwoodkit.report.photos import MAX_PAIRS, THUMBS_PER_CELL
from norwoodkit.report.plots import PLOT_CAPTIONS, PLOT_TITLES, render_plots, require_matplotlib
from norwoodkit.report.splits import UNASSIGNED, read_splits, split_assignment, split_balance

__all__ = [
    "ENLARGED_SIZE",
    "MAX_PAIRS",
    "PLOT_CAPTIONS",
    "PLOT_TITLES",
    "THUMBNAIL_SIZE",
    "THUMBS_PER_CELL",
    "UNASSIGNED",
    "Made",
    "build",
    "make",
    "read_splits",
    "render_plots",
    "require_matplotlib",
    "split_assignment",
    "split_balance",
    "write",
]
