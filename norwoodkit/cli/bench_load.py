"""``norwoodkit bench-load``: the PyTorch loader's speed on packed shards."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from norwoodkit.cli.app import handle_errors, int_items, out, print_json
from norwoodkit.cli.options import JsonOpt


class _Decode(StrEnum):
    cpu = "cpu"
    cuda = "cuda"


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
    worker_counts = int_items(workers, "workers")
    sizes = int_items(batch_sizes, "batch_sizes")
    from norwoodkit.loader import bench_load as measure

    rows = measure(
        out_dir,
        split,
        workers=worker_counts,
        batch_sizes=sizes,
        seconds=seconds,
        size=size,
        decode=decode.value,
    )
    if json_output:
        print_json(rows)
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
