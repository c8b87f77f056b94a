"""``norwoodkit validate``: folder and annotation agree; every view present, decodable, sane."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from norwoodkit.cli.app import EXIT_FOUND, EXIT_OK, handle_errors, out, print_json
from norwoodkit.cli.options import JsonOpt, QuietOpt, guard, load_probed, reads_dataset
from norwoodkit.source import DatasetSource

if TYPE_CHECKING:
    from norwoodkit.validate import Report

_COLOURS = {"error": "red", "warning": "yellow", "info": "blue"}


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
    junit: Annotated[
        Path | None,
        typer.Option(
            "--junit",
            metavar="FILE",
            help="Also write JUnit XML here (one testcase per check and subject).",
        ),
    ] = None,
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Check that folder and annotation agree, every view is present and decodable, and labels
    and metadata are valid. Exit 0 clean, 1 problems found, 2 could not run."""
    from norwoodkit.atomic import write_text_atomic
    from norwoodkit.validate import ValidateOptions, junit_xml
    from norwoodkit.validate import validate as run_validate

    guard(source, junit, "junit")
    ds = load_probed(source, quiet)
    report = run_validate(
        ds, ValidateOptions(expect_subjects=expect_subjects, expect_views=expect_images)
    )
    if junit is not None:
        write_text_atomic(junit, junit_xml(report, ds.table["subject_id"].unique(), strict))
    if json_output:
        print_json(report.to_dict(strict))
    else:
        render_findings(report, strict)
    raise typer.Exit(EXIT_OK if report.ok(strict) else EXIT_FOUND)


def render_findings(report: Report, strict: bool) -> None:
    """Findings as a Rich table and a verdict line on stdout."""
    if report.findings:
        table = Table(show_lines=False, header_style="bold")
        for col in ("severity", "code", "subject", "message"):
            table.add_column(col, overflow="fold")
        for f in report.findings:
            sev = f.severity.value
            table.add_row(f"[{_COLOURS[sev]}]{sev}[/]", f.code, f.subject or "", f.message)
        out.print(table)
    counts = report.counts()
    verdict = "[green]OK[/]" if report.ok(strict) else "[red]FAILED[/]"
    out.print(
        f"{verdict}: {report.subjects} subjects, {report.images} images; "
        f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} info"
        + (" (--strict: warnings fail)" if strict else "")
    )
