"""dataset.load: annotation shapes, aliases, the folder walk, and every bad input it meets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import MakeDataset, jpeg_bytes, photo, vendor_record
from norwoodkit import dataset
from norwoodkit.errors import AnnotationError, InputError, ParameterError
from norwoodkit.labels import VIEWS, View


def codes(ds: dataset.Dataset) -> list[str]:
    return [f.code for f in ds.notes]


@pytest.mark.parametrize("shape", ["list", "keyed", "wrapped", "csv"])
def test_every_annotation_shape_gives_the_same_table(make_dataset: MakeDataset, shape: str) -> None:
    ds = dataset.load(make_dataset(3, shape=shape))
    t = ds.table
    assert ds.notes == ()
    assert len(t) == 15
    assert t["path"].notna().all()
    assert sorted(t["subject_id"].unique()) == ["1", "2", "3"]
    assert list(t[t["subject_id"] == "1"]["view"]) == [v.value for v in VIEWS]
    prefix = "files/" if shape == "csv" else ""
    assert t.iloc[0]["path"] == f"{prefix}1/Front.jpg"
    assert ds.image_root == ("files" if shape == "csv" else "")
    assert t[t["subject_id"] == "2"]["stage"].iloc[0] == 3
    assert t["age"].dtype == "Int64" and t["age"].iloc[0] == 45


def test_vendor_csv_quoted_strings_and_slash_paths(tmp_path: Path) -> None:
    root = tmp_path / "vendor"
    (root / "files" / "1").mkdir(parents=True)
    for name in ("Top-Down", "Back", "Front", "Left", "Right"):
        (root / "files" / "1" / f"{name}.jpg").write_bytes(jpeg_bytes(photo(hash(name) % 999)))
    (root / "sample.csv").write_text(
        '"id","gender","age","ethnicity","label","Top-Down","Back","Front","Left","Right"\n'
        '"1","male","43","Caucasians","Stage 7","/1/Top-Down.jpg","/1/Back.jpg","/1/Front.jpg",'
        '"/1/Left.jpg","/1/Right.jpg"\n',
        encoding="utf-8",
    )
    ds = dataset.load(root)
    row = ds.table.set_index("view").loc["top"]
    assert row["path"] == "files/1/Top-Down.jpg"
    assert row["annotation_path"] == "/1/Top-Down.jpg"
    assert row["stage"] == 7 and row["age"] == 43 and row["raw_label"] == "Stage 7"


def test_field_aliases_and_extra_fields(make_dataset: MakeDataset) -> None:
    recs = [
        {
            "person_id": "001",
            "class": "IIIa",
            "sex": "male",
            "race": "Asians",
            "age": 30,
            "clinic": "Berlin",
            "scores": [1, 2],
        },
        {
            "person_id": 2,
            "class": "III vertex",
            "sex": "male",
            "race": "Asians",
            "age": 31.0,
            "clinic": "Oslo",
            "scores": [],
        },
    ]
    ds = dataset.load(make_dataset(2, records=recs, paths_in_records=False))
    subj = ds.subjects.set_index("subject_id")
    assert subj.loc["1", "stage"] == 3 and subj.loc["1", "stage_variant"] == "a"
    assert subj.loc["2", "stage_variant"] == "vertex"
    assert subj.loc["2", "age"] == 31
    assert subj.loc["1", "gender"] == "male" and subj.loc["1", "ethnicity"] == "Asians"
    assert ds.table[ds.table["subject_id"] == "1"]["clinic"].iloc[0] == "Berlin"
    assert ds.table[ds.table["subject_id"] == "1"]["scores"].iloc[0] == "[1, 2]"
    assert ds.notes == ()


def test_field_mapping_for_unknown_names(make_dataset: MakeDataset) -> None:
    recs = [{"subj": "1", "grade": "II", "years": "50", "img_face": "1/Front.jpg"}]
    root = make_dataset(1, records=recs, paths_in_records=False)
    ds = dataset.load(root, fields={"subject_id": "subj", "age": "years", "front": "img_face"})
    row = ds.table.iloc[0]
    assert row["subject_id"] == "1" and row["age"] == 50 and row["stage"] == 2
    assert row["annotation_path"] == "1/Front.jpg"
    with pytest.raises(ParameterError, match="unknown field 'colour'") as info:
        dataset.load(root, fields={"colour": "x"})
    assert info.value.parameter == "fields" and info.value.code == "usage"


def test_annotations_argument_that_is_not_a_file(make_dataset: MakeDataset) -> None:
    root = make_dataset(1)
    with pytest.raises(ParameterError, match=r"no-such\.json is not a file") as info:
        dataset.load(root, annotations=root / "no-such.json")
    assert info.value.parameter == "annotations" and info.value.code == "annotation-missing"
    assert info.value.exit_code == 2


def test_ids_1_and_001_are_one_subject(make_dataset: MakeDataset, tmp_path: Path) -> None:
    root = make_dataset(
        2, records=[vendor_record("001"), vendor_record("2")], paths_in_records=False
    )
    os.rename(root / "2", root / "002")
    ds = dataset.load(root)
    assert sorted(ds.subjects["subject_id"]) == ["1", "2"]
    assert ds.table[ds.table["subject_id"] == "2"]["path"].iloc[0] == "002/Front.jpg"
    assert ds.notes == ()


def test_missing_view_is_a_placeholder_row(make_dataset: MakeDataset) -> None:
    ds = dataset.load(make_dataset(2, missing_view=("2", View.TOP)))
    row = ds.table[(ds.table["subject_id"] == "2") & (ds.table["view"] == "top")]
    assert len(row) == 1 and row["path"].isna().all()
    assert row["annotation_path"].iloc[0] == "/2/Top-Down.jpg"
    assert len(ds.images) == 9


def test_extra_junk_and_unexpected_files(make_dataset: MakeDataset) -> None:
    root = make_dataset(1)
    (root / "1" / "IMG_0001.jpg").write_bytes(jpeg_bytes(photo(99)))
    (root / "1" / ".DS_Store").write_bytes(b"x")
    (root / "1" / "readme.txt").write_text("hi")
    (root / "__MACOSX").mkdir()
    ds = dataset.load(root)
    extra = ds.table[ds.table["view"].isna()]
    assert list(extra["path"]) == ["1/IMG_0001.jpg"]
    assert sorted(codes(ds)) == ["junk-file", "junk-file", "unexpected-file"]


# ----------------------------------------------------------------------------- bad input


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such folder") as exc:
        dataset.load(tmp_path / "nope")
    assert str(tmp_path / "nope") in exc.value.message


def test_root_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "f.json"
    f.write_text("[]")
    with pytest.raises(InputError, match="is a file, not a folder"):
        dataset.load(f)


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(AnnotationError, match=r"no annotation file found.*--annotations"):
        dataset.load(tmp_path)


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (b"", "is empty"),
        (b"   \n", "is empty"),
        (b"{not json", "not valid JSON at line 1"),
        (b'"just a string"', "bare str"),
        (b"42", "bare int"),
        (b"[1, 2]", "record #0 is a int"),
        (b'{"a": 1, "b": 2}', "unrecognised annotation shape"),
    ],
)
def test_malformed_annotation_json(make_dataset: MakeDataset, content: bytes, pattern: str) -> None:
    root = make_dataset(1)
    (root / "annotation.json").write_bytes(content)
    with pytest.raises(AnnotationError, match=pattern) as exc:
        dataset.load(root)
    assert "annotation.json" in exc.value.message


def test_utf8_bom_is_read(make_dataset: MakeDataset) -> None:
    root = make_dataset(1)
    data = (root / "annotation.json").read_bytes()
    (root / "annotation.json").write_bytes(b"\xef\xbb\xbf" + data)
    ds = dataset.load(root)
    assert ds.notes == () and len(ds.images) == 5


def test_latin1_annotation_is_read_with_a_warning(make_dataset: MakeDataset) -> None:
    rec = vendor_record("1", ethnicity="Métis")
    root = make_dataset(1, records=[rec])
    (root / "annotation.json").write_bytes(json.dumps([rec], ensure_ascii=False).encode("latin-1"))
    ds = dataset.load(root)
    assert codes(ds) == ["annotation-encoding"]
    assert "UTF-8" in ds.notes[0].message
    assert ds.subjects["ethnicity"].iloc[0] == "Métis"


def test_records_without_ids(make_dataset: MakeDataset) -> None:
    recs = [vendor_record("1"), {"label": "Stage 2", "age": "40"}]
    ds = dataset.load(make_dataset(1, records=recs))
    assert codes(ds) == ["record-without-id"]
    assert "record #1" in ds.notes[0].message


def test_no_record_has_an_id(make_dataset: MakeDataset) -> None:
    root = make_dataset(1, records=[{"label": "Stage 2", "pid": "1"}])
    with pytest.raises(AnnotationError, match=r"no record has a subject id.*--field"):
        dataset.load(root)


def test_duplicate_ids(make_dataset: MakeDataset) -> None:
    recs = [vendor_record("1"), vendor_record("01", stage="Stage 5")]
    ds = dataset.load(make_dataset(1, records=recs))
    assert codes(ds) == ["duplicate-id"]
    assert ds.subjects["stage"].iloc[0] == 3  # the first record wins


def test_csv_with_extra_and_missing_columns(make_dataset: MakeDataset) -> None:
    root = make_dataset(2, shape="csv")
    lines = (root / "annotation.csv").read_text().splitlines()
    lines[1] += ',"surplus"'
    lines[2] = '"2","male"'
    (root / "annotation.csv").write_text("\n".join(lines) + "\n")
    ds = dataset.load(root)
    assert codes(ds).count("annotation-row-shape") == 2
    assert any("line 2" in f.message for f in ds.notes)
    assert "age-missing" in codes(ds)


@pytest.mark.parametrize(
    ("label", "code"),
    [("Stage 9", "stage-out-of-range"), ("3-4", "stage-invalid"), ("", "stage-missing")],
)
def test_bad_labels(make_dataset: MakeDataset, label: str, code: str) -> None:
    ds = dataset.load(make_dataset(1, records=[vendor_record("1", stage=label)]))
    assert codes(ds) == [code]
    assert ds.notes[0].subject == "1" and repr(label) in ds.notes[0].message
    assert ds.subjects["stage"].isna().all()
    assert ds.subjects["raw_label"].iloc[0] == label


@pytest.mark.parametrize(
    ("age", "code", "value"),
    [
        ("abc", "age-invalid", None),
        ("45.5", "age-invalid", None),
        ("-1", None, -1),
        ("200", None, 200),
        ("", "age-missing", None),
    ],
)
def test_bad_ages(make_dataset: MakeDataset, age: str, code: str | None, value: int | None) -> None:
    ds = dataset.load(make_dataset(1, records=[vendor_record("1", age=age)]))
    assert codes(ds) == ([code] if code else [])
    got = ds.subjects["age"].iloc[0]
    assert (got is None or got is __import__("pandas").NA) if value is None else got == value


def test_record_path_escaping_root_is_refused(make_dataset: MakeDataset) -> None:
    rec = vendor_record("1")
    rec["Front"] = "../../etc/passwd"
    ds = dataset.load(make_dataset(1, records=[rec]))
    assert codes(ds) == ["path-escapes-root"]
    assert "../../etc/passwd" in ds.notes[0].message
    assert "etc/passwd" not in " ".join(ds.images["path"])
    # The folder's own Front.jpg still counts: nothing is lost.
    assert "1/Front.jpg" in set(ds.images["path"])


def test_symlink_to_a_file_outside_is_refused(make_dataset: MakeDataset, tmp_path: Path) -> None:
    root = make_dataset(1)
    outside = tmp_path / "secret.jpg"
    outside.write_bytes(jpeg_bytes(photo(5)))
    os.remove(root / "1" / "Back.jpg")
    os.symlink(outside, root / "1" / "Back.jpg")
    ds = dataset.load(root)
    assert codes(ds) == ["path-escapes-root"]
    assert ds.notes[0].path == "1/Back.jpg" and str(outside) in ds.notes[0].message
    back = ds.table[(ds.table["view"] == "back")]
    assert back["path"].isna().all()


def test_unicode_folder_names(make_dataset: MakeDataset) -> None:
    recs = [vendor_record("Jürgen-ß", stage="II"), vendor_record("患者7", stage="IV")]
    root = make_dataset(0, records=recs, paths_in_records=False)
    for r in recs:
        (root / r["id"]).mkdir()
        for j, v in enumerate(VIEWS):
            (root / r["id"] / f"{v.value}.jpg").write_bytes(jpeg_bytes(photo(j)))
    ds = dataset.load(root)
    assert ds.notes == ()
    assert set(ds.images["subject_id"]) == {"Jürgen-ß", "患者7"}
    assert len(ds.images) == 10
