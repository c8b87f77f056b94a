"""croissant.json: mlcroissant validates it and reads back the shards' rows (count, labels,
image bytes and pixels, split) and class names, in every layout: unsplit, ratios, custom
names, k folds, subject layout and resized shards."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from conftest import PACK_LAYOUTS
from norwoodkit.pack.croissant import CONFORMS_TO, croissant

mlc = pytest.importorskip("mlcroissant")

LAYOUTS = PACK_LAYOUTS


@pytest.fixture(scope="module")
def packs(layout_packs: dict[str, tuple[Path, dict[str, Any] | None]]) -> dict[str, Path]:
    """One pack of the clean sample per layout (built once per session in conftest)."""
    return {name: folder for name, (folder, _) in layout_packs.items()}


def _manifest(folder: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((folder / "manifest.json").read_text())
    return doc


def _shard_rows(folder: Path) -> Iterator[dict[str, Any]]:
    """Every row of every shard the manifest lists, as pyarrow reads it."""
    for split in _manifest(folder)["splits"].values():
        for rec in split["shards"]:
            yield from pq.read_table(folder / rec["path"]).to_pylist()


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def _pixels(img: Image.Image) -> bytes:
    return np.asarray(img.convert("RGB")).tobytes()


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_mlcroissant_validates_it_without_errors(packs: dict[str, Path], layout: str) -> None:
    from mlcroissant._src.core.issues import ValidationError

    path = packs[layout] / "croissant.json"
    try:
        dataset = mlc.Dataset(str(path))
    except ValidationError as exc:  # pragma: no cover - the message is the assertion
        pytest.fail(f"mlcroissant refused {path}: {exc}")
    assert dataset.metadata.ctx.issues.errors == set()
    doc = json.loads(path.read_text())
    assert doc["conformsTo"] == CONFORMS_TO
    assert doc == croissant(_manifest(packs[layout]))  # written from the manifest alone


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_records_read_back_equal_the_shards(packs: dict[str, Path], layout: str) -> None:
    folder = packs[layout]
    manifest = _manifest(folder)
    images = [k for k, v in manifest["features"].items() if v["_type"] == "Image"]
    records = list(mlc.Dataset(str(folder / "croissant.json")).records("default"))
    assert len(records) == manifest["rows"]
    # A row is one image (subject, view) or one subject (subject layout: no view column).
    shards = {(row["subject_id"], row.get("view", "")): row for row in _shard_rows(folder)}
    seen = set()
    for rec in records:
        row = {k.removeprefix("default/"): _text(v) for k, v in rec.items()}
        k = (row["subject_id"], row.get("view", ""))
        want = shards[k]
        seen.add(k)
        assert row["label"] == want["label"]
        assert row["split"] == want["split"]
        assert row["stage"] == want["stage"]
        for col in images:
            data = want[col]["bytes"]
            view = col.removeprefix("image")
            # sha256 describes the original file: the stored bytes are it unless resized or
            # turned upright (--orientation apply re-encodes photos with an EXIF orientation).
            stored_as_is = want[f"orientation{view}"] in (None, 1)
            if data is not None and manifest["options"]["resize"] is None and stored_as_is:
                assert hashlib.sha256(data).hexdigest() == want[f"sha256{view}"]
            assert _pixels(row[col]) == _pixels(Image.open(io.BytesIO(data)))
    assert seen == set(shards)
    assert {r["split"] for r in shards.values()} == set(manifest["splits"])


def test_split_and_class_record_sets(packs: dict[str, Path]) -> None:
    folder = packs["folds"]
    manifest = _manifest(folder)
    dataset = mlc.Dataset(str(folder / "croissant.json"))
    splits = [_text(r["splits/name"]) for r in dataset.records("splits")]
    assert splits == list(manifest["splits"]) == ["fold_0", "fold_1", "fold_2"]
    classes = {
        r["stage_classes/label"]: _text(r["stage_classes/name"])
        for r in dataset.records("stage_classes")
    }
    assert classes == dict(enumerate(manifest["label_names"]))
    doc = json.loads((folder / "croissant.json").read_text())
    split_set = next(rs for rs in doc["recordSet"] if rs["@id"] == "splits")
    assert split_set["dataType"] == "cr:Split"


def test_files_carry_their_sha256_and_the_fileset_covers_every_shard(
    packs: dict[str, Path],
) -> None:
    folder = packs["ratios"]
    doc = json.loads((folder / "croissant.json").read_text())
    files = [d for d in doc["distribution"] if d["@type"] == "cr:FileObject"]
    listed = [r for s in _manifest(folder)["splits"].values() for r in s["shards"]]
    assert {f["contentUrl"] for f in files} == {r["path"] for r in listed}
    for f in files:
        assert f["sha256"] == hashlib.sha256((folder / f["contentUrl"]).read_bytes()).hexdigest()
        assert f["encodingFormat"] == "application/x-parquet"
    fileset = next(d for d in doc["distribution"] if d["@type"] == "cr:FileSet")
    matched = {
        p.relative_to(folder).as_posix() for g in fileset["includes"] for p in folder.glob(g)
    }
    assert matched == {r["path"] for r in listed}
