"""Every pack layout read by every client: the same rows, split names, labels, class names and
pixels, no error and no silent drop.

Layouts: no split file, train/val/test, custom names, 5 folds, subject layout, ``--resize``
shards; each packed once per module from the shared clean sample. Clients: Hugging Face
``load_dataset(DIR)`` (the default config and every fold config) and
``load_dataset("parquet", data_dir=DIR)``, the pyarrow calls the docs support, DuckDB over
``DIR/**/*.parquet``, Polars ``scan_parquet``, and our ``ShardIndex``/``ShardDataset``. What
each client returns is compared with what the split file and the dataset say, not with another
client, so one wrong client cannot hide behind the others.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from PIL import Image, ImageOps

from norwoodkit import dataset, pack, probe
from norwoodkit import split as splits
from norwoodkit.columns import STAGE_NAMES

datasets = pytest.importorskip("datasets")

Pixels = np.ndarray


@dataclass(frozen=True)
class Case:
    """One layout: how its subjects are split (None: no split file), the split file's column,
    and the pack options."""

    assign: Callable[[int], str] | None
    column: str = "split"
    layout: pack.Layout = pack.Layout.IMAGE
    resize: int | None = None


RATIOS = ("train", "train", "train", "val", "test")
CASES = {
    "unsplit": Case(None),
    "ratios": Case(lambda i: RATIOS[i % 5]),
    "custom": Case(lambda i: ("train", "calib", "holdout")[i % 3]),
    "folds": Case(lambda i: str(i % 5), column="fold"),
    "subject": Case(lambda i: RATIOS[i % 5], layout=pack.Layout.SUBJECT),
    "resized": Case(lambda i: RATIOS[i % 5], resize=32),
}
#: What each layout's splits are written as (the Hub's names).
WRITTEN = {
    "unsplit": ["train"],
    "ratios": ["train", "validation", "test"],
    "custom": ["train", "calib", "holdout"],
    "folds": [f"fold_{i}" for i in range(5)],
    "subject": ["train", "validation", "test"],
    "resized": ["train", "validation", "test"],
}
#: Pixels are compared for this many rows of each split.
PICKS_PER_SPLIT = 2


@dataclass
class Packed:
    """A pack folder and what every client must find in it."""

    folder: Path
    case: Case
    expected: dict[str, dict[str, int]]  # split -> key (image path or subject id) -> label
    sources: dict[str, Path]  # key -> the source file whose pixels a client must return
    picks: set[str]  # keys whose pixels are compared
    turned: set[str]  # keys whose photo carries an EXIF orientation (stored upright, re-encoded)


@dataclass
class Seen:
    """What one client read: split -> key -> label, pixels of the picked keys, class names."""

    rows: dict[str, dict[str, int]] = field(default_factory=dict)
    pixels: dict[str, Pixels] = field(default_factory=dict)
    class_names: list[str] | None = None


@pytest.fixture(scope="module", autouse=True)
def _hf_offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """HF ``datasets`` caches under this module's tmp folder (never the user's, never shared
    between tests: each load also gets its own ``cache_dir``) and never goes online."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_DATASETS_CACHE", str(tmp_path_factory.mktemp("hf-cache")))
        mp.setenv("HF_DATASETS_OFFLINE", "1")
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield


@pytest.fixture(scope="module")
def probed(clean_sample: Path) -> dataset.ProbedDataset:
    return probe.run(dataset.load(clean_sample), workers=1)


@pytest.fixture(scope="module")
def packs(
    probed: dataset.ProbedDataset, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Packed]:
    """Every layout packed once, through a split file on disk as a user would."""
    work = tmp_path_factory.mktemp("packs")
    return {name: _pack(probed, work, name, case) for name, case in CASES.items()}


def _pack(probed: dataset.ProbedDataset, work: Path, name: str, case: Case) -> Packed:
    images = probed.images
    ids = sorted(images["subject_id"].astype(str).unique(), key=int)
    assignment = None
    split_of = {sid: "train" for sid in ids}
    if case.assign is not None:
        split_file = work / f"{name}.csv"
        names = [case.assign(int(sid)) for sid in ids]
        pd.DataFrame({"subject_id": ids, case.column: names}).to_csv(split_file, index=False)
        assignment = splits.read_assignment(split_file)
        written = {n: WRITTEN[name][_order(name).index(n)] for n in set(names)}
        split_of = {sid: written[n] for sid, n in zip(ids, names, strict=True)}
    opts = pack.PackOptions(
        layout=case.layout, resize=case.resize, shard_size=pack.parse_size("64KiB"), workers=1
    )
    folder = work / name
    pack.write(probed, folder, opts, splits=assignment)
    return _expect(probed, folder, case, split_of)


def _order(name: str) -> list[str]:
    """The split file's names in ``WRITTEN``'s order."""
    return {"folds": [str(i) for i in range(5)]}.get(
        name, [{"validation": "val"}.get(w, w) for w in WRITTEN[name]]
    )


def _expect(
    probed: dataset.ProbedDataset, folder: Path, case: Case, split_of: dict[str, str]
) -> Packed:
    """What the dataset and the split file say the pack holds; the rows whose pixels are
    compared are ordinary photos and, per split, one stored upright from an EXIF tag."""
    t = probed.images
    t = t[(t["status"] == "ok") & t["stage"].notna()].copy()
    t["subject_id"] = t["subject_id"].astype(str)
    # Photos with an EXIF orientation are stored upright (`--orientation apply`, the default):
    # every client, a plain PIL open included, must show them turned. Each split's picks hold
    # ordinary photos and, where the split has one, a turned photo.
    turned = t["orientation"].notna() & (t["orientation"] != 1)
    expected: dict[str, dict[str, int]] = {}
    sources: dict[str, Path] = {}
    plain: dict[str, list[str]] = {}
    assert isinstance(probed.root, Path)
    rotated: dict[str, list[str]] = {}
    if case.layout is pack.Layout.IMAGE:
        for path, sid, stage, tag in zip(
            t["path"], t["subject_id"], t["stage"], turned, strict=True
        ):
            split = split_of[sid]
            expected.setdefault(split, {})[path] = int(stage) - 1
            sources[path] = probed.root / path
            (rotated if tag else plain).setdefault(split, []).append(path)
    else:
        for sid, rows in t.groupby("subject_id"):
            split = split_of[str(sid)]
            expected.setdefault(split, {})[str(sid)] = int(rows["stage"].iloc[0]) - 1
            front = rows[rows["view"] == "front"]
            sources[str(sid)] = probed.root / str(front["path"].iloc[0])
            tag = bool(turned[front.index].any())
            (rotated if tag else plain).setdefault(split, []).append(str(sid))
    picks = {k for keys in plain.values() for k in sorted(keys)[:PICKS_PER_SPLIT]}
    picks |= {k for keys in rotated.values() for k in sorted(keys)[:1]}
    # The image layouts must compare turned photos (the subject layout compares front views,
    # which this sample may not have turned).
    assert case.layout is not pack.Layout.IMAGE or any(rotated.values()), "no turned photo"
    return Packed(folder, case, expected, sources, picks, {k for v in rotated.values() for k in v})


# ----------------------------------------------------------------------------- decoding


def plain_pil(data: bytes) -> Pixels:
    """What a pyarrow, DuckDB or Polars user gets: the stored bytes opened with PIL."""
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def key_column(case: Case) -> str:
    return "image" if case.layout is pack.Layout.IMAGE else "image_front"


def from_rows(records: list[dict[str, Any]], p: Packed) -> Seen:
    """A ``Seen`` from rows with ``split``, ``label`` and the image struct (pyarrow, DuckDB,
    Polars)."""
    seen = Seen()
    col = key_column(p.case)
    for r in records:
        key = r[col]["path"] if p.case.layout is pack.Layout.IMAGE else r["subject_id"]
        seen.rows.setdefault(r["split"], {})[key] = r["label"]
        if key in p.picks:
            seen.pixels[key] = plain_pil(r[col]["bytes"])
    return seen


def class_names_of(schema: Any) -> list[str]:
    """The ClassLabel names that the shards' ``huggingface`` schema metadata declares."""
    features = json.loads(schema.metadata[b"huggingface"])["info"]["features"]
    return list(features["label"]["names"])


# ----------------------------------------------------------------------------- clients


def hf_seen(ds: Any, p: Packed) -> Seen:
    """A ``Seen`` from a Hugging Face DatasetDict."""
    seen = Seen()
    col = key_column(p.case)
    for split, part in ds.items():
        seen.class_names = part.features["label"].names
        raw = part.cast_column(col, datasets.Image(decode=False))
        if p.case.layout is pack.Layout.IMAGE:
            keys = [cell["path"] for cell in raw[col]]
        else:
            keys = list(part["subject_id"])
        seen.rows[split] = dict(zip(keys, part["label"], strict=True))
        for i, key in enumerate(keys):
            if key in p.picks:
                seen.pixels[key] = np.asarray(part[i][col].convert("RGB"))
    return seen


def hf_repo(p: Packed, cache: Path) -> Seen:
    return hf_seen(datasets.load_dataset(str(p.folder), cache_dir=str(cache)), p)


def hf_data_dir(p: Packed, cache: Path) -> Seen:
    ds = datasets.load_dataset("parquet", data_dir=str(p.folder), cache_dir=str(cache))
    return hf_seen(ds, p)


def pyarrow_data(p: Packed, cache: Path) -> Seen:
    data = pads.dataset(p.folder / "data", format="parquet")
    seen = from_rows(data.to_table().to_pylist(), p)
    seen.class_names = class_names_of(data.schema)
    return seen


def pyarrow_root(p: Packed, cache: Path) -> Seen:
    data = pads.dataset(p.folder, format="parquet", exclude_invalid_files=True)
    seen = from_rows(data.to_table().to_pylist(), p)
    seen.class_names = class_names_of(data.schema)
    return seen


def pyarrow_read_table(p: Packed, cache: Path) -> Seen:
    table = pq.read_table(p.folder / "data")
    seen = from_rows(table.to_pylist(), p)
    seen.class_names = class_names_of(table.schema)
    return seen


def duckdb_glob(p: Packed, cache: Path) -> Seen:
    duckdb = pytest.importorskip("duckdb")
    col = key_column(p.case)
    rel = duckdb.sql(f"SELECT split, label, subject_id, {col} FROM '{p.folder}/**/*.parquet'")
    names = rel.columns
    return from_rows([dict(zip(names, row, strict=True)) for row in rel.fetchall()], p)


def polars_scan(p: Packed, cache: Path) -> Seen:
    pl = pytest.importorskip("polars")
    col = key_column(p.case)
    frame = (
        pl.scan_parquet(str(p.folder / "data" / "*.parquet"))
        .select("split", "label", "subject_id", col)
        .collect()
    )
    return from_rows(frame.to_dicts(), p)


def ours(p: Packed, cache: Path) -> Seen:
    """ShardIndex for keys, labels and full-size pixels; ShardDataset streams the same rows."""
    pytest.importorskip("torch")
    from norwoodkit.loader import ShardDataset, ShardIndex

    seen = Seen(class_names=list(STAGE_NAMES))
    subject = p.case.layout is pack.Layout.SUBJECT
    views: list[Pixels] = []

    def keep(im: Image.Image) -> Any:
        import torch

        views.append(np.asarray(im.convert("RGB")))  # upright, full size, in view order
        return torch.zeros(1)

    for split in WRITTEN[p.folder.name]:
        index = ShardIndex(p.folder, split, size=None, transform=keep if subject else None)
        rows: dict[str, int] = {}
        for i in range(len(index)):
            views.clear()
            image, label, meta = index[i]
            key = meta["subject_id"] if subject else meta["path"]
            rows[key] = int(label)
            if key in p.picks:
                seen.pixels[key] = views[0] if subject else image.permute(1, 2, 0).numpy()
        seen.rows[split] = rows
        streamed = ShardDataset(p.folder, split, size=8, shuffle=False)
        assert sorted(int(s[1]) for s in streamed) == sorted(rows.values())
    return seen


CLIENTS: dict[str, Callable[[Packed, Path], Seen]] = {
    "hf-repo": hf_repo,
    "hf-data-dir": hf_data_dir,
    "pyarrow-data": pyarrow_data,
    "pyarrow-root": pyarrow_root,
    "pyarrow-read-table": pyarrow_read_table,
    "duckdb": duckdb_glob,
    "polars": polars_scan,
    "norwoodkit": ours,
}


def psnr(a: Pixels, b: Pixels) -> float:
    """Peak signal-to-noise ratio in dB of two 8-bit images of one size."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def reference(p: Packed, key: str, got: Pixels) -> None:
    """The source photo, upright: equal pixels for stored originals; for ``--resize`` copies,
    the same picture at the stored size within JPEG's error."""
    with Image.open(p.sources[key]) as im:
        want = ImageOps.exif_transpose(im).convert("RGB")
    if p.case.resize is None and key not in p.turned:
        assert np.array_equal(got, np.asarray(want)), key
        return
    if p.case.resize is None:  # turned upright and re-encoded with the source's own tables
        assert got.shape == np.asarray(want).shape, key
        assert psnr(np.asarray(want), got) > 35, key
        return
    small = np.asarray(want.resize((got.shape[1], got.shape[0]), Image.Resampling.LANCZOS))
    assert min(got.shape[:2]) == p.case.resize, key
    assert np.abs(small.astype(int) - got.astype(int)).mean() < 8, key


@pytest.mark.parametrize("client", list(CLIENTS))
@pytest.mark.parametrize("layout", list(CASES))
def test_every_client_reads_every_layout_alike(
    packs: dict[str, Packed], layout: str, client: str, tmp_path: Path
) -> None:
    p = packs[layout]
    seen = CLIENTS[client](p, tmp_path / "hf")
    assert set(seen.rows) == set(WRITTEN[layout])
    assert seen.rows == p.expected  # every row, in its split, with its label: nothing dropped
    if seen.class_names is not None:
        assert seen.class_names == list(STAGE_NAMES)
    assert set(seen.pixels) == p.picks and p.picks
    for key, got in seen.pixels.items():
        reference(p, key, got)


@pytest.mark.parametrize("fold", range(5))
def test_each_fold_config_trains_on_the_other_folds(
    packs: dict[str, Packed], fold: int, tmp_path: Path
) -> None:
    p = packs["folds"]
    ds = datasets.load_dataset(str(p.folder), f"fold_{fold}", cache_dir=str(tmp_path))
    seen = hf_seen(ds, p)
    train = {
        k: v for name, rows in p.expected.items() if name != f"fold_{fold}" for k, v in rows.items()
    }
    assert seen.rows == {"train": train, "validation": p.expected[f"fold_{fold}"]}
    assert seen.class_names == list(STAGE_NAMES)


def test_hf_lists_splits_in_the_hubs_order(packs: dict[str, Packed], tmp_path: Path) -> None:
    """train, validation, test first through the card and through the file names alike."""
    p = packs["ratios"]
    repo = datasets.load_dataset(str(p.folder), cache_dir=str(tmp_path / "a"))
    files = datasets.load_dataset("parquet", data_dir=str(p.folder), cache_dir=str(tmp_path / "b"))
    assert list(repo) == list(files) == ["train", "validation", "test"]


def test_the_split_column_says_the_written_name(packs: dict[str, Packed]) -> None:
    for name, p in packs.items():
        table = pq.read_table(p.folder / "data", columns=["split"])
        assert sorted(set(table["split"].to_pylist())) == sorted(WRITTEN[name]), name
