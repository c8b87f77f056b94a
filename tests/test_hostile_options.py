"""Hostile option values: zero, negative, huge, NaN/inf, empty. Each is a clear refusal (exit 2)
that names the flag, before any work and without writing anything; none is a bug or a hang."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile import hostile

HUGE = str(10**30)
DIGITS = "9" * 400

# (command, its arguments after the dataset/output, the flag the message must name)
CASES = [
    pytest.param("validate", ["--workers", "0"], "--workers", id="validate-workers-0"),
    pytest.param("validate", ["--workers", "-1"], "--workers", id="validate-workers-neg"),
    pytest.param("validate", ["--workers", HUGE], "--workers", id="validate-workers-huge"),
    pytest.param("validate", ["--expect-subjects", "-1"], "--expect-subjects", id="expect-neg"),
    pytest.param("validate", ["--expect-images", "-1"], "--expect-images", id="expect-images-neg"),
    pytest.param("validate", ["--field", "="], "--field", id="field-equals"),
    pytest.param("validate", ["--field", ""], "--field", id="field-empty"),
    pytest.param("validate", ["--junit", ""], "--junit", id="junit-empty"),
    pytest.param("dedupe", ["--same", "65"], "--same", id="same-65"),
    pytest.param("dedupe", ["--same", "-1"], "--same", id="same-neg"),
    pytest.param("dedupe", ["--near", HUGE], "--near", id="near-huge"),
    pytest.param("dedupe", ["--same", "9", "--near", "4"], "--same", id="same-above-near"),
    pytest.param("dedupe", ["--pairs", ""], "--pairs", id="pairs-empty"),
    pytest.param("split", ["--ratios", "nan,inf"], "--ratios", id="ratios-nan-inf"),
    pytest.param("split", ["--ratios", "inf,1"], "--ratios", id="ratios-inf"),
    pytest.param("split", ["--ratios", "1e999,1"], "--ratios", id="ratios-overflow"),
    pytest.param("split", ["--ratios", "0,0"], "--ratios", id="ratios-zero"),
    pytest.param("split", ["--ratios", "-1,2"], "--ratios", id="ratios-neg"),
    pytest.param("split", ["--ratios", ""], "--ratios", id="ratios-empty"),
    pytest.param("split", ["--names", ",,"], "--names", id="names-commas"),
    pytest.param("split", ["--names", ""], "--names", id="names-empty"),
    pytest.param("split", ["--stratify", ""], "--stratify", id="stratify-empty"),
    pytest.param("split", ["--folds", "1"], "--folds", id="split-folds-1"),
    pytest.param("split", ["--folds", "0"], "--folds", id="split-folds-0"),
    pytest.param("split", ["--folds", "-1"], "--folds", id="split-folds-neg"),
    pytest.param("split", ["--folds", "100000"], "--folds", id="split-folds-100000"),
    pytest.param("split", ["--folds", HUGE], "--folds", id="split-folds-huge"),
    pytest.param("split", ["--seed", "-1"], "--seed", id="split-seed-neg"),
    pytest.param("stats", ["--check-folds", "0"], "--check-folds", id="stats-folds-0"),
    pytest.param("stats", ["--check-folds", "1"], "--check-folds", id="stats-folds-1"),
    pytest.param("stats", ["--check-folds", HUGE], "--check-folds", id="stats-folds-huge"),
    pytest.param("stats", ["--age-bins", "99-1"], "--age-bins", id="age-bins-reversed"),
    pytest.param("stats", ["--age-bins", ""], "--age-bins", id="age-bins-empty"),
    pytest.param("stats", ["--age-bins", ",,"], "--age-bins", id="age-bins-commas"),
    pytest.param("stats", ["--age-bins", "0-" + DIGITS], "--age-bins", id="age-bins-digits"),
    pytest.param("stats", ["--age-bins", "a-b"], "--age-bins", id="age-bins-words"),
    pytest.param("pack", ["--shard-size", "1e999"], "--shard-size", id="shard-size-1e999"),
    pytest.param("pack", ["--shard-size", "-5MB"], "--shard-size", id="shard-size-neg"),
    pytest.param("pack", ["--shard-size", "0"], "--shard-size", id="shard-size-0"),
    pytest.param("pack", ["--shard-size", "nan"], "--shard-size", id="shard-size-nan"),
    pytest.param("pack", ["--shard-size", "inf"], "--shard-size", id="shard-size-inf"),
    pytest.param("pack", ["--shard-size", DIGITS], "--shard-size", id="shard-size-digits"),
    pytest.param("pack", ["--shard-size", ""], "--shard-size", id="shard-size-empty"),
    pytest.param("pack", ["--rows-per-group", "0"], "--rows-per-group", id="rows-per-group-0"),
    pytest.param("pack", ["--rows-per-group", HUGE], "--rows-per-group", id="rows-huge"),
    pytest.param("pack", ["--resize", "0"], "--resize", id="resize-0"),
    pytest.param("pack", ["--resize", HUGE], "--resize", id="resize-huge"),
    pytest.param("pack", ["--quality", "101"], "--quality", id="pack-quality-101"),
    pytest.param("pack", ["--quality", "0"], "--quality", id="pack-quality-0"),
    pytest.param("pack", ["--seed", "-1"], "--seed", id="pack-seed-neg"),
    pytest.param("sample", ["--subjects", "0"], "--subjects", id="sample-subjects-0"),
    pytest.param("sample", ["--subjects", HUGE], "--subjects", id="sample-subjects-huge"),
    pytest.param("sample", ["--quality", "101"], "--quality", id="sample-quality-101"),
    pytest.param("sample", ["--size", "0x0"], "--size", id="sample-size-0"),
    pytest.param("sample", ["--size", ""], "--size", id="sample-size-empty"),
    pytest.param("sample", ["--seed", "-1"], "--seed", id="sample-seed-neg"),
    pytest.param("sample", ["--seed", HUGE], "--seed", id="sample-seed-huge"),
    pytest.param("bench-load", ["--batch-sizes", "0"], "--batch-sizes", id="batch-sizes-0"),
    pytest.param("bench-load", ["--batch-sizes", HUGE], "--batch-sizes", id="batch-sizes-huge"),
    pytest.param(
        "bench-load", ["--worker-counts", "-1"], "--worker-counts", id="bench-workers-neg"
    ),
    pytest.param(
        "bench-load", ["--worker-counts", HUGE], "--worker-counts", id="bench-workers-huge"
    ),
    pytest.param("bench-load", ["--seconds", "inf"], "--seconds", id="seconds-inf"),
    pytest.param("bench-load", ["--seconds", "nan"], "--seconds", id="seconds-nan"),
    pytest.param("bench-load", ["--seconds", "0"], "--seconds", id="seconds-0"),
    pytest.param("bench-load", ["--crop", "0"], "--crop", id="bench-crop-0"),
    pytest.param("bench-load", ["--crop", HUGE], "--crop", id="bench-crop-huge"),
]


@pytest.fixture
def no_hang() -> Iterator[None]:
    """Fail (instead of hanging the suite) when one case runs past a minute."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # the CLI answers 130: the case fails, the suite goes on

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _args(command: str, extra: list[str], dataset: Path, out: Path) -> list[str]:
    """The command line of one case: its dataset or output argument, then the option."""
    if command == "sample":
        return [command, str(out / "sample"), "--size", "tiny", *extra]
    if command == "bench-load":
        return [command, str(out / "shards"), *extra]
    outputs = {
        "split": ["--out", str(out / "split.csv")],
        "pack": ["--out", str(out / "shards")],
    }
    return [command, str(dataset), *outputs.get(command, []), *extra]


@pytest.mark.usefixtures("no_hang")
@pytest.mark.parametrize(("command", "extra", "flag"), CASES)
def test_nonsense_option_is_refused(
    command: str, extra: list[str], flag: str, clean_sample: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    hostile(_args(command, extra, clean_sample, out), 2, [flag], untouched=[clean_sample, out])
