"""``norwoodkit stats``: class and demographic statistics and image properties."""

from __future__ import annotations

from typing import Annotated

import typer

from norwoodkit.cli.app import handle_errors, out, print_json
from norwoodkit.cli.options import (
    JsonOpt,
    PlaceText,
    QuietOpt,
    guard,
    load_probed,
    output_place,
    reads_dataset,
)
from norwoodkit.source import DatasetSource

MarkdownOpt = Annotated[
    PlaceText | None,
    typer.Option(
        "--markdown",
        metavar="FILE|URL",
        parser=PlaceText,
        help="Also write every table as one Markdown document here (a file or a URL).",
    ),
]
CsvDirOpt = Annotated[
    PlaceText | None,
    typer.Option(
        "--csv",
        metavar="DIR|URL",
        parser=PlaceText,
        help="Also write one CSV per table into this folder (made if missing) or under this URL.",
    ),
]


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
    markdown: MarkdownOpt = None,
    csv_dir: CsvDirOpt = None,
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Describe the dataset: stages, ages, gender, ethnicity, cross-tabs and image sizes per
    view. Reads the probe cache; no image is decoded again."""
    from norwoodkit.remote_out import staged
    from norwoodkit.stats import PROBE_READS, parse_age_bins, summarize

    bins = parse_age_bins(age_bins)
    md_place, csv_place = output_place(markdown, "markdown"), output_place(csv_dir, "csv_dir")
    guard(source, md_place, "markdown")
    guard(source, csv_place, "csv_dir", "folder")
    ds = load_probed(source, quiet, columns=PROBE_READS)
    summary = summarize(ds, folds=folds, age_bins=bins)
    if md_place is not None:
        with staged(md_place, "file") as local:
            summary.write_markdown(local, dataset_root=source.root)
    if csv_place is not None:
        with staged(csv_place, "folder") as local:
            summary.write_csv_dir(local, dataset_root=source.root)
    if json_output:
        print_json(summary.to_dict())
    else:
        for table in summary.rich_tables():
            out.print(table)
