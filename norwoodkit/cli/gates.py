"""The CI options every gate shares (``--junit``, ``--sarif``, ``--format``, ``--min-severity``),
declared once, and what they write and print."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from norwoodkit.findings import Severity
from norwoodkit.paths import guard_output
from norwoodkit.storage import Location

if TYPE_CHECKING:
    from norwoodkit.reporting import Gate


class Format(StrEnum):
    """How findings reach the terminal: a table, or GitHub Actions workflow commands."""

    TEXT = "text"
    GITHUB = "github"


JunitOpt = Annotated[
    Path | None,
    typer.Option(
        "--junit",
        metavar="FILE",
        help="Also write JUnit XML here: one test case per check that ran.",
    ),
]
SarifOpt = Annotated[
    Path | None,
    typer.Option(
        "--sarif",
        metavar="FILE",
        help="Also write the findings here as SARIF 2.1.0 (code scanning).",
    ),
]
FormatOpt = Annotated[
    Format,
    typer.Option(
        "--format",
        envvar="NORWOODKIT_FORMAT",
        case_sensitive=False,
        help="text: a table; github: GitHub Actions annotations (::error file=...::). "
        "Default from $NORWOODKIT_FORMAT; the option wins.",
    ),
]
MinSeverityOpt = Annotated[
    Severity,
    typer.Option(
        "--min-severity",
        case_sensitive=False,
        help="Show findings this bad or worse (failing ones always); files keep everything.",
    ),
]


@dataclass(frozen=True)
class Reports:
    """What a gate was asked to write and show, beside its own result."""

    junit: Path | None = None
    sarif: Path | None = None
    fmt: Format = Format.TEXT
    least: Severity = Severity.WARNING
    json_output: bool = False

    def guard(
        self, dataset_root: Path | Location | None, inputs: tuple[Path | Location | None, ...] = ()
    ) -> None:
        """Refuse the report paths before any work (``paths.guard_output``)."""
        for parameter, path in (("junit", self.junit), ("sarif", self.sarif)):
            if path is not None:
                guard_output(path, parameter, dataset_root=dataset_root, kind="file", inputs=inputs)

    @property
    def table(self) -> bool:
        """Whether the terminal view is a table (not ``--json``, not ``--format github``)."""
        return not self.json_output and self.fmt is Format.TEXT

    def emit(self, gate: Gate) -> None:
        """Write the asked report files (atomically) and print the annotations.

        Annotations go to stdout, or to stderr with ``--json`` so that stdout holds only the
        JSON document (the runner reads workflow commands from both).
        """
        # Each format is imported only when asked for: most runs write none.
        if self.junit is not None:
            from norwoodkit.atomic import write_text_atomic
            from norwoodkit.reporting.junit import junit_xml

            write_text_atomic(self.junit, junit_xml(gate))
        if self.sarif is not None:
            from norwoodkit.atomic import write_text_atomic
            from norwoodkit.reporting.sarif import sarif_text

            write_text_atomic(self.sarif, sarif_text(gate))
        if self.fmt is Format.GITHUB:
            from norwoodkit.reporting.github import github_annotations

            lines = github_annotations(gate, self.least)
            stream = sys.stderr if self.json_output else sys.stdout
            stream.write("".join(line + "\n" for line in lines))
