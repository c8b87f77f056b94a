"""Prove that a change keeps every output byte-identical: run one pipeline at two revisions.

    python tools/same_outputs.py                 # HEAD's work tree against main's first parent
    python tools/same_outputs.py --base 1fcc928  # against any commit
    python tools/same_outputs.py --keep /tmp/out # keep both output trees to look at

Each side runs the same commands (sample, validate, dedupe, stats, split, split --check, pack in
three layouts, verify, report; on a clean sample and on the defects sample) from its own source
tree with this interpreter, in its own folder, with relative paths, so that nothing but the code
differs. Then every file both sides wrote (each command's stdout, stderr and exit code included) is
compared by sha256. The probe cache is left out: it records file mtimes, which differ by design.

Exit 0 when every output is identical, 1 when any differs (each difference is listed, with the
first lines of a text diff), 2 when a side could not run.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# (name, argv after `norwoodkit`): stdout, stderr and exit code go to out/<name>.stdout, ...
COMMANDS: list[tuple[str, list[str]]] = [
    ("sample", ["sample", "data", "--subjects", "120", "--seed", "3", "--json"]),
    ("defects", ["sample", "bad", "--subjects", "60", "--seed", "1", "--defects", "--json"]),
    ("validate", ["validate", "data", "--json", "--junit", "out/junit.xml"]),
    ("validate-strict", ["validate", "data", "--strict", "--expect-subjects", "121"]),
    (
        "dedupe",
        [
            "dedupe",
            "data",
            "--json",
            "--calibrate",
            "--pairs",
            "out/pairs.csv",
            "--groups",
            "out/groups.parquet",
            "--exclude-list",
            "out/exclude.json",
        ],
    ),
    ("dedupe-text", ["dedupe", "data", "--mirror", "--fail-on", "any"]),
    ("stats", ["stats", "data", "--json", "--markdown", "out/stats.md", "--csv", "out/stats"]),
    ("stats-text", ["stats", "data", "--age-bins", "18-39,40-80"]),
    (
        "split",
        ["split", "data", "--json", "--out", "out/splits.csv", "--images", "out/images.csv"],
    ),
    ("split-text", ["split", "data", "--out", "out/splits2.parquet", "--strict", "--seed", "4"]),
    (
        "folds",
        ["split", "data", "--folds", "5", "--out", "out/folds.json", "--stratify", "stage"],
    ),
    (
        "named",
        [
            "split",
            "data",
            "--ratios",
            "60,20,20",
            "--names",
            "train,calib,holdout",
            "--out",
            "out/named.csv",
            "--dedupe",
            "out/pairs.csv",
        ],
    ),
    ("check", ["split", "data", "--check", "out/splits.csv", "--json"]),
    ("check-folds", ["split", "data", "--check", "out/folds.json"]),
    ("pack", ["pack", "data", "--out", "out/shards", "--splits", "out/splits.csv", "--json"]),
    (
        "pack-subject",
        ["pack", "data", "--out", "out/subject", "--layout", "subject", "--seed", "2"],
    ),
    (
        "pack-resized",
        [
            "pack",
            "data",
            "--out",
            "out/resized",
            "--resize",
            "64",
            "--splits",
            "out/folds.json",
            "--json",
        ],
    ),
    ("verify", ["verify", "out/shards", "--json"]),
    ("verify-decode", ["verify", "out/resized", "--decode"]),
    ("report", ["report", "data", "--out", "out/report.html", "--splits", "out/splits.csv"]),
    ("bad-validate", ["validate", "bad", "--json", "--junit", "out/bad-junit.xml"]),
    (
        "bad-dedupe",
        [
            "dedupe",
            "bad",
            "--json",
            "--pairs",
            "out/bad-pairs.csv",
            "--exclude-list",
            "out/bad-exclude.csv",
        ],
    ),
    ("bad-stats", ["stats", "bad", "--json"]),
    (
        "bad-split",
        [
            "split",
            "bad",
            "--out",
            "out/bad-splits.csv",
            "--exclude-list",
            "out/bad-exclude.csv",
            "--json",
        ],
    ),
    ("bad-check", ["split", "bad", "--check", "out/bad-splits.csv", "--json"]),
    (
        "bad-pack",
        [
            "pack",
            "bad",
            "--out",
            "out/bad-shards",
            "--splits",
            "out/bad-splits.csv",
            "--exclude-list",
            "out/bad-exclude.csv",
            "--resize",
            "48",
        ],
    ),
    ("bad-verify", ["verify", "out/bad-shards", "--json"]),
    ("bad-report", ["report", "bad", "--out", "out/bad-report.html", "--plots", "out/plots"]),
    ("bad-usage", ["split", "data", "--out", "out/x.csv", "--ratios", "70,abc"]),
]


def run_side(src: Path, work: Path) -> None:
    """Run every command with ``src`` first on the import path, in ``work``."""
    (work / "out").mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(src), "NORWOODKIT_CACHE_DIR": str(work / "cache")}
    env.pop("COLUMNS", None)
    for name, argv in COMMANDS:
        proc = subprocess.run(
            [sys.executable, "-m", "norwoodkit", *argv, "--quiet"],
            cwd=work,
            env=env,
            capture_output=True,
            check=False,
        )
        (work / "out" / f"{name}.stdout").write_bytes(proc.stdout)
        (work / "out" / f"{name}.stderr").write_bytes(proc.stderr)
        (work / "out" / f"{name}.rc").write_text(f"{proc.returncode}\n")
        if proc.returncode >= 3:
            sys.stderr.write(proc.stderr.decode(errors="replace"))
            raise SystemExit(f"{src}: `norwoodkit {' '.join(argv)}` crashed")


def digests(top: Path) -> dict[str, str]:
    """sha256 of every file under ``top`` except the probe cache, by relative path."""
    out: dict[str, str] = {}
    for path in sorted(top.rglob("*")):
        rel = path.relative_to(top).as_posix()
        if path.is_file() and not rel.startswith("cache/"):
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def compare(base: Path, head: Path) -> list[str]:
    """Human-readable differences between two output trees (empty when identical)."""
    a, b = digests(base), digests(head)
    problems = [f"only at base: {p}" for p in sorted(a.keys() - b.keys())]
    problems += [f"only at head: {p}" for p in sorted(b.keys() - a.keys())]
    for rel in sorted(a.keys() & b.keys()):
        if a[rel] == b[rel]:
            continue
        problems.append(f"differs: {rel}")
        try:
            old = (base / rel).read_text().splitlines()
            new = (head / rel).read_text().splitlines()
        except UnicodeDecodeError:
            continue
        diff = list(difflib.unified_diff(old, new, "base", "head", lineterm="", n=1))
        problems += ["    " + line[:160] for line in diff[:12]]
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="HEAD~1", help="the commit to compare against")
    parser.add_argument("--keep", type=Path, help="keep both output trees in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="same-outputs-") as tmp:
        top = args.keep or Path(tmp)
        base_src = top / "base-src"
        base_src.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", args.base, "norwoodkit"],
            capture_output=True,
            check=True,
        ).stdout
        tar_path = top / "base.tar"
        tar_path.write_bytes(archive)
        with tarfile.open(tar_path) as tar:
            tar.extractall(base_src, filter="data")
        run_side(base_src, top / "base")
        run_side(REPO, top / "head")
        problems = compare(top / "base", top / "head")
        files = len(digests(top / "head"))
    if problems:
        print("\n".join(problems))
        print(f"outputs differ from {args.base}")
        return 1
    print(f"all {files} outputs are byte-identical to {args.base}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
