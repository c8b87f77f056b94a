"""pack's cold pipeline (probe and write overlapping) and byte-capped row groups."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hostile import check, hostile, run

from conftest import MakeDataset
from norwoodkit import dataset, probe
from norwoodkit.errors import ParameterError
from norwoodkit.labels import VENDOR_FILENAMES, View
from norwoodkit.pack import PackOptions, parse_size, pipeline, write
from norwoodkit.pack.pipeline import write_probing
from norwoodkit.probe.runner import ProbeStream


def files(out: Path) -> dict[str, str]:
    """Every file of a pack folder (its state folder aside) with its sha256."""
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def warm_pack(root: Path, out: Path, cache: Path, opts: PackOptions) -> dict[str, str]:
    """What ``write`` makes from a dataset probed first (the warm path, as main packs)."""
    write(probe.run(dataset.load(root), cache_dir=cache), out, opts)
    return files(out)


@pytest.mark.parametrize("sample", ["clean_sample", "defect_sample"])
def test_cold_pipeline_writes_what_a_warm_pack_writes(
    sample: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    root: Path = request.getfixturevalue(sample)
    opts = PackOptions(shard_size=64 * 1024, workers=2)
    cold = write_probing(dataset.load(root), tmp_path / "cold", opts, cache_dir=tmp_path / "c")
    assert cold.manifest["rows"] > 0
    cold_files = files(tmp_path / "cold")
    assert len([f for f in cold_files if f.endswith(".parquet")]) > 1
    assert cold_files == warm_pack(root, tmp_path / "warm", tmp_path / "c2", opts)
    # A second pipeline run, over the cache the first one filled (warm).
    write_probing(dataset.load(root), tmp_path / "again", opts, cache_dir=tmp_path / "c")
    assert files(tmp_path / "again") == cold_files


@pytest.mark.parametrize("sample", ["clean_sample", "defect_sample"])
@pytest.mark.parametrize("pour", [1, 7])
def test_results_poured_a_few_rows_at_a_time_write_the_same_pack(
    sample: str, pour: int, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: Any
) -> None:
    """Many pours, each of any size, and (defects) a wrong guess met in a later pour.

    On the clean sample the guess holds, so every image is written once: a pour that lost or
    misplaced results would make the plans differ and the shards be written again.
    """
    root: Path = request.getfixturevalue(sample)
    monkeypatch.setattr(pipeline, "POUR_ROWS", pour)
    opts = PackOptions(shard_size=64 * 1024, workers=2)
    written: list[int] = []
    result = write_probing(
        dataset.load(root),
        tmp_path / "cold",
        opts,
        cache_dir=tmp_path / "c",
        progress=written.append,
    )
    assert files(tmp_path / "cold") == warm_pack(root, tmp_path / "warm", tmp_path / "c2", opts)
    if sample == "clean_sample":
        assert sum(written) == result.manifest["rows"]


def test_cold_pipeline_fills_the_cache(clean_sample: Path, tmp_path: Path) -> None:
    write_probing(dataset.load(clean_sample), tmp_path / "out", cache_dir=tmp_path / "c")
    stream = ProbeStream(dataset.load(clean_sample), cache_dir=tmp_path / "c")
    assert len(stream.todo) == 0
    assert stream.known is not None and stream.known.num_rows == 150


def test_image_that_turns_undecodable_is_left_out_as_today(
    make_dataset: MakeDataset, tmp_path: Path
) -> None:
    root = make_dataset(6)
    cache = tmp_path / "c"
    probe.run(dataset.load(root), cache_dir=cache)  # warm: the plan's guess is made from it
    bad = root / "3" / VENDOR_FILENAMES[View.TOP]
    size = bad.stat().st_size
    bad.write_bytes(b"\0" * size)  # the same size: only the probe sees it changed
    result = write_probing(dataset.load(root), tmp_path / "cold", cache_dir=cache)
    assert [e["path"] for e in result.manifest["excluded"]] == ["3/" + bad.name]
    assert files(tmp_path / "cold") == warm_pack(
        root, tmp_path / "w", tmp_path / "c2", PackOptions()
    )


class _Stop(Exception):
    pass


@pytest.mark.parametrize("error", [KeyboardInterrupt, _Stop])
def test_interrupted_cold_pack_leaves_no_partial_shard_and_resumes(
    error: type[BaseException], clean_sample: Path, tmp_path: Path
) -> None:
    opts = PackOptions(shard_size=64 * 1024)
    out = tmp_path / "out"
    written = 0

    def stop(n: int) -> None:
        nonlocal written
        written += n
        if written > 60:
            raise error

    with pytest.raises(error):
        write_probing(
            dataset.load(clean_sample), out, opts, cache_dir=tmp_path / "c", progress=stop
        )
    left = [p.name for p in out.rglob("*") if p.is_file()]
    assert not any(n.endswith(".tmp") for n in left), left
    assert "manifest.json" not in left
    assert any(n.endswith(".parquet") for n in left)  # complete shards stay for --resume
    stream = ProbeStream(dataset.load(clean_sample), cache_dir=tmp_path / "c")
    # An error in the writer still leaves the cache filled, as probing first did; Ctrl-C
    # does not wait for the probe.
    assert len(stream.todo) == (0 if error is _Stop else 150)
    result = write_probing(
        dataset.load(clean_sample), out, opts, cache_dir=tmp_path / "c", resume=True
    )
    assert result.skipped  # the complete shards were kept
    fresh = warm_pack(clean_sample, tmp_path / "w", tmp_path / "c2", opts)
    resumed = files(out)
    # A kept shard's record is read back from its resume record (keys sorted, as on main):
    # the same manifest, in another key order.
    assert resumed.pop("manifest.json") and fresh.pop("manifest.json")
    assert resumed == fresh
    assert json.loads((out / "manifest.json").read_text()) == json.loads(
        (tmp_path / "w" / "manifest.json").read_text()
    )


def _groups(out: Path) -> list[int]:
    return [
        pq.ParquetFile(p).metadata.row_group(g).num_rows
        for p in sorted(out.rglob("*.parquet"))
        for g in range(pq.ParquetFile(p).metadata.num_row_groups)
    ]


def test_row_group_bytes_caps_groups_but_never_splits_a_subject(
    clean_sample: Path, tmp_path: Path
) -> None:
    default = _groups(write(probe.run(dataset.load(clean_sample)), tmp_path / "d").out)
    assert set(default[:-1]) == {20}  # the default cap leaves small photos' groups as they were
    one = write(
        probe.run(dataset.load(clean_sample)), tmp_path / "one", PackOptions(row_group_bytes=1)
    )
    assert set(_groups(one.out)) == {5}  # under one photo: a subject per group
    assert one.manifest["options"]["row_group_bytes"] == 1
    sizes = probe.run(dataset.load(clean_sample)).images.groupby("subject_id")["size"].sum()
    cap = int(sizes.max() * 2.5)  # two subjects fit, often three, never more than fit
    two = write(
        probe.run(dataset.load(clean_sample)), tmp_path / "two", PackOptions(row_group_bytes=cap)
    )
    counts = []
    for p in sorted(two.out.rglob("*.parquet")):
        f = pq.ParquetFile(p)
        for g in range(f.metadata.num_row_groups):
            rows = f.read_row_group(g, columns=["subject_id", "size"]).to_pandas()
            assert rows["size"].sum() <= cap
            counts.append(rows["subject_id"].nunique())
    assert sum(counts) == len(sizes) and max(counts) >= 2  # each subject in one group


def test_row_group_bytes_subject_layout(clean_sample: Path, tmp_path: Path) -> None:
    from norwoodkit.pack import Layout

    opts = PackOptions(layout=Layout.SUBJECT, row_group_bytes=1)
    out = write(probe.run(dataset.load(clean_sample)), tmp_path / "s", opts).out
    assert set(_groups(out)) == {1}


@pytest.mark.parametrize("text", ["0", "-5", "12XB", "", "1.5.5MiB"])
def test_row_group_bytes_refused(text: str, clean_sample: Path, tmp_path: Path) -> None:
    hostile(
        ["pack", clean_sample, "--out", tmp_path / "o", "--row-group-bytes", text],
        2,
        ["--row-group-bytes", "32MiB"],
        untouched=[clean_sample, tmp_path],
    )


def test_row_group_bytes_library_values() -> None:
    assert parse_size("32MiB", "row_group_bytes") == 32 * 2**20
    for bad in (0, -1, 2**41):
        with pytest.raises(ParameterError) as info:
            PackOptions(row_group_bytes=bad)
        assert info.value.parameter == "row_group_bytes"


def test_cli_pack_with_a_tiny_row_group_cap(clean_sample: Path, tmp_path: Path) -> None:
    result = run(["pack", clean_sample, "--out", tmp_path / "o", "--row-group-bytes", "1"])
    check(result, 0)
    assert set(_groups(tmp_path / "o")) == {5}


def test_cold_cli_pack_matches_a_warm_one(defect_sample: Path, tmp_path: Path) -> None:
    args: list[str | Path] = ["pack", defect_sample, "--json", "--cache", tmp_path / "c"]
    check(run([*args, "--out", tmp_path / "cold"]), 0)
    check(run([*args, "--out", tmp_path / "warm"]), 0)
    assert files(tmp_path / "cold") == files(tmp_path / "warm")
