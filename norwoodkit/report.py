"""One self-contained HTML report: stats tables and plots, a contact sheet, findings, duplicates
and split balance, with every image inlined as a ``data:`` URI.

Nothing is fetched when the file is opened (a Content-Security-Policy in the page forbids it),
and no image is decoded again: thumbnails are the probe's ``thumbnail`` column. Plots need
matplotlib, the optional extra ``norwoodkit[report]``; it is imported only here, when a report is
built, and drawn on the Agg canvas without pyplot, so no global backend is switched. The same
data gives the same HTML, byte for byte: PNGs carry no software tag or date, and every list is
sorted.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from norwoodkit.atomic import check_output_path, write_bytes_atomic, write_text_atomic
from norwoodkit.dataset import Dataset
from norwoodkit.errors import NorwoodkitError
from norwoodkit.findings import CODES, Finding, Severity
from norwoodkit.labels import VIEWS, id_sort_key
from norwoodkit.split.assignment import Assignment, read_assignment
from norwoodkit.split.balance import max_deviation_pp, shares
from norwoodkit.stats import TABLE_TITLES, Summary, check_output_dir, format_value, summarize
from norwoodkit.strata import (
    AGE_BINS,
    MISSING,
    STAGE_LABELS,
    AgeBins,
    age_bin_labels,
    age_bin_order,
    stage_labels,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from norwoodkit.dedupe import DedupeResult
    from norwoodkit.validate import Report

__all__ = [
    "MAX_PAIRS",
    "PLOT_TITLES",
    "THUMBS_PER_CELL",
    "UNASSIGNED",
    "build",
    "read_splits",
    "render_plots",
    "require_matplotlib",
    "split_assignment",
    "split_balance",
    "write",
]

log = logging.getLogger(__name__)

#: Thumbnails per stage x view cell of the contact sheet.
THUMBS_PER_CELL = 3
#: Duplicate pairs shown side by side (the rest are counted).
MAX_PAIRS = 100
#: Split label of dataset subjects that the split assignment does not mention.
UNASSIGNED = "(unassigned)"

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


# --------------------------------------------------------------------------- public API


def build(
    dataset: Dataset,
    *,
    findings: Report | Iterable[Finding] | None = None,
    dedupe: DedupeResult | None = None,
    splits: Assignment | pd.DataFrame | None = None,
    plots_dir: str | os.PathLike[str] | None = None,
    summary: Summary | None = None,
) -> str:
    """The HTML report of a probed dataset, as one self-contained document.

    Args:
        dataset: from ``probe.run(dataset.load(root))`` with thumbnails (its default); without
            them the contact sheet and the duplicate pairs say so instead of showing photos.
        findings: a ``validate.Report`` or findings; None runs ``validate.validate`` (pass
            ``()`` to leave the section empty).
        dedupe: a ``dedupe.find`` result: duplicate pairs are shown side by side.
        splits: an Assignment (``read_splits``) or a ``subject_id``, ``split`` table: each
            split's stage and age balance (and, with ``dedupe``, the pairs that cross splits).
        plots_dir: also write the plots there as PNG files (the folder is created if its
            parent exists).
        summary: ``stats.summarize`` output; None summarizes with the default options.

    Raises:
        NorwoodkitError: matplotlib is missing (install ``norwoodkit[report]``).
        InputError: an empty or unprobed dataset, or a bad split table.
        OutputError: ``plots_dir`` cannot be written.
    """
    require_matplotlib()
    plots_path = check_output_dir(plots_dir, "--plots") if plots_dir is not None else None
    summ = summary if summary is not None else summarize(dataset)
    if findings is None:
        from norwoodkit.validate import validate

        findings = validate(dataset)
    found = _finding_list(findings)
    assignment = Assignment.of(splits) if splits is not None else None
    plots = render_plots(dataset, summ)
    if plots_path is not None:
        plots_path.mkdir(exist_ok=True)
        for name, png in plots.items():
            write_bytes_atomic(plots_path / f"{name}.png", png)

    sections: list[tuple[str, str, str]] = [
        ("overview", "Overview", _overview(summ, found)),
        ("stages", "Stages", _stages_section(summ, plots)),
        ("age", "Age", _age_section(summ, plots)),
        ("demographics", "Gender and ethnicity", _demographics_section(summ)),
        ("images", "Images", _images_section(summ, plots)),
        ("contact-sheet", "Contact sheet", _contact_sheet(dataset)),
        ("findings", "Validation findings", _findings_section(found)),
    ]
    if dedupe is not None:
        sections.append(
            ("duplicates", "Duplicates", _duplicates_section(dataset, dedupe, assignment))
        )
    if assignment is not None:
        sections.append(
            ("splits", "Splits", _splits_section(dataset, assignment, summ.age_bins, dedupe))
        )
    return _page(summ.dataset, sections)


def write(path: str | os.PathLike[str], html_text: str) -> None:
    """Write the report to ``path`` atomically (an existing file is replaced whole).

    Raises:
        OutputError: the folder is missing or not writable, or ``path`` is a folder.
    """
    target = check_output_path(path, "--out")
    write_text_atomic(target, html_text)


def read_splits(path: str | os.PathLike[str]) -> Assignment:
    """Read a split file (any that ``split --check`` reads) into an Assignment.

    Raises:
        InputError: the file is missing, empty, of an unknown header, or puts a subject in two
            splits.
    """
    return read_assignment(path, "--splits")


def split_assignment(splits: Assignment | pd.DataFrame) -> Assignment:
    """Subject id -> split name, from a table with ``subject_id`` and ``split`` columns (an
    Assignment is returned as it is).

    Ids are made canonical (``"001"`` and ``1`` are ``"1"``); a per-image table (one row per
    image, the same split for a subject's rows) is accepted.

    Raises:
        InputError: a column is missing, an id or split is blank, or a subject is in two splits.
    """
    return Assignment.of(splits)


def split_balance(
    dataset: Dataset, assignment: Assignment, age_bins: AgeBins = AGE_BINS
) -> dict[str, pd.DataFrame]:
    """Each split's size and its stage and age-bin balance.

    Returns:
        ``splits``: split, subjects, images, share, age_mean, age_median, max_stage_dev_pp,
        max_age_dev_pp (largest gap between a stage's or bin's share in the split and overall,
        in percentage points, as ``split`` reports it); ``stage_shares`` and ``age_shares``: the
        share of each stage / age bin (columns) in each split and ``overall`` (rows). Dataset
        subjects the assignment leaves out form the split ``UNASSIGNED``.
    """
    subjects = dataset.subjects
    split = _subject_splits(subjects, assignment)
    images = dataset.table[dataset.table["path"].notna()]
    image_split = (
        images["subject_id"]
        .astype(str)
        .map(dict(zip(subjects["subject_id"].astype(str), split, strict=True)))
    )
    order = _split_order(split, assignment)
    stage_shares = shares(stage_labels(subjects["stage"]), split, order, STAGE_LABELS)
    ages = age_bin_labels(subjects["age"], age_bins)
    age_shares = shares(ages, split, order, age_bin_order(age_bins))
    stage_dev, age_dev = max_deviation_pp(stage_shares), max_deviation_pp(age_shares)
    known_age = subjects["age"].astype("Float64")
    rows = []
    n = len(subjects)
    for name in order:
        mask = (split == name).to_numpy()
        ages_in = known_age[mask].dropna().astype("float64")
        rows.append(
            {
                "split": name,
                "subjects": int(mask.sum()),
                "images": int((image_split == name).sum()),
                "share": float(mask.sum()) / n if n else 0.0,
                "age_mean": float(ages_in.mean()) if len(ages_in) else float("nan"),
                "age_median": float(ages_in.median()) if len(ages_in) else float("nan"),
                "max_stage_dev_pp": float(stage_dev[name]),
                "max_age_dev_pp": float(age_dev[name]),
            }
        )
    frame = pd.DataFrame(rows)
    frame["split"] = frame["split"].astype("string")
    return {
        "splits": frame,
        "stage_shares": _split_column(stage_shares),
        "age_shares": _split_column(age_shares),
    }


def _split_column(table: pd.DataFrame) -> pd.DataFrame:
    """A ``split.shares`` table with its split names as the first column, as the page shows it."""
    return table.reset_index().astype({"split": "string"})


# --------------------------------------------------------------------------- plots


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


# --------------------------------------------------------------------------- sections


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _html_table(
    shown: pd.DataFrame,
    *,
    numeric: Iterable[str] = (),
    caption: str | None = None,
    cls: str = "",
) -> str:
    right = set(numeric)
    head = "".join(
        f"<th{' class=num' if c in right else ''}>{_e(str(c).replace('_', ' '))}</th>"
        for c in shown.columns
    )
    body = []
    for row in shown.itertuples(index=False, name=None):
        cells = "".join(
            f"<td{' class=num' if c in right else ''}>{_e(v)}</td>"
            for c, v in zip(shown.columns, row, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    cap = f"<caption>{_e(caption)}</caption>" if caption else ""
    klass = f' class="{_e(cls)}"' if cls else ""
    return (
        f"<div class=scroll><table{klass}>{cap}<thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _summary_table(summary: Summary, name: str) -> str:
    raw = summary.table(name)
    numeric = [
        str(c)
        for c in raw.columns
        if pd.api.types.is_numeric_dtype(raw[c].dtype) and not pd.api.types.is_bool_dtype(raw[c])
    ]
    return _html_table(
        summary.display_frame(name), numeric=numeric, caption=TABLE_TITLES.get(name, name)
    )


def _plot(plots: Mapping[str, bytes], name: str) -> str:
    title = PLOT_TITLES[name]
    return (
        f'<figure class=plot><img src="{_data_uri("image/png", plots[name])}" '
        f'alt="{_e(title)}"><figcaption>{_e(title)}</figcaption></figure>'
    )


def _overview(summary: Summary, found: Sequence[Finding]) -> str:
    counts = {s.value: 0 for s in Severity}
    for f in found:
        counts[f.severity.value] += 1
    badges = "".join(
        f'<span class="badge {sev}">{n} {_e(sev)}{"s" if n != 1 and sev != "info" else ""}</span>'
        for sev, n in counts.items()
    )
    facts = summary.facts_frame()
    return (
        f'<p class=badges>Validation: {badges} <a href="#findings">details</a></p>'
        + _html_table(facts, numeric=("value",), cls="facts")
    )


def _stages_section(summary: Summary, plots: Mapping[str, bytes]) -> str:
    too_few = summary.facts.get("too_few_for_folds") or []
    note = (
        f"<p class=warn>Stage(s) {_e(', '.join(too_few))} have fewer subjects than the "
        f"{summary.folds} folds asked for: a stratified {summary.folds}-fold split cannot put "
        "one in every fold.</p>"
        if too_few
        else ""
    )
    return _plot(plots, "stage_distribution") + note + _summary_table(summary, "stages")


def _age_section(summary: Summary, plots: Mapping[str, bytes]) -> str:
    return (
        "<div class=row>"
        + _plot(plots, "age_by_stage")
        + _plot(plots, "stage_by_age_bin")
        + "</div>"
        + _summary_table(summary, "age_bins")
        + _summary_table(summary, "stage_by_age_bin")
    )


def _demographics_section(summary: Summary) -> str:
    return "".join(
        _summary_table(summary, name)
        for name in ("gender", "ethnicity", "stage_by_gender", "stage_by_ethnicity")
    )


def _images_section(summary: Summary, plots: Mapping[str, bytes]) -> str:
    return (
        _summary_table(summary, "views")
        + _plot(plots, "image_sizes")
        + "".join(
            _summary_table(summary, name)
            for name in ("image_sizes", "formats", "modes", "orientations")
        )
    )


def _thumbs(dataset: Dataset) -> dict[tuple[str, str], tuple[str, bytes]]:
    """(subject, view) -> (path, thumbnail JPEG) for decodable images; the first path wins."""
    t = dataset.table
    rows = t[t["path"].notna() & t["view"].notna() & (t["status"] == "ok").fillna(False)]
    out: dict[tuple[str, str], tuple[str, bytes]] = {}
    for sid, view, path, thumb in sorted(
        zip(
            rows["subject_id"].astype(str),
            rows["view"].astype(str),
            rows["path"].astype(str),
            rows["thumbnail"],
            strict=True,
        ),
        key=lambda r: (r[0], r[1], r[2]),
    ):
        if isinstance(thumb, (bytes, bytearray)) and (sid, view) not in out:
            out[(sid, view)] = (path, bytes(thumb))
    return out


def _thumb_by_path(dataset: Dataset) -> dict[str, bytes]:
    t = dataset.table
    rows = t[t["path"].notna()]
    return {
        str(p): bytes(b)
        for p, b in zip(rows["path"], rows["thumbnail"], strict=True)
        if isinstance(b, (bytes, bytearray))
    }


def _figure(thumb: bytes | None, alt: str, caption: str, title: str = "") -> str:
    tip = f' title="{_e(title)}"' if title else ""
    if thumb is None:
        return (
            f"<figure class=thumb{tip}><div class=nothumb>no photo</div>"
            f"<figcaption>{_e(caption)}</figcaption></figure>"
        )
    return (
        f'<figure class=thumb{tip}><img src="{_data_uri("image/jpeg", thumb)}" alt="{_e(alt)}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _spread(items: Sequence[str], k: int) -> list[str]:
    """``k`` items spread evenly over the list (first and last included): deterministic."""
    if len(items) <= k:
        return list(items)
    picks = np.linspace(0, len(items) - 1, k).round().astype(int)
    return [items[i] for i in dict.fromkeys(picks.tolist())]


def _no_thumbnails_note(dataset: Dataset) -> str:
    """A visible note (and a log warning) when decodable images came without thumbnails."""
    t = dataset.table
    ok = t[t["path"].notna() & (t["status"] == "ok").fillna(False)]
    if ok.empty or any(isinstance(b, (bytes, bytearray)) for b in ok["thumbnail"]):
        return ""
    log.warning(
        "the table has no thumbnails (probed with thumbnails=False): the report shows no photos"
    )
    return (
        "<p class=warn>The table holds no thumbnails (it was probed with thumbnails=False), "
        "so no photo can be shown; probe with thumbnails=True.</p>"
    )


def _contact_sheet(dataset: Dataset, per_cell: int = THUMBS_PER_CELL) -> str:
    thumbs = _thumbs(dataset)
    has_thumb = {sid for sid, _ in thumbs}
    subjects = dataset.subjects
    stage = stage_labels(subjects["stage"])
    views = [v.value for v in VIEWS]
    head = "<tr><th>stage</th>" + "".join(f"<th>{_e(v)}</th>" for v in views) + "</tr>"
    rows = []
    for label in STAGE_LABELS:
        sids = sorted(
            (str(s) for s in subjects.loc[(stage == label).to_numpy(), "subject_id"]),
            key=id_sort_key,
        )
        if label == MISSING and not sids:
            continue
        shown = _spread([s for s in sids if s in has_thumb], per_cell)
        name = f"stage {label}" if label != MISSING else "no stage"
        th = f"<th>{_e(name)}<br><small>{len(sids)} subjects</small></th>"
        if not shown:
            rows.append(f"<tr>{th}<td colspan={len(views)} class=empty>no photos</td></tr>")
            continue
        cells = []
        for view in views:
            figs = []
            for sid in shown:
                found = thumbs.get((sid, view))
                figs.append(
                    _figure(
                        found[1] if found else None,
                        f"subject {sid}, {view} view, {name}",
                        sid,
                        found[0] if found else f"subject {sid}: no decodable {view} photo",
                    )
                )
            cells.append(f"<td><div class=cell>{''.join(figs)}</div></td>")
        rows.append(f"<tr>{th}{''.join(cells)}</tr>")
    return (
        _no_thumbnails_note(dataset)
        + f"<p>Up to {per_cell} subjects per stage, spread over the subject ids; the same subjects "
        "in every view. Captions are subject ids; hover for the file.</p>"
        f"<div class=scroll><table class=sheet><thead>{head}</thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _finding_list(findings: Report | Iterable[Finding]) -> list[Finding]:
    from norwoodkit.validate import Report

    if isinstance(findings, Report):
        return list(findings.findings)
    return list(findings)


def _findings_section(found: Sequence[Finding]) -> str:
    if not found:
        return "<p class=ok>No findings: the dataset passed every check.</p>"
    by_code: dict[str, int] = {}
    for f in found:
        by_code[f.code] = by_code.get(f.code, 0) + 1
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    codes = sorted(by_code, key=lambda c: (order[CODES[c].severity] if c in CODES else 3, c))
    summary = pd.DataFrame(
        {
            "severity": [CODES[c].severity.value if c in CODES else "" for c in codes],
            "code": codes,
            "count": [str(by_code[c]) for c in codes],
            "meaning": [CODES[c].summary if c in CODES else "" for c in codes],
        }
    )
    detail = pd.DataFrame(
        {
            "severity": [f.severity.value for f in found],
            "code": [f.code for f in found],
            "subject": [f.subject or "" for f in found],
            "message": [f.message for f in found],
        }
    )
    return (
        _html_table(summary, numeric=("count",), caption="Findings per code")
        + f"<details><summary>All {len(found)} findings</summary>"
        + _html_table(detail, cls="findings")
        + "</details>"
    )


_TIER_ORDER = {"exact": 0, "same": 1, "near": 2}


def _duplicates_section(
    dataset: Dataset, result: DedupeResult, assignment: Assignment | None
) -> str:
    pairs = result.pairs
    if pairs.empty:
        return (
            f"<p class=ok>No duplicate pairs among {result.compared} compared images "
            f"(near tier: phash distance up to {result.options.near} bits).</p>"
        )
    split_of = _split_lookup(dataset, assignment)
    counts = (
        pairs.groupby(["kind", "tier"])
        .size()
        .rename("pairs")
        .reset_index()
        .assign(_t=lambda f: f["tier"].map(_TIER_ORDER))
        .sort_values(["kind", "_t"])
        .drop(columns="_t")
    )
    counts = counts.astype({"kind": str, "tier": str, "pairs": str})
    ordered = pairs.assign(
        _cross=(pairs["kind"] != "cross-subject"),
        _tier=pairs["tier"].map(_TIER_ORDER),
    ).sort_values(["_cross", "_tier", "distance", "a", "b"])
    thumbs = _thumb_by_path(dataset)
    rows = []
    for r in ordered.head(MAX_PAIRS).itertuples(index=False):
        a, b = str(r.a), str(r.b)
        sa, sb = str(r.subject_a), str(r.subject_b)
        info = [f"{r.tier}, {r.kind}", f"distance {r.distance} bits"]
        if bool(getattr(r, "mirrored", False)):
            info.append("mirrored")
        if split_of:
            xa, xb = split_of.get(sa, ""), split_of.get(sb, "")
            if xa != xb:
                info.append(f"LEAK across splits: {xa} / {xb}")
        leak = split_of and split_of.get(sa, "") != split_of.get(sb, "")
        rows.append(
            f'<div class="pair{" leak" if leak else ""}">'
            + _figure(thumbs.get(a), f"{a} (subject {sa})", f"{a} (subject {sa})", a)
            + _figure(thumbs.get(b), f"{b} (subject {sb})", f"{b} (subject {sb})", b)
            + f"<div class=pairinfo>{'<br>'.join(_e(x) for x in info)}</div></div>"
        )
    more = len(pairs) - MAX_PAIRS
    tail = (
        f"<p>... and {more} more pairs (write them all with dedupe --pairs).</p>"
        if more > 0
        else ""
    )
    return (
        f"<p>{len(pairs)} pairs among {result.compared} compared images (same tier up to "
        f"{result.options.same} bits, near up to {result.options.near}); cross-subject pairs "
        "first.</p>"
        + _html_table(counts, numeric=("pairs",), caption="Pairs by kind and tier")
        + f"<div class=pairs>{''.join(rows)}</div>"
        + tail
    )


def _split_lookup(dataset: Dataset, assignment: Assignment | None) -> dict[str, str]:
    if assignment is None:
        return {}
    subjects = dataset.subjects
    split = _subject_splits(subjects, assignment)
    return dict(zip(subjects["subject_id"].astype(str), split.astype(str), strict=True))


def _subject_splits(subjects: pd.DataFrame, assignment: Assignment) -> pd.Series:
    return assignment.lookup(subjects["subject_id"], default=UNASSIGNED)


def _split_order(split: pd.Series, assignment: Assignment) -> list[str]:
    present = set(split.astype(str))
    order = [n for n in assignment.names if n in present]
    if UNASSIGNED in present:
        order.append(UNASSIGNED)
    return order


def _splits_section(
    dataset: Dataset,
    assignment: Assignment,
    age_bins: AgeBins,
    dedupe: DedupeResult | None,
) -> str:
    balance = split_balance(dataset, assignment, age_bins)
    known = set(dataset.subjects["subject_id"].astype(str))
    extra = sorted((s for s in assignment.subjects if s not in known), key=id_sort_key)
    notes = []
    if extra:
        shown = ", ".join(extra[:10]) + (" ..." if len(extra) > 10 else "")
        notes.append(
            f"<p class=warn>{len(extra)} subject(s) in the split table are not in the "
            f"dataset: {_e(shown)}</p>"
        )
    if (balance["splits"]["split"] == UNASSIGNED).any():
        frame = balance["splits"]
        n = int(frame["subjects"].to_numpy()[(frame["split"] == UNASSIGNED).to_numpy()].sum())
        notes.append(f"<p class=warn>{n} dataset subject(s) have no split ({_e(UNASSIGNED)}).</p>")
    if dedupe is not None and not dedupe.pairs.empty:
        split_of = _split_lookup(dataset, assignment)
        crossing = sum(
            split_of.get(str(a), "") != split_of.get(str(b), "")
            for a, b in zip(dedupe.pairs["subject_a"], dedupe.pairs["subject_b"], strict=True)
        )
        klass = "warn" if crossing else "ok"
        notes.append(
            f"<p class={klass}>{crossing} duplicate pair(s) cross splits (leakage); "
            "see Duplicates.</p>"
        )
    return (
        "".join(notes)
        + _html_table(
            _show(balance["splits"]),
            numeric=[c for c in balance["splits"].columns if c != "split"],
            caption="Split sizes, ages and worst share gaps (percentage points)",
        )
        + _html_table(
            _show(balance["stage_shares"], share=True),
            numeric=[c for c in balance["stage_shares"].columns if c != "split"],
            caption="Share of each stage within each split",
        )
        + _html_table(
            _show(balance["age_shares"], share=True),
            numeric=[c for c in balance["age_shares"].columns if c != "split"],
            caption="Share of each age bin within each split",
        )
    )


def _show(frame: pd.DataFrame, share: bool = False) -> pd.DataFrame:
    return pd.DataFrame(
        {
            str(c): [
                format_value(v, share=share or str(c) == "share") if c != "split" else str(v)
                for v in frame[c].tolist()
            ]
            for c in frame.columns
        }
    )


# --------------------------------------------------------------------------- the page


_CSS = """
:root{--fg:#1d2330;--muted:#5b6475;--line:#d9dee7;--bg:#f6f7f9;--accent:#2f5d9b}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
background:var(--bg)}
header{background:#1d2330;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:22px}
header p{margin:0;color:#c4cad6}
nav{margin-top:10px}
nav a{color:#9cc3ff;margin-right:14px;text-decoration:none}
main{padding:8px 28px 40px;max-width:1500px}
section{background:#fff;border:1px solid var(--line);border-radius:6px;padding:12px 20px;
margin:16px 0}
h2{margin:4px 0 10px;font-size:18px;color:var(--accent)}
table{border-collapse:collapse;margin:8px 0 14px;font-size:13px}
caption{text-align:left;font-weight:600;padding:4px 0;color:var(--muted)}
th,td{border:1px solid var(--line);padding:3px 8px;text-align:left;vertical-align:top}
thead th{background:#eef1f6}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto}
.row{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0}
figure.plot{margin:8px 0;flex:1 1 520px;max-width:640px}
figure.plot img{max-width:100%;height:auto;border:1px solid var(--line)}
figure.plot figcaption{font-size:12px;color:var(--muted)}
table.sheet td{padding:4px}
table.sheet th{white-space:nowrap}
.cell{display:flex;flex-wrap:wrap;gap:4px}
figure.thumb{display:inline-block;text-align:center}
figure.thumb img{display:block;height:54px;width:auto;border-radius:3px}
figure.thumb figcaption{font-size:10px;color:var(--muted);max-width:180px;overflow-wrap:anywhere}
.nothumb{height:54px;width:54px;display:flex;align-items:center;justify-content:center;
background:#eceff3;color:var(--muted);font-size:10px;border-radius:3px}
td.empty{color:var(--muted)}
.badge{display:inline-block;border-radius:10px;padding:1px 9px;margin-right:6px;color:#fff}
.badge.error{background:#c0392b}.badge.warning{background:#c98a06}.badge.info{background:#2f74c0}
.warn{color:#8a5300}.ok{color:#1e7a3c}
details summary{cursor:pointer;color:var(--accent);margin:6px 0}
table.findings td:last-child{max-width:900px}
.pairs{display:flex;flex-direction:column;gap:8px}
.pair{display:flex;gap:10px;align-items:flex-start;border:1px solid var(--line);padding:6px;
border-radius:4px}
.pair.leak{border-color:#c0392b;background:#fff6f5}
.pair figure.thumb img{height:110px}
.pairinfo{font-size:12px;color:var(--fg)}
footer{color:var(--muted);font-size:12px;padding:0 28px 24px}
"""

# Images come only from data: URIs, styles only from this page; nothing else may load.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _version() -> str:
    try:
        return _dist_version("norwoodkit")
    except PackageNotFoundError:
        return "0.0.0+unknown"


def _page(name: str, sections: Sequence[tuple[str, str, str]]) -> str:
    nav = "".join(f'<a href="#{_e(sid)}">{_e(title)}</a>' for sid, title, _ in sections)
    body = "\n".join(
        f'<section id="{_e(sid)}"><h2>{_e(title)}</h2>\n{content}\n</section>'
        for sid, title, content in sections
    )
    title = f"Dataset report: {name}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<header><h1>{_e(title)}</h1><p>Male Hair Loss dataset (Norwood-Hamilton stages 1-7, "
        "five views per subject). Every figure comes from the probe columns; no image was "
        f"decoded again.</p><nav>{nav}</nav></header>\n<main>\n{body}\n</main>\n"
        f"<footer>Made by norwoodkit {_e(_version())}.</footer>\n</body>\n</html>\n"
    )
