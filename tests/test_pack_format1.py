"""A pack folder of shard format 1 (a folder per split): verify passes it and says how to
rewrite it, the loader reads it, and pack --overwrite rewrites it as format 2, deleting only
the shard files its manifest lists.

The format 1 folder is made from a format 2 pack of a train/test split, whose names both
formats write alike. For such a split norwoodkit 928e3da (the last format 1 writer) wrote the
same shard bytes (same schema, rows, order: the shuffle is seeded by the split name, and the
`split` column), checked by hand with that commit's pack; its manifest differed only in
`format_version` 1, the shard paths `<split>/<split>-NNNNN-of-NNNNN.parquet`, and no `configs`,
`folds` or `split_names`. Moving the files there and editing the manifest so is therefore the
folder that version wrote, without needing the old code in the test.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hostile import Watch, check, run

from conftest import MakeDataset
from norwoodkit import dataset, pack, probe
from norwoodkit import split as splits
from norwoodkit.errors import InputError
from norwoodkit.pack.manifest import read_manifest, resolve_split


@pytest.fixture
def format1(make_dataset: MakeDataset, tmp_path: Path) -> tuple[Path, Path, Path]:
    """(dataset, split file, a format 1 pack folder of it)."""
    root = make_dataset(8)
    split_file = tmp_path / "splits.csv"
    split_file.write_text(
        "subject_id,split\n"
        + "".join(f"{i},{'test' if i % 4 == 0 else 'train'}\n" for i in range(1, 9))
    )
    probed = probe.run(dataset.load(root), workers=1)
    out = tmp_path / "old"
    opts = pack.PackOptions(shard_size=pack.parse_size("64KiB"), workers=1)
    pack.write(probed, out, opts, splits=splits.read_assignment(split_file))
    to_format1(out)
    return root, split_file, out


def to_format1(out: Path) -> None:
    """Move a format 2 pack's shards to format 1 paths and write its manifest as format 1."""
    doc = json.loads((out / "manifest.json").read_text())
    for name, split in doc["splits"].items():
        (out / name).mkdir()
        for record in split["shards"]:
            old = f"{name}/{Path(record['path']).name}"
            (out / record["path"]).rename(out / old)
            record["path"] = old
    (out / "data").rmdir()
    doc["format_version"] = 1
    for key in ("configs", "folds", "split_names"):
        del doc[key]
    (out / "manifest.json").write_text(json.dumps(doc, indent=2))


def shard_paths(out: Path) -> list[str]:
    doc = json.loads((out / "manifest.json").read_text())
    return sorted(r["path"] for s in doc["splits"].values() for r in s["shards"])


def test_verify_passes_a_format1_folder_and_says_how_to_rewrite_it(
    format1: tuple[Path, Path, Path],
) -> None:
    _, _, out = format1
    result = run(["verify", out, "--json"])
    check(result, 0)
    findings = json.loads(result.stdout)["findings"]
    assert [f["code"] for f in findings] == ["pack-format-old"]
    note = findings[0]
    assert note["severity"] == "warning" and note["path"] == "manifest.json"
    for words in ("format 1", "norwoodkit pack", "--overwrite", "data/<split>-", "`validation`"):
        assert words in note["message"], words


def test_verify_still_finds_a_changed_shard_in_a_format1_folder(
    format1: tuple[Path, Path, Path],
) -> None:
    _, _, out = format1
    shard = out / shard_paths(out)[0]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 1
    shard.write_bytes(bytes(data))
    result = run(["verify", out, "--json"])
    check(result, 1)
    codes = {f["code"] for f in json.loads(result.stdout)["findings"]}
    assert {"shard-hash", "pack-format-old"} <= codes


def test_the_loader_reads_a_format1_folder(format1: tuple[Path, Path, Path]) -> None:
    pytest.importorskip("torch")
    from norwoodkit.loader import ShardDataset, ShardIndex

    _, _, out = format1
    doc = json.loads((out / "manifest.json").read_text())
    for name in ("train", "test"):
        index = ShardIndex(out, name, size=8)
        assert len(index) == doc["splits"][name]["rows"]
        labels = sorted(int(s[1]) for s in ShardDataset(out, name, size=8, shuffle=False))
        assert labels == sorted(int(index[i][1]) for i in range(len(index)))


@pytest.mark.parametrize("flag", ["--overwrite", "--resume"])
def test_pack_rewrites_it_deleting_only_what_its_manifest_listed(
    format1: tuple[Path, Path, Path], flag: str
) -> None:
    root, split_file, out = format1
    old = shard_paths(out)
    (out / "train" / "notes.txt").write_text("mine\n")  # not ours: stays, and so does train/
    unlisted = out / "test" / "test-00007-of-00009.parquet"
    unlisted.write_bytes(b"shaped like ours, but no manifest lists it")
    watch = Watch((root,))
    result = run(["pack", root, "--out", out, "--splits", split_file, flag, "-q"])
    check(result, 0)
    assert watch.changed() == []
    assert not any((out / rel).exists() for rel in old)
    assert (out / "train" / "notes.txt").read_text() == "mine\n"
    assert unlisted.read_bytes().startswith(b"shaped")
    assert all(rel.startswith("data/") for rel in shard_paths(out))
    assert read_manifest(out)["format_version"] == pack.FORMAT_VERSION == 2
    rewritten = json.loads(run(["verify", out, "--json"]).stdout)["findings"]
    # the file we did not delete is still named like a shard: verify says so, nothing else
    assert [(f["code"], f["path"]) for f in rewritten] == [
        ("shard-unlisted", "test/test-00007-of-00009.parquet")
    ]
    unlisted.unlink()
    check(run(["verify", out]), 0)


def test_old_split_folders_left_empty_are_removed(format1: tuple[Path, Path, Path]) -> None:
    root, split_file, out = format1
    check(run(["pack", root, "--out", out, "--splits", split_file, "--overwrite", "-q"]), 0)
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md",
        "croissant.json",
        "data",
        "manifest.json",
    ]


def test_a_format1_manifest_must_keep_format1_paths(format1: tuple[Path, Path, Path]) -> None:
    """A reader takes each format's own path pattern only: format 2 paths in a format 1
    manifest (or the reverse) are a damaged manifest, exit 2."""
    _, _, out = format1
    doc = json.loads((out / "manifest.json").read_text())
    record = doc["splits"]["train"]["shards"][0]
    record["path"] = "data/" + Path(record["path"]).name
    (out / "manifest.json").write_text(json.dumps(doc))
    check(run(["verify", out]), 2, ["'path' is not train/train-NNNNN-of-NNNNN.parquet"])


@pytest.mark.parametrize(
    ("splits_there", "asked", "found"),
    [
        ({"all": 1}, "train", "all"),  # format 1 unsplit, read with the loader's default
        ({"train": 1}, "all", "train"),  # format 2 unsplit, read as format 1 code did
        ({"train": 1, "validation": 1}, "val", "validation"),
        ({"train": 1, "test": 1}, "all", "all"),  # not unsplit: no alias, the caller refuses
        ({"train": 1, "validation": 1}, "valid", "valid"),
    ],
)
def test_split_aliases(splits_there: dict[str, Any], asked: str, found: str) -> None:
    assert resolve_split({"splits": splits_there}, asked) == found


def test_fold_numbers_find_their_written_split() -> None:
    manifest = {"splits": {"fold_0": 1, "fold_1": 1}, "split_names": {"0": "fold_0", "1": "fold_1"}}
    assert resolve_split(manifest, "1") == "fold_1"


def test_an_unknown_split_of_a_format1_folder_lists_the_ones_there(
    format1: tuple[Path, Path, Path],
) -> None:
    pytest.importorskip("torch")
    from norwoodkit.loader import ShardIndex

    _, _, out = format1
    with pytest.raises(InputError, match="no split 'val'; this pack has 'train', 'test'"):
        ShardIndex(out, "val")
    shutil.rmtree(out / "test")
    with pytest.raises(InputError, match=r"listed in manifest\.json but missing"):
        ShardIndex(out, "test")
