"""pack and verify: real shards read back by pyarrow, Hugging Face datasets and DuckDB."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from conftest import MakeDataset, jpeg_bytes, photo
from norwoodkit import dataset, pack, probe
from norwoodkit import split as splits
from norwoodkit.cli import app
from norwoodkit.errors import InputError, OutputError, ParameterError
from norwoodkit.labels import View

runner = CliRunner()


@pytest.fixture(scope="module")
def sample_root(defect_sample: Path) -> Path:
    """The shared defects sample, under the name these tests know it by."""
    return defect_sample


@pytest.fixture(scope="module")
def split_file(sample_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("spl") / "splits.csv"
    r = runner.invoke(
        app,
        [
            "split",
            str(sample_root),
            "--out",
            str(out),
            "--ratios",
            "60,40",
            "--stratify",
            "age_bin",
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="module")
def packed(sample_root: Path, split_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out") / "shards"
    r = runner.invoke(
        app,
        [
            "pack",
            str(sample_root),
            "--out",
            str(out),
            "--splits",
            str(split_file),
            "--shard-size",
            "1MB",
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    return out


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_pyarrow_reads_every_image_byte_identical(packed: Path, sample_root: Path) -> None:
    table = pads.dataset(packed, format="parquet", exclude_invalid_files=True).to_table()
    rows = table.to_pylist()
    manifest = json.loads((packed / "manifest.json").read_text())
    assert len(rows) == manifest["rows"]
    for row in rows:
        original = (sample_root / row["image"]["path"]).read_bytes()
        if row["orientation"] in (None, 1):  # turned photos are stored upright (orientation)
            assert row["image"]["bytes"] == original
        assert row["sha256"] == sha(original)
        assert row["label"] == row["stage"] - 1
    excluded = {e["path"] for e in manifest["excluded"]}
    assert not excluded & {r["image"]["path"] for r in rows}
    planted = json.loads((sample_root / "defects.json").read_text())["defects"]
    broken = {
        d["path"]
        for d in planted
        if d["code"] in ("image-empty", "image-truncated", "image-undecodable")
    }
    assert broken <= excluded


def test_layout_of_shards(packed: Path) -> None:
    manifest = json.loads((packed / "manifest.json").read_text())
    subject_shard: dict[str, str] = {}
    order = []
    for split_name, s in manifest["splits"].items():
        assert len(s["shards"]) > 1
        for rec in s["shards"]:
            path = packed / rec["path"]
            assert rec["sha256"] == sha(path.read_bytes())
            assert rec["path"].startswith(f"data/{split_name}-")
            pf = pq.ParquetFile(path)
            assert pf.metadata.num_rows == rec["rows"]
            for rg in range(pf.metadata.num_row_groups):
                meta = pf.metadata.row_group(rg)
                assert meta.num_rows <= 25
                cols = {
                    meta.column(i).path_in_schema: meta.column(i) for i in range(meta.num_columns)
                }
                assert cols["image.bytes"].compression == "UNCOMPRESSED"
                assert not cols["image.bytes"].is_stats_set
                assert "RLE_DICTIONARY" not in cols["image.bytes"].encodings
                assert cols["subject_id"].compression == "ZSTD"
                group = pf.read_row_group(rg, columns=["subject_id", "split"]).to_pylist()
                for r in group:
                    where = f"{rec['path']}#{rg}"
                    assert subject_shard.setdefault(r["subject_id"], where) == where
                    assert r["split"] == split_name
                order += list(dict.fromkeys(r["subject_id"] for r in group))
    assert order != sorted(order, key=int)  # shuffled


def test_huggingface_datasets_loads_images_and_class_names(packed: Path, sample_root: Path) -> None:
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset("parquet", data_dir=str(packed))
    assert set(ds) == {"train", "test"}
    train = ds["train"]
    assert train.features["label"].names == [f"stage_{i}" for i in range(1, 8)]
    first = train[0]
    assert isinstance(first["image"], Image.Image)
    raw = train.cast_column("image", datasets.Image(decode=False))
    for row in raw.select(range(10)):
        if row["orientation"] in (None, 1):  # turned photos are stored upright (orientation)
            assert row["image"]["bytes"] == (sample_root / row["image"]["path"]).read_bytes()


def test_duckdb_counts_match_the_split(packed: Path, split_file: Path, sample_root: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    got = dict(
        duckdb.sql(
            f"SELECT stage, count(*) FROM '{packed}/data/train-*.parquet' GROUP BY stage"
        ).fetchall()
    )
    manifest = json.loads((packed / "manifest.json").read_text())
    excluded = {e["path"] for e in manifest["excluded"]}
    ds = probe.run(dataset.load(sample_root))
    assign = pd.read_csv(split_file, dtype=str)
    images = ds.images.merge(assign, on="subject_id")
    images = images[(images["split"] == "train") & ~images["path"].isin(excluded)]
    expected = images.groupby("stage").size().to_dict()
    assert got == {int(str(k)): int(v) for k, v in expected.items()}


def test_same_seed_same_shards(sample_root: Path, split_file: Path, tmp_path: Path) -> None:
    ds = probe.run(dataset.load(sample_root))
    assign = splits.read_assignment(split_file)
    opts = pack.PackOptions(shard_size=pack.parse_size("1MB"), seed=3)
    a = pack.write(ds, tmp_path / "a", opts, splits=assign).manifest
    b = pack.write(ds, tmp_path / "b", opts, splits=assign).manifest
    c = pack.write(
        ds, tmp_path / "c", pack.PackOptions(shard_size=10**6, seed=4), splits=assign
    ).manifest
    hashes = [[s["sha256"] for sp in m["splits"].values() for s in sp["shards"]] for m in (a, b, c)]
    assert hashes[0] == hashes[1] != hashes[2]
    assert a["source"]["table_sha256"] == c["source"]["table_sha256"]


def test_subject_layout(sample_root: Path, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    ds = probe.run(dataset.load(sample_root))
    result = pack.write(
        ds, tmp_path / "subj", pack.PackOptions(layout=pack.Layout.SUBJECT, rows_per_group=4)
    )
    table = pads.dataset(tmp_path / "subj" / "data", format="parquet").to_table().to_pylist()
    assert len(table) == result.manifest["source"]["subjects"]
    assert len({r["subject_id"] for r in table}) == len(table)
    full = next(r for r in table if all(r[f"image_{v.value}"] for v in View))
    assert (sample_root / full["image_top"]["path"]).read_bytes() == full["image_top"]["bytes"]
    assert full["sha256_top"] == sha(full["image_top"]["bytes"])
    hf = datasets.load_dataset("parquet", data_dir=str(tmp_path / "subj"))["train"]
    assert isinstance(hf[0]["image_front"], Image.Image) or hf[0]["image_front"] is None
    assert runner.invoke(app, ["verify", str(tmp_path / "subj")]).exit_code == 0


def test_resize_applies_exif_and_keeps_original_hash(
    make_dataset: MakeDataset, tmp_path: Path
) -> None:
    img = photo(4, (300, 200))
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = jpeg_bytes(img.transpose(Image.Transpose.ROTATE_90), exif=exif.tobytes())
    root = make_dataset(2, corrupt={("1", View.FRONT): rotated})
    ds = probe.run(dataset.load(root))
    pack.write(ds, tmp_path / "r", pack.PackOptions(resize=64, quality=85))
    rows = (
        pads.dataset(tmp_path / "r", format="parquet", exclude_invalid_files=True)
        .to_table()
        .to_pylist()
    )
    front = next(r for r in rows if r["subject_id"] == "1" and r["view"] == "front")
    import io

    with Image.open(io.BytesIO(front["image"]["bytes"])) as im:
        assert im.size == (96, 64)  # upright 300x200 -> short side 64
        assert im.getexif().get(0x0112) is None
    assert front["sha256"] == sha(rotated) and front["size"] == len(rotated)
    assert runner.invoke(app, ["verify", str(tmp_path / "r"), "--decode"]).exit_code == 0


def test_exclude_list(sample_root: Path, tmp_path: Path) -> None:
    ds = probe.run(dataset.load(sample_root))
    exclude = pd.DataFrame({"path": ["3/Front.jpg", ""], "subject_id": ["3", "4"]})
    result = pack.write(ds, tmp_path / "x", exclude=exclude)
    paths = {
        r["image"]["path"]
        for r in pads.dataset(tmp_path / "x" / "data", format="parquet")
        .to_table(columns=["image"])
        .to_pylist()
    }
    assert "3/Front.jpg" not in paths and "3/Back.jpg" in paths
    assert not any(p.startswith("4/") for p in paths)
    reasons = {e["path"]: e["reason"] for e in result.manifest["excluded"]}
    assert reasons["3/Front.jpg"] == "in the exclude list"


def test_card_and_manifest(packed: Path) -> None:
    card = (packed / "README.md").read_text()
    for needle in ("load_dataset", "pyarrow", "duckdb", "ShardDataset", "| train |"):
        assert needle.lower() in card.lower()
    m = json.loads((packed / "manifest.json").read_text())
    assert m["format"] == "norwoodkit-shards" and m["norwoodkit_version"]
    assert m["format_version"] == 2 and m["folds"] is None
    assert m["split_names"] == {"train": "train", "test": "test"}
    assert yaml.safe_load(card.split("---\n")[1])["configs"] == m["configs"]
    assert m["configs"] == [
        {
            "config_name": "default",
            "data_files": [
                {"split": "train", "path": ["data/train-*.parquet"]},
                {"split": "test", "path": ["data/test-*.parquet"]},
            ],
        }
    ]
    assert m["label_names"][0] == "stage_1" and m["schema"]["image"].startswith("struct")
    for s in m["splits"].values():
        for rec in s["shards"]:
            assert set(rec) >= {"path", "rows", "bytes", "sha256", "stage_counts", "row_groups"}


# ----------------------------------------------------------------------------- bad input


def test_refuses_a_folder_with_other_files(sample_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    r = runner.invoke(app, ["pack", str(sample_root), "--out", str(out)])
    assert r.exit_code == 2 and "--overwrite" in r.stderr
    r = runner.invoke(app, ["pack", str(sample_root), "--out", str(out), "--overwrite", "-q"])
    assert r.exit_code == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "manifest.json").is_file()


def test_refuses_output_inside_the_dataset(make_dataset: MakeDataset) -> None:
    root = make_dataset(1)
    r = runner.invoke(app, ["pack", str(root), "--out", str(root / "shards")])
    assert r.exit_code == 2 and "inside the dataset" in r.stderr
    assert not (root / "shards").exists()


def test_split_file_that_does_not_match(sample_root: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"subject_id": ["1", "2", "777"], "split": ["train", "test", "train"]}).to_csv(
        bad, index=False
    )
    r = runner.invoke(
        app, ["pack", str(sample_root), "--out", str(tmp_path / "o"), "--splits", str(bad)]
    )
    assert r.exit_code == 2
    assert "777" in r.stderr and "in no split" in r.stderr
    assert not any((tmp_path / "o").glob("**/*.parquet"))


@pytest.mark.parametrize(
    ("options", "parameter", "problem"),
    [
        ({"shard_size": 10}, "shard_size", "64KiB"),
        ({"rows_per_group": 0}, "rows_per_group", "at least 1"),
        ({"resize": 3}, "resize", "short side"),
        ({"quality": 101}, "quality", "1..100"),
    ],
)
def test_bad_options_name_their_parameter(
    options: dict[str, Any], parameter: str, problem: str
) -> None:
    with pytest.raises(ParameterError, match=problem) as info:
        pack.PackOptions(**options)
    assert info.value.parameter == parameter and info.value.code == "usage"
    assert str(info.value).startswith(f"{parameter}: ")


def test_parse_size() -> None:
    assert pack.parse_size("128MiB") == 128 * 2**20 and pack.parse_size("2MB") == 2_000_000
    assert pack.parse_size("500k") == 500_000 and pack.parse_size("1048576") == 2**20
    with pytest.raises(ParameterError, match="128MB") as info:
        pack.parse_size("lots")
    assert info.value.parameter == "shard_size"


def test_cli_shows_bad_options_under_their_flags(sample_root: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "o")
    r = runner.invoke(app, ["pack", str(sample_root), "--out", out, "--shard-size", "lots"])
    assert r.exit_code == 2 and "--shard-size: 'lots' is not a size" in r.stderr
    r = runner.invoke(app, ["pack", str(sample_root), "--out", out, "--quality", "0"])
    assert r.exit_code == 2 and "--quality: 0 is outside 1..100" in r.stderr
    assert not (tmp_path / "o").exists()


def test_manifest_rows_never_raises(packed: Path, tmp_path: Path) -> None:
    manifest = json.loads((packed / "manifest.json").read_text())
    assert pack.manifest_rows(packed) == manifest["rows"] > 0
    assert pack.manifest_rows(tmp_path / "nowhere") == 0
    (tmp_path / "manifest.json").write_text('{"rows": "many"}')
    assert pack.manifest_rows(tmp_path) == 0
    (tmp_path / "manifest.json").write_bytes(b"\xff not json")
    assert pack.manifest_rows(tmp_path) == 0


def _pack_cmd(root: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "norwoodkit",
        "pack",
        str(root),
        "--out",
        str(out),
        "--shard-size",
        "256KiB",
        "--quiet",
        *extra,
    ]


def test_disk_full_leaves_no_half_shard(sample_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "full"
    probe.run(dataset.load(sample_root))  # warm cache so the child only writes shards
    code = (
        "import resource, runpy, sys; "
        "resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000)); "
        "sys.argv = ['norwoodkit', *sys.argv[1:]]; "
        "runpy.run_module('norwoodkit', run_name='__main__')"
    )
    args = _pack_cmd(sample_root, out)[3:]  # drop python -m norwoodkit
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2, proc.stderr
    assert "writing the shard failed" in proc.stderr and "--resume" in proc.stderr
    assert not list(out.rglob("*.tmp"))
    for shard in out.rglob("*.parquet"):
        assert pq.ParquetFile(shard).metadata.num_rows > 0  # shards left behind are complete


def test_kill_9_then_resume_and_verify(sample_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed"
    probe.run(dataset.load(sample_root))
    proc = subprocess.Popen(
        _pack_cmd(sample_root, out, "--resize", "300"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline and len(list(out.rglob("*-of-*.parquet"))) < 2:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "manifest.json").exists()
    done_before = {p.name for p in out.rglob("*-of-*.parquet")}
    assert done_before
    r = subprocess.run(
        _pack_cmd(sample_root, out, "--resize", "300", "--resume", "--json"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    resumed = json.loads(r.stdout)["resumed_shards"]
    assert resumed and {Path(p).name for p in resumed} <= done_before
    v = runner.invoke(app, ["verify", str(out), "--decode"])
    assert v.exit_code == 0, v.output
    assert not list(out.rglob("*.tmp"))


def test_verify_catches_corruption(packed: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(packed, copy)
    shard = sorted(copy.rglob("*-of-*.parquet"))[0]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, in the middle of the image bytes
    shard.write_bytes(bytes(data))
    r = runner.invoke(app, ["verify", str(copy), "--json"])
    assert r.exit_code == 1
    codes = {f["code"] for f in json.loads(r.stdout)["findings"]}
    assert "shard-hash" in codes and ("image-hash" in codes or "shard-unreadable" in codes)
    shard.unlink()
    extra = copy / "data" / "train-00099-of-00099.parquet"
    shutil.copy(sorted(copy.rglob("*-of-*.parquet"))[0], extra)
    codes = {
        f["code"]
        for f in json.loads(runner.invoke(app, ["verify", str(copy), "--json"]).stdout)["findings"]
    }
    assert {"shard-missing", "shard-unlisted"} <= codes


def test_verify_bad_manifests(packed: Path, tmp_path: Path) -> None:
    r = runner.invoke(app, ["verify", str(tmp_path)])
    assert r.exit_code == 2 and "no manifest" in r.stderr
    import shutil

    copy = tmp_path / "newer"
    shutil.copytree(packed, copy)
    m = json.loads((copy / "manifest.json").read_text())
    m["format_version"] = 99
    (copy / "manifest.json").write_text(json.dumps(m))
    r = runner.invoke(app, ["verify", str(copy)])
    assert r.exit_code == 2 and "newer norwoodkit" in r.stderr
    with pytest.raises(InputError):
        pack.verify(copy)


def test_output_errors_are_typed(make_dataset: MakeDataset, tmp_path: Path) -> None:
    ds = probe.run(dataset.load(make_dataset(1)))
    with pytest.raises(OutputError, match="does not exist"):
        pack.write(ds, tmp_path / "a" / "b")
    os.makedirs(tmp_path / "f", exist_ok=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        pack.write(ds, tmp_path / "file")


@pytest.mark.parametrize("layout", list(pack.Layout))
def test_chunked_arrow_columns_pack_like_contiguous_ones(
    clean_sample: Path, tmp_path: Path, layout: pack.Layout
) -> None:
    # A table built from many Arrow batches (a probe that streamed its results, or a table a
    # user assembled) holds chunked columns; the shards must come out byte for byte the same.
    # A clean dataset: with nothing left out, no filter step copies the chunks together.
    import pyarrow as pa

    ds = probe.run(dataset.load(clean_sample), cache_dir=tmp_path / "cache")
    chunked = ds.table.copy()
    for name in chunked.columns:
        col = chunked[name]
        if isinstance(col.dtype, pd.StringDtype) and col.dtype.storage == "pyarrow":
            values = pa.array(col, from_pandas=True)
            pieces = pa.chunked_array([values.slice(i, 7) for i in range(0, len(values), 7)])
            chunked[name] = pd.Series(pieces, dtype=col.dtype, index=col.index)
            assert pa.array(chunked[name]).num_chunks > 1  # pandas kept the chunks
    opts = pack.PackOptions(layout=layout, shard_size=64 * 1024, rows_per_group=3)
    a = pack.write(ds, tmp_path / "plain", opts).manifest
    b = pack.write(ds.with_table(chunked), tmp_path / "chunked", opts).manifest
    shards = [(s["path"], s["sha256"]) for split in a["splits"].values() for s in split["shards"]]
    assert len(shards) > 1
    assert shards == [
        (s["path"], s["sha256"]) for split in b["splits"].values() for s in split["shards"]
    ]
