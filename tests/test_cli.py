"""The CLI: one test per exit code, --json documents, --junit files, stdout/stderr discipline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from conftest import MakeDataset, snapshot
from norwoodkit.cli import app
from norwoodkit.cli.app import handle_errors
from norwoodkit.labels import View

runner = CliRunner()


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    for command in ("validate", "sample"):
        assert command in result.output


def test_no_args_shows_help() -> None:
    result = runner.invoke(app, [])
    assert "Usage" in result.output


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("norwoodkit ")


def test_the_version_printed_is_the_installed_metadata() -> None:
    """``norwoodkit/_version.py`` is the one place the version is written: the metadata pip
    reads is built from it, and ``--version`` prints it without reading that metadata."""
    from importlib.metadata import version

    import norwoodkit

    assert norwoodkit.__version__ == version("norwoodkit")
    result = subprocess.run(
        [sys.executable, "-m", "norwoodkit", "--version"], capture_output=True, text=True
    )
    assert result.stdout == f"norwoodkit {version('norwoodkit')}\n", result.stderr


def test_exit_0_clean_with_json(make_dataset: MakeDataset) -> None:
    root = make_dataset(2)
    result = runner.invoke(app, ["validate", str(root), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] is True and doc["subjects"] == 2 and doc["images"] == 10
    assert doc["counts"] == {"error": 0, "warning": 0, "info": 0}
    assert doc["findings"] == []


def test_exit_1_on_errors_and_finding_shape(make_dataset: MakeDataset) -> None:
    root = make_dataset(2, missing_view=("2", View.BACK))
    result = runner.invoke(app, ["validate", str(root), "--json"])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] is False and doc["counts"]["error"] == 1
    assert doc["findings"] == [
        {
            "code": "view-missing",
            "severity": "error",
            "subject": "2",
            "path": None,
            "message": doc["findings"][0]["message"],
            "line": None,
        }
    ]
    assert "back view missing" in doc["findings"][0]["message"]


def test_strict_fails_on_warnings(make_dataset: MakeDataset) -> None:
    root = make_dataset(1)
    (root / "1" / "notes.txt").write_text("x")
    assert runner.invoke(app, ["validate", str(root)]).exit_code == 0
    result = runner.invoke(app, ["validate", str(root), "--strict", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["strict"] is True


def test_exit_2_missing_root_names_the_path(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "missing")])
    assert result.exit_code == 2
    assert "error:" in result.stderr and "missing" in result.stderr
    assert result.stdout == ""


def test_exit_2_with_json_prints_an_error_document(make_dataset: MakeDataset) -> None:
    root = make_dataset(1)
    (root / "annotation.json").write_text("{broken")
    result = runner.invoke(app, ["validate", str(root), "--json"])
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc == {
        "schema_version": 1,
        "command": "validate",
        "ok": False,
        "exit_code": 2,
        "error": {"code": "annotation-not-json", "message": doc["error"]["message"]},
    }
    assert "annotation.json" in doc["error"]["message"]


def test_exit_2_bad_field_mapping(make_dataset: MakeDataset) -> None:
    result = runner.invoke(app, ["validate", str(make_dataset(1)), "--field", "label"])
    assert result.exit_code == 2 and "canonical=theirs" in result.stderr


def test_exit_2_usage_error() -> None:
    result = runner.invoke(app, ["validate", "--expect-subjects", "-3", "x"])
    assert result.exit_code == 2
    assert "--expect-subjects" in result.stderr  # the bad value, not the missing folder "x"


def test_exit_3_internal_error_prints_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    @handle_errors
    def broken() -> None:
        raise RuntimeError("boom")

    with pytest.raises(typer.Exit) as exc:
        broken()
    assert exc.value.exit_code == 3
    err = capsys.readouterr().err
    assert "RuntimeError: boom" in err and "bug in norwoodkit" in err


def test_junit_written_atomically_and_missing_folder_refused(
    make_dataset: MakeDataset, tmp_path: Path
) -> None:
    root = make_dataset(1, missing_view=("1", View.TOP))
    out = tmp_path / "report.xml"
    out.write_text("old")
    result = runner.invoke(app, ["validate", str(root), "--junit", str(out)])
    assert result.exit_code == 1
    assert out.read_text().startswith("<?xml") and "view-missing" in out.read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".report")] == []
    result = runner.invoke(app, ["validate", str(root), "--junit", str(tmp_path / "no" / "r.xml")])
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_source_files_never_modified(make_dataset: MakeDataset) -> None:
    root = make_dataset(2, missing_view=("1", View.LEFT))
    before = snapshot(root)
    first = runner.invoke(app, ["validate", str(root), "--json"])
    second = runner.invoke(app, ["validate", str(root), "--json", "--no-cache"])
    # Both runs read every file (and found the missing view), so the unchanged tree means
    # something.
    for result in (first, second):
        assert result.exit_code == 1, result.output
        assert json.loads(result.stdout)["images"] == 9
    assert snapshot(root) == before


def test_sample_command(tmp_path: Path) -> None:
    out = tmp_path / "s"
    result = runner.invoke(
        app, ["sample", str(out), "--subjects", "3", "--size", "tiny", "--json", "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["subjects"] == 3 and doc["images"] == 15 and doc["defects"] == []
    again = runner.invoke(app, ["sample", str(out), "--subjects", "3"])
    assert again.exit_code == 2 and "already exists" in again.stderr
    bad = runner.invoke(app, ["sample", str(tmp_path / "t"), "--size", "huge"])
    assert bad.exit_code == 2 and "--size: 'huge'" in bad.stderr


def test_python_dash_m_and_progress_stays_off_stdout(make_dataset: MakeDataset) -> None:
    root = make_dataset(1)
    proc = subprocess.run(
        [sys.executable, "-m", "norwoodkit", "validate", str(root), "--json"],
        capture_output=True,
        text=True,
        env={**os.environ},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ok"] is True
