"""The ``bench-load`` benchmark: images/s and MB/s of the PyTorch loader through a DataLoader.

A measurement the CLI runs, not part of the data path: it uses only ``norwoodkit.loader``'s
public API. Needs the ``torch`` extra; torch is imported when the benchmark runs, after the
loader has said whether it is installed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from norwoodkit.loader import DEFAULT_SIZE, Decode  # torch-free names: no torch import yet

if TYPE_CHECKING:
    from norwoodkit.loader import ShardDataset

__all__ = ["bench_load"]


def bench_load(
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
            images, stored, elapsed = _measure(ds, w, b, seconds, progress)
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


def _measure(
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
