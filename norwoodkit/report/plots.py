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

#: What to look for in each plot: the caption under it, after its title.
PLOT_CAPTIONS: dict[str, str] = {
    "stage_distribution": "Compare the bar heights: a short bar is a stage a classifier sees "
    "rarely, and a stage with fewer subjects than folds cannot be in every fold.",
    "age_by_stage": "Later stages should lean to older ages; a stage confined to a few age bins "
    "confounds stage with age. Dotted lines are the age-bin edges.",
    "stage_by_age_bin": "Each cell counts subjects; empty cells in the middle of a row are "
    "stage and age combinations a split cannot balance. All-zero age bins are left out.",
    "image_sizes": "One panel per view, that view's photos in colour over all photos in grey: "
    "a point far from its view's cloud is a photo of an odd size, a second cloud a second "
    "camera or a resized batch.",
}

#: Each plot's size in inches: narrow enough that its text stays readable when a phone shows
#: the PNG about 340 px wide, and drawn at ``_DPI`` so it stays sharp on a wide screen.
_FIGSIZE: dict[str, tuple[float, float]] = {
    "stage_distribution": (4.8, 3.0),
    "age_by_stage": (4.8, 3.2),
    "stage_by_age_bin": (4.8, 3.6),
    "image_sizes": (4.8, 4.4),
}
_DPI = 150


_INSTALL_HINT = "pip install 'norwoodkit[report]'"


# Fixed style, so the PNGs depend on the data only (not on a user's matplotlibrc).
_RC: dict[Any, Any] = {
    "figure.dpi": _DPI,
    "savefig.dpi": _DPI,
    "font.family": "DejaVu Sans",
    "font.size": 11,
    "axes.titlesize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 9,
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
            fig = Figure(figsize=_FIGSIZE[name], layout="constrained")
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
    # Stages 1-7 keep their bar even at zero (a missing class is news); an empty "missing" does not.
    stages = stages[(stages["stage"] != MISSING) | (stages["subjects"] > 0)]
    from matplotlib.ticker import MaxNLocator

    ax: Axes = fig.add_subplot()
    counts = stages["subjects"].to_numpy()
    labels = [str(s) for s in stages["stage"]]
    bars = ax.bar(labels, counts, color=_stage_colours()[: len(labels)])
    ax.bar_label(bars, labels=[str(int(c)) for c in counts], padding=2, fontsize=9)
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
        # A stage with no subject in range gets no legend entry ("_" hides it).
        label=[
            ("_" if not len(d) else "") + (f"stage {s}" if s != MISSING else "no stage")
            for s, d in zip(STAGE_LABELS, data, strict=True)
        ],
    )
    for a, _ in age_bins[1:]:
        ax.axvline(a, color="#555555", linewidth=0.6, linestyle=":")
    left_out = int(len(ages) - inside.sum())
    note = f"\n({left_out} with no age or outside {lo}-{hi - 1} not shown)" if left_out else ""
    ax.set_title(PLOT_TITLES["age_by_stage"] + note, fontsize=11 if not note else 10)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("age (years)")
    ax.set_ylabel("subjects")
    ax.legend(fontsize=8, ncols=2, frameon=False, loc="upper right")


def _plot_heatmap(fig: Figure, summary: Summary) -> None:
    table = summary.table("stage_by_age_bin")
    table = table[(table["stage"] != MISSING) | (table.drop(columns="stage").sum(axis=1) > 0)]
    columns = [c for c in table.columns if c != "stage" and table[c].sum() > 0]
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
            fontsize=9,
            color="white" if dark else "#222222",
        )
    ax.set_xticks(range(len(columns)), labels=[str(c) for c in columns], rotation=30, ha="right")
    ax.set_yticks(range(len(table)), labels=[str(s) for s in table["stage"]])
    ax.set_xlabel("age bin")
    ax.set_ylabel("stage")
    ax.set_title(PLOT_TITLES["stage_by_age_bin"])
    fig.colorbar(image, ax=ax, label="subjects")


def _plot_sizes(fig: Figure, dataset: Dataset) -> None:
    """Small multiples: one panel per view present, all photos in grey behind that view's."""
    images = dataset.table[dataset.table["path"].notna()]
    known = images[images["oriented_width"].notna() & images["oriented_height"].notna()]
    view = known["view"].astype("string").fillna("(no view)").to_numpy()
    width = known["oriented_width"].astype("float64").to_numpy()
    height = known["oriented_height"].astype("float64").to_numpy()
    names = [n for n in [v.value for v in VIEWS] + ["(no view)"] if (view == n).any()]
    fig.suptitle(f"{PLOT_TITLES['image_sizes']}: {len(known)} images", fontsize=11)
    if not names:
        ax: Axes = fig.add_subplot()
        ax.text(0.5, 0.5, "no image with a known size", ha="center", va="center")
        ax.set_axis_off()
        return
    import matplotlib
    from matplotlib.ticker import MaxNLocator

    cols = min(len(names), 3)
    rows = -(-len(names) // cols)
    axes = fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False).ravel()
    cmap = matplotlib.colormaps["tab10"]
    for i, name in enumerate(names):
        ax = axes[i]
        mine = view == name
        ax.scatter(width, height, s=6, color="#d0d4da", linewidths=0)
        ax.scatter(width[mine], height[mine], s=8, alpha=0.7, color=cmap(i), linewidths=0)
        ax.set_title(f"{name} ({int(mine.sum())})", fontsize=10)
        ax.xaxis.set_major_locator(MaxNLocator(3))
        ax.yaxis.set_major_locator(MaxNLocator(4))
        ax.tick_params(labelsize=9)
        if i + cols >= len(names):  # nothing below it: sharex would hide its labels
            ax.tick_params(labelbottom=True)
    for ax in axes[len(names) :]:
        ax.set_axis_off()
    fig.supxlabel("width (px)", fontsize=10)
    fig.supylabel("height (px)", fontsize=10)
