"""pack.hub: the Hub's split-name rules, the written names and the configs; pack refusing a
split name the Hub would reject."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from hostile import hostile
from huggingface_hub import DatasetCardData

from conftest import MakeDataset
from norwoodkit import dataset, pack, probe
from norwoodkit.errors import InputError
from norwoodkit.pack import hub


def test_ratio_splits_keep_their_names_but_val() -> None:
    naming = hub.name_splits(["train", "val", "test"], source="--splits s.csv")
    assert naming.written == {"train": "train", "val": "validation", "test": "test"}
    assert naming.folds is None


def test_no_split_file_is_one_train_split() -> None:
    naming = hub.name_splits(None, source="splits")
    assert naming.written == {} and naming.name("all") == "train"


@pytest.mark.parametrize(
    "names", [["0", "1", "2", "3", "4"], ["fold0", "fold1", "fold2"], ["fold_1", "fold_0"]]
)
def test_folds_are_written_fold_i(names: list[str]) -> None:
    naming = hub.name_splits(names, source="splits")
    assert naming.folds == len(names)
    assert sorted(naming.written.values()) == [f"fold_{i}" for i in range(len(names))]


@pytest.mark.parametrize(
    "names", [["0"], ["0", "2"], ["1", "2"], ["0", "01"], ["0", "train"], ["fold0", "foldx"]]
)
def test_names_that_are_not_folds_0_to_k(names: list[str]) -> None:
    assert hub.fold_count(names) is None


@pytest.mark.parametrize(
    ("names", "bad", "fix"),
    [
        (["train", "hold-out"], "hold-out", "hold_out"),
        (["train", "val.set"], "val.set", "val_set"),
        (["train", "tést"], "tést", "t_st"),
        (["train", "a b"], "a b", "a_b"),
        (["all"], "all", "train"),
        (["train", "all"], "all", "all_subjects"),
        (["train", "hold-out", "hold_out"], "hold-out", "hold_out_2"),
    ],
)
def test_a_name_the_hub_rejects_is_refused_with_a_rename(
    names: list[str], bad: str, fix: str
) -> None:
    with pytest.raises(InputError) as info:
        hub.name_splits(names, source="--splits s.csv")
    message = str(info.value)
    assert info.value.code == "split-name-hub"
    assert message.startswith("--splits s.csv: ")
    assert repr(bad) in message and f"rename it {fix!r}" in message
    assert hub.HUB_SPLIT_NAME.match(fix) and fix not in hub.RESERVED and fix not in names


def test_two_names_written_alike_are_refused() -> None:
    written_alike = "'validation' and 'val' would both be written 'validation'"
    with pytest.raises(InputError, match=written_alike):
        hub.name_splits(["train", "validation", "val"], source="s")


def test_split_order_is_the_hubs_then_natural() -> None:
    assert hub.split_order(["test", "holdout", "train", "calib", "validation"]) == [
        "train",
        "validation",
        "test",
        "calib",
        "holdout",
    ]
    assert hub.split_order([f"fold_{i}" for i in (10, 2, 0, 1)]) == [
        "fold_0",
        "fold_1",
        "fold_2",
        "fold_10",
    ]


def test_fold_configs_train_on_the_other_folds() -> None:
    configs = hub.configs([f"fold_{i}" for i in range(3)], 3)
    assert [c["config_name"] for c in configs] == ["default", "fold_0", "fold_1", "fold_2"]
    assert configs[0]["data_files"] == [
        {"split": f"fold_{i}", "path": [f"data/fold_{i}-*.parquet"]} for i in range(3)
    ]
    assert configs[2]["data_files"] == [
        {"split": "train", "path": ["data/fold_0-*.parquet", "data/fold_2-*.parquet"]},
        {"split": "validation", "path": ["data/fold_1-*.parquet"]},
    ]


@pytest.mark.parametrize(
    ("splits", "folds"),
    [(["train", "validation", "test"], None), (["0", "1"], None), (["fold_0", "fold_1"], 2)],
)
def test_card_yaml_reads_back_as_the_configs(splits: list[str], folds: int | None) -> None:
    """The card's writer (DatasetCardData) quotes every name: a split named 0 stays "0"."""
    configs = hub.configs(splits, folds)
    assert yaml.safe_load(DatasetCardData(configs=configs).to_yaml()) == {"configs": configs}


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("names", "bad", "fix"),
    [
        (["train", "hold-out"], "hold-out", "hold_out"),
        (["all", "all"], "all", "train"),
        (["train", "all"], "all", "all_subjects"),
    ],
    ids=["hyphen", "all-alone", "all-beside-train"],
)
def test_pack_refuses_a_split_name_the_hub_rejects(
    make_dataset: MakeDataset, tmp_path: Path, names: list[str], bad: str, fix: str
) -> None:
    """Exit 2 before anything is probed or written, naming the split file, the name and a
    rename that works; the dataset is left as it was."""
    root = make_dataset(2)
    split_file = tmp_path / "splits.csv"
    split_file.write_text(
        "subject_id,split\n" + "".join(f"{i},{n}\n" for i, n in enumerate(names, 1))
    )
    out = tmp_path / "out"
    hostile(
        ["pack", root, "--out", out, "--splits", split_file, "-q"],
        2,
        [f"--splits {split_file}", repr(bad), f"rename it {fix!r}"],
        untouched=[root, tmp_path],
    )
    assert not out.exists()


def test_the_library_names_the_splits_parameter(make_dataset: MakeDataset, tmp_path: Path) -> None:
    root = make_dataset(2)
    probed = probe.run(dataset.load(root), workers=1)
    table = pd.DataFrame({"subject_id": ["1", "2"], "split": ["train", "hold-out"]})
    with pytest.raises(InputError, match=r"^splits: split name 'hold-out' .* 'hold_out'"):
        pack.write(probed, tmp_path / "out", splits=table)
    assert not (tmp_path / "out").exists()
