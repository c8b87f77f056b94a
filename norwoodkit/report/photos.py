"""The report's photo sections: contact sheet, duplicate pairs (pictures drawn by ``zoom``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

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

from norwoodkit.report.markup import esc, html_table
from norwoodkit.report.splits import split_lookup
from norwoodkit.report.zoom import Zoom

#: Thumbnails per stage x view cell of the contact sheet.
THUMBS_PER_CELL = 3


#: Duplicate pairs shown side by side (the rest are counted).
MAX_PAIRS = 100


def _photos(dataset: Dataset) -> dict[tuple[str, str], str]:
    """(subject, view) -> path of an image the probe decoded; the first path wins."""
    t = dataset.table
    rows = t[t["path"].notna() & t["view"].notna() & decoded(t)]
    out: dict[tuple[str, str], str] = {}
    for sid, view, path in sorted(
        zip(
            rows["subject_id"].astype(str),
            rows["view"].astype(str),
            rows["path"].astype(str),
            strict=True,
        )
    ):
        out.setdefault((sid, view), path)
    return out


def _people(dataset: Dataset) -> dict[str, tuple[str, str]]:
    """Subject id -> (stage as shown, age as shown)."""
    subjects = dataset.subjects
    stages = stage_labels(subjects["stage"])
    return {
        str(sid): (
            f"stage {st}" if st != MISSING else "no stage",
            f"age {int(age)}" if pd.notna(age) else "no age",
        )
        for sid, st, age in zip(subjects["subject_id"], stages, subjects["age"], strict=True)
    }


def _spread(items: Sequence[str], k: int) -> list[str]:
    """``k`` items spread evenly over the list (first and last included): deterministic."""
    if len(items) <= k:
        return list(items)
    picks = np.linspace(0, len(items) - 1, k).round().astype(int)
    return [items[i] for i in dict.fromkeys(picks.tolist())]


def contact_sheet(dataset: Dataset, zoom: Zoom, per_cell: int = THUMBS_PER_CELL) -> str:
    """Up to ``per_cell`` subjects per stage, each a strip of its views (those the data has)."""
    photos = _photos(dataset)
    has_photo = {sid for sid, _ in photos}
    people = _people(dataset)
    subjects = dataset.subjects
    stage = stage_labels(subjects["stage"])
    t = dataset.table
    present = set(t.loc[t["path"].notna(), "view"].dropna().astype(str))
    views = [v.value for v in VIEWS if v.value in present]
    blocks = []
    for label in STAGE_LABELS:
        sids = sorted(
            (str(s) for s in subjects.loc[(stage == label).to_numpy(), "subject_id"]),
            key=id_sort_key,
        )
        if label == MISSING and not sids:
            continue
        shown = _spread([s for s in sids if s in has_photo], per_cell)
        name = f"stage {label}" if label != MISSING else "no stage"
        head = f"<h3>{esc(name)} <small>{len(sids)} subjects</small></h3>"
        if not shown:
            blocks.append(f"<div class=stage>{head}<p class=empty>no photos</p></div>")
            continue
        strips = []
        for sid in shown:
            age = people[sid][1]
            figs = "".join(
                zoom.figure(
                    photos.get((sid, view)), view, f"subject {sid}, {view} view, {name}, {age}"
                )
                for view in views
            )
            strips.append(
                f"<div class=strip><p class=who>subject {esc(sid)}, {esc(age)}</p>"
                f"<div class=cell>{figs}</div></div>"
            )
        blocks.append(f"<div class=stage>{head}{''.join(strips)}</div>")
    return (
        f"<p>Up to {per_cell} subjects per stage, spread over the subject ids, each with its "
        f"{len(views)} view{'s' if len(views) != 1 else ''}. Click a photo to enlarge it; hover "
        "for the file.</p>" + "".join(blocks)
    )


_TIER_ORDER = {"exact": 0, "same": 1, "near": 2}


def _marks(groups: pd.DataFrame) -> dict[str, str]:
    """Path -> keep/drop as dedupe's groups decide (the keeper stays, the others are dropped)."""
    if groups.empty:
        return {}
    keepers = groups[groups["keeper"]].set_index("group")["path"].astype(str).to_dict()
    return {
        str(p): "keep" if bool(k) else f"drop: dedupe keeps {keepers[g]}"
        for p, g, k in zip(groups["path"], groups["group"], groups["keeper"], strict=True)
    }


def _sizes(dataset: Dataset) -> dict[str, str]:
    """Path -> its upright size and bytes, as text."""
    t = dataset.table[dataset.table["path"].notna()]
    out = {}
    for p, w, h, n in zip(
        t["path"], t["oriented_width"], t["oriented_height"], t["size"], strict=True
    ):
        dims = f"{int(w)} x {int(h)} px" if pd.notna(w) and pd.notna(h) else "size unknown"
        out[str(p)] = dims + (f", {int(n) / 1000:,.0f} kB" if pd.notna(n) else "")
    return out


def _side(zoom: Zoom, path: str, sid: str, view: str, facts: _PairFacts) -> str:
    """One photo of a pair: its thumbnail, whose it is, its size, keep or drop."""
    stage, age = facts.people.get(sid, ("no stage", "no age"))
    mark = facts.marks.get(path, "")
    badge = (
        f'<span class="mark {"keep" if mark == "keep" else "drop"}">{esc(mark)}</span>'
        if mark
        else ""
    )
    return (
        "<div class=side>"
        + zoom.figure(path, path, f"subject {sid}, {view} view, {stage}, {age}")
        + f"<p>subject {esc(sid)}, {esc(stage)}, {esc(age)}<br>"
        f"{esc(facts.sizes.get(path, 'size unknown'))}<br>{badge}</p></div>"
    )


def _view(value: object) -> str:
    return str(value) if isinstance(value, str) else "no view"


@dataclass(frozen=True)
class _PairFacts:
    people: dict[str, tuple[str, str]]
    sizes: dict[str, str]
    marks: dict[str, str]


def duplicates_section(
    dataset: Dataset, result: DedupeResult, assignment: Assignment | None, zoom: Zoom
) -> str:
    """Pair counts by kind and tier, then up to ``MAX_PAIRS`` pairs as cards, leaks marked."""
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
    facts = _PairFacts(_people(dataset), _sizes(dataset), _marks(result.groups))
    rows = []
    for r in ordered.head(MAX_PAIRS).itertuples(index=False):
        a, b = str(r.a), str(r.b)
        sa, sb = str(r.subject_a), str(r.subject_b)
        info = [f"{r.tier}, {r.kind}", f"distance {r.distance} bits"]
        if bool(getattr(r, "mirrored", False)):
            info.append("mirrored")
        leak = bool(split_of) and split_of.get(sa, "") != split_of.get(sb, "")
        if leak:
            info.append(f"LEAK across splits: {split_of.get(sa, '')} / {split_of.get(sb, '')}")
        rows.append(
            f'<div class="pair{" leak" if leak else ""}">'
            f"<p class=pairinfo>{', '.join(esc(x) for x in info)}</p><div class=sides>"
            + _side(zoom, a, sa, _view(r.view_a), facts)
            + _side(zoom, b, sb, _view(r.view_b), facts)
            + "</div></div>"
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
        "first. Each photo is marked keep or drop as dedupe's groups decide (what "
        "<code>dedupe --exclude-list</code> drops).</p>"
        + html_table(counts, numeric=("pairs",), caption="Pairs by kind and tier")
        + f"<div class=pairs>{''.join(rows)}</div>"
        + tail
    )
