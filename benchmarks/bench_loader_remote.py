"""The loader reading a pack from an S3 server against the same pack on local disk, in one run.

    python benchmarks/bench_loader_remote.py [--subjects 480] [--workers 2] [--batch-size 64]
        [--repeats 3] [--work DIR]

Writes (or reuses, under ``--work``) the sample of ``--subjects`` x 5 photos (default: the
2,400-image sample, 640 x 480), packs it with ``--resize 256``, starts moto's S3 server on
loopback in this process and uploads the pack folder to it. Then, round by round, three passes
over the train split, each through ``torch.utils.data.DataLoader`` with ``--workers`` workers,
decoded to 224 x 224 uint8 tensors, shuffled:

- local: ``ShardDataset`` on the local folder (the baseline);
- cold: ``ShardDataset`` on the ``s3://`` URL with an empty cache folder (every shard
  downloaded once, by the worker whose plan needs it, prefetched ahead of it);
- cached: the same URL and the cache folder the cold pass filled (no shard read from the
  store; the manifest and the kept row-group sizes only).

Each pass is timed from creating the dataset (the manifest read, footers, cache folder) to its
last batch, so the cost of opening a URL counts. The passes take turns, round by round, so
other load on the machine hits each alike. Prints images/s (medians over ``--repeats``), the
ratios to the local pass, the bytes downloaded, the machine, its load average and the command.
moto's server is Python in this process: a real store's throughput and latency differ (the
cold figure is a floor, not a forecast). This is a benchmark, not a test: it never fails.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from norwoodkit import dataset, pack, probe, sample, storage
from norwoodkit.loader import ShardDataset
from norwoodkit.loader.cache import cached_bytes

SIZE = 224


def prepare(args: argparse.Namespace) -> Path:
    """The ``--resize 256`` pack of the sample (written once under ``--work``)."""
    work: Path = args.work
    root = work / f"sample-{args.subjects}"
    if not (root / "annotation.json").is_file():
        t0 = time.perf_counter()
        sample.write(root, sample.SampleOptions(subjects=args.subjects, seed=1))
        print(f"wrote {args.subjects * 5} photos in {time.perf_counter() - t0:.0f} s")
    out = work / f"pack-{args.subjects}-r256"
    if not (out / "manifest.json").is_file():
        ds = probe.run(dataset.load(root), cache_dir=work / "cache")
        t0 = time.perf_counter()
        pack.write(ds, out, pack.PackOptions(resize=256, shard_size=pack.parse_size("8MB")))
        print(f"packed (--resize 256) in {time.perf_counter() - t0:.0f} s")
    return out


def serve(local: Path) -> tuple[str, Callable[[], None]]:
    """moto's S3 server on loopback with the pack uploaded; the URL and how to stop it."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    where = storage.locate("s3://nk-bench/packs/r256", parameter="directory")
    where.fs.mkdir("nk-bench")
    where.fs.put(str(local), where.path, recursive=True)
    return where.url, server.stop


def timed_pass(
    args: argparse.Namespace, directory: str | Path, seed: int, cache_dir: Path | None = None
) -> float:
    """Images per second of one shuffled epoch, dataset creation included."""
    t0 = time.perf_counter()
    ds = ShardDataset(directory, size=SIZE, seed=seed, cache_dir=cache_dir)
    loader = DataLoader(ds, batch_size=args.batch_size, num_workers=args.workers)
    n = 0
    for images, _, _ in loader:
        assert images.shape[1:] == (3, SIZE, SIZE) and images.dtype == torch.uint8
        n += len(images)
    return n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=480)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "nk-bench")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    local = prepare(args)
    shard_bytes = sum(f.stat().st_size for f in local.glob("data/train-*.parquet"))
    url, stop = serve(local)
    rates: dict[str, list[float]] = {"local": [], "cold": [], "cached": []}
    downloaded: list[int] = []
    try:
        for r in range(args.repeats):
            cache = Path(tempfile.mkdtemp(prefix="nk-remote-cache-", dir=args.work))
            rates["local"].append(timed_pass(args, local, r))
            rates["cold"].append(timed_pass(args, url, r, cache_dir=cache))
            downloaded.append(sum(cached_bytes(f) for f in (cache / "shards").iterdir()))
            rates["cached"].append(timed_pass(args, url, r, cache_dir=cache))
            shutil.rmtree(cache)
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.0f}" for k, v in rates.items()))
    finally:
        stop()
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"\ntrain split: {shard_bytes / 1e6:.1f} MB of shards, --resize 256")
    print(f"downloaded per cold pass: {statistics.median(downloaded) / 1e6:.1f} MB")
    for name in ("local", "cold", "cached"):
        ratio = med[name] / med["local"]
        print(f"{name:>7}: {med[name]:7.0f} images/s  ({ratio:.2f}x local)")
    print(
        f"\nmachine: {platform.platform()}, {os.cpu_count()} CPUs, load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; python {platform.python_version()}, "
        f"torch {torch.__version__}"
    )
    print("command: " + shlex.join([sys.executable, *sys.argv]))


if __name__ == "__main__":
    main()
