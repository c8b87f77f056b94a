"""The CI options every gate shares (``--junit``, ``--sarif``, ``--format``, ``--min-severity``),
declared once, and what they write and print."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from norwoodkit.cli.options import PlaceText
from norwoodkit.findings import Severity
from norwoodkit.paths import guard_output, guard_url
from norwoodkit.storage import Location, place

if TYPE_CHECKING:
    from norwoodkit.reporting import Gate


class Format(StrEnum):
    """How findings reach the terminal: a table, or GitHub Actions workflow commands."""

    TEXT = "text"
    GITHUB = "github"


JunitOpt = Annotated[
    PlaceText | None,
    typer.Option(
        "--junit",
        metavar="FILE|URL",
        parser=PlaceText,
        help="Also write JUnit XML here (a file or a URL): one test case per check that ran.",
    ),
]
SarifOpt = Annotated[
    PlaceText | None,
    typer.Option(
        "--sarif",
        metavar="FILE|URL",
        parser=PlaceText,
        help="Also write the findings here (a file or a URL) as SARIF 2.1.0 (code scanning).",
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

    junit: str | Path | None = None
    sarif: str | Path | None = None
    fmt: Format = Format.TEXT
    least: Severity = Severity.WARNING
    json_output: bool = False

    def places(self) -> dict[str, Path | Location]:
        """The asked report files by parameter: local paths, or URLs' Locations."""
        asked = (("junit", self.junit), ("sarif", self.sarif))
        return {name: place(text, parameter=name) for name, text in asked if text is not None}

    def guard(
        self, dataset_root: Path | Location | None, inputs: tuple[Path | Location | None, ...] = ()
    ) -> None:
        """Refuse the report paths before any work (``paths.guard_output``, ``guard_url``)."""
        for parameter, where in self.places().items():
            if isinstance(where, Location):
                guard_url(where, parameter, dataset_root=dataset_root, kind="file", inputs=inputs)
            else:
                guard_output(
                    where, parameter, dataset_root=dataset_root, kind="file", inputs=inputs
                )

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
        for parameter, where in self.places().items():
            from norwoodkit.atomic import write_text_atomic
            from norwoodkit.remote_out import staged

            with staged(where, "file") as local:
                write_text_atomic(local, _render(parameter, gate))
        if self.fmt is Format.GITHUB:
            from norwoodkit.reporting.github import github_annotations

            lines = github_annotations(gate, self.least)
            stream = sys.stderr if self.json_output else sys.stdout
            stream.write("".join(line + "\n" for line in lines))


def _render(parameter: str, gate: Gate) -> str:
    """The text of the ``junit`` or ``sarif`` file."""
    if parameter == "junit":
        from norwoodkit.reporting.junit import junit_xml

        return junit_xml(gate)
    from norwoodkit.reporting.sarif import sarif_text

    return sarif_text(gate)
