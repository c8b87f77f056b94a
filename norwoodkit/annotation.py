"""The annotation file -> typed records. The only module that reads the annotation file.

``read_annotation`` finds the file (the one given, else the first of ``ANNOTATION_NAMES`` at the
root, else the single .json or .csv there), decodes its text (UTF-8, else Latin-1 with a note),
reads its records (JSON in any of the vendor shapes, or the vendor's CSV), matches each record's
keys to canonical fields (the caller's ``fields`` first, then ``FIELD_ALIASES``) and parses them
into ``AnnotationRecord``s: one canonical subject id, stage, age, gender, ethnicity, the image
paths the record lists, and every other field kept as an extra. ``dataset.load`` is its caller;
no other module opens the annotation file.

Problems with single records are notes (findings); only a file that cannot be read as records at
all raises ``AnnotationError``.
"""

from __future__ import annotations

import functools
import math
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from norwoodkit.annotation_csv import read_csv_records
from norwoodkit.annotation_text import JsonObject, Where, check_regular, parse_json, read_text
from norwoodkit.errors import AnnotationError, LabelError, ParameterError
from norwoodkit.findings import Finding, finding
from norwoodkit.labels import (
    IMAGE_EXTENSIONS,
    VIEWS,
    View,
    canonical_id,
    parse_stage,
    parse_view,
    readable_name,
    short_repr,
)
from norwoodkit.storage import Location

__all__ = [
    "ANNOTATION_NAMES",
    "CANONICAL_FIELDS",
    "FIELD_ALIASES",
    "IMAGE_LIST_KEYS",
    "WRAPPER_KEYS",
    "AnnotationRecord",
    "read_annotation",
]

#: Canonical field -> the names vendors use for it (compared after ``_norm_key``).
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "subject_id": (
        "subject_id",
        "id",
        "person_id",
        "personid",
        "person",
        "subject",
        "patient_id",
        "patient",
        "uid",
        "participant_id",
    ),
    "label": (
        "label",
        "class",
        "stage",
        "norwood",
        "norwood_stage",
        "norwood_hamilton",
        "hamilton_norwood",
        "grade",
        "class_label",
    ),
    "age": ("age", "age_years"),
    "gender": ("gender", "sex"),
    "ethnicity": ("ethnicity", "race", "ethnic_group", "ethnic"),
}
CANONICAL_FIELDS = tuple(FIELD_ALIASES) + tuple(v.value for v in VIEWS)

#: Keys under which vendors wrap the list (or object) of records.
WRAPPER_KEYS = (
    "annotations",
    "annotation",
    "data",
    "people",
    "persons",
    "subjects",
    "records",
    "items",
    "samples",
    "entries",
    "patients",
    "participants",
)

#: Record keys that hold a subject's images as a list or a view -> path object.
IMAGE_LIST_KEYS = ("images", "files", "views", "paths", "photos", "image_paths")

#: Annotation files looked for at the root, in order, when none is given.
ANNOTATION_NAMES = (
    "annotation.json",
    "annotations.json",
    "annotation.csv",
    "annotations.csv",
    "labels.json",
    "labels.csv",
    "metadata.json",
    "metadata.csv",
)

#: How to name the annotation file, for a Python caller and on the command line alike.
_PASS_ANNOTATIONS = "annotations=FILE, or --annotations FILE on the command line"
#: How to map the id field, for a Python caller and on the command line alike.
_MAP_ID = "fields={'subject_id': NAME}, or --field subject_id=NAME on the command line"


@dataclass
class AnnotationRecord:
    """One subject's record, parsed: canonical values, listed image paths, other fields."""

    subject_id: str
    where: str  # locates the record in the file for messages ("record #3", "line 7")
    stage: int | None = None
    stage_variant: str | None = None
    raw_label: str | None = None
    age: int | None = None
    gender: str | None = None
    ethnicity: str | None = None
    views: dict[View, str] = field(default_factory=dict)  # view -> path as written
    loose_paths: list[str] = field(default_factory=list)  # listed paths with no view key
    extras: dict[str, Any] = field(default_factory=dict)


def read_annotation(
    root: Where,
    annotations: str | os.PathLike[str] | Location | None,
    fields: Mapping[str, str],
    notes: list[Finding],
) -> tuple[Where, list[AnnotationRecord]]:
    """The annotation file's path and its records; problems with single records go to ``notes``.

    Raises:
        ParameterError: ``fields`` names an unknown canonical field, or ``annotations`` is not a
            file.
        AnnotationError: no annotation file, or one that cannot be read as records.
    """
    field_map = _check_field_map(fields)
    path = _find_annotation(root, annotations)
    records = _parse_records(_read_records(path, notes), path.name, field_map, notes)
    return path, records


# --------------------------------------------------------------------------- the file


def _check_field_map(fields: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for canonical, theirs in fields.items():
        key = "subject_id" if canonical == "id" else canonical
        if key not in CANONICAL_FIELDS:
            raise ParameterError(
                "fields",
                f"unknown field '{canonical}' (in {canonical}={theirs}); "
                f"known fields: {', '.join(CANONICAL_FIELDS)}",
            )
        out[key] = theirs
    return out


def _find_annotation(root: Where, annotations: str | os.PathLike[str] | Location | None) -> Where:
    if isinstance(annotations, Location):
        return annotations
    if annotations is not None:
        path = Path(annotations)
        if not os.path.lexists(path):
            raise ParameterError(
                "annotations",
                f"{path} is not a file; pass the path of the annotation file",
                code="annotation-missing",
            )
        check_regular(path, root, given=True)
        return path
    if isinstance(root, Location):  # dataset.load finds a store's annotation in its listing
        raise ParameterError("annotations", f"{root}: name the annotation file's URL")
    for name in ANNOTATION_NAMES:
        if os.path.lexists(root / name):
            check_regular(root / name, root, given=False)
            return root / name
    candidates = sorted(
        p
        for p in root.iterdir()
        if p.suffix.lower() in (".json", ".csv")
        and not p.name.startswith(".")
        and readable_name(p.name)
        and not p.is_dir()
    )
    if len(candidates) == 1:
        check_regular(candidates[0], root, given=False)
        return candidates[0]
    looked = ", ".join(ANNOTATION_NAMES[:2])
    extra = f" (found several: {', '.join(p.name for p in candidates)})" if candidates else ""
    raise AnnotationError(
        f"{root}: no annotation file found{extra}; looked for {looked} and a "
        f"single .json or .csv at the root; name the file ({_PASS_ANNOTATIONS})",
        code="annotation-missing",
    )


def _read_records(path: Where, notes: list[Finding]) -> list[tuple[str, dict[str, Any]]]:
    """Records as (where, fields) pairs; ``where`` locates the record in the file for messages."""
    text = read_text(path, notes)
    if path.suffix.lower() == ".csv":
        return read_csv_records(path, text, notes)
    doc, repeats = parse_json(path, text)
    records, keyed = _records_from_json(path, doc)
    for r in repeats:
        # Entries repeated in an object keyed by person id are records of their own: two
        # records for one subject, reported as duplicate-id when they are parsed.
        if r.obj is not keyed:
            notes.append(
                finding(
                    "duplicate-key",
                    f"{path.name} {r.where}: the key {short_repr(r.key)} appears more than "
                    "once; the first value is used - remove or rename the repeat",
                    path=path.name,
                )
            )
    return records


def _records_from_json(
    path: Where, doc: Any
) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any] | None]:
    """The records, and the object keyed by person id when that is the shape."""
    shape_help = (
        "expected a list of person records, an object keyed by person id, or either "
        "under a key such as 'annotations' or 'data'"
    )
    if isinstance(doc, dict):
        for key, value in doc.items():
            if _norm_key(key) in WRAPPER_KEYS and isinstance(value, (list, dict)):
                return _records_from_json(path, value)
        entries = doc.entries() if isinstance(doc, JsonObject) else list(doc.items())
        dict_items = [(k, v) for k, v in entries if isinstance(v, dict)]
        if dict_items:
            # An object keyed by person id; scalar entries beside them (version, date) are metadata.
            out = []
            for key, value in dict_items:
                rec = dict(value)
                rec.setdefault("__key_id__", key)
                out.append((f"key {short_repr(key)}", rec))
            return out, doc
        lists = [v for v in doc.values() if isinstance(v, list)]
        if len(lists) == 1:
            return _records_from_json(path, lists[0])
        raise AnnotationError(
            f"{path}: unrecognised annotation shape (an object with keys "
            f"{', '.join(short_repr(k) for k in list(doc)[:8])}); {shape_help}",
            code="annotation-shape",
        )
    if isinstance(doc, list):
        bad = [i for i, r in enumerate(doc) if not isinstance(r, dict)]
        if bad:
            raise AnnotationError(
                f"{path}: record #{bad[0]} is a {type(doc[bad[0]]).__name__}, "
                f"not an object; {shape_help}",
                code="annotation-shape",
            )
        return [(f"record #{i}", r) for i, r in enumerate(doc)], None
    raise AnnotationError(
        f"{path}: the annotation is a bare {type(doc).__name__}, not records; {shape_help}",
        code="annotation-shape",
    )


# --------------------------------------------------------------------------- records


_KEY_NOISE = re.compile(r"[\s\-]+")


def _norm_key(key: object) -> str:
    return _norm_text(str(key))


@functools.lru_cache(maxsize=128)
def _norm_text(key: str) -> str:
    # Cached: every record repeats the same few field names.
    return _KEY_NOISE.sub("_", key.strip().casefold())


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _text(value: Any) -> str | None:
    if _blank(value):
        return None
    return str(value).strip()


#: Ages this large are no number of years; the table stores ages as 64-bit integers.
_AGE_LIMIT = 10**9


def _parse_age(value: Any) -> int:
    """A whole number of years; raises ValueError with a reason otherwise.

    Digits are any Unicode decimal digits, as in ``labels.canonical_id`` (Arabic-Indic 45 is 45).
    """
    number = _age_number(value)
    if abs(number) >= _AGE_LIMIT:
        raise ValueError("too large to be a number of years")
    return number


def _age_number(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("a boolean is not an age")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError("not a whole number of years")
    if isinstance(value, str):
        s = value.strip()
        if len(s) > 20:
            # Also keeps int() under Python's limit on the digits it converts.
            raise ValueError("too long to be a number of years")
        if re.fullmatch(r"[+-]?\d+", s):
            return int(s)
        if re.fullmatch(r"[+-]?\d+\.0*", s):
            return int(s.split(".")[0])
        if re.fullmatch(r"[+-]?\d*\.\d+", s):
            raise ValueError("not a whole number of years")
        raise ValueError("not a number")
    raise ValueError(f"a {type(value).__name__} is not an age")


def _parse_records(
    raw: list[tuple[str, dict[str, Any]]],
    source: str,
    field_map: dict[str, str],
    notes: list[Finding],
) -> list[AnnotationRecord]:
    records: dict[str, AnnotationRecord] = {}
    first_seen: dict[str, tuple[str, object]] = {}
    without_id = 0
    seen_keys: set[str] = set()
    for where, rec in raw:
        seen_keys.update(str(k) for k in rec if k != "__key_id__")
        # Which key of a record plays which canonical role: the caller's fields first, then aliases.
        roles = _assign_roles(rec, field_map)
        id_value = rec[roles["subject_id"]] if "subject_id" in roles else rec.get("__key_id__")
        try:
            sid = canonical_id(_nfc(id_value))
        except LabelError as exc:
            without_id += 1
            notes.append(_id_note(exc, source, where))
            continue
        if sid in records:
            prev_where, prev_value = first_seen[sid]
            notes.append(
                finding(
                    "duplicate-id",
                    f"{source}: {where} (id {short_repr(id_value)}) and {prev_where} (id "
                    f"{short_repr(prev_value)}) are both subject {sid}; the first is used - "
                    "merge or renumber them",
                    subject=sid,
                    path=source,
                    line=_line(where),
                )
            )
            continue
        first_seen[sid] = (where, id_value)
        records[sid] = _record(AnnotationRecord(sid, where), rec, roles, source, notes)
    if raw and not records and without_id == len(raw):
        keys = ", ".join(sorted(seen_keys)[:12]) or "none"
        raise AnnotationError(
            f"{source}: no record has a subject id (fields seen: {keys}); map "
            f"the id field ({_MAP_ID})",
            code="record-without-id",
        )
    return list(records.values())


def _id_note(exc: LabelError, source: str, where: str) -> Finding:
    """The note for a record whose id cannot be read: it is left out of the table."""
    code = exc.code if exc.code in ("record-without-id", "id-invalid") else "record-without-id"
    return finding(
        code,
        # Findings are the data's report, read at the command line; their wording is fixed
        # output (reports, JUnit files), so it keeps the flag.
        f"{source} {where}: {exc.message}; the record is left out "
        "until it has an id (set one, or map the id field with --field subject_id=NAME)",
        path=source,
        line=_line(where),
    )


def _line(where: str) -> int | None:
    """The line a CSV record's ``where`` names ("line 7"); a JSON record's has none."""
    number = where.removeprefix("line ")
    return int(number) if number != where and number.isdigit() else None


def _nfc(value: Any) -> Any:
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


def _assign_roles(rec: dict[str, Any], field_map: dict[str, str]) -> dict[str, str]:
    roles: dict[str, str] = {}
    by_norm = {_norm_key(k): k for k in rec if k != "__key_id__"}
    for canonical, theirs in field_map.items():
        if theirs in rec:
            roles[canonical] = theirs
        elif _norm_key(theirs) in by_norm:
            roles[canonical] = by_norm[_norm_key(theirs)]
    taken = set(roles.values())
    for canonical, aliases in FIELD_ALIASES.items():
        if canonical in roles:
            continue
        for alias in aliases:
            key = by_norm.get(alias)
            if key is not None and key not in taken:
                roles[canonical] = key
                taken.add(key)
                break
    return roles


def _record(
    r: AnnotationRecord,
    rec: dict[str, Any],
    roles: dict[str, str],
    source: str,
    notes: list[Finding],
) -> AnnotationRecord:
    """Fill ``r`` from the raw record ``rec``: stage, age, gender, ethnicity, images, extras."""
    _read_stage(r, rec.get(roles["label"]) if "label" in roles else None, source, notes)
    _read_age(r, rec.get(roles["age"]) if "age" in roles else None, source, notes)
    r.gender = _text(rec.get(roles["gender"])) if "gender" in roles else None
    r.ethnicity = _text(rec.get(roles["ethnicity"])) if "ethnicity" in roles else None
    _read_images_and_extras(r, rec, roles)
    return r


def _read_stage(r: AnnotationRecord, label: Any, source: str, notes: list[Finding]) -> None:
    r.raw_label = None if label is None else str(label)
    try:
        st = parse_stage(label)
        r.stage, r.stage_variant = st.number, st.variant
    except LabelError as exc:
        notes.append(
            finding(
                exc.code if exc.code.startswith("stage-") else "stage-invalid",
                f"{source} {r.where}, subject {r.subject_id}: {exc.message}",
                subject=r.subject_id,
                path=source,
                line=_line(r.where),
            )
        )


def _read_age(r: AnnotationRecord, age: Any, source: str, notes: list[Finding]) -> None:
    sid = r.subject_id
    if _blank(age):
        notes.append(
            finding(
                "age-missing",
                f"{source} {r.where}, subject {sid}: no age; add it "
                "(whole years) or leave it and expect the subject in 'missing'",
                subject=sid,
                path=source,
                line=_line(r.where),
            )
        )
        return
    try:
        r.age = _parse_age(age)
    except ValueError as exc:
        notes.append(
            finding(
                "age-invalid",
                f"{source} {r.where}, subject {sid}: age {short_repr(age)} is "
                f"{exc}; write whole years, e.g. 45",
                subject=sid,
                path=source,
                line=_line(r.where),
            )
        )


_VIEW_NAMES = frozenset(v.value for v in VIEWS)


def _read_images_and_extras(
    r: AnnotationRecord, rec: dict[str, Any], roles: dict[str, str]
) -> None:
    """The record's image paths (per view, or as a list) into ``r``; other fields as extras."""
    used = set(roles.values()) | {"__key_id__"}
    view_keys = {c: k for c, k in roles.items() if c in _VIEW_NAMES}
    for canonical, key in view_keys.items():
        path = _text(rec.get(key))
        if path is not None:
            r.views[View(canonical)] = path
    for key, value in rec.items():
        if key in used:
            continue
        view = (
            parse_view(str(key)) if not str(key).lower().endswith(tuple(IMAGE_EXTENSIONS)) else None
        )
        if view is not None and isinstance(value, str) and view not in r.views:
            if value.strip():
                r.views[view] = value.strip()
            continue
        if _norm_key(key) in IMAGE_LIST_KEYS and isinstance(value, (list, dict)):
            _collect_image_list(value, r)
            continue
        r.extras[str(key)] = value


def _collect_image_list(value: list[Any] | dict[str, Any], r: AnnotationRecord) -> None:
    items: Iterable[tuple[Any, Any]]
    items = value.items() if isinstance(value, dict) else ((None, v) for v in value)
    for key, item in items:
        view_name: Any = key
        path: Any = item
        if isinstance(item, dict):
            lowered = {_norm_key(k): v for k, v in item.items()}
            path = lowered.get("path") or lowered.get("file") or lowered.get("filename")
            view_name = lowered.get("view", key)
        if not isinstance(path, str) or not path.strip():
            continue
        view = parse_view(str(view_name)) if view_name is not None else None
        if view is not None and view not in r.views:
            r.views[view] = path.strip()
        else:
            r.loose_paths.append(path.strip())
