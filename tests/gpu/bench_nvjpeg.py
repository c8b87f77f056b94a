"""GPU decoding of shards with nvJPEG: images/s of ``ShardDataset(decode="cuda")``.

    python tests/gpu/bench_nvjpeg.py [--subjects 200] [--size medium] [--resize 512]
        [--batch-size 256] [--workers 8] [--seconds 5] [--work DIR]

Run on a machine with a CUDA GPU and a torchvision that matches its torch. Builds a sample,
packs it with ``--resize 512`` (stored copies with a 512-pixel short side), then measures:

1. decode only: encoded batches held in memory, ``ds.collate_cuda`` (nvJPEG batch decode,
   orientation, resize to 224 x 224 on the GPU), synchronised; target >= 5,000 images/s on
   an H100;
2. end to end: DataLoader workers read the shards and hand over bytes
   (``ShardDataset.collate_bytes``), the main process decodes on the GPU.

It also checks the first batch against the CPU decode. Not collected by pytest (no ``test_``
prefix); exits with status 2 and a message when CUDA or torchvision is missing.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NoReturn


def fail(message: str) -> NoReturn:
    print(f"bench_nvjpeg: {message}", file=sys.stderr)
    sys.exit(2)


def require_gpu() -> Any:
    try:
        import torch
    except ImportError:
        fail("needs PyTorch: pip install 'norwoodkit[torch]'")
    try:
        importlib.import_module("torchvision.io")
    except Exception as exc:  # ImportError, or a torchvision built for another torch
        fail(f"needs the torchvision that matches torch {torch.__version__} ({exc})")
    if not torch.cuda.is_available():
        fail("needs a CUDA GPU (torch.cuda.is_available() is False)")
    return torch


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--subjects", type=int, default=200)
    ap.add_argument("--size", default="medium")
    ap.add_argument("--resize", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "nk-bench-nvjpeg")
    args = ap.parse_args()
    torch = require_gpu()
    from torch.utils.data import DataLoader

    from norwoodkit import dataset, pack, probe, sample
    from norwoodkit.loader import ShardDataset

    args.work.mkdir(parents=True, exist_ok=True)
    root = args.work / f"sample-{args.subjects}-{args.size}"
    if not (root / "annotation.json").is_file():
        sample.write(root, sample.SampleOptions(subjects=args.subjects, size=args.size, seed=1))
    shards = args.work / f"shards-{args.subjects}-{args.size}-{args.resize}"
    if not (shards / "manifest.json").is_file():
        ds_in = probe.run(dataset.load(root), cache_dir=args.work / "cache")
        pack.write(ds_in, shards, pack.PackOptions(resize=args.resize), overwrite=True)
    print(
        f"device: {torch.cuda.get_device_name()}; torch {torch.__version__}; "
        f"{os.cpu_count()} cores; command: {' '.join([sys.executable, *sys.argv])}"
    )

    ds = ShardDataset(shards, "train", size=224, decode="cuda", shuffle=False)

    def loader() -> Any:
        return DataLoader(
            ds,
            batch_size=args.batch_size,
            num_workers=args.workers,
            collate_fn=ShardDataset.collate_bytes,
        )

    encoded = list(loader())
    n_images = sum(len(b) for b in encoded)
    first, _, _ = ds.collate_cuda(encoded[0])  # warm-up: nvJPEG handles, CUDA kernels
    cpu = ShardDataset(shards, "train", size=224, shuffle=False)
    want = torch.stack([s[0] for _, s in zip(range(len(first)), cpu, strict=False)])
    diff = (first.cpu().int() - want.int()).abs().float().mean().item()
    print(
        f"{n_images} images (short side {args.resize}); first batch vs CPU decode: mean "
        f"abs diff {diff:.2f} levels of 255"
    )

    torch.cuda.synchronize()
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < args.seconds:
        for batch in encoded:
            images, _, _ = ds.collate_cuda(batch)
            done += len(images)
        torch.cuda.synchronize()
    rate = done / (time.perf_counter() - t0)
    print(f"1. decode only (batch {args.batch_size}): {rate:,.0f} images/s (target >= 5,000)")

    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < args.seconds:
        for batch in loader():
            images, _, _ = ds.collate_cuda(batch)
            done += len(images)
        torch.cuda.synchronize()
    rate = done / (time.perf_counter() - t0)
    print(f"2. end to end ({args.workers} workers feeding bytes): {rate:,.0f} images/s")


if __name__ == "__main__":
    main()
