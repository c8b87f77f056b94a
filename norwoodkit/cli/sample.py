"""``norwoodkit sample``: a synthetic dataset in the vendor's layout."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from norwoodkit.cli.app import handle_errors, out, print_json, progress_bar
from norwoodkit.cli.options import JsonOpt, QuietOpt, WorkersOpt


@handle_errors
def sample(
    out_dir: Annotated[Path, typer.Argument(metavar="OUT", help="Folder to create.")],
    subjects: Annotated[
        int, typer.Option("--subjects", metavar="N", min=1, help="Number of people.")
    ] = 480,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="Same seed, same bytes.")] = 0,
    size: Annotated[
        str,
        typer.Option(
            "--size",
            metavar="SIZE",
            help="tiny, small (640x480), medium, large/12mp (4000x3000) or WxH.",
        ),
    ] = "small",
    quality: Annotated[
        int, typer.Option("--quality", metavar="Q", min=1, max=100, help="JPEG quality.")
    ] = 90,
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
    from norwoodkit.errors import OutputError
    from norwoodkit.sample import SampleOptions, write

    opts = SampleOptions(
        subjects=subjects, seed=seed, size=size, quality=quality, defects=defects, workers=workers
    )
    try:
        with progress_bar(subjects * 5, "rendering photos", quiet) as prog:
            result = write(out_dir, opts, overwrite=overwrite, progress=prog)
    except OutputError as exc:
        if exc.parameter != "out":
            raise
        # The library's ``out`` is this command's OUT argument, not an --out option.
        raise OutputError(exc.problem, code=exc.code, parameter="OUT") from None
    if json_output:
        print_json(result.to_dict())
    else:
        out.print(
            f"wrote {result.images} images of {result.subjects} subjects to {result.root}"
            + (
                f"; {len(result.defects)} planted defects listed in {result.root / 'defects.json'}"
                if defects
                else ""
            )
        )
