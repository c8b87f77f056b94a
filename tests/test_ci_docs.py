"""docs/ci.md runs as written: the gate script, the pre-commit hook and the GitHub workflow."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
CI_MD = REPO / "docs" / "ci.md"
#: The sample options the page documents for the script (plus --defects for the broken one).
SCRIPT_SAMPLE = ["--subjects", "50", "--size", "tiny", "--seed", "0"]
#: Every command the script must call.
COMMANDS = ("sample", "validate", "dedupe", "stats", "split", "pack", "verify", "report")
#: The JUnit files that the script and the workflow write, one per gate.
JUNIT = ("validate.xml", "dedupe.xml", "split-check.xml", "verify.xml")
#: The placeholder dataset folder that docs/ci.md's examples name.
PLACEHOLDER = "data/hairloss"


def _block(marker: str) -> str:
    """The fenced block that follows ``<!-- marker -->`` in docs/ci.md."""
    text = CI_MD.read_text()
    after = text.split(f"<!-- {marker} -->\n", 1)[1]
    match = re.match(r"```\w*\n(.*?)\n```\n", after, re.S)
    assert match, f"no fenced block after the {marker} marker"
    return match.group(1) + "\n"


def _exit_table() -> dict[str, tuple[int, int, str]]:
    """The documented exit codes: step -> (clean, defects, why)."""
    text = CI_MD.read_text().split("<!-- ci-check exit codes -->\n", 1)[1]
    rows: dict[str, tuple[int, int, str]] = {}
    for line in text.splitlines()[2:]:
        if not line.startswith("|"):
            break
        step, clean, defects, why = (c.strip() for c in line.strip("|").split("|"))
        rows[step] = (int(clean), int(defects), why.strip("`"))
    return rows


def _env(**extra: str) -> dict[str, str]:
    """This interpreter's ``norwoodkit`` first on PATH, this source tree first on the import
    path, and no CI switches from the machine running the tests."""
    env = {k: v for k, v in os.environ.items() if k not in ("NORWOODKIT_FORMAT", "GITHUB_ACTIONS")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    return {**env, **extra}


def _steps(stderr: str) -> dict[str, int]:
    """The script's ``STEP: exit N`` lines."""
    return {m[1]: int(m[2]) for m in re.finditer(r"^([\w-]+): exit (\d+)$", stderr, re.M)}


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("script") / "ci-check.sh"
    path.write_text(_block("ci-check.sh"))
    return path


def test_the_script_calls_every_command_pipes_and_is_strict(script: Path) -> None:
    text = script.read_text().replace("\\\n", " ")  # continuation lines joined
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    for command in COMMANDS:
        assert re.search(rf"norwoodkit {command} ", text), command
    assert re.search(r"norwoodkit validate [^\n]*\| head", text)
    assert re.search(r"norwoodkit stats [^\n]*\| head", text)
    assert set(_exit_table()) == {*COMMANDS, "split-check", "script"}
    documented = CI_MD.read_text()
    for kind, extra in (("clean", ""), ("defects", " --defects")):
        assert f"bash ci-check.sh build/{kind} {' '.join(SCRIPT_SAMPLE)}{extra} " in documented


@pytest.mark.parametrize("kind", ["clean", "defects"])
def test_the_script_behaves_as_documented(script: Path, tmp_path: Path, kind: str) -> None:
    column = 0 if kind == "clean" else 1
    table = _exit_table()
    args = [*SCRIPT_SAMPLE, *(["--defects"] if kind == "defects" else [])]
    done = subprocess.run(
        ["bash", str(script), str(tmp_path / "out"), *args],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=tmp_path,
        timeout=600,
    )
    steps = _steps(done.stderr)
    expected = {step: codes[column] for step, codes in table.items() if step != "script"}
    assert steps == expected, done.stderr
    assert done.returncode == table["script"][column], done.stderr
    assert "Traceback" not in done.stderr
    if kind == "clean":
        assert "OK: every gate passed" in done.stderr
    else:
        assert table["script"][2] in done.stderr
    out = tmp_path / "out"
    for name in (*JUNIT, "pairs.csv", "splits.csv", "shards/manifest.json", "report.html"):
        assert (out / name).is_file(), name
    # The JSON document piped into python3 carried its command and schema version.
    assert re.search(r"^dedupe: \d+ duplicate pairs; schema \S+$", done.stdout, re.M)


def test_the_script_stops_on_a_dataset_it_cannot_read(script: Path, tmp_path: Path) -> None:
    """Exit 2 from a gate (here: no such folder) ends the script with 2 before the next step."""
    missing = tmp_path / "no-such-delivery"
    done = subprocess.run(
        ["bash", str(script), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=_env(DATA=str(missing)),
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert _steps(done.stderr) == {"validate": 2}
    assert "validate could not run; stopping" in done.stderr
    assert str(missing) in done.stderr
    assert "Traceback" not in done.stderr
    assert not missing.exists()


def test_the_script_refuses_to_run_without_out(script: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", str(script)], capture_output=True, text=True, env=_env(), cwd=tmp_path
    )
    assert done.returncode != 0
    assert "usage: ci-check.sh OUT" in done.stderr
    assert list(tmp_path.iterdir()) == []


def _hook() -> dict[str, Any]:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    (hook,) = hooks
    assert isinstance(hook, dict)
    return hook


def _hook_command(args: list[str], root: Path) -> list[str]:
    return [*shlex.split(_hook()["entry"]), *(str(root) if a == PLACEHOLDER else a for a in args)]


def test_the_pre_commit_hook_is_a_console_script_on_a_folder() -> None:
    hook = _hook()
    assert hook["id"] == "norwoodkit-validate"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    program, command = shlex.split(hook["entry"])
    assert program in scripts and command == "validate"
    config = yaml.safe_load(_block("pre-commit-config"))
    (repo,) = config["repos"]
    (used,) = repo["hooks"]
    assert used["id"] == hook["id"]
    assert PLACEHOLDER in used["args"]
    files = re.compile(used["files"])
    assert files.search(f"{PLACEHOLDER}/1/Front.jpg") and not files.search("README.md")


@pytest.mark.parametrize("kind", ["clean", "defects"])
def test_the_pre_commit_hook_passes_clean_data_and_stops_broken_data(
    kind: str, clean_sample: Path, defect_sample: Path
) -> None:
    """What pre-commit runs: the entry, then the documented args (the folder replaced)."""
    (used,) = yaml.safe_load(_block("pre-commit-config"))["repos"][0]["hooks"]
    root = clean_sample if kind == "clean" else defect_sample
    done = subprocess.run(
        _hook_command(used["args"], root), capture_output=True, text=True, env=_env()
    )
    assert done.returncode == (0 if kind == "clean" else 1), done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_the_pre_commit_hook_without_a_folder_says_so(tmp_path: Path) -> None:
    """A config that forgot ``args``: exit 2, naming the missing argument."""
    done = subprocess.run(
        _hook_command([], tmp_path), capture_output=True, text=True, env=_env(), cwd=tmp_path
    )
    assert done.returncode == 2
    assert "ROOT" in done.stderr
    assert "Traceback" not in done.stderr


def _workflow() -> dict[Any, Any]:
    workflow = yaml.safe_load(_block("workflow"))
    assert isinstance(workflow, dict)
    return workflow


def _run_steps(
    workflow: dict[Any, Any], data: Path, cwd: Path, only: str | None = None
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Each ``run`` step that calls norwoodkit, as GitHub runs it (bash -eo pipefail), with the
    job's env and the dataset folder replaced; steps in order, as on a runner where all pass."""
    job = workflow["jobs"]["check"]
    env = {**_env(), **{k: str(v) for k, v in job["env"].items()}}
    env.update(DATA=str(data), EXPECT_SUBJECTS="30", EXPECT_IMAGES="150")  # clean_sample
    results: dict[str, subprocess.CompletedProcess[str]] = {}
    for step in job["steps"]:
        run = step.get("run", "")
        if "norwoodkit " not in run or "pip install" in run or (only and step["name"] != only):
            continue
        assert "${{" not in run, f"{step['name']}: pass values through env, not expressions"
        shell = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", run]
        results[step["name"]] = subprocess.run(
            shell, capture_output=True, text=True, env=env, cwd=cwd, timeout=600
        )
    return results


def test_the_workflow_is_wired_as_documented() -> None:
    workflow = _workflow()
    assert workflow["defaults"]["run"]["shell"] == "bash"
    job = workflow["jobs"]["check"]
    uses = {s["uses"].split("@")[0]: s for s in job["steps"] if "uses" in s}
    assert {
        "actions/checkout",
        "actions/setup-python",
        "actions/cache",
        "actions/upload-artifact",
    } <= set(uses)
    assert uses["actions/cache"]["with"]["path"] == job["env"]["NORWOODKIT_CACHE_DIR"]
    assert uses["actions/upload-artifact"]["if"] == "${{ always() }}"
    runs = "\n".join(s.get("run", "") for s in job["steps"])
    for command in ("validate", "dedupe", "split", "pack", "verify"):
        assert f"norwoodkit {command} " in runs, command
    assert "--check" in runs and "--fail-on cross-subject" in runs and "--format github" in runs
    for junit in JUNIT:
        assert f'--junit "$OUT/{junit}"' in runs, junit


def test_the_workflow_passes_a_clean_dataset(clean_sample: Path, tmp_path: Path) -> None:
    workflow = _workflow()
    results = _run_steps(workflow, clean_sample, tmp_path)
    assert len(results) == 5
    for name, done in results.items():
        assert done.returncode == 0, f"{name}: {done.stdout}{done.stderr}"
    assert "::error" not in results["Validate"].stdout
    (upload,) = [s for s in workflow["jobs"]["check"]["steps"] if "upload" in s.get("uses", "")]
    for pattern in upload["with"]["path"].split():
        assert list(tmp_path.glob(pattern)), f"nothing to upload at {pattern}"
    for junit in JUNIT:
        suites = ElementTree.parse(tmp_path / "build" / "norwoodkit" / junit).getroot()
        assert suites.tag in ("testsuites", "testsuite"), junit
        assert not suites.findall(".//failure") and not suites.findall(".//error"), junit


def test_the_workflow_fails_validate_on_a_broken_dataset(
    defect_sample: Path, tmp_path: Path
) -> None:
    results = _run_steps(_workflow(), defect_sample, tmp_path, only="Validate")
    done = results["Validate"]
    assert done.returncode == 1, done.stdout + done.stderr
    assert (tmp_path / "build" / "norwoodkit" / "validate.xml").is_file()
    assert re.search(r"^::error file=", done.stdout, re.M), done.stdout
    assert "Traceback" not in done.stderr
