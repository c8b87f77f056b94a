"""``Gate``: what one CI gate ran and found, the single input of every report format."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

from norwoodkit.findings import Finding, Severity, at_least
from norwoodkit.storage import Location

#: How a finding is shown in CI: it fails the gate, or it is a warning or a note beside it.
Level = Literal["error", "warning", "notice"]

#: The unit a finding belongs to when no declared unit names it.
DATASET = "dataset"


@dataclass(frozen=True)
class Outcome:
    """One finding and whether it fails the gate (the gate's rule, not only the severity)."""

    finding: Finding
    fails: bool

    @property
    def level(self) -> Level:
        """``error`` when it fails the gate, else ``warning`` (or ``notice`` for info)."""
        if self.fails:
            return "error"
        return "notice" if self.finding.severity is Severity.INFO else "warning"

    def shown_at(self, least: Severity) -> bool:
        """Whether a view showing ``least`` or worse shows it: failing findings always are."""
        return self.fails or at_least(self.finding.severity, least)


@dataclass(frozen=True)
class Gate:
    """One run of a gate (``validate``, ``dedupe --fail-on``, ``split --check``, ...).

    Attributes:
        command: the command, as in ``norwoodkit.<command>`` names of JUnit suites.
        root: the folder finding paths are relative to (the dataset root, the pack folder),
            or its URL in a store.
        groups: the check groups that ran (``CODES[code].check``); JUnit has a case for each
            group and unit, and for nothing else.
        units: what the checks went through one by one (subject ids, shard paths); findings
            about anything else belong to the ``dataset`` unit.
        outcomes: every finding, sorted, with whether it fails.
        unit_field: the finding field that names its unit.
        default_file: the file a finding without a path is about (the audited split file).
    """

    command: str
    root: Path | Location
    groups: tuple[str, ...]
    units: tuple[str, ...]
    outcomes: tuple[Outcome, ...]
    unit_field: Literal["subject", "path"] = "subject"
    default_file: str | None = None

    @property
    def ok(self) -> bool:
        """True when no finding fails the gate."""
        return not any(o.fails for o in self.outcomes)

    @cached_property
    def _unit_set(self) -> frozenset[str]:
        return frozenset(self.units)

    def unit(self, f: Finding) -> str:
        """The unit ``f`` is about: its subject (or path), else ``dataset``."""
        value = f.subject if self.unit_field == "subject" else f.path
        return value if value is not None and value in self._unit_set else DATASET

    def file(self, f: Finding) -> str | None:
        """The file ``f`` is about, relative to ``root``; None when it names none."""
        return f.path if f.path is not None else self.default_file

    def shown(self, least: Severity) -> list[Outcome]:
        """The outcomes a view at ``least`` or worse shows (every failing one included)."""
        return [o for o in self.outcomes if o.shown_at(least)]


#: Lone surrogates (a file name that is not UTF-8) cannot be written as UTF-8 text.
_SURROGATE = re.compile("[\ud800-\udfff]")


def plain(text: str) -> str:
    """``text`` writable as UTF-8: each lone surrogate becomes U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)
