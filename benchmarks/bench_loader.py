"""The PyTorch loader against a plain folder Dataset and Hugging Face datasets, in one run.

    python benchmarks/bench_loader.py [--subjects 200] [--size medium] [--workers 2]
        [--batch-size 32] [--repeats 3] [--work DIR]

Writes (or reuses, under ``--work``) a sample of ``--subjects`` x 5 JPEGs at ``--size``
(medium: about 1600 x 1200, so decoding costs what real photos cost), packs it twice (original
bytes; ``--resize 256``), then reads every image once per pass, decoded to 224 x 224 uint8
tensors, through ``torch.utils.data.DataLoader`` with the same ``--workers`` and
``--batch-size`` for every reader, shuffled:

- baseline: a map-style Dataset over the JPEG files, the ImageFolder way (``Image.open``,
  ``convert("RGB")``, shorter side to 224, centre crop, ``PILToTensor``'s copy), no DCT scaling;
- (a) ``ShardDataset`` on the original-bytes shards (target >= 1.0x the baseline);
- (b) ``ShardDataset`` on the ``--resize 256`` shards (target >= 8x the baseline);
- (c) Hugging Face ``datasets`` on the original-bytes shards, the baseline's transform in
  ``set_transform`` (for reference);
- (d) a bare decode loop: a map-style Dataset over the ``--resize 256`` shards' bytes held in
  memory, ``decode_image`` to 224 x 224 and the same tensor copy; the floor (b) is held to
  (target: (b) / (d) >= 0.9).

It also prints the row groups each reader layout reads per epoch (the partition's I/O: only
the row groups at the ends of a reader's run are read twice) and the samples it repeats.

Each pass is timed from creating the DataLoader iterator to its last batch (worker start-up
included, the same for all); the readers take turns, pass by pass, so other load on the machine
hits each alike. Besides wall-clock images/s it counts images per CPU-second (this process and
its workers), which other load on a shared machine disturbs much less. Prints medians over
``--repeats``, ratios, the machine, its load average and the command. This is a benchmark,
not a test: it never fails on speed.

Then the loader's integrity check (``--integrity-only`` runs just this part): per image, the
decode ``ShardDataset`` does (``decode_image`` to 224 x 224) against the sha256 of the stored
bytes it checks (original-bytes shards), and against the whole-file sha256 of the resized
shards spread over their images (checked once when the split is opened); the cost as a share
of the decode time (target <= 5 %).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import importlib
import os
import platform
import resource
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import PIL
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from norwoodkit import dataset, pack, probe, sample
from norwoodkit.loader import ShardDataset, decode_image
from norwoodkit.loader.decode import to_tensor
from norwoodkit.pack.folder import file_sha256

SIZE = 224


def cover_crop(im: Image.Image, side: int = SIZE) -> torch.Tensor:
    """torchvision's ``Resize(side)`` + ``CenterCrop(side)`` + ``PILToTensor``, with Pillow."""
    w, h = im.size
    scale = side / min(w, h)
    im = im.resize((round(w * scale), round(h * scale)), Image.Resampling.BILINEAR)
    left, top = (im.width - side) // 2, (im.height - side) // 2
    im = im.crop((left, top, left + side, top + side))
    return torch.as_tensor(np.array(im, copy=True)).view(side, side, 3).permute(2, 0, 1)


class FolderDataset(Dataset[tuple[torch.Tensor, int]]):
    """The ImageFolder way: one JPEG file per item, opened and fully decoded with Pillow."""

    def __init__(self, root: Path, paths: list[str], labels: list[int]) -> None:
        self.root, self.paths, self.labels = root, paths, labels

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        with Image.open(self.root / self.paths[i]) as im:
            return cover_crop(im.convert("RGB")), self.labels[i]


def hf_dataset(shards: Path, cache: Path) -> Any:
    datasets = importlib.import_module("datasets")  # untyped: kept out of mypy's sight
    files = sorted(str(p) for p in (shards / "data").glob("train-*.parquet"))
    ds = datasets.load_dataset(
        "parquet", data_files={"train": files}, split="train", cache_dir=cache
    )

    def transform(batch: dict[str, list[Any]]) -> dict[str, Any]:
        return {
            "pixels": [cover_crop(im.convert("RGB")) for im in batch["image"]],
            "label": batch["label"],
        }

    ds.set_transform(transform, columns=["image", "label"])
    return ds


@dataclass(frozen=True)
class Pass:
    seconds: float  # wall clock
    cpu: float  # CPU seconds of this process and its (finished) DataLoader workers
    images: int


def cpu_seconds() -> float:
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed_pass(make_loader: Callable[[], Iterable[Any]]) -> Pass:
    """One pass over a fresh DataLoader: wall seconds, CPU seconds, images."""
    c0, t0 = cpu_seconds(), time.perf_counter()
    n = 0
    loader = make_loader()
    for batch in loader:
        first = batch["pixels"] if isinstance(batch, dict) else batch[0]
        assert first.shape[1:] == (3, SIZE, SIZE) and first.dtype == torch.uint8
        n += len(first)
    seconds = time.perf_counter() - t0
    del loader  # workers exit and are reaped: their CPU time counts in RUSAGE_CHILDREN
    gc.collect()
    return Pass(seconds, cpu_seconds() - c0, n)


def prepare(args: argparse.Namespace) -> tuple[dataset.Dataset, Path, Path]:
    root = args.work / f"sample-{args.subjects}-{args.size}"
    if not (root / "annotation.json").is_file():
        t0 = time.perf_counter()
        sample.write(root, sample.SampleOptions(subjects=args.subjects, size=args.size, seed=1))
        print(f"wrote {args.subjects * 5} images ({args.size}) in {time.perf_counter() - t0:.0f} s")
    ds = probe.run(dataset.load(root), cache_dir=args.work / "cache")
    out = {}
    for name, resize in (("original", None), ("resize256", 256)):
        target = args.work / f"shards-{args.subjects}-{args.size}-{name}"
        if not (target / "manifest.json").is_file():
            t0 = time.perf_counter()
            pack.write(ds, target, pack.PackOptions(resize=resize), overwrite=True)
            print(f"packed {name} shards in {time.perf_counter() - t0:.0f} s")
        out[name] = target
    return ds, out["original"], out["resize256"]


def stored_images(shards: Path) -> tuple[list[bytes], list[Path]]:
    """Every stored image's bytes and the shard files of a pack folder."""
    import pyarrow.parquet as pq

    files = sorted((shards / "data").glob("train-*.parquet"))
    data = [
        cell["bytes"]
        for f in files
        for cell in pq.read_table(f, columns=["image"])["image"].to_pylist()
    ]
    return data, files


def timed(fn: Callable[[], object], repeats: int) -> float:
    """The median wall seconds of ``fn`` over ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def decode_all(data: list[bytes]) -> None:
    for d in data:
        decode_image(d, (SIZE, SIZE))


def hash_images(data: list[bytes]) -> None:
    for d in data:
        hashlib.sha256(d).hexdigest()


def hash_files(files: list[Path]) -> None:
    for f in files:
        file_sha256(f)


def integrity_cost(original: Path, resized: Path, repeats: int, header: bool = False) -> None:
    """Print the integrity check's cost per image beside the decode time, and the ratio."""
    if header:
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores; Pillow {PIL.__version__}")
        print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    print(f"integrity check, per image, median of {repeats} runs (decode to {SIZE}x{SIZE}):")
    for name, shards, whole in (
        ("original bytes", original, False),
        ("--resize 256", resized, True),
    ):
        data, files = stored_images(shards)
        n = len(data)
        decode = timed(partial(decode_all, data), repeats) / n
        if whole:
            check = timed(partial(hash_files, files), repeats) / n
            how = "whole-shard sha256 at open, per image"
        else:
            check = timed(partial(hash_images, data), repeats) / n
            how = "sha256 of each image's bytes"
        kb = sum(map(len, data)) / n / 1e3
        print(
            f"  {name:15s} {n} images, {kb:.0f} kB each: decode {decode * 1e3:.3f} ms, "
            f"{how} {check * 1e3:.4f} ms = {100 * check / decode:.2f} % of decode (target <= 5 %)"
        )


def print_speeds(runs: dict[str, list[Pass]]) -> None:
    """Each reader's median images/s and images per CPU-second, and its ratio to the baseline."""
    medians: dict[str, float] = {}
    per_cpu: dict[str, float] = {}
    for name, passes in runs.items():
        seconds = statistics.median(r.seconds for r in passes)
        cpu = statistics.median(r.cpu for r in passes)
        n = passes[0].images
        medians[name], per_cpu[name] = n / seconds, n / cpu
        spread = ", ".join(f"{r.seconds:.2f}" for r in passes)
        print(
            f"{name:40s} {n / seconds:6.0f} images/s ({seconds:.2f} s per pass: {spread}); "
            f"{n / cpu:6.0f} images per CPU-second"
        )
    floor = "(d) bare decode loop, --resize 256 bytes"
    if floor in medians:
        b = "(b) ShardDataset, --resize 256 shards"
        print(
            f"(b) / (d) bare decode loop = {medians[b] / medians[floor]:.2f}x images/s, "
            f"{per_cpu[b] / per_cpu[floor]:.2f}x per CPU-second (target >= 0.9x)"
        )
    base = medians["baseline: folder Dataset (ImageFolder way)"]
    base_cpu = per_cpu["baseline: folder Dataset (ImageFolder way)"]
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    for name, target in (
        ("(a) ShardDataset, original bytes", 1.0),
        ("(b) ShardDataset, --resize 256 shards", 8.0),
        ("(c) HF datasets, original bytes", None),
    ):
        if name in medians:
            goal = f" (target >= {target:.1f}x)" if target else " (reference)"
            print(
                f"{name} / baseline = {medians[name] / base:.2f}x images/s, "
                f"{per_cpu[name] / base_cpu:.2f}x per CPU-second{goal}"
            )


class BytesDataset(Dataset[tuple[torch.Tensor, int]]):
    """The bare decode loop: stored bytes already in memory, decoded as ``ShardDataset`` does."""

    def __init__(self, data: list[bytes]) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return to_tensor(decode_image(self.data[i], (SIZE, SIZE))), 0


def partition_io(shards: Path) -> None:
    """Row groups read and samples repeated per epoch, for a few reader layouts."""
    from norwoodkit.loader.partition import Order, Readers, plan_epoch
    from norwoodkit.loader.shards import open_split

    split = open_split(shards, "train")
    print(f"partition: {split.rows} samples in {split.units} row groups (train split)")
    for world, workers in ((1, 2), (2, 2), (4, 4), (8, 4)):
        reads = repeats = 0
        for r in Readers(0, world, 0, workers).every():
            plan = plan_epoch(split.unit_rows, r, Order(epoch=0, seed=0))
            position = 0
            while position < plan.target:
                position += plan.locate(position)[1]
                reads += 1
            repeats += plan.target - plan.base
        print(
            f"  {world} ranks x {workers} workers: {reads} row-group reads "
            f"({reads / split.units:.2f}x the row groups), {repeats} samples repeated "
            f"(at most {world * workers - 1})"
        )
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--subjects", type=int, default=200)
    ap.add_argument("--size", default="medium", help="sample image size (tiny/small/medium/WxH)")
    ap.add_argument("--workers", type=int, default=2, help="DataLoader workers, all readers")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-hf", action="store_true", help="skip (c), Hugging Face datasets")
    ap.add_argument(
        "--integrity-only", action="store_true", help="only the integrity check's cost per image"
    )
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "nk-bench-loader")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    ds, original, resized = prepare(args)
    if args.integrity_only:
        return integrity_cost(original, resized, args.repeats, header=True)

    root = ds.root
    assert isinstance(root, Path)  # prepare() loads a local folder
    images = ds.images
    paths = images["path"].astype(str).tolist()
    labels = (images["stage"].astype(int) - 1).tolist()
    w, b = args.workers, args.batch_size
    common: dict[str, Any] = {"batch_size": b, "num_workers": w}
    readers: dict[str, Callable[[], Iterable[Any]]] = {
        "baseline: folder Dataset (ImageFolder way)": lambda: DataLoader(
            FolderDataset(root, paths, labels), shuffle=True, **common
        ),
        "(a) ShardDataset, original bytes": lambda: DataLoader(
            ShardDataset(original, "train", size=SIZE), **common
        ),
        "(b) ShardDataset, --resize 256 shards": lambda: DataLoader(
            ShardDataset(resized, "train", size=SIZE), **common
        ),
    }
    small, _ = stored_images(resized)
    readers["(d) bare decode loop, --resize 256 bytes"] = lambda: DataLoader(
        BytesDataset(small), shuffle=True, **common
    )
    if not args.no_hf:
        hf = hf_dataset(original, args.work / "hf-cache")
        readers["(c) HF datasets, original bytes"] = lambda: DataLoader(hf, shuffle=True, **common)

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores "
        f"({len(os.sched_getaffinity(0))} usable), {platform.platform()}; Python "
        f"{platform.python_version()}, torch {torch.__version__}, Pillow {PIL.__version__}"
    )
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    mb = sum(p.stat().st_size for p in (root / x for x in paths)) / 1e6
    print(
        f"{len(paths)} images ({mb:.0f} MB of JPEG, {args.size}); DataLoader num_workers={w}, "
        f"batch_size={b}; decode to {SIZE}x{SIZE} uint8; median of {args.repeats} passes\n"
    )
    for make in readers.values():
        timed_pass(make)  # warm the page cache and the imports
    runs: dict[str, list[Pass]] = {name: [] for name in readers}
    for _ in range(args.repeats):  # interleaved, so a busy moment hits every reader alike
        for name, make in readers.items():
            runs[name].append(timed_pass(make))
    print_speeds(runs)
    print()
    partition_io(resized)
    integrity_cost(original, resized, args.repeats)


if __name__ == "__main__":
    main()
