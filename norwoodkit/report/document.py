"""The report as one self-contained page: ``build`` joins the sections, ``write`` saves it."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from norwoodkit import __version__
from norwoodkit.atomic import write_bytes_atomic, write_text_atomic
from norwoodkit.dataset import ProbedDataset
from norwoodkit.findings import Finding
from norwoodkit.paths import guard_output
from norwoodkit.split.assignment import Assignment
from norwoodkit.stats import Summary, summarize
from norwoodkit.storage import Location
from norwoodkit.validate import Report

if TYPE_CHECKING:
    from norwoodkit.dedupe import DedupeResult
    from norwoodkit.quality.thresholds import Overrides

from norwoodkit.report.markup import esc
from norwoodkit.report.photos import contact_sheet, duplicates_section
from norwoodkit.report.plots import render_plots, require_matplotlib
from norwoodkit.report.quality import worst_photos_section
from norwoodkit.report.sections import (
    age_section,
    demographics_section,
    finding_list,
    findings_section,
    images_section,
    overview,
    stages_section,
)
from norwoodkit.report.splits import splits_section
from norwoodkit.report.zoom import Zoom

log = logging.getLogger(__name__)


def build(
    dataset: ProbedDataset,
    *,
    findings: Report | Iterable[Finding] | None = None,
    dedupe: DedupeResult | None = None,
    splits: Assignment | pd.DataFrame | None = None,
    plots_dir: str | os.PathLike[str] | None = None,
    summary: Summary | None = None,
    quality_thresholds: Overrides | None = None,
    workers: int | None = None,
) -> str:
    """The HTML report of a probed dataset, as one self-contained document.

    Args:
        dataset: from ``probe.run(dataset.load(root))``. The photos the page shows are read
            again (``enlarge.py``); one changed since the probe is a placeholder saying so.
        findings: a ``validate.Report`` or findings; None runs ``validate.validate`` (pass
            ``()`` to leave the section empty).
        dedupe: a ``dedupe.find`` result: duplicate pairs are shown side by side.
        splits: an Assignment (``read_splits``) or a ``subject_id``, ``split`` table: each
            split's stage and age balance (and, with ``dedupe``, the pairs that cross splits).
        plots_dir: also write the plots there as PNG files (the folder is created if its
            parent exists).
        summary: ``stats.summarize`` output; None summarizes with the default options.
        quality_thresholds: thresholds set by hand for the "worst photos" gallery (the
            findings passed in should use the same).
        workers: threads reading the photos shown again, for their thumbnails and enlarged
            copies (``enlarge.py``); None: one per CPU core.

    Raises:
        NorwoodkitError: matplotlib is missing (install ``norwoodkit[report]``).
        InputError: an empty or unprobed dataset, or a bad split table.
        OutputError: ``plots_dir`` cannot be written.
    """
    require_matplotlib()
    plots_path = (
        guard_output(plots_dir, "plots_dir", dataset_root=dataset.root, kind="folder")
        if plots_dir is not None
        else None
    )
    summ = summary if summary is not None else summarize(dataset)
    if findings is None:
        from norwoodkit.validate import validate

        findings = validate(dataset)
    plots = render_plots(dataset, summ)
    if plots_path is not None:
        plots_path.mkdir(exist_ok=True)
        for name, png in plots.items():
            write_bytes_atomic(plots_path / f"{name}.png", png)
    assignment = Assignment.of(splits) if splits is not None else None
    zoom = Zoom(dataset, workers=workers)
    sections = _sections(dataset, summ, finding_list(findings), plots, dedupe, assignment, zoom)
    worst = worst_photos_section(dataset, zoom, quality_thresholds)  # after the findings
    sections.insert(7, ("worst-photos", "Worst photos", worst))
    return zoom.fill(_page(summ.dataset, sections, Zoom.OVERLAYS))


def _sections(
    dataset: ProbedDataset,
    summ: Summary,
    found: list[Finding],
    plots: dict[str, bytes],
    dedupe: DedupeResult | None,
    assignment: Assignment | None,
    zoom: Zoom,
) -> list[tuple[str, str, str]]:
    """(id, title, HTML) of each section, in page order."""
    sections = [
        ("overview", "Overview", overview(summ, found)),
        ("stages", "Stages", stages_section(summ, plots)),
        ("age", "Age", age_section(summ, plots)),
        ("demographics", "Gender and ethnicity", demographics_section(summ)),
        ("images", "Images", images_section(summ, plots)),
        ("contact-sheet", "Contact sheet", contact_sheet(dataset, zoom)),
        ("findings", "Validation findings", findings_section(found)),
    ]
    if dedupe is not None:
        sections.append(
            ("duplicates", "Duplicates", duplicates_section(dataset, dedupe, assignment, zoom))
        )
    if assignment is not None:
        sections.append(
            ("splits", "Splits", splits_section(dataset, assignment, summ.age_bins, dedupe))
        )
    return sections


@dataclass(frozen=True)
class Made:
    """What ``make`` gives: the page and the validation it shows."""

    html: str
    findings: Report


def make(
    dataset: ProbedDataset,
    *,
    with_dedupe: bool = True,
    splits: Assignment | pd.DataFrame | None = None,
    plots_dir: str | os.PathLike[str] | None = None,
    quality_thresholds: Overrides | None = None,
    workers: int | None = None,
) -> Made:
    """Validate, find duplicates (unless ``with_dedupe`` is False) and build the page.

    This is what ``norwoodkit report`` writes; ``build`` takes each part ready-made instead.
    """
    from norwoodkit.dedupe import find
    from norwoodkit.validate import ValidateOptions, validate

    found = validate(dataset, ValidateOptions(quality_thresholds=quality_thresholds))
    dup = find(dataset) if with_dedupe else None
    text = build(
        dataset,
        findings=found,
        dedupe=dup,
        splits=splits,
        plots_dir=plots_dir,
        quality_thresholds=quality_thresholds,
        workers=workers,
    )
    return Made(html=text, findings=found)


def write(
    path: str | os.PathLike[str],
    html_text: str,
    *,
    dataset_root: str | os.PathLike[str] | Location | None = None,
) -> None:
    """Write the report to ``path`` atomically (an existing file is replaced whole).

    Pass the reported dataset's ``dataset_root`` (``ProbedDataset.root``) so that a path
    inside it is refused.

    Raises:
        OutputError: refused by ``paths.guard_output`` (inside ``dataset_root``, the folder
            missing or not writable, ``path`` a folder, a link or not a regular file).
    """
    target = guard_output(path, "path", dataset_root=dataset_root, kind="file")
    write_text_atomic(target, html_text)


_CSS = """
:root{--fg:#1d2330;--muted:#5b6475;--line:#d9dee7;--bg:#f6f7f9;--accent:#2f5d9b}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
background:var(--bg)}
p{overflow-wrap:break-word}
header{background:#1d2330;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:22px;overflow-wrap:anywhere}
header p{margin:0;color:#c4cad6}
nav{margin-top:10px;display:flex;flex-wrap:wrap;gap:4px 14px}
nav a{color:#9cc3ff;text-decoration:none}
main{padding:8px 28px 40px;max-width:1500px}
section{background:#fff;border:1px solid var(--line);border-radius:6px;padding:12px 20px;
margin:16px 0;min-width:0}
h2{margin:4px 0 10px;font-size:18px;color:var(--accent)}
h3{margin:14px 0 6px;font-size:15px}
h3 small{color:var(--muted);font-weight:400}
table{border-collapse:collapse;margin:8px 0 14px;font-size:13px}
caption{text-align:left;font-weight:600;padding:4px 0;color:var(--muted)}
th,td{border:1px solid var(--line);padding:3px 8px;text-align:left;vertical-align:top}
thead th{background:#eef1f6}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto;max-width:100%}
.row{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0}
img{max-width:100%}
figure.plot{margin:8px 0;flex:1 1 420px;max-width:560px;min-width:0}
figure.plot img{display:block;width:100%;height:auto;border:1px solid var(--line)}
figure.plot figcaption{font-size:13px;color:var(--muted);margin-top:4px}
p.zero{font-size:12px;color:var(--muted);margin:-8px 0 14px}
.strip{margin:0 0 12px}
.strip .who{margin:0 0 4px;font-size:12px;color:var(--muted)}
.cell{display:flex;flex-wrap:wrap;gap:6px}
figure.thumb{display:inline-block;text-align:center;max-width:100%;vertical-align:top}
figure.thumb img{display:block;width:auto;height:auto;max-width:100%;max-height:160px;
border-radius:3px}
a.zoomin{display:block;cursor:zoom-in}
figure.thumb figcaption{font-size:11px;color:var(--muted);max-width:160px;margin:0 auto;
overflow-wrap:anywhere}
.nothumb{height:120px;width:160px;max-width:100%;display:flex;align-items:center;
justify-content:center;background:#eceff3;color:var(--muted);font-size:11px;border-radius:3px}
.empty{color:var(--muted)}
.badge{display:inline-block;border-radius:10px;padding:1px 9px;margin-right:6px;color:#fff}
.badge.error{background:#c0392b}.badge.warning{background:#c98a06}.badge.info{background:#2f74c0}
.warn{color:#8a5300}.ok{color:#1e7a3c}
details summary{cursor:pointer;color:var(--accent);margin:6px 0}
table.findings td:last-child{max-width:900px}
.pairs{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,370px),1fr));gap:10px}
.pair{border:1px solid var(--line);padding:8px;border-radius:4px;min-width:0}
.pair.leak{border-color:#c0392b;background:#fff6f5}
.pairinfo{margin:0 0 6px;font-size:12px;font-weight:600}
.sides{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:8px}
.side{min-width:0;font-size:12px}
.side p{margin:4px 0 0;overflow-wrap:anywhere}
.mark{display:inline-block;border-radius:9px;padding:0 8px;margin-top:2px;color:#fff;
font-weight:600}
.mark.keep{background:#1e7a3c}.mark.drop{background:#8a5300}
.zoom{display:none;position:fixed;inset:0;z-index:10;background:rgba(12,16,24,.93);
padding:12px;align-items:center;justify-content:center}
.zoom:target{display:flex}
.zoom>a.shut{position:absolute;inset:0;cursor:zoom-out}
.zoom figure{position:relative;max-width:100%;max-height:100%;text-align:center}
.zoom img{display:block;margin:0 auto;max-width:100%;max-height:calc(100vh - 110px);width:auto;
height:auto;background:#000}
.zoom figcaption{color:#e8ebf0;font-size:13px;padding:6px;overflow-wrap:anywhere}
.zoom figcaption a{color:#9cc3ff}
.zoomnote{margin:4px 0;color:#ffd479}
footer{color:var(--muted);font-size:12px;padding:0 28px 24px}
@media (max-width:600px){header{padding:12px 10px}main{padding:4px 8px 24px}
section{padding:8px 10px;margin:10px 0}footer{padding:0 10px 16px}}
"""


# Images come only from data: URIs, styles only from this page; nothing else may load.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _page(name: str, sections: Sequence[tuple[str, str, str]], overlays: str) -> str:
    nav = "".join(f'<a href="#{esc(sid)}">{esc(title)}</a>' for sid, title, _ in sections)
    body = "\n".join(
        f'<section id="{esc(sid)}"><h2>{esc(title)}</h2>\n{content}\n</section>'
        for sid, title, content in sections
    )
    title = f"Dataset report: {name}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<header><h1>{esc(title)}</h1><p>Male Hair Loss dataset (Norwood-Hamilton stages 1-7, "
        "five views per subject). Every figure comes from the probe columns; only the photos "
        "shown are read again, to enlarge them (click one), and only if the file is unchanged."
        f"</p><nav>{nav}</nav></header>\n<main>\n{body}\n</main>\n{overlays}\n"
        f"<footer>Made by norwoodkit {esc(__version__)}.</footer>\n</body>\n</html>\n"
    )
