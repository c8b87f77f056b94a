"""The report's photo sections, from the probe's thumbnails: contact sheet, duplicate pairs."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from norwoodkit.dataset import Dataset, decoded
from norwoodkit.labels import VIEWS, id_sort_key
from norwoodkit.split.assignment import Assignment
from norwoodkit.strata import (
    MISSING,
    STAGE_LABELS,
    stage_labels,
)

if TYPE_CHECKING:
    from norwoodkit.dedupe import DedupeResult

from norwoodkit.report.markup import esc, html_table, thumb_figure
from norwoodkit.report.splits import split_lookup

log = logging.getLogger(__name__)


#: Thumbnails per stage x view cell of the contact sheet.
THUMBS_PER_CELL = 3


#: Duplicate pairs shown side by side (the rest are counted).
MAX_PAIRS = 100


def _thumbs(dataset: Dataset) -> dict[tuple[str, str], tuple[str, bytes]]:
    """(subject, view) -> (path, thumbnail JPEG) for decodable images; the first path wins."""
    t = dataset.table
    rows = t[t["path"].notna() & t["view"].notna() & decoded(t)]
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


def _spread(items: Sequence[str], k: int) -> list[str]:
    """``k`` items spread evenly over the list (first and last included): deterministic."""
    if len(items) <= k:
        return list(items)
    picks = np.linspace(0, len(items) - 1, k).round().astype(int)
    return [items[i] for i in dict.fromkeys(picks.tolist())]


def _no_thumbnails_note(dataset: Dataset) -> str:
    """A visible note (and a log warning) when decodable images came without thumbnails."""
    t = dataset.table
    ok = t[t["path"].notna() & decoded(t)]
    if ok.empty or any(isinstance(b, (bytes, bytearray)) for b in ok["thumbnail"]):
        return ""
    log.warning(
        "the table has no thumbnails (probed with thumbnails=False): the report shows no photos"
    )
    return (
        "<p class=warn>The table holds no thumbnails (it was probed with thumbnails=False), "
        "so no photo can be shown; probe with thumbnails=True.</p>"
    )


def contact_sheet(dataset: Dataset, per_cell: int = THUMBS_PER_CELL) -> str:
    thumbs = _thumbs(dataset)
    has_thumb = {sid for sid, _ in thumbs}
    subjects = dataset.subjects
    stage = stage_labels(subjects["stage"])
    views = [v.value for v in VIEWS]
    head = "<tr><th>stage</th>" + "".join(f"<th>{esc(v)}</th>" for v in views) + "</tr>"
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
        th = f"<th>{esc(name)}<br><small>{len(sids)} subjects</small></th>"
        if not shown:
            rows.append(f"<tr>{th}<td colspan={len(views)} class=empty>no photos</td></tr>")
            continue
        cells = []
        for view in views:
            figs = []
            for sid in shown:
                found = thumbs.get((sid, view))
                figs.append(
                    thumb_figure(
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


_TIER_ORDER = {"exact": 0, "same": 1, "near": 2}


def duplicates_section(
    dataset: Dataset, result: DedupeResult, assignment: Assignment | None
) -> str:
    pairs = result.pairs
    if pairs.empty:
        return (
            f"<p class=ok>No duplicate pairs among {result.compared} compared images "
            f"(near tier: phash distance up to {result.options.near} bits).</p>"
        )
    split_of = split_lookup(dataset, assignment)
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
            + thumb_figure(thumbs.get(a), f"{a} (subject {sa})", f"{a} (subject {sa})", a)
            + thumb_figure(thumbs.get(b), f"{b} (subject {sb})", f"{b} (subject {sb})", b)
            + f"<div class=pairinfo>{'<br>'.join(esc(x) for x in info)}</div></div>"
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
        + html_table(counts, numeric=("pairs",), caption="Pairs by kind and tier")
        + f"<div class=pairs>{''.join(rows)}</div>"
        + tail
    )
