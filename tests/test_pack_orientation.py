"""pack --orientation: every client sees the same upright pixels, and width/height describe them.

Real JPEGs (and a PNG) carrying EXIF orientations 2..8 are written in a temporary dataset and
packed; a plain ``PIL.Image.open`` (no exif_transpose), Hugging Face ``datasets`` and our
``ShardIndex`` must then agree with ``exif_transpose`` of the source: the same size exactly,
and pixels within ``PSNR_BOUND`` (re-encoded with the source's own tables) or equal (PNG).
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from hostile import Watch, check, run
from PIL import Image, ImageCms, ImageOps, JpegImagePlugin

from conftest import jpeg_bytes, photo, vendor_record, write_annotation
from norwoodkit import pack
from norwoodkit.errors import ParameterError
from norwoodkit.labels import VENDOR_FILENAMES, VIEWS

#: Re-encoding with the source's own (turned) tables loses this little at worst, in PSNR dB
#: against ``exif_transpose`` of the source. Where the size is a whole number of 16-pixel MCUs
#: (phone photos: 4032 x 3024) the turned blocks fall on the same grid and little is lost (48-51
#: dB measured); where it is not, the grid shifts and the loss is a fresh encode's (39-41 dB).
#: A photo turned the wrong way scores under 15 dB, and a size off by a pixel fails outright.
PSNR_BOUND = {True: 45.0, False: 37.0}

ORIENTATION = 0x0112
ALIGNED = (96, 64)  # whole 16-pixel MCUs
SIZE = (97, 75)  # neither side a multiple of the MCU: the edge blocks are partial


def exif_with(orientation: int, **tags: Any) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    for tag, value in tags.items():
        exif[int(tag.removeprefix("t"), 16)] = value
    return exif.tobytes()


def raw_exif(tag_type: int, count: int, value: bytes) -> bytes:
    """An EXIF block holding one orientation entry of any type (Pillow writes only valid ones)."""
    entry = struct.pack("<HHI", ORIENTATION, tag_type, count) + value
    return b"Exif\0\0II*\0" + struct.pack("<IH", 8, 1) + entry + struct.pack("<I", 0)


def srgb() -> bytes:
    return bytes(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())


def png_with(img: Image.Image, exif: bytes) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", exif=exif)
    return buf.getvalue()


#: subject -> view file -> bytes; views not listed are plain JPEGs with no EXIF at all.
def planted() -> dict[str, dict[str, bytes]]:
    img = [photo(100 + i, ALIGNED if i < 4 else SIZE) for i in range(12)]
    files = [VENDOR_FILENAMES[v] for v in VIEWS]
    return {
        "1": {
            files[0]: jpeg_bytes(img[0], exif=exif_with(3)),
            files[1]: jpeg_bytes(img[1], exif=exif_with(6, t010F="Vendor"), icc_profile=srgb()),
            files[2]: jpeg_bytes(img[2], exif=exif_with(8), subsampling="4:2:2"),
            files[3]: jpeg_bytes(img[3], exif=exif_with(1)),
        },
        "2": {
            files[0]: png_with(img[4], exif_with(6)),
            files[1]: jpeg_bytes(img[5], exif=exif_with(2)),
            files[2]: jpeg_bytes(img[6], exif=exif_with(5), quality=75),
            files[3]: jpeg_bytes(img[7], exif=exif_with(7), progressive=True),
            files[4]: jpeg_bytes(img[8].convert("L"), exif=exif_with(4)),
        },
    }


#: Orientation tags no client can use: each photo is stored as it is, with a warning.
BAD_EXIF = {
    "Front.jpg": b"Exif\0\0" + b"\xff\x13 not a TIFF header" * 3,
    "Top-Down.jpg": raw_exif(3, 1, struct.pack("<HH", 0, 0)),
    "Back.jpg": raw_exif(3, 1, struct.pack("<HH", 9, 0)),
    "Left.jpg": raw_exif(2, 4, b"six\0"),
    "Right.jpg": b"Exif\0\0II*\0" + struct.pack("<I", 9999),  # IFD offset past the end
}


def build(root: Path, subjects: dict[str, dict[str, bytes]]) -> Path:
    root.mkdir(parents=True)
    for sid, files in subjects.items():
        (root / sid).mkdir()
        for j, v in enumerate(VIEWS):
            name = VENDOR_FILENAMES[v]
            data = files.get(name) or jpeg_bytes(photo(int(sid) * 10 + j, SIZE))
            (root / sid / name).write_bytes(data)
    write_annotation(root, [vendor_record(sid) for sid in subjects])
    return root


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("orient") / "ds", planted())


def pack_to(root: Path, out: Path, *args: str) -> Any:
    result = run(["pack", root, "--out", out, "--no-cache", "--workers", "1", "-q", *args])
    check(result, 0)
    return result


@pytest.fixture(scope="module")
def applied(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("apply") / "out"
    pack_to(dataset, out)  # apply is the default
    return out


@pytest.fixture(scope="module")
def kept(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("keep") / "out"
    pack_to(dataset, out, "--orientation", "keep")
    return out


# --------------------------------------------------------------------------- helpers


def shard_rows(out: Path) -> Iterator[dict[str, Any]]:
    for f in sorted(out.rglob("*.parquet")):
        yield from pq.read_table(f).to_pylist()


def upright(data: bytes) -> Image.Image:
    """The reference: Pillow's full decode of the source with its EXIF orientation applied."""
    return ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")


def plain(data: bytes) -> Image.Image:
    """What a client that ignores EXIF (a plain PIL open, Daft) shows."""
    return Image.open(io.BytesIO(data)).convert("RGB")


def psnr(a: Image.Image | np.ndarray, b: Image.Image | np.ndarray) -> float:
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert x.shape == y.shape, (x.shape, y.shape)
    mse = float(((x - y) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def split_name(out: Path) -> str:
    return str(next(iter(json.loads((out / "manifest.json").read_text())["splits"])))


def hf_images(out: Path) -> dict[str, Image.Image]:
    """Every image as Hugging Face ``datasets`` decodes it, by path (works in any folder layout:
    the files are named, not the folders)."""
    datasets = pytest.importorskip("datasets")
    files = [str(p) for p in sorted(out.rglob("*.parquet"))]
    ds = datasets.load_dataset("parquet", data_files=files, split="train")
    paths = ds.cast_column("image", datasets.Image(decode=False))["image"]
    return {p["path"]: im.convert("RGB") for p, im in zip(paths, ds["image"], strict=True)}


def loader_images(out: Path) -> dict[str, np.ndarray]:
    """Every image as our ``ShardIndex`` hands it out (full size, HWC), by path."""
    pytest.importorskip("torch")
    from norwoodkit.loader import ShardIndex

    index = ShardIndex(out, split_name(out), size=None)
    return {
        meta["path"]: image.numpy().transpose(1, 2, 0)
        for image, _, meta in (index[i] for i in range(len(index)))
    }


# --------------------------------------------------------------------------- apply


def test_apply_every_client_sees_the_upright_pixels(applied: Path, dataset: Path) -> None:
    hf = hf_images(applied)
    ours = loader_images(applied)
    turned = 0
    for row in shard_rows(applied):
        source = (dataset / row["image"]["path"]).read_bytes()
        ref = upright(source)
        stored = row["image"]["bytes"]
        seen = plain(stored)
        assert seen.size == ref.size == (row["width"], row["height"]), row["image"]["path"]
        aligned = seen.width % 16 == seen.height % 16 == 0
        assert psnr(seen, ref) >= PSNR_BOUND[aligned], row["image"]["path"]
        assert psnr(hf[row["image"]["path"]], seen) == float("inf")
        assert psnr(ours[row["image"]["path"]], seen) == float("inf")
        # no tag is left for a client to apply a second time; the column keeps the source's
        assert Image.open(io.BytesIO(stored)).getexif().get(ORIENTATION) in (None, 1)
        tag = Image.open(io.BytesIO(source)).getexif().get(ORIENTATION)
        assert row["orientation"] == tag
        if tag in (None, 1):
            assert stored == source  # already upright: the original bytes
        else:
            turned += 1
            assert stored != source
    assert turned == 8


def test_apply_keeps_the_source_jpeg_tables_profile_and_tags(applied: Path, dataset: Path) -> None:
    rows = {r["image"]["path"]: r for r in shard_rows(applied)}
    for path, swapped in (("1/Top-Down.jpg", True), ("1/Front.jpg", False)):
        src = Image.open(dataset / path)
        out = Image.open(io.BytesIO(rows[path]["image"]["bytes"]))
        assert isinstance(src, JpegImagePlugin.JpegImageFile)
        assert isinstance(out, JpegImagePlugin.JpegImageFile)
        for k, table in src.quantization.items():
            grid = np.asarray(list(table)).reshape(8, 8)
            expected = grid.T if swapped else grid  # a quarter turn swaps the frequencies too
            assert list(out.quantization[k]) == expected.ravel().tolist()
        assert JpegImagePlugin.get_sampling(out) == JpegImagePlugin.get_sampling(src) == 2
    top = Image.open(io.BytesIO(rows["1/Top-Down.jpg"]["image"]["bytes"]))
    assert top.info["icc_profile"] == Image.open(dataset / "1/Top-Down.jpg").info["icc_profile"]
    assert top.getexif().get(0x010F) == "Vendor"  # other EXIF tags stay
    # 4:2:2 halved the axis a quarter turn moves: stored 4:4:4 rather than lose chroma detail
    back = Image.open(io.BytesIO(rows["1/Back.jpg"]["image"]["bytes"]))
    assert isinstance(back, JpegImagePlugin.JpegImageFile)
    assert JpegImagePlugin.get_sampling(back) == 0
    assert back.info.get("progressive") is None
    left = Image.open(io.BytesIO(rows["2/Left.jpg"]["image"]["bytes"]))
    assert left.info.get("progressive")  # a progressive source stays progressive
    right = Image.open(io.BytesIO(rows["2/Right.jpg"]["image"]["bytes"]))
    assert (right.format, right.mode) == ("JPEG", "L")


def test_a_png_with_an_orientation_is_stored_upright_losslessly(
    applied: Path, dataset: Path
) -> None:
    rows = {r["image"]["path"]: r for r in shard_rows(applied)}
    stored = rows["2/Front.jpg"]["image"]["bytes"]
    assert Image.open(io.BytesIO(stored)).format == "PNG"
    assert psnr(plain(stored), upright((dataset / "2/Front.jpg").read_bytes())) == float("inf")


def test_apply_verifies_and_records_the_choice(applied: Path) -> None:
    check(run(["verify", applied, "--decode", "-q"]), 0)  # re-encoded rows are decoded
    manifest = json.loads((applied / "manifest.json").read_text())
    assert manifest["options"]["orientation"] == "apply"


def test_loader_meta_says_no_turn_is_left(applied: Path, kept: Path) -> None:
    """``meta["orientation"]`` is the turn the loader applies (``decode="cuda"`` applies it on
    the GPU): none for an apply pack, the EXIF tag for a keep pack."""
    pytest.importorskip("torch")
    from norwoodkit.loader import ShardIndex

    for out, want in ((applied, {1}), (kept, {1, 2, 3, 4, 5, 6, 7, 8})):
        index = ShardIndex(out, split_name(out), size=(16, 16))
        assert {index[i][2]["orientation"] for i in range(len(index))} == want


# --------------------------------------------------------------------------- keep


def test_keep_stores_the_original_bytes(kept: Path, dataset: Path) -> None:
    hf = hf_images(kept)
    ours = loader_images(kept)
    disagree = 0
    for row in shard_rows(kept):
        source = (dataset / row["image"]["path"]).read_bytes()
        assert row["image"]["bytes"] == source  # bit for bit, tag included
        stored = plain(source)
        assert (row["width"], row["height"]) == stored.size  # the stored size, before the tag
        # Hugging Face and our loader turn the photo; a plain open does not (the card warns)
        ref = upright(source)
        assert psnr(hf[row["image"]["path"]], ref) == float("inf")
        assert psnr(ours[row["image"]["path"]], ref) == float("inf")
        disagree += stored.size != ref.size
    assert disagree == 5  # orientations 5..8, and the PNG's 6
    assert json.loads((kept / "manifest.json").read_text())["options"]["orientation"] == "keep"
    check(run(["verify", kept, "-q"]), 0)


# --------------------------------------------------------------------------- resize


@pytest.mark.parametrize("mode", ["apply", "keep"])
def test_resized_copies_are_upright_and_their_size_is_stored(
    dataset: Path, tmp_path: Path, mode: str
) -> None:
    out = tmp_path / "out"
    pack_to(dataset, out, "--resize", "40", "--orientation", mode)
    for row in shard_rows(out):
        ref = upright((dataset / row["image"]["path"]).read_bytes())
        seen = Image.open(io.BytesIO(row["image"]["bytes"]))
        assert seen.getexif().get(ORIENTATION) is None
        assert (row["width"], row["height"]) == seen.size
        assert min(seen.size) == 40
        # the long side follows the upright source's shape (a turned copy would swap it)
        assert (seen.width > seen.height) == (ref.width > ref.height)


def test_subject_layout_stores_upright_sizes_per_view(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    pack_to(dataset, out, "--layout", "subject")
    for row in shard_rows(out):
        for v in VIEWS:
            stored = Image.open(io.BytesIO(row[f"image_{v.value}"]["bytes"]))
            assert (row[f"width_{v.value}"], row[f"height_{v.value}"]) == stored.size


# --------------------------------------------------------------------------- resume


def test_a_change_of_orientation_rewrites_the_shards(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    pack_to(dataset, out)
    same = pack_to(dataset, out, "--resume", "--json")
    assert json.loads(same.stdout)["resumed_shards"]  # same option: the shards are kept
    other = pack_to(dataset, out, "--resume", "--json", "--orientation", "keep")
    assert json.loads(other.stdout)["resumed_shards"] == []  # another option: all rewritten
    for row in shard_rows(out):
        assert row["image"]["bytes"] == (dataset / row["image"]["path"]).read_bytes()


# --------------------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def bad_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    img = [photo(200 + i, SIZE) for i in range(len(BAD_EXIF))]
    files = {
        name: jpeg_bytes(im, exif=exif)
        for im, (name, exif) in zip(img, BAD_EXIF.items(), strict=True)
    }
    return build(tmp_path_factory.mktemp("bad") / "ds", {"1": files})


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")  # the test's own decodes of the sources
def test_unusable_orientation_tags_are_stored_as_they_are_with_a_warning(
    bad_dataset: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    watch = Watch((bad_dataset,))
    result = run(["pack", bad_dataset, "--out", out, "--no-cache", "--workers", "1", "-q"])
    check(
        result,
        0,
        [
            "1/Front.jpg: its EXIF block has no TIFF header",
            "1/Top-Down.jpg: its EXIF orientation 0 is not one of 1..8",
            "1/Back.jpg: its EXIF orientation 9 is not one of 1..8",
            "1/Left.jpg: its EXIF orientation 'six' is not one of 1..8",
            "1/Right.jpg: its EXIF block is damaged",
            "stored as it is",
        ],
    )
    assert result.stderr.count("stored as it is") == len(BAD_EXIF)
    assert watch.changed() == []
    hf = hf_images(out)
    for row in shard_rows(out):
        source = (bad_dataset / row["image"]["path"]).read_bytes()
        assert row["image"]["bytes"] == source
        assert row["orientation"] is None
        seen = plain(source)
        assert (row["width"], row["height"]) == seen.size
        assert psnr(hf[row["image"]["path"]], seen) == float("inf")  # nobody turns them
    pytest.importorskip("torch")
    from norwoodkit.loader import ShardIndex

    # decoding at a smaller size reads the tag to choose the DCT scale: text there is no turn
    index = ShardIndex(out, split_name(out), size=(16, 16))
    assert len([index[i] for i in range(len(index))]) == len(BAD_EXIF)
    check(run(["verify", out, "-q"]), 0)


def test_an_unknown_orientation_choice_is_refused(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run(["pack", dataset, "--out", out, "--orientation", "sideways"])
    check(result, 2, ["--orientation", "sideways"])
    assert not out.exists()
    with pytest.raises(ParameterError, match="orientation: 'sideways' is not apply or keep"):
        pack.PackOptions(orientation="sideways")  # type: ignore[arg-type]
    opts = pack.PackOptions(orientation="keep")  # type: ignore[arg-type]
    assert opts.orientation is pack.Orientation.KEEP


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.parquet"))}


def test_turns_in_worker_processes_store_the_same_bytes(
    dataset: Path, applied: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With two workers, ``apply``'s large turns run in a pool (the pack process never holds a
    large decoded photo): the shards are byte-identical to the one-process pack. Every turn is
    large here (the threshold set to 0), so every one goes to a worker."""
    from norwoodkit.pack import images

    monkeypatch.setattr(images, "TURN_HERE_BYTES", 0)
    out = tmp_path / "out"
    check(run(["pack", dataset, "--out", out, "--no-cache", "--workers", "2", "-q"]), 0)
    assert _files(out) == _files(applied)
    check(run(["verify", out, "-q"]), 0)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_unusable_tags_warn_the_same_through_the_pool(bad_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run(["pack", bad_dataset, "--out", out, "--no-cache", "--workers", "2", "-q"])
    check(result, 0, ["1/Front.jpg: its EXIF block has no TIFF header", "stored as it is"])
    assert result.stderr.count("stored as it is") == len(BAD_EXIF)
    for row in shard_rows(out):
        assert row["image"]["bytes"] == (bad_dataset / row["image"]["path"]).read_bytes()


def test_a_photo_that_no_longer_decodes_in_a_worker_is_named(
    dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A photo whose header still reads but whose pixels no longer decode (cut short since it
    was probed): the turn fails in the worker and the error names the file (exit 2's
    ``image-changed``)."""
    from concurrent.futures import ThreadPoolExecutor

    from norwoodkit.errors import InputError
    from norwoodkit.pack import images
    from norwoodkit.pack.images import prepare_upright

    monkeypatch.setattr(images, "TURN_HERE_BYTES", 0)  # every turn to the pool

    turned = next(p for p in sorted(dataset.rglob("*.jpg")) if _orientation(p.read_bytes()) > 1)
    data = turned.read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "whole.jpg").write_bytes(data)
    with ThreadPoolExecutor(2) as pool:
        whole = prepare_upright(str(tmp_path), ["whole.jpg"], pool)
        assert whole.images[0] != data and whole.notes == []
        with pytest.raises(InputError, match=r"cut\.jpg: cannot be decoded .*changed since"):
            prepare_upright(str(tmp_path), ["whole.jpg", "cut.jpg"], pool)


def _orientation(data: bytes) -> int:
    with Image.open(io.BytesIO(data)) as im:
        return int(im.getexif().get(0x0112, 1))


def test_small_turns_stay_in_process_with_the_same_bytes(
    dataset: Path, applied: Path, tmp_path: Path
) -> None:
    """Photos whose decoded pixels fit ``TURN_HERE_BYTES`` are turned in the pack process even
    with two workers (no pool starts for them): the same bytes again."""
    from norwoodkit.pack import images

    assert SIZE[0] * SIZE[1] * 3 <= images.TURN_HERE_BYTES
    out = tmp_path / "out"
    check(run(["pack", dataset, "--out", out, "--no-cache", "--workers", "2", "-q"]), 0)
    assert _files(out) == _files(applied)
