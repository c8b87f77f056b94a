"""The report's text sections: overview, stages, age, demographics, images, findings."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import pandas as pd

from norwoodkit.findings import CODES, Finding, Severity
from norwoodkit.stats import Summary

if TYPE_CHECKING:
    from norwoodkit.validate import Report

from norwoodkit.report.markup import esc, html_table, plot_figure, summary_table

log = logging.getLogger(__name__)


def overview(summary: Summary, found: Sequence[Finding]) -> str:
    counts = {s.value: 0 for s in Severity}
    for f in found:
        counts[f.severity.value] += 1
    badges = "".join(
        f'<span class="badge {sev}">{n} {esc(sev)}{"s" if n != 1 and sev != "info" else ""}</span>'
        for sev, n in counts.items()
    )
    facts = summary.facts_frame()
    return f'<p class=badges>Validation: {badges} <a href="#findings">details</a></p>' + html_table(
        facts, numeric=("value",), cls="facts"
    )


def stages_section(summary: Summary, plots: Mapping[str, bytes]) -> str:
    too_few = summary.facts.get("too_few_for_folds") or []
    note = (
        f"<p class=warn>Stage(s) {esc(', '.join(too_few))} have fewer subjects than the "
        f"{summary.folds} folds asked for: a stratified {summary.folds}-fold split cannot put "
        "one in every fold.</p>"
        if too_few
        else ""
    )
    return plot_figure(plots, "stage_distribution") + note + summary_table(summary, "stages")


def age_section(summary: Summary, plots: Mapping[str, bytes]) -> str:
    return (
        "<div class=row>"
        + plot_figure(plots, "age_by_stage")
        + plot_figure(plots, "stage_by_age_bin")
        + "</div>"
        + summary_table(summary, "age_bins")
        + summary_table(summary, "stage_by_age_bin")
    )


def demographics_section(summary: Summary) -> str:
    return "".join(
        summary_table(summary, name)
        for name in ("gender", "ethnicity", "stage_by_gender", "stage_by_ethnicity")
    )


def images_section(summary: Summary, plots: Mapping[str, bytes]) -> str:
    return (
        summary_table(summary, "views")
        + plot_figure(plots, "image_sizes")
        + "".join(
            summary_table(summary, name)
            for name in ("image_sizes", "formats", "modes", "orientations")
        )
    )


def finding_list(findings: Report | Iterable[Finding]) -> list[Finding]:
    from norwoodkit.validate import Report

    if isinstance(findings, Report):
        return list(findings.findings)
    return list(findings)


def findings_section(found: Sequence[Finding]) -> str:
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
        html_table(summary, numeric=("count",), caption="Findings per code")
        + f"<details><summary>All {len(found)} findings</summary>"
        + html_table(detail, cls="findings")
        + "</details>"
    )
