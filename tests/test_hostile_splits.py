"""Split names become folders: bad ones are refused wherever they come from, with exit 2, before
anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from hostile import hostile

from conftest import MakeDataset
from norwoodkit.errors import InputError, ParameterError
from norwoodkit.labels import MAX_SPLIT_NAME_LENGTH, check_split_name
from norwoodkit.split import Assignment, SplitSpec, read_assignment

BAD_NAMES = [
    pytest.param("../evil", id="parent-path"),
    pytest.param("..", id="dot-dot"),
    pytest.param(".", id="dot"),
    pytest.param("a/b", id="slash"),
    pytest.param("a\\b", id="backslash"),
    pytest.param("/abs", id="absolute"),
    pytest.param(".hidden", id="leading-dot"),
    pytest.param("-rf", id="leading-dash"),
    pytest.param("a\x00b", id="nul"),
    pytest.param("a\nb", id="newline"),
    pytest.param("\x1b[31mred", id="escape-sequence"),
    pytest.param("x" * (MAX_SPLIT_NAME_LENGTH + 1), id="too-long"),
]


@pytest.fixture
def root(make_dataset: MakeDataset) -> Path:
    return make_dataset(3)


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_split_refuses_bad_names(root: Path, tmp_path: Path, bad: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    args: list[str | Path] = ["split", root, "--names", f"train,{bad},test", "--out", out / "s.csv"]
    hostile(args, 2, ["--names", "split name"], untouched=[root, out])


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_library_refuses_bad_names(bad: str) -> None:
    with pytest.raises(ParameterError) as info:
        SplitSpec.from_ratios([50, 50], ["train", bad])
    assert info.value.parameter == "names"
    with pytest.raises(ParameterError) as info:
        Assignment((("1", bad),))
    assert info.value.parameter == "pairs"


def write_split_file(path: Path, name: str) -> None:
    rows = [{"subject_id": "1", "split": "train"}, {"subject_id": "2", "split": name}]
    if path.suffix == ".csv":
        pd.DataFrame(rows).to_csv(path, index=False)
    elif path.suffix == ".parquet":
        pd.DataFrame(rows).to_parquet(path)
    else:
        path.write_text(json.dumps({r["subject_id"]: r["split"] for r in rows}))


READERS = [
    pytest.param(["split", "{root}", "--check", "{file}"], "--check", id="split-check"),
    pytest.param(
        ["pack", "{root}", "--out", "{out}/p", "--splits", "{file}"], "--splits", id="pack"
    ),
    pytest.param(
        ["report", "{root}", "--out", "{out}/r.html", "--splits", "{file}"], "--splits", id="report"
    ),
]


@pytest.mark.parametrize("bad", ["../evil", "a/b", ".hidden", "-x", "a\x07"])
@pytest.mark.parametrize("suffix", [".csv", ".json", ".parquet"])
@pytest.mark.parametrize(("template", "option"), READERS)
def test_readers_refuse_bad_names_in_split_files(
    root: Path, tmp_path: Path, bad: str, suffix: str, template: list[str], option: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    split_file = out / f"splits{suffix}"
    write_split_file(split_file, bad)
    args = [a.format(root=root, out=out, file=split_file) for a in template]
    result = hostile(args, 2, [option, "row 2", "subject 2", "split name"], untouched=[root])
    assert not (out / "p").exists() and not (out / "r.html").exists(), result.stderr


def test_file_reader_names_the_file_and_row(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    write_split_file(path, "..")
    with pytest.raises(InputError) as info:
        read_assignment(path, "splits")
    assert str(path) in info.value.message and "row 2" in info.value.message
    assert info.value.code == "bad-split"


@pytest.mark.parametrize("good", ["train", "val", "fold0", "0", "Hold-out_2", "é", "a b"])
def test_plain_names_are_accepted(good: str) -> None:
    assert check_split_name(good) == good
