"""Reporting for CI: JUnit XML on every gate, GitHub annotations, SARIF, --min-severity, and
tables that fit 80 columns. Real datasets, real packs, real files read back with junitparser."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import junitparser
import pytest
from hostile import check, hostile, run

from conftest import MakeDataset, vendor_record
from norwoodkit.findings import CODES, Severity, finding
from norwoodkit.labels import View
from norwoodkit.reporting import Gate, Outcome, github_annotations
from norwoodkit.validate import GROUPS

# --------------------------------------------------------------------------- helpers


def junit(path: Path) -> ET.Element:
    """The JUnit file, parsed by junitparser and checked against the XSD's conventions.

    ``testsuites`` > ``testsuite`` > ``testcase`` with at most one ``failure`` and nothing but
    ``failure``/``system-out`` inside; ``tests`` and ``failures`` add up on both levels.
    """
    xml = junitparser.JUnitXml.fromfile(str(path))
    suites = list(xml)
    assert len(suites) == 1
    cases = list(suites[0])
    failed = [c for c in cases if any(isinstance(r, junitparser.Failure) for r in c.result)]
    assert suites[0].tests == len(cases) and suites[0].failures == len(failed)
    assert suites[0].errors == 0 and suites[0].skipped == 0

    root = ET.parse(path).getroot()
    assert root.tag == "testsuites" and [s.tag for s in root] == ["testsuite"]
    suite = root[0]
    assert all(c.tag == "testcase" for c in suite)
    for case in suite:
        assert {child.tag for child in case} <= {"failure", "system-out"}
        assert len(case.findall("failure")) <= 1
        assert case.get("classname", "").endswith("." + case.get("name", "").split("[")[0])
    for element in (root, suite):
        assert int(element.get("tests", "-1")) == len(cases)
        assert int(element.get("failures", "-1")) == len(failed)
    return suite


def failing(suite: ET.Element) -> list[ET.Element]:
    return [c for c in suite if c.find("failure") is not None]


def failure_type(case: ET.Element) -> str:
    failure = case.find("failure")
    assert failure is not None
    return failure.get("type", "")


def findings_of(args: list[Any]) -> list[dict[str, Any]]:
    result = run([*args, "--json"])
    doc: dict[str, Any] = json.loads(result.stdout)
    return list(doc["findings"])


def gate(*outcomes: Outcome, root: str = "data") -> Gate:
    return Gate("validate", Path(root), GROUPS, ("1", "2"), outcomes)


# --------------------------------------------------------------------------- JUnit


def test_validate_junit_has_only_the_checks_that_ran(defect_sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "v.xml"
    check(run(["validate", defect_sample, "--junit", out, "-q"]), 1)
    suite = junit(out)
    subjects = {c.get("name", "").split("[")[1].rstrip("]") for c in suite}
    groups = {c.get("classname", "").rsplit(".", 1)[1] for c in suite}
    # No pack, split or verify case: validate never runs those checks.
    assert groups == set(GROUPS)
    assert len(suite) == len(subjects) * len(GROUPS)
    # Every group validate declares can fail: the defect sample fails each of them.
    assert {c.get("classname", "").rsplit(".", 1)[1] for c in failing(suite)} == set(GROUPS)
    # Every code validate found belongs to a declared group.
    found = findings_of(["validate", defect_sample, "-q"])
    assert {CODES[f["code"]].check for f in found} <= set(GROUPS)
    assert len(failing(suite)) == len(
        {
            (CODES[f["code"]].check, f["subject"] if f["subject"] in subjects else "dataset")
            for f in found
            if f["severity"] == "error"
        }
    )


def test_junit_failures_name_the_file(defect_sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "v.xml"
    run(["validate", defect_sample, "--junit", out, "-q"])
    named = [c for c in failing(junit(out)) if c.get("file") is not None]
    assert len(named) > 10
    for case in named:
        file = case.get("file", "")
        assert not file.startswith("/") and ".." not in file.split("/")
        assert os.path.lexists(defect_sample / file) or file.endswith(".json"), file


def test_junit_line_of_a_csv_annotation_finding(make_dataset: MakeDataset, tmp_path: Path) -> None:
    records = [vendor_record("1"), vendor_record("2", stage="Stage 9"), vendor_record("3")]
    root = make_dataset(3, shape="csv", records=records)
    out, sarif = tmp_path / "v.xml", tmp_path / "v.sarif"
    result = run(["validate", root, "--junit", out, "--sarif", sarif, "--format", "github"])
    check(result, 1)
    (case,) = failing(junit(out))
    assert (case.get("name"), case.get("file"), case.get("line")) == (
        "labels[2]",
        "annotation.csv",
        "3",
    )
    assert f"::error file={root.as_posix()}/annotation.csv,line=3,title=stage-out-of-range::" in (
        result.stdout
    )
    (res,) = json.loads(sarif.read_text())["runs"][0]["results"]
    location = res["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "annotation.csv", "uriBaseId": "ROOT"}
    assert location["region"] == {"startLine": 3}


def test_dedupe_junit_fails_only_what_fail_on_counts(defect_sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "d.xml"
    args: list[str | Path] = ["dedupe", defect_sample, "--junit", out, "-q"]
    check(run([*args, "--fail-on", "cross-subject"]), 1)
    suite = junit(out)
    bad = failing(suite)
    assert bad and all(failure_type(c).endswith("cross-subject") for c in bad)
    assert all((defect_sample / c.get("file", "")).is_file() for c in bad)
    assert {c.get("classname") for c in suite} == {"norwoodkit.dedupe.duplicates"}
    # Without --fail-on nothing fails: the pairs are listed, not failed.
    check(run(args), 0)
    suite = junit(out)
    assert failing(suite) == [] and any(c.find("system-out") is not None for c in suite)


def test_split_check_junit_and_strict_targets(make_dataset: MakeDataset, tmp_path: Path) -> None:
    root = make_dataset(4)
    splits = tmp_path / "splits.csv"
    splits.write_text("subject_id,split\n1,train\n1,test\n2,train\n3,test\n4,test\n")
    out, sarif = tmp_path / "c.xml", tmp_path / "c.sarif"
    check(run(["split", root, "--check", splits, "--junit", out, "--sarif", sarif]), 1)
    suite = junit(out)
    assert {c.get("classname") for c in suite} == {"norwoodkit.split.split"}
    (case,) = [c for c in failing(suite) if c.get("name") == "split[1]"]
    assert case.get("file") == splits.as_posix()
    assert failure_type(case) == "split-subject-in-two-splits"
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    assert any(r["ruleId"] == "split-subject-in-two-splits" for r in results)

    made = tmp_path / "made.csv"
    args: list[str | Path] = ["split", make_dataset(14), "--out", made, "--ratios", "50,50"]
    args.append("--strict")
    check(run([*args, "--junit", out, "-q"]), 0)
    suite = junit(out)
    names = [c.get("name") for c in suite]
    assert names == ["split-sizes[dataset]", "split-balance[dataset]"]


def test_verify_junit_one_case_per_shard(clean_sample: Path, tmp_path: Path) -> None:
    packed = tmp_path / "packed"
    check(run(["pack", clean_sample, "--out", packed, "--shard-size", "1MiB", "-q"]), 0)
    manifest = json.loads((packed / "manifest.json").read_text())
    shards = [s["path"] for split in manifest["splits"].values() for s in split["shards"]]
    out = tmp_path / "verify.xml"
    check(run(["verify", packed, "--junit", out, "-q"]), 0)
    suite = junit(out)
    assert [c.get("name") for c in suite] == [f"verify[{s}]" for s in ["dataset", *shards]]
    assert failing(suite) == []
    shard = packed / shards[-1]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    result = run(["verify", packed, "--junit", out, "--format", "github", "-q"])
    check(result, 1)
    (case,) = failing(junit(out))
    assert case.get("name") == f"verify[{shards[-1]}]" and case.get("file") == shards[-1]
    assert f"::error file={packed.as_posix()}/{shards[-1]},title=shard-hash::" in result.stdout


@pytest.mark.parametrize("option", ["--junit", "--sarif"])
def test_reports_never_written_into_the_dataset(make_dataset: MakeDataset, option: str) -> None:
    root = make_dataset(1)
    commands: list[list[str | Path]] = [
        ["validate"],
        ["dedupe"],
        ["split", "--check", root / "annotation.json"],
    ]
    for command in commands:
        hostile(
            [command[0], root, *command[1:], option, root / "r.xml"],
            2,
            [option, "inside the dataset folder"],
            untouched=[root],
        )


# --------------------------------------------------------------------------- GitHub


def test_github_escapes_message_and_properties() -> None:
    f = finding(
        "image-empty", "50% done\r\nnext: a, b", subject="1", path="1/a,b:c%.jpg", line=None
    )
    (line,) = github_annotations(gate(Outcome(f, True)))
    assert line == (
        "::error file=data/1/a%2Cb%3Ac%25.jpg,title=image-empty::50%25 done%0D%0Anext: a, b"
    )


def test_github_levels_follow_the_gate_and_min_severity() -> None:
    err = Outcome(finding("image-empty", "e", subject="1", path="1/x.jpg"), True)
    warn = Outcome(finding("extra-image", "w", subject="1", path="1/y.jpg"), False)
    note = Outcome(finding("exif-rotated", "i", subject="2", path="2/z.jpg"), False)
    strict_warn = Outcome(finding("extra-image", "s", subject="2", path="2/w.jpg"), True)
    g = gate(err, warn, note, strict_warn)
    levels = [line.split(" ", 1)[0] for line in github_annotations(g, Severity.INFO)]
    assert levels == ["::error", "::warning", "::notice", "::error"]
    assert len(github_annotations(g)) == 3  # the info is hidden at the default
    # A failing warning is shown even when only errors are asked for.
    assert len(github_annotations(g, Severity.ERROR)) == 2


def test_github_format_env_switch_and_json(
    defect_sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NORWOODKIT_FORMAT", "github")
    result = run(["validate", defect_sample, "-q"])
    check(result, 1)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("::error ") and "┃" not in result.stdout
    assert lines[-1].startswith("FAILED:")
    # The option wins over the environment.
    result = run(["validate", defect_sample, "-q", "--format", "text"])
    assert "::error" not in result.stdout and "┃" in result.stdout
    # With --json, stdout holds the document alone; the annotations go to stderr.
    result = run(["validate", defect_sample, "-q", "--json"])
    doc = json.loads(result.stdout)
    errors = sum(1 for f in doc["findings"] if f["severity"] == "error")
    assert sum(1 for x in result.stderr.splitlines() if x.startswith("::error ")) == errors


def test_unknown_format_is_refused(
    make_dataset: MakeDataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_dataset(1)
    check(run(["validate", root, "--format", "xml"]), 2, ["--format"])
    monkeypatch.setenv("NORWOODKIT_FORMAT", "gitlab")
    check(run(["validate", root]), 2, ["--format"], where="stderr")


# --------------------------------------------------------------------------- SARIF


def test_sarif_is_structurally_valid(defect_sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "v.sarif"
    run(["validate", defect_sample, "--sarif", out, "-q"])
    log = json.loads(out.read_text(encoding="utf-8"))
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    (run_,) = log["runs"]
    rules = run_["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids)) and all(r["shortDescription"]["text"] for r in rules)
    assert run_["originalUriBaseIds"]["ROOT"]["uri"].startswith("file:///")
    assert run_["originalUriBaseIds"]["ROOT"]["uri"].endswith("/")
    found = findings_of(["validate", defect_sample, "-q"])
    assert len(run_["results"]) == len(found)  # every severity, whatever --min-severity
    for res in run_["results"]:
        assert ids[res["ruleIndex"]] == res["ruleId"] and res["level"] in (
            "error",
            "warning",
            "note",
        )
        assert res["message"]["text"]
        for loc in res.get("locations", []):
            art = loc["physicalLocation"]["artifactLocation"]
            assert not art["uri"].startswith("/") and art.get("uriBaseId") == "ROOT"
            region = loc["physicalLocation"].get("region")
            assert region is None or region["startLine"] >= 1
    assert sum(1 for r in run_["results"] if "locations" in r) > 10


# --------------------------------------------------------------------------- terminal view


def test_min_severity_hides_infos_but_not_in_json(clean_sample: Path) -> None:
    doc = json.loads(run(["validate", clean_sample, "-q", "--json"]).stdout)
    infos = doc["counts"]["info"]
    assert infos > 0 and doc["counts"]["error"] == doc["counts"]["warning"] == 0
    assert len(doc["findings"]) == infos  # JSON keeps everything
    default = run(["validate", clean_sample, "-q"])
    check(default, 0)
    assert "exif-rotated" not in default.stdout
    assert f"{infos} not shown (--min-severity info shows them)" in default.stdout
    shown = run(["validate", clean_sample, "-q", "--min-severity", "info"])
    assert shown.stdout.count("exif-rotated") == infos and "not shown" not in shown.stdout


def test_min_severity_never_hides_a_failing_finding(make_dataset: MakeDataset) -> None:
    root = make_dataset(1)
    (root / "1" / "notes.txt").write_text("x")
    result = run(["validate", root, "--strict", "--min-severity", "error"])
    check(result, 1)
    assert "unexpected-file" in result.stdout


def test_table_fits_80_columns_without_breaking_words(defect_sample: Path, tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "80", "PYTHONPATH": os.pathsep.join(sys.path)}
    args = [sys.executable, "-m", "norwoodkit", "validate", str(defect_sample), "-q"]
    args += ["--min-severity", "info", "--workers", "1"]
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    cells = {cell.strip() for line in lines for cell in line.split("│")}
    for f in findings_of(["validate", defect_sample, "-q"]):
        assert f["code"] in cells, f["code"]  # whole, in one cell
        assert f["subject"] is None or f["subject"] in cells


def test_findings_table_shows_brackets_in_messages(make_dataset: MakeDataset) -> None:
    root = make_dataset(1, missing_view=("1", View.TOP))
    (root / "1" / "[bold]x.txt").write_text("x")
    result = run(["validate", root, "--min-severity", "info"])
    assert "[bold]x.txt" in result.stdout
