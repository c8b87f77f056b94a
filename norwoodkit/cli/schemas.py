"""The JSON Schemas (draft 2020-12) of every ``--json`` document, declared once as Python data.

``tools/json_schemas.py`` writes them to ``docs/schemas/`` (a test checks the files are current);
tests validate each command's real output against them. Every document starts with the envelope
that ``cli/contract.py`` adds (``schema_version``, ``command``, ``ok``, ``exit_code``); a result is
described by ``<command>.json``, a failure (exit 2, 3, 130) by ``error.json``. Keys may be added
without a new ``schema_version`` (readers ignore keys they do not know), so objects stay open.

Vocabularies (severities, duplicate tiers and kinds, stats tables and facts) come from the
library, so a schema cannot drift from what the commands print.
"""

from __future__ import annotations

from typing import Any

from norwoodkit.cli.contract import (
    EXIT_BUG,
    EXIT_FOUND,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    GROUP,
    SCHEMA_VERSION,
)

DRAFT = "https://json-schema.org/draft/2020-12/schema"
#: The commands whose ``--json`` document is described here, in ``--help`` order.
COMMANDS = (
    "validate",
    "dedupe",
    "split",
    "pack",
    "verify",
    "stats",
    "report",
    "bench-load",
    "sample",
)

Schema = dict[str, Any]

INT: Schema = {"type": "integer"}
NUM: Schema = {"type": "number"}
STR: Schema = {"type": "string"}
BOOL: Schema = {"type": "boolean"}
NULL_STR: Schema = {"type": ["string", "null"]}
NULL_NUM: Schema = {"type": ["number", "null"]}
NULL_INT: Schema = {"type": ["integer", "null"]}
SCALAR: Schema = {"type": ["string", "number", "boolean", "null"]}


def obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    """An object with these keys (``required`` must be present, ``optional`` may be)."""
    return {
        "type": "object",
        "required": list(required),
        "properties": {**required, **(optional or {})},
    }


def array(items: Schema) -> Schema:
    """A list whose every item is ``items``."""
    return {"type": "array", "items": items}


def mapping(values: Schema) -> Schema:
    """An object keyed by names the data decides (split names, stages), each value ``values``."""
    return {"type": "object", "additionalProperties": values}


def _finding() -> Schema:
    from norwoodkit.findings import Severity

    return obj(
        {
            "code": STR,
            "severity": {"enum": [s.value for s in Severity]},
            "subject": NULL_STR,
            "path": NULL_STR,
            "message": STR,
            "line": NULL_INT,
        }
    )


def _counts() -> Schema:
    from norwoodkit.findings import Severity

    return obj({s.value: INT for s in Severity})


def _report() -> dict[str, Schema]:
    """A findings report: ``validate``, ``verify``, ``split --check``."""
    return {
        "strict": BOOL,
        "subjects": INT,
        "images": INT,
        "counts": _counts(),
        "findings": array(_finding()),
    }


def _validate() -> Schema:
    threshold = obj({"value": NULL_NUM, "source": STR, "calibrated": NULL_NUM, "floor": NULL_NUM})
    entry = obj(
        {
            "view": STR,
            "measure": STR,
            "photos": INT,
            "calibrated": BOOL,
            "typical": NULL_NUM,
            "thresholds": mapping(threshold),
            "edges": array(NUM),
            "counts": array(INT),
        }
    )
    calibration = obj({"min_photos": INT, "thresholds_file": NULL_STR, "measures": array(entry)})
    # with --quality-calibrate
    return _document("validate", _report(), {"quality_calibration": calibration})


def _dedupe() -> Schema:
    from norwoodkit.dedupe import Kind, Tier

    member = obj(
        {
            "path": STR,
            "subject_id": STR,
            "view": NULL_STR,
            "keeper": BOOL,
            "distance_to_keeper": INT,
        }
    )
    group = obj(
        {
            "group": INT,
            "tier": {"enum": [t.value for t in Tier]},
            "kind": {"enum": [k.value for k in Kind]},
            "size": INT,
            "subjects": STR,
            "max_distance": INT,
            "keeper": STR,
            "split_from_chain": BOOL,
            "mirrored": BOOL,
            "members": array(member),
        }
    )
    counts = obj(
        {
            "images": INT,
            "compared": INT,
            "not_compared": INT,
            "pairs": INT,
            "pairs_by_kind_and_tier": mapping(INT),
            "groups": INT,
            "chains_split": INT,
        }
    )
    histogram = obj({"pairs": INT, "histogram": array(INT)}, {p: INT for p in _PERCENTILES})
    not_compared = obj({"path": STR, "subject_id": STR, "view": NULL_STR, "reason": STR})
    body = {
        "thresholds": obj({"same": INT, "near": INT, "mirror": BOOL}),
        "counts": counts,
        "groups": array(group),
        "not_compared": array(not_compared),
    }
    return _document("dedupe", body, {"calibration": mapping(histogram)})  # with --calibrate


_PERCENTILES = ("min", "p0.1", "p1", "p50")


def _split() -> Schema:
    """Either a split made (with its assignment) or a split file audited (``--check``)."""
    per_split = obj(
        {
            "split": STR,
            "subjects": INT,
            "groups": INT,
            "share": NUM,
            "target_share": NUM,
            "size_dev_pp": NULL_NUM,
            "max_stage_dev_pp": NULL_NUM,
            "max_age_dev_pp": NULL_NUM,
        }
    )
    bounds = ("max_stage_dev_pp", "max_age_dev_pp", "max_size_dev_pp")
    quality = obj(
        {
            "per_split": array(per_split),
            "stage_shares": mapping(mapping(NULL_NUM)),
            **{k: NULL_NUM for k in (*bounds, "stage_bound_pp", "age_bound_pp")},
        }
    )
    row = {
        "type": "object",
        "required": ["subject_id", "group_id"],
        "properties": {"subject_id": STR, "split": STR, "fold": INT, "group_id": STR},
        "oneOf": [{"required": ["split"]}, {"required": ["fold"]}],
    }
    made = {
        "mode": {"enum": ["ratios", "folds"]},
        "names": array(STR),
        "ratios": {"type": ["array", "null"], "items": NUM},
        "folds": NULL_INT,
        "stratify": array(STR),
        "seed": INT,
        "subjects": INT,
        "images": INT,
        "target_sizes": array(INT),
        "sizes_met": BOOL,
        "merged_groups": INT,
        "excluded": array(obj({"subject_id": STR, "reason": STR})),
        "quality": quality,
        "assignment": array(row),
    }
    merge = obj(
        {
            "column": STR,
            "label": STR,
            "members": array(STR),
            "member_subjects": array(INT),
            "subjects": INT,
            "minimum": INT,
        }
    )
    merged = {"strata_merges": array(merge)}  # only when strata were merged
    return {"oneOf": [_document("split", made, merged), _document("split", _report())]}


def _pack() -> dict[str, Schema]:
    split = obj({"rows": INT, "images": INT, "subjects": INT, "stage_counts": mapping(INT)})
    return {
        "out": STR,
        "rows": INT,
        "splits": mapping(split),
        "shards": INT,
        "resumed_shards": array(STR),
        "excluded": array(obj({"path": STR, "subject_id": STR, "reason": STR})),
        "notes": array(_finding()),
    }


def _stats() -> dict[str, Schema]:
    from norwoodkit.stats_render import FACT_LABELS, TABLE_TITLES

    fact = {"type": ["string", "number", "null", "array"], "items": SCALAR}
    table = array(mapping(SCALAR))
    return {
        "dataset": STR,
        "parameters": obj({"folds": INT, "age_bins": array(STR)}),
        "facts": obj({name: fact for name in FACT_LABELS}),
        "tables": obj({name: table for name in TABLE_TITLES}),
    }


def _report_html() -> dict[str, Schema]:
    return {
        "out": STR,
        "bytes": INT,
        "plots": NULL_STR,
        "subjects": INT,
        "images": INT,
        "counts": _counts(),
    }


def _bench_load() -> dict[str, Schema]:
    row = obj(
        {
            "workers": INT,
            "batch_size": INT,
            "decode": {"enum": ["cpu", "cuda"]},
            "size": array(INT),
            "images": INT,
            "seconds": NUM,
            "images_per_s": NUM,
            "mb_per_s": NUM,
        }
    )
    return {"split": STR, "results": array(row)}


def _sample() -> dict[str, Schema]:
    defect = obj({"code": STR, "subject": NULL_STR, "path": NULL_STR, "what": STR})
    return {"root": STR, "subjects": INT, "images": INT, "defects": array(defect)}


def _document(
    command: str, body: dict[str, Schema], optional: dict[str, Schema] | None = None
) -> Schema:
    """The envelope of a result (exit 0 or 1) and the command's own keys."""
    envelope: dict[str, Schema] = {
        "schema_version": {"const": SCHEMA_VERSION},
        "command": {"const": command},
        "ok": BOOL,
        "exit_code": {"enum": [EXIT_OK, EXIT_FOUND]},
    }
    return obj({**envelope, **body}, optional)


def error_schema() -> Schema:
    """The document of a run that failed: exit 2 (could not run), 3 (a bug), 130 (interrupted)."""
    return {
        "$schema": DRAFT,
        "title": "norwoodkit error document",
        "description": "What every `--json` run prints when it exits 2, 3 or 130.",
        **obj(
            {
                "schema_version": {"const": SCHEMA_VERSION},
                "command": {"enum": [*COMMANDS, GROUP]},
                "ok": {"const": False},
                "exit_code": {"enum": [EXIT_USAGE, EXIT_BUG, EXIT_INTERRUPTED]},
                "error": obj({"code": STR, "message": STR}),
            }
        ),
    }


def command_schema(command: str) -> Schema:
    """The schema of ``norwoodkit COMMAND --json``'s document when the command ran (exit 0/1)."""
    bodies = {
        "pack": _pack,
        "verify": _report,
        "stats": _stats,
        "report": _report_html,
        "bench-load": _bench_load,
        "sample": _sample,
    }
    special = {"validate": _validate, "dedupe": _dedupe, "split": _split}
    shape = special[command]() if command in special else _document(command, bodies[command]())
    return {
        "$schema": DRAFT,
        "title": f"norwoodkit {command} --json",
        "description": f"What `norwoodkit {command} --json` prints when it ran (exit 0 or 1).",
        **shape,
    }


def all_schemas() -> dict[str, Schema]:
    """Every schema by its file name in ``docs/schemas/``."""
    schemas: dict[str, Schema] = {f"{c}.json": command_schema(c) for c in COMMANDS}
    schemas["error.json"] = error_schema()
    return schemas
