"""DatasetSource: one value that says where a dataset is and how to read it."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import MakeDataset
from norwoodkit import DatasetSource, ParameterError, ProbedDataset
from norwoodkit.source import parse_field_map


def test_parse_field_map() -> None:
    assert parse_field_map([" label = hair_grade", "front=img_face"]) == {
        "label": "hair_grade",
        "front": "img_face",
    }
    assert parse_field_map([]) == {}


@pytest.mark.parametrize("item", ["label", "=x", "label=", " = "])
def test_parse_field_map_names_the_parameter(item: str) -> None:
    with pytest.raises(ParameterError) as info:
        parse_field_map([item])
    assert info.value.parameter == "fields"
    assert info.value.message.startswith("fields: ")
    assert "canonical=theirs" in info.value.message


def test_load_then_probe_gives_a_probed_dataset(make_dataset: MakeDataset, tmp_path: Path) -> None:
    root = make_dataset(subjects=2)
    source = DatasetSource(root, cache_dir=tmp_path / "cache", workers=1)
    loaded = source.load()
    assert not isinstance(loaded, ProbedDataset)
    seen: list[int] = []
    probed = source.probe(loaded, progress=seen.append)
    assert isinstance(probed, ProbedDataset)
    assert probed.root == loaded.root and probed.notes == loaded.notes
    assert set(probed.table["status"]) == {"ok"}
    assert sum(seen) == 10
    assert list((tmp_path / "cache").iterdir()), "the cache folder of the source was used"


def test_use_cache_false_writes_no_cache(make_dataset: MakeDataset, tmp_path: Path) -> None:
    root = make_dataset(subjects=1)
    probed = DatasetSource(root, cache_dir=tmp_path / "c", use_cache=False, workers=1).open()
    assert len(probed.images) == 5
    assert not (tmp_path / "c").exists()


def test_field_map_reaches_the_reader(make_dataset: MakeDataset) -> None:
    from conftest import vendor_record

    rec = vendor_record("1", stage="Stage 3")
    rec["hair_grade"] = rec.pop("label")
    root = make_dataset(records=[rec])
    ds = DatasetSource(root, fields={"label": "hair_grade"}).load()
    assert ds.table["stage"].dropna().unique().tolist() == [3]


def test_a_cache_inside_the_dataset_is_refused_by_the_library(make_dataset: MakeDataset) -> None:
    from norwoodkit.errors import OutputError

    root = make_dataset(subjects=1)
    before = sorted(p.name for p in root.rglob("*"))
    with pytest.raises(OutputError) as info:
        DatasetSource(root, cache_dir=root / "cache", workers=1).open()
    assert info.value.parameter == "cache_dir" and info.value.code == "output-inside-dataset"
    assert sorted(p.name for p in root.rglob("*")) == before
