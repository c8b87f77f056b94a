"""stats, report and bench-load driven through the CLI: exit codes, --json documents and the
files each writes, checked against the sample's own annotation, defects.json and image files."""

from __future__ import annotations

import base64
import html
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner, Result

from conftest import CLEAN_SAMPLE
from norwoodkit import dataset, pack, probe
from norwoodkit.cli import app
from norwoodkit.findings import CODES, Severity
from norwoodkit.stats import TABLE_TITLES

runner = CliRunner()


def ok(args: list[str]) -> Result:
    """Run a command that must succeed."""
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result


def could_not_run(args: list[str], *words: str) -> Result:
    """Run a command that must stop with exit 2: one ``error:`` line naming the problem."""
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # handled, not a crash
    assert "Traceback" not in result.output
    assert result.stderr.startswith("error: "), result.stderr
    for word in words:
        assert word in result.stderr, (word, result.stderr)
    return result


def records(root: Path) -> list[dict[str, Any]]:
    doc: list[dict[str, Any]] = json.loads((root / "annotation.json").read_text("utf-8"))
    return doc


def planted(root: Path) -> list[dict[str, Any]]:
    doc: list[dict[str, Any]] = json.loads((root / "defects.json").read_text("utf-8"))["defects"]
    return doc


def section(page: str, sid: str) -> str:
    return page.split(f'<section id="{sid}">')[1].split("</section>")[0]


# --------------------------------------------------------------------------- stats


def test_stats_json_and_files_agree_with_the_annotation(clean_sample: Path, tmp_path: Path) -> None:
    md, csv_dir = tmp_path / "summary.md", tmp_path / "tables"
    result = ok(
        [
            "stats",
            str(clean_sample),
            "--json",
            "--age-bins",
            "18-39,40-80",
            "--markdown",
            str(md),
            "--csv",
            str(csv_dir),
        ]
    )
    doc = json.loads(result.stdout)
    recs = records(clean_sample)
    assert doc["dataset"] == clean_sample.name
    assert doc["facts"]["subjects"] == len(recs) == CLEAN_SAMPLE.subjects
    images = {r["id"]: len(list((clean_sample / r["id"]).glob("*.jpg"))) for r in recs}
    assert doc["facts"]["images"] == sum(images.values())

    stage_of = {r["id"]: r["label"].removeprefix("Stage ") for r in recs}
    tables = doc["tables"]
    got = {r["stage"]: (r["subjects"], r["images"]) for r in tables["stages"] if r["subjects"]}
    want_images: Counter[str] = Counter()
    for sid, n in images.items():
        want_images[stage_of[sid]] += n
    assert got == {s: (n, want_images[s]) for s, n in Counter(stage_of.values()).items()}

    ages = [int(r["age"]) for r in recs]
    bins = {r["age_bin"]: r["subjects"] for r in tables["age_bins"]}
    assert doc["parameters"]["age_bins"] == ["18-39", "40-80"]
    assert bins["18-39"] == sum(18 <= a <= 39 for a in ages)
    assert bins["40-80"] == sum(40 <= a <= 80 for a in ages)
    eth = {r["ethnicity"]: r["subjects"] for r in tables["ethnicity"] if r["subjects"]}
    assert eth == Counter(r["ethnicity"] for r in recs)

    rotated = 0
    for p in clean_sample.rglob("*.jpg"):
        with Image.open(p) as im:
            rotated += im.getexif().get(0x0112, 1) == 6
    turned = {r["orientation"]: r["all"] for r in tables["orientations"]}
    assert rotated and turned["6"] == rotated

    text = md.read_text("utf-8")
    assert text.startswith(f"# Dataset summary: {clean_sample.name}\n")
    assert [line[3:] for line in text.splitlines() if line.startswith("## ")] == [
        "Overview",
        *TABLE_TITLES.values(),
    ]
    assert sorted(p.name for p in csv_dir.iterdir()) == sorted(
        ["facts.csv", *(f"{name}.csv" for name in TABLE_TITLES)]
    )
    stages = pd.read_csv(csv_dir / "stages.csv", dtype={"stage": str})
    assert stages["subjects"].tolist() == [r["subjects"] for r in tables["stages"]]
    facts = pd.read_csv(csv_dir / "facts.csv", keep_default_na=False, dtype=str)
    assert facts.set_index("fact").at["subjects", "value"] == str(CLEAN_SAMPLE.subjects)


def test_stats_prints_every_table(clean_sample: Path) -> None:
    result = ok(["stats", str(clean_sample), "--quiet"])
    for title in ("Overview", *TABLE_TITLES.values()):
        assert title in result.stdout, title
    assert result.stderr == ""


def test_stats_missing_root_is_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    result = could_not_run(["stats", str(missing)], str(missing), "no such folder")
    assert result.stdout == ""
    with_json = runner.invoke(app, ["stats", str(missing), "--json"])
    assert with_json.exit_code == 2
    assert json.loads(with_json.stdout)["error"]["code"] == "root-missing"


# --------------------------------------------------------------------------- report


def test_report_writes_every_section_and_plot(defect_sample: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from norwoodkit.report import PLOT_TITLES

    ids = dataset.load(defect_sample).subjects["subject_id"].astype(str).tolist()
    split_of = {sid: ("train", "val", "test")[i % 3] for i, sid in enumerate(ids)}
    splits = tmp_path / "splits.csv"
    pd.DataFrame({"subject_id": list(split_of), "split": list(split_of.values())}).to_csv(
        splits, index=False
    )
    page, plots = tmp_path / "report.html", tmp_path / "plots"
    args = ["report", str(defect_sample), "--out", str(page), "--plots", str(plots)]
    result = ok([*args, "--splits", str(splits), "--quiet"])

    defects = [d for d in planted(defect_sample) if d["code"] in CODES]
    severity = Counter(CODES[d["code"]].severity for d in defects)
    # two planted file defects are quality warnings too: grey photo (grayscale), tiny one (size)
    severity[Severity.WARNING] += 2
    assert f"{severity[Severity.ERROR]} errors, {severity[Severity.WARNING]} warnings" in (
        result.stdout
    )
    assert str(page) in result.stdout
    text = page.read_text("utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    for sid in ("overview", "stages", "age", "demographics", "images", "contact-sheet"):
        assert f'<section id="{sid}">' in text, sid

    findings = section(text, "findings")
    for d in defects:
        if d["path"] and d["path"] != "annotation.json":
            assert html.escape(d["path"]) in findings, d
    duplicates = section(text, "duplicates")
    pairs = [d for d in defects if d["code"].startswith(("duplicate-bytes", "near-duplicate"))]
    assert len(pairs) == 5
    for d in pairs:
        assert html.escape(d["path"]) in duplicates and html.escape(d["source"]) in duplicates
    leaks = sum(split_of[d["source"].split("/")[0]] != split_of[d["subject"]] for d in pairs)
    assert 0 < leaks < len(pairs)  # the assignment marks some pairs and leaves others
    assert duplicates.count('<div class="pair leak">') == leaks
    assert all(name in section(text, "splits") for name in ("train", "val", "test"))

    assert sorted(p.name for p in plots.iterdir()) == sorted(f"{n}.png" for n in PLOT_TITLES)
    for name in PLOT_TITLES:
        assert base64.b64encode((plots / f"{name}.png").read_bytes()).decode("ascii") in text

    again = tmp_path / "plain.html"
    ok(["report", str(defect_sample), "--out", str(again), "--no-dedupe", "--quiet"])
    plain = again.read_text("utf-8")
    assert '<section id="findings">' in plain
    assert '<section id="duplicates">' not in plain and '<section id="splits">' not in plain


def test_report_missing_root_is_exit_2(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    missing, page = tmp_path / "missing", tmp_path / "report.html"
    result = could_not_run(
        ["report", str(missing), "--out", str(page)], str(missing), "no such folder"
    )
    assert result.stdout == ""
    assert not page.exists()


# --------------------------------------------------------------------------- bench-load


@pytest.fixture(scope="module")
def shards(clean_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The clean sample packed as is (one split, 'all'): stored bytes are the files' bytes."""
    pytest.importorskip("torch")
    out = tmp_path_factory.mktemp("bench") / "shards"
    probed = probe.run(dataset.load(clean_sample), workers=1)
    pack.write(probed, out, pack.PackOptions(shard_size=pack.parse_size("256KiB"), workers=1))
    return out


def test_bench_load_measures_each_batch_size(shards: Path, clean_sample: Path) -> None:
    result = ok(
        [
            "bench-load",
            str(shards),
            "--split",
            "train",
            "--worker-counts",
            "0",
            "--batch-sizes",
            "4,8",
            "--seconds",
            "0.1",
            "--crop",
            "32",
            "--json",
        ]
    )
    rows = json.loads(result.stdout)["results"]
    assert [(r["workers"], r["batch_size"]) for r in rows] == [(0, 4), (0, 8)]
    sizes = [p.stat().st_size for p in clean_sample.rglob("*.jpg")]
    for r in rows:
        assert r["decode"] == "cpu" and r["size"] == [32, 32]
        assert r["images"] > 0 and r["seconds"] >= 0.1
        assert r["images_per_s"] == pytest.approx(r["images"] / r["seconds"], rel=0.01)
        # MB/s over images/s is the mean stored size of the images read: one of the sample's.
        mean_bytes = r["mb_per_s"] * 1e6 / r["images_per_s"]
        assert min(sizes) <= mean_bytes <= max(sizes)


def test_bench_load_prints_a_table(shards: Path) -> None:
    args = ["--split", "train", "--worker-counts", "0", "--batch-sizes", "8", "--seconds", "0.1"]
    result = ok(["bench-load", str(shards), *args, "--crop", "16"])
    assert "images/s" in result.stdout and "MB/s" in result.stdout


def test_bench_load_bad_input_is_exit_2(shards: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    missing = tmp_path / "missing"
    result = could_not_run(["bench-load", str(missing)], str(missing), "no manifest")
    assert result.stdout == ""
    could_not_run(["bench-load", str(shards), "--split", "valid"], "'valid'", "train")
    could_not_run(
        ["bench-load", str(shards), "--split", "train", "--worker-counts", "two"], "--worker-counts"
    )
