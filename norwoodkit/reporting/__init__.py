"""A gate's findings for CI: JUnit XML, GitHub Actions annotations, SARIF 2.1.0.

Each format is a module of its own and reads one value, a :class:`Gate`: which checks ran, over
which units (subjects, shards), what they found and which findings fail the gate. ``gates``
builds that value from what each command returns.

Names are imported from their module on first use, so a run imports only the formats it writes
(a warm ``validate --json`` writes none; issue 15: start-up).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from norwoodkit import lazy

if TYPE_CHECKING:
    from norwoodkit.reporting.gate import Gate, Outcome
    from norwoodkit.reporting.gates import (
        audit_gate,
        dedupe_gate,
        split_targets_gate,
        validate_gate,
        verify_gate,
    )
    from norwoodkit.reporting.github import github_annotations
    from norwoodkit.reporting.junit import junit_xml
    from norwoodkit.reporting.sarif import sarif_log, sarif_text

__all__ = [
    "Gate",
    "Outcome",
    "audit_gate",
    "dedupe_gate",
    "github_annotations",
    "junit_xml",
    "sarif_log",
    "sarif_text",
    "split_targets_gate",
    "validate_gate",
    "verify_gate",
]

#: Each public name -> the module it lives in.
_HOMES = {
    "Gate": "gate",
    "Outcome": "gate",
    "audit_gate": "gates",
    "dedupe_gate": "gates",
    "split_targets_gate": "gates",
    "validate_gate": "gates",
    "verify_gate": "gates",
    "github_annotations": "github",
    "junit_xml": "junit",
    "sarif_log": "sarif",
    "sarif_text": "sarif",
}

if not TYPE_CHECKING:  # mypy sees the imports above; an unknown name stays an error for it
    __getattr__, __dir__ = lazy.exports(__name__, _HOMES, __all__)
