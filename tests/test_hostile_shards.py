"""Hostile pack folders: damaged manifests and shards for verify and the loader, and pack killed
(SIGKILL, SIGINT) at several moments, then resumed.

Every verify case copies a good pack, damages the copy, and checks the exit code (1: findings,
2: an unreadable manifest; never 3), the words of the message, no traceback, and that neither
the copy nor the dataset changed. A FIFO case runs beside a watcher that would open the FIFO's
other end: a reader that opened it is unblocked (the case then fails, never hangs).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hostile import check, hostile, run, tree

from conftest import MakeDataset
from norwoodkit import dataset, pack, probe, sample
from norwoodkit.errors import InputError

Damage = Callable[[Path, Path], None]  # (pack copy, a scratch folder outside it)


@pytest.fixture(scope="module")
def packed(clean_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The clean sample packed into several small shards (one ``all`` split)."""
    out = tmp_path_factory.mktemp("packed") / "shards"
    args: list[str | os.PathLike[str]] = [
        "pack",
        clean_sample,
        "--out",
        out,
        "--shard-size",
        "64KiB",
        "--rows-per-group",
        "10",
    ]
    r = run([*args, "-q"])
    assert r.exit_code == 0, r.output
    assert len(list((out / "data").glob("train-*.parquet"))) >= 3
    return out


def manifest_of(folder: Path) -> dict[str, Any]:
    return dict(json.loads((folder / "manifest.json").read_text()))


def first_shard(folder: Path) -> Path:
    return folder / str(manifest_of(folder)["splits"]["train"]["shards"][0]["path"])


def edit_manifest(change: Callable[[dict[str, Any]], Any]) -> Damage:
    """Damage: rewrite manifest.json with ``change`` applied (its result, when not None)."""

    def damage(folder: Path, scratch: Path) -> None:
        doc = manifest_of(folder)
        new = change(doc)
        (folder / "manifest.json").write_text(json.dumps(doc if new is None else new))

    return damage


def first_record(change: Callable[[dict[str, Any]], None]) -> Damage:
    return edit_manifest(lambda m: change(m["splits"]["train"]["shards"][0]))


def write_manifest(data: bytes) -> Damage:
    def damage(folder: Path, scratch: Path) -> None:
        (folder / "manifest.json").write_bytes(data)

    return damage


def replace_manifest(make: Callable[[Path, Path], None]) -> Damage:
    def damage(folder: Path, scratch: Path) -> None:
        (folder / "manifest.json").unlink()
        make(folder / "manifest.json", scratch)

    return damage


def replace_shard(make: Callable[[Path, Path], None]) -> Damage:
    def damage(folder: Path, scratch: Path) -> None:
        shard = first_shard(folder)
        shard.unlink()
        make(shard, scratch)

    return damage


def rewrite_shard(change: Callable[[pa.Table], pa.Table]) -> Damage:
    """Damage: the first shard rewritten as Parquet with ``change`` applied to its table."""

    def damage(folder: Path, scratch: Path) -> None:
        shard = first_shard(folder)
        table = pq.read_table(shard)
        pq.write_table(change(table), shard)

    return damage


def change_image_byte(table: pa.Table) -> pa.Table:
    """One byte inside one image changed; its sha256 column left as packing wrote it."""
    rows = table.to_pylist()
    data = bytearray(rows[2]["image"]["bytes"])
    data[len(data) // 2] ^= 0x20
    rows[2]["image"]["bytes"] = bytes(data)
    return pa.Table.from_pylist(rows, schema=table.schema)


def flip_raw_byte(folder: Path, scratch: Path) -> None:
    shard = first_shard(folder)
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01
    shard.write_bytes(bytes(data))


def truncate_shard(folder: Path, scratch: Path) -> None:
    shard = first_shard(folder)
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])


def link_split_out(folder: Path, scratch: Path) -> None:
    """The shard folder moved outside and linked back in."""
    shutil.move(folder / "data", scratch / "data")
    (folder / "data").symlink_to(scratch / "data")


def manifest_symlink(target: Path, scratch: Path) -> None:
    (scratch / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    target.symlink_to(scratch / "passwd")


def shard_symlink_out(target: Path, scratch: Path) -> None:
    (scratch / "secret").write_text("not a shard\n")
    target.symlink_to(scratch / "secret")


def write_text(target: Path, scratch: Path) -> None:
    target.write_text("hello\n" * 100)


def foreign_parquet(target: Path, scratch: Path) -> None:
    pq.write_table(pa.table({"x": list(range(10))}), target)


def bad_split_name(m: dict[str, Any]) -> None:
    m["splits"][".."] = m["splits"].pop("train")
    m["splits"][".."]["shards"][0]["path"] = "../..-00000-of-00001.parquet"


MANIFEST_CASES = [
    pytest.param(
        lambda f, s: (f / "manifest.json").unlink(), ["no manifest", "--resume"], id="no-manifest"
    ),
    pytest.param(write_manifest(b"{not json"), ["not JSON at line 1"], id="manifest-not-json"),
    pytest.param(write_manifest(b""), ["not JSON"], id="manifest-zero-bytes"),
    pytest.param(write_manifest(b"\xff\xfe\x00garbage"), ["not UTF-8"], id="manifest-not-utf8"),
    pytest.param(write_manifest(b"[1, 2]"), ["not a norwoodkit-shards"], id="manifest-a-list"),
    pytest.param(write_manifest(b"[" * 100_000), ["not a norwoodkit"], id="manifest-deep-nesting"),
    pytest.param(
        write_manifest(b'{"format_version": 1' + b"0" * 5000 + b"}"),
        ["not a norwoodkit"],
        id="manifest-number-5000-digits",
    ),
    pytest.param(
        edit_manifest(lambda m: m.update(format="other")),
        ["not a norwoodkit-shards"],
        id="manifest-foreign-format",
    ),
    pytest.param(
        edit_manifest(lambda m: m.update(format_version="1")),
        ["'format_version'"],
        id="manifest-version-string",
    ),
    pytest.param(
        edit_manifest(lambda m: m.update(format_version=99)),
        ["newer norwoodkit"],
        id="manifest-newer",
    ),
    pytest.param(
        edit_manifest(lambda m: m.update(layout="pixels")), ["'layout'"], id="manifest-layout"
    ),
    pytest.param(
        edit_manifest(lambda m: m["options"].update(resize="big")),
        ["'options.resize'"],
        id="manifest-resize-string",
    ),
    pytest.param(
        edit_manifest(lambda m: m.update(splits=[1])), ["'splits'"], id="manifest-splits-list"
    ),
    pytest.param(
        edit_manifest(lambda m: m["splits"]["train"].update(shards={"a": 1})),
        ["no list of shards"],
        id="manifest-shards-not-list",
    ),
    pytest.param(
        first_record(lambda r: r.update(path="../../etc/passwd")),
        ["'path'"],
        id="manifest-path-dotdot",
    ),
    pytest.param(
        first_record(lambda r: r.update(path="/etc/passwd")),
        ["'path'"],
        id="manifest-path-absolute",
    ),
    pytest.param(
        first_record(lambda r: r.update(path="data/../../train-00000-of-00001.parquet")),
        ["'path'"],
        id="manifest-path-climbs-inside-name",
    ),
    pytest.param(edit_manifest(bad_split_name), ["split name"], id="manifest-split-dotdot"),
    pytest.param(first_record(lambda r: r.update(rows="ten")), ["'rows'"], id="manifest-rows"),
    pytest.param(first_record(lambda r: r.update(sha256=7)), ["'sha256'"], id="manifest-sha-int"),
    pytest.param(
        replace_manifest(manifest_symlink), ["not a regular file"], id="manifest-symlink-out"
    ),
    pytest.param(
        replace_manifest(lambda t, s: t.mkdir()), ["not a regular file"], id="manifest-a-folder"
    ),
    pytest.param(
        replace_manifest(lambda t, s: os.mkfifo(t)), ["not a regular file"], id="manifest-fifo"
    ),
]

SHARD_CASES = [
    pytest.param(
        replace_shard(lambda t, s: t.touch()),
        ["cannot be read as Parquet", "--resume"],
        id="shard-zero-bytes",
    ),
    pytest.param(truncate_shard, ["cannot be read as Parquet"], id="shard-truncated"),
    pytest.param(
        replace_shard(write_text),
        ["cannot be read as Parquet"],
        id="shard-text-file",
    ),
    pytest.param(replace_shard(foreign_parquet), ["schema differs"], id="shard-foreign-parquet"),
    pytest.param(
        rewrite_shard(lambda t: t.drop_columns(["label"])), ["schema differs"], id="shard-no-label"
    ),
    pytest.param(
        rewrite_shard(lambda t: t.append_column("extra", pa.array([1] * len(t)))),
        ["schema differs"],
        id="shard-extra-column",
    ),
    pytest.param(
        rewrite_shard(
            lambda t: t.set_column(
                t.schema.get_field_index("label"), "label", pa.array(["x"] * len(t))
            )
        ),
        ["schema differs"],
        id="shard-label-as-text",
    ),
    pytest.param(
        rewrite_shard(change_image_byte),
        ["sha256 differs", "bytes differ from the original"],
        id="shard-image-byte-changed",
    ),
    pytest.param(flip_raw_byte, ["sha256 differs"], id="shard-raw-byte-flipped"),
    pytest.param(
        first_record(lambda r: r.update(rows=r["rows"] + 1)),
        ["rows, manifest says"],
        id="shard-rows-disagree",
    ),
    pytest.param(
        replace_shard(lambda t, s: None), ["listed in manifest.json but missing"], id="shard-gone"
    ),
    pytest.param(replace_shard(lambda t, s: os.mkfifo(t)), ["not a regular file"], id="shard-fifo"),
    pytest.param(replace_shard(lambda t, s: t.mkdir()), ["not a regular file"], id="shard-folder"),
    pytest.param(replace_shard(shard_symlink_out), ["symbolic link"], id="shard-symlink-out"),
    pytest.param(link_split_out, ["outside the pack folder"], id="split-folder-linked-out"),
]


@contextmanager
def fifo_guard(root: Path) -> Iterator[list[Path]]:
    """Open the other end of every FIFO under ``root`` for whoever waits on it; report them.

    A writer's non-blocking open succeeds only while a reader is blocked on the FIFO: then the
    reader is freed (it reads end of file) and the FIFO is recorded as opened.
    """
    fifos = [p for p in root.rglob("*") if p.is_fifo()]
    opened: list[Path] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for f in fifos:
                try:
                    os.close(os.open(f, os.O_WRONLY | os.O_NONBLOCK))
                    opened.append(f)
                except OSError:
                    pass
            stop.wait(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield opened
    finally:
        stop.set()
        thread.join()


def damaged(packed: Path, tmp_path: Path, damage: Damage) -> tuple[Path, Path]:
    folder, scratch = tmp_path / "copy", tmp_path / "outside"
    shutil.copytree(packed, folder)
    scratch.mkdir()
    damage(folder, scratch)
    return folder, scratch


@pytest.mark.parametrize(("damage", "words"), MANIFEST_CASES)
def test_verify_refuses_a_bad_manifest(
    packed: Path, clean_sample: Path, tmp_path: Path, damage: Damage, words: list[str]
) -> None:
    folder, scratch = damaged(packed, tmp_path, damage)
    with fifo_guard(folder) as opened:
        r = hostile(["verify", folder], 2, words, untouched=[folder, scratch, clean_sample])
    assert opened == []
    assert "manifest.json" in r.stderr


@pytest.mark.parametrize(("damage", "words"), SHARD_CASES)
def test_verify_finds_a_bad_shard(
    packed: Path, clean_sample: Path, tmp_path: Path, damage: Damage, words: list[str]
) -> None:
    folder, scratch = damaged(packed, tmp_path, damage)
    with fifo_guard(folder) as opened:
        r = hostile(
            ["verify", folder, "--json"],
            1,
            words,
            untouched=[folder, scratch, clean_sample],
            where="stdout",
        )
    assert opened == []
    rel = manifest_of(folder)["splits"]["train"]["shards"][0]["path"]
    paths = {f["path"] for f in json.loads(r.stdout)["findings"]}
    assert rel in paths  # the finding names the shard


# --------------------------------------------------------------------------- the loader


LOADER_CASES = [
    pytest.param(lambda f, s: (f / "manifest.json").unlink(), "--resume", id="no-manifest"),
    pytest.param(first_record(lambda r: r.update(path="../../etc/passwd")), "'path'", id="dotdot"),
    pytest.param(replace_shard(lambda t, s: os.mkfifo(t)), "not a regular file", id="fifo"),
    pytest.param(replace_shard(shard_symlink_out), "symbolic link", id="symlink-out"),
    pytest.param(link_split_out, "outside the pack folder", id="split-linked-out"),
    pytest.param(truncate_shard, "norwoodkit verify", id="truncated"),
    pytest.param(replace_shard(foreign_parquet), "norwoodkit verify", id="foreign-parquet"),
    pytest.param(rewrite_shard(change_image_byte), "norwoodkit verify", id="image-byte-changed"),
    pytest.param(flip_raw_byte, "norwoodkit verify", id="raw-byte-flipped"),
]


@pytest.mark.parametrize(("damage", "words"), LOADER_CASES)
def test_loader_refuses_a_damaged_pack(
    packed: Path, tmp_path: Path, damage: Damage, words: str
) -> None:
    pytest.importorskip("torch")
    from norwoodkit.loader import ShardDataset, ShardIndex

    folder, _ = damaged(packed, tmp_path, damage)
    with fifo_guard(folder) as opened:
        with pytest.raises(InputError) as info:
            list(ShardDataset(folder, "train", size=16, shuffle=False))
        assert words in str(info.value)
        with pytest.raises(InputError):
            index = ShardIndex(folder, "train", size=16)
            [index[i] for i in range(len(index))]
    assert opened == []


def test_loader_skips_a_changed_image_and_counts_it(
    packed: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("torch")
    from norwoodkit.loader import ShardDataset

    folder, _ = damaged(packed, tmp_path, rewrite_shard(change_image_byte))
    changed = pq.read_table(first_shard(folder)).to_pylist()[2]
    ds = ShardDataset(folder, "train", size=16, shuffle=False, on_bad_image="skip")
    with caplog.at_level("WARNING", logger="norwoodkit.loader"):
        got = list(ds)
    assert ds.skipped == 1
    assert "norwoodkit verify" in caplog.text and "changed" in caplog.text
    # the changed image never comes out; a replacement keeps the count
    assert changed["image"]["path"] not in [m["path"] for _, _, m in got[: ds.rows - 1]]
    assert len(got) == ds.rows


def test_loader_refuses_a_changed_resized_shard(clean_sample: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from norwoodkit.loader import ShardDataset

    out = tmp_path / "resized"
    r = run(["pack", clean_sample, "--out", out, "--resize", "48", "--shard-size", "64KiB", "-q"])
    assert r.exit_code == 0, r.output
    assert len(list(ShardDataset(out, "train", size=16))) > 0
    flip_raw_byte(out, tmp_path)
    with pytest.raises(InputError, match=r"sha256 differs from manifest\.json") as info:
        ShardDataset(out, "train", size=16)
    assert "norwoodkit verify" in str(info.value)


# --------------------------------------------------------------------------- interruptions


@pytest.fixture(scope="module")
def three_hundred(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sample of 300 tiny images, probed into the module's cache."""
    root = tmp_path_factory.mktemp("kill") / "sample"
    sample.write(root, sample.SampleOptions(subjects=60, seed=5, size="tiny", workers=1))
    return root


def pack_cmd(root: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "norwoodkit",
        "pack",
        str(root),
        "--out",
        str(out),
        "--shard-size",
        "64KiB",
        "--rows-per-group",
        "5",
        "-q",
        *extra,
    ]


def files_under(out: Path) -> list[Path]:
    """Every path under ``out``, walked again if pack removed a folder during the walk."""
    for _ in range(100):
        try:
            return list(out.rglob("*"))
        except FileNotFoundError:
            continue
    return list(out.rglob("*"))


def shards_in(out: Path) -> int:
    return sum(1 for p in files_under(out) if p.name.endswith(".parquet") and "-of-" in p.name)


def temporaries(out: Path) -> list[Path]:
    return [p for p in files_under(out) if p.name.endswith(".tmp")]


#: When to stop pack: a test of the folder, polled every few milliseconds.
MOMENTS = [
    pytest.param(lambda out, t: t > 0.2, id="after-0.2s"),
    pytest.param(lambda out, t: shards_in(out) >= 1, id="first-shard"),
    pytest.param(lambda out, t: bool(temporaries(out)) and shards_in(out) >= 2, id="mid-shard"),
    pytest.param(lambda out, t: (out / "README.md").exists(), id="before-manifest"),
]


def stop_when(
    proc: subprocess.Popen[bytes], out: Path, moment: Callable[[Path, float], bool]
) -> None:
    start = time.monotonic()
    while proc.poll() is None and time.monotonic() - start < 120:
        if out.is_dir() and moment(out, time.monotonic() - start):
            return
        time.sleep(0.002)


def assert_not_complete(out: Path) -> None:
    """Without manifest.json, verify refuses (exit 2, pointing to --resume), and so does the
    loader; with one, the pack finished and verify passes."""
    if (out / "manifest.json").exists():
        check(run(["verify", out]), 0)
        return
    check(run(["verify", out]), 2, ["no manifest", "--resume"])
    try:
        from norwoodkit.loader import ShardDataset
    except ImportError:
        return
    with pytest.raises(InputError, match="--resume"):
        ShardDataset(out, "train", size=16)


@pytest.mark.parametrize("moment", MOMENTS)
def test_kill_9_then_resume(
    three_hundred: Path, tmp_path: Path, moment: Callable[[Path, float], bool]
) -> None:
    probe.run(dataset.load(three_hundred))  # a warm cache: the child spends its time packing
    out = tmp_path / "out"
    before = tree(three_hundred)
    proc = subprocess.Popen(pack_cmd(three_hundred, out), stderr=subprocess.DEVNULL)
    stop_when(proc, out, moment)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if out.is_dir():
        assert_not_complete(out)
    r = subprocess.run(pack_cmd(three_hundred, out, "--resume"), capture_output=True, check=False)
    assert r.returncode == 0, r.stderr
    check(run(["verify", out]), 0)
    assert temporaries(out) == [] and not (out / ".norwoodkit-pack").exists()
    assert tree(three_hundred) == before


def test_resume_after_kill_over_an_earlier_pack_keeps_no_stale_manifest(
    three_hundred: Path, tmp_path: Path
) -> None:
    # An --overwrite run killed early must not leave the earlier manifest to vouch for shards
    # that are being replaced.
    probe.run(dataset.load(three_hundred))
    out = tmp_path / "out"
    subprocess.run(pack_cmd(three_hundred, out), check=True, capture_output=True)
    first = {p: p.stat().st_mtime_ns for p in out.rglob("*-of-*.parquet")}
    proc = subprocess.Popen(
        pack_cmd(three_hundred, out, "--overwrite", "--rows-per-group", "3"),
        stderr=subprocess.DEVNULL,
    )
    stop_when(proc, out, lambda o, t: rewritten(o, first))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert_not_complete(out)


def rewritten(out: Path, first: dict[Path, int]) -> bool:
    """Whether a shard of the earlier pack was replaced by a new one.

    Only the earlier shards' own paths are looked at: walking ``out`` while the pack removes a
    folder under it raises from inside the walk.
    """
    del out
    for p, mtime in first.items():
        try:
            if p.stat().st_mtime_ns != mtime:
                return True
        except FileNotFoundError:
            continue
    return False


def test_leftover_temporaries_are_removed_by_the_next_run(
    three_hundred: Path, tmp_path: Path
) -> None:
    probe.run(dataset.load(three_hundred))
    out = tmp_path / "out"
    subprocess.run(pack_cmd(three_hundred, out), check=True, capture_output=True)
    (out / ".norwoodkit-pack").mkdir()
    ours = [
        out / "data" / ".train-00000-of-00009.parquet.1234.tmp",
        out / ".manifest.json.ab12cd34.tmp",
        out / ".README.md.zz_9yy00.tmp",
        out / ".norwoodkit-pack" / ".data__train-00001-of-00009.parquet.json.q1w2e3r4.tmp",
    ]
    theirs = [out / "notes.tmp", out / ".manifest.json.tmp", out / "data" / "mine.parquet.tmp"]
    for p in ours + theirs:
        p.write_text("left over")
    r = subprocess.run(
        pack_cmd(three_hundred, out, "--overwrite"), capture_output=True, check=False
    )
    assert r.returncode == 0, r.stderr
    assert [p for p in ours if p.exists()] == []
    assert all(p.read_text() == "left over" for p in theirs)  # not ours: left alone


def test_ctrl_c_exits_130_and_leaves_no_temporary(three_hundred: Path, tmp_path: Path) -> None:
    probe.run(dataset.load(three_hundred))
    out = tmp_path / "out"
    proc = subprocess.Popen(pack_cmd(three_hundred, out), stderr=subprocess.PIPE)
    stop_when(proc, out, lambda o, t: shards_in(o) >= 1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert b"Traceback" not in err
    assert temporaries(out) == [] and not (out / "manifest.json").exists()


#: Runs the CLI with pyarrow's ``ParquetWriter.__del__`` sending the process a Ctrl-C the first
#: time it runs, and waiting in Python code for it: Python raises it inside the finalizer and only
#: prints "Exception ignored". This is how CI once saw a Ctrl-C lost, at random, mid-pack.
SWALLOWING_PACK = """
import os, signal, sys, time
import pyarrow.parquet as pq
finalize, fired = pq.ParquetWriter.__del__, []
def swallowing(self):
    if not fired:
        fired.append(True)
        os.kill(os.getpid(), signal.SIGINT)
        start = time.monotonic()
        while time.monotonic() - start < 1.0:
            pass
    finalize(self)
pq.ParquetWriter.__del__ = swallowing
sys.argv = ["norwoodkit", *sys.argv[1:]]
from norwoodkit.cli import main
main()
"""


def test_a_ctrl_c_a_finalizer_swallows_still_stops_the_pack(
    three_hundred: Path, tmp_path: Path
) -> None:
    """A Ctrl-C raised inside a finalizer, which Python discards, is still remembered: the
    pack publishes no further shard or manifest, removes its temporaries and exits 130."""
    probe.run(dataset.load(three_hundred))
    out = tmp_path / "out"
    cmd = [sys.executable, "-c", SWALLOWING_PACK, *pack_cmd(three_hundred, out)[3:]]
    proc = subprocess.run(cmd, capture_output=True, timeout=120)
    assert b"Exception ignored" in proc.stderr, proc.stderr  # the swallowing did happen
    assert proc.returncode == 130, proc.stderr
    assert b"interrupted" in proc.stderr
    assert temporaries(out) == [] and not (out / "manifest.json").exists()
    assert shards_in(out) <= 1
    assert_not_complete(out)


def test_a_changed_page_fails_its_checksum_before_anything_is_decoded(
    packed: Path, tmp_path: Path
) -> None:
    """pack writes a CRC32 per Parquet page and the loader checks it on read: a flipped byte
    in a page (here an image's stored bytes) stops the read of that row group as a damaged
    shard, pointing to verify, before any per-image check or decode."""
    pytest.importorskip("torch")
    import pyarrow.parquet as pq

    from norwoodkit.loader import ShardDataset

    folder = tmp_path / "copy"
    shutil.copytree(packed, folder)
    shard = first_shard(folder)
    group = pq.ParquetFile(shard).metadata.row_group(0)
    images = next(
        group.column(i)
        for i in range(group.num_columns)
        if group.column(i).path_in_schema == "image.bytes"
    )
    middle = images.data_page_offset + images.total_compressed_size // 2
    data = bytearray(shard.read_bytes())
    data[middle] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(InputError) as info:
        list(ShardDataset(folder, "train", size=16, shuffle=False))
    assert info.value.code == "shard-unreadable", info.value.code
    assert "verify" in str(info.value)


@pytest.mark.parametrize("resize", [None, 32], ids=["originals", "resized"])
def test_an_image_swapped_for_a_fifo_after_probing_is_refused_not_read(
    make_dataset: MakeDataset, tmp_path: Path, resize: int | None
) -> None:
    """pack reads images through the probe's guarded read: a photo replaced by a FIFO after
    the probe (a warm cache still says it is fine) is refused, naming the file; never a hang."""
    from norwoodkit.source import DatasetSource

    root = make_dataset(subjects=2)
    probed = DatasetSource(root, cache_dir=tmp_path / "cache", workers=1).open()
    front = root / "1" / "Front.jpg"
    front.unlink()
    os.mkfifo(front)
    opts = pack.PackOptions(resize=resize, workers=1)
    with pytest.raises(InputError) as info:
        pack.write(probed, tmp_path / "out", opts)
    assert info.value.code == "image-changed" or "1/Front.jpg" in str(info.value)
    assert "1/Front.jpg" in str(info.value) and "named pipe" in str(info.value)


@pytest.mark.parametrize("flag", ["--overwrite", "--resume"])
def test_someone_elses_shards_are_never_replaced(
    make_dataset: MakeDataset, tmp_path: Path, flag: str
) -> None:
    """A Hugging Face dataset folder has files named exactly like ours; without a manifest or
    records of ours, pack refuses rather than replace one."""
    root = make_dataset(subjects=2)
    out = tmp_path / "hub"
    (out / "data").mkdir(parents=True)
    theirs = out / "data" / "train-00000-of-00001.parquet"
    theirs.write_bytes(b"PAR1 somebody else's shard PAR1")
    hostile(
        ["pack", root, "--out", out, flag, "-q"],
        2,
        ["train-00000-of-00001.parquet", "no manifest or resume record"],
        untouched=[root, out],
    )
