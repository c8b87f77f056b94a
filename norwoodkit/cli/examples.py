"""The examples each command's ``--help`` ends with, written once.

docs/cli.md shows the same blocks, and the tests run every line in :data:`EXAMPLES` order in an
empty folder and check the exit code its comment promises. So they form one walk-through: the
two ``sample`` lines make ``data`` (clean) and ``bad`` (every planted defect), and later lines
read what earlier ones wrote (``pairs.csv``, ``splits.csv``, ``shards``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EXAMPLES", "Example", "block", "epilog"]


@dataclass(frozen=True)
class Example:
    """One command line, what it shows, and the exit code it ends with."""

    command: str
    line: str
    exit_code: int
    says: str

    def text(self) -> str:
        """The comment and the command line, as help and docs print them."""
        return f"# exit {self.exit_code}: {self.says}\n{self.line}"


def _ex(command: str, args: str, exit_code: int, says: str) -> Example:
    return Example(command, f"norwoodkit {command} {args}", exit_code, says)


#: In the order they run: every file a line reads was written by a line above it.
EXAMPLES: tuple[Example, ...] = (
    _ex("sample", "data --subjects 30 --seed 3 --size tiny", 0, "a clean 30-person dataset"),
    _ex("sample", "bad --subjects 50 --size tiny --defects", 0, "one with every defect planted"),
    _ex(
        "validate",
        "data --expect-subjects 30 --expect-images 150 --strict",
        0,
        "clean, counts as promised",
    ),
    _ex("validate", "bad --junit validate.xml", 1, "problems found; JUnit XML for CI"),
    _ex("validate", "no-such-folder", 2, "could not run; the message says why"),
    _ex(
        "dedupe",
        "bad --pairs pairs.csv --exclude-list exclude.csv",
        0,
        "write the pairs and the non-keepers",
    ),
    _ex("dedupe", "bad --fail-on cross-subject --json", 1, "one photo under two people"),
    _ex("split", "data -o splits.csv --stratify age_bin", 0, "70/15/15 by person"),
    _ex("split", "data -o folds.csv --folds 3 --stratify age_bin", 0, "3 folds instead"),
    _ex(
        "split",
        "bad -o bad-splits.csv --stratify age_bin --pairs-from pairs.csv "
        "--exclude-from exclude.csv",
        0,
        "dedupe's files: duplicates kept together, non-keepers left out",
    ),
    _ex("split", "data --check splits.csv", 0, "audit a split file: no leakage"),
    _ex(
        "pack",
        "data -o shards --splits splits.csv",
        0,
        "Parquet shards, a Hugging Face dataset folder",
    ),
    _ex(
        "pack",
        "bad -o bad-shards --splits bad-splits.csv --exclude-from exclude.csv --resize 128",
        0,
        "smaller copies, duplicates left out",
    ),
    _ex("verify", "shards --decode", 0, "every shard and image as the manifest says"),
    _ex("stats", "data --check-folds 10 --markdown stats.md", 0, "tables, and a Markdown copy"),
    _ex("stats", "bad --json", 0, "it describes, it does not judge"),
    _ex("report", "data -o report.html --splits splits.csv", 0, "one self-contained HTML file"),
    _ex(
        "bench-load",
        "shards --worker-counts 0 --batch-sizes 16 --seconds 1 --crop 64",
        0,
        "loader speed (torch extra)",
    ),
)


def block(command: str) -> str:
    """The examples of one command as one fenced code block (Markdown)."""
    lines = "\n".join(e.text() for e in EXAMPLES if e.command == command)
    return f"```bash\n{lines}\n```"


def epilog(command: str) -> str | None:
    """The help epilog of ``command``: its examples (None when it has none)."""
    if not any(e.command == command for e in EXAMPLES):
        return None
    where = "" if command == "sample" else " (`data` and `bad` made as in `sample --help`)"
    return f"**Examples**{where}:\n\n{block(command)}"
