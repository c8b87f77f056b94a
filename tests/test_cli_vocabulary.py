"""One vocabulary for options: renamed flags keep their old spelling for a release (with a
warning on stderr), one name has one type everywhere, help without noise, shell completion, and
install hints printed whole."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.core import TyperOption
from typer.testing import CliRunner, Result

from norwoodkit.cli import app
from norwoodkit.cli.vocabulary import RENAMES, modernise

DOCS = Path(__file__).resolve().parent.parent / "docs"
GROUP = typer.main.get_command(app)
COMMANDS: dict[str, Any] = getattr(GROUP, "commands", {})
runner = CliRunner()

# (command, old spelling) -> a command line using it: {flag} is the spelling under test; the
# rest are paths from the fixtures. Every rename in RENAMES has one (a test checks).
LINES = {
    ("validate", "--expect-views"): "validate {data} {flag} 150 --json",
    ("split", "--dedupe"): "split {bad} --stratify age_bin -o {out}/s.csv {flag} {pairs} --json",
    ("split", "--exclude-list"): (
        "split {bad} --stratify age_bin -o {out}/s.csv {flag} {exclude} --json"
    ),
    ("pack", "--exclude-list"): "pack {bad} -o {out}/shards {flag} {exclude} --json",
    ("stats", "--folds"): "stats {data} {flag} 10 --json",
    ("bench-load", "--workers"): "bench-load {shards} {flag} 0 {bench} --crop 16 --device cpu",
    ("bench-load", "--size"): "bench-load {shards} --worker-counts 0 {bench} {flag} 16",
    ("bench-load", "--decode"): "bench-load {shards} --worker-counts 0 {bench} {flag} cpu",
}
BENCH = "--split all --batch-sizes 8 --seconds 0.1 --json"
#: bench-load's figures differ from run to run; what it was asked to measure does not.
TIMINGS = {"images", "seconds", "images_per_s", "mb_per_s"}


def invoke(args: list[str], **kwargs: Any) -> Result:
    """``norwoodkit ARGS`` in-process; stdout and stderr apart."""
    return runner.invoke(app, args, **kwargs)


@pytest.fixture(scope="module")
def paths(
    clean_sample: Path, defect_sample: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """The datasets, dedupe's pairs and exclude list of the defects sample, and (when torch is
    installed) the clean sample packed as one split."""
    work = tmp_path_factory.mktemp("vocabulary")
    pairs, exclude = work / "pairs.csv", work / "exclude.csv"
    done = invoke(["dedupe", str(defect_sample), "--pairs", str(pairs)])
    assert done.exit_code == 0, done.output
    done = invoke(["dedupe", str(defect_sample), "--exclude-list", str(exclude), "-q"])
    assert done.exit_code == 0, done.output
    shards = work / "shards"
    done = invoke(["pack", str(clean_sample), "-o", str(shards), "-q"])
    assert done.exit_code == 0, done.output
    return {
        "data": str(clean_sample),
        "bad": str(defect_sample),
        "pairs": str(pairs),
        "exclude": str(exclude),
        "shards": str(shards),
        "bench": BENCH,
    }


def _comparable(stdout: str, out: Path) -> Any:
    """A run's JSON document with its own output folder and timings taken out."""
    doc = json.loads(stdout.replace(str(out), "OUT"))
    if "results" in doc:  # bench-load's rows
        rows = [{k: v for k, v in row.items() if k not in TIMINGS} for row in doc["results"]]
        return {**doc, "results": rows}
    return doc


@pytest.mark.parametrize(("command", "old"), sorted(LINES))
def test_an_old_spelling_works_as_the_new_one_and_warns_on_stderr(
    command: str, old: str, paths: dict[str, str], tmp_path: Path
) -> None:
    if command == "bench-load":
        pytest.importorskip("torch")
    new = RENAMES[command][old]
    runs = {}
    for spelling in (old, new):
        out = tmp_path / spelling.strip("-")
        out.mkdir()
        line = LINES[command, old].format(flag=spelling, out=out, **paths)
        result = invoke(line.split())
        assert result.exit_code == 0, (spelling, result.output)
        runs[spelling] = (result, _comparable(result.stdout, out))  # stdout: JSON, nothing else
    old_result, old_doc = runs[old]
    new_result, new_doc = runs[new]
    assert old_doc == new_doc
    warning = f"warning: {old} is deprecated; use {new}\n"
    assert old_result.stderr.count(warning) == 1, old_result.stderr
    assert "deprecated" not in new_result.stderr


def test_every_rename_is_tried() -> None:
    assert set(LINES) == {(c, old) for c, table in RENAMES.items() for old in table}


def test_the_old_spelling_with_an_equals_sign_and_a_bad_value(clean_sample: Path) -> None:
    good = invoke(["stats", str(clean_sample), "--folds=7", "--json"])
    assert good.exit_code == 0, good.output
    assert json.loads(good.stdout)["parameters"]["folds"] == 7
    assert "warning: --folds is deprecated; use --check-folds" in good.stderr
    bad = invoke(["stats", str(clean_sample), "--folds", "1"])
    assert bad.exit_code == 2, bad.output
    assert "--check-folds" in bad.stderr and "Traceback" not in bad.output


def test_only_option_words_are_rewritten() -> None:
    takes_value = frozenset({"--out", "-o", "--dedupe", "--pairs-from", "-a"})
    renames = {"--dedupe": "--pairs-from"}
    args = ["--out", "--dedupe", "-qa", "--dedupe", "--dedupe", "x", "--", "--dedupe"]
    got, met = modernise(args, renames, takes_value)
    assert got == ["--out", "--dedupe", "-qa", "--dedupe", "--pairs-from", "x", "--", "--dedupe"]
    assert met == ["--dedupe"]
    got, met = modernise(["--dedupe=p.csv", "--dedupe", "q.csv"], renames, takes_value)
    assert got == ["--pairs-from=p.csv", "--pairs-from", "q.csv"] and met == ["--dedupe"]
    assert modernise(["-aFILE", "--dedupe", "p"], renames, takes_value)[0][1] == "--pairs-from"


def _help(*args: str) -> str:
    result = invoke([*args, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("command", sorted(RENAMES))
def test_old_spellings_are_not_in_help(command: str) -> None:
    text = _help(command)
    for old, new in RENAMES[command].items():
        assert not re.search(rf"(?<![\w-]){re.escape(old)}(?![\w-])", text), (command, old)
        assert new in text


def test_the_renames_are_listed_in_the_docs() -> None:
    cli_md = (DOCS / "cli.md").read_text()
    table = cli_md.split("\n## Renamed options\n")[1].split("\n## ")[0]
    for command, renames in RENAMES.items():
        for old, new in renames.items():
            assert f"| `{command}` | `{old}` | `{new}` |" in table, (command, old)


def _signature(option: TyperOption) -> tuple[bool, str]:
    """What an option is: a flag or not, and its value type (None taken out)."""
    annotation = option.type_descriptor.annotation
    return option.is_flag, re.sub(r"\s*\|\s*None|None\s*\|\s*", "", str(annotation))


def test_one_name_means_one_type_in_every_command() -> None:
    seen: dict[str, dict[tuple[bool, str], list[str]]] = {}
    for name, command in COMMANDS.items():
        for param in command.params:
            if isinstance(param, TyperOption):
                for opt in (*param.opts, *param.secondary_opts):
                    seen.setdefault(opt, {}).setdefault(_signature(param), []).append(name)
    differing = {opt: kinds for opt, kinds in seen.items() if len(kinds) > 1}
    assert not differing


def test_every_out_option_has_the_short_form_o() -> None:
    outs = 0
    for name, command in COMMANDS.items():
        for param in command.params:
            if isinstance(param, TyperOption) and "--out" in param.opts:
                assert "-o" in param.opts, name
                outs += 1
    assert outs == 3  # split, pack, report


@pytest.mark.parametrize("command", [(), *[(c,) for c in sorted(COMMANDS)]])
def test_help_has_no_type_noise(command: tuple[str, ...]) -> None:
    text = _help(*command)
    assert "<bool>" not in text
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert "{" not in usage and "}" not in usage, usage
    if command and command[0] in ("validate", "bench-load"):
        assert re.search(r"\[OPTIONS\] (ROOT|DIR)\s*$", usage), usage


def test_show_completion_prints_a_bash_script() -> None:
    """As a user runs it: from bash, whose completion script it prints."""
    script = Path(sys.executable).with_name("norwoodkit")
    bash = shutil.which("bash")
    if bash is None or not script.exists():
        pytest.skip("needs bash and the installed norwoodkit script")
    done = subprocess.run(
        # Typer names the shell from the process tree: ``; exit $?`` keeps bash as the parent
        # (a lone command is exec'd in bash's place, leaving whatever ran pytest above it).
        [bash, "-c", f"'{script}' --show-completion bash; exit $?"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == 0, done.stderr
    assert "_NORWOODKIT_COMPLETE=complete_bash" in done.stdout
    assert "complete " in done.stdout and "_norwoodkit_completion" in done.stdout
    assert "--install-completion" in _help()


def test_completion_offers_new_names_and_never_warns() -> None:
    env = {"_NORWOODKIT_COMPLETE": "complete_bash", "COMP_CWORD": "4"}
    env["COMP_WORDS"] = "norwoodkit split --dedupe pairs.csv --exc"
    result = invoke([], prog_name="norwoodkit", env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == ["--exclude-from"]
    assert result.stderr == ""


def _cli_without(module: str, args: list[str]) -> subprocess.CompletedProcess[str]:
    """``norwoodkit ARGS`` in a fresh interpreter where ``module`` cannot be imported."""
    code = (
        f"import sys; sys.modules[{module!r}] = None; sys.argv = ['norwoodkit', *{args!r}]\n"
        "from norwoodkit.cli import main\n"
        "main()\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize(
    ("module", "command", "extra"),
    [("matplotlib", "report", "report"), ("torch", "bench-load", "torch")],
)
def test_an_install_hint_names_its_extra_whole(
    module: str, command: str, extra: str, clean_sample: Path, tmp_path: Path
) -> None:
    args = [command, str(clean_sample), "-o", str(tmp_path / "r.html")]
    if command == "bench-load":
        args = [command, str(tmp_path)]
    done = _cli_without(module, args)
    assert done.returncode == 2, done.stderr
    assert f"pip install 'norwoodkit[{extra}]'" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert os.listdir(tmp_path) == []


def test_help_names_the_torch_extra_whole() -> None:
    assert "pip install 'norwoodkit[torch]'" in _help("bench-load")
    assert "pip install 'norwoodkit[report]'" in _help("report")
