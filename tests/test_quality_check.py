"""Photo quality findings (quality/): calibrated per view, floors, the threshold file, the
calibration view, the report's worst-photos gallery."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from hostile import check, hostile, run
from PIL import Image, ImageFilter

from conftest import MakeDataset, jpeg_bytes, photo, png_bytes
from norwoodkit import dataset, probe
from norwoodkit.cli.schemas import command_schema
from norwoodkit.findings import CODES, Severity
from norwoodkit.labels import View
from norwoodkit.quality.calibration import MIN_PHOTOS
from norwoodkit.quality.thresholds import read_thresholds
from norwoodkit.validate import Report, ValidateOptions, validate

SUBJECTS = MIN_PHOTOS + 4


def quality(report: Report) -> list[tuple[str, str]]:
    return sorted((f.code, f.path or "") for f in report.findings if f.code.startswith("quality"))


def run_validate(root: Path, **opts: Any) -> Report:
    return validate(probe.run(dataset.load(root), workers=1), ValidateOptions(**opts))


def degraded(seed: int, how: str) -> bytes:
    img = photo(seed, (192, 144))
    if how == "blur":
        return jpeg_bytes(img.filter(ImageFilter.GaussianBlur(4)))
    a = np.asarray(img, dtype=np.float64)
    scale = {"dark": 0.12, "bright": 3.0}[how]
    return jpeg_bytes(Image.fromarray(np.clip(a * scale, 0, 255).astype(np.uint8)))


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 subjects of ordinary photos; subject 3's top is blurred, 5's front dark, 7's back
    over-exposed, 9's left grayscale, 11's right a 4:1 strip."""
    from conftest import vendor_record, write_annotation
    from norwoodkit.labels import VENDOR_FILENAMES, VIEWS

    root = tmp_path_factory.mktemp("quality") / "data"
    root.mkdir()
    special = {
        ("3", View.TOP): degraded(31, "blur"),
        ("5", View.FRONT): degraded(50, "dark"),
        ("7", View.BACK): degraded(72, "bright"),
        ("9", View.LEFT): jpeg_bytes(photo(93, (192, 144), mode="L")),
        ("11", View.RIGHT): jpeg_bytes(photo(114, (240, 60))),
    }
    for i in range(1, SUBJECTS + 1):
        (root / str(i)).mkdir()
        for j, v in enumerate(VIEWS):
            data = special.get((str(i), v)) or jpeg_bytes(photo(i * 10 + j, (192, 144)))
            (root / str(i) / VENDOR_FILENAMES[v]).write_bytes(data)
    write_annotation(root, [vendor_record(str(i)) for i in range(1, SUBJECTS + 1)])
    return root


def test_each_planted_problem_is_found_and_nothing_else(planted: Path) -> None:
    assert quality(run_validate(planted)) == [
        ("quality-blurry", "3/Top-Down.jpg"),
        ("quality-bright", "7/Back.jpg"),
        ("quality-dark", "5/Front.jpg"),
        ("quality-grayscale", "9/Left.jpg"),
        ("quality-odd-aspect-ratio", "11/Right.jpg"),
    ]


def test_the_message_names_measure_value_threshold_typical_subject_and_fix(planted: Path) -> None:
    found = {f.code: f for f in run_validate(planted).findings}
    blurry = found["quality-blurry"]
    assert blurry.severity is Severity.WARNING and blurry.subject == "3"
    text = blurry.message
    assert text.startswith("3/Top-Down.jpg: sharpness ")
    assert " is below " in text and " for top views (typical " in text
    assert "subject 3" in text and "retake it in focus" in text
    assert "for front views" in found["quality-dark"].message
    assert "colour" in found["quality-grayscale"].message


def test_quality_warnings_fail_only_with_strict(planted: Path) -> None:
    check(run(["validate", planted, "-q"]), 0)
    check(run(["validate", planted, "-q", "--strict"]), 1)


def test_the_clean_samples_get_no_quality_finding(clean_sample: Path, defect_sample: Path) -> None:
    assert quality(run_validate(clean_sample)) == []
    # The defect sample plants no quality problem, but two of its file defects are one too:
    # the grey photo (mode L) is grayscale among colour ones, the tiny one (size-outlier) an
    # odd size for its view.
    report = run_validate(defect_sample)
    grey = [f.path or "" for f in report.findings if "colour mode L," in f.message]
    small = [f.path or "" for f in report.findings if f.code == "size-outlier"]
    assert grey and small
    assert quality(report) == sorted(
        [*(("quality-grayscale", p) for p in grey), *(("quality-odd-size", p) for p in small)]
    )


def test_a_view_too_small_to_calibrate_uses_the_floors(make_dataset: MakeDataset) -> None:
    noisy = np.random.default_rng(0).normal(6, 3, (72, 96, 3)).clip(0, 255).astype(np.uint8)
    root = make_dataset(3, corrupt={("2", View.BACK): jpeg_bytes(Image.fromarray(noisy))})
    report = run_validate(root)
    [dark] = [f for f in report.findings if f.code == "quality-dark"]
    assert dark.path == "2/Back.jpg"
    assert "(the floor for any photo)" in dark.message
    assert f"only 3 back photos, fewer than {MIN_PHOTOS}" in dark.message
    # ordinary photos in small views pass the floors
    assert [f.path for f in report.findings if f.code.startswith("quality")] == ["2/Back.jpg"]


def scaled(seed: int, factor: float) -> bytes:
    """A photo with every channel multiplied by ``factor`` (an under-exposure), as JPEG."""
    a = np.asarray(photo(seed), dtype=np.float64)
    return jpeg_bytes(Image.fromarray(np.clip(a * factor, 0, 255).astype(np.uint8)))


def dim_fronts(make_dataset: MakeDataset, odd: float) -> Report:
    """Validate 24 subjects whose front photos are all dimmed to x0.6 (typical brightness about
    0.3, near-identical), subject 5's front further to ``odd`` of that."""
    fronts = {(str(i), View.FRONT): scaled(5000 + i, 0.6) for i in range(1, SUBJECTS + 1)}
    fronts[("5", View.FRONT)] = scaled(5005, 0.6 * odd)
    return run_validate(make_dataset(SUBJECTS, corrupt=fronts))


def test_a_photo_at_035_of_its_views_brightness_is_dark(make_dataset: MakeDataset) -> None:
    # About 0.1: above the floor (0.08) and within 0.26 of the median, so only a threshold in
    # stops below the median (at least 1.3 stops: x0.41) finds it.
    report = dim_fronts(make_dataset, 0.35)
    assert quality(report) == [("quality-dark", "5/Front.jpg")]
    [dark] = [f for f in report.findings if f.code == "quality-dark"]
    words = re.search(
        r"brightness (\S+) is below (\S+) for front views \(typical (\S+)\)", dark.message
    )
    assert words, dark.message
    value, threshold, typical = (float(w) for w in words.groups())
    assert value > 0.08 and value / typical < 0.38
    assert threshold == pytest.approx(typical * 2**-1.3, abs=0.01)


def test_the_dark_rule_stays_13_stops_below_a_tight_view(make_dataset: MakeDataset) -> None:
    # The view's spread is tiny, so 4.5 robust SDs alone would sit just under the median.
    assert quality(dim_fronts(make_dataset, 0.8)) == []
    # Half the light also halves the contrast, so sharpness may flag it; dark must not.
    half = dim_fronts(make_dataset, 0.5)
    assert not [f for f in half.findings if f.code == "quality-dark"]


def test_unmeasurable_photos_are_an_info_with_the_note(make_dataset: MakeDataset) -> None:
    root = make_dataset(
        2,
        corrupt={
            ("1", View.TOP): png_bytes(Image.new("RGB", (64, 48), (120, 120, 120))),
            ("2", View.TOP): png_bytes(Image.new("RGB", (2, 2), (10, 200, 30))),
        },
    )
    report = run_validate(root)
    infos = {f.path: f for f in report.findings if f.code == "quality-not-measurable"}
    assert set(infos) == {"1/Top-Down.jpg", "2/Top-Down.jpg"}
    for f in infos.values():
        assert f.severity is Severity.INFO
        assert "sharpness" in f.message and "not measurable (" in f.message
    assert any("uniform" in f.message for f in infos.values())
    assert any("kernel" in f.message for f in infos.values())


# --------------------------------------------------------------------------- threshold file


def test_a_threshold_file_overrides_per_measure_and_per_view(planted: Path, tmp_path: Path) -> None:
    spec = tmp_path / "q.yaml"
    spec.write_text("sharpness: {min: 0.001}\nviews:\n  right: {aspect_ratio: {max: 10}}\n")
    overrides = read_thresholds(spec)
    found = quality(run_validate(planted, quality_thresholds=overrides))
    assert ("quality-blurry", "3/Top-Down.jpg") not in found
    assert ("quality-odd-aspect-ratio", "11/Right.jpg") not in found
    assert ("quality-dark", "5/Front.jpg") in found
    strict = tmp_path / "q.json"
    strict.write_text(json.dumps({"views": {"front": {"brightness": {"min": 0.99}}}}))
    result = run(["validate", planted, "-q", "--json", "--quality-thresholds", strict])
    doc = json.loads(result.stdout)
    dark = [f for f in doc["findings"] if f["code"] == "quality-dark"]
    assert len(dark) == SUBJECTS
    assert "(set in the threshold file)" in dark[0]["message"]


BAD_FILES = [
    ("missing.yaml", None, ["missing.yaml", "no such file", "sharpness: {min: 40}"]),
    ("q.json", '{"sharpness": {"min": 4', ["q.json", "not valid JSON at line 1", "e.g."]),
    ("q.yaml", "sharpness: [min: 4\n", ["q.yaml", "not valid YAML", "e.g."]),
    ("q.yaml", "- 1\n- 2\n", ["q.yaml", "not a mapping", "e.g."]),
    ("q.yaml", "sharpnes: {min: 4}\n", ["'sharpnes'", "not a measure", "sharpness: {min: 40}"]),
    ("q.yaml", "views: {side: {sharpness: {min: 4}}}\n", ["'views.side'", "not a view"]),
    ("q.yaml", "sharpness: {min: high}\n", ["'sharpness.min'", "'high' is not a number"]),
    ("q.yaml", "sharpness: {min: true}\n", ["'sharpness.min'", "is not a number"]),
    ("q.yaml", "brightness: {max: 1.5}\n", ["'brightness.max'", "outside", "0..1"]),
    ("q.yaml", "sharpness: {min: -3}\n", ["'sharpness.min'", "outside", "above 0"]),
    ("q.yaml", "entropy: {max: 3}\n", ["'entropy.max'", "not a side", "entropy: {min: 4.5}"]),
    ("q.yaml", "entropy: 4\n", ["'entropy'", "'min' and/or 'max'"]),
    ("q.yaml", "views: {top: {pixels: {min: .nan}}}\n", ["'views.top.pixels.min'", "outside"]),
]


@pytest.mark.parametrize(("name", "text", "words"), BAD_FILES)
@pytest.mark.parametrize("command", ["validate", "report"])
def test_bad_threshold_files_are_refused_naming_file_and_key(
    clean_sample: Path, tmp_path: Path, command: str, name: str, text: str | None, words: list[str]
) -> None:
    spec = tmp_path / name
    if text is not None:
        spec.write_text(text)
    extra: list[str | os.PathLike[str]] = ["-o", tmp_path / "r.html"] if command == "report" else []
    result = hostile(
        [command, clean_sample, "-q", "--quality-thresholds", spec, *extra],
        2,
        ["--quality-thresholds", *words],
        untouched=[clean_sample],
    )
    assert not (tmp_path / "r.html").exists(), result.stderr


def test_a_threshold_file_that_is_a_folder_or_a_fifo_is_refused(
    clean_sample: Path, tmp_path: Path
) -> None:
    hostile(
        ["validate", clean_sample, "--quality-thresholds", tmp_path],
        2,
        ["not a regular file"],
        untouched=[clean_sample],
    )
    fifo = tmp_path / "q.yaml"
    os.mkfifo(fifo)
    hostile(
        ["validate", clean_sample, "--quality-thresholds", fifo],
        2,
        ["not a regular file"],
        untouched=[clean_sample],
    )


def test_an_empty_threshold_file_changes_nothing(clean_sample: Path, tmp_path: Path) -> None:
    spec = tmp_path / "q.yaml"
    spec.write_text("")
    check(run(["validate", clean_sample, "-q", "--quality-thresholds", spec]), 0)


# --------------------------------------------------------------------------- calibration view


def test_quality_calibrate_prints_histograms_and_json(planted: Path) -> None:
    text = run(["validate", planted, "-q", "--quality-calibrate"])
    check(text, 0)
    assert "sharpness, top: 24 photos, typical" in text.stdout
    assert "T" in text.stdout and "F" in text.stdout and "|" in text.stdout
    result = run(["validate", planted, "-q", "--quality-calibrate", "--json"])
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, command_schema("validate"))
    entries = {(e["view"], e["measure"]): e for e in doc["quality_calibration"]["measures"]}
    top = entries[("top", "sharpness")]
    assert top["photos"] == SUBJECTS and top["calibrated"] is True
    assert sum(top["counts"]) == SUBJECTS and len(top["edges"]) == len(top["counts"]) + 1
    assert top["thresholds"]["min"]["source"] in ("calibrated", "floor")
    assert "quality_calibration" not in json.loads(
        run(["validate", planted, "-q", "--json"]).stdout
    )


def test_every_quality_code_is_in_the_image_group() -> None:
    codes = [c for c in CODES if c.startswith("quality-")]
    assert len(codes) == 8
    assert {CODES[c].check for c in codes} == {"image"}


# --------------------------------------------------------------------------- report gallery


def test_the_report_shows_the_worst_photos(planted: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "r.html"
    check(run(["report", planted, "-o", out, "-q", "--no-dedupe"]), 0)
    page = out.read_text()
    assert '<section id="worst-photos"><h2>Worst photos</h2>' in page
    for heading in ("Least sharp", "Darkest", "Brightest", "Least information"):
        assert f"<h3>{heading}" in page
    gallery = page.split('id="worst-photos"')[1].split("</section>")[0]
    assert "subject 3 · top · sharpness" in gallery and "flagged" in gallery
    assert "subject 5 · front · brightness" in gallery
    assert gallery.count("<img ") == 4 * 8
