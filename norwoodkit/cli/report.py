"""``norwoodkit report``: one self-contained HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from norwoodkit.cli.app import handle_errors, out, print_json
from norwoodkit.cli.options import JsonOpt, QuietOpt, guard, load_probed, reads_dataset
from norwoodkit.cli.validate import QualityThresholdsOpt, thresholds_from
from norwoodkit.source import DatasetSource

if TYPE_CHECKING:
    from norwoodkit.report import Made


@handle_errors
@reads_dataset
def report(
    source: DatasetSource,
    out_file: Annotated[
        Path,
        typer.Option(
            "--out", "-o", metavar="FILE", help="HTML file to write (replaced if it exists)."
        ),
    ],
    plots: Annotated[
        Path | None,
        typer.Option(
            "--plots", metavar="DIR", help="Also write the plots as PNG files into this folder."
        ),
    ] = None,
    with_dedupe: Annotated[
        bool,
        typer.Option("--dedupe/--no-dedupe", help="Show duplicate pairs side by side."),
    ] = True,
    splits: Annotated[
        Path | None,
        typer.Option(
            "--splits",
            metavar="FILE",
            help="Split table (subject_id, split; .csv, .parquet or .json): show each "
            "split's stage and age balance.",
        ),
    ] = None,
    quality_thresholds: QualityThresholdsOpt = None,
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Write one self-contained HTML report: stats and plots, a contact sheet per stage and
    view, validation findings, duplicates and split balance (needs matplotlib:
    `pip install 'norwoodkit[report]'`)."""
    from norwoodkit import report as html_report

    html_report.require_matplotlib()
    guard(source, out_file, "out", inputs=(splits, quality_thresholds))
    guard(source, plots, "plots_dir", "folder")
    split_table = html_report.read_splits(splits) if splits is not None else None
    limits = thresholds_from(quality_thresholds)
    ds = load_probed(source, quiet, thumbnails=True)
    made = html_report.make(
        ds,
        with_dedupe=with_dedupe,
        splits=split_table,
        plots_dir=plots,
        quality_thresholds=limits,
        workers=source.workers,
    )
    html_report.write(out_file, made.html, dataset_root=source.root)
    counts = made.findings.counts()
    if json_output:
        print_json(_document(out_file, plots, made))
        return
    out.print(
        f"wrote {out_file} ({len(made.html) // 1024:,} KiB): {made.findings.subjects} subjects, "
        f"{made.findings.images} images; {counts['error']} errors, {counts['warning']} warnings"
    )


def _document(out_file: Path, plots: Path | None, made: Made) -> dict[str, Any]:
    """The ``--json`` document: the file written and the validation it shows."""
    return {
        "out": str(out_file),
        "bytes": out_file.stat().st_size,
        "plots": str(plots) if plots is not None else None,
        "subjects": made.findings.subjects,
        "images": made.findings.images,
        "counts": made.findings.counts(),
    }
