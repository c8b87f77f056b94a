"""Fixtures: the shared synthetic samples, and tiny real datasets built in tmp_path with named
defects."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from PIL import Image

from norwoodkit import sample
from norwoodkit.labels import VENDOR_FILENAMES, VIEWS, View
from s3server import s3, s3_server  # noqa: F401 (fixtures for every module)

#: The clean sample that every read-only test shares. The loader's tests put subjects 1-26 in
#: train (130 images, some EXIF-rotated) and the rest in test; with seed 3 those subjects are the
#: same photos whatever the subject count, so 30 serve them and every other clean test.
CLEAN_SAMPLE = sample.SampleOptions(subjects=30, seed=3, size="tiny", workers=1)
#: The defects sample that every read-only test shares: the fewest subjects that hold one of
#: every planted defect.
DEFECT_SAMPLE = sample.SampleOptions(
    subjects=sample.MIN_SUBJECTS_WITH_DEFECTS, seed=0, size="tiny", defects=True, workers=1
)


# Property-based fuzzing: a modest budget in CI, a long one under `make fuzz`.
settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "long", max_examples=20_000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True, scope="module")
def _module_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Module fixtures run before the per-test cache: each module gets one of its own, so none
    probes into the user's cache, nor shares a cache with another module or session."""
    cache = tmp_path_factory.mktemp("module-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NORWOODKIT_CACHE_DIR", str(cache))
        yield cache


@pytest.fixture(autouse=True)
def _isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Every test gets its own probe cache, never the user's."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("NORWOODKIT_CACHE_DIR", str(cache))
    yield cache


def _shared_sample(
    factory: pytest.TempPathFactory, name: str, options: sample.SampleOptions
) -> Iterator[Path]:
    root = factory.mktemp(name) / "sample"
    sample.write(root, options)
    before = snapshot(root)
    yield root
    # Every later test reads these files: one that wrote here would break the others quietly.
    assert snapshot(root) == before, f"a test changed the shared {name} sample; copy it first"


@pytest.fixture(scope="session")
def clean_sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The clean sample (``CLEAN_SAMPLE``), built once per session; read it, never write it."""
    yield from _shared_sample(tmp_path_factory, "clean", CLEAN_SAMPLE)


#: The pack layouts the card and Croissant tests read: (split arguments or None, pack arguments).
PACK_LAYOUTS: dict[str, tuple[list[str] | None, list[str]]] = {
    "unsplit": (None, []),
    "ratios": (["--ratios", "70,15,15"], []),
    "names": (["--ratios", "60,20,20", "--names", "train,calib,holdout"], []),
    "folds": (["--folds", "3"], []),
    "subject": (["--ratios", "70,30"], ["--layout", "subject"]),
    "resized": (["--ratios", "70,30"], ["--resize", "64"]),
}


@pytest.fixture(scope="session")
def layout_packs(
    clean_sample: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, dict[str, Any] | None]]:
    """One ``norwoodkit pack`` of the clean sample per ``PACK_LAYOUTS`` entry, through a split
    file as a user makes it, with that split run's --json document; read them, never write."""
    from hostile import run

    base = tmp_path_factory.mktemp("layout-packs")
    out: dict[str, tuple[Path, dict[str, Any] | None]] = {}
    for name, (split_args, pack_args) in PACK_LAYOUTS.items():
        extra: list[str | Path] = []
        doc = None
        if split_args is not None:
            spl = base / f"{name}.csv"
            line: list[str | Path] = ["split", clean_sample, "-o", spl, "--stratify", "age_bin"]
            r = run([*line, "-q", "--json", *split_args])
            assert r.exit_code == 0, r.stderr
            doc = json.loads(r.stdout)
            extra = ["--splits", spl]
        r = run(["pack", clean_sample, "--out", base / name, "-q", *extra, *pack_args])
        assert r.exit_code == 0, r.stderr
        out[name] = (base / name, doc)
    return out


@pytest.fixture(scope="session")
def defect_sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The sample with every defect planted (``DEFECT_SAMPLE``), built once per session; read
    it, never write it."""
    yield from _shared_sample(tmp_path_factory, "defects", DEFECT_SAMPLE)


def photo(seed: int, size: tuple[int, int] = (96, 72), mode: str = "RGB") -> Image.Image:
    """A small photo-like image, different for every seed even to a perceptual hash.

    Each channel is a random mix of the 8x8 lowest-frequency cosines (what phash looks at),
    plus sensor-like noise: 1,500 of these have no two phashes closer than 14 bits, so tests
    never meet accidental near duplicates.
    """
    rng = np.random.default_rng(seed)
    w, h = size
    k = np.arange(8)
    bx = np.cos(np.pi * np.outer(k, (np.arange(w) + 0.5) / w))
    by = np.cos(np.pi * np.outer(k, (np.arange(h) + 0.5) / h))
    base = np.empty((h, w, 3), np.float32)
    for c in range(3):
        coef = rng.normal(0, 1, (8, 8)) / (1 + np.add.outer(k, k))
        coef[0, 0] = 0
        field = by.T @ coef @ bx
        base[..., c] = 128 + 70 * field / (np.abs(field).max() + 1e-9)
    base += rng.normal(0, 6, base.shape)
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    return img.convert(mode) if mode != "RGB" else img


def jpeg_bytes(img: Image.Image, quality: int = 90, **kw: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, **kw)
    return buf.getvalue()


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def vendor_record(
    sid: str, stage: str = "Stage 3", age: str = "45", ethnicity: str = "Caucasians"
) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "id": sid,
        "gender": "male",
        "age": age,
        "ethnicity": ethnicity,
        "label": stage,
    }
    for v in VIEWS:
        rec[VENDOR_FILENAMES[v].removesuffix(".jpg")] = f"/{sid}/{VENDOR_FILENAMES[v]}"
    return rec


def write_annotation(root: Path, records: list[dict[str, Any]], shape: str = "list") -> None:
    """Write ``records`` as the annotation file of ``root`` in one of the shapes vendors use:
    'list', 'keyed' (by id), 'wrapped' (under "annotations") or 'csv' (every value quoted)."""
    if shape == "csv":
        fields = list(dict.fromkeys(k for r in records for k in r))
        with open(root / "annotation.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields, quoting=csv.QUOTE_ALL)
            writer.writeheader()
            writer.writerows(records)
        return
    doc: Any = records
    if shape == "keyed":
        doc = {r["id"]: {k: v for k, v in r.items() if k != "id"} for r in records}
    elif shape == "wrapped":
        doc = {"version": "1.0", "annotations": records}
    (root / "annotation.json").write_text(json.dumps(doc), encoding="utf-8")


MakeDataset = Callable[..., Path]


@pytest.fixture
def make_dataset(tmp_path: Path) -> MakeDataset:
    """Build a tiny dataset in the vendor layout; keyword arguments plant named defects.

    Args (all optional):
        subjects: number of subjects (ids 1..n).
        shape: 'list' (default), 'keyed', 'wrapped' or 'csv' (the vendor's CSV under files/).
        records: replace the generated records (list of dicts).
        missing_view: (subject, View) whose file is not written.
        corrupt: {(subject, View): bytes} written instead of the photo.
        paths_in_records: False to leave view paths out of the generated records.
    """
    counter = iter(range(10_000))

    def build(
        subjects: int = 3,
        *,
        shape: str = "list",
        records: list[dict[str, Any]] | None = None,
        missing_view: tuple[str, View] | None = None,
        corrupt: dict[tuple[str, View], bytes] | None = None,
        paths_in_records: bool = True,
        name: str | None = None,
    ) -> Path:
        root = tmp_path / (name or f"ds{next(counter)}")
        image_root = root / "files" if shape == "csv" else root
        image_root.mkdir(parents=True)
        recs = (
            records
            if records is not None
            else [
                vendor_record(str(i), stage=f"Stage {(i % 7) + 1}") for i in range(1, subjects + 1)
            ]
        )
        if not paths_in_records and records is None:
            recs = [
                {k: v for k, v in r.items() if k in ("id", "gender", "age", "ethnicity", "label")}
                for r in recs
            ]
        for i in range(1, subjects + 1):
            folder = image_root / str(i)
            folder.mkdir()
            for j, v in enumerate(VIEWS):
                if missing_view == (str(i), v):
                    continue
                data = (corrupt or {}).get((str(i), v))
                if data is None:
                    data = jpeg_bytes(photo(i * 10 + j))
                (folder / VENDOR_FILENAMES[v]).write_bytes(data)
        write_annotation(root, recs, shape)
        return root

    return build


def snapshot(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under root with its size, mtime and bytes: proof that nothing changed."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }
