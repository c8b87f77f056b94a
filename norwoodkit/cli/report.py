"""``norwoodkit report``: one self-contained HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from norwoodkit.cli.app import handle_errors, out, print_json
from norwoodkit.cli.options import (
    JsonOpt,
    PlaceText,
    QuietOpt,
    guard,
    load_probed,
    reads_dataset,
)
from norwoodkit.cli.validate import QualityThresholdsOpt, thresholds_from
from norwoodkit.source import DatasetSource
from norwoodkit.storage import place

if TYPE_CHECKING:
    from norwoodkit.report import Made
    from norwoodkit.storage import Location


OutFileOpt = Annotated[
    PlaceText,
    typer.Option(
        "--out",
        "-o",
        metavar="FILE|URL",
        parser=PlaceText,
        help="HTML file to write (replaced if it exists), or a URL such as s3://bucket/r.html.",
    ),
]


@handle_errors
@reads_dataset
def report(
    source: DatasetSource,
    out_file: OutFileOpt,
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
    from norwoodkit.remote_out import staged

    html_report.require_matplotlib()
    target = place(out_file, parameter="out")
    guard(source, target, "out", inputs=(splits, quality_thresholds))
    guard(source, plots, "plots_dir", "folder")
    split_table = html_report.read_splits(splits) if splits is not None else None
    limits = thresholds_from(quality_thresholds)
    ds = load_probed(source, quiet)
    made = html_report.make(
        ds,
        with_dedupe=with_dedupe,
        splits=split_table,
        plots_dir=plots,
        quality_thresholds=limits,
        workers=source.workers,
    )
    with staged(target, "file") as local:
        html_report.write(local, made.html, dataset_root=source.root)
        size = local.stat().st_size
    counts = made.findings.counts()
    if json_output:
        print_json(_document(target, size, plots, made))
        return
    out.print(
        f"wrote {target} ({len(made.html) // 1024:,} KiB): {made.findings.subjects} subjects, "
        f"{made.findings.images} images; {counts['error']} errors, {counts['warning']} warnings"
    )


def _document(
    out_file: Path | Location, size: int, plots: Path | None, made: Made
) -> dict[str, Any]:
    """The ``--json`` document: the file written and the validation it shows."""
    return {
        "out": str(out_file),
        "bytes": size,
        "plots": str(plots) if plots is not None else None,
        "subjects": made.findings.subjects,
        "images": made.findings.images,
        "counts": made.findings.counts(),
    }
