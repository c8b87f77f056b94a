"""validate: on a sample with every defect planted it finds exactly those; each check alone."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from conftest import CLEAN_SAMPLE, MakeDataset, jpeg_bytes, photo, png_bytes, vendor_record
from norwoodkit import dataset, probe
from norwoodkit.errors import ParameterError
from norwoodkit.findings import CODES, Severity
from norwoodkit.labels import View
from norwoodkit.sample.defects import bomb_png
from norwoodkit.validate import GROUPS, Report, ValidateOptions, validate


def run(root: Path, **opts: Any) -> Report:
    return validate(probe.run(dataset.load(root), workers=1), ValidateOptions(**opts))


def codes(report: Report) -> list[str]:
    return sorted(f.code for f in report.findings)


def test_defect_sample_finds_every_planted_defect_and_nothing_else(defect_sample: Path) -> None:
    report = run(defect_sample)
    planted = json.loads((defect_sample / "defects.json").read_text())["defects"]
    expected = sorted((d["code"], d["subject"] or "", d["path"] or "") for d in planted)
    found = sorted(
        (f.code, f.subject or "", f.path or "")
        for f in report.findings
        if f.code != "exif-rotated" and not f.code.startswith("quality-")
    )
    assert found == expected  # quality findings: test_quality_check.py
    # Every check validate has is planted, but those that need options (counts), another
    # annotation file (encoding, CSV rows), root's missing permissions (unreadable) or a
    # folder name that cannot be an id: tests elsewhere plant those. Repeated keys, FIFOs and
    # devices, and names that are not UTF-8 are hostile input: test_hostile_annotations plants them.
    assert {d["code"] for d in planted} | {
        "exif-rotated",
        "subject-count",
        "image-count",
        "annotation-encoding",
        "annotation-row-shape",
        "id-invalid",
        "image-unreadable",
        "duplicate-key",
        "special-file",
        "name-not-utf8",
        *(code for code in CODES if code.startswith("quality-")),  # test_quality_check.py
    } == {code for code, info in CODES.items() if info.check in GROUPS}


def test_exif_infos_match_the_files(defect_sample: Path) -> None:
    report = run(defect_sample)
    tagged = set()
    for p in defect_sample.rglob("*.jpg"):
        try:
            with Image.open(p) as im:
                if im.getexif().get(0x0112, 1) != 1:
                    tagged.add(p.relative_to(defect_sample).as_posix())
        except OSError:
            continue
    assert tagged
    assert {f.path for f in report.findings if f.code == "exif-rotated"} == tagged


def test_clean_sample_passes(clean_sample: Path) -> None:
    report = run(clean_sample)
    assert report.ok(strict=True), [f.message for f in report.findings if f.severity != "info"]
    assert {f.code for f in report.findings} <= {"exif-rotated"}
    assert report.subjects == CLEAN_SAMPLE.subjects and report.images == 5 * CLEAN_SAMPLE.subjects


def test_expected_totals(make_dataset: MakeDataset) -> None:
    root = make_dataset(2)
    assert codes(run(root, expect_subjects=2, expect_views=10)) == []
    assert codes(run(root, expect_subjects=3, expect_views=9)) == ["image-count", "subject-count"]


def test_findings_name_file_and_subject(make_dataset: MakeDataset) -> None:
    root = make_dataset(2, corrupt={("2", View.LEFT): b""})
    [f] = run(root).findings
    assert (f.code, f.subject, f.path, f.severity) == (
        "image-empty",
        "2",
        "2/Left.jpg",
        Severity.ERROR,
    )
    assert "2/Left.jpg" in f.message


def test_png_named_jpg_cmyk_and_16bit(make_dataset: MakeDataset) -> None:
    deep = io.BytesIO()
    Image.fromarray(np.arange(64 * 48, dtype=np.uint16).reshape(48, 64) * 20).save(deep, "PNG")
    root = make_dataset(
        1,
        corrupt={
            ("1", View.FRONT): png_bytes(photo(8)),
            ("1", View.BACK): jpeg_bytes(photo(9).convert("CMYK")),
            ("1", View.TOP): deep.getvalue(),
        },
    )
    found = {(f.code, f.path) for f in run(root).findings}
    assert found == {
        ("format-mismatch", "1/Front.jpg"),
        ("mode-not-rgb", "1/Back.jpg"),
        ("format-mismatch", "1/Top-Down.jpg"),
        ("mode-not-rgb", "1/Top-Down.jpg"),
        # the 16-bit image is a smooth ramp: no detail, under the sharpness floor
        ("quality-blurry", "1/Top-Down.jpg"),
    }


def test_truncated_and_bomb(make_dataset: MakeDataset) -> None:
    data = jpeg_bytes(photo(1, (300, 200)))
    root = make_dataset(
        1, corrupt={("1", View.FRONT): data[:900], ("1", View.TOP): bomb_png(20000, 20000)}
    )
    found = {(f.code, f.path) for f in run(root).findings}
    assert ("image-truncated", "1/Front.jpg") in found
    assert ("image-too-large", "1/Top-Down.jpg") in found


def test_ethnicity_variants_and_gender(make_dataset: MakeDataset) -> None:
    recs = [
        vendor_record("1", ethnicity="Caucasians"),
        vendor_record("2", ethnicity="Caucasians"),
        vendor_record("3", ethnicity="caucasian"),
    ]
    recs[1]["gender"] = "M"
    recs[2]["gender"] = "robot"
    report = run(make_dataset(3, records=recs))
    found = {(f.code, f.subject) for f in report.findings}
    assert found == {("ethnicity-variant", "3"), ("gender-unexpected", "3")}


def test_size_outliers_need_enough_images(make_dataset: MakeDataset) -> None:
    small = jpeg_bytes(photo(1, (12, 9)))
    assert codes(run(make_dataset(1, corrupt={("1", View.TOP): small}))) == []
    report = run(make_dataset(3, corrupt={("1", View.TOP): small}))
    assert codes(report) == ["size-outlier"]
    assert "width 12 px vs median 96" in report.findings[0].message


def test_exact_duplicates_cross_and_within(make_dataset: MakeDataset) -> None:
    shared = jpeg_bytes(photo(77))
    root = make_dataset(
        3,
        corrupt={
            ("1", View.FRONT): shared,
            ("3", View.FRONT): shared,
            ("2", View.LEFT): shared,
            ("2", View.RIGHT): shared,
        },
    )
    found = sorted((f.code, f.path) for f in run(root).findings)
    assert found == [
        ("duplicate-bytes-cross-subject", "2/Left.jpg"),
        ("duplicate-bytes-cross-subject", "2/Right.jpg"),
        ("duplicate-bytes-cross-subject", "3/Front.jpg"),
    ]
    within = make_dataset(1, corrupt={("1", View.LEFT): shared, ("1", View.RIGHT): shared})
    assert codes(run(within)) == ["duplicate-bytes-within-subject"]


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"expect_subjects": -1}, "expect_subjects"),
        ({"expect_views": 2.5}, "expect_views"),
        ({"outlier_factor": 1}, "outlier_factor"),
        ({"size_outlier_factor": float("nan")}, "size_outlier_factor"),
        ({"min_images_for_outliers": -3}, "min_images_for_outliers"),
        ({"duplicate_distance": 65}, "duplicate_distance"),
        ({"duplicate_distance": True}, "duplicate_distance"),
    ],
)
def test_bad_options_name_the_parameter(kwargs: dict[str, Any], parameter: str) -> None:
    with pytest.raises(ParameterError) as info:
        ValidateOptions(**kwargs)
    assert info.value.parameter == parameter and info.value.code == "usage"
    assert info.value.message.startswith(f"{parameter}: ")
    assert "--" not in info.value.problem  # a Python caller is not told about CLI flags


def test_options_at_their_limits_are_accepted() -> None:
    opts = ValidateOptions(
        expect_subjects=np.int64(480),  # type: ignore[arg-type]  # a count read from a table
        expect_views=0,
        outlier_factor=1.5,
        size_outlier_factor=2,
        min_images_for_outliers=0,
        duplicate_distance=64,
    )
    assert opts.expect_subjects == 480 and opts.duplicate_distance == 64
