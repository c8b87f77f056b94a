"""stats: every number agrees with an independent pandas computation; bad input is counted, not
dropped; the four renderings (dict, Markdown, CSV, Rich) carry the same tables."""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import typing
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hostile import hostile
from PIL import Image
from rich.console import Console

from conftest import CLEAN_SAMPLE, DEFECT_SAMPLE, MakeDataset, jpeg_bytes, photo, png_bytes
from norwoodkit import dataset, probe
from norwoodkit.columns import ALL_COLUMNS, coerce
from norwoodkit.dataset import Dataset, ProbedDataset
from norwoodkit.errors import InputError, OutputError, ParameterError
from norwoodkit.labels import VIEWS, View, category_key
from norwoodkit.paths import guard_output
from norwoodkit.stats import (
    FACT_LABELS,
    MISSING,
    OUT_OF_RANGE,
    QUALITY_MEASURES,
    STAGE_LABELS,
    TABLE_TITLES,
    Summary,
    parse_age_bins,
    summarize,
)

STAGES = [str(s) for s in range(1, 8)]


def _probed(root: Path, cache: Path) -> ProbedDataset:
    # Module fixtures run before the per-test cache fixture: give them their own cache.
    return probe.run(dataset.load(root), cache_dir=cache, workers=1)


@pytest.fixture(scope="module")
def clean(clean_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> ProbedDataset:
    return _probed(clean_sample, tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def defects(defect_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> ProbedDataset:
    return _probed(defect_sample, tmp_path_factory.mktemp("cache"))


def records(summary: Summary, name: str) -> list[dict[str, Any]]:
    table: list[dict[str, Any]] = summary.to_dict()["tables"][name]
    return table


def by(summary: Summary, name: str, key: str) -> dict[str, dict[str, Any]]:
    return {str(r[key]): r for r in records(summary, name)}


def cell(frame: pd.DataFrame, row: str, column: str) -> int:
    value: Any = frame.at[row, column]
    return int(value)


def hand_made(rows: list[dict[str, Any]], name: str = "hand") -> ProbedDataset:
    """A probed dataset from subject dicts: five decodable 200x100 JPEG rows per subject."""
    table_rows = []
    for i, subject in enumerate(rows):
        for j, view in enumerate(VIEWS):
            table_rows.append(
                {
                    "subject_id": subject.get("subject_id", str(i + 1)),
                    "view": view.value,
                    "path": f"{i + 1}/{view.value}.jpg",
                    "in_annotation": True,
                    "stage": subject.get("stage"),
                    "age": subject.get("age"),
                    "gender": subject.get("gender", "male"),
                    "ethnicity": subject.get("ethnicity"),
                    "status": "ok",
                    "size": 1000 + 10 * i + j,
                    "format": "JPEG",
                    "mode": "RGB",
                    "width": 200,
                    "height": 100,
                    "oriented_width": 200,
                    "oriented_height": 100,
                }
            )
    table = coerce(pd.DataFrame(table_rows), ALL_COLUMNS)
    return ProbedDataset(root=Path(name), table=table)


# --------------------------------------------------------------------------- pandas agreement


def _age_label(age: Any) -> str:
    if pd.isna(age):
        return MISSING
    cut = pd.cut([float(age)], bins=[17.5, 29.5, 39.5, 49.5, 59.5, 80.5], labels=False)[0]
    if pd.isna(cut):
        return OUT_OF_RANGE
    return ["18-29", "30-39", "40-49", "50-59", "60-80"][int(cut)]


def check_against_pandas(ds: ProbedDataset, summary: Summary) -> None:
    t = ds.table
    subj = t.drop_duplicates("subject_id")
    imgs = t[t["path"].notna()]
    stage = subj["stage"].astype("object").where(subj["stage"].notna(), MISSING).astype(str)
    img_stage = imgs["stage"].astype("object").where(imgs["stage"].notna(), MISSING).astype(str)
    facts = summary.to_dict()["facts"]

    # stages: counts, shares, imbalance, folds
    stages = by(summary, "stages", "stage")
    assert list(stages) == list(STAGE_LABELS)
    counts = stage.value_counts()
    img_counts = img_stage.value_counts()
    for label in STAGE_LABELS:
        assert stages[label]["subjects"] == int(counts.get(label, 0))
        assert stages[label]["images"] == int(img_counts.get(label, 0))
        assert stages[label]["subject_share"] == pytest.approx(counts.get(label, 0) / len(subj))
        assert stages[label]["image_share"] == pytest.approx(img_counts.get(label, 0) / len(imgs))
        n = int(counts.get(label, 0))
        assert stages[label]["too_few_for_folds"] == (label != MISSING and 0 < n < 5)
    known = counts.drop(MISSING, errors="ignore")
    assert facts["imbalance_ratio"] == pytest.approx(known.max() / known.min())
    assert facts["subjects"] == len(subj) == subj["subject_id"].nunique()
    assert facts["images"] == len(imgs)
    assert facts["images_ok"] == int((imgs["status"] == "ok").sum())
    assert facts["missing_views"] == int(t["path"].isna().sum())
    assert facts["stage_missing"] == int(subj["stage"].isna().sum())

    # ages
    ages = subj["age"].dropna().astype(float)
    assert facts["age_known"] == len(ages)
    assert facts["age_min"] == ages.min() and facts["age_max"] == ages.max()
    assert facts["age_mean"] == pytest.approx(ages.mean())
    assert facts["age_median"] == pytest.approx(ages.median())
    assert facts["age_std"] == pytest.approx(ages.std())
    age_label = subj["age"].map(_age_label)
    age_counts = age_label.value_counts()
    for label, row in by(summary, "age_bins", "age_bin").items():
        assert row["subjects"] == int(age_counts.get(label, 0)), label
    assert sum(r["subjects"] for r in records(summary, "age_bins")) == len(subj)

    # stage x age bin
    cross = pd.crosstab(stage.to_numpy(), age_label.to_numpy())
    for row in records(summary, "stage_by_age_bin"):
        for col, value in row.items():
            if col == "stage":
                continue
            present = row["stage"] in cross.index and col in cross.columns
            expected = cell(cross, row["stage"], col) if present else 0
            assert value == expected, (row["stage"], col)

    # gender and ethnicity: counts of each spelling group add up; the missing row holds nulls
    for column in ("gender", "ethnicity"):
        values = subj[column]
        groups = values.dropna().astype(str).map(category_key).value_counts()
        table = records(summary, column)
        assert sum(r["subjects"] for r in table) == len(subj)
        assert table[-1][column] == MISSING
        assert table[-1]["subjects"] == int(values.isna().sum())
        assert sorted(r["subjects"] for r in table[:-1]) == sorted(groups.tolist())
        assert facts[f"{column}_missing"] == int(values.isna().sum())
        crossed = records(summary, f"stage_by_{column}")
        totals = {c: sum(r[c] for r in crossed) for c in crossed[0] if c != "stage"}
        assert totals == {r[column]: r["subjects"] for r in table}

    # views
    view = imgs["view"].astype(object).where(imgs["view"].notna(), "(no view)")
    views = by(summary, "views", "view")
    for name in [v.value for v in VIEWS]:
        rows = t[t["view"] == name]
        assert views[name]["images"] == int(rows["path"].notna().sum())
        assert views[name]["missing"] == int(rows["path"].isna().sum())
        assert views[name]["ok"] == int((rows["status"] == "ok").sum())
    assert views["all"]["images"] == len(imgs)

    # sizes: quartiles of upright width, height, megapixels and bytes, per view and overall
    sizes = {(r["view"], r["measure"]): r for r in records(summary, "image_sizes")}
    width = imgs["oriented_width"].astype(float)
    height = imgs["oriented_height"].astype(float)
    measures = {
        "width": width,
        "height": height,
        "megapixels": width * height / 1e6,
        "bytes": imgs["size"].astype(float),
    }
    for name in [*[v.value for v in VIEWS], "all"]:
        mask = pd.Series(True, index=imgs.index) if name == "all" else (view == name)
        for measure, values in measures.items():
            chosen = values[mask].dropna()
            row = sizes[(name, measure)]
            assert row["count"] == len(chosen)
            assert row["min"] == pytest.approx(chosen.min())
            assert row["q1"] == pytest.approx(chosen.quantile(0.25))
            assert row["median"] == pytest.approx(chosen.median())
            assert row["q3"] == pytest.approx(chosen.quantile(0.75))
            assert row["max"] == pytest.approx(chosen.max())

    # quality: median and quartiles of each measure over the images where it is finite
    quality = {(r["view"], r["measure"]): r for r in records(summary, "quality")}
    grey = by(summary, "grayscale", "view")
    for name in [*[v.value for v in VIEWS], "all"]:
        mask = pd.Series(True, index=imgs.index) if name == "all" else (view == name)
        for measure in QUALITY_MEASURES:
            values = imgs.loc[mask, measure].astype(float)
            chosen = values[values.notna()]
            row = quality[(name, measure)]
            assert (row["measured"], row["not_measured"]) == (len(chosen), int(values.isna().sum()))
            if len(chosen):
                assert row["median"] == pytest.approx(chosen.median())
                assert row["q1"] == pytest.approx(chosen.quantile(0.25))
                assert row["q3"] == pytest.approx(chosen.quantile(0.75))
                assert row["iqr"] == pytest.approx(row["q3"] - row["q1"])
            else:
                assert row["median"] is None and row["iqr"] is None
        judged = imgs.loc[mask, "grayscale"].dropna()
        assert (grey[name]["measured"], grey[name]["grayscale"]) == (len(judged), int(judged.sum()))

    # formats, modes, orientations per view
    for table_name, column, fill in (
        ("formats", "format", "unknown"),
        ("modes", "mode", "unknown"),
        ("orientations", "orientation", "none"),
    ):
        values = imgs[column].astype(object).where(imgs[column].notna(), fill).astype(str)
        cross = pd.crosstab(values.to_numpy(), view.to_numpy())
        for row in records(summary, table_name):
            value = str(row[column])
            assert row["all"] == int((values == value).sum())
            for v in cross.columns:
                assert row[v] == cell(cross, value, v), (table_name, value, v)


def test_numbers_agree_with_pandas_on_a_sample(clean: ProbedDataset) -> None:
    summary = summarize(clean)
    check_against_pandas(clean, summary)
    facts = summary.to_dict()["facts"]
    subjects = CLEAN_SAMPLE.subjects
    assert facts["subjects"] == subjects and facts["images"] == 5 * subjects
    assert facts["missing_views"] == 0 and facts["stage_missing"] == 0


def test_numbers_agree_with_pandas_on_broken_data(defects: ProbedDataset) -> None:
    summary = summarize(defects)
    check_against_pandas(defects, summary)
    facts = summary.to_dict()["facts"]
    # The defect sample plants a missing stage, a missing age, an age of 200, broken files, a
    # missing view and an extra image: each is counted, none dropped.
    assert facts["stage_missing"] >= 1
    assert facts["age_missing"] >= 1
    assert facts["age_out_of_range"] >= 1
    assert facts["images_with_problems"] >= 1
    assert facts["missing_views"] >= 1
    assert facts["extra_images"] >= 1
    assert "(no view)" in by(summary, "views", "view")


def test_summarize_opens_no_image(clean: ProbedDataset, tmp_path: Path) -> None:
    # A copy of the probed table whose files are gone: the numbers cannot change.
    root = tmp_path / "gone"
    assert isinstance(clean.root, Path)
    shutil.copytree(clean.root, root)
    ds = ProbedDataset(root=root, table=clean.table.copy())
    for p in root.rglob("*.jpg"):
        p.unlink()
    assert summarize(ds).to_dict()["tables"] == summarize(clean).to_dict()["tables"]


# --------------------------------------------------------------------------- bad input


def test_missing_stage_and_age_are_counted_not_dropped() -> None:
    ds = hand_made(
        [
            {"stage": 3, "age": 25, "ethnicity": "Caucasians"},
            {"stage": None, "age": 41, "ethnicity": "Caucasian"},
            {"stage": 3, "age": None, "ethnicity": None, "gender": None},
            {"stage": None, "age": None, "ethnicity": "Asians"},
            {"stage": 5, "age": 95, "ethnicity": "caucasians"},
        ]
    )
    summary = summarize(ds)
    facts = summary.to_dict()["facts"]
    assert facts["subjects"] == 5
    assert facts["stage_missing"] == 2
    assert facts["age_missing"] == 2
    assert facts["age_out_of_range"] == 1
    assert facts["age_known"] == 3
    assert facts["age_mean"] == pytest.approx((25 + 41 + 95) / 3)
    stages = by(summary, "stages", "stage")
    assert stages[MISSING]["subjects"] == 2 and stages[MISSING]["images"] == 10
    assert stages["3"]["subjects"] == 2 and stages["5"]["subjects"] == 1
    ages = by(summary, "age_bins", "age_bin")
    assert ages[MISSING]["subjects"] == 2
    assert ages[OUT_OF_RANGE]["subjects"] == 1
    assert ages["18-29"]["subjects"] == 1 and ages["40-49"]["subjects"] == 1
    cross = by(summary, "stage_by_age_bin", "stage")
    assert cross[MISSING][MISSING] == 1 and cross[MISSING]["40-49"] == 1
    assert cross["3"][MISSING] == 1 and cross["5"][OUT_OF_RANGE] == 1
    eth = records(summary, "ethnicity")
    assert eth[0] == {
        "ethnicity": "Caucasian",
        "subjects": 3,
        "share": pytest.approx(0.6),
        "variants": "Caucasian (1), Caucasians (1), caucasians (1)",
    }
    assert eth[-1]["ethnicity"] == MISSING and eth[-1]["subjects"] == 1
    assert by(summary, "gender", "gender")[MISSING]["subjects"] == 1
    assert facts["absent_stages"] == ["1", "2", "4", "6", "7"]


def test_variants_row_shows_every_spelling_under_the_most_common() -> None:
    ds = hand_made(
        [{"stage": 1, "ethnicity": "Caucasians"}] * 3
        + [{"stage": 2, "ethnicity": "Caucasian"}]
        + [{"stage": 2, "ethnicity": "Asian"}]
    )
    rows = records(summarize(ds), "ethnicity")
    assert rows[0]["ethnicity"] == "Caucasians"
    assert rows[0]["variants"] == "Caucasian (1), Caucasians (3)"
    assert rows[1] == {"ethnicity": "Asian", "subjects": 1, "share": 0.2, "variants": ""}
    cross = by(summarize(ds), "stage_by_ethnicity", "stage")
    assert cross["2"]["Caucasians"] == 1 and cross["1"]["Caucasians"] == 3


def test_all_subjects_in_one_stage() -> None:
    ds = hand_made([{"stage": 4, "age": 30 + i} for i in range(3)])
    summary = summarize(ds)
    facts = summary.to_dict()["facts"]
    assert facts["imbalance_ratio"] == 1.0
    assert facts["largest_stage"] == facts["smallest_stage"] == "4"
    assert facts["stages_present"] == 1
    assert facts["absent_stages"] == ["1", "2", "3", "5", "6", "7"]
    assert facts["too_few_for_folds"] == ["4"]
    assert summarize(ds, folds=3).to_dict()["facts"]["too_few_for_folds"] == []
    assert by(summary, "stages", "stage")["4"]["subject_share"] == 1.0
    summary.to_markdown()
    summary.rich_tables()


def test_no_stage_at_all() -> None:
    summary = summarize(hand_made([{"stage": None, "age": 40}, {"stage": None, "age": 50}]))
    facts = summary.to_dict()["facts"]
    assert facts["imbalance_ratio"] is None and facts["largest_stage"] is None
    assert facts["stage_missing"] == 2 and facts["too_few_for_folds"] == []


def test_no_age_at_all_gives_none_not_nan() -> None:
    summary = summarize(hand_made([{"stage": 1}, {"stage": 2}]))
    facts = summary.to_dict()["facts"]
    for key in ("age_min", "age_max", "age_mean", "age_median", "age_std"):
        assert facts[key] is None
    json.dumps(summary.to_dict(), allow_nan=False)


def test_unicode_ethnicity_values(tmp_path: Path) -> None:
    composed = "Caucásico"
    decomposed = unicodedata.normalize("NFD", composed)
    ds = hand_made(
        [
            {"stage": 1, "ethnicity": composed},
            {"stage": 1, "ethnicity": composed},
            {"stage": 2, "ethnicity": decomposed},
            {"stage": 3, "ethnicity": "東アジア"},
            {"stage": 3, "ethnicity": "Азиат | другой"},
            {"stage": 4, "ethnicity": "Ἕλλην"},
        ]
    )
    summary = summarize(ds)
    rows = by(summary, "ethnicity", "ethnicity")
    assert rows[composed]["subjects"] == 3  # NFC and NFD spellings are one value
    assert rows["東アジア"]["subjects"] == 1
    assert by(summary, "stage_by_ethnicity", "stage")["3"]["東アジア"] == 1
    text = json.dumps(summary.to_dict(), ensure_ascii=False, allow_nan=False)
    assert "東アジア" in text and "Ἕλλην" in text
    md = summary.to_markdown()
    assert "東アジア" in md and "Азиат \\| другой" in md  # the pipe is escaped
    summary.write_csv_dir(tmp_path / "csv")
    back = pd.read_csv(tmp_path / "csv" / "ethnicity.csv", keep_default_na=False)
    assert "東アジア" in set(back["ethnicity"])
    console = Console(record=True, width=200)
    for table in summary.rich_tables():
        console.print(table)
    assert "東アジア" in console.export_text()


def test_empty_dataset_raises_input_error(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    (root / "annotation.json").write_text("[]", encoding="utf-8")
    ds = probe.run(dataset.load(root), use_cache=False)
    with pytest.raises(InputError) as info:
        summarize(ds)
    assert info.value.code == "dataset-empty"
    assert "no subjects" in info.value.message and str(root) in info.value.message
    assert info.value.exit_code == 2


def test_summarize_takes_only_a_probed_dataset() -> None:
    # Whether the probe ran is a type, not a runtime check: mypy --strict rejects
    # summarize(dataset.load(root)). Pin the signature it checks, and that a loaded Dataset is
    # not a ProbedDataset.
    assert typing.get_type_hints(summarize)["dataset"] is ProbedDataset
    assert not issubclass(Dataset, ProbedDataset)
    assert issubclass(ProbedDataset, Dataset)


def test_subjects_without_images_still_summarize() -> None:
    ds = hand_made([{"stage": 2, "age": 33}])
    table = ds.table.copy()
    table["path"] = pd.array([pd.NA] * len(table), dtype="string")
    table["status"] = pd.array([pd.NA] * len(table), dtype="string")
    summary = summarize(ProbedDataset(root=Path("x"), table=table))
    facts = summary.to_dict()["facts"]
    assert facts["images"] == 0 and facts["missing_views"] == 5
    assert by(summary, "image_sizes", "measure")["width"]["count"] == 0
    assert by(summary, "quality", "measure")["sharpness"]["measured"] == 0
    assert by(summary, "grayscale", "view")["all"]["measured"] == 0
    json.dumps(summary.to_dict(), allow_nan=False)


# --------------------------------------------------------------------------- options


def test_age_bins_parse_and_apply() -> None:
    bins = parse_age_bins("18-39, 40\u201359,60-100")  # an en dash is read as a hyphen
    assert bins == ((18, 39), (40, 59), (60, 100))
    ds = hand_made([{"stage": 1, "age": a} for a in (18, 39, 40, 95, 17)])
    summary = summarize(ds, age_bins=bins)
    ages = by(summary, "age_bins", "age_bin")
    assert [r["age_bin"] for r in records(summary, "age_bins")] == [
        "18-39",
        "40-59",
        "60-100",
        OUT_OF_RANGE,
        MISSING,
    ]
    assert ages["18-39"]["subjects"] == 2 and ages["60-100"]["subjects"] == 1
    assert ages[OUT_OF_RANGE]["subjects"] == 1
    assert summary.to_dict()["parameters"] == {
        "folds": 5,
        "age_bins": ["18-39", "40-59", "60-100"],
    }


@pytest.mark.parametrize("folds", [1, 0, -5, 2.5, True])
def test_bad_folds(clean: ProbedDataset, folds: Any) -> None:
    with pytest.raises(ParameterError, match="at least 2 folds") as info:
        summarize(clean, folds=folds)
    assert info.value.parameter == "folds" and info.value.code == "usage"
    assert info.value.message.startswith("folds: ") and "--" not in info.value.message


def test_folds_changes_only_the_too_few_flags(clean: ProbedDataset) -> None:
    five = summarize(clean, folds=5).to_dict()
    many = summarize(clean, folds=100).to_dict()
    assert [r["too_few_for_folds"] for r in many["tables"]["stages"]] == [
        0 < r["subjects"] < 100 and r["stage"] != MISSING for r in many["tables"]["stages"]
    ]
    assert five["tables"]["age_bins"] == many["tables"]["age_bins"]


# --------------------------------------------------------------------------- renderings


def test_to_dict_is_json_safe_with_stable_keys(defects: ProbedDataset) -> None:
    doc = summarize(defects).to_dict()
    text = json.dumps(doc, allow_nan=False)
    assert json.loads(text) == doc
    assert list(doc) == ["dataset", "parameters", "facts", "tables"]
    assert list(doc["facts"]) == list(FACT_LABELS)
    assert list(doc["tables"]) == list(TABLE_TITLES)
    assert list(doc["tables"]["stages"][0]) == [
        "stage",
        "subjects",
        "subject_share",
        "images",
        "image_share",
        "too_few_for_folds",
    ]
    assert summarize(defects).to_dict() == doc  # same data, same document


def test_markdown_is_one_document_with_a_pipe_table_per_table(defects: ProbedDataset) -> None:
    summary = summarize(defects)
    md = summary.to_markdown()
    assert md.startswith(f"# Dataset summary: {defects.root.name}\n")
    headings = [line[3:] for line in md.splitlines() if line.startswith("## ")]
    assert headings == ["Overview", *TABLE_TITLES.values()]
    blocks = [b for b in md.split("\n\n") if b.startswith("|")]
    assert len(blocks) == len(TABLE_TITLES) + 1
    for block, name in zip(blocks[1:], TABLE_TITLES, strict=True):
        lines = block.splitlines()
        widths = {line.count(" | ") for line in lines}
        assert len(widths) == 1, name  # every row has as many cells as the header
        assert len(lines) == len(summary.table(name)) + 2
        assert set(lines[1].replace("|", " ").split()) <= {"---", "---:"}
    assert "| 1 |" in md and " %" in md


def test_write_csv_dir_writes_each_table_atomically(defects: ProbedDataset, tmp_path: Path) -> None:
    summary = summarize(defects)
    out = tmp_path / "tables"
    written = summary.write_csv_dir(out)
    assert sorted(p.name for p in written) == sorted(
        ["facts.csv", *(f"{n}.csv" for n in TABLE_TITLES)]
    )
    assert sorted(os.listdir(out)) == sorted(p.name for p in written)  # no temp files left
    for name in TABLE_TITLES:
        back = pd.read_csv(out / f"{name}.csv", keep_default_na=False, dtype=str)
        assert list(back.columns) == list(summary.table(name).columns)
        assert len(back) == len(summary.table(name))
    stages = pd.read_csv(out / "stages.csv", dtype={"stage": str})
    assert stages["subjects"].tolist() == summary.table("stages")["subjects"].tolist()
    facts = pd.read_csv(out / "facts.csv", keep_default_na=False, dtype=str)
    assert facts.set_index("fact").at["subjects", "value"] == str(DEFECT_SAMPLE.subjects)
    # Writing again replaces the files; an old extra file is left alone.
    (out / "stages.csv").write_text("old", encoding="utf-8")
    summary.write_csv_dir(out)
    assert (out / "stages.csv").read_text(encoding="utf-8").startswith("stage,")


def test_output_folder_checks(tmp_path: Path) -> None:
    def check_output_dir(path: Path) -> Path:
        return guard_output(path, "csv_dir", dataset_root=None, kind="folder")

    with pytest.raises(OutputError, match="does not exist"):
        check_output_dir(tmp_path / "missing" / "csv")
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(OutputError, match="is a file"):
        check_output_dir(tmp_path / "file")
    assert check_output_dir(tmp_path / "new") == tmp_path / "new"


def test_write_csv_dir_names_its_parameter(defects: ProbedDataset, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(OutputError, match=r"^directory: .*file: is a file"):
        summarize(defects).write_csv_dir(tmp_path / "file")


def test_rich_tables_render_every_table(clean: ProbedDataset) -> None:
    summary = summarize(clean)
    tables = summary.rich_tables()
    assert [t.title for t in tables] == ["Overview", *TABLE_TITLES.values()]
    console = Console(record=True, width=220)
    for table in tables:
        console.print(table)
    text = console.export_text()
    assert "subject share" in text and "imbalance ratio" in text


def test_shares_sum_to_one(clean: ProbedDataset) -> None:
    doc = summarize(clean).to_dict()["tables"]
    for name, column in (("stages", "subject_share"), ("age_bins", "share"), ("gender", "share")):
        assert math.fsum(r[column] for r in doc[name]) == pytest.approx(1.0)
    assert [r["stage"] for r in doc["stages"]][:7] == STAGES


def test_a_value_named_like_the_row_column_keeps_both() -> None:
    summary = summarize(hand_made([{"stage": 1, "ethnicity": "stage"}, {"stage": 2}]))
    rows = by(summary, "stage_by_ethnicity", "stage")
    assert rows["1"]["stage (value)"] == 1 and rows["2"][MISSING] == 1


# --------------------------------------------------------------------------- quality measures


def test_quality_of_bad_photos_is_counted_not_dropped(make_dataset: MakeDataset) -> None:
    """Photos that cannot be measured show up as not measured; stats still exits 0 and writes
    nothing under the dataset."""
    deep = io.BytesIO()
    Image.fromarray(np.linspace(0, 65535, 64 * 48).reshape(48, 64).astype(np.uint16)).save(
        deep, "PNG"
    )
    good = jpeg_bytes(photo(9, (400, 300)))
    root = make_dataset(
        2,
        corrupt={
            ("1", View.FRONT): jpeg_bytes(Image.new("RGB", (300, 200), (128, 128, 128))),
            ("1", View.TOP): png_bytes(Image.new("RGB", (1, 1), (0, 0, 0))),
            ("1", View.BACK): deep.getvalue(),
            ("1", View.LEFT): jpeg_bytes(photo(8, (300, 200)).convert("CMYK")),
            ("1", View.RIGHT): good[: len(good) // 2],
        },
    )
    result = hostile(["stats", root, "--json", "-q"], 0, untouched=[root])
    doc = json.loads(result.stdout)
    quality = {(r["view"], r["measure"]): r for r in doc["tables"]["quality"]}
    # Uniform (front) and 1x1 (top): no sharpness, the other measures still there.
    for view in ("front", "top"):
        assert quality[(view, "sharpness")]["not_measured"] == 1
        assert quality[(view, "brightness")]["not_measured"] == 0
    # 16-bit (back) and CMYK (left) are measured after conversion.
    for view in ("back", "left"):
        assert quality[(view, "sharpness")]["not_measured"] == 0
    # Truncated (right): nothing measured, and stats does not pretend otherwise.
    assert all(quality[("right", m)]["not_measured"] == 1 for m in QUALITY_MEASURES)
    assert quality[("all", "sharpness")]["not_measured"] == 3
    grey = {r["view"]: r for r in doc["tables"]["grayscale"]}
    # The uniform grey front and the 16-bit back carry no colour; the truncated right is unjudged.
    assert (grey["front"]["grayscale"], grey["back"]["grayscale"]) == (1, 1)
    assert (grey["left"]["grayscale"], grey["right"]["measured"]) == (0, 1)


def test_quality_table_is_json_safe_when_nothing_is_measured() -> None:
    summary = summarize(hand_made([{"stage": 3, "age": 40}]))  # rows with no measures at all
    rows = by(summary, "quality", "view")
    assert rows["all"]["measured"] == 0 and rows["all"]["median"] is None
    json.dumps(summary.to_dict(), allow_nan=False)
    assert "Photo quality per view" in summary.to_markdown()
