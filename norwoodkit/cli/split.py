"""``norwoodkit split``: subject-level, stratified, leak-free splits, or audit one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from norwoodkit.cli.app import EXIT_FOUND, EXIT_OK, err, handle_errors, out, print_json
from norwoodkit.cli.gates import Format, FormatOpt, JunitOpt, MinSeverityOpt, Reports, SarifOpt
from norwoodkit.cli.options import (
    JsonOpt,
    PlaceText,
    QuietOpt,
    guard,
    load_probed,
    output_place,
    reads_dataset,
)
from norwoodkit.cli.validate import render_findings
from norwoodkit.errors import NorwoodkitError
from norwoodkit.findings import Severity
from norwoodkit.source import DatasetSource
from norwoodkit.storage import Location

OutFileOpt = Annotated[
    PlaceText | None,
    typer.Option(
        "--out",
        "-o",
        metavar="FILE|URL",
        parser=PlaceText,
        help="Write one row per subject here (.csv, .json or .parquet; a file or a URL).",
    ),
]
RatiosOpt = Annotated[
    str | None,
    typer.Option(
        "--ratios",
        metavar="R,R,...",
        help="Split shares in percent or fractions, e.g. 70,15,15 (default).",
    ),
]
NamesOpt = Annotated[
    str | None,
    typer.Option(
        "--names",
        metavar="N,N,...",
        help="Split names, e.g. train,val,test (default for three ratios).",
    ),
]
FoldsOpt = Annotated[
    int | None,
    typer.Option(
        "--folds",
        metavar="K",
        help="k folds instead of ratios: every subject in exactly one test fold.",
    ),
]
StratifyOpt = Annotated[
    str,
    typer.Option(
        "--stratify",
        metavar="C,C,...",
        help="Columns to balance, e.g. stage,age_bin,ethnicity,gender.",
    ),
]
SeedOpt = Annotated[
    int, typer.Option("--seed", metavar="N", help="Same dataset and seed, same file.")
]
PairsFromOpt = Annotated[
    Path | None,
    typer.Option(
        "--pairs-from",
        metavar="FILE",
        help="Pairs or groups file from `norwoodkit dedupe` (default: find "
        "duplicates now from the probe cache).",
    ),
]
ExcludeFromOpt = Annotated[
    Path | None,
    typer.Option(
        "--exclude-from",
        metavar="FILE",
        help="Images or subjects to leave out first (dedupe writes this list).",
    ),
]
ImagesOpt = Annotated[
    PlaceText | None,
    typer.Option(
        "--images",
        metavar="FILE|URL",
        parser=PlaceText,
        help="Also write one row per image here (a file or a URL).",
    ),
]
StrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Refuse (exit 2) a stage with fewer subjects than splits instead of merging it "
        "with a neighbour; exit 1 when the split sizes or the stage bound are not met.",
    ),
]
CheckOpt = Annotated[
    Path | None,
    typer.Option(
        "--check",
        metavar="FILE",
        help="Audit this split file instead of making one (exit 1 on leakage).",
    ),
]


@handle_errors
@reads_dataset
def split(
    source: DatasetSource,
    out_file: OutFileOpt = None,
    ratios: RatiosOpt = None,
    names: NamesOpt = None,
    folds: FoldsOpt = None,
    stratify: StratifyOpt = "stage,age_bin",
    seed: SeedOpt = 0,
    dedupe_file: PairsFromOpt = None,
    exclude_list: ExcludeFromOpt = None,
    images: ImagesOpt = None,
    strict: StrictOpt = False,
    check: CheckOpt = None,
    junit: JunitOpt = None,
    sarif: SarifOpt = None,
    fmt: FormatOpt = Format.TEXT,
    min_severity: MinSeverityOpt = Severity.WARNING,
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Make subject-level, stratified, leak-free train/val/test or k-fold splits, or audit one
    (--check)."""
    from norwoodkit import split as splits
    from norwoodkit.atomic import check_table_suffix
    from norwoodkit.reporting import split_targets_gate

    reports = Reports(junit, sarif, fmt, min_severity, json_output)
    reports.guard(source.root, (source.annotations, dedupe_file, exclude_list, check))
    if check is not None:
        _audit(source, check, dedupe_file, reports, quiet)
    if out_file is None and not json_output:
        raise NorwoodkitError(
            "split needs --out FILE or --json to print the split (or --check FILE to audit one)",
            code="usage",
        )
    spec = splits.SplitSpec.parse(ratios, names, folds, stratify, seed)
    places = {"out": output_place(out_file, "out"), "images": output_place(images, "images")}
    for parameter, path in places.items():
        guard(source, path, parameter, inputs=(dedupe_file, exclude_list, check))
        if path is not None:
            check_table_suffix(path, parameter)
    exclude = splits.read_exclude_list(exclude_list, "--exclude-from") if exclude_list else None
    dup = splits.duplicate_pairs_from_file(dedupe_file, "--pairs-from") if dedupe_file else None
    ds = load_probed(source, quiet)
    result = splits.make(ds, spec, duplicates=dup, exclude=exclude, strict=strict)
    _explain_merges(result)
    _write_tables(result, places)
    reports.emit(split_targets_gate(result, source.root, strict))
    if json_output:
        print_json({**result.to_dict(), "assignment": _assignment(result)})
    else:
        _render_split(result)
    raise typer.Exit(EXIT_FOUND if strict and not result.meets_targets() else EXIT_OK)


def _write_tables(result: Any, places: dict[str, Path | Location | None]) -> None:
    """The split file (``--out``) and the image table (``--images``), where asked for."""
    from norwoodkit.atomic import write_table_atomic
    from norwoodkit.remote_out import staged

    for parameter, table in (("out", result.subject_table), ("images", result.image_table)):
        where = places[parameter]
        if where is not None:
            with staged(where, "file") as local:
                write_table_atomic(table(), local)


def _audit(
    source: DatasetSource, check: Path, dedupe_file: Path | None, reports: Reports, quiet: bool
) -> None:
    """``split --check``: audit a split file; exit 1 on leakage or an error finding."""
    from norwoodkit import split as splits
    from norwoodkit.reporting import audit_gate
    from norwoodkit.validate import Report

    split_file = splits.read_split_file(check, "--check")
    ds = load_probed(source, quiet)
    dup = splits.duplicate_pairs_from_file(dedupe_file, "--pairs-from") if dedupe_file else None
    report = Report.about(ds, splits.check(ds, split_file, dup))
    gate = audit_gate(report, ds.table["subject_id"].unique(), source.root, check)
    reports.emit(gate)
    if reports.json_output:
        print_json(report.to_dict())
    else:
        render_findings(report, gate, reports, strict=False)
    raise typer.Exit(EXIT_OK if report.ok() else EXIT_FOUND)


def _explain_merges(result: Any) -> None:
    """One line on stderr per merged stratum: which strata, why, how many subjects."""
    for merge in result.strata_merges:
        err.print(f"note: {merge.explain()}", markup=False, highlight=False)


def _assignment(result: Any) -> list[dict[str, Any]]:
    """The ``--out`` rows for the ``--json`` document: one per subject."""
    from norwoodkit.columns import plain

    rows = result.subject_table().to_dict(orient="records")
    return [{str(k): plain(v) for k, v in row.items()} for row in rows]


def _render_split(result: Any) -> None:
    q = result.quality
    from rich.table import Table  # only a table on the terminal needs Rich

    table = Table(header_style="bold")
    for col in (
        "split",
        "subjects",
        "groups",
        "share",
        "target",
        "size dev pp",
        "max stage dev pp",
        "max age-bin dev pp",
    ):
        table.add_column(col, justify="right" if col != "split" else "left")
    for name, r in q.per_split.iterrows():
        table.add_row(
            str(name),
            str(int(r["subjects"])),
            str(int(r["groups"])),
            f"{r['share']:.3f}",
            f"{r['target_share']:.3f}",
            f"{r['size_dev_pp']:.2f}",
            f"{r['max_stage_dev_pp']:.2f}",
            f"{r['max_age_dev_pp']:.2f}",
        )
    out.print(table)
    got = [int(x) for x in q.per_split["subjects"]]
    sizes = "as asked" if result.sizes_met() else f"OFF: {got} vs {list(result.target_sizes())}"
    out.print(
        f"max stage deviation {q.max_stage_dev_pp:.2f} pp (rounding bound "
        f"{q.stage_bound_pp:.2f}); max age-bin deviation {q.max_age_dev_pp:.2f} pp (bound "
        f"{q.age_bound_pp:.2f}); sizes {sizes}"
    )
    if result.strata_merges:
        merged = "; ".join(m.title for m in result.strata_merges)
        out.print(f"balanced on merged strata: {merged}", markup=False)
    if result.merged_groups:
        out.print(
            f"{result.merged_groups} groups of subjects who share a duplicate photo were "
            "kept together"
        )
    for r in result.excluded.itertuples(index=False):
        out.print(f"[yellow]excluded:[/] subject {r.subject_id} ({r.reason})")
