"""Photo quality findings against cleanvision: precision and recall per issue type and grade.

The set: distinct 320x240 crops of the colour photographs scikit-image ships in its wheel
(astronaut, coffee, chelsea, rocket, the two motorcycle views; no downloads), saved as JPEG q92.
Most stay clean; the rest get one planted degradation at one grade:

- blurry: Gaussian blur of radius 1, 2 and 4 px;
- dark: every channel times 0.45, 0.3 and 0.15 (under-exposure);
- bright: every channel times 1.8, 2.5 and 3.5, clipped at 255 (over-exposure);
- low-information: 75 % and 90 % of the frame replaced by a flat wall (one colour with a faint
  gradient and sensor noise), the photo left in a strip.

The files are laid out as a norwoodkit dataset (five views per subject, photos dealt round the
views, degraded ones mixed in as a user's would be) and judged twice in the same run: by
``validate``'s quality findings (thresholds calibrated on this very set, degradations included)
and by cleanvision's ``Imagelab(filepaths=...).find_issues()`` on the same files. A flag counts
for the issue type it names (cleanvision's ``light`` is our ``bright``); precision is per type
over all grades, recall per type and grade; clean photos flagged are counted apart. Then both
judge a clean ``norwoodkit sample`` (``--sample-subjects``): every flag there is a false alarm.

Needs the ``bench`` extra (``pip install -e '.[bench]'``: cleanvision, scikit-image). Run from the
repository root:

    python benchmarks/bench_quality.py
    python benchmarks/bench_quality.py --crops 40 --sample-subjects 60 --seed 1
    python benchmarks/bench_quality.py --seed 0 1 2     # per-seed tables, then pooled

With several seeds each one builds its own set and sample; the pooled table adds the counts.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

#: Issue type -> grade -> what was done (for the table).
GRADES: dict[str, dict[str, float]] = {
    "blurry": {"r1": 1.0, "r2": 2.0, "r4": 4.0},
    "dark": {"x0.45": 0.45, "x0.3": 0.3, "x0.15": 0.15},
    "bright": {"x1.8": 1.8, "x2.5": 2.5, "x3.5": 3.5},
    "low-information": {"75%": 0.75, "90%": 0.90},
}

#: Our finding codes and cleanvision's issue names, by issue type.
OURS = {
    "quality-blurry": "blurry",
    "quality-dark": "dark",
    "quality-bright": "bright",
    "quality-low-information": "low-information",
    "quality-grayscale": "grayscale",
    "quality-odd-aspect-ratio": "odd-aspect-ratio",
    "quality-odd-size": "odd-size",
}
THEIRS = {
    "is_blurry_issue": "blurry",
    "is_dark_issue": "dark",
    "is_light_issue": "bright",
    "is_low_information_issue": "low-information",
    "is_grayscale_issue": "grayscale",
    "is_odd_aspect_ratio_issue": "odd-aspect-ratio",
    "is_odd_size_issue": "odd-size",
}

SIZE = (320, 240)
VIEW_FILES = ("Front.jpg", "Top-Down.jpg", "Back.jpg", "Left.jpg", "Right.jpg")


def sources() -> list[np.ndarray]:
    """The colour photographs scikit-image ships (RGB uint8)."""
    from skimage import data

    left, right, _ = data.stereo_motorcycle()
    return [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), left, right]


def crops(n_per_source: int, rng: np.random.Generator) -> list[Image.Image]:
    """``n_per_source`` random 4:3 crops of each source, at least 320 px wide, at 320x240."""
    out = []
    for src in sources():
        h, w = src.shape[:2]
        for _ in range(n_per_source):
            cw = int(rng.integers(min(320, w), min(w, h * 4 // 3) + 1))
            ch = cw * 3 // 4
            x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            tile = Image.fromarray(src[y : y + ch, x : x + cw]).convert("RGB")
            out.append(tile.resize(SIZE, Image.Resampling.LANCZOS))
    return out


def degrade(img: Image.Image, kind: str, amount: float, rng: np.random.Generator) -> Image.Image:
    """``img`` with one planted degradation."""
    if kind == "blurry":
        return img.filter(ImageFilter.GaussianBlur(amount))
    a = np.asarray(img, dtype=np.float64)
    if kind in ("dark", "bright"):
        return Image.fromarray(np.clip(a * amount, 0, 255).astype(np.uint8))
    # low-information: a flat wall over most of the frame, a strip of the photo left
    h, w = a.shape[:2]
    colour = rng.uniform(90, 210, 3)
    ramp = np.linspace(-6, 6, w)[None, :, None]
    wall = colour[None, None, :] + ramp + rng.normal(0, 1.5, (h, w, 3))
    keep = round(w * (1 - amount))
    wall[:, :keep] = a[:, :keep]
    return Image.fromarray(np.clip(wall, 0, 255).astype(np.uint8))


def build_set(root: Path, n_per_source: int, seed: int) -> dict[str, tuple[str, str]]:
    """The dataset under ``root``; returns path -> (issue type or "clean", grade)."""
    rng = np.random.default_rng(seed)
    photos = crops(n_per_source, rng)
    order = rng.permutation(len(photos))
    plan = [(k, g, amount) for k, grades in GRADES.items() for g, amount in grades.items()]
    per_grade = max(1, len(photos) // (4 * len(plan)))  # about a quarter degraded
    truth: dict[str, tuple[str, str]] = {}
    records = []
    for i, idx in enumerate(order):
        slot = i // per_grade
        kind, grade, amount = plan[slot] if slot < len(plan) else ("clean", "", 0.0)
        img = photos[idx] if kind == "clean" else degrade(photos[idx], kind, amount, rng)
        sid, view = str(i // 5 + 1), VIEW_FILES[i % 5]
        (root / sid).mkdir(exist_ok=True)
        img.save(root / sid / view, "JPEG", quality=92)
        truth[f"{sid}/{view}"] = (kind, grade)
        if i % 5 == 0:
            records.append(_record(sid))
    (root / "annotation.json").write_text(json.dumps(records), encoding="utf-8")
    return truth


def _record(sid: str) -> dict[str, Any]:
    rec: dict[str, Any] = {"id": sid, "gender": "male", "age": "40", "ethnicity": "x"}
    rec["label"] = "Stage 3"
    for name in VIEW_FILES:
        rec[name.removesuffix(".jpg")] = f"/{sid}/{name}"
    return rec


def ours(root: Path) -> tuple[dict[str, set[str]], float]:
    """Our quality flags per root-relative path, and the seconds ``validate`` took."""
    from norwoodkit import dataset, probe
    from norwoodkit.validate import validate

    start = time.perf_counter()
    report = validate(probe.run(dataset.load(root), use_cache=False, workers=1))
    seconds = time.perf_counter() - start
    flags: dict[str, set[str]] = defaultdict(set)
    for f in report.findings:
        if f.code in OURS and f.path:
            flags[f.path].add(OURS[f.code])
    return flags, seconds


def theirs(root: Path, paths: list[str]) -> tuple[dict[str, set[str]], float]:
    """cleanvision's flags per root-relative path, and the seconds ``find_issues`` took."""
    from cleanvision import Imagelab

    start = time.perf_counter()
    lab = Imagelab(filepaths=[str(root / p) for p in paths])
    lab.find_issues()
    seconds = time.perf_counter() - start
    flags: dict[str, set[str]] = defaultdict(set)
    issues = lab.issues
    for full, row in issues.iterrows():
        rel = Path(str(full)).relative_to(root).as_posix()
        for column, kind in THEIRS.items():
            if column in issues.columns and bool(row[column]):
                flags[rel].add(kind)
    return flags, seconds


def score(truth: dict[str, tuple[str, str]], flags: dict[str, set[str]]) -> dict[str, Any]:
    """Precision per type, recall per type and grade, clean photos flagged (by type)."""
    out: dict[str, Any] = {"precision": {}, "recall": {}, "clean_flagged": Counter()}
    for kind in GRADES:
        flagged = [p for p in truth if kind in flags.get(p, set())]
        right = sum(truth[p][0] == kind for p in flagged)
        out["precision"][kind] = (right, len(flagged))
        for grade in GRADES[kind]:
            planted = [p for p, t in truth.items() if t == (kind, grade)]
            out["recall"][(kind, grade)] = (
                sum(kind in flags.get(p, set()) for p in planted),
                len(planted),
            )
    clean = [p for p, t in truth.items() if t[0] == "clean"]
    for p in clean:
        for kind in flags.get(p, set()):
            out["clean_flagged"][kind] += 1
    out["clean"] = len(clean)
    out["clean_any"] = sum(bool(flags.get(p)) for p in clean)
    return out


def _ratio(pair: tuple[int, int]) -> str:
    hit, total = pair
    return f"{hit / total:6.1%} ({hit}/{total})" if total else "     - (0/0)"


def print_table(a: dict[str, Any], b: dict[str, Any]) -> None:
    """Side by side: norwoodkit and cleanvision."""
    print(f"{'type':16} {'grade':6} {'recall norwoodkit':>20} {'recall cleanvision':>20}")
    for kind, grades in GRADES.items():
        for grade in grades:
            key = (kind, grade)
            print(
                f"{kind:16} {grade:6} {_ratio(a['recall'][key]):>20} {_ratio(b['recall'][key]):>20}"
            )
    print(f"\n{'type':16} {'precision norwoodkit':>22} {'precision cleanvision':>22}")
    for kind in GRADES:
        print(f"{kind:16} {_ratio(a['precision'][kind]):>22} {_ratio(b['precision'][kind]):>22}")
    for name, s in (("norwoodkit", a), ("cleanvision", b)):
        print(
            f"clean photos flagged by {name}: {s['clean_any']} of {s['clean']} "
            f"{dict(s['clean_flagged']) or ''}"
        )


def pool(scores: list[dict[str, Any]]) -> dict[str, Any]:
    """The counts of several ``score`` results added up."""
    out: dict[str, Any] = {"precision": {}, "recall": {}, "clean_flagged": Counter()}
    for part in ("precision", "recall"):
        for key in scores[0][part]:
            pairs = [s[part][key] for s in scores]
            out[part][key] = (sum(p[0] for p in pairs), sum(p[1] for p in pairs))
    for s in scores:
        out["clean_flagged"].update(s["clean_flagged"])
    out["clean"] = sum(s["clean"] for s in scores)
    out["clean_any"] = sum(s["clean_any"] for s in scores)
    return out


def sample_flags(work: Path, subjects: int, seed: int) -> None:
    """Both tools on a clean ``norwoodkit sample``: every flag is a false alarm."""
    from norwoodkit import sample

    root = work / "sample"
    sample.write(root, sample.SampleOptions(subjects=subjects, seed=seed, size="small"))
    paths = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.jpg"))
    for name, (flags, seconds) in (
        ("norwoodkit", ours(root)),
        ("cleanvision", theirs(root, paths)),
    ):
        counts = Counter(k for p in paths for k in flags.get(p, set()))
        print(
            f"sample ({len(paths)} photos, seed {seed}), {name}: "
            f"{sum(bool(flags.get(p)) for p in paths)} flagged {dict(counts) or ''} "
            f"({seconds:.1f} s)"
        )


def one_seed(work: Path, crops_per_source: int, subjects: int, seed: int) -> tuple[Any, Any]:
    """Build one seed's set and sample, run both tools, print its tables; return the scores."""
    root = work / "set"
    root.mkdir()
    truth = build_set(root, crops_per_source, seed)
    kinds = Counter(t[0] for t in truth.values())
    print(f"set: {len(truth)} photos ({dict(kinds)}), seed {seed}")
    a, a_s = ours(root)
    b, b_s = theirs(root, sorted(truth))
    print(f"norwoodkit validate {a_s:.1f} s, cleanvision find_issues {b_s:.1f} s\n")
    scores = score(truth, a), score(truth, b)
    print_table(*scores)
    print()
    sample_flags(work, subjects, seed)
    return scores


def main() -> None:
    """Build the set of each seed, run both tools, print the tables (and pooled ones)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crops", type=int, default=50, help="crops per source photo")
    parser.add_argument("--sample-subjects", type=int, default=100)
    parser.add_argument("--seed", type=int, nargs="+", default=[0], help="one or more seeds")
    args = parser.parse_args()
    results = []
    for seed in args.seed:
        with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
            print(f"=== seed {seed}")
            results.append(one_seed(Path(tmp), args.crops, args.sample_subjects, seed))
            print()
    if len(results) > 1:
        print(f"=== pooled over seeds {', '.join(map(str, args.seed))}")
        print_table(pool([r[0] for r in results]), pool([r[1] for r in results]))


if __name__ == "__main__":
    main()
