"""``norwoodkit validate``: folder and annotation agree; every view present, decodable, sane."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from norwoodkit.cli.app import EXIT_FOUND, EXIT_OK, handle_errors, out, print_json
from norwoodkit.cli.gates import Format, FormatOpt, JunitOpt, MinSeverityOpt, Reports, SarifOpt
from norwoodkit.cli.options import JsonOpt, QuietOpt, load_probed, reads_dataset
from norwoodkit.findings import Severity
from norwoodkit.source import DatasetSource

if TYPE_CHECKING:
    from norwoodkit.quality.thresholds import Overrides
    from norwoodkit.reporting import Gate
    from norwoodkit.validate import Report

_COLOURS = {"error": "red", "warning": "yellow", "info": "blue"}

QualityThresholdsOpt = Annotated[
    Path | None,
    typer.Option(
        "--quality-thresholds",
        metavar="FILE",
        help="JSON or YAML file of photo quality thresholds per measure (and view), "
        "e.g. 'sharpness: {min: 40}'; replaces the thresholds calibrated on the dataset.",
    ),
]

QualityCalibrateOpt = Annotated[
    bool,
    typer.Option(
        "--quality-calibrate",
        help="Also print each view's photo quality histograms with thresholds and floors.",
    ),
]


@handle_errors
@reads_dataset
def validate(
    source: DatasetSource,
    expect_subjects: Annotated[
        int | None,
        typer.Option(
            "--expect-subjects",
            metavar="N",
            min=0,
            help="Number of subjects the delivery promises.",
        ),
    ] = None,
    expect_images: Annotated[
        int | None,
        typer.Option(
            "--expect-images", metavar="N", min=0, help="Number of images the delivery promises."
        ),
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail too (exit 1).")] = False,
    quality_thresholds: QualityThresholdsOpt = None,
    quality_calibrate: QualityCalibrateOpt = False,
    junit: JunitOpt = None,
    sarif: SarifOpt = None,
    fmt: FormatOpt = Format.TEXT,
    min_severity: MinSeverityOpt = Severity.WARNING,
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Check that folder and annotation agree, every view is present and decodable, and labels
    and metadata are valid. Exit 0 clean, 1 problems found, 2 could not run."""
    from norwoodkit.quality.check import dataset_calibration
    from norwoodkit.quality.show import calibration_text
    from norwoodkit.reporting import validate_gate
    from norwoodkit.validate import PROBE_READS, ValidateOptions
    from norwoodkit.validate import validate as run_validate

    reports = Reports(junit, sarif, fmt, min_severity, json_output)
    reports.guard(source.root, (source.annotations, quality_thresholds))
    overrides = thresholds_from(quality_thresholds)
    ds = load_probed(source, quiet, columns=PROBE_READS)
    opts = ValidateOptions(expect_subjects, expect_images, quality_thresholds=overrides)
    report = run_validate(ds, opts)
    gate = validate_gate(report, ds.table["subject_id"].unique(), source.root, strict)
    reports.emit(gate)
    doc = report.to_dict(strict)
    if quality_calibrate:
        doc["quality_calibration"] = dataset_calibration(ds, overrides).to_dict()
    if json_output:
        print_json(doc)
    else:
        render_findings(report, gate, reports, strict)
        if quality_calibrate:
            for line in calibration_text(doc["quality_calibration"]):
                out.print(line, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_OK if report.ok(strict) else EXIT_FOUND)


def thresholds_from(path: Path | None) -> Overrides | None:
    """The ``--quality-thresholds`` file read (None: not given), before any photo is probed."""
    from norwoodkit.quality.thresholds import read_thresholds

    return read_thresholds(path) if path is not None else None


def render_findings(report: Report, gate: Gate, reports: Reports, strict: bool) -> None:
    """The findings shown at ``--min-severity`` as a Rich table, and a verdict line, on stdout.

    The severity, code and subject columns never wrap (a code broken mid-word reads as two);
    the message wraps at spaces, so the table fits 80 columns.
    """
    shown = gate.shown(reports.least)
    if shown and reports.table:
        from rich.table import Table  # only a table on the terminal needs it (not --json)
        from rich.text import Text

        table = Table(show_lines=False, header_style="bold")
        table.add_column("severity", no_wrap=True)
        table.add_column("code", no_wrap=True)
        table.add_column("subject", no_wrap=True, max_width=16, overflow="ellipsis")
        table.add_column("message", overflow="fold", ratio=1)
        for o in shown:
            f = o.finding
            sev = f.severity.value
            subject = Text(f.subject or "")
            table.add_row(Text(sev, style=_COLOURS[sev]), f.code, subject, Text(f.message))
        out.print(table)
    counts = report.counts()
    verdict = "[green]OK[/]" if report.ok(strict) else "[red]FAILED[/]"
    hidden = len(gate.outcomes) - len(shown)
    out.print(
        f"{verdict}: {report.subjects} subjects, {report.images} images; "
        f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} info"
        + (" (--strict: warnings fail)" if strict else "")
        + (f"; {hidden} not shown (--min-severity info shows them)" if hidden else "")
    )
