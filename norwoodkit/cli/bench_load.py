"""``norwoodkit bench-load``: images/s and MB/s of the PyTorch loader through a DataLoader.

A measurement the CLI runs, not part of the data path: :func:`measure` uses only
``norwoodkit.loader``'s public API. Needs the ``torch`` extra; torch is imported when the
benchmark runs, after the loader has said whether it is installed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast, get_args

import typer
from rich.table import Table

from norwoodkit.cli.app import handle_errors, int_items, out, print_json
from norwoodkit.cli.options import JsonOpt, PlaceText
from norwoodkit.loader import DEFAULT_SIZE, Decode  # torch-free names: no torch import yet

if TYPE_CHECKING:
    from norwoodkit.loader import ShardDataset


# The loader's decode choices as an Enum, the type Typer offers as choices.
_Decode = StrEnum("_Decode", {d: d for d in get_args(Decode)})  # type: ignore[misc]


SplitOpt = Annotated[str, typer.Option("--split", metavar="NAME", help="The split to read.")]
WorkerCountsOpt = Annotated[
    str,
    typer.Option(
        "--worker-counts", metavar="N,N,...", help="DataLoader worker counts to try, e.g. 0,2,8."
    ),
]
BatchSizesOpt = Annotated[
    str, typer.Option("--batch-sizes", metavar="N,N,...", help="Batch sizes to try, e.g. 32,128.")
]
SecondsOpt = Annotated[
    float,
    typer.Option("--seconds", metavar="S", min=0.1, max=3600, help="Reading time per combination."),
]
CropOpt = Annotated[
    int,
    typer.Option(
        "--crop",
        metavar="N",
        min=1,
        max=8192,
        help="Side of the square each image becomes: scaled to cover it, then centre-cropped.",
    ),
]
DeviceOpt = Annotated[
    _Decode,
    typer.Option("--device", help="cpu: Pillow in the workers; cuda: nvJPEG on the GPU."),
]


@handle_errors
def bench_load(
    out_dir: Annotated[
        PlaceText,
        typer.Argument(
            metavar="DIR",
            parser=PlaceText,
            help="A `norwoodkit pack` folder, or its URL (shards streamed into a local cache).",
        ),
    ],
    split: SplitOpt = "train",
    workers: WorkerCountsOpt = "0,2",
    batch_sizes: BatchSizesOpt = "32,128",
    seconds: SecondsOpt = 5.0,
    size: CropOpt = 224,
    decode: DeviceOpt = _Decode.cpu,  # type: ignore[attr-defined]
    json_output: JsonOpt = False,
) -> None:
    """Measure the PyTorch loader on shards: images/s and MB/s for each worker count and
    batch size (needs PyTorch: `pip install 'norwoodkit[torch]'`)."""
    worker_counts = int_items(workers, "worker_counts", most=1024)
    sizes = int_items(batch_sizes, "batch_sizes", least=1, most=1_000_000)
    rows = measure(
        out_dir,
        split,
        workers=worker_counts,
        batch_sizes=sizes,
        seconds=seconds,
        size=size,
        decode=cast(Decode, decode.value),
    )
    if json_output:
        print_json({"split": split, "results": rows})
        return
    out.print(_table(rows))


def _table(rows: list[dict[str, Any]]) -> Table:
    """One line per worker count and batch size."""
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
    return table


def measure(
    directory: str | Path,
    split: str = "train",
    *,
    workers: Sequence[int] = (0, 2),
    batch_sizes: Sequence[int] = (32, 128),
    seconds: float = 5.0,
    size: int | tuple[int, int] = DEFAULT_SIZE,
    decode: Decode = "cpu",
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Images/s and MB/s (stored bytes) of ``ShardDataset`` through a DataLoader.

    For every worker count and batch size, reads for about ``seconds`` (epochs repeat as
    needed), timed from the first batch so worker start-up is left out.

    Returns:
        One dict per (workers, batch_size): ``workers``, ``batch_size``, ``images``,
        ``seconds``, ``images_per_s``, ``mb_per_s``, ``decode``, ``size``.
    """
    from norwoodkit.loader import ShardDataset  # raises TorchMissingError without torch

    out: list[dict[str, Any]] = []
    for w in workers:
        for b in batch_sizes:
            ds = ShardDataset(directory, split, size=size, decode=decode, seed=0)
            images, stored, elapsed = _read_for(ds, w, b, seconds, progress)
            out.append(
                {
                    "workers": w,
                    "batch_size": b,
                    "decode": decode,
                    "size": list(ds.size or ()),
                    "images": images,
                    "seconds": round(elapsed, 3),
                    "images_per_s": images / elapsed if elapsed else 0.0,
                    "mb_per_s": stored / 1e6 / elapsed if elapsed else 0.0,
                }
            )
    return out


def _read_for(
    ds: ShardDataset,
    workers: int,
    batch_size: int,
    seconds: float,
    progress: Callable[[int], None] | None,
) -> tuple[int, int, float]:
    """Read ``ds`` for about ``seconds`` after its first batch: (images, stored bytes, seconds)."""
    import torch
    from torch.utils.data import DataLoader

    cuda = ds.decode == "cuda"
    loader = DataLoader(
        ds,
        batch_size=batch_size,
        num_workers=workers,
        collate_fn=ds.collate_bytes if cuda else None,
        persistent_workers=workers > 0,
        prefetch_factor=4 if workers > 0 else None,
    )
    images = stored = 0
    t0: float | None = None
    elapsed = 0.0
    while elapsed < seconds:
        for batch in loader:
            if cuda:
                images_t, _, meta = ds.collate_cuda(batch)
                torch.cuda.synchronize()
                n = len(images_t)
            else:
                meta = batch[2]
                n = len(batch[1])
            if t0 is None:  # the first batch includes start-up: not timed
                t0 = time.perf_counter()
                continue
            images += n
            stored += int(meta["bytes"].sum())
            if progress:
                progress(n)
            elapsed = time.perf_counter() - t0
            if elapsed >= seconds:
                break
        else:
            ds.set_epoch(ds.epoch + 1)
    return images, stored, elapsed
