"""What the quality measures add to the probe's time on 12 MP JPEGs, measured in one run.

    python benchmarks/bench_quality_cost.py [--photos 60] [--repeats 5] [--keep DIR]

Writes ``--photos`` JPEGs of 4000x3000 (quality 90) into the work folder, each a photo of the
sample (640x480) upscaled, and holds their bytes in memory so no disk read is timed. Then, per
repeat and interleaved, in this process:

- probe: ``probe_bytes`` on every file (sha256, header, EXIF, draft decode, phashes and the
  quality measures);
- measures: ``quality_row`` alone on the very images the probe measures (the same draft decode
  and its grey copy, made once beforehand and not timed: the phash needs that grey copy with or
  without the measures), i.e. the shrink to 256 px, the colour sample and ``quality.measure``.

The probe without the measures is ``probe - measures``; the cost printed is
``measures / (probe - measures)`` (target <= 10 %), medians over the repeats. No flag in the
product switches the measures off: the two figures are separate calls, timed side by side.
This is a benchmark, not a test: it never fails on speed.
"""

from __future__ import annotations

import argparse
import io
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image

from norwoodkit import sample
from norwoodkit.probe.decode import DRAFT_MODE, DRAFT_SIZE, probe_bytes, quality_row

SIZE = (4000, 3000)


def write_photos(folder: Path, count: int) -> list[Path]:
    """``count`` 12 MP JPEGs in ``folder``: the sample's photos upscaled (reused when present)."""
    jpegs = sorted(folder.glob("*.jpg"))
    if len(jpegs) >= count:
        return jpegs[:count]
    source = folder / "sample"
    subjects = -(-count // 5)
    sample.write(source, sample.SampleOptions(subjects=subjects, size="small", seed=1, workers=1))
    photos = sorted(p for p in source.rglob("*.jpg"))[:count]
    out = []
    for i, path in enumerate(photos):
        with Image.open(path) as im:
            big = im.convert("RGB").resize(SIZE, Image.Resampling.BICUBIC)
        target = folder / f"{i:03d}.jpg"
        big.save(target, "JPEG", quality=90)
        out.append(target)
    shutil.rmtree(source)
    return out


def decoded(data: bytes) -> tuple[Image.Image, Image.Image, str]:
    """What the probe measures: the draft-mode decode's grey copy (which the phash needs
    anyway), the decode in RGB, and the stored mode."""
    with Image.open(io.BytesIO(data)) as im:
        mode = im.mode
        im.draft(DRAFT_MODE, DRAFT_SIZE)
        im.load()
        rgb = im.convert("RGB")
    return rgb.convert("L"), rgb, mode


def main() -> None:
    """Parse the options, time probe and measures interleaved, print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--photos", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--keep", type=Path, help="write (or reuse) the JPEGs in this folder")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="nk-quality-"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    files = [p.read_bytes() for p in write_photos(work, args.photos)]
    mean_mb = sum(map(len, files)) / len(files) / 1e6
    print(
        f"{len(files)} JPEGs of {SIZE[0]}x{SIZE[1]}, {mean_mb:.2f} MB each on average, "
        f"ready in {time.perf_counter() - t0:.1f} s"
    )
    images = [decoded(d) for d in files]
    assert all(probe_bytes(d)["status"] == "ok" for d in files[:3])

    def probe_all() -> None:
        for data in files:
            probe_bytes(data)

    def measure_all() -> None:
        for grey, rgb, mode in images:
            quality_row(grey, rgb, mode)

    times: dict[str, list[float]] = {"probe": [], "measures": []}
    for _ in range(max(3, args.repeats)):
        for name, fn in (("probe", probe_all), ("measures", measure_all)):  # interleaved
            t1 = time.perf_counter()
            fn()
            times[name].append(1e3 * (time.perf_counter() - t1) / len(files))
    probe_ms = statistics.median(times["probe"])
    measure_ms = statistics.median(times["measures"])
    without = probe_ms - measure_ms
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.system()}; one process"
    )
    print(f"{'step (median over ' + str(len(times['probe'])) + ' repeats)':<42}{'ms/image':>10}")
    print(f"{'probe, with the measures':<42}{probe_ms:>10.2f}")
    print(f"{'the measures alone (shrink + measure)':<42}{measure_ms:>10.2f}")
    print(f"{'probe without the measures (difference)':<42}{without:>10.2f}")
    print(f"cost of the measures (target <= 10 %): {100 * measure_ms / without:.1f} %")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
