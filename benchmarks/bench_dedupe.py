"""Dedupe quality, speed and scale, against imagededup's PHash, measured in one run.

Three parts (``--part quality|speed|scale|all``, default ``all``):

- quality: a labelled set made from the real photographs scikit-image ships on disk (no
  downloads) and seven variants of each (byte copy, JPEG q60, 50 % resize, 5 % crop, +15 %
  brightness, 3 degree rotation, horizontal flip), laid out as a norwoodkit dataset whose copies
  sit mostly in other subjects' folders (cross-subject) and a few in the source's own folder
  (within-subject). Two files are a true pair iff they come from the same source photo. Prints
  precision and recall of the pairs ``dedupe.find`` reports (tier exact; exact+same <= 4 bits;
  all pairs <= 10 bits; each also with ``mirror=True``) and of imagededup's
  ``PHash().find_duplicates`` at threshold 10 (its default) and 4 on the same files (from a flat
  folder of hard links), then recall per variant type.
- speed: cold end-to-end dedupe (``probe.run(use_cache=False)`` + ``dedupe.find``, and the CLI
  ``norwoodkit dedupe ROOT --no-cache --json``) on ``--subjects`` x 5 twelve-megapixel JPEGs from
  ``sample.write``, against ``PHash().find_duplicates`` on a flat folder of the same files, both
  with ``--workers`` processes (imagededup: ``num_enc_workers`` and ``num_dist_workers``).
  Interleaved, median of ``--repeats``; prints seconds, images/s and the speed-up (target >= 4x).
- scale: ``dedupe.hamming_pairs`` at threshold 10 on random uint64 hashes with planted near pairs,
  10k / 100k / 1M hashes, each in a fresh single-core subprocess (one-thread env vars, pinned to
  one CPU): seconds, peak RSS (VmHWM, what the 1 GB target means; not ``ru_maxrss``, which
  Linux carries over exec from the parent that started the subprocess), the RSS before the
  search, tracemalloc's peak of the search (sizes up to ``--tracemalloc-max``) and the growth
  ratios. Targets: 1M hashes in <= 10 min with peak RSS < 1 GB. The 1M run takes minutes.

This is a benchmark, not a test: it prints figures and never fails on them.

Set up the benchmark venv (keeps the project venv free of torch and imagededup); install torch
and torchvision first with pinned versions (x86_64; on aarch64 use torch==2.9.1
torchvision==0.24.1), then the rest:

    python3 -m venv /tmp/bench-venv
    /tmp/bench-venv/bin/pip install torch==2.14.1 torchvision==0.29.1
    /tmp/bench-venv/bin/pip install -e /work/main scikit-image imagededup

Run (from the repository root):

    /tmp/bench-venv/bin/python benchmarks/bench_dedupe.py --part all
    /tmp/bench-venv/bin/python benchmarks/bench_dedupe.py --part speed --subjects 10 --workers 2
    /tmp/bench-venv/bin/python benchmarks/bench_dedupe.py --part scale --scale-sizes 10000,100000

skimage and imagededup are imported only by the parts that need them. If importing
``imagededup.methods`` fails (its package init imports the CNN method, and
``imagededup/utils/__init__.py`` imports ``utils.models``: both need torch and torchvision), the
bench imports ``imagededup.methods.hashing`` with those two package inits skipped (PHash needs
neither torch nor torchvision; nothing in imagededup is modified) and says so on its
``imagededup:`` line. The machine is shared: run it when nothing else is busy (``uptime``), since
the speed part's ratio moves with other load on the cores.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import itertools
import json
import logging
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from norwoodkit import dataset, dedupe, probe, sample

Pair = tuple[str, str]

# --------------------------------------------------------------------------- common


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or what platform knows)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def version(dist: str) -> str:
    """An installed distribution's version, without importing it."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def load_average() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def print_machine(workers: int) -> None:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    print(
        f"machine: {cpu_model()}, {platform.machine()}, os.cpu_count()={os.cpu_count()}, "
        f"usable cores={affinity}; Python {platform.python_version()}; workers={workers}"
    )
    print(f"load average (1/5/15 min): {load_average()}; other processes compete for the cores")
    names = ("norwoodkit", "numpy", "pillow", "imagehash", "scikit-image", "imagededup", "torch")
    print("versions: " + ", ".join(f"{n} {version(n)}" for n in (*names, "torchvision")))


def link_or_copy(src: Path, dst: Path) -> None:
    """A hard link (same bytes, no copy), else a copy."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def unordered(a: str, b: str) -> Pair:
    return (a, b) if a <= b else (b, a)


def fmt_pct(num: int, den: int) -> str:
    return f"{100 * num / den:6.1f}" if den else "     -"


# --------------------------------------------------------------------------- imagededup


@dataclass
class Dedup:
    """imagededup's PHash class and how it was imported."""

    phash_cls: Any
    how: str


def import_imagededup() -> Dedup | None:
    """imagededup's PHash, through the package or, failing that, its hashing module alone."""
    try:
        from imagededup.methods import PHash  # type: ignore[import-not-found, import-untyped, unused-ignore]

        how = "from imagededup.methods import PHash"
    except Exception as exc:  # a broken torch raises more than ImportError (OSError, ...)
        first = f"{type(exc).__name__}: {exc}"
        try:
            mod = _load_hashing_module()
        except Exception as exc2:
            print(f"imagededup is not usable: {first}; loading hashing.py alone: {exc2}")
            print("  set up the bench venv as the docstring of this script says")
            return None
        PHash = mod.PHash
        how = (
            "imagededup.methods.hashing imported with the imagededup.methods and "
            f"imagededup.utils package inits skipped (package import failed: {first})"
        )
    _quiet_imagededup_logs()
    return Dedup(PHash, how)


def _load_hashing_module() -> ModuleType:
    """Import imagededup.methods.hashing without the package inits that import torch.

    ``imagededup/methods/__init__.py`` imports the CNN method and ``imagededup/utils/__init__.py``
    imports ``utils.models``; both import torch and torchvision. ``hashing.py`` itself needs
    only ``utils.general_utils``, ``utils.image_utils``, ``utils.logger`` and
    ``handlers.search``. So the two packages are registered as empty namespace-like modules
    (their real folders as ``__path__``, their ``__init__`` not run) and hashing is imported by
    its real name, which also lets imagededup's worker pool pickle its bound methods. Nothing
    on disk is changed.
    """
    import imagededup  # type: ignore[import-not-found, import-untyped, unused-ignore]

    base = Path(imagededup.__file__).parent
    for name in [
        m for m in sys.modules if m.startswith(("imagededup.methods", "imagededup.utils"))
    ]:
        del sys.modules[name]  # partial leftovers of the failed import
    for sub in ("methods", "utils"):
        stub = ModuleType(f"imagededup.{sub}")
        stub.__path__ = [str(base / sub)]
        stub.__package__ = f"imagededup.{sub}"
        sys.modules[stub.__name__] = stub
        setattr(imagededup, sub, stub)
    return importlib.import_module("imagededup.methods.hashing")


def _quiet_imagededup_logs() -> None:
    # imagededup sets DEBUG on each of its module loggers and logs INFO lines to stderr.
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("imagededup"):
            logging.getLogger(name).setLevel(logging.WARNING)


def imagededup_pairs(dd: Dedup, flat: Path, threshold: int, workers: int) -> dict[Pair, int]:
    """Pairs of flat-folder names that imagededup reports, with its distances."""
    found = dd.phash_cls(verbose=False).find_duplicates(
        image_dir=flat,
        max_distance_threshold=threshold,
        scores=True,
        num_enc_workers=workers,
        num_dist_workers=workers,
    )
    out: dict[Pair, int] = {}
    for a, dups in found.items():
        for b, dist in dups:
            out[unordered(str(a), str(b))] = int(dist)
    return out


# --------------------------------------------------------------------------- quality

#: (name, skimage.data function, file it reads from skimage's own data folder). Every photograph
#: scikit-image 0.2x ships inside the wheel; the others (eagle, kidney, lily, skin, ...) need a
#: download and are left out, as are drawings and synthetic images (logo, horse, colorwheel,
#: checkerboard, phantom...), motorcycle_right (the stereo partner of motorcycle_left, a
#: different photo of the same scene) and lfw_subset (25 x 25 px faces).
SKIMAGE_PHOTOS: tuple[tuple[str, str, str], ...] = (
    ("astronaut", "astronaut", "astronaut.png"),
    ("brick", "brick", "brick.png"),
    ("camera", "camera", "camera.png"),
    ("cell", "cell", "cell.png"),
    ("chelsea", "chelsea", "chelsea.png"),
    ("clock", "clock", "clock_motion.png"),
    ("coffee", "coffee", "coffee.png"),
    ("coins", "coins", "coins.png"),
    ("grass", "grass", "grass.png"),
    ("gravel", "gravel", "gravel.png"),
    ("hubble", "hubble_deep_field", "hubble_deep_field.jpg"),
    ("ihc", "immunohistochemistry", "ihc.png"),
    ("microaneurysms", "microaneurysms", "microaneurysms.png"),
    ("moon", "moon", "moon.png"),
    ("motorcycle", "stereo_motorcycle", "motorcycle_left.png"),
    ("page", "page", "page.png"),
    ("retina", "retina", "retina.jpg"),
    ("rocket", "rocket", "rocket.jpg"),
    ("text", "text", "text.png"),
)


def _crop5(im: Image.Image) -> Image.Image:
    # 5 % of each side's length cut away, half on each edge (the central 95 % x 95 % kept).
    w, h = im.size
    dx, dy = round(w * 0.025), round(h * 0.025)
    return im.crop((dx, dy, w - dx, h - dy))


#: Variant -> (transform of the source pixels, JPEG quality). "copy" is the original's bytes.
VARIANTS: dict[str, tuple[Callable[[Image.Image], Image.Image], int]] = {
    "original": (lambda im: im, 95),
    "copy": (lambda im: im, 95),
    "jpeg_q60": (lambda im: im, 60),
    "resize_50": (
        lambda im: im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS),
        95,
    ),
    "crop_5": (_crop5, 95),
    "bright_15": (lambda im: ImageEnhance.Brightness(im).enhance(1.15), 95),
    "rotate_3": (lambda im: im.rotate(3, resample=Image.Resampling.BICUBIC), 95),
    "flip": (ImageOps.mirror, 95),
}
#: Variants stored in the source's own subject folder for every WITHIN_EVERY-th source.
WITHIN_VARIANTS = ("jpeg_q60", "flip")
WITHIN_EVERY = 5
QUALITY_SUBJECTS = 10


@dataclass
class LabelledSet:
    """The quality set: dataset root, flat folder for imagededup and what each file is."""

    root: Path
    flat: Path
    source: dict[str, str] = field(default_factory=dict)  # dataset path -> source photo
    variant: dict[str, str] = field(default_factory=dict)  # dataset path -> variant
    subject: dict[str, str] = field(default_factory=dict)  # dataset path -> subject id
    from_flat: dict[str, str] = field(default_factory=dict)  # flat name -> dataset path
    skipped: list[str] = field(default_factory=list)
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)  # source -> (w, h)


def load_photos() -> tuple[dict[str, Image.Image], list[str]] | None:
    """skimage's on-disk photographs as PIL images, and the ones skipped (with why)."""
    try:
        import skimage.data as skdata  # type: ignore[import-not-found, import-untyped, unused-ignore]
        from skimage.util import img_as_ubyte  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError as exc:
        print(f"quality part skipped: scikit-image is not importable ({exc}); see the docstring")
        return None
    data_dir = Path(skdata.__file__).parent
    photos: dict[str, Image.Image] = {}
    skipped: list[str] = []
    for name, func, fname in SKIMAGE_PHOTOS:
        if not (data_dir / fname).is_file():
            skipped.append(f"{name} ({fname} not on disk: would need a download)")
            continue
        arr = getattr(skdata, func)()
        if isinstance(arr, tuple):  # stereo_motorcycle: (left, right, disparity)
            arr = arr[0]
        arr = np.asarray(arr)
        if arr.dtype != np.uint8:
            arr = img_as_ubyte(arr)  # type: ignore[no-untyped-call, unused-ignore]
        if arr.ndim == 3 and arr.shape[2] == 4:
            arr = arr[:, :, :3]
        photos[name] = Image.fromarray(np.ascontiguousarray(arr))
    return photos, skipped


def build_labelled_set(work: Path, photos: dict[str, Image.Image]) -> LabelledSet:
    """Write every photo and its variants as a norwoodkit dataset plus a flat folder of links.

    Source s, variant k goes to subject (s + k) mod 10 + 1, so its eight files sit in eight
    different subjects; for every fifth source the WITHIN_VARIANTS stay in the original's folder.
    """
    ls = LabelledSet(root=work / "quality", flat=work / "quality-flat")
    ls.root.mkdir()
    ls.flat.mkdir()
    for s, (name, im) in enumerate(photos.items()):
        ls.sizes[name] = im.size
        home = s % QUALITY_SUBJECTS + 1
        original: Path | None = None
        for k, (var, (transform, quality)) in enumerate(VARIANTS.items()):
            sid = (s + k) % QUALITY_SUBJECTS + 1
            if s % WITHIN_EVERY == 0 and var in WITHIN_VARIANTS:
                sid = home
            rel = f"{sid}/{name}_{var}.jpg"
            path = ls.root / rel
            path.parent.mkdir(exist_ok=True)
            if var == "copy" and original is not None:
                shutil.copyfile(original, path)
            else:
                transform(im).save(path, "JPEG", quality=quality)
            if var == "original":
                original = path
            flat_name = f"{sid}__{name}_{var}.jpg"
            link_or_copy(path, ls.flat / flat_name)
            ls.source[rel], ls.variant[rel], ls.subject[rel] = name, var, str(sid)
            ls.from_flat[flat_name] = rel
    records = [
        {
            "id": str(i),
            "label": f"Stage {i % 7 + 1}",
            "age": str(30 + i),
            "gender": "male",
            "ethnicity": "X",
        }
        for i in range(1, QUALITY_SUBJECTS + 1)
    ]
    (ls.root / "annotation.json").write_text(json.dumps(records, indent=2), encoding="utf-8")
    return ls


@dataclass
class Score:
    """One method's pairs scored against the ground truth."""

    method: str
    predicted: int
    tp: int
    fp: int
    fn: int
    tp_cross: int
    pos_cross: int
    tp_within: int
    pos_within: int
    per_variant: dict[str, tuple[int, int]]  # variant -> (found, total) of original-variant pairs
    false_pairs: list[tuple[Pair, int]]


def positives(ls: LabelledSet) -> set[Pair]:
    paths = sorted(ls.source)
    return {
        unordered(a, b)
        for i, a in enumerate(paths)
        for b in paths[i + 1 :]
        if ls.source[a] == ls.source[b]
    }


def score(method: str, found: dict[Pair, int], ls: LabelledSet, truth: set[Pair]) -> Score:
    pred = set(found)
    tp = pred & truth
    cross = {p for p in truth if ls.subject[p[0]] != ls.subject[p[1]]}
    within = truth - cross
    per_variant: dict[str, tuple[int, int]] = {}
    for var in VARIANTS:
        if var != "original":
            wanted = {unordered(a, b) for a, b in variant_pairs(ls, var)}
            per_variant[var] = (len(wanted & pred), len(wanted))
    false_pairs = sorted(((p, found[p]) for p in pred - truth), key=lambda x: (x[1], x[0]))
    return Score(
        method=method,
        predicted=len(pred),
        tp=len(tp),
        fp=len(pred - truth),
        fn=len(truth - pred),
        tp_cross=len(tp & cross),
        pos_cross=len(cross),
        tp_within=len(tp & within),
        pos_within=len(within),
        per_variant=per_variant,
        false_pairs=false_pairs,
    )


def _original_of(ls: LabelledSet, path: str) -> str:
    name = ls.source[path]
    for p, v in ls.variant.items():
        if v == "original" and ls.source[p] == name:
            return p
    raise KeyError(path)


def variant_pairs(ls: LabelledSet, var: str) -> list[Pair]:
    """(original, variant) dataset paths, one per source."""
    return [(_original_of(ls, p), p) for p, v in ls.variant.items() if v == var]


def norwoodkit_pairs(result: dedupe.DedupeResult, tiers: Iterable[str]) -> dict[Pair, int]:
    keep = set(tiers)
    p = result.pairs
    p = p[p["tier"].isin(keep)]
    return {
        unordered(str(a), str(b)): int(d)
        for a, b, d in zip(p["a"], p["b"], p["distance"], strict=True)
    }


def run_quality(args: argparse.Namespace, work: Path) -> None:
    print("\n== quality: same-source pairs among skimage photographs and their variants ==")
    loaded = load_photos()
    if loaded is None:
        return
    photos, skipped = loaded
    dd = import_imagededup()
    t0 = time.perf_counter()
    ls = build_labelled_set(work, photos)
    ls.skipped = skipped
    truth = positives(ls)
    n_files = len(ls.source)
    print(
        f"set: {len(photos)} source photos x {len(VARIANTS)} files (original JPEG q95 + "
        f"{len(VARIANTS) - 1} variants) = {n_files} files in {QUALITY_SUBJECTS} subject folders, "
        f"written in {time.perf_counter() - t0:.1f} s"
    )
    print("sources: " + ", ".join(f"{n} {w}x{h}" for n, (w, h) in ls.sizes.items()))
    if skipped:
        print("skipped: " + "; ".join(skipped))
    cross = sum(1 for a, b in truth if ls.subject[a] != ls.subject[b])
    print(
        f"ground truth: {len(truth)} positive pairs ({cross} cross-subject, "
        f"{len(truth) - cross} within-subject) of {n_files * (n_files - 1) // 2} pairs"
    )
    print(
        "variants: copy = the original's bytes; crop_5 keeps the central 95 % of each side; "
        "rotate_3 = 3 degrees, bicubic, black corners, same canvas; bright_15 = "
        "ImageEnhance.Brightness(1.15); resize_50 = Lanczos; all re-encoded q95 but jpeg_q60"
    )

    scores: list[Score] = []
    t0 = time.perf_counter()
    ds = probe.run(dataset.load(ls.root), use_cache=False, workers=args.workers)
    results = {
        m: dedupe.find(ds, dedupe.DedupeOptions(same=4, near=10, mirror=m)) for m in (False, True)
    }
    ours_s = time.perf_counter() - t0
    for mirror, result in results.items():
        tag = " +mirror" if mirror else ""
        for label, tiers in (
            ("exact (sha256)", ("exact",)),
            ("same (<= 4)", ("exact", "same")),
            ("near (<= 10)", ("exact", "same", "near")),
        ):
            if mirror and label.startswith("exact"):
                continue
            scores.append(
                score(f"norwoodkit {label}{tag}", norwoodkit_pairs(result, tiers), ls, truth)
            )
    dd_s = 0.0
    if dd is not None:
        print(f"imagededup: {dd.how}")
        for threshold in (10, 4):
            t0 = time.perf_counter()
            raw = imagededup_pairs(dd, ls.flat, threshold, args.workers)
            dd_s += time.perf_counter() - t0
            mapped = {unordered(ls.from_flat[a], ls.from_flat[b]): d for (a, b), d in raw.items()}
            default = " (default)" if threshold == 10 else ""
            scores.append(score(f"imagededup PHash T={threshold}{default}", mapped, ls, truth))
    print(
        f"time: norwoodkit probe + 2 finds {ours_s:.2f} s"
        + (f"; imagededup 2 runs {dd_s:.2f} s" if dd is not None else "")
    )

    print()
    head = (
        f"{'method':<34}{'pairs':>6}{'TP':>6}{'FP':>5}{'FN':>6}{'prec %':>8}{'recall %':>9}"
        f"{'cross %':>8}{'within %':>9}"
    )
    print(head)
    print("-" * len(head))
    for sc in scores:
        print(
            f"{sc.method:<34}{sc.predicted:>6}{sc.tp:>6}{sc.fp:>5}{sc.fn:>6}"
            f"{fmt_pct(sc.tp, sc.predicted):>8}{fmt_pct(sc.tp, sc.tp + sc.fn):>9}"
            f"{fmt_pct(sc.tp_cross, sc.pos_cross):>8}{fmt_pct(sc.tp_within, sc.pos_within):>9}"
        )
    print(
        "recall counts all same-source pairs (variant vs variant too); cross/within: recall "
        "of the cross-subject and within-subject true pairs"
    )

    # Per variant: recall of (original, variant) pairs, and our phash distances for them.
    t = ds.images.set_index("path")
    hashes = {
        p: (str(h), str(m)) for p, h, m in zip(t.index, t["phash"], t["phash_mirror"], strict=True)
    }
    print()
    short = [_short(sc.method) for sc in scores]
    head = f"{'variant':<11}{'phash d med/max':>16}{'mirror d':>9}  " + "".join(
        f"{s:>{max(len(s), 7) + 1}}" for s in short
    )
    print("recall of (original, variant) pairs, found/total; d = norwoodkit phash distance")
    print(head)
    print("-" * len(head))
    for var in VARIANTS:
        if var == "original":
            continue
        pairs = variant_pairs(ls, var)
        direct = [dedupe.hamming(hashes[a][0], hashes[b][0]) for a, b in pairs]
        flipped = [
            min(
                dedupe.hamming(hashes[a][0], hashes[b][0]),
                dedupe.hamming(hashes[a][0], hashes[b][1]),
            )
            for a, b in pairs
        ]
        dtxt = f"{statistics.median(direct):g}/{max(direct)}"
        mtxt = f"{statistics.median(flipped):g}/{max(flipped)}"
        cells = "".join(
            f"{'{}/{}'.format(*sc.per_variant[var]):>{max(len(s), 7) + 1}}"
            for sc, s in zip(scores, short, strict=True)
        )
        print(f"{var:<11}{dtxt:>16}{mtxt:>9}  {cells}")
    print(
        "columns: " + "; ".join(f"{s} = {sc.method}" for s, sc in zip(short, scores, strict=True))
    )
    # The margin: how close do photos of different sources come?
    paths = sorted(hashes)
    closest: list[tuple[int, int, Pair]] = []
    for k, a in enumerate(paths):
        for b in paths[k + 1 :]:
            if ls.source[a] != ls.source[b]:
                d = dedupe.hamming(hashes[a][0], hashes[b][0])
                dm = min(d, dedupe.hamming(hashes[a][0], hashes[b][1]))
                closest.append((d, dm, (a, b)))
    by_direct = min(closest)
    by_mirror = min(closest, key=lambda x: (x[1], x[0]))
    print(
        f"closest different-source pair, norwoodkit phash: d={by_direct[0]} "
        f"({_label(ls, by_direct[2])}); with mirror: d={by_mirror[1]} ({_label(ls, by_mirror[2])})"
    )

    for sc in scores:
        if sc.false_pairs:
            shown = ", ".join(
                f"{_label(ls, p)} (d={d})" for p, d in sc.false_pairs[: args.show_false]
            )
            more = len(sc.false_pairs) - args.show_false
            print(
                f"false pairs, {sc.method}: {shown}" + (f" ... and {more} more" if more > 0 else "")
            )


def _label(ls: LabelledSet, pair: Pair) -> str:
    a, b = pair
    return f"{ls.source[a]}/{ls.variant[a]} ~ {ls.source[b]}/{ls.variant[b]}"


def _short(method: str) -> str:
    m = method.replace("norwoodkit ", "nk ").replace("imagededup PHash ", "idd ")
    m = m.replace(" (default)", "").replace(" (sha256)", "").replace("+mirror", "+m")
    return m.replace("(<= 4)", "").replace("(<= 10)", "").replace("  ", " ").strip()


# --------------------------------------------------------------------------- speed


def run_speed(args: argparse.Namespace, work: Path) -> None:
    print(f"\n== speed: cold dedupe of {args.subjects * 5} 12-megapixel JPEGs ==")
    dd = import_imagededup()
    root = work / "speed"
    t0 = time.perf_counter()
    sample.write(
        root,
        sample.SampleOptions(subjects=args.subjects, size="12mp", seed=1, workers=args.workers),
    )
    print(f"sample.write: {time.perf_counter() - t0:.1f} s")
    ds0 = dataset.load(root)
    paths = [str(p) for p in ds0.images["path"]]
    flat = work / "speed-flat"
    flat.mkdir()
    for p in paths:
        link_or_copy(root / p, flat / p.replace("/", "__"))
    n = len(paths)
    mb = sum((root / p).stat().st_size for p in paths) / 1e6
    mp = []
    for p in paths:
        with Image.open(root / p) as im:
            mp.append(im.size[0] * im.size[1] / 1e6)
    print(
        f"data: {n} JPEGs, {statistics.mean(mp):.1f} MP on average ({min(mp):.1f}-{max(mp):.1f})"
        f", {mb:.0f} MB; OS file cache warm (just written) for every contender"
    )
    w = args.workers

    def ours() -> int:
        ds = probe.run(dataset.load(root), use_cache=False, workers=w)
        return len(dedupe.find(ds, dedupe.DedupeOptions(same=4, near=10)).pairs)

    def cli() -> int:
        cmd = [
            sys.executable, "-m", "norwoodkit", "dedupe", str(root),
            "--no-cache", "--json", "--quiet", "--workers", str(w),
        ]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode not in (0, 1):
            raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr[-2000:]}")
        return int(json.loads(done.stdout)["counts"]["pairs"])

    contenders: dict[str, Callable[[], int]] = {
        "norwoodkit probe.run + find": ours,
        "norwoodkit CLI (new process)": cli,
    }
    if dd is not None:
        print(f"imagededup: {dd.how}; num_enc_workers={w}, num_dist_workers={w}")

        def theirs() -> int:
            return len(imagededup_pairs(dd, flat, 10, w))

        contenders["imagededup PHash.find_duplicates"] = theirs
    else:
        print("imagededup missing: timing norwoodkit alone")

    found: dict[str, int] = {}
    for name, fn in contenders.items():  # warm-up: worker start-up paths, imports, page cache
        found[name] = fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    order = list(contenders)
    for r in range(args.repeats):
        for name in order if r % 2 == 0 else order[::-1]:  # interleaved, order alternating
            t0 = time.perf_counter()
            contenders[name]()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}

    print(f"\nload average after the timed runs (1/5/15 min): {load_average()}")
    head = f"{'contender':<36}{'median s':>9}{'images/s':>10}{'pairs':>7}  runs (s)"
    print(head)
    print("-" * len(head))
    for name in contenders:
        runs = " ".join(f"{x:.2f}" for x in times[name])
        print(f"{name:<36}{med[name]:>9.2f}{n / med[name]:>10.1f}{found[name]:>7}  {runs}")
    if dd is not None:
        ref = med["imagededup PHash.find_duplicates"]
        print(
            f"\nspeed-up vs imagededup (target >= 4x): in-process "
            f"{ref / med['norwoodkit probe.run + find']:.2f}x; CLI incl. interpreter start "
            f"{ref / med['norwoodkit CLI (new process)']:.2f}x"
        )
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "from imagededup.methods import PHash"],
            capture_output=True,
            check=False,
        )
        print(
            f"(imagededup's in-process time excludes its import, which a fresh process pays: "
            f"{time.perf_counter() - t0:.1f} s for `from imagededup.methods import PHash`)"
        )


# --------------------------------------------------------------------------- scale


def expected_random_pairs(n: int, threshold: int) -> float:
    """Pairs of independent uniform 64-bit hashes expected within the threshold."""
    p = sum(math.comb(64, k) for k in range(threshold + 1)) / 2.0**64
    return n * (n - 1) / 2 * p


def peak_rss_kib() -> int:
    """This process's peak resident set size in KiB: VmHWM, else ru_maxrss.

    VmHWM belongs to the address space, which exec replaces, so it counts only this program;
    ru_maxrss survives exec on Linux and would report the parent's peak if that was larger.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def scale_child(n: int, args: argparse.Namespace) -> None:
    """One size, in this (fresh, single-core) process; prints one JSON line."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    rng = np.random.default_rng(args.seed)
    hashes = rng.integers(0, np.iinfo(np.uint64).max, size=n, dtype=np.uint64, endpoint=True)
    planted = min(args.planted, n // 2)
    idx = rng.permutation(n)[: 2 * planted].reshape(-1, 2)
    truth: dict[Pair, int] = {}
    for k, (a, b) in enumerate(idx.tolist()):
        d = k % (args.threshold + 1)
        bits = rng.choice(64, size=d, replace=False)
        mask = np.uint64(sum(1 << int(x) for x in bits))
        hashes[b] = hashes[a] ^ mask
        truth[(str(min(a, b)), str(max(a, b)))] = d
    rss_before = peak_rss_kib()
    t0 = time.perf_counter()
    i, j, dist = dedupe.hamming_pairs(
        hashes, args.threshold, block_rows=args.block_rows, block_cols=args.block_cols
    )
    seconds = time.perf_counter() - t0
    rss_peak = peak_rss_kib()
    got = {
        (str(a), str(b)): int(d)
        for a, b, d in zip(i.tolist(), j.tolist(), dist.tolist(), strict=True)
    }
    planted_found = sum(1 for p, d in truth.items() if got.get(p) == d)
    traced: int | None = None
    if n <= args.tracemalloc_max:
        del i, j, dist
        tracemalloc.start()
        dedupe.hamming_pairs(
            hashes, args.threshold, block_rows=args.block_rows, block_cols=args.block_cols
        )
        traced = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    print(
        json.dumps(
            {
                "n": n,
                "seconds": seconds,
                "pairs": len(got),
                "planted": len(truth),
                "planted_found": planted_found,
                "rss_before_kib": rss_before,
                "rss_peak_kib": rss_peak,
                "tracemalloc_peak_bytes": traced,
                "cpu": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [],
            }
        )
    )


def run_scale(args: argparse.Namespace) -> None:
    sizes = [int(x) for x in args.scale_sizes.split(",") if x.strip()]
    print(
        f"\n== scale: hamming_pairs(threshold={args.threshold}, block_rows={args.block_rows}, "
        f"block_cols={args.block_cols}) on random uint64 hashes + {args.planted} planted pairs =="
    )
    print(
        "each size in a fresh subprocess pinned to one CPU, OMP/OPENBLAS/MKL threads = 1; "
        "peak RSS = VmHWM of that process (its imports included: numpy, pandas, norwoodkit); "
        "MB = 10^6 bytes"
    )
    env = dict(os.environ)
    for var in (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
    ):
        env[var] = "1"
    rows: list[dict[str, Any]] = []
    head = (
        f"{'hashes':>9}{'seconds':>10}{'pairs':>8}{'expected':>10}{'planted':>9}"
        f"{'RSS before MB':>15}{'peak RSS MB':>13}{'traced peak MB':>16}"
    )
    print()
    print(head)
    print("-" * len(head))
    for n in sizes:
        cmd = [
            sys.executable, str(Path(__file__).resolve()), "--scale-child", str(n),
            "--threshold", str(args.threshold), "--planted", str(args.planted),
            "--block-rows", str(args.block_rows), "--block-cols", str(args.block_cols),
            "--tracemalloc-max", str(args.tracemalloc_max), "--seed", str(args.seed),
        ]  # fmt: skip
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"{n:>9}  failed (exit {done.returncode}): {done.stderr[-1500:]}")
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(row)
        traced = row["tracemalloc_peak_bytes"]
        tr = f"{traced / 1e6:.1f}" if traced is not None else "-"
        print(
            f"{n:>9}{row['seconds']:>10.2f}{row['pairs']:>8}"
            f"{expected_random_pairs(n, args.threshold) + row['planted']:>10.0f}"
            f"{str(row['planted_found']) + '/' + str(row['planted']):>9}"
            f"{row['rss_before_kib'] * 1.024e-3:>15.0f}"
            f"{row['rss_peak_kib'] * 1.024e-3:>13.0f}{tr:>16}",
            flush=True,
        )
    print(
        "expected = planted + random pairs expected within the threshold; "
        "planted = planted pairs found at their exact distance"
    )
    for a, b in itertools.pairwise(rows):
        ratio = b["seconds"] / a["seconds"]
        size_ratio = b["n"] / a["n"]
        print(
            f"growth {b['n']:,}/{a['n']:,}: time x{ratio:.1f} (quadratic would be "
            f"x{size_ratio**2:.0f}), peak RSS x{b['rss_peak_kib'] / a['rss_peak_kib']:.2f}"
        )
    big = [r for r in rows if r["n"] >= 1_000_000]
    for r in big:
        ok_t = "met" if r["seconds"] <= 600 else "MISSED"
        ok_m = "met" if r["rss_peak_kib"] * 1024 < 1e9 else "MISSED"
        print(
            f"targets at {r['n']:,}: time {r['seconds']:.0f} s <= 600 s {ok_t}; "
            f"peak RSS {r['rss_peak_kib'] * 1.024e-3:.0f} MB < 1 GB {ok_m}"
        )


# --------------------------------------------------------------------------- main


def main() -> None:
    doc = __doc__ or ""
    ap = argparse.ArgumentParser(
        description=doc.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--part", choices=("quality", "speed", "scale", "all"), default="all")
    ap.add_argument("--subjects", type=int, default=10, help="speed: subjects (5 images each)")
    ap.add_argument("--repeats", type=int, default=3, help="speed: timed runs per contender")
    ap.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="processes for every contender"
    )
    ap.add_argument("--show-false", type=int, default=5, help="quality: false pairs to list")
    ap.add_argument("--scale-sizes", default="10000,100000,1000000")
    ap.add_argument("--threshold", type=int, default=10, help="scale: distance threshold")
    ap.add_argument("--planted", type=int, default=100, help="scale: planted near pairs")
    ap.add_argument("--block-rows", type=int, default=dedupe.DedupeOptions.block_rows)
    ap.add_argument("--block-cols", type=int, default=dedupe.DedupeOptions.block_cols)
    ap.add_argument(
        "--tracemalloc-max",
        type=int,
        default=100_000,
        help="scale: also trace numpy allocations (a second search) up to this size",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="write the data sets here (kept) instead of /tmp")
    ap.add_argument("--scale-child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.scale_child is not None:
        scale_child(args.scale_child, args)
        return
    print_machine(args.workers)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=False)
    work = args.keep or Path(tempfile.mkdtemp(prefix="nk-bench-dedupe-"))
    started = time.perf_counter()
    try:
        if args.part in ("quality", "all"):
            run_quality(args, work)
        if args.part in ("speed", "all"):
            run_speed(args, work)
        if args.part in ("scale", "all"):
            run_scale(args)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\ntotal wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
