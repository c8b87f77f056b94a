"""Hostile images: what sits under an image's name, what the decoder chokes on, and the cache.

Each case runs ``validate --json`` and checks the exit code, the finding (its code, the file it
names), no traceback, and that the dataset and everything outside the cache folder are as they
were. FIFOs are always given a writer that closes at once, so code that wrongly reads one meets
an end of file instead of hanging the suite.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hostile import Watch, check, hostile, run
from PIL import Image

from conftest import MakeDataset, jpeg_bytes, photo, png_bytes
from norwoodkit import dataset, probe
from norwoodkit.sample.defects import bomb_png

FRONT = "1/Front.jpg"


@contextlib.contextmanager
def fifo_released(path: Path) -> Iterator[None]:
    """While inside, anyone who opens the FIFO at ``path`` to read gets an end of file at once."""

    def writer() -> None:
        with contextlib.suppress(OSError):
            os.close(os.open(path, os.O_WRONLY))  # blocks until a reader comes, then closes

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        yield
    finally:
        with contextlib.suppress(OSError):  # nobody read it (the right outcome): free the writer
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            thread.join(5)
            os.close(fd)


def findings(result: Any) -> list[tuple[str, str | None, str]]:
    """``(code, path, message)`` of each finding in a ``--json`` result."""
    doc = json.loads(result.stdout)
    return [(f["code"], f["path"], f["message"]) for f in doc["findings"]]


def validate(root: Path, cache: Path, code: int, expect: tuple[str, str] | None) -> list[Any]:
    """``validate --json`` as a hostile case: exit ``code``, the finding ``(code, path)``."""
    outside = root.parent
    # Everything beside the dataset is watched too, except the cache folder it may write.
    others = [p for p in outside.iterdir() if p != cache and p.is_dir() and p != root]
    result = hostile(
        ["validate", root, "--json", "--cache", cache], code, untouched=[root, *others]
    )
    found = findings(result)
    if expect is not None:
        assert any((c, p) == expect for c, p, _ in found), found
    return found


# --------------------------------------------------------------------- what the name holds

Planter = Callable[[Path, Path], None]


def _fifo(root: Path, target: Path) -> None:
    target.unlink()
    os.mkfifo(target)


def _fifo_behind_link(root: Path, target: Path) -> None:
    os.mkfifo(root / "1" / "pipe")
    target.unlink()
    target.symlink_to("pipe")


def _socket(root: Path, target: Path) -> None:
    target.unlink()
    here = os.getcwd()
    os.chdir(target.parent)  # a relative name: socket paths are short
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(target.name)
        sock.close()
    finally:
        os.chdir(here)


def _device(major: int, minor: int) -> Planter:
    def plant(root: Path, target: Path) -> None:
        target.unlink()
        try:
            os.mknod(target, stat.S_IFCHR | 0o600, os.makedev(major, minor))
        except (PermissionError, AttributeError):
            pytest.skip("os.mknod needs root (CAP_MKNOD) here")

    return plant


def _link(to: str) -> Planter:
    def plant(root: Path, target: Path) -> None:
        target.unlink()
        target.symlink_to(to)

    return plant


def _link_outside_file(root: Path, target: Path) -> None:
    outside = root.parent / "elsewhere"
    outside.mkdir(exist_ok=True)
    (outside / "photo.jpg").write_bytes(jpeg_bytes(photo(99)))
    target.unlink()
    target.symlink_to(outside / "photo.jpg")


def _loop_pair(root: Path, target: Path) -> None:
    target.unlink()
    target.symlink_to("Left.jpg.loop")
    (root / "1" / "Left.jpg.loop").symlink_to("Front.jpg")


def _folder(root: Path, target: Path) -> None:
    target.unlink()
    target.mkdir()


def _folder_with_photo(root: Path, target: Path) -> None:
    data = target.read_bytes()
    target.unlink()
    target.mkdir()
    (target / "inside.jpg").write_bytes(data)


def _sparse_over_ceiling(root: Path, target: Path) -> None:
    with open(target, "r+b") as fh:  # a real JPEG head, then a hole: no disk is used
        fh.truncate(probe.MAX_FILE_BYTES + 1)


# A FIFO, socket or device under an image's name is caught by the folder walk (special-file,
# never opened); the probe refuses the same things on its own (probe.read), tested in
# test_probe.py, for whatever reaches it another way.
NOT_FILES = [
    pytest.param(_fifo, ("special-file", FRONT), "named pipe", id="fifo"),
    pytest.param(_fifo_behind_link, ("special-file", FRONT), "named pipe", id="link-to-fifo"),
    pytest.param(_socket, ("special-file", FRONT), "socket", id="socket"),
    pytest.param(_device(1, 5), ("special-file", FRONT), "character device", id="mknod-zero"),
    pytest.param(_device(1, 3), ("special-file", FRONT), "character device", id="mknod-null"),
    pytest.param(_device(1, 9), ("special-file", FRONT), "character device", id="mknod-urandom"),
    pytest.param(_link("/dev/zero"), ("path-escapes-root", FRONT), "/dev/zero", id="link-zero"),
    pytest.param(
        _link("/dev/urandom"), ("path-escapes-root", FRONT), "/dev/urandom", id="link-urandom"
    ),
    pytest.param(
        _link("/etc/passwd"), ("path-escapes-root", FRONT), "/etc/passwd", id="link-passwd"
    ),
    pytest.param(
        _link_outside_file, ("path-escapes-root", FRONT), "outside", id="link-outside-file"
    ),
    pytest.param(
        _link("../../elsewhere.jpg"), ("path-escapes-root", FRONT), "outside", id="link-dotdot"
    ),
    pytest.param(_link("Front.jpg"), ("image-unreadable", FRONT), "loops", id="link-loop-self"),
    pytest.param(_loop_pair, ("image-unreadable", FRONT), "loops", id="link-loop-pair"),
    pytest.param(_link(".."), ("view-missing", None), "front view", id="link-to-root"),
    pytest.param(
        _link("gone.jpg"), ("image-unreadable", FRONT), "link to nothing", id="link-dangling"
    ),
    pytest.param(_folder, ("view-missing", None), "front view", id="folder-named-jpg"),
    pytest.param(
        _folder_with_photo, ("view-missing", None), "front view", id="folder-jpg-with-photo"
    ),
    pytest.param(
        _sparse_over_ceiling, ("image-too-large", FRONT), "not read", id="sparse-over-ceiling"
    ),
]


@pytest.mark.parametrize(("plant", "expect", "words"), NOT_FILES)
def test_what_is_not_a_regular_file_is_never_read(
    make_dataset: MakeDataset,
    tmp_path: Path,
    plant: Planter,
    expect: tuple[str, str | None],
    words: str,
) -> None:
    root = make_dataset(2)
    target = root / FRONT
    plant(root, target)
    cache = tmp_path / "cache"
    guard = fifo_released(target) if stat.S_ISFIFO(os.lstat(target).st_mode) else None
    with guard or contextlib.nullcontext():
        found = validate(root, cache, 1, None)
    matching = [m for c, p, m in found if c == expect[0] and (expect[1] is None or p == expect[1])]
    assert matching and any(words in m for m in matching), found
    assert not any("root:" in m for _, _, m in found)  # nothing read is ever echoed


def test_a_file_without_read_permission_is_a_finding(
    make_dataset: MakeDataset, tmp_path: Path
) -> None:
    root = make_dataset(2)
    (root / FRONT).chmod(0)
    cmd = [sys.executable, "-m", "norwoodkit", "validate", str(root), "--json"]
    cmd += ["--cache", str(tmp_path / "cache")]
    if os.geteuid() == 0:  # root reads anything: drop the capabilities that allow it
        drop = ["setpriv", "--inh-caps=-all", "--bounding-set=-all"]
        if shutil.which("setpriv") is None or subprocess.run([*drop, "true"]).returncode:
            pytest.skip("running as root and setpriv cannot drop capabilities here")
        cmd = [*drop, *cmd]
    watch = Watch((root,))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    found = [(f["code"], f["path"], f["message"]) for f in json.loads(proc.stdout)["findings"]]
    assert any(c == "image-unreadable" and p == FRONT and "ermission" in m for c, p, m in found)
    assert watch.changed() == []


# ----------------------------------------------------------------- what the decoder chokes on


def _dds_unknown_pixel_format() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (20, 14), (10, 20, 30)).save(buf, "DDS")
    data = bytearray(buf.getvalue())
    data[80] = 0  # pixel-format flags: Pillow raises NotImplementedError, not OSError
    return bytes(data)


def _saved(fmt: str, size: tuple[int, int] = (40, 30), cut: float = 1.0) -> bytes:
    buf = io.BytesIO()
    photo(7, size).save(buf, fmt)
    data = buf.getvalue()
    return data[: int(len(data) * cut)]


def _png_bad_crc() -> bytes:
    data = bytearray(png_bytes(photo(8, (40, 30))))
    data[29] ^= 0xFF  # the IHDR chunk's CRC
    return bytes(data)


def _bmp_huge() -> bytes:
    data = bytearray(_saved("BMP"))
    data[18:26] = (60000).to_bytes(4, "little") + (60000).to_bytes(4, "little")
    return bytes(data)


def _tiff_bad_offsets() -> bytes:
    data = bytearray(_saved("TIFF"))
    data[4:8] = (0x7FFFFFF0).to_bytes(4, "little")  # the first IFD far past the end
    return bytes(data)


def _jpeg_garbage() -> bytes:
    data = bytearray(jpeg_bytes(photo(9, (64, 48))))
    data[400:] = bytes((i * 37) % 251 for i in range(len(data) - 400))
    return bytes(data)


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n0 0 moveto 10 10 lineto\nshowpage\n"
U = "image-undecodable"

BAD_BYTES = [
    pytest.param(bytes(range(256)) * 8, U, "", id="random-bytes"),
    pytest.param(b"hello, I am a text file\n" * 10, U, "", id="text"),
    pytest.param(b"<!doctype html><html><body>nope</body></html>", U, "", id="html"),
    pytest.param(b"PK\x03\x04" + bytes(200), U, "", id="zip"),
    pytest.param(b"%PDF-1.7\n" + bytes(200), U, "", id="pdf"),
    pytest.param(b"\xff\xd8\xff", U, "", id="jpeg-magic-only"),
    pytest.param(_jpeg_garbage(), None, "", id="jpeg-garbage-scan"),
    pytest.param(jpeg_bytes(photo(3, (200, 150)))[:700], "image-truncated", "", id="jpeg-cut"),
    pytest.param(_png_bad_crc(), U, "", id="png-bad-crc"),
    pytest.param(png_bytes(photo(4, (80, 60)))[:300], None, "", id="png-cut"),
    pytest.param(bomb_png(40000, 40000), "image-too-large", "", id="png-bomb"),
    pytest.param(b"GIF89a", U, "", id="gif-header-only"),
    pytest.param(_saved("GIF", cut=0.5), None, "", id="gif-cut"),
    pytest.param(_tiff_bad_offsets(), U, "", id="tiff-ifd-past-end"),
    pytest.param(_saved("TIFF", cut=0.3), None, "", id="tiff-cut"),
    pytest.param(_bmp_huge(), "image-too-large", "", id="bmp-huge-header"),
    pytest.param(_saved("WEBP", cut=0.5), None, "", id="webp-cut"),
    pytest.param(_dds_unknown_pixel_format(), U, "NotImplementedError", id="dds-not-implemented"),
    pytest.param(_saved("ICO", cut=0.4), None, "", id="ico-cut"),
    pytest.param(EPS, U, "not decoded", id="eps-never-runs-ghostscript"),
]


@pytest.mark.parametrize(("data", "code", "words"), BAD_BYTES)
def test_any_decoder_failure_is_a_finding_and_the_run_goes_on(
    make_dataset: MakeDataset, tmp_path: Path, data: bytes, code: str | None, words: str
) -> None:
    root = make_dataset(2)
    (root / FRONT).write_bytes(data)
    found = validate(root, tmp_path / "cache", 1, None)
    image = [(c, m) for c, p, m in found if p == FRONT and c.startswith("image-")]
    assert image, found
    assert code is None or image[0][0] == code, image
    assert words in image[0][1], image
    # One bad image stops nothing: the other subject's photos were all probed.
    assert not [p for _, p, _ in found if p and p.startswith("2/")]


def test_pillow_warnings_stay_quiet_even_as_errors(
    make_dataset: MakeDataset, tmp_path: Path
) -> None:
    # Between Pillow's limit and twice it, Pillow warns; odd EXIF warns too. Neither reaches
    # stderr, and ``-W error`` does not turn them into failures.
    root = make_dataset(2)
    assert Image.MAX_IMAGE_PIXELS is not None
    side = int(Image.MAX_IMAGE_PIXELS**0.5) + 10
    (root / FRONT).write_bytes(bomb_png(side, side))
    jpeg = jpeg_bytes(photo(11))
    garbage = b"Exif\x00\x00II*\x00\xff\xff\xff\x7f" + bytes(range(40))  # an IFD past the end
    app1 = b"\xff\xe1" + (len(garbage) + 2).to_bytes(2, "big") + garbage
    (root / "2" / "Front.jpg").write_bytes(jpeg[:2] + app1 + jpeg[2:])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = run(["validate", root, "--json", "--cache", tmp_path / "cache"])
    check(result, 1)
    assert "Warning" not in result.stderr
    codes = {(c, p) for c, p, _ in findings(result)}
    assert ("image-too-large", FRONT) in codes
    assert not any(p == "2/Front.jpg" and c.startswith("image-") for c, p in codes)


# --------------------------------------------------------------------------------- the cache


def _cache_path(root: Path, cache: Path) -> Path:
    return probe.cache_file(root, cache)


def _garbage(cfile: Path) -> None:
    cfile.write_bytes(b"PAR1 this is not a parquet file PAR1")


def _half(cfile: Path) -> None:
    data = cfile.read_bytes()
    cfile.write_bytes(data[: len(data) // 2])


def _fifo_cache(cfile: Path) -> None:
    cfile.unlink()
    os.mkfifo(cfile)


def _dir_cache(cfile: Path) -> None:
    cfile.unlink()
    cfile.mkdir()


def _zero_cache(cfile: Path) -> None:
    cfile.unlink()
    cfile.symlink_to("/dev/zero")


def _other_schema(cfile: Path) -> None:
    pq.write_table(pa.table({"path": ["1/Front.jpg"], "sha256": ["0" * 64]}), cfile)


def _old_schema(cfile: Path) -> None:
    pq.write_table(pq.read_table(cfile).drop_columns(["inode_key", "ctime_key"]), cfile)


def _empty_cache(cfile: Path) -> None:
    cfile.write_bytes(b"")


BAD_CACHES = [
    pytest.param(_garbage, "not a Parquet file", id="cache-garbage"),
    pytest.param(_half, "not a Parquet file", id="cache-half"),
    pytest.param(_empty_cache, "not a Parquet file", id="cache-empty"),
    pytest.param(_fifo_cache, "not a regular file", id="cache-fifo"),
    pytest.param(_dir_cache, "not a regular file", id="cache-folder"),
    pytest.param(_zero_cache, "not a regular file", id="cache-link-dev-zero"),
    pytest.param(_other_schema, "another schema", id="cache-other-schema"),
    pytest.param(_old_schema, "another schema", id="cache-old-key"),
]


@pytest.mark.parametrize(("spoil", "words"), BAD_CACHES)
def test_a_cache_that_is_not_ours_is_ignored_with_a_warning(
    make_dataset: MakeDataset, tmp_path: Path, spoil: Callable[[Path], None], words: str
) -> None:
    root = make_dataset(2)
    cache = tmp_path / "cache"
    check(run(["validate", root, "--cache", cache]), 0)
    cfile = _cache_path(root, cache)
    spoil(cfile)
    guard = fifo_released(cfile) if stat.S_ISFIFO(os.lstat(cfile).st_mode) else None
    with guard or contextlib.nullcontext():
        result = hostile(["validate", root, "--json", "--cache", cache], 0, untouched=[root])
    assert "probe cache" in result.stderr and words in result.stderr, result.stderr
    assert json.loads(result.stdout)["ok"] is True


def _tamper(column: str, value: Any) -> Callable[[pa.Table], pa.Table]:
    def edit(table: pa.Table) -> pa.Table:
        values = table[column].to_pylist()
        values[0] = value
        at = table.schema.get_field_index(column)
        return table.set_column(at, column, pa.array(values, table.schema.field(column).type))

    return edit


TAMPERED = [
    pytest.param(_tamper("sha256", "0" * 63), id="sha256-short"),
    pytest.param(_tamper("sha256", "A" * 64), id="sha256-upper"),
    pytest.param(_tamper("sha256", None), id="sha256-null-for-ok"),
    pytest.param(_tamper("phash", "not-hex-at-all!!"), id="phash-not-hex"),
    pytest.param(_tamper("phash_mirror", "0" * 17), id="phash-mirror-long"),
    pytest.param(_tamper("size", -5), id="size-negative"),
    pytest.param(_tamper("size", 1), id="size-not-the-key"),
    pytest.param(_tamper("width", None), id="width-null-for-ok"),
    pytest.param(_tamper("height", 0), id="height-zero"),
    pytest.param(_tamper("status", "fine"), id="status-unknown"),
    pytest.param(_tamper("phash", None), id="phash-null-for-ok"),
]


@pytest.mark.parametrize("edit", TAMPERED)
def test_a_cached_row_that_fails_its_own_check_is_probed_again(
    make_dataset: MakeDataset, tmp_path: Path, edit: Callable[[pa.Table], pa.Table]
) -> None:
    root = make_dataset(2)
    cache = tmp_path / "cache"
    fresh = probe.run(dataset.load(root), cache_dir=cache, workers=1).table
    cfile = _cache_path(root, cache)
    pq.write_table(edit(pq.read_table(cfile)), cfile)
    again = probe.run(dataset.load(root), cache_dir=cache, workers=1).table
    cols = ["path", "status", "size", "sha256", "phash", "phash_mirror", "width", "height"]
    assert again[cols].equals(fresh[cols])


def _same_size_and_mtime(target: Path, data: bytes) -> None:
    st = target.stat()
    assert len(data) == st.st_size
    target.write_bytes(data)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))


def _swap_in(target: Path, data: bytes) -> None:
    st = target.stat()
    other = target.with_name("swap.tmp")
    other.write_bytes(data)
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
    other.replace(target)  # a new inode under the old name, size and mtime


@pytest.mark.parametrize("change", [_same_size_and_mtime, _swap_in], ids=["rewrite", "rename"])
def test_changed_bytes_with_the_old_size_and_mtime_are_probed_again(
    make_dataset: MakeDataset, tmp_path: Path, change: Callable[[Path, bytes], None]
) -> None:
    root = make_dataset(2)
    cache = tmp_path / "cache"
    check(run(["validate", root, "--json", "--cache", cache]), 0)
    target = root / FRONT
    change(target, b"\xff\xd8\xff" + bytes(target.stat().st_size - 3))
    found = validate(root, cache, 1, ("image-undecodable", FRONT))
    assert len([p for _, p, _ in found if p == FRONT]) == 1


def test_cache_files_and_the_folders_we_make_are_private(
    make_dataset: MakeDataset, tmp_path: Path
) -> None:
    root = make_dataset(1)
    cache = tmp_path / "new" / "cache"
    old = os.umask(0)  # the modes are set, not left to whatever umask the user has
    try:
        check(run(["validate", root, "--cache", cache]), 0)
    finally:
        os.umask(old)
    cfile = _cache_path(root, cache)
    assert stat.S_IMODE(cfile.stat().st_mode) == 0o600
    for folder in (cfile.parent, cache, tmp_path / "new"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_an_existing_cache_folder_keeps_its_mode_but_the_file_is_private(
    make_dataset: MakeDataset, tmp_path: Path
) -> None:
    root = make_dataset(1)
    cache = tmp_path / "shared"
    cache.mkdir()
    cache.chmod(0o755)
    check(run(["validate", root, "--cache", cache]), 0)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o755
    assert stat.S_IMODE(_cache_path(root, cache).stat().st_mode) == 0o600
    # A file left loose by another tool is replaced by a private one, not rewritten in place.
    cfile = _cache_path(root, cache)
    cfile.chmod(0o644)
    (root / FRONT.replace("Front", "Back")).write_bytes(jpeg_bytes(photo(77)))
    check(run(["validate", root, "--cache", cache]), 0)
    assert stat.S_IMODE(cfile.stat().st_mode) == 0o600
