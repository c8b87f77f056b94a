"""Every command's help ends with examples; docs/cli.md shows the same ones, and each runs as
written with the exit code its comment promises."""

from __future__ import annotations

import importlib.util
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from norwoodkit.cli import app
from norwoodkit.cli.examples import EXAMPLES, block

DOCS = Path(__file__).resolve().parent.parent / "docs"
COMMANDS: dict[str, Any] = getattr(typer.main.get_command(app), "commands", {})
#: The extra a command needs, by the module it imports; without it the command exits 2.
EXTRAS = {"bench-load": ("torch", "torch"), "report": ("matplotlib", "report")}
runner = CliRunner()


def test_every_command_has_examples() -> None:
    assert {e.command for e in EXAMPLES} == set(COMMANDS)
    assert all(e.line.startswith(f"norwoodkit {e.command} ") for e in EXAMPLES)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_docs_show_the_same_examples(command: str) -> None:
    cli_md = (DOCS / "cli.md").read_text()
    section = cli_md.split(f"\n## `norwoodkit {command}")[1].split("\n## ")[0]
    assert block(command) in section


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_ends_with_the_examples(command: str) -> None:
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = result.stdout
    for example in (e for e in EXAMPLES if e.command == command):
        assert example.line in text
        assert f"# exit {example.exit_code}: {example.says}" in text


def test_every_example_runs_and_exits_as_documented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In order, in an empty folder: the sample lines make the datasets the others read."""
    monkeypatch.chdir(tmp_path)
    wrong = []
    for example in EXAMPLES:
        module, extra = EXTRAS.get(example.command, ("", ""))
        missing = bool(module) and importlib.util.find_spec(module) is None
        # Without its extra a command stops at once, naming what to install.
        expected = 2 if missing else example.exit_code
        result = runner.invoke(app, shlex.split(example.line)[1:])
        if result.exit_code != expected or "Traceback" in result.output:
            wrong.append(f"{example.line}: exit {result.exit_code}\n{result.output[-2000:]}")
        elif missing:
            assert f"pip install 'norwoodkit[{extra}]'" in result.stderr
    assert not wrong, "\n\n".join(wrong)
    assert (tmp_path / "shards" / "manifest.json").is_file()
    assert (tmp_path / "report.html").is_file() or importlib.util.find_spec("matplotlib") is None


def test_the_readme_lists_every_command() -> None:
    readme = (DOCS.parent / "README.md").read_text()
    table = readme.split("\n## Commands\n")[1].split("\n## ")[0]
    for command in COMMANDS:
        assert f"\n| `{command} " in table, command
