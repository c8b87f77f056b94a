"""A gate's findings for CI: JUnit XML, GitHub Actions annotations, SARIF 2.1.0.

Each format is a module of its own and reads one value, a :class:`Gate`: which checks ran, over
which units (subjects, shards), what they found and which findings fail the gate. ``gates``
builds that value from what each command returns.
"""

from __future__ import annotations

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
