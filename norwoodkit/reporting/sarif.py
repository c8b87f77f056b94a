"""A ``Gate`` as a SARIF 2.1.0 log: one rule per finding code, one result per finding.

Locations are URIs relative to the gate's root (``uriBaseId`` ``ROOT``, whose absolute
``file:`` URI is in ``originalUriBaseIds``); a region is given where a finding knows its line.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from norwoodkit.findings import CODES
from norwoodkit.reporting.gate import Gate, Outcome, plain
from norwoodkit.storage import Location

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {"error": "error", "warning": "warning", "notice": "note"}


def sarif_log(gate: Gate) -> dict[str, Any]:
    """The SARIF log of ``gate`` as a JSON-ready dict (every finding, whatever its severity)."""
    from norwoodkit import __version__

    ran = {code for code, info in CODES.items() if info.check in gate.groups}
    codes = sorted(ran | {o.finding.code for o in gate.outcomes})
    index = {code: i for i, code in enumerate(codes)}
    rules = [
        {
            "id": code,
            "name": code,
            "shortDescription": {"text": CODES[code].summary},
            "defaultConfiguration": {"level": _default_level(code)},
            "properties": {"check": CODES[code].check},
        }
        for code in codes
    ]
    return {
        "version": "2.1.0",
        "$schema": SCHEMA,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "norwoodkit",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "automationDetails": {"id": f"norwoodkit/{gate.command}/"},
                "originalUriBaseIds": {"ROOT": {"uri": _root_uri(gate)}},
                "results": [_result(gate, o, index) for o in gate.outcomes],
                "invocations": [{"executionSuccessful": True}],
            }
        ],
    }


def sarif_text(gate: Gate) -> str:
    """``sarif_log`` as the text of a ``.sarif`` file."""
    return json.dumps(sarif_log(gate), indent=2, ensure_ascii=False) + "\n"


def _default_level(code: str) -> str:
    """The level a code's findings have when nothing but their severity decides."""
    return {"error": "error", "warning": "warning", "info": "note"}[CODES[code].severity.value]


def _root_uri(gate: Gate) -> str:
    root = gate.root
    uri = root.url if isinstance(root, Location) else root.resolve().as_uri()
    return plain(uri if uri.endswith("/") else uri + "/")


def _uri(path: str) -> str:
    """A root-relative POSIX path as a relative URI reference (percent-encoded UTF-8)."""
    try:
        raw = path.encode("utf-8", "surrogateescape")  # a non-UTF-8 name: its own bytes
    except UnicodeEncodeError:
        raw = plain(path).encode("utf-8")
    return quote(raw, safe="/")


def _result(gate: Gate, o: Outcome, index: dict[str, int]) -> dict[str, Any]:
    f = o.finding
    result: dict[str, Any] = {
        "ruleId": f.code,
        "ruleIndex": index[f.code],
        "level": _LEVELS[o.level],
        "message": {"text": plain(f.message)},
    }
    where = gate.file(f)
    if where is not None:
        location: dict[str, Any] = {"artifactLocation": {"uri": _uri(where)}}
        if f.path is not None:
            location["artifactLocation"]["uriBaseId"] = "ROOT"
        if f.line is not None:
            location["region"] = {"startLine": f.line}
        result["locations"] = [{"physicalLocation": location}]
    if f.subject is not None:
        result["properties"] = {"subject": plain(f.subject)}
    return result
