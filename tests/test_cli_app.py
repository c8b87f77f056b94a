"""The CLI's shared layer: parameters shown as flags, the source options declared once."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import MakeDataset
from norwoodkit.cli import app
from norwoodkit.cli.app import flag
from norwoodkit.errors import NorwoodkitError, OutputError, ParameterError

runner = CliRunner()

DATASET_COMMANDS = ("validate", "dedupe", "split", "pack", "stats", "report")
SOURCE_FLAGS = ("--annotations", "--field", "--cache", "--no-cache", "--workers")


@pytest.mark.parametrize(
    ("parameter", "expected"),
    [
        ("same", "--same"),
        ("shard_size", "--shard-size"),
        ("fields", "--field"),
        ("cache_dir", "--cache"),
    ],
)
def test_flag_of_a_parameter(parameter: str, expected: str) -> None:
    assert flag(parameter) == expected


def test_parameter_error_speaks_python_and_cli() -> None:
    exc = ParameterError("shard_size", "'12x' is not a size; write e.g. 128MiB")
    assert str(exc) == "shard_size: '12x' is not a size; write e.g. 128MiB"
    assert exc.for_flag("--shard-size") == "--shard-size: '12x' is not a size; write e.g. 128MiB"
    assert isinstance(exc, ValueError) and exc.code == "usage"
    plain = NorwoodkitError("no such folder")
    assert plain.for_flag("--x") == "no such folder"
    out = OutputError("a.csv: is a folder", parameter="pairs", code="output-is-folder")
    assert out.message == "pairs: a.csv: is a folder"


@pytest.mark.parametrize("command", DATASET_COMMANDS)
def test_every_dataset_command_has_the_source_options(command: str) -> None:
    from norwoodkit import cli

    fn = {c.callback.__name__: c.callback for c in app.registered_commands if c.callback}[command]
    params = inspect.signature(fn).parameters
    assert next(iter(params)) == "root"
    assert {"annotations", "field", "cache", "no_cache", "workers"} <= set(params)
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for option in SOURCE_FLAGS:
        assert option in result.output, (command, option)
    assert cli.main is not None


def test_a_bad_field_map_names_the_flag(make_dataset: MakeDataset) -> None:
    root = make_dataset(subjects=1)
    result = runner.invoke(app, ["stats", str(root), "--field", "label", "--json"])
    assert result.exit_code == 2, result.output
    doc = json.loads(result.stdout)
    assert doc["error"]["message"].startswith("--field: 'label'")
    assert "error: --field: 'label': write canonical=theirs" in result.stderr
    assert "Traceback" not in result.output


def test_a_library_parameter_error_reaches_the_user_as_its_flag(make_dataset: MakeDataset) -> None:
    root = make_dataset(subjects=1)
    result = runner.invoke(app, ["bench-load", str(root), "--worker-counts", "0,,2"])
    assert result.exit_code == 2, result.output
    assert "error: --worker-counts: '0,,2' has an empty item" in result.stderr


def test_brackets_in_a_message_are_printed_as_written() -> None:
    from norwoodkit.cli.app import handle_errors

    @handle_errors
    def needs_extra() -> None:
        raise NorwoodkitError("install it: pip install 'norwoodkit[report]'")

    import typer

    t = typer.Typer()
    t.command()(needs_extra)
    result = runner.invoke(t, [])
    assert result.exit_code == 2
    assert "pip install 'norwoodkit[report]'" in result.stderr


def test_a_library_warning_about_a_parameter_names_the_flag(make_dataset: MakeDataset) -> None:
    root = make_dataset(subjects=2)
    result = runner.invoke(app, ["dedupe", str(root), "--near", "20", "--json"])
    assert result.exit_code == 0, result.output
    assert "warning: --near: 20 bits is above about 16" in result.stderr
    assert json.loads(result.stdout)["thresholds"]["near"] == 20


def test_the_library_warning_speaks_python(make_dataset: MakeDataset, caplog: Any) -> None:
    from norwoodkit import DatasetSource
    from norwoodkit.dedupe import DedupeOptions, find

    probed = DatasetSource(make_dataset(subjects=2), use_cache=False, workers=1).open()
    with caplog.at_level("WARNING", logger="norwoodkit"):
        find(probed, DedupeOptions(near=20))
    assert any(r.getMessage().startswith("near: 20 bits") for r in caplog.records)


# ``norwoodkit ARGS`` as the console script runs it: the bare app, commands built when looked up.
_SCRIPT = "import sys; from norwoodkit.cli import main; sys.argv[0] = 'norwoodkit'; main()"


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["validate", "--help"],
        ["valdate", "data", "--json"],  # a mistyped command: "Did you mean 'validate'?"
        ["stats", "--json"],  # a usage error inside a command, one JSON document
        ["split", "missing-folder", "--dedupe", "p.csv", "--json"],  # an old spelling warns
    ],
)
def test_the_script_says_what_the_app_says(args: list[str], tmp_path: Path) -> None:
    """The script builds only the command it runs; it prints what the app with every command
    on it prints, byte for byte, exit code included."""
    env = {**os.environ, "COLUMNS": "100", "NORWOODKIT_CACHE_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        full = runner.invoke(app, args, env={"COLUMNS": "100"})
    assert (done.returncode, done.stdout, done.stderr) == (
        full.exit_code,
        full.stdout,
        full.stderr,
    )
    assert "Traceback" not in done.stderr
