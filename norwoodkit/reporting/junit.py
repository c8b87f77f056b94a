"""A ``Gate`` as JUnit XML: one test case per check group and unit that ran, and no other.

The layout follows the common JUnit XSD: ``<testsuites>`` holding one ``<testsuite>`` whose
``<testcase>`` elements each have at most one ``<failure>``; ``tests``, ``failures``, ``errors``
and ``skipped`` add up on both levels. A failing case carries ``file`` (relative to the gate's
root) and ``line`` (where the finding knows one) of its first failing finding, as pytest writes
them and CI test reporters read them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from xml.etree import ElementTree as ET

from norwoodkit.reporting.gate import DATASET, Gate, Outcome

#: What XML 1.0 cannot hold, even escaped: C0 controls but tab, newline and CR; surrogates;
#: U+FFFE and U+FFFF.
_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 cannot hold replaced by U+FFFD."""
    return _XML_ILLEGAL.sub("\ufffd", text)


def junit_xml(gate: Gate) -> str:
    """The gate as a JUnit XML document (UTF-8 text, well formed whatever the names hold).

    Failing findings are the case's failure; the others (warnings, infos, and with ``dedupe``
    the pairs ``--fail-on`` does not count) go to its ``system-out``, so CI shows them without
    failing.
    """
    by_case: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    for o in gate.outcomes:
        by_case[(_group(o), gate.unit(o.finding))].append(o)
    name = f"norwoodkit.{gate.command}"
    suites = ET.Element("testsuites", name=name)
    suite = ET.SubElement(suites, "testsuite", name=name)
    cases = failures = 0
    for unit in (DATASET, *gate.units):
        for group in gate.groups:
            cases += 1
            failures += _case(suite, gate, group, unit, by_case.get((group, unit), []))
    for element in (suites, suite):
        element.set("tests", str(cases))
        element.set("failures", str(failures))
        element.set("errors", "0")
        element.set("skipped", "0")
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _group(o: Outcome) -> str:
    from norwoodkit.findings import CODES

    return CODES[o.finding.code].check


def _case(suite: ET.Element, gate: Gate, group: str, unit: str, found: list[Outcome]) -> int:
    """One test case; 1 when it fails."""
    case = ET.SubElement(
        suite,
        "testcase",
        classname=f"norwoodkit.{gate.command}.{group}",
        name=xml_safe(f"{group}[{unit}]"),
    )
    failing = [o for o in found if o.fails]
    if failing:
        first = failing[0].finding
        where = gate.file(first)
        if where is not None:
            case.set("file", xml_safe(where))
        if first.line is not None:
            case.set("line", str(first.line))
        failure = ET.SubElement(
            case,
            "failure",
            type=first.code,
            message=xml_safe(f"{len(failing)} finding(s): {first.message}"),
        )
        failure.text = _lines(gate, failing)
    rest = [o for o in found if not o.fails]
    if rest:
        ET.SubElement(case, "system-out").text = _lines(gate, rest)
    return 1 if failing else 0


def _lines(gate: Gate, outcomes: list[Outcome]) -> str:
    """Findings as lines of a failure or system-out: severity, code, file:line, message."""
    lines = []
    for o in outcomes:
        f = o.finding
        where = gate.file(f)
        at = "" if where is None else f" {where}" + ("" if f.line is None else f":{f.line}")
        lines.append(f"[{f.severity.value}] {f.code}{at}: {f.message}")
    return xml_safe("\n".join(lines))
