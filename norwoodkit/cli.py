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
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from norwoodkit.errors import NorwoodkitError

app = typer.Typer(
    name="norwoodkit",
    help="Validate, deduplicate, describe, split and pack the Male Hair Loss dataset.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)

out = Console(soft_wrap=True)
err = Console(stderr=True)
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
    if not logging.getLogger().handlers and not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("warning: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.WARNING)


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn library errors into exit 2 with ``error: ...`` and anything else into exit 3."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except NorwoodkitError as exc:
            if kwargs.get("json_output"):
                out.print_json(
                    data={"ok": False, "error": {"code": exc.code, "message": exc.message}}
                )
            err.print(f"[bold red]error:[/] {exc.message}", highlight=False, markup=True)
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
) -> Any:
    """Load and probe a dataset with a progress bar: the first step of most commands."""
    from norwoodkit import dataset, probe

    ds = dataset.load(root, annotations=annotations, fields=_field_map(fields))
    n = int(ds.table["path"].notna().sum())
    with progress_bar(n, "probing images", quiet) as prog:
        return probe.run(
            ds, cache_dir=cache, use_cache=not no_cache, workers=workers, progress=prog
        )


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
