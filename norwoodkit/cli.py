"""The ``norwoodkit`` command: parse options, call one library function, render, pick the exit code.

Exit codes: 0 ran and found nothing wrong; 1 ran and found problems; 2 could not run (bad usage,
missing or unreadable input); 3 internal error (a bug: the traceback is printed).
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from norwoodkit import memory
from norwoodkit.dedupe import SENSIBLE_NEAR_MAX
from norwoodkit.errors import NorwoodkitError, ParameterError

app = typer.Typer(
    name="norwoodkit",
    help="Validate, deduplicate, describe, split and pack the Male Hair Loss dataset.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    rich_markup_mode="markdown",
)

out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True, soft_wrap=True)
log = logging.getLogger("norwoodkit")

EXIT_OK, EXIT_FOUND, EXIT_USAGE, EXIT_BUG = 0, 1, 2, 3

P = ParamSpec("P")
R = TypeVar("R")

# Shared options (aliases so every command spells them the same way).
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar on stderr.")]
WorkersOpt = Annotated[
    int | None, typer.Option("--workers", min=1, help="Worker processes (default: one per core).")
]
CacheOpt = Annotated[
    Path | None,
    typer.Option(
        "--cache",
        help="Probe cache folder (default: the user cache folder, or $NORWOODKIT_CACHE_DIR).",
        file_okay=False,
    ),
]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the cache.")]
RootArg = Annotated[
    Path, typer.Argument(metavar="ROOT", help="Dataset folder (annotation file + subject folders).")
]
AnnotationsOpt = Annotated[
    Path | None,
    typer.Option(
        "--annotations",
        "-a",
        help="Annotation file (default: annotation.json or the single .json/.csv at the root).",
    ),
]
FieldOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--field",
        "-f",
        help="Map a field: canonical=theirs, e.g. label=hair_grade or front=img_face. Repeatable.",
    ),
]


def _version_callback(value: bool) -> None:
    if value:
        from norwoodkit import __version__

        out.print(f"norwoodkit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Validate, deduplicate, describe, split and pack the Male Hair Loss dataset."""
    memory.use_system_allocator()
    if not any(isinstance(h, _StderrHandler) for h in log.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("warning: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.WARNING)


class _StderrHandler(logging.Handler):
    """Log records to whatever ``sys.stderr`` is now (test runners swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(self.format(record) + "\n")


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn library errors into exit 2 with ``error: ...`` and anything else into exit 3."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except NorwoodkitError as exc:
            message = _cli_message(exc)
            if kwargs.get("json_output"):
                out.print_json(data={"ok": False, "error": {"code": exc.code, "message": message}})
            # Text, not markup: a message may hold brackets ("pip install 'norwoodkit[report]'").
            err.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False)
            raise typer.Exit(EXIT_USAGE) from None
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None
        except Exception:
            traceback.print_exc(file=sys.stderr)
            err.print(
                "[bold red]internal error:[/] this is a bug in norwoodkit; please report "
                "it with the traceback above."
            )
            raise typer.Exit(EXIT_BUG) from None

    return wrapper


def flag(parameter: str) -> str:
    """The CLI flag of a library parameter: ``shard_size`` is ``--shard-size``."""
    return "--" + parameter.replace("_", "-")


def _cli_message(exc: NorwoodkitError) -> str:
    """A library error as the CLI says it: parameters named by their flags."""
    return exc.for_flag(flag(exc.parameter)) if isinstance(exc, ParameterError) else exc.message


@contextmanager
def progress_bar(total: int, label: str, quiet: bool) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr, only when stderr is a terminal and not ``--quiet``."""
    if quiet or not sys.stderr.isatty() or total == 0:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def _field_map(fields: list[str] | None) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for item in fields or []:
        canonical, sep, theirs = item.partition("=")
        if not sep or not canonical.strip() or not theirs.strip():
            raise NorwoodkitError(
                f"--field {item!r}: write canonical=theirs, e.g. label=hair_grade", code="usage"
            )
        mapping[canonical.strip()] = theirs.strip()
    return mapping


def _print_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def load_probed(
    root: Path,
    annotations: Path | None,
    fields: list[str] | None,
    cache: Path | None,
    no_cache: bool,
    workers: int | None,
    quiet: bool,
    thumbnails: bool = False,
) -> Any:
    """Load and probe a dataset with a progress bar: the first step of most commands."""
    from norwoodkit import dataset, probe

    ds = dataset.load(root, annotations=annotations, fields=_field_map(fields))
    memory.trim()  # loading's temporaries, before probing allocates its own
    n = int(ds.table["path"].notna().sum())
    with progress_bar(n, "probing images", quiet) as prog:
        probed = probe.run(
            ds,
            cache_dir=cache,
            use_cache=not no_cache,
            workers=workers,
            progress=prog,
            thumbnails=thumbnails,
        )
    memory.trim()
    return probed


# --------------------------------------------------------------------------- validate


@app.command()
@handle_errors
def validate(
    root: RootArg,
    annotations: AnnotationsOpt = None,
    field: FieldOpt = None,
    expect_subjects: Annotated[
        int | None,
        typer.Option("--expect-subjects", min=0, help="Number of subjects the delivery promises."),
    ] = None,
    expect_views: Annotated[
        int | None,
        typer.Option("--expect-views", min=0, help="Number of images the delivery promises."),
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail too (exit 1).")] = False,
    junit: Annotated[
        Path | None,
        typer.Option(
            "--junit", help="Also write JUnit XML here (one testcase per check and subject)."
        ),
    ] = None,
    json_output: JsonOpt = False,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    workers: WorkersOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Check that folder and annotation agree, every view is present and decodable, and labels
    and metadata are valid. Exit 0 clean, 1 problems found, 2 could not run."""
    from norwoodkit.atomic import check_output_path, write_text_atomic
    from norwoodkit.validate import ValidateOptions, junit_xml
    from norwoodkit.validate import validate as run_validate

    if junit is not None:
        check_output_path(junit, "--junit")
    ds = load_probed(root, annotations, field, cache, no_cache, workers, quiet)
    report = run_validate(
        ds, ValidateOptions(expect_subjects=expect_subjects, expect_views=expect_views)
    )
    if junit is not None:
        write_text_atomic(junit, junit_xml(report, ds.table["subject_id"].unique(), strict))
    if json_output:
        _print_json(report.to_dict(strict))
    else:
        _render_findings(report, strict)
    raise typer.Exit(EXIT_OK if report.ok(strict) else EXIT_FOUND)


def _render_findings(report: Any, strict: bool) -> None:
    colours = {"error": "red", "warning": "yellow", "info": "blue"}
    if report.findings:
        table = Table(show_lines=False, header_style="bold")
        for col in ("severity", "code", "subject", "message"):
            table.add_column(col, overflow="fold")
        for f in report.findings:
            sev = f.severity.value
            table.add_row(f"[{colours[sev]}]{sev}[/]", f.code, f.subject or "", f.message)
        out.print(table)
    counts = report.counts()
    verdict = "[green]OK[/]" if report.ok(strict) else "[red]FAILED[/]"
    out.print(
        f"{verdict}: {report.subjects} subjects, {report.images} images; "
        f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} info"
        + (" (--strict: warnings fail)" if strict else "")
    )


# --------------------------------------------------------------------------- dedupe


class _FailOn(StrEnum):
    cross_subject = "cross-subject"
    within_subject = "within-subject"
    any = "any"


@app.command()
@handle_errors
def dedupe(
    root: RootArg,
    same: Annotated[
        int,
        typer.Option(
            "--same",
            help="Largest phash distance (bits) for the 'same' tier: one photo re-encoded, "
            "resized or brightened.",
        ),
    ] = 4,
    near: Annotated[
        int, typer.Option("--near", help="Largest phash distance for the 'near' tier (review).")
    ] = 10,
    mirror: Annotated[
        bool,
        typer.Option(
            "--mirror", help="Also match horizontally flipped copies (reported as mirrored)."
        ),
    ] = False,
    pairs: Annotated[
        Path | None,
        typer.Option("--pairs", help="Write every pair here (.csv, .parquet or .json)."),
    ] = None,
    groups: Annotated[
        Path | None,
        typer.Option("--groups", help="Write every group member here (.csv, .parquet or .json)."),
    ] = None,
    exclude_list: Annotated[
        Path | None,
        typer.Option(
            "--exclude-list",
            help="Write the non-keepers here (.csv, .parquet or .json) for split and pack.",
        ),
    ] = None,
    fail_on: Annotated[
        _FailOn | None, typer.Option("--fail-on", help="Exit 1 when duplicates of this kind exist.")
    ] = None,
    calibrate: Annotated[
        bool,
        typer.Option("--calibrate", help="Also print distance histograms to choose thresholds."),
    ] = False,
    annotations: AnnotationsOpt = None,
    field: FieldOpt = None,
    json_output: JsonOpt = False,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    workers: WorkersOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Find exact and near-duplicate images, above all across people (leakage). Never changes
    an image."""
    from norwoodkit.atomic import check_table_path, write_table_atomic
    from norwoodkit.dedupe import DedupeOptions, FailOn, find
    from norwoodkit.dedupe import calibrate as run_calibrate

    opts = DedupeOptions(same=same, near=near, mirror=mirror)
    outputs = {"--pairs": pairs, "--groups": groups, "--exclude-list": exclude_list}
    for option, path in outputs.items():
        if path is not None:
            check_table_path(path, option)
    if near > SENSIBLE_NEAR_MAX:
        log.warning(
            "--near %d: unrelated photos start to match above about %d bits; expect "
            "many false pairs",
            near,
            SENSIBLE_NEAR_MAX,
        )
    ds = load_probed(root, annotations, field, cache, no_cache, workers, quiet)
    result = find(ds, opts)
    if pairs is not None:
        write_table_atomic(result.pairs, pairs)
    if groups is not None:
        write_table_atomic(result.groups, groups)
    if exclude_list is not None:
        write_table_atomic(result.exclude_list(), exclude_list)
    doc = result.to_dict()
    if calibrate:
        doc["calibration"] = run_calibrate(ds)
    if json_output:
        _print_json(doc)
    else:
        _render_dedupe(result, doc.get("calibration"))
    failing = result.failing(FailOn(fail_on.value)) if fail_on is not None else None
    raise typer.Exit(EXIT_FOUND if failing is not None and len(failing) else EXIT_OK)


def _render_dedupe(result: Any, calibration: dict[str, Any] | None) -> None:
    summary = result.group_summary()
    if len(summary):
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


# --------------------------------------------------------------------------- split


def _csv_list(value: str | None, option: str) -> list[str] | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",")]
    if not all(items):
        raise NorwoodkitError(
            f"{option} {value!r}: an empty item; write e.g. 70,15,15", code="usage"
        )
    return items


@app.command()
@handle_errors
def split(
    root: RootArg,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Write one row per subject here (.csv, .json or .parquet)."),
    ] = None,
    ratios: Annotated[
        str | None,
        typer.Option(
            "--ratios", help="Split shares in percent or fractions, e.g. 70,15,15 (default)."
        ),
    ] = None,
    names: Annotated[
        str | None,
        typer.Option(
            "--names", help="Split names, e.g. train,val,test (default for three ratios)."
        ),
    ] = None,
    folds: Annotated[
        int | None,
        typer.Option(
            "--folds", help="k folds instead of ratios: every subject in exactly one test fold."
        ),
    ] = None,
    stratify: Annotated[
        str,
        typer.Option("--stratify", help="Columns to balance, e.g. stage,age_bin,ethnicity,gender."),
    ] = "stage,age_bin",
    seed: Annotated[int, typer.Option("--seed", help="Same dataset and seed, same file.")] = 0,
    dedupe_file: Annotated[
        Path | None,
        typer.Option(
            "--dedupe",
            help="Pairs or groups file from `norwoodkit dedupe` (default: find "
            "duplicates now from the probe cache).",
        ),
    ] = None,
    exclude_list: Annotated[
        Path | None,
        typer.Option("--exclude-list", help="Images or subjects to leave out first (from dedupe)."),
    ] = None,
    images: Annotated[
        Path | None, typer.Option("--images", help="Also write one row per image here.")
    ] = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="Exit 1 when the split sizes or the stage bound are not met."
        ),
    ] = False,
    check: Annotated[
        Path | None,
        typer.Option(
            "--check", help="Audit this split file instead of making one (exit 1 on leakage)."
        ),
    ] = None,
    annotations: AnnotationsOpt = None,
    field: FieldOpt = None,
    json_output: JsonOpt = False,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    workers: WorkersOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Make subject-level, stratified, leak-free train/val/test or k-fold splits, or audit one
    (--check)."""
    from norwoodkit import split as splits
    from norwoodkit.atomic import check_table_path, write_table_atomic

    if check is not None:
        split_file = splits.read_split_file(check, "--check")
        ds = load_probed(root, annotations, field, cache, no_cache, workers, quiet)
        dup = splits.duplicate_pairs_from_file(dedupe_file, "--dedupe") if dedupe_file else None
        report = _findings_report(splits.check(ds, split_file, dup), ds)
        if json_output:
            _print_json(report.to_dict())
        else:
            _render_findings(report, strict=False)
        raise typer.Exit(EXIT_OK if report.ok() else EXIT_FOUND)
    if out_file is None:
        raise NorwoodkitError("split needs --out FILE (or --check FILE to audit one)", code="usage")
    spec = splits.SplitSpec.parse(ratios, names, folds, stratify, seed)
    for option, path in (("--out", out_file), ("--images", images)):
        if path is not None:
            check_table_path(path, option)
    exclude = splits.read_table(exclude_list, "--exclude-list") if exclude_list else None
    dup = splits.duplicate_pairs_from_file(dedupe_file, "--dedupe") if dedupe_file else None
    ds = load_probed(root, annotations, field, cache, no_cache, workers, quiet)
    result = splits.make(ds, spec, duplicates=dup, exclude=exclude)
    write_table_atomic(result.subject_table(), out_file)
    if images is not None:
        write_table_atomic(result.image_table(), images)
    if json_output:
        _print_json(result.to_dict())
    else:
        _render_split(result)
    raise typer.Exit(EXIT_FOUND if strict and not result.meets_targets() else EXIT_OK)


def _findings_report(findings: list[Any], ds: Any) -> Any:
    from norwoodkit.validate import Report

    return Report(
        findings=tuple(findings),
        subjects=int(ds.table["subject_id"].nunique()),
        images=int(ds.table["path"].notna().sum()),
    )


def _render_split(result: Any) -> None:
    q = result.quality
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
    if result.merged_groups:
        out.print(
            f"{result.merged_groups} groups of subjects who share a duplicate photo were "
            "kept together"
        )
    for r in result.excluded.itertuples(index=False):
        out.print(f"[yellow]excluded:[/] subject {r.subject_id} ({r.reason})")


# --------------------------------------------------------------------------- pack, verify


class _Layout(StrEnum):
    image = "image"
    subject = "subject"


@app.command()
@handle_errors
def pack(
    root: RootArg,
    out_dir: Annotated[
        Path,
        typer.Option("--out", help="Output folder for the shards, manifest.json and README.md."),
    ],
    splits_file: Annotated[
        Path | None,
        typer.Option(
            "--splits", help="Split file from `norwoodkit split` (default: one all/ folder)."
        ),
    ] = None,
    layout: Annotated[
        _Layout,
        typer.Option(
            "--layout",
            help="image: one row per image; subject: one row per subject, five image columns.",
        ),
    ] = _Layout.image,
    shard_size: Annotated[
        str,
        typer.Option(
            "--shard-size", help="Target shard size, e.g. 128MiB (64-256 MB suits training)."
        ),
    ] = "128MiB",
    rows_per_group: Annotated[
        int,
        typer.Option(
            "--rows-per-group", help="Rows per row group (whole subjects; 20 = 4 subjects)."
        ),
    ] = 20,
    seed: Annotated[int, typer.Option("--seed", help="Shuffles subjects before writing.")] = 0,
    resize: Annotated[
        int | None,
        typer.Option(
            "--resize", help="Store copies re-encoded with this short side (EXIF applied)."
        ),
    ] = None,
    quality: Annotated[
        int, typer.Option("--quality", help="JPEG quality of --resize copies.")
    ] = 90,
    exclude_list: Annotated[
        Path | None,
        typer.Option("--exclude-list", help="Images or subjects to leave out (from dedupe)."),
    ] = None,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Replace earlier shards in --out (other files stay)."),
    ] = False,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Keep complete, identical shards of an interrupted run."),
    ] = False,
    annotations: AnnotationsOpt = None,
    field: FieldOpt = None,
    json_output: JsonOpt = False,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    workers: WorkersOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Write Parquet shards for fast training input (readable by datasets, pyarrow, DuckDB),
    with manifest.json and a README.md dataset card."""
    from norwoodkit import pack as packing
    from norwoodkit import split as splits

    opts = packing.PackOptions(
        layout=packing.Layout(layout.value),
        shard_size=packing.parse_size(shard_size),
        rows_per_group=rows_per_group,
        seed=seed,
        resize=resize,
        quality=quality,
        workers=workers,
    )
    assignments = splits.read_assignment(splits_file, "--splits") if splits_file else None
    exclude = splits.read_table(exclude_list, "--exclude-list") if exclude_list else None
    ds = load_probed(root, annotations, field, cache, no_cache, workers, quiet)
    ds = packing.pack_input(ds)  # the only reference: the other columns are freed here
    memory.trim()
    n = int(ds.table["path"].notna().sum())
    with progress_bar(n, "packing", quiet) as prog:
        result = packing.write(
            ds,
            out_dir,
            opts,
            splits=assignments,
            exclude=exclude,
            overwrite=overwrite,
            resume=resume,
            progress=prog,
        )
    if json_output:
        _print_json(result.to_dict())
    else:
        doc = result.to_dict()
        for name, s in doc["splits"].items():
            out.print(f"{name}: {s['subjects']} subjects, {s['rows']} rows")
        out.print(
            f"wrote {doc['shards']} shards ({len(result.skipped)} kept from an earlier "
            f"run) to {result.out}; {len(doc['excluded'])} images left out (manifest.json, "
            "'excluded')"
        )


@app.command()
@handle_errors
def verify(
    out_dir: Annotated[Path, typer.Argument(metavar="DIR", help="A `norwoodkit pack` folder.")],
    decode: Annotated[
        bool, typer.Option("--decode", help="Also decode every image (slower).")
    ] = False,
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Re-read every shard: hashes against manifest.json, rows, schema, every image's bytes.
    Exit 1 on any mismatch."""
    import json as _json

    from norwoodkit import pack as packing

    manifest = out_dir / packing.MANIFEST
    total = 0
    if manifest.is_file():
        try:
            total = int(_json.loads(manifest.read_text())["rows"])
        except (ValueError, KeyError, TypeError):
            total = 0
    with progress_bar(total, "verifying", quiet) as prog:
        findings = packing.verify(out_dir, decode=decode, progress=prog)
    from norwoodkit.findings import sort_findings
    from norwoodkit.validate import Report

    report = Report(findings=tuple(sort_findings(findings)), subjects=0, images=total)
    if json_output:
        _print_json(report.to_dict())
    elif report.findings:
        _render_findings(report, strict=False)
    else:
        out.print(
            f"OK: {out_dir}: every shard matches manifest.json ({total} rows"
            + (", every image decoded)" if decode else ")")
        )
    raise typer.Exit(EXIT_OK if report.ok() else EXIT_FOUND)


# --------------------------------------------------------------------------- stats


@app.command()
@handle_errors
def stats(
    root: RootArg,
    folds: Annotated[
        int,
        typer.Option(
            "--folds", min=2, help="Flag stages with fewer subjects than this many folds."
        ),
    ] = 5,
    age_bins: Annotated[
        str,
        typer.Option("--age-bins", help="Age bins in whole years, both ends inclusive."),
    ] = "18-29,30-39,40-49,50-59,60-80",
    markdown: Annotated[
        Path | None,
        typer.Option("--markdown", help="Also write every table as one Markdown document here."),
    ] = None,
    csv_dir: Annotated[
        Path | None,
        typer.Option(
            "--csv", help="Also write one CSV per table into this folder (made if missing)."
        ),
    ] = None,
    annotations: AnnotationsOpt = None,
    field: FieldOpt = None,
    json_output: JsonOpt = False,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    workers: WorkersOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Describe the dataset: stages, ages, gender, ethnicity, cross-tabs and image sizes per
    view. Reads the probe cache; no image is decoded again."""
    from norwoodkit.atomic import check_output_path
    from norwoodkit.stats import check_output_dir, parse_age_bins, summarize

    bins = parse_age_bins(age_bins)
    if markdown is not None:
        check_output_path(markdown, "--markdown")
    if csv_dir is not None:
        check_output_dir(csv_dir, "--csv")
    ds = load_probed(root, annotations, field, cache, no_cache, workers, quiet)
    summary = summarize(ds, folds=folds, age_bins=bins)
    if markdown is not None:
        summary.write_markdown(markdown)
    if csv_dir is not None:
        summary.write_csv_dir(csv_dir)
    if json_output:
        _print_json(summary.to_dict())
    else:
        for table in summary.rich_tables():
            out.print(table)


# --------------------------------------------------------------------------- report


@app.command()
@handle_errors
def report(
    root: RootArg,
    out_file: Annotated[
        Path, typer.Option("--out", "-o", help="HTML file to write (replaced if it exists).")
    ],
    plots: Annotated[
        Path | None,
        typer.Option("--plots", help="Also write the plots as PNG files into this folder."),
    ] = None,
    with_dedupe: Annotated[
        bool,
        typer.Option("--dedupe/--no-dedupe", help="Show duplicate pairs side by side."),
    ] = True,
    splits: Annotated[
        Path | None,
        typer.Option(
            "--splits",
            help="Split table (subject_id, split; .csv, .parquet or .json): show each "
            "split's stage and age balance.",
        ),
    ] = None,
    annotations: AnnotationsOpt = None,
    field: FieldOpt = None,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    workers: WorkersOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Write one self-contained HTML report: stats and plots, a contact sheet per stage and
    view, validation findings, duplicates and split balance. Needs matplotlib (report extra)."""
    from norwoodkit import report as html_report
    from norwoodkit.atomic import check_output_path
    from norwoodkit.dedupe import find
    from norwoodkit.stats import check_output_dir
    from norwoodkit.validate import validate as run_validate

    html_report.require_matplotlib()
    check_output_path(out_file, "--out")
    if plots is not None:
        check_output_dir(plots, "--plots")
    split_table = html_report.read_splits(splits) if splits is not None else None
    ds = load_probed(root, annotations, field, cache, no_cache, workers, quiet, thumbnails=True)
    findings = run_validate(ds)
    text = html_report.build(
        ds,
        findings=findings,
        dedupe=find(ds) if with_dedupe else None,
        splits=split_table,
        plots_dir=plots,
    )
    html_report.write(out_file, text)
    counts = findings.counts()
    out.print(
        f"wrote {out_file} ({len(text) // 1024:,} KiB): {findings.subjects} subjects, "
        f"{findings.images} images; {counts['error']} errors, {counts['warning']} warnings"
    )


# --------------------------------------------------------------------------- bench-load


class _Decode(StrEnum):
    cpu = "cpu"
    cuda = "cuda"


def _int_list(value: str, option: str) -> list[int]:
    items = _csv_list(value, option) or []
    if not all(v.isdigit() for v in items):
        raise NorwoodkitError(f"{option} {value!r}: write whole numbers, e.g. 0,2,8", code="usage")
    return [int(v) for v in items]


@app.command("bench-load")
@handle_errors
def bench_load(
    out_dir: Annotated[Path, typer.Argument(metavar="DIR", help="A `norwoodkit pack` folder.")],
    split: Annotated[str, typer.Option("--split", help="The split to read.")] = "train",
    workers: Annotated[
        str, typer.Option("--workers", help="DataLoader worker counts to try, e.g. 0,2,8.")
    ] = "0,2",
    batch_sizes: Annotated[
        str, typer.Option("--batch-sizes", help="Batch sizes to try, e.g. 32,128.")
    ] = "32,128",
    seconds: Annotated[
        float, typer.Option("--seconds", min=0.1, help="Reading time per combination.")
    ] = 5.0,
    size: Annotated[
        int, typer.Option("--size", min=1, help="Output side in pixels (square crop).")
    ] = 224,
    decode: Annotated[
        _Decode,
        typer.Option("--decode", help="cpu: Pillow in the workers; cuda: nvJPEG on the GPU."),
    ] = _Decode.cpu,
    json_output: JsonOpt = False,
) -> None:
    """Measure the PyTorch loader on shards: images/s and MB/s for each worker count and
    batch size (needs PyTorch: `pip install 'norwoodkit[torch]'`)."""
    from norwoodkit.loader import bench_load as measure

    rows = measure(
        out_dir,
        split,
        workers=_int_list(workers, "--workers"),
        batch_sizes=_int_list(batch_sizes, "--batch-sizes"),
        seconds=seconds,
        size=size,
        decode=decode.value,
    )
    if json_output:
        _print_json(rows)
        return
    table = Table("workers", "batch size", "images", "seconds", "images/s", "MB/s")
    for r in rows:
        table.add_row(
            str(r["workers"]),
            str(r["batch_size"]),
            str(r["images"]),
            f"{r['seconds']:.1f}",
            f"{r['images_per_s']:,.0f}",
            f"{r['mb_per_s']:,.1f}",
        )
    out.print(table)


# --------------------------------------------------------------------------- sample


@app.command()
@handle_errors
def sample(
    out_dir: Annotated[Path, typer.Argument(metavar="OUT", help="Folder to create.")],
    subjects: Annotated[int, typer.Option("--subjects", min=1, help="Number of people.")] = 480,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same bytes.")] = 0,
    size: Annotated[
        str,
        typer.Option(
            "--size", help="tiny, small (640x480), medium, large/12mp (4000x3000) or WxH."
        ),
    ] = "small",
    quality: Annotated[int, typer.Option("--quality", min=1, max=100, help="JPEG quality.")] = 90,
    defects: Annotated[
        bool,
        typer.Option(
            "--defects", help="Plant every defect validate checks for; list them in defects.json."
        ),
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace OUT if it is an earlier norwoodkit sample.")
    ] = False,
    json_output: JsonOpt = False,
    workers: WorkersOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Write a realistic synthetic dataset in the vendor's layout (five JPEG views per person
    and annotation.json)."""
    from norwoodkit.sample import SampleOptions, write

    opts = SampleOptions(
        subjects=subjects, seed=seed, size=size, quality=quality, defects=defects, workers=workers
    )
    with progress_bar(subjects * 5, "rendering photos", quiet) as prog:
        result = write(out_dir, opts, overwrite=overwrite, progress=prog)
    if json_output:
        _print_json(result.to_dict())
    else:
        out.print(
            f"wrote {result.images} images of {result.subjects} subjects to {result.root}"
            + (
                f"; {len(result.defects)} planted defects listed in {result.root / 'defects.json'}"
                if defects
                else ""
            )
        )


def main() -> None:
    """Console-script entry point."""
    app()
