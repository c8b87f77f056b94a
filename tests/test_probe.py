"""probe: one decode per image, the right status for every kind of bad file, and the cache."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import imagehash
import numpy as np
import pytest
from PIL import Image

from conftest import MakeDataset, jpeg_bytes, photo, png_bytes, snapshot
from norwoodkit import dataset, probe
from norwoodkit.dataset import ProbedDataset
from norwoodkit.labels import View
from norwoodkit.sample.defects import bomb_png


def probe_bytes(tmp_path: Path, name: str, data: bytes) -> dict[str, object]:
    p = tmp_path / name
    p.write_bytes(data)
    return probe.probe_file(str(p))


def test_good_jpeg(tmp_path: Path) -> None:
    data = jpeg_bytes(photo(1, (640, 480)))
    r = probe_bytes(tmp_path, "a.jpg", data)
    assert r["status"] == "ok" and r["error"] is None
    assert r["size"] == len(data)
    assert r["sha256"] == hashlib.sha256(data).hexdigest()
    assert (r["format"], r["mode"], r["width"], r["height"]) == ("JPEG", "RGB", 640, 480)
    assert r["orientation"] is None
    # The phash is the one of the draft-mode decode that the probe promises.
    with Image.open(io.BytesIO(data)) as im:
        im.draft("RGB", (256, 256))
        assert str(imagehash.phash(im.convert("L"))) == r["phash"]
    assert "thumbnail" not in r  # a report makes the thumbnails of the photos it shows
    assert r["phash_mirror"] != r["phash"]


@pytest.mark.parametrize("seed", range(12))
def test_phash_pair_is_bit_identical_to_imagehash(seed: int) -> None:
    img = photo(seed, (97 + seed * 13, 61 + seed * 7))
    if seed % 3 == 0:
        img = img.convert("L")
    got, mirrored = probe.phash_pair(img)
    assert got == str(imagehash.phash(img, hash_size=8))
    assert mirrored == str(imagehash.phash(img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))


@pytest.mark.parametrize("kind", ["flat", "two-level", "stripes"])
def test_phash_pair_matches_imagehash_where_values_tie(kind: str) -> None:
    """Flat and few-level images put many equal values at the median: the cheaper median must
    split them as ``np.median`` does."""
    pixels = np.zeros((48, 40), dtype=np.uint8) + 120
    if kind == "two-level":
        pixels[:, 20:] = 200
    elif kind == "stripes":
        pixels[::4] = 30
    img = Image.fromarray(pixels)
    got, mirrored = probe.phash_pair(img)
    assert got == str(imagehash.phash(img, hash_size=8))
    assert mirrored == str(imagehash.phash(img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))


def test_phash_close_to_full_decode(tmp_path: Path) -> None:
    """Draft-mode hashes stay within a few bits of full-decode hashes (dedupe relies on it)."""
    dists = []
    for seed in range(8):
        img = photo(seed, (1200, 900))
        r = probe_bytes(tmp_path, f"{seed}.jpg", jpeg_bytes(img))
        full = imagehash.phash(img)
        dists.append(full - imagehash.hex_to_hash(str(r["phash"])))
    assert max(dists) <= 4, dists


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    img = photo(2, (300, 200))
    exif = Image.Exif()
    exif[0x0112] = 6
    r = probe_bytes(
        tmp_path,
        "rot.jpg",
        jpeg_bytes(img.transpose(Image.Transpose.ROTATE_90), exif=exif.tobytes()),
    )
    upright = probe_bytes(tmp_path, "up.jpg", jpeg_bytes(img))
    assert r["orientation"] == 6
    assert (r["width"], r["height"]) == (200, 300)
    assert (r["oriented_width"], r["oriented_height"]) == (300, 200)
    a = imagehash.hex_to_hash(str(r["phash"]))
    b = imagehash.hex_to_hash(str(upright["phash"]))
    assert a - b <= 4


def test_png_named_jpg(tmp_path: Path) -> None:
    r = probe_bytes(tmp_path, "x.jpg", png_bytes(photo(3)))
    assert (r["status"], r["format"], r["mode"]) == ("ok", "PNG", "RGB")


def test_cmyk_jpeg(tmp_path: Path) -> None:
    r = probe_bytes(tmp_path, "c.jpg", jpeg_bytes(photo(4).convert("CMYK")))
    assert (r["status"], r["mode"]) == ("ok", "CMYK")
    assert r["phash"] is not None


def test_16_bit_png(tmp_path: Path) -> None:
    arr = (np.linspace(0, 65535, 64 * 48).reshape(48, 64)).astype(np.uint16)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    r = probe_bytes(tmp_path, "deep.png", buf.getvalue())
    assert r["status"] == "ok" and str(r["mode"]).startswith("I")
    assert r["phash"] is not None


def test_truncated_jpeg(tmp_path: Path) -> None:
    data = jpeg_bytes(photo(5, (400, 300)))
    r = probe_bytes(tmp_path, "t.jpg", data[: len(data) // 2])
    assert r["status"] == "truncated"
    assert "truncated" in str(r["error"])
    assert r["sha256"] is not None and r["phash"] is None


def test_truncated_png(tmp_path: Path) -> None:
    data = png_bytes(photo(6, (200, 150)))
    r = probe_bytes(tmp_path, "t.png", data[: len(data) // 2])
    assert r["status"] in ("truncated", "undecodable")


def test_zero_byte_file(tmp_path: Path) -> None:
    r = probe_bytes(tmp_path, "z.jpg", b"")
    assert (r["status"], r["size"], r["sha256"]) == ("empty", 0, None)


def test_random_bytes(tmp_path: Path) -> None:
    r = probe_bytes(tmp_path, "n.jpg", b"\xff\xd8\xff\xe0" + os.urandom(2000))
    assert r["status"] == "undecodable"
    assert r["format"] == "JPEG"
    assert "0x" not in str(r["error"])  # no object addresses in messages


def test_decompression_bomb_is_reported_not_decoded(tmp_path: Path) -> None:
    # Just over the limit: Pillow would only warn, so the probe's own check must stop it.
    assert Image.MAX_IMAGE_PIXELS is not None
    side = int(Image.MAX_IMAGE_PIXELS**0.5) + 10
    r = probe_bytes(tmp_path, "bomb.png", bomb_png(side, side))
    assert r["status"] == "too-large"
    assert (r["width"], r["height"]) == (side, side)
    assert "decompression-bomb" in str(r["error"])
    huge = probe_bytes(tmp_path, "huge.png", bomb_png(40000, 40000))
    assert huge["status"] == "too-large"


def test_missing_and_unreadable(tmp_path: Path) -> None:
    assert probe.probe_file(str(tmp_path / "gone.jpg"))["status"] == "missing"
    folder = tmp_path / "dir.jpg"
    folder.mkdir()
    assert probe.probe_file(str(folder))["status"] == "not-a-file"
    locked = tmp_path / "locked.jpg"
    locked.write_bytes(b"x")
    locked.chmod(0)
    if os.access(locked, os.R_OK):
        return  # root reads anything; the permission case lives in test_hostile_images
    assert probe.probe_file(str(locked))["status"] == "unreadable"


def test_sniff_format() -> None:
    assert probe.sniff_format(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "WEBP"
    assert probe.sniff_format(b"GIF89a") == "GIF"
    assert probe.sniff_format(b"\x00\x00\x00\x18ftypheic") == "HEIF"
    assert probe.sniff_format(b"hello") is None


# ----------------------------------------------------------------------------- run + cache


def test_run_adds_columns_and_placeholders_stay_null(make_dataset: MakeDataset) -> None:
    ds = probe.run(dataset.load(make_dataset(2, missing_view=("1", View.BACK))), workers=1)
    t = ds.table
    assert (t[t["path"].notna()]["status"] == "ok").all()
    missing = t[t["path"].isna()]
    assert len(missing) == 1 and missing["status"].isna().all()
    assert t["width"].dtype == "Int64"


def test_pool_and_inline_agree(make_dataset: MakeDataset) -> None:
    root = make_dataset(8)  # 40 images: more than two batches, so the pool is used
    inline = probe.run(dataset.load(root), workers=1, use_cache=False).table
    pooled = probe.run(dataset.load(root), workers=2, use_cache=False).table
    cols = ["path", "sha256", "phash", "phash_mirror", "width", "status"]
    assert inline[cols].equals(pooled[cols])


def test_second_run_uses_the_cache(make_dataset: MakeDataset, tmp_path: Path) -> None:
    root = make_dataset(2)
    cache = tmp_path / "c"
    first = probe.run(dataset.load(root), cache_dir=cache).table
    assert probe.cache_file(root, cache).is_file()
    # Same size and mtime but other bytes: the ctime moved, so that entry is probed again.
    target = root / "1" / "Front.jpg"
    st = target.stat()
    data = bytearray(target.read_bytes())
    data[-3] ^= 0xFF
    target.write_bytes(bytes(data))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    second = probe.run(dataset.load(root), cache_dir=cache).table
    changed = second[second["sha256"] != first["sha256"]]["path"].tolist()
    assert changed == ["1/Front.jpg"]
    assert (
        second.loc[second["path"] == "1/Front.jpg", "sha256"].iloc[0]
        == hashlib.sha256(bytes(data)).hexdigest()
    )
    third = probe.run(dataset.load(root), cache_dir=cache).table
    assert third["sha256"].equals(second["sha256"])


def test_no_cache_writes_nothing(make_dataset: MakeDataset, tmp_path: Path) -> None:
    root = make_dataset(1)
    cache = tmp_path / "never"
    probe.run(dataset.load(root), cache_dir=cache, use_cache=False)
    assert not cache.exists()


def test_damaged_cache_is_rebuilt(make_dataset: MakeDataset, tmp_path: Path) -> None:
    root = make_dataset(1)
    cache = tmp_path / "c"
    probe.run(dataset.load(root), cache_dir=cache)
    probe.cache_file(root, cache).write_bytes(b"not parquet")
    t = probe.run(dataset.load(root), cache_dir=cache).table
    assert (t["status"] == "ok").all()
    assert probe.cache_file(root, cache).read_bytes().startswith(b"PAR1")  # written anew
    assert probe.cache_file(root, cache).read_bytes().endswith(b"PAR1")


def test_default_cache_is_outside_the_dataset(
    make_dataset: MakeDataset, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("NORWOODKIT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    root = make_dataset(1)
    before = snapshot(root)
    probe.run(dataset.load(root))
    assert probe.cache_file(root, probe.default_cache_dir()).is_file()
    assert str(probe.default_cache_dir()).startswith(str(tmp_path / "xdg"))
    assert snapshot(root) == before  # nothing was written into the dataset


def test_read_only_dataset(make_dataset: MakeDataset) -> None:
    root = make_dataset(2)
    before = snapshot(root)
    modes = {p: p.stat().st_mode for p in [root, *root.rglob("*")]}
    for p in modes:
        p.chmod(stat.S_IMODE(modes[p]) & ~0o222)
    try:
        t = probe.run(dataset.load(root)).table
        assert (t["status"] == "ok").all()
    finally:
        for p, m in modes.items():
            p.chmod(stat.S_IMODE(m))
    assert snapshot(root) == before


def test_key_columns_are_exact_after_a_fresh_probe_and_a_cached_one(
    make_dataset: MakeDataset, tmp_path: Path
) -> None:
    # mtime_ns needs all 64 bits: a detour through float64 (what a nullable integer column
    # becomes on the way to pandas unless told otherwise) would lose the last digits.
    root = make_dataset(8)
    for i, f in enumerate(sorted(root.rglob("*.jpg"))):
        os.utime(f, ns=(1_795_648_507_782_753_117 + i, 1_795_648_507_782_753_117 + i))
    loaded = dataset.load(root)
    (root / "3" / "Back.jpg").unlink()  # gone after loading: a null mtime in the column
    for run in ("fresh", "cached"):
        t = probe.run(loaded, cache_dir=tmp_path / "c", workers=2).table
        t = t[t["status"] == "ok"]
        assert len(t) == 39
        for rel, mtime, size in zip(t["path"], t["mtime_ns"], t["size"], strict=True):
            st = os.stat(root / rel)
            assert (int(mtime), int(size)) == (st.st_mtime_ns, st.st_size), run


def test_unwritable_cache_warns_and_probes_anyway(
    make_dataset: MakeDataset, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = make_dataset(2)
    cache = tmp_path / "c"
    cache.mkdir()
    (cache / f"probe-v{probe.PROBE_VERSION}").write_text("a file where the folder should be")
    with caplog.at_level("WARNING", logger="norwoodkit.probe"):
        t = probe.run(dataset.load(root), cache_dir=cache).table
    assert (t["status"] == "ok").all() and t["sha256"].notna().all()
    assert "cannot write the probe cache" in caplog.text and "probe again" in caplog.text


def test_disk_full_while_caching_leaves_the_old_cache_whole(
    make_dataset: MakeDataset, tmp_path: Path
) -> None:
    # A file-size limit makes the cache write fail part way (EFBIG, as a full disk would):
    # the run still succeeds, warns, leaves no temporary file and the old cache as it was.
    root = make_dataset(12)
    cache = tmp_path / "c"
    probe.run(dataset.load(root), cache_dir=cache)  # a first, complete cache
    cfile = probe.cache_file(root, cache)
    before = cfile.read_bytes()
    for f in sorted(root.rglob("*.jpg")):  # every entry stale: the new cache is as big as the old
        f.write_bytes(f.read_bytes() + b"\0")
    limit = len(before) // 2
    code = (
        "import resource, sys; from pathlib import Path; "
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit})); "
        "from norwoodkit import dataset, probe; "
        "t = probe.run(dataset.load(sys.argv[1]), cache_dir=Path(sys.argv[2]), workers=1).table; "
        "print((t['status'] == 'ok').sum())"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(root), str(cache)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "60"
    assert "cannot write the probe cache" in proc.stderr
    assert cfile.read_bytes() == before
    assert not [p for p in cache.rglob("*") if p.name.endswith(".tmp")]


def test_interrupted_probe_leaves_the_old_cache_whole(
    make_dataset: MakeDataset, tmp_path: Path
) -> None:
    root = make_dataset(12)
    cache = tmp_path / "c"
    probe.run(dataset.load(root), cache_dir=cache)
    cfile = probe.cache_file(root, cache)
    before = cfile.read_bytes()
    for f in sorted(root.rglob("*.jpg"))[:40]:
        f.write_bytes(f.read_bytes() + b"\0")

    def stop(done: int) -> None:
        if done < 20:  # the second report: some fresh results are already on their way out
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        probe.run(dataset.load(root), cache_dir=cache, workers=1, progress=stop)
    assert cfile.read_bytes() == before
    assert not [p for p in cache.rglob("*") if p.name.endswith(".tmp")]


def test_cache_is_written_in_row_groups(
    make_dataset: MakeDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Row groups bound what a reader (or the copy of reused entries) holds at once.
    import pyarrow.parquet as pq

    monkeypatch.setattr(probe.cache, "CACHE_GROUP_ROWS", 16)
    root = make_dataset(12)
    cache = tmp_path / "c"
    probe.run(dataset.load(root), cache_dir=cache, workers=1)
    for f in sorted(root.rglob("*.jpg"))[:5]:
        f.write_bytes(f.read_bytes() + b"\0")  # 5 fresh, 55 copied from the old file
    t = probe.run(dataset.load(root), cache_dir=cache, workers=1).table
    meta = pq.ParquetFile(probe.cache_file(root, cache)).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [16, 16, 16, 12]
    cached = pq.read_table(probe.cache_file(root, cache)).to_pandas()
    assert sorted(cached["path"]) == sorted(t["path"])
    assert cached["phash"].notna().all() and cached["width"].notna().all()  # copied whole


# ----------------------------------------------------------------------------- safe reads


def test_links_inside_the_root_are_followed_and_links_out_are_not(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "1").mkdir(parents=True)
    data = jpeg_bytes(photo(31))
    (root / "1" / "real.jpg").write_bytes(data)
    (root / "1" / "inside.jpg").symlink_to("real.jpg")
    (tmp_path / "out.jpg").write_bytes(data)
    (root / "1" / "out.jpg").symlink_to(tmp_path / "out.jpg")
    rows = probe.probe_batch(str(root), ["1/inside.jpg", "1/out.jpg", "../out.jpg"])
    assert [r["status"] for r in rows] == ["ok", "outside-root", "outside-root"]
    assert rows[0]["sha256"] == hashlib.sha256(data).hexdigest()
    assert rows[1]["sha256"] is None and "outside the dataset root" in str(rows[1]["error"])


def test_reads_stop_at_the_ceiling(tmp_path: Path) -> None:
    from norwoodkit.probe.read import Refused, read_file

    p = tmp_path / "big.jpg"
    p.write_bytes(b"\xff\xd8\xff" + bytes(97))
    assert read_file(str(p), limit=100) == p.read_bytes()
    with pytest.raises(Refused) as why:
        read_file(str(p), limit=99)
    assert why.value.status == "too-large" and why.value.size == 100
    with open(p, "r+b") as fh:  # sparse: over the real ceiling without using the disk
        fh.truncate(probe.MAX_FILE_BYTES + 1)
    row = probe.probe_file(str(p))
    assert (row["status"], row["size"], row["sha256"]) == (
        "too-large",
        probe.MAX_FILE_BYTES + 1,
        None,
    )


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    # In a subprocess with a timeout: a probe that opened the FIFO would hang there, not here.
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    code = (
        "import sys; from norwoodkit import probe; print(probe.probe_file(sys.argv[1])['status'])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(fifo)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.stdout.strip() == "not-a-file", proc.stderr


def test_any_decoder_exception_becomes_the_row(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (20, 14)).save(buf, "DDS")
    data = bytearray(buf.getvalue())
    data[80] = 0  # Pillow raises NotImplementedError for these pixel-format flags
    row = probe.probe_bytes(bytes(data))
    assert row["status"] == "undecodable"
    assert str(row["error"]).startswith("NotImplementedError: ")


# ------------------------------------------------------------------ narrow reads (issue 15)


def _spoil_column(cfile: Path, name: str) -> None:
    """Overwrite the data pages of column ``name`` in every row group with garbage, in place.

    The footer stays whole, so the file still opens and every other column still reads; only a
    reader that asks for ``name`` meets the garbage (and ignores the cache).
    """
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(cfile).metadata
    index = meta.schema.to_arrow_schema().get_field_index(name)
    data = bytearray(cfile.read_bytes())
    for g in range(meta.num_row_groups):
        chunk = meta.row_group(g).column(index)
        start = chunk.dictionary_page_offset or chunk.data_page_offset
        data[start : start + chunk.total_compressed_size] = b"\xa5" * chunk.total_compressed_size
    cfile.write_bytes(bytes(data))


@pytest.mark.parametrize("command", ["validate", "dedupe", "stats"])
def test_a_warm_command_never_reads_a_column_it_does_not_need(
    make_dataset: MakeDataset, tmp_path: Path, command: str
) -> None:
    from hostile import run

    root = make_dataset(3)
    cache = tmp_path / "c"
    first = run([command, root, "--json", "-q", "--cache", cache, "--workers", "1"])
    assert first.exit_code == 0, first.output
    cfile = probe.cache_file(root, cache)
    _spoil_column(cfile, "width")  # the stored width: none of the three reads it
    spoiled = cfile.read_bytes()
    warm = run([command, root, "--json", "-q", "--cache", cache, "--workers", "1"])
    assert warm.exit_code == 0, warm.output
    assert warm.stdout == first.stdout
    assert "ignored" not in warm.stderr and "unreadable" not in warm.stderr
    assert cfile.read_bytes() == spoiled  # a full hit: nothing probed, nothing rewritten


def test_a_reader_of_the_spoiled_column_meets_it_and_rebuilds_it(
    make_dataset: MakeDataset, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = make_dataset(3)
    cache = tmp_path / "c"
    fresh = probe.run(dataset.load(root), cache_dir=cache).table
    _spoil_column(probe.cache_file(root, cache), "width")
    with caplog.at_level("WARNING", logger="norwoodkit.probe"):
        t = probe.run(dataset.load(root), cache_dir=cache).table
    assert "is ignored" in caplog.text
    assert t["width"].equals(fresh["width"])
    again = probe.run(dataset.load(root), cache_dir=cache).table
    assert again["width"].equals(t["width"])  # the rebuilt cache holds the column whole


def test_a_miss_after_a_narrow_read_leaves_a_complete_cache(
    make_dataset: MakeDataset, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    from norwoodkit.validate import PROBE_READS

    root = make_dataset(3)
    cache = tmp_path / "c"
    full = probe.run(dataset.load(root), cache_dir=cache, workers=1).table
    target = root / "2" / "Back.jpg"
    target.write_bytes(jpeg_bytes(photo(4321)))
    narrow = probe.run(dataset.load(root), cache_dir=cache, workers=1, columns=PROBE_READS)
    assert narrow.table["width"].isna().all() and narrow.table["height"].isna().all()
    cfile = probe.cache_file(root, cache)
    cached = pq.read_table(cfile).to_pandas().set_index("path")
    assert sorted(cached.columns) == sorted(c for c in probe.CACHE_COLUMNS if c != "path")
    assert not cached.isna().drop(columns=["error", "orientation"]).any().any()
    assert cached.loc["2/Back.jpg", "sha256"] == hashlib.sha256(target.read_bytes()).hexdigest()
    # Every other command is warm now: a full read probes nothing and rewrites nothing.
    before = cfile.read_bytes()
    after = probe.run(dataset.load(root), cache_dir=cache, workers=1).table
    assert cfile.read_bytes() == before
    unchanged = after["path"] != "2/Back.jpg"
    assert after.loc[unchanged, "width"].equals(full.loc[unchanged, "width"])


def test_a_cold_narrow_read_writes_every_column(make_dataset: MakeDataset, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    root = make_dataset(2)
    cache = tmp_path / "c"
    probe.run(dataset.load(root), cache_dir=cache, workers=1, columns={"sha256"})
    cached = pq.read_table(probe.cache_file(root, cache)).to_pandas()
    assert len(cached) == 10 and cached["width"].notna().all()
    assert cached["phash"].notna().all() and cached["width"].notna().all()


def test_a_narrow_table_says_what_it_holds(make_dataset: MakeDataset, tmp_path: Path) -> None:
    from norwoodkit.errors import ParameterError
    from norwoodkit.validate import validate

    root = make_dataset(2)
    ds = probe.run(dataset.load(root), cache_dir=tmp_path / "c", columns={"sha256", "phash"})
    assert ds.probe_columns == {"status", "mtime_ns", "sha256", "phash"}
    assert ds.table["phash"].notna().all() and ds.table.loc[ds.decoded, "mode"].isna().all()
    with pytest.raises(ParameterError) as info:
        validate(ds)  # it reads the mode: nulls would hide every mode-not-rgb finding
    assert info.value.parameter == "columns" and "mode" in str(info.value)
    assert str(root) in str(info.value)


def test_an_unknown_column_is_refused_before_any_work(
    make_dataset: MakeDataset, tmp_path: Path
) -> None:
    from norwoodkit.errors import ParameterError

    root = make_dataset(1)
    cache = tmp_path / "c"
    with pytest.raises(ParameterError) as info:
        probe.run(dataset.load(root), cache_dir=cache, columns={"sha256", "colour"})
    assert info.value.parameter == "columns" and "'colour'" in str(info.value)
    assert not probe.cache_file(root, cache).exists()


def test_a_narrow_read_trusts_a_row_on_the_columns_it_reads(
    make_dataset: MakeDataset, tmp_path: Path
) -> None:
    # A tampered phash cannot mislead stats, which never reads it; dedupe reads it, finds it
    # malformed, and probes that file again.
    import pyarrow as pa
    import pyarrow.parquet as pq

    from norwoodkit.dedupe.duplicates import PROBE_READS as DEDUPE_READS
    from norwoodkit.stats import PROBE_READS as STATS_READS

    root = make_dataset(2)
    cache = tmp_path / "c"
    truth = probe.run(dataset.load(root), cache_dir=cache).table
    cfile = probe.cache_file(root, cache)
    t = pq.read_table(cfile)
    phashes = t["phash"].to_pylist()
    phashes[1] = "not-a-hash"
    pq.write_table(
        t.set_column(t.schema.get_field_index("phash"), "phash", pa.array(phashes)), cfile
    )
    tampered = cfile.read_bytes()
    probe.run(dataset.load(root), cache_dir=cache, columns=STATS_READS)
    assert cfile.read_bytes() == tampered  # every row a hit for stats
    got = probe.run(dataset.load(root), cache_dir=cache, columns=DEDUPE_READS).table
    assert got["phash"].equals(truth["phash"])
    assert cfile.read_bytes() != tampered  # the file was probed again and the cache rewritten


@pytest.mark.parametrize("step", ["validate", "dedupe", "stats"])
def test_each_step_gives_the_same_result_from_its_own_columns(
    defect_sample: Path, tmp_path: Path, step: str
) -> None:
    # Guards the column lists: a check that reads a column its list forgets finds nulls, and
    # its result differs here from the one on a full table.
    from norwoodkit import stats, validate
    from norwoodkit.dedupe import duplicates

    def result(ds: ProbedDataset) -> dict[str, Any]:
        if step == "validate":
            return validate.validate(ds).to_dict()
        if step == "dedupe":
            return duplicates.find(ds).to_dict()
        return stats.summarize(ds).to_dict()

    reads = {"validate": validate, "dedupe": duplicates, "stats": stats}[step].PROBE_READS
    cache = tmp_path / "c"
    full = probe.run(dataset.load(defect_sample), cache_dir=cache, workers=1)
    narrow = probe.run(dataset.load(defect_sample), cache_dir=cache, workers=1, columns=reads)
    assert narrow.probe_columns < full.probe_columns
    assert result(narrow) == result(full)
