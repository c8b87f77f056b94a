"""What the report as a review tool costs: HTML size and build time, beside the report before it.

    python benchmarks/bench_report.py [--subjects 480] [--size tiny] [--repeats 3] [--base 76b5fe1]

One sample (defects planted, so duplicate pairs show), one warm probe cache; then, taking
turns, ``report.build`` of this tree and of the ``--base`` revision's tree (``git archive`` into
a temporary folder, run in a child process with the same interpreter), medians of
``--repeats`` runs each. Prints the sizes, their ratio, and what a reviewer gets: thumbnails on
the page, photos that enlarge, bytes per enlarged photo.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from norwoodkit import dataset, dedupe, probe, report, sample

REPO = Path(__file__).resolve().parent.parent

_CHILD = """
import json, sys, time
from pathlib import Path
from norwoodkit import dataset, dedupe, probe, report
ds = probe.run(dataset.load(Path(sys.argv[1])), cache_dir=Path(sys.argv[2]), workers=1)
pairs = dedupe.find(ds)
t = time.perf_counter()
text = report.build(ds, dedupe=pairs)
print(json.dumps({"seconds": time.perf_counter() - t, "bytes": len(text.encode("utf-8")),
                  "images": text.count("<img ")}))
"""


def base_tree(base: str, into: Path) -> Path:
    """The ``norwoodkit`` package at revision ``base``, unpacked under ``into``."""
    archive = into / "base.tar"
    subprocess.run(
        ["git", "-C", str(REPO), "archive", "-o", str(archive), base, "norwoodkit"], check=True
    )
    with tarfile.open(archive) as tar:
        tar.extractall(into / "base", filter="data")
    return into / "base"


def run_base(tree: Path, root: Path, cache: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(root), str(cache)],
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        cwd=tree,  # not this tree: "-c" puts the working folder first on the path
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=480)
    parser.add_argument("--size", default="tiny", help="sample size: tiny, small, ... or WxH")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--base", default="76b5fe1", help="the revision to compare with")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp_text:
        tmp = Path(tmp_text)
        root, cache = tmp / "sample", tmp / "cache"
        opts = sample.SampleOptions(subjects=args.subjects, size=args.size, seed=0, defects=True)
        sample.write(root, opts)
        ds = probe.run(dataset.load(root), cache_dir=cache)
        pairs = dedupe.find(ds)
        tree = base_tree(args.base, tmp)
        now, before, text = [], [], ""
        for _ in range(args.repeats):  # taking turns, so load from other jobs hits both
            t = time.perf_counter()
            text = report.build(ds, dedupe=pairs)
            now.append(time.perf_counter() - t)
            old = run_base(tree, root, cache)
            before.append(old["seconds"])
        size = len(text.encode("utf-8"))
        main_part, overlays = text.split("</main>", 1)
        thumbs = main_part.count("class=zoomin")
        enlarged = overlays.count("<div class=zoom ")
        missing = main_part.count("not shown:")
        big = sum(len(s) for s in re.findall(r'src="(data:[^"]*)"', overlays))
        print(f"sample: {args.subjects} subjects, size {args.size}; base {args.base}")
        print(
            f"report.build before: {statistics.median(before):.2f} s, {int(old['bytes']):,} B, "
            f"{int(old['images'])} images"
        )
        print(
            f"report.build now:    {statistics.median(now):.2f} s, {size:,} B, "
            f"{text.count('<img ')} images"
        )
        print(
            f"ratio now/before: size {size / old['bytes']:.2f}x, "
            f"time {statistics.median(now) / statistics.median(before):.2f}x"
        )
        print(
            f"thumbnails that enlarge: {thumbs}; overlays: {enlarged} "
            f"(placeholders for photos not read again: {missing}); overlay bytes {big:,} "
            f"({big / max(enlarged, 1) / 1000:.1f} kB each, base64)"
        )


if __name__ == "__main__":
    main()
