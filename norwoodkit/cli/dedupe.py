"""``norwoodkit dedupe``: exact and near-duplicate images, above all across people."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from norwoodkit.cli.app import EXIT_FOUND, EXIT_OK, handle_errors, out, print_json
from norwoodkit.cli.gates import Format, FormatOpt, JunitOpt, Reports, SarifOpt
from norwoodkit.cli.options import (
    JsonOpt,
    PlaceText,
    QuietOpt,
    guard,
    load_probed,
    output_place,
    reads_dataset,
)
from norwoodkit.dedupe import FailOn
from norwoodkit.source import DatasetSource
from norwoodkit.storage import Location

SameOpt = Annotated[
    int,
    typer.Option(
        "--same",
        metavar="N",
        help="Largest phash distance (bits) for the 'same' tier: one photo re-encoded, "
        "resized or brightened.",
    ),
]
NearOpt = Annotated[
    int,
    typer.Option(
        "--near", metavar="N", help="Largest phash distance for the 'near' tier (review)."
    ),
]
MirrorOpt = Annotated[
    bool,
    typer.Option("--mirror", help="Also match horizontally flipped copies (reported as mirrored)."),
]
PairsOpt = Annotated[
    PlaceText | None,
    typer.Option(
        "--pairs",
        metavar="FILE|URL",
        parser=PlaceText,
        help="Write every pair here (.csv, .parquet or .json; a file or a URL).",
    ),
]
GroupsOpt = Annotated[
    PlaceText | None,
    typer.Option(
        "--groups",
        metavar="FILE|URL",
        parser=PlaceText,
        help="Write every group member here (.csv, .parquet or .json; a file or a URL).",
    ),
]
ExcludeOutOpt = Annotated[
    PlaceText | None,
    typer.Option(
        "--exclude-list",
        metavar="FILE|URL",
        parser=PlaceText,
        help="Write the non-keepers here (.csv, .parquet or .json; a file or a URL) for split "
        "and pack.",
    ),
]
FailOnOpt = Annotated[
    FailOn | None, typer.Option("--fail-on", help="Exit 1 when duplicates of this kind exist.")
]
CalibrateOpt = Annotated[
    bool, typer.Option("--calibrate", help="Also print distance histograms to choose thresholds.")
]


@handle_errors
@reads_dataset
def dedupe(
    source: DatasetSource,
    same: SameOpt = 4,
    near: NearOpt = 10,
    mirror: MirrorOpt = False,
    pairs: PairsOpt = None,
    groups: GroupsOpt = None,
    exclude_list: ExcludeOutOpt = None,
    fail_on: FailOnOpt = None,
    calibrate: CalibrateOpt = False,
    junit: JunitOpt = None,
    sarif: SarifOpt = None,
    fmt: FormatOpt = Format.TEXT,
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Find exact and near-duplicate images, above all across people (leakage). Never changes
    an image."""
    from norwoodkit.atomic import write_table_atomic
    from norwoodkit.dedupe import DedupeOptions, find
    from norwoodkit.dedupe import calibrate as run_calibrate
    from norwoodkit.dedupe.duplicates import PROBE_READS
    from norwoodkit.remote_out import staged
    from norwoodkit.reporting import dedupe_gate

    opts = DedupeOptions(same=same, near=near, mirror=mirror)
    reports = Reports(junit, sarif, fmt, json_output=json_output)
    reports.guard(source.root, (source.annotations,))
    places = _table_places({"pairs": pairs, "groups": groups, "exclude_list": exclude_list})
    for parameter, where in places.items():
        guard(source, where, parameter)
    ds = load_probed(source, quiet, columns=PROBE_READS)
    result = find(ds, opts, engine=source.engine)
    tables = {"pairs": result.pairs, "groups": result.groups}
    for parameter, where in places.items():
        table = tables[parameter] if parameter in tables else result.exclude_list()
        with staged(where, "file") as local:  # a URL: written here, then uploaded whole
            write_table_atomic(table, local)
    reports.emit(dedupe_gate(result, ds.table["subject_id"].unique(), source.root, fail_on))
    doc = result.to_dict()
    if calibrate:
        doc["calibration"] = run_calibrate(ds)
    if json_output:
        print_json(doc)
    else:
        _render_dedupe(result, doc.get("calibration"))
    failing = result.failing(fail_on) if fail_on is not None else None
    raise typer.Exit(EXIT_FOUND if failing is not None and len(failing) else EXIT_OK)


def _render_dedupe(result: Any, calibration: dict[str, Any] | None) -> None:
    summary = result.group_summary()
    if len(summary):
        from rich.table import Table  # only a table on the terminal needs Rich

        table = Table(header_style="bold")
        for col in ("group", "tier", "kind", "subjects", "max dist", "keeper", "others"):
            table.add_column(col, overflow="fold")
        members = result.groups.groupby("group")
        for row in summary.itertuples(index=False):
            others = [
                str(p)
                for p, k in zip(
                    members.get_group(row.group)["path"],
                    members.get_group(row.group)["keeper"],
                    strict=True,
                )
                if not k
            ]
            kind = ("[red]" if row.kind == "cross-subject" else "[yellow]") + row.kind + "[/]"
            tier = (
                row.tier
                + (" (mirror)" if row.mirrored else "")
                + (" (split chain)" if row.split_from_chain else "")
            )
            table.add_row(
                str(row.group),
                tier,
                kind,
                row.subjects,
                str(row.max_distance),
                row.keeper,
                "\n".join(others),
            )
        out.print(table)
    for r in result.not_compared.itertuples(index=False):
        out.print(f"[yellow]not compared:[/] {r.path} ({r.reason})")
    c = result.counts()
    by = ", ".join(f"{v} {k}" for k, v in sorted(c["pairs_by_kind_and_tier"].items())) or "none"
    out.print(
        f"{c['images']} images, {c['compared']} compared by phash, {c['not_compared']} not "
        f"compared; {c['groups']} groups; pairs: {by}"
    )
    if calibration:
        from rich.table import Table  # only a table on the terminal needs Rich

        t = Table(title="phash distances (bits)", header_style="bold")
        for col in ("pairs of", "count", "min", "0.1 %", "1 %", "median"):
            t.add_column(col)
        for name, h in calibration.items():
            t.add_row(
                name.replace("_", " "),
                str(h["pairs"]),
                *(str(h.get(k, "-")) for k in ("min", "p0.1", "p1", "p50")),
            )
        out.print(t)
        out.print("Pick --near below the 0.1 % figure of both rows to keep false pairs rare.")


def _table_places(given: dict[str, str | None]) -> dict[str, Path | Location]:
    """The table outputs asked for, as places, each with a suffix that names its format."""
    from norwoodkit.atomic import check_table_suffix

    places: dict[str, Path | Location] = {}
    for parameter, text in given.items():
        where = output_place(text, parameter)
        if where is not None:
            check_table_suffix(where, parameter)
            places[parameter] = where
    return places
