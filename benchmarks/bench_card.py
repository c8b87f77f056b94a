"""The dataset card and croissant.json against the whole pack, measured in one run.

    python benchmarks/bench_card.py [--subjects 480] [--size small] [--repeats 5]

Packs the sample (2,400 images by default, warm probe cache, original bytes) ``--repeats``
times with ``pack.write`` (which builds and writes the card and croissant.json itself), and
times building both from the same manifest alone, interleaved. Prints the medians and the
share of the pack that the card and Croissant take (target < 1 %), and the one-off cost of
importing ``huggingface_hub.repocard_data`` in a fresh process (once per ``norwoodkit pack``).
This is a benchmark, not a test: it prints figures and never fails on speed.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from norwoodkit import dataset, pack, probe, sample
from norwoodkit.pack.card import dataset_card
from norwoodkit.pack.croissant import croissant_json


def main() -> None:
    """Run the comparison and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subjects", type=int, default=480)
    ap.add_argument("--size", default="small")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--work", type=Path, default=None)
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-card-"))
    work.mkdir(parents=True, exist_ok=True)
    root = work / f"sample-{args.subjects}-{args.size}"
    if not (root / "annotation.json").is_file():
        sample.write(root, sample.SampleOptions(subjects=args.subjects, size=args.size, seed=1))
    ds = probe.run(dataset.load(root), cache_dir=work / "cache")
    out = work / "shards"
    packs, cards = [], []
    manifest = pack.write(ds, out, overwrite=True).manifest  # warm-up: imports, page cache
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        manifest = pack.write(ds, out, overwrite=True).manifest
        packs.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        dataset_card(manifest)
        croissant_json(manifest)
        cards.append(time.perf_counter() - t0)
    p, c = statistics.median(packs), statistics.median(cards)
    print(f"{platform.machine()} {platform.python_version()}; {manifest['rows']} rows")
    print(f"pack.write (card and croissant.json included): {p * 1000:.0f} ms")
    print(f"card + croissant.json from the manifest:       {c * 1000:.1f} ms")
    print(f"share of the pack: {100 * c / p:.2f} % (target < 1 %)")
    # What a pack process pays once: it has pandas, pyarrow and yaml already.
    lines = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            "import pandas, pyarrow, yaml; import huggingface_hub.repocard_data",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stderr.splitlines()
    cumulative_us = int(lines[-1].split("|")[1])
    print(
        f"importing huggingface_hub.repocard_data once per process: {cumulative_us / 1000:.0f} ms "
        f"({100 * cumulative_us / 1e6 / p:.1f} % of this pack)"
    )


if __name__ == "__main__":
    main()
