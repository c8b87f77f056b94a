"""``norwoodkit pack`` and ``verify``: Parquet shards for training, and their check."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from norwoodkit import memory
from norwoodkit.cli.app import EXIT_FOUND, EXIT_OK, handle_errors, out, print_json, progress_bar
from norwoodkit.cli.gates import Format, FormatOpt, JunitOpt, MinSeverityOpt, Reports, SarifOpt
from norwoodkit.cli.options import JsonOpt, PlaceText, QuietOpt, reads_dataset
from norwoodkit.cli.validate import render_findings
from norwoodkit.findings import Severity
from norwoodkit.pack import Layout, Orientation
from norwoodkit.source import DatasetSource
from norwoodkit.storage import Location, place

OutDirOpt = Annotated[
    PlaceText,
    typer.Option(
        "--out",
        "-o",
        metavar="DIR|URL",
        parser=PlaceText,
        help="Output folder or URL (s3://bucket/packs/x): shards, manifest.json, README.md and "
        "croissant.json (a URL gets manifest.json last).",
    ),
]
SplitsFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--splits",
        metavar="FILE",
        help="Split file from `norwoodkit split` (default: one train split).",
    ),
]
LayoutOpt = Annotated[
    Layout,
    typer.Option(
        "--layout",
        help="image: one row per image; subject: one row per subject, five image columns.",
    ),
]
ShardSizeOpt = Annotated[
    str,
    typer.Option(
        "--shard-size",
        metavar="SIZE",
        help="Target shard size, e.g. 128MiB (64-256 MB suits training).",
    ),
]
RowsPerGroupOpt = Annotated[
    int,
    typer.Option(
        "--rows-per-group",
        metavar="N",
        help="Rows per row group (whole subjects; 20 = 4 subjects).",
    ),
]
RowGroupBytesOpt = Annotated[
    str,
    typer.Option(
        "--row-group-bytes",
        metavar="SIZE",
        help="Most image bytes per row group, e.g. 32MiB (whole subjects; a larger subject "
        "gets a group of its own).",
    ),
]
SeedOpt = Annotated[
    int, typer.Option("--seed", metavar="N", help="Shuffles subjects before writing.")
]
ResizeOpt = Annotated[
    int | None,
    typer.Option(
        "--resize", metavar="N", help="Store copies re-encoded with this short side (EXIF applied)."
    ),
]
QualityOpt = Annotated[
    int, typer.Option("--quality", metavar="Q", help="JPEG quality of --resize copies.")
]
OrientationOpt = Annotated[
    Orientation,
    typer.Option(
        "--orientation",
        help="apply: store photos with an EXIF orientation upright, so every client shows the "
        "same pixels; keep: store every file's bytes as they are.",
    ),
]
ExcludeFromOpt = Annotated[
    Path | None,
    typer.Option(
        "--exclude-from",
        metavar="FILE",
        help="Images or subjects to leave out (dedupe writes this list).",
    ),
]
OverwriteOpt = Annotated[
    bool,
    typer.Option("--overwrite", help="Replace earlier shards in --out (other files stay)."),
]
LicenseOpt = Annotated[
    str | None,
    typer.Option("--license", help="The card's license id, e.g. cc-by-4.0 (default: other)."),
]
PrettyNameOpt = Annotated[
    str | None, typer.Option("--pretty-name", help="The dataset card's title.")
]
CardDataOpt = Annotated[
    Path | None,
    typer.Option("--card-data", help="YAML file of extra dataset card fields (e.g. language)."),
]
ResumeOpt = Annotated[
    bool,
    typer.Option("--resume", help="Keep complete, identical shards of an interrupted run."),
]


@handle_errors
@reads_dataset
def pack(
    source: DatasetSource,
    out_dir: OutDirOpt,
    splits_file: SplitsFileOpt = None,
    layout: LayoutOpt = Layout.IMAGE,
    shard_size: ShardSizeOpt = "128MiB",
    rows_per_group: RowsPerGroupOpt = 20,
    row_group_bytes: RowGroupBytesOpt = "8MiB",
    seed: SeedOpt = 0,
    resize: ResizeOpt = None,
    quality: QualityOpt = 90,
    orientation: OrientationOpt = Orientation.APPLY,
    exclude_list: ExcludeFromOpt = None,
    overwrite: OverwriteOpt = False,
    resume: ResumeOpt = False,
    license: LicenseOpt = None,
    pretty_name: PrettyNameOpt = None,
    card_data: CardDataOpt = None,
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Write Parquet shards for fast training input as a Hugging Face dataset folder (datasets,
    pyarrow, DuckDB, Polars read it), with a dataset card, croissant.json and manifest.json."""
    from norwoodkit import pack as packing
    from norwoodkit.pack.pipeline import write_probing

    target = _check_out(out_dir, source, overwrite, resume)  # now, before loading the dataset
    opts = packing.PackOptions(
        layout=layout,
        shard_size=packing.parse_size(shard_size),
        rows_per_group=rows_per_group,
        row_group_bytes=packing.parse_size(row_group_bytes, "row_group_bytes"),
        seed=seed,
        resize=resize,
        quality=quality,
        orientation=orientation,
        workers=source.workers,
        license=license,
        pretty_name=pretty_name,
        card_data=packing.read_card_data(card_data, "--card-data") if card_data else None,
    )
    assignments, exclude = _read_inputs(splits_file, exclude_list)
    ds = source.load()
    memory.trim()  # loading's temporaries, before probing and packing allocate their own
    with progress_bar(int(ds.table["path"].notna().sum()), "probing and packing", quiet) as prog:
        write = functools.partial(
            write_probing,
            ds,
            options=opts,
            cache_dir=source.cache_dir,
            use_cache=source.use_cache,
            splits=assignments,
            exclude=exclude,
            overwrite=overwrite,
            resume=resume,
            progress=prog,
            engine=source.engine,
        )
        result = _write_to(target, source, overwrite, resume, write)
    _render(result, json_output)


def _check_out(
    out_dir: str, source: DatasetSource, overwrite: bool, resume: bool
) -> Path | Location:
    """``--out`` as a place, refused before any work if it must be (``pack.folder`` /
    ``remote_out``)."""
    root = source.root
    target = place(out_dir, parameter="out")
    if isinstance(target, Location):
        from norwoodkit.remote_out import check_pack

        check_pack(target, root, overwrite, resume)
    else:
        from norwoodkit.pack.folder import check_out

        check_out(target, root, overwrite, resume)
    return target


def _write_to(
    target: Path | Location,
    source: DatasetSource,
    overwrite: bool,
    resume: bool,
    write: Callable[[Path], Any],
) -> Any:
    """``write`` into the local folder, or into a staging folder uploaded to the URL."""
    if isinstance(target, Path):
        return write(target)
    from norwoodkit.remote_out import pack_to

    result = pack_to(target, source.root, overwrite, resume, write)
    result.url = target.url
    return result


def _read_inputs(splits_file: Path | None, exclude_list: Path | None) -> tuple[Any, Any]:
    """The split file and the exclude list, read before the probe; a split name the Hub
    rejects stops the run here."""
    from norwoodkit import split as splits
    from norwoodkit.pack.hub import name_splits

    assignments = splits.read_assignment(splits_file, "--splits") if splits_file else None
    if assignments is not None:
        name_splits(assignments.names, source=f"--splits {splits_file}")
    exclude = splits.read_exclude_list(exclude_list, "--exclude-from") if exclude_list else None
    return assignments, exclude


def _render(result: Any, json_output: bool) -> None:
    """The pack's result: the JSON document, or one line per split and a summary."""
    doc = result.to_dict()
    if json_output:
        print_json(doc)
        return
    for name, s in doc["splits"].items():
        out.print(f"{name}: {s['subjects']} subjects, {s['rows']} rows")
    out.print(
        f"wrote {doc['shards']} shards ({len(result.skipped)} kept from an earlier "
        f"run) to {doc['out']}; {len(doc['excluded'])} images left out (manifest.json, "
        "'excluded')"
    )


@handle_errors
def verify(
    out_dir: Annotated[
        PlaceText,
        typer.Argument(
            metavar="DIR|URL",
            parser=PlaceText,
            help="A `norwoodkit pack` folder, or its URL (s3://bucket/packs/x).",
        ),
    ],
    decode: Annotated[
        bool, typer.Option("--decode", help="Also decode every image (slower).")
    ] = False,
    junit: JunitOpt = None,
    sarif: SarifOpt = None,
    fmt: FormatOpt = Format.TEXT,
    min_severity: MinSeverityOpt = Severity.WARNING,
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Re-read every shard: hashes against manifest.json, rows, schema, every image's bytes.
    Exit 1 on any mismatch."""
    from norwoodkit.remote_out import local_pack

    reports = Reports(junit, sarif, fmt, min_severity, json_output)
    where = place(out_dir, parameter="out")
    # nothing is written into the pack: a report there could replace a shard
    reports.guard(where)
    with local_pack(where) as folder:  # a URL's pack is copied to a temporary folder
        report, gate, total = _verify_folder(folder, decode, quiet)
    reports.emit(gate)
    if json_output:
        print_json(report.to_dict())
    elif report.findings:
        render_findings(report, gate, reports, strict=False)
    else:
        out.print(
            f"OK: {where}: every shard matches manifest.json ({total} rows"
            + (", every image decoded)" if decode else ")")
        )
    raise typer.Exit(EXIT_OK if report.ok() else EXIT_FOUND)


def _verify_folder(folder: Path, decode: bool, quiet: bool) -> tuple[Any, Any, int]:
    """``pack.verify`` of a local pack folder: the report, its gate and the rows checked."""
    from norwoodkit import pack as packing
    from norwoodkit.findings import sort_findings
    from norwoodkit.reporting import verify_gate
    from norwoodkit.validate import Report

    total = packing.manifest_rows(folder)
    with progress_bar(total, "verifying", quiet) as prog:
        findings = packing.verify(folder, decode=decode, progress=prog)
    report = Report(findings=tuple(sort_findings(findings)), subjects=0, images=total)
    return report, verify_gate(report.findings, folder), total
