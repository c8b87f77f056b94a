"""The report's plots: matplotlib on the Agg canvas (no pyplot), in a fixed style.

The style is fixed so that the PNGs depend on the data only, not on a user's matplotlibrc.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from norwoodkit.dataset import Dataset
from norwoodkit.errors import NorwoodkitError
from norwoodkit.labels import VIEWS
from norwoodkit.stats import Summary
from norwoodkit.strata import (
    MISSING,
    STAGE_LABELS,
    AgeBins,
    stage_labels,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


log = logging.getLogger(__name__)


#: The plots, by file name (without ``.png``), with their captions.
PLOT_TITLES: dict[str, str] = {
    "stage_distribution": "Subjects per Norwood stage",
    "age_by_stage": "Age histogram by stage",
    "stage_by_age_bin": "Subjects by stage and age bin",
    "image_sizes": "Image sizes (upright), by view",
}


_INSTALL_HINT = "pip install 'norwoodkit[report]'"


# Fixed style, so the PNGs depend on the data only (not on a user's matplotlibrc).
_RC: dict[Any, Any] = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "norwoodkit",
    "path.simplify": True,
}


def require_matplotlib() -> None:
    """Raise ``NorwoodkitError`` (exit 2) naming the extra to install when matplotlib is missing.

    The CLI calls it before any work, so a missing extra fails in a second, not after probing.
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise NorwoodkitError(
            "the HTML report draws its plots with matplotlib, which is not installed; "
            f"install the report extra: {_INSTALL_HINT}",
            code="missing-extra",
        ) from exc


def render_plots(dataset: Dataset, summary: Summary) -> dict[str, bytes]:
    """The report's plots as PNG bytes, by name (``PLOT_TITLES`` order); reproducible bytes.

    Raises:
        NorwoodkitError: matplotlib is missing (install ``norwoodkit[report]``).
    """
    require_matplotlib()
    import matplotlib

    drawers: dict[str, Callable[[Figure], None]] = {
        "stage_distribution": lambda fig: _plot_stages(fig, summary),
        "age_by_stage": lambda fig: _plot_age(fig, dataset, summary.age_bins),
        "stage_by_age_bin": lambda fig: _plot_heatmap(fig, summary),
        "image_sizes": lambda fig: _plot_sizes(fig, dataset),
    }
    out: dict[str, bytes] = {}
    with matplotlib.rc_context(_RC):
        from matplotlib.figure import Figure

        for name, draw in drawers.items():
            fig = Figure(figsize=(6.4, 3.6), layout="constrained")
            draw(fig)
            buf = io.BytesIO()
            # No "Software" text chunk (it names the matplotlib version); Agg writes no date.
            fig.savefig(buf, format="png", metadata={"Software": None})
            out[name] = buf.getvalue()
    return out


def _stage_colours(n: int = 7) -> list[Any]:
    import matplotlib

    cmap = matplotlib.colormaps["viridis"]
    return [cmap(i / max(n - 1, 1)) for i in range(n)] + ["#9e9e9e"]


def _plot_stages(fig: Figure, summary: Summary) -> None:
    stages = summary.table("stages")
    from matplotlib.ticker import MaxNLocator

    ax: Axes = fig.add_subplot()
    counts = stages["subjects"].to_numpy()
    labels = [str(s) for s in stages["stage"]]
    bars = ax.bar(labels, counts, color=_stage_colours())
    ax.bar_label(bars, labels=[str(int(c)) for c in counts], padding=2, fontsize=8)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("Norwood-Hamilton stage")
    ax.set_ylabel("subjects")
    ax.set_title(PLOT_TITLES["stage_distribution"])
    ax.margins(y=0.12)


def _plot_age(fig: Figure, dataset: Dataset, age_bins: AgeBins) -> None:
    subjects = dataset.subjects
    stage = stage_labels(subjects["stage"])
    ages = subjects["age"].astype("Float64")
    lo = min(b[0] for b in age_bins)
    hi = max(b[1] for b in age_bins) + 1
    inside = ((ages >= lo) & (ages < hi)).to_numpy(dtype=bool, na_value=False)
    edges = np.arange(lo, hi + 2, 2, dtype=np.float64)
    edges = edges[edges <= hi] if edges[-1] > hi else edges
    if edges[-1] < hi:
        edges = np.append(edges, hi)
    from matplotlib.ticker import MaxNLocator

    data = [
        ages[inside & (stage == s).to_numpy()].astype("float64").to_numpy() for s in STAGE_LABELS
    ]
    ax: Axes = fig.add_subplot()
    ax.hist(
        data,
        bins=edges.tolist(),
        stacked=True,
        color=_stage_colours(),
        label=[f"stage {s}" if s != MISSING else "no stage" for s in STAGE_LABELS],
    )
    for a, _ in age_bins[1:]:
        ax.axvline(a, color="#555555", linewidth=0.6, linestyle=":")
    left_out = int(len(ages) - inside.sum())
    note = f" ({left_out} with no age or outside {lo}-{hi - 1} not shown)" if left_out else ""
    ax.set_title(PLOT_TITLES["age_by_stage"] + note)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("age (years)")
    ax.set_ylabel("subjects")
    ax.legend(fontsize=7, ncols=2, frameon=False, loc="upper right")


def _plot_heatmap(fig: Figure, summary: Summary) -> None:
    table = summary.table("stage_by_age_bin")
    columns = [c for c in table.columns if c != "stage"]
    matrix = table[columns].to_numpy(dtype=np.float64)
    ax: Axes = fig.add_subplot()
    image = ax.imshow(matrix, cmap="Blues", aspect="auto")
    top = float(matrix.max()) if matrix.size else 0.0
    for (r, c), value in np.ndenumerate(matrix):
        dark = top > 0 and value > 0.6 * top
        ax.text(
            c,
            r,
            str(int(value)),
            ha="center",
            va="center",
            fontsize=8,
            color="white" if dark else "#222222",
        )
    ax.set_xticks(range(len(columns)), labels=[str(c) for c in columns], rotation=30, ha="right")
    ax.set_yticks(range(len(table)), labels=[str(s) for s in table["stage"]])
    ax.set_xlabel("age bin")
    ax.set_ylabel("stage")
    ax.set_title(PLOT_TITLES["stage_by_age_bin"])
    fig.colorbar(image, ax=ax, label="subjects")


def _plot_sizes(fig: Figure, dataset: Dataset) -> None:
    images = dataset.table[dataset.table["path"].notna()]
    known = images[images["oriented_width"].notna() & images["oriented_height"].notna()]
    view = known["view"].astype("string").fillna("(no view)")
    ax: Axes = fig.add_subplot()
    names = [v.value for v in VIEWS] + ["(no view)"]
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    for i, name in enumerate(names):
        rows = known[(view == name).to_numpy()]
        if rows.empty:
            continue
        ax.scatter(
            rows["oriented_width"].astype("float64").to_numpy(),
            rows["oriented_height"].astype("float64").to_numpy(),
            s=9,
            alpha=0.6,
            color=cmap(i),
            label=name,
            linewidths=0,
        )
    ax.set_xlabel("width (px)")
    ax.set_ylabel("height (px)")
    ax.set_title(f"{PLOT_TITLES['image_sizes']}: {len(known)} images")
    if len(known):
        ax.legend(fontsize=7, frameon=False, markerscale=1.5)
