"""The dataset card: built with huggingface_hub, read back by huggingface_hub's and datasets'
own parsers for every layout, its body true to the pack; --license, --pretty-name, --card-data
and their bad inputs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hostile import hostile, run
from huggingface_hub import DatasetCard

from conftest import PACK_LAYOUTS
from norwoodkit.pack import card

#: Each layout the issue names (built once per session in conftest).
LAYOUTS = PACK_LAYOUTS


@pytest.fixture(scope="module")
def packs(
    layout_packs: dict[str, tuple[Path, dict[str, Any] | None]],
) -> dict[str, tuple[Path, dict[str, Any] | None]]:
    """One pack of the clean sample per layout, with the split run's --json document."""
    return layout_packs


def _manifest(folder: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((folder / "manifest.json").read_text())
    return doc


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_huggingface_hub_reads_back_what_we_meant(
    packs: dict[str, tuple[Path, dict[str, Any] | None]], layout: str
) -> None:
    import datasets

    folder = packs[layout][0]
    manifest = _manifest(folder)
    data = DatasetCard.load(folder / "README.md").data.to_dict()
    assert data["configs"] == manifest["configs"]
    assert data["task_categories"] == ["image-classification"]
    assert data["size_categories"] == ["n<1K"]
    assert data["license"] == "other"
    assert data["pretty_name"] == card.DEFAULT_PRETTY_NAME
    infos = data["dataset_info"]
    infos = infos if isinstance(infos, list) else [infos]
    assert [i["config_name"] for i in infos] == [c["config_name"] for c in manifest["configs"]]
    features = datasets.Features.from_dict(manifest["features"])._to_yaml_list()
    for info, config in zip(infos, manifest["configs"], strict=True):
        assert info["features"] == features
        splits = card.config_splits(manifest, config)
        assert [s["name"] for s in info["splits"]] == [d["split"] for d in config["data_files"]]
        for s in info["splits"]:
            recs = splits[s["name"]]
            assert recs, f"{layout}: split {s['name']} matches no shard"
            assert s["num_examples"] == sum(r["rows"] for r in recs)
            assert s["num_bytes"] == sum(os.path.getsize(folder / r["path"]) for r in recs)
    # Every row is in the default config exactly once.
    default = infos[0]
    assert sum(s["num_examples"] for s in default["splits"]) == manifest["rows"]


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_the_card_is_byte_for_byte_what_datasetcard_writes(
    packs: dict[str, tuple[Path, dict[str, Any] | None]], layout: str
) -> None:
    text = (packs[layout][0] / "README.md").read_text()
    assert str(DatasetCard(text)) == text
    data = card.card_data(_manifest(packs[layout][0]))
    assert text.startswith(f"---\n{data.to_yaml()}\n---\n")


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_datasets_loads_the_split_sizes_the_card_states(
    packs: dict[str, tuple[Path, dict[str, Any] | None]], layout: str, tmp_path: Path
) -> None:
    """datasets checks the rows it reads against the card's num_examples: a wrong count fails."""
    import datasets
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs

    folder = packs[layout][0]
    data = DatasetCard.load(folder / "README.md").data
    configs = MetadataConfigs.from_dataset_card_data(data)
    infos = DatasetInfosDict.from_dataset_card_data(data)
    assert set(configs) == set(infos)
    name = list(configs)[-1]  # a fold's config where there are folds, else default
    loaded = datasets.load_dataset(str(folder), name, cache_dir=str(tmp_path / "hf"))
    stated = infos[name].splits
    assert {k: len(v) for k, v in loaded.items()} == {k: v.num_examples for k, v in stated.items()}
    assert loaded[next(iter(loaded))].features == infos[name].features


def test_a_wrong_split_size_on_the_card_is_caught_by_datasets(
    packs: dict[str, tuple[Path, dict[str, Any] | None]], tmp_path: Path
) -> None:
    """The check above can fail: datasets refuses a card whose split sizes are not the shards'."""
    import shutil

    import datasets

    folder = tmp_path / "copy"
    shutil.copytree(packs["ratios"][0], folder)
    manifest = _manifest(folder)
    manifest["splits"]["train"]["shards"][0]["rows"] += 1
    (folder / "README.md").write_text(card.dataset_card(manifest))
    with pytest.raises(datasets.exceptions.NonMatchingSplitsSizesError):
        datasets.load_dataset(str(folder), cache_dir=str(tmp_path / "hf"))


def test_body_states_counts_split_method_and_stage_gaps(
    packs: dict[str, tuple[Path, dict[str, Any] | None]],
) -> None:
    folder, doc = packs["ratios"]
    assert doc is not None
    text = DatasetCard.load(folder / "README.md").text
    manifest = _manifest(folder)
    for name, s in manifest["splits"].items():
        assert f"| {name} | {s['subjects']} | {s['rows']} | {len(s['shards'])} |" in text
    renamed = manifest["split_names"]
    for row in doc["quality"]["per_split"]:
        name = renamed.get(row["split"], row["split"])
        share = 100 * row["subjects"] / doc["subjects"]
        gap = row["max_stage_dev_pp"]
        assert f"| {name} | {row['subjects']} | {share:.1f} % | {gap:.1f} |" in text
    assert "Not known to this pack: the requested ratios, the seed" in text
    assert "hf upload YOUR_NAME/DATASET_NAME path/to/this/folder --repo-type dataset" in text
    assert "Nothing: every image of the source is in the shards." in text


def test_body_for_folds_and_unsplit(packs: dict[str, tuple[Path, dict[str, Any] | None]]) -> None:
    folds = DatasetCard.load(packs["folds"][0] / "README.md").text
    assert "3-fold cross-validation over whole subjects" in folds
    assert 'load_dataset("path/to/this/folder", "default")' not in folds
    unsplit = DatasetCard.load(packs["unsplit"][0] / "README.md").text
    assert "Not split: all 30 subjects are in `train`" in unsplit
    resized = DatasetCard.load(packs["resized"][0] / "README.md").text
    assert "re-encoded, short side 64" in resized


def test_excluded_images_counted_by_reason(defect_sample: Path, tmp_path: Path) -> None:
    r = run(["pack", defect_sample, "--out", tmp_path / "p", "-q"])
    assert r.exit_code == 0, r.stderr
    manifest = _manifest(tmp_path / "p")
    assert manifest["excluded"], "the defects sample leaves images out"
    text = DatasetCard.load(tmp_path / "p" / "README.md").text
    assert f"{len(manifest['excluded'])} images are not in the shards" in text
    for reason, n in card.excluded_counts(manifest).items():
        assert f"| {reason} | {n} |" in text


def test_license_pretty_name_and_card_data(clean_sample: Path, tmp_path: Path) -> None:
    extra = tmp_path / "extra.yaml"
    extra.write_text(
        "language: [en]\ntags: [medical, hair-loss]\nlicense: mit\nreleased: 2024-05-01\n"
        "task_categories: [image-classification, image-feature-extraction]\n"
    )
    out = tmp_path / "p"
    args: list[str | Path] = ["pack", clean_sample, "--out", out, "-q", "--card-data", extra]
    r = run([*args, "--license", "cc-by-nc-4.0", "--pretty-name", "Scalp photos"])
    assert r.exit_code == 0, r.stderr
    data = DatasetCard.load(out / "README.md").data.to_dict()
    assert data["license"] == "cc-by-nc-4.0"  # the flag wins over the file
    assert data["pretty_name"] == "Scalp photos"
    assert data["language"] == ["en"]
    assert data["tags"] == ["medical", "hair-loss"]
    assert data["released"] == "2024-05-01"
    assert data["task_categories"] == ["image-classification", "image-feature-extraction"]
    options = _manifest(out)["options"]
    assert options["license"] == "cc-by-nc-4.0"
    assert options["card_data"]["language"] == ["en"]
    text = DatasetCard.load(out / "README.md").text
    assert text.lstrip().startswith("# Scalp photos")
    assert "License: `cc-by-nc-4.0`." in text


def test_size_category_bounds() -> None:
    assert card.size_category(0) == "n<1K"
    assert card.size_category(999) == "n<1K"
    assert card.size_category(1000) == "1K<n<10K"
    assert card.size_category(2400) == "1K<n<10K"
    assert card.size_category(10**6) == "1M<n<10M"
    assert card.size_category(10**12) == "n>1T"


# Bad input: each is exit 2, names the file (and line) and the fix, no traceback, nothing
# under the dataset changed and no pack folder left.


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("language: [en\ntags: x\n", ["not valid YAML at line 2", "YAML mapping"]),
        ("a: 1\n\tb: 2\n", ["not valid YAML at line 2"]),
        ("- en\n- fr\n", ["not a mapping"]),
        ("just text\n", ["not a mapping"]),
        ("", ["not a mapping"]),
        ("configs: []\n", ["configs", "pack computes from the shards", "remove it"]),
        ("dataset_info: {}\nsize_categories: [n<1K]\n", ["dataset_info, size_categories"]),
        ("a: !!binary aGVsbG8=\n", ["bytes is not plain YAML"]),
        ("a: !!python/object:os.system {}\n", ["not valid YAML"]),
        ("1: x\n", ["field name '1' is not text"]),
        (
            "a: &x [1,2,3,4,5,6,7,8,9,10]\nb: &y [*x,*x,*x,*x,*x,*x,*x,*x,*x,*x]\n"
            "c: &z [*y,*y,*y,*y,*y,*y,*y,*y,*y,*y]\nd: [*z,*z,*z,*z,*z,*z,*z,*z,*z,*z]\n",
            ["more than 10,000 values"],
        ),
    ],
)
def test_bad_card_data(clean_sample: Path, tmp_path: Path, content: str, words: list[str]) -> None:
    bad = tmp_path / "card.yaml"
    bad.write_text(content)
    out = tmp_path / "p"
    hostile(
        ["pack", clean_sample, "--out", out, "-q", "--card-data", bad],
        2,
        [str(bad), *words],
        untouched=[clean_sample],
    )
    assert not out.exists()


def test_card_data_not_a_regular_file(clean_sample: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "card.yaml"
    os.mkfifo(fifo)
    hostile(
        ["pack", clean_sample, "--out", tmp_path / "p", "-q", "--card-data", fifo],
        2,
        [str(fifo), "not a regular file"],
        untouched=[clean_sample],
    )
    missing = tmp_path / "nope.yaml"
    hostile(
        ["pack", clean_sample, "--out", tmp_path / "p", "-q", "--card-data", missing],
        2,
        [str(missing), "no such file"],
        untouched=[clean_sample],
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--license", "CC BY 4.0"], ["--license", "not a license id", "cc-by-4.0"]),
        (["--license", ""], ["--license", "not a license id"]),
        (["--pretty-name", "  "], ["--pretty-name", "one printable line"]),
        (["--pretty-name", "two\nlines"], ["--pretty-name", "one printable line"]),
    ],
)
def test_bad_license_and_pretty_name(
    clean_sample: Path, tmp_path: Path, args: list[str], words: list[str]
) -> None:
    out = tmp_path / "p"
    hostile(["pack", clean_sample, "--out", out, "-q", *args], 2, words, untouched=[clean_sample])
    assert not out.exists()


def test_a_croissant_file_not_ours_is_never_replaced(clean_sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "p"
    out.mkdir()
    (out / "croissant.json").write_text("{}")
    hostile(
        ["pack", clean_sample, "--out", out, "-q", "--overwrite"],
        2,
        [str(out / "croissant.json"), "not written by `norwoodkit pack`"],
        untouched=[clean_sample, out],
    )


def test_library_options_name_their_parameter() -> None:
    from norwoodkit.errors import ParameterError
    from norwoodkit.pack import PackOptions

    for kwargs, parameter in (
        ({"license": "MIT License"}, "license"),
        ({"pretty_name": ""}, "pretty_name"),
        ({"card_data": {"configs": [], "tags": ["x"]}}, "card_data"),
    ):
        with pytest.raises(ParameterError) as info:
            PackOptions(**kwargs)
        assert info.value.parameter == parameter
    assert hash(PackOptions(card_data={"tags": ["x"]}))  # options stay hashable
