"""The run contract (cli/contract.py) for every command: the exit code survives a closed stdout,
and every ``--json`` run prints exactly one document that its JSON Schema (docs/schemas/) accepts.

Pipes are real: ``python -m norwoodkit`` runs in a subprocess with this work tree first on the
import path, under ``bash -c 'set -o pipefail; ... | head -1'`` and with a stdout whose reader is
already gone (the first write fails, every time).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import jsonschema
import pytest
import typer
from hostile import run
from typer.testing import CliRunner

from norwoodkit.cli.app import handle_errors, print_json
from norwoodkit.cli.contract import ContractGroup
from norwoodkit.cli.schemas import COMMANDS, all_schemas
from norwoodkit.errors import NorwoodkitError

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = all_schemas()
PIPE_NOISE = ("Traceback", "Exception ignored", "BrokenPipeError", "internal error")


def schema_of(doc: dict[str, Any]) -> str:
    """The schema file a document answers to: error.json for a failure, else its command's."""
    return "error.json" if "error" in doc else f"{doc['command']}.json"


def one_document(stdout: str, command: str, code: int) -> dict[str, Any]:
    """stdout is exactly one JSON document, with the envelope of ``command`` and ``code``, valid
    against its schema."""
    doc: dict[str, Any] = json.loads(stdout)  # extra data after the document fails here
    assert (doc["schema_version"], doc["command"]) == (1, command), doc
    assert (doc["ok"], doc["exit_code"]) == (code == 0, code), doc
    jsonschema.Draft202012Validator(SCHEMAS[schema_of(doc)]).validate(doc)
    return doc


@dataclass(frozen=True)
class Places:
    """Where the cases read and write."""

    clean: Path
    defects: Path
    cache: Path
    split_file: Path
    shards: Path
    tmp: Path

    def data(self, command: str, root: Path, *args: str | Path) -> list[str]:
        """A dataset command with the module's probe cache and one worker (``args`` win)."""
        return [command, str(root), "--cache", str(self.cache), "--workers", "1", *map(str, args)]


@pytest.fixture(scope="module")
def places(
    clean_sample: Path, defect_sample: Path, tmp_path_factory: pytest.TempPathFactory
) -> Places:
    """The shared samples, one probe cache, a split of the clean sample and its pack."""
    base = tmp_path_factory.mktemp("contract")
    p = Places(
        clean_sample, defect_sample, base / "cache", base / "split.csv", base / "shards", base
    )
    p.cache.mkdir()
    split: list[str | Path] = ["--ratios", "50,50", "--stratify", "age_bin", "--out", p.split_file]
    assert run(p.data("split", p.clean, *split)).exit_code == 0
    assert run(p.data("pack", p.clean, "--out", p.shards, "--splits", p.split_file)).exit_code == 0
    return p


def python_m(args: list[str]) -> list[str]:
    """``python -m norwoodkit ARGS`` from this work tree."""
    return [sys.executable, "-m", "norwoodkit", *args]


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "80"}


Case = Callable[[Places], list[str]]

# (id, argv after `norwoodkit`, the exit code the work earns): every command that prints on stdout.
CASES: list[tuple[str, Case, int]] = [
    ("validate-clean", lambda p: p.data("validate", p.clean), 0),
    ("validate-defects", lambda p: p.data("validate", p.defects), 1),
    ("validate-json", lambda p: p.data("validate", p.defects, "--json"), 1),
    ("dedupe", lambda p: p.data("dedupe", p.defects, "--fail-on", "cross-subject"), 1),
    ("split", lambda p: p.data("split", p.clean, "--ratios", "50,50", "--stratify", "age_bin",
                               "--out", p.tmp / "head-split.csv"), 0),
    ("split-check", lambda p: p.data("split", p.clean, "--check", p.split_file), 0),
    ("stats", lambda p: p.data("stats", p.clean), 0),
    ("pack", lambda p: p.data("pack", p.clean, "--out", p.tmp / "head-pack"), 0),
    ("verify", lambda p: ["verify", str(p.shards)], 0),
    ("report", lambda p: p.data("report", p.clean, "-o", p.tmp / "head.html", "--no-dedupe"), 0),
    ("sample", lambda p: ["sample", str(p.tmp / "head-sample"), "--subjects", "1", "--size",
                          "tiny", "--workers", "1"], 0),
    ("bench-load", lambda p: ["bench-load", str(p.shards), "--split", "train", "--workers", "0",
                              "--batch-sizes", "4", "--seconds", "0.1", "--size", "16"], 0),
    ("help", lambda p: ["--help"], 0),
    ("command-help", lambda p: ["stats", "--help"], 0),
    ("version", lambda p: ["--version"], 0),
    ("usage-error", lambda p: p.data("stats", p.clean, "--check-folds", "1"), 2),
]  # fmt: skip


@pytest.mark.parametrize(("name", "case", "code"), [pytest.param(*c, id=c[0]) for c in CASES])
def test_exit_code_through_head_with_pipefail(
    places: Places, name: str, case: Case, code: int
) -> None:
    """``norwoodkit ... | head -1`` under pipefail: the work's exit code, a quiet stderr."""
    if name == "bench-load":
        pytest.importorskip("torch")
    script = 'set -o pipefail; "$@" | head -1 > /dev/null'
    done = subprocess.run(
        ["bash", "-c", script, "bash", *python_m(case(places))],
        capture_output=True,
        text=True,
        env=environment(),
        timeout=300,
        check=False,
    )
    assert done.returncode == code, done.stderr
    for noise in PIPE_NOISE:
        assert noise not in done.stderr, done.stderr


CLOSED = ("validate-json", "stats", "help", "usage-error")


@pytest.mark.parametrize(
    ("case", "code"), [pytest.param(c, n, id=i) for i, c, n in CASES if i in CLOSED]
)
def test_a_reader_gone_before_the_first_write(places: Places, case: Case, code: int) -> None:
    """stdout's reader closed before the run starts: every write meets EPIPE, nothing says so."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            python_m(case(places)),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=environment(),
            timeout=300,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.returncode == code, done.stderr
    for noise in PIPE_NOISE:
        assert noise not in done.stderr, done.stderr


def test_a_reader_of_stderr_gone(places: Places) -> None:
    """``2>&1 | head`` closes stderr's reader too: the usage panel meets EPIPE, the run goes on
    to its exit code and its one document."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    args = python_m([*places.data("stats", places.clean, "--check-folds", "1"), "--json"])
    try:
        done = subprocess.run(
            args,
            stdout=subprocess.PIPE,
            stderr=write_end,
            text=True,
            env=environment(),
            timeout=300,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 2
    assert "--check-folds" in one_document(done.stdout, "stats", 2)["error"]["message"]


def test_stdout_closed_by_the_shell(places: Places) -> None:
    """``>&-``: Python starts without stdout; the run still ends with the work's code."""
    args = python_m(places.data("validate", places.defects, "--json"))
    done = subprocess.run(
        ["bash", "-c", '"$@" >&-', "bash", *args],
        capture_output=True,
        text=True,
        env=environment(),
        timeout=300,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr


# --------------------------------------------------------------------------- --json, every path


def json_cases(p: Places) -> list[tuple[str, list[str], int]]:
    """(command, argv, exit code): each command's success, findings, refusal and usage error."""
    t = p.tmp
    leaky = t / "leaky.csv"
    if not leaky.exists():  # 29 and 30 share a photo (defects.json): apart, they leak
        rows = [f"{i},{'train' if i % 2 else 'test'}" for i in range(1, 51)]
        leaky.write_text("subject_id,split\n" + "\n".join(rows) + "\n", encoding="utf-8")
    damaged = t / "damaged"
    if not damaged.exists():
        shutil.copytree(p.shards, damaged)
        shard = next(damaged.rglob("*.parquet"))
        data = bytearray(shard.read_bytes())
        data[len(data) // 2] ^= 0xFF
        shard.write_bytes(bytes(data))
    split = ["--ratios", "50,50", "--stratify", "age_bin"]
    return [
        ("validate", p.data("validate", p.clean), 0),
        ("validate", p.data("validate", p.defects), 1),
        ("validate", p.data("validate", t / "missing"), 2),
        ("validate", p.data("validate", p.clean, "--workers", "0"), 2),
        ("dedupe", p.data("dedupe", p.clean, "--calibrate"), 0),
        ("dedupe", p.data("dedupe", p.defects, "--fail-on", "cross-subject"), 1),
        ("dedupe", p.data("dedupe", p.clean, "--pairs", t / "pairs.txt"), 2),
        ("dedupe", p.data("dedupe", p.clean, "--same", "many"), 2),
        ("split", p.data("split", p.clean, *split), 0),
        ("split", p.data("split", p.defects, "--check", leaky), 1),
        ("split", p.data("split", p.clean, "--ratios", "0,0"), 2),
        ("split", p.data("split", p.clean, "--folds", "two"), 2),
        ("pack", p.data("pack", p.clean, "--out", t / "json-pack"), 0),
        ("pack", p.data("pack", p.clean, "--out", p.clean / "shards"), 2),
        ("pack", p.data("pack", p.clean, "--out", t / "x", "--bogus"), 2),
        ("verify", ["verify", str(p.shards)], 0),
        ("verify", ["verify", str(damaged)], 1),
        ("verify", ["verify", str(p.clean)], 2),
        ("verify", ["verify"], 2),
        ("stats", p.data("stats", p.defects), 0),
        ("stats", p.data("stats", t / "missing"), 2),
        ("stats", p.data("stats", p.clean, "--check-folds", "1"), 2),
        ("report", p.data("report", p.clean, "-o", t / "r.html", "--no-dedupe"), 0),
        ("report", p.data("report", p.clean, "-o", p.clean / "r.html"), 2),
        ("report", p.data("report", p.clean), 2),
        ("sample", ["sample", str(t / "json-sample"), "--subjects", "1", "--size", "tiny"], 0),
        ("sample", ["sample", str(t / "no" / "such"), "--size", "tiny"], 2),
        ("sample", ["sample", str(t / "s0"), "--subjects", "0"], 2),
        ("norwoodkit", ["nosuch"], 2),
        ("norwoodkit", ["--bogus"], 2),
    ]


def test_every_json_run_prints_one_valid_document(places: Places) -> None:
    """Success, findings, refusal and usage error of every command: one document, its schema."""
    seen: dict[str, set[int]] = {}
    for command, args, code in json_cases(places):
        result = run([*args, "--json"])
        assert result.exit_code == code, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr, result.stderr
        doc = one_document(result.stdout, command, code)
        if code == 2:
            assert doc["error"]["message"] and doc["error"]["code"], doc
        seen.setdefault(command, set()).add(code)
    assert {c for c in COMMANDS if c != "bench-load"} <= set(seen)


def test_bench_load_json_paths(places: Places) -> None:
    pytest.importorskip("torch")
    args = ["--workers", "0", "--batch-sizes", "4", "--seconds", "0.1", "--size", "16", "--json"]
    ok = run(["bench-load", str(places.shards), "--split", "train", *args])
    doc = one_document(ok.stdout, "bench-load", 0)
    assert doc["split"] == "train" and [r["batch_size"] for r in doc["results"]] == [4]
    missing = run(["bench-load", str(places.tmp / "missing"), *args])
    assert "no manifest" in one_document(missing.stdout, "bench-load", 2)["error"]["message"]
    usage = run(["bench-load", str(places.shards), "--seconds", "0", "--json"])
    assert "--seconds" in one_document(usage.stdout, "bench-load", 2)["error"]["message"]


def test_a_usage_error_names_the_option_and_where_to_look(places: Places) -> None:
    result = run([*places.data("validate", places.clean, "--workers", "0"), "--json"])
    message = one_document(result.stdout, "validate", 2)["error"]["message"]
    assert "--workers" in message and "validate --help" in message
    assert "--workers" in result.stderr  # the terminal still gets click's own panel


def test_split_json_needs_no_out_and_prints_what_out_writes(places: Places) -> None:
    """The assignment in the document is the file ``--out`` writes for the same options."""
    args = ["--ratios", "50,50", "--stratify", "age_bin", "--json"]
    result = run(places.data("split", places.clean, *args))
    doc = one_document(result.stdout, "split", 0)
    import pandas as pd

    written = pd.read_csv(places.split_file, dtype={"subject_id": str, "group_id": str})
    assert doc["assignment"] == written.to_dict(orient="records")
    text = run(places.data("split", places.clean, "--ratios", "50,50"))
    assert text.exit_code == 2 and "--out FILE or --json" in text.stderr


def test_report_json_describes_the_file_it_wrote(places: Places) -> None:
    out = places.tmp / "described.html"
    result = run([*places.data("report", places.clean, "-o", out, "--no-dedupe"), "--json"])
    doc = one_document(result.stdout, "report", 0)
    assert doc["out"] == str(out) and doc["bytes"] == out.stat().st_size
    assert (doc["subjects"], doc["images"]) == (30, 150) and doc["plots"] is None


def test_help_and_version_print_text_even_with_json() -> None:
    """An eager option ends the run before the command: its text, no document."""
    helped = run(["stats", "--help", "--json"])
    assert helped.exit_code == 0 and "Usage" in helped.stdout


# --------------------------------------------------------------------------- the contract itself
# A small app on the same group class and error handler reaches the paths no real command should:
# a bug, an interrupt, an error after the document, a document missing or printed twice.

probe_app = typer.Typer(cls=ContractGroup, pretty_exceptions_show_locals=False)
JsonFlag = Annotated[bool, typer.Option("--json")]


@probe_app.command()
@handle_errors
def crash(json_output: JsonFlag = False) -> None:
    """A bug."""
    raise ZeroDivisionError("1 / 0")


@probe_app.command()
@handle_errors
def interrupt(json_output: JsonFlag = False) -> None:
    """A real SIGINT to this process, as Ctrl-C sends."""
    signal.raise_signal(signal.SIGINT)


@probe_app.command()
@handle_errors
def late_error(json_output: JsonFlag = False) -> None:
    """The document is ready, then the run fails."""
    print_json({"result": 1})
    raise NorwoodkitError("out.csv: could not write it; free space and run again", code="late")


@probe_app.command()
@handle_errors
def silent(json_output: JsonFlag = False) -> None:
    """Ends well but forgets its document."""


@probe_app.command()
@handle_errors
def twice(json_output: JsonFlag = False) -> None:
    """Prints two documents."""
    print_json({"a": 1})
    print_json({"b": 2})


def probe(name: str) -> tuple[int, dict[str, Any], str]:
    """Run a probe command with ``--json``: exit code, its error document (validated), stderr."""
    result = CliRunner().invoke(probe_app, [name.replace("_", "-"), "--json"])
    doc: dict[str, Any] = json.loads(result.stdout)
    assert doc["command"] == name.replace("_", "-")
    # The error schema knows the real commands only: stand one in for the probe's name.
    jsonschema.Draft202012Validator(SCHEMAS["error.json"]).validate({**doc, "command": "stats"})
    assert doc["exit_code"] == result.exit_code and doc["ok"] is False
    return result.exit_code, doc["error"], result.stderr


def test_a_bug_is_exit_3_with_its_traceback_and_a_document() -> None:
    code, error, stderr = probe("crash")
    assert (code, error["code"]) == (3, "internal-error")
    assert "ZeroDivisionError" in error["message"]
    assert "Traceback" in stderr and "internal error" in stderr


def test_ctrl_c_is_exit_130_with_a_document() -> None:
    code, error, stderr = probe("interrupt")
    assert (code, error["code"]) == (130, "interrupted") and "interrupted" in stderr


def test_an_error_after_the_document_replaces_it() -> None:
    code, error, stderr = probe("late_error")
    assert (code, error["code"]) == (2, "late") and "out.csv" in error["message"]
    assert "error: out.csv" in stderr


@pytest.mark.parametrize("name", ["silent", "twice"])
def test_a_missing_or_second_document_is_a_bug(name: str) -> None:
    code, error, _ = probe(name)
    assert (code, error["code"]) == (3, "internal-error")


def test_without_json_nothing_is_added() -> None:
    result = CliRunner().invoke(probe_app, ["silent"])
    assert (result.exit_code, result.stdout) == (0, "")


# --------------------------------------------------------------------------- the schema files


def test_docs_schemas_are_what_the_tool_generates() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "tools" / "json_schemas.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout
    for name, schema in SCHEMAS.items():
        jsonschema.Draft202012Validator.check_schema(schema)
        on_disk = json.loads((REPO / "docs" / "schemas" / name).read_text(encoding="utf-8"))
        assert on_disk == schema, name
    assert sorted(p.name for p in (REPO / "docs" / "schemas").glob("*.json")) == sorted(SCHEMAS)


def test_a_schema_rejects_a_document_without_its_envelope(places: Places) -> None:
    """The schemas are not vacuous: the envelope and a command's keys are required."""
    result = run([*places.data("stats", places.clean), "--json"])
    doc = one_document(result.stdout, "stats", 0)
    validator = jsonschema.Draft202012Validator(SCHEMAS["stats.json"])
    for key in ("schema_version", "command", "facts"):
        assert not validator.is_valid({k: v for k, v in doc.items() if k != key}), key
    assert not validator.is_valid({**doc, "command": "validate"})
