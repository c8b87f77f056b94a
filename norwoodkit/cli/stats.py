"""``norwoodkit stats``: class and demographic statistics and image properties."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from norwoodkit.cli.app import handle_errors, out, print_json
from norwoodkit.cli.options import JsonOpt, QuietOpt, guard, load_probed, reads_dataset
from norwoodkit.source import DatasetSource


@handle_errors
@reads_dataset
def stats(
    source: DatasetSource,
    folds: Annotated[
        int,
        typer.Option(
            "--check-folds",
            metavar="K",
            min=2,
            max=10_000,
            help="Flag stages with fewer subjects than this many folds.",
        ),
    ] = 5,
    age_bins: Annotated[
        str,
        typer.Option(
            "--age-bins", metavar="B,B,...", help="Age bins in whole years, both ends inclusive."
        ),
    ] = "18-29,30-39,40-49,50-59,60-80",
    markdown: Annotated[
        Path | None,
        typer.Option(
            "--markdown",
            metavar="FILE",
            help="Also write every table as one Markdown document here.",
        ),
    ] = None,
    csv_dir: Annotated[
        Path | None,
        typer.Option(
            "--csv",
            metavar="DIR",
            help="Also write one CSV per table into this folder (made if missing).",
        ),
    ] = None,
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Describe the dataset: stages, ages, gender, ethnicity, cross-tabs and image sizes per
    view. Reads the probe cache; no image is decoded again."""
    from norwoodkit.stats import PROBE_READS, parse_age_bins, summarize

    bins = parse_age_bins(age_bins)
    guard(source, markdown, "markdown")
    guard(source, csv_dir, "csv_dir", "folder")
    ds = load_probed(source, quiet, columns=PROBE_READS)
    summary = summarize(ds, folds=folds, age_bins=bins)
    if markdown is not None:
        summary.write_markdown(markdown, dataset_root=source.root)
    if csv_dir is not None:
        summary.write_csv_dir(csv_dir, dataset_root=source.root)
    if json_output:
        print_json(summary.to_dict())
    else:
        for table in summary.rich_tables():
            out.print(table)
