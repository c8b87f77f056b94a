"""What a run that does no work imports: ``--help``, ``--version``, completion (issue 15).

Each case runs the real entry point in a fresh interpreter and lists ``sys.modules`` at exit,
so an import anywhere on the path (the package, a command module, a library enum) is caught.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import MakeDataset
from norwoodkit.cli import app, commands

#: The data and model stack: each costs a noticeable share of a second to import.
HEAVY = (
    "pandas",
    "pyarrow",
    "PIL",
    "numpy",
    "torch",
    "matplotlib",
    "huggingface_hub",
    "datasets",
    "scipy",
    "ray",
)

# Runs ``norwoodkit ARGS`` as the console script does and writes the loaded modules to a file.
_WRAPPER = """
import json, sys
listing, *args = sys.argv[1:]
sys.argv = ["norwoodkit", *args]
from norwoodkit.cli import main
try:
    main()
except SystemExit:
    pass
with open(listing, "w") as f:
    json.dump(sorted(sys.modules), f)
"""

COMMANDS = sorted(
    c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands if c.callback
)


def _run(
    tmp_path: Path, args: list[str], env: dict[str, str] | None = None
) -> tuple[str, set[str]]:
    """``norwoodkit ARGS`` in a fresh interpreter: its stdout and the top-level modules loaded."""
    listing = tmp_path / "modules.json"
    result = subprocess.run(
        [sys.executable, "-c", _WRAPPER, str(listing), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    modules = json.loads(listing.read_text())
    return result.stdout, {m.split(".")[0] for m in modules}


def _heavy(modules: set[str]) -> list[str]:
    return sorted(modules.intersection(HEAVY))


def test_commands_found() -> None:
    """The parametrised cases below cover real commands (an empty list would test nothing)."""
    assert {"validate", "dedupe", "pack", "verify", "sample"} <= set(COMMANDS)


def test_help_imports_nothing_heavy(tmp_path: Path) -> None:
    """``norwoodkit --help`` lists every command without the data stack."""
    stdout, modules = _run(tmp_path, ["--help"])
    assert "validate" in stdout and "pack" in stdout
    assert _heavy(modules) == []


def test_version_imports_nothing_heavy(tmp_path: Path) -> None:
    """``norwoodkit --version`` prints the version without the data stack."""
    stdout, modules = _run(tmp_path, ["--version"])
    assert stdout.startswith("norwoodkit ")
    assert _heavy(modules) == []


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help_imports_nothing_heavy(tmp_path: Path, command: str) -> None:
    """``norwoodkit COMMAND --help`` shows its options (library enums included) without them."""
    stdout, modules = _run(tmp_path, [command, "--help"])
    assert "--help" in stdout
    assert _heavy(modules) == []


@pytest.mark.parametrize(
    ("words", "expected"),
    [("norwoodkit ", "validate"), ("norwoodkit pack --lay", "--layout")],
)
def test_completion_imports_nothing_heavy(tmp_path: Path, words: str, expected: str) -> None:
    """Shell completion (what bash runs on every Tab) answers without the data stack."""
    env = {
        "_NORWOODKIT_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split(" ")) - 1),
    }
    stdout, modules = _run(tmp_path, [], env)
    assert expected in stdout
    assert _heavy(modules) == []


def test_show_completion_imports_nothing_heavy(tmp_path: Path) -> None:
    """``--show-completion`` prints the script without the data stack."""
    listing = tmp_path / "modules.json"
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("needs bash: Typer names the shell from the process tree")
    # Run from bash (``; exit $?`` keeps bash as the parent), as a user does: Typer looks for
    # the shell among the parents, and what ran pytest may not be one.
    command = " ".join(shlex.quote(a) for a in [sys.executable, "-c", _WRAPPER, str(listing)])
    result = subprocess.run(
        [bash, "-c", f"{command} --show-completion; exit $?"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    stdout = result.stdout
    modules = {m.split(".")[0] for m in json.loads(listing.read_text())}
    assert "complete_bash" in stdout and "norwoodkit" in stdout
    assert _heavy(modules) == []


def test_a_real_command_still_loads_the_stack(tmp_path: Path) -> None:
    """The wrapper sees imports at all: a command that reads a dataset does load pandas."""
    root = tmp_path / "empty"
    root.mkdir()
    listing = tmp_path / "modules.json"
    subprocess.run(
        [sys.executable, "-c", _WRAPPER, str(listing), "validate", str(root), "--no-cache"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    modules = {m.split(".")[0] for m in json.loads(listing.read_text())}
    assert "pandas" in modules


def test_the_local_engine_never_imports_ray(tmp_path: Path, make_dataset: MakeDataset) -> None:
    """A command that probes and packs on the local engine (the default, or named) never
    imports Ray: only ``engine.connect`` does, under ``--engine ray``."""
    root = make_dataset(3)
    for args in (
        ["validate", str(root), "--no-cache"],
        ["pack", str(root), "--out", str(tmp_path / "out"), "--engine", "local", "--no-cache"],
    ):
        modules = _all_modules(tmp_path, args)
        assert "pandas" in modules, args  # the command did run
        assert not {m for m in modules if m.split(".")[0] == "ray"}, args


def test_version_to_a_reader_gone(tmp_path: Path) -> None:
    """``--version`` into a pipe whose reader is gone: exit 0, nothing on stderr (the contract)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "norwoodkit", "--version"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_version_with_stdout_closed(tmp_path: Path) -> None:
    """``norwoodkit --version >&-``: exit 0, nothing on stderr."""
    done = subprocess.run(
        ["bash", "-c", '"$@" >&-', "bash", sys.executable, "-m", "norwoodkit", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_version_fast_path_says_what_the_app_says() -> None:
    """The line ``main`` prints without the app is the one the app's ``--version`` prints."""
    fast = subprocess.run(
        [sys.executable, "-m", "norwoodkit", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    full = CliRunner().invoke(app, ["--version"])
    assert fast.returncode == 0 and full.exit_code == 0
    assert fast.stdout.startswith("norwoodkit ")
    assert fast.stdout == full.stdout


_SHADOWED = """
import types
import norwoodkit.cli.options, norwoodkit.pack.folder, norwoodkit.pack.write, norwoodkit.pack.verify
import norwoodkit.cli, norwoodkit.pack
from norwoodkit.cli import app
from norwoodkit.pack import croissant, plan, verify, write
for name, value in [("app", app), ("croissant", croissant), ("plan", plan), ("verify", verify),
                    ("write", write)]:
    assert not isinstance(value, types.ModuleType), name
assert type(app).__name__ == "Typer"
assert norwoodkit.pack.plan is plan and norwoodkit.cli.app is app
print("ok")
"""


def test_lazy_names_stay_functions_when_their_submodules_load() -> None:
    """``pack.plan`` is the function and ``cli.app`` the app, even when the submodule of the same
    name was loaded first (it binds itself on the package; the eager imports used to rebind)."""
    done = subprocess.run(
        [sys.executable, "-c", _SHADOWED], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


#: Each command's own module; a run imports its command's and no other (the lazy group).
_COMMAND_MODULES = {name: module for name, (module, _) in commands.TABLE.items()}


def _all_modules(tmp_path: Path, args: list[str]) -> set[str]:
    """``norwoodkit ARGS`` in a fresh interpreter: every module it loaded, by full name."""
    listing = tmp_path / "modules.json"
    subprocess.run(
        [sys.executable, "-c", _WRAPPER, str(listing), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return set(json.loads(listing.read_text()))


def test_the_command_table_lists_every_command() -> None:
    """The lazy group's table and the Typer app agree, in ``--help`` order."""
    registered = [
        c.name or c.callback.__name__.replace("_", "-")
        for c in app.registered_commands
        if c.callback
    ]
    assert list(_COMMAND_MODULES) == registered


def test_validate_imports_no_other_command(make_dataset: MakeDataset, tmp_path: Path) -> None:
    """``norwoodkit validate ...`` builds validate alone: no other command's module is imported."""
    root = make_dataset(subjects=2)
    modules = _all_modules(tmp_path, ["validate", str(root), "--no-cache", "--json", "--quiet"])
    assert "norwoodkit.cli.validate" in modules and "pandas" in modules  # the work ran
    others = {m for c, m in _COMMAND_MODULES.items() if m != _COMMAND_MODULES["validate"]}
    assert sorted(modules & others) == []


@pytest.mark.parametrize("command", ["dedupe", "stats", "sample"])
def test_a_command_help_imports_only_that_command(tmp_path: Path, command: str) -> None:
    """``norwoodkit COMMAND --help`` imports that command's module and no other's."""
    modules = _all_modules(tmp_path, [command, "--help"])
    assert _COMMAND_MODULES[command] in modules
    others = {m for m in _COMMAND_MODULES.values() if m != _COMMAND_MODULES[command]}
    assert sorted(modules & others) == []
