"""The docs stay true: every command, option, column and finding code is documented."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
import typer.main

from norwoodkit.cli import app
from norwoodkit.columns import ALL_COLUMNS
from norwoodkit.findings import CODES

DOCS = Path(__file__).resolve().parent.parent / "docs"
COMMANDS = typer.main.get_command(app)
SUBCOMMANDS = getattr(COMMANDS, "commands", {})


def test_commands_are_found() -> None:
    assert {"validate", "sample"} <= set(SUBCOMMANDS)


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_every_command_has_help_and_a_section(name: str) -> None:
    command = SUBCOMMANDS[name]
    assert command.help, f"{name} has no help text"
    cli_md = (DOCS / "cli.md").read_text()
    assert f"\n## `norwoodkit {name}" in cli_md
    section = cli_md.split(f"\n## `norwoodkit {name}")[1].split("\n## ")[0]
    for param in command.params:
        if param.param_type_name == "option":
            assert any(opt in section or f"`{opt}`" in cli_md for opt in param.opts), (
                f"{name}: option {param.opts[0]} is not in docs/cli.md"
            )
    assert "Python equivalent" in section


def test_every_column_and_code_is_in_formats() -> None:
    formats = (DOCS / "formats.md").read_text()
    for column in ALL_COLUMNS:
        assert f"| `{column.name}` |" in formats, column.name
    for code in CODES:
        assert f"| `{code}` |" in formats, code


def test_architecture_lists_every_module() -> None:
    """Every module, in the package and in its sub-packages, has its line in the map."""
    arch = (DOCS / "architecture.md").read_text()
    package = DOCS.parent / "norwoodkit"
    for module in sorted(package.rglob("*.py")):
        rel = module.relative_to(package).as_posix()
        if rel.endswith("/__init__.py"):  # a package: its folder's row, or its __init__'s
            folder = rel.removesuffix("__init__.py")
            names: tuple[str, ...] = (rel, folder)
        else:
            names = (rel,)
        assert any(f"`{n}`" in arch or f"`norwoodkit/{n}`" in arch for n in names), rel
