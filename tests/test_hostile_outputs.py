"""Hostile outputs: every output option of every command pointed where it must not write, and
``--overwrite`` of pack and sample on folders that are not (provably) theirs.

Rules 1 and 2 of the safety model (docs/architecture.md): nothing under the dataset root is ever
written, and we only replace or delete what we wrote. Each case asserts exit 2, a message naming
the option and the path, no traceback, and the whole test folder (the dataset included)
byte-identical afterwards: nothing written, nothing deleted, no temporary file left.
"""

from __future__ import annotations

import json
import os
import signal
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, get_args, get_type_hints

import pytest
from hostile import Watch, check, hostile, run

from conftest import MakeDataset
from norwoodkit import sample
from norwoodkit.cli import app

DATASET_COMMANDS = ("validate", "dedupe", "split", "pack", "stats", "report")

#: Every Path parameter of every command, as (command, Python name) -> (flag, kind). "*" stands
#: for every dataset command (the source options that ``reads_dataset`` adds).
OUTPUTS: dict[tuple[str, str], tuple[str, str]] = {
    ("validate", "junit"): ("--junit", "file"),
    ("validate", "sarif"): ("--sarif", "file"),
    ("dedupe", "junit"): ("--junit", "file"),
    ("dedupe", "sarif"): ("--sarif", "file"),
    ("split", "junit"): ("--junit", "file"),
    ("split", "sarif"): ("--sarif", "file"),
    ("verify", "junit"): ("--junit", "file"),
    ("verify", "sarif"): ("--sarif", "file"),
    ("dedupe", "pairs"): ("--pairs", "file"),
    ("dedupe", "groups"): ("--groups", "file"),
    ("dedupe", "exclude_list"): ("--exclude-list", "file"),
    ("split", "out_file"): ("--out", "file"),
    ("split", "images"): ("--images", "file"),
    ("pack", "out_dir"): ("--out", "folder"),
    ("stats", "markdown"): ("--markdown", "file"),
    ("stats", "csv_dir"): ("--csv", "folder"),
    ("report", "out_file"): ("--out", "file"),
    ("report", "plots"): ("--plots", "folder"),
    ("sample", "out_dir"): ("OUT", "folder"),
    ("*", "cache"): ("--cache", "folder"),
}
INPUTS: set[tuple[str, str]] = {
    ("*", "root"),
    ("*", "annotations"),
    ("split", "dedupe_file"),
    ("split", "exclude_list"),
    ("split", "check"),
    ("pack", "splits_file"),
    ("pack", "exclude_list"),
    ("pack", "card_data"),
    ("report", "splits"),
    ("validate", "quality_thresholds"),
    ("report", "quality_thresholds"),
    ("verify", "out_dir"),
    ("bench-load", "out_dir"),
}

#: What else each option needs for the command to get as far as checking it.
NEEDS: dict[tuple[str, str], list[str]] = {
    ("split", "images"): ["--out", "{work}/ok.csv"],
    ("report", "plots"): ["--out", "{work}/ok.html"],
    ("split", "cache"): ["--out", "{work}/ok.csv"],
    ("pack", "cache"): ["--out", "{work}/packed"],
    ("report", "cache"): ["--out", "{work}/ok.html"],
}


def _commands() -> dict[str, Callable[..., Any]]:
    return {
        c.name or c.callback.__name__.replace("_", "-"): c.callback
        for c in app.registered_commands
        if c.callback is not None
    }


def _path_parameters() -> set[tuple[str, str]]:
    """(command, parameter) for every parameter whose type is a Path (or Path | None), or a
    place that may also be a URL (ROOT, --annotations: text until ``storage.place``)."""
    from norwoodkit.cli.options import AnnotationsOpt, RootArg

    found = set()
    for name, callback in _commands().items():
        for param, hint in get_type_hints(callback, include_extras=True).items():
            base = get_args(hint)[0] if get_args(hint) else hint
            union = isinstance(base, types.UnionType) and Path in get_args(base)
            if hint in (RootArg, AnnotationsOpt) or base is Path or union:
                found.add((name, param))
    return found


def _classified(command: str, param: str) -> str | None:
    for table in (OUTPUTS, INPUTS):
        if (command, param) in table or (("*", param) in table and command in DATASET_COMMANDS):
            return "output" if table is OUTPUTS else "input"
    return None


def test_every_path_option_is_classified() -> None:
    """A new Path option must be listed here as input or output (and outputs get the cases)."""
    found = _path_parameters()
    assert found, "no Path parameters found: the introspection is broken"
    unlisted = sorted(p for p in found if _classified(*p) is None)
    assert unlisted == [], f"classify these Path options in OUTPUTS or INPUTS: {unlisted}"
    stale = [k for k in [*OUTPUTS, *INPUTS] if k[0] != "*" and k not in found]
    assert stale == [], f"no such option any more: {stale}"
    for command in DATASET_COMMANDS:
        assert (command, "cache") in found and (command, "root") in found


def _outputs() -> list[tuple[str, str, str, str]]:
    """(command, parameter, flag, kind) for every output option, "*" expanded."""
    out = []
    for (command, param), (flag, kind) in OUTPUTS.items():
        for cmd in DATASET_COMMANDS if command == "*" else (command,):
            out.append((cmd, param, flag, kind))
    return out


# The hostile places: name -> (kinds it applies to, needs a dataset root, maker).
# A maker gets (root, work) and returns the path to give.
def _inside(root: Path, work: Path) -> Path:
    return root / "out.csv"


def _root_itself(root: Path, work: Path) -> Path:
    return root


def _link_into_root(root: Path, work: Path) -> Path:
    (work / "link").symlink_to(root, target_is_directory=True)
    return work / "link" / "out.csv"


def _dotdot(root: Path, work: Path) -> Path:
    # work/sub -> root/1, so work/sub/../out.csv is root/out.csv (a textual check sees work/).
    (work / "sub").symlink_to(root / "1", target_is_directory=True)
    return work / "sub" / ".." / "out.csv"


def _fifo(root: Path, work: Path) -> Path:
    os.mkfifo(work / "pipe.csv")
    return work / "pipe.csv"


def _folder(root: Path, work: Path) -> Path:
    (work / "afolder.csv").mkdir()
    return work / "afolder.csv"


def _file(root: Path, work: Path) -> Path:
    (work / "afile").write_text("mine\n", encoding="utf-8")
    return work / "afile"


def _missing_parent(root: Path, work: Path) -> Path:
    return work / "no" / "such" / "out.csv"


def _file_link(root: Path, work: Path) -> Path:
    (work / "real.csv").write_text("mine\n", encoding="utf-8")
    (work / "alias.csv").symlink_to(work / "real.csv")
    return work / "alias.csv"


PLACES: dict[str, tuple[set[str], bool, Callable[[Path, Path], Path], str]] = {
    "inside-root": ({"file", "folder"}, True, _inside, "inside the dataset"),
    "root-itself": ({"folder"}, True, _root_itself, "inside the dataset"),
    "symlink-into-root": ({"file", "folder"}, True, _link_into_root, "inside the dataset"),
    "dotdot-into-root": ({"file", "folder"}, True, _dotdot, "inside the dataset"),
    "fifo": ({"file", "folder"}, False, _fifo, "FIFO"),
    "folder-for-file": ({"file"}, False, _folder, "is a folder"),
    "file-for-folder": ({"folder"}, False, _file, "is a file"),
    "missing-parent": ({"file", "folder"}, False, _missing_parent, "does not exist"),
    "symlink-file": ({"file"}, False, _file_link, "symbolic link"),
}


def _cases() -> Iterator[Any]:
    for command, param, flag, kind in _outputs():
        for place, (kinds, needs_root, _, _) in PLACES.items():
            if kind not in kinds or (needs_root and command == "sample"):
                continue
            if param == "cache" and place == "missing-parent":
                continue  # the cache makes its own folders (and only warns when it cannot)
            yield pytest.param(command, param, flag, place, id=f"{command}-{flag}-{place}")


@pytest.fixture(autouse=True)
def _deadline() -> Iterator[None]:
    """A case that opens a FIFO by mistake fails after 60 s instead of hanging the suite."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError("the command blocked (a FIFO opened?)")

    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize(("command", "param", "flag", "place"), list(_cases()))
def test_output_refused(
    command: str, param: str, flag: str, place: str, make_dataset: MakeDataset, tmp_path: Path
) -> None:
    root = make_dataset(2)
    work = tmp_path / "work"
    work.mkdir()
    target = PLACES[place][2](root, work)
    extra = [a.format(work=work) for a in NEEDS.get((command, param), [])]
    args: list[str | Path]
    if command == "sample":
        args = ["sample", target, "--subjects", "1", "--size", "tiny", "--workers", "1"]
    else:
        args = [command, root, *extra, flag, target]
        args += [] if command == "verify" else ["--workers", "1"]  # verify reads no images
    hostile(args, 2, [flag, str(target), PLACES[place][3]], untouched=[tmp_path])


@pytest.mark.parametrize(
    ("command", "args"),
    [
        pytest.param("validate", ["--junit", "{ann}"], id="validate-junit-is-annotations"),
        pytest.param(
            "split", ["--exclude-from", "{ex}", "--out", "{ex}"], id="split-out-is-exclude-list"
        ),
        pytest.param("split", ["--out", "{ann}"], id="split-out-is-annotations"),
        pytest.param("report", ["--splits", "{ex}", "--out", "{ex}"], id="report-out-is-splits"),
        pytest.param("stats", ["--markdown", "{ann}"], id="stats-markdown-is-annotations"),
    ],
)
def test_output_is_an_input(
    command: str, args: list[str], make_dataset: MakeDataset, tmp_path: Path
) -> None:
    """An output that is a file the command reads (outside the root) would be lost: refused."""
    root = make_dataset(2)
    ann = tmp_path / "labels.json"
    os.replace(root / "annotation.json", ann)
    ex = tmp_path / "list.csv"
    ex.write_text("subject_id,split\n1,train\n2,test\n", encoding="utf-8")
    given = [a.format(ann=ann, ex=ex) for a in args]
    hostile(
        [command, root, "--annotations", ann, *given, "--workers", "1"],
        2,
        ["also an input"],
        untouched=[tmp_path],
    )


# ----------------------------------------------------------------------------- pack --overwrite


@pytest.fixture
def packed(make_dataset: MakeDataset, tmp_path: Path) -> tuple[Path, Path]:
    """A dataset and an earlier pack of it (one split, train)."""
    root = make_dataset(2)
    out = tmp_path / "packed"
    check(run(["pack", root, "--out", out, "-q", "--workers", "1"]), 0)
    assert (out / "data" / "train-00000-of-00001.parquet").is_file()
    return root, out


def _pack_again(root: Path, out: Path) -> list[str | Path]:
    return ["pack", root, "--out", out, "--overwrite", "-q", "--workers", "1"]


def test_pack_overwrite_keeps_files_it_did_not_list(
    packed: tuple[Path, Path], tmp_path: Path
) -> None:
    root, out = packed
    (out / "notes.txt").write_text("mine\n", encoding="utf-8")
    (out / "data" / "train-00007-of-00009.parquet").write_bytes(b"shaped like ours, but not listed")
    watch = Watch((root,))
    check(run(_pack_again(root, out)), 0)
    assert watch.changed() == []
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine\n"
    assert (out / "data" / "train-00007-of-00009.parquet").read_bytes().startswith(b"shaped")


def _list_in_manifest(out: Path, rel: str) -> None:
    doc = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    doc["splits"]["train"]["shards"].append({**doc["splits"]["train"]["shards"][0], "path": rel})
    (out / "manifest.json").write_text(json.dumps(doc), encoding="utf-8")


@pytest.mark.parametrize(
    "rel",
    [
        pytest.param("../victim/train-00000-of-00001.parquet", id="dotdot"),
        pytest.param("data/../../victim/keep.txt", id="dotdot-inside"),
        pytest.param("/etc/hostname", id="absolute"),
        pytest.param("notes.txt", id="not-a-shard"),
    ],
)
def test_pack_overwrite_refuses_a_manifest_listing_other_files(
    packed: tuple[Path, Path], tmp_path: Path, rel: str
) -> None:
    root, out = packed
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "train-00000-of-00001.parquet").write_bytes(b"precious")
    (victim / "keep.txt").write_text("precious", encoding="utf-8")
    (out / "notes.txt").write_text("mine\n", encoding="utf-8")
    _list_in_manifest(out, rel)
    hostile(
        _pack_again(root, out),
        2,
        ["--out", "manifest.json", "not a shard of this folder"],
        untouched=[tmp_path],
    )


def _split_folder_link(out: Path, elsewhere: Path) -> None:
    os.replace(out / "data", elsewhere / "moved")
    (out / "data").symlink_to(elsewhere / "moved", target_is_directory=True)


def _shard_link(out: Path, elsewhere: Path) -> None:
    shard = out / "data" / "train-00000-of-00001.parquet"
    os.replace(shard, elsewhere / "shard.parquet")
    shard.symlink_to(elsewhere / "shard.parquet")


def _top_link(out: Path, elsewhere: Path) -> None:
    (out / "docs").symlink_to(elsewhere, target_is_directory=True)


def _manifest_fifo(out: Path, elsewhere: Path) -> None:
    (out / "manifest.json").unlink()
    os.mkfifo(out / "manifest.json")


def _manifest_garbage(out: Path, elsewhere: Path) -> None:
    (out / "manifest.json").write_text('{"splits": [1, 2]', encoding="utf-8")


def _foreign_readme(out: Path, elsewhere: Path) -> None:
    (out / "manifest.json").unlink()
    (out / "README.md").write_text("my own notes\n", encoding="utf-8")


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        pytest.param(_split_folder_link, "symbolic link", id="split-folder-symlink"),
        pytest.param(_shard_link, "symbolic link", id="listed-shard-symlink"),
        pytest.param(_top_link, "symbolic link", id="top-level-symlink"),
        pytest.param(_manifest_fifo, "cannot be read", id="manifest-fifo"),
        pytest.param(_manifest_garbage, "cannot be read", id="manifest-not-json"),
        pytest.param(_foreign_readme, "not written by", id="readme-not-ours"),
    ],
)
def test_pack_overwrite_refuses_what_it_cannot_prove(
    packed: tuple[Path, Path], tmp_path: Path, damage: Callable[[Path, Path], None], words: str
) -> None:
    root, out = packed
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("precious", encoding="utf-8")
    damage(out, elsewhere)
    hostile(_pack_again(root, out), 2, ["--out", words], untouched=[tmp_path])


def test_pack_resume_refuses_a_manifest_listing_outside(
    packed: tuple[Path, Path], tmp_path: Path
) -> None:
    root, out = packed
    (tmp_path / "victim.parquet").write_bytes(b"precious")
    _list_in_manifest(out, "../victim.parquet")
    args: list[str | Path] = ["pack", root, "--out", out, "--resume", "-q", "--workers", "1"]
    hostile(args, 2, ["--out", "not a shard of this folder"], untouched=[tmp_path])


# --------------------------------------------------------------------------- sample --overwrite

SAMPLE_ARGS = ["--subjects", "2", "--size", "tiny", "--workers", "1", "-q"]


@pytest.fixture
def earlier(tmp_path: Path) -> Path:
    """An earlier sample, written by the library."""
    out = tmp_path / "s"
    sample.write(out, sample.SampleOptions(subjects=2, size="tiny", workers=1))
    return out


def _sample_again(out: Path) -> list[str | Path]:
    return ["sample", out, "--overwrite", *SAMPLE_ARGS]


def test_sample_json_lists_every_file(earlier: Path) -> None:
    files = json.loads((earlier / "sample.json").read_text(encoding="utf-8"))["files"]
    on_disk = sorted(
        p.relative_to(earlier).as_posix()
        for p in earlier.rglob("*")
        if p.is_file() and p.name != "sample.json"
    )
    assert [f["path"] for f in files] == on_disk
    assert all(len(f["sha256"]) == 64 and f["size"] > 0 for f in files)


def test_sample_overwrite_replaces_its_own_output(earlier: Path, tmp_path: Path) -> None:
    (earlier / "1" / "Front.jpg").unlink()  # a file it wrote, gone: nothing to delete there
    check(run(["sample", earlier, "--overwrite", "--seed", "5", *SAMPLE_ARGS]), 0)
    doc = json.loads((earlier / "sample.json").read_text(encoding="utf-8"))
    assert doc["options"]["seed"] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]  # nothing left beside it


def _unrelated(out: Path, outside: Path) -> None:
    (out / "sample.json").unlink()


def _extra_file(out: Path, outside: Path) -> None:
    (out / "1" / "my-notes.txt").write_text("mine\n", encoding="utf-8")


def _changed_file(out: Path, outside: Path) -> None:
    with open(out / "2" / "Back.jpg", "ab") as fh:
        fh.write(b"retouched")


def _link_inside(out: Path, outside: Path) -> None:
    (out / "1" / "Top-Down.jpg").unlink()
    (out / "1" / "Top-Down.jpg").symlink_to(outside / "keep.txt")


def _listing(files: list[dict[str, Any]]) -> Callable[[Path, Path], None]:
    def damage(out: Path, outside: Path) -> None:
        doc = json.loads((out / "sample.json").read_text(encoding="utf-8"))
        doc["files"] = files
        (out / "sample.json").write_text(json.dumps(doc), encoding="utf-8")

    return damage


def _record_fifo(out: Path, outside: Path) -> None:
    (out / "sample.json").unlink()
    os.mkfifo(out / "sample.json")


def _old_record(out: Path, outside: Path) -> None:
    doc = json.loads((out / "sample.json").read_text(encoding="utf-8"))
    del doc["files"]
    (out / "sample.json").write_text(json.dumps(doc), encoding="utf-8")


OUTSIDE_ENTRY = {"path": "../outside/keep.txt", "size": 8, "sha256": "0" * 64}


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        pytest.param(_unrelated, "not a norwoodkit sample", id="unrelated-folder"),
        pytest.param(_extra_file, "did not write: 1/my-notes.txt", id="extra-user-file"),
        pytest.param(_changed_file, "changed since sample wrote them: 2/Back.jpg", id="changed"),
        pytest.param(_link_inside, "symbolic link", id="symlink-inside"),
        pytest.param(_listing([OUTSIDE_ENTRY]), "outside the folder", id="lists-dotdot"),
        pytest.param(
            _listing([{**OUTSIDE_ENTRY, "path": "/etc/hostname"}]),
            "outside the folder",
            id="lists-absolute",
        ),
        pytest.param(_listing([{"path": 3}]), "lists no files", id="listing-malformed"),
        pytest.param(_old_record, "lists no files", id="older-sample-json"),
        pytest.param(_record_fifo, "not a regular file", id="sample-json-fifo"),
    ],
)
def test_sample_overwrite_refuses_what_it_cannot_prove(
    earlier: Path, tmp_path: Path, damage: Callable[[Path, Path], None], words: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("precious", encoding="utf-8")
    damage(earlier, outside)
    hostile(_sample_again(earlier), 2, ["OUT", str(earlier), words], untouched=[tmp_path])


def test_sample_overwrite_of_a_dataset_with_user_photos(
    make_dataset: MakeDataset, tmp_path: Path
) -> None:
    """The loss that started issue 12: a real dataset given as OUT with --overwrite."""
    root = make_dataset(2)
    hostile(_sample_again(root), 2, ["OUT", "not a norwoodkit sample"], untouched=[tmp_path])
