"""Dataset = root + one table. The only module that walks the folder or reads the annotation file.

``load(root)`` reads the annotation (JSON in any of the vendor shapes, or the vendor's CSV), walks
the subject folders once and returns a ``Dataset`` whose table has one row per image file plus one
placeholder row (``path`` null) per missing view. Problems met while reading are kept as findings
in ``Dataset.notes``; only problems that make the dataset unreadable raise.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import posixpath
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Self

import pandas as pd

from norwoodkit.columns import DATASET_COLUMNS, SUBJECT_COLUMNS
from norwoodkit.errors import AnnotationError, InputError, LabelError
from norwoodkit.findings import Finding, finding
from norwoodkit.labels import (
    IMAGE_EXTENSIONS,
    VIEWS,
    View,
    canonical_id,
    id_sort_key,
    is_junk,
    parse_stage,
    parse_view,
)

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


@dataclass(frozen=True)
class Dataset:
    """A dataset root, its one table and what was noticed while reading it."""

    root: Path
    table: pd.DataFrame
    annotation_file: Path | None = None
    image_root: str = ""
    notes: tuple[Finding, ...] = field(default_factory=tuple)

    @property
    def images(self) -> pd.DataFrame:
        """Rows that name an image file (missing-view placeholders left out)."""
        return self.table[self.table["path"].notna()]

    @property
    def subjects(self) -> pd.DataFrame:
        """One row per subject with its subject-level columns."""
        cols = [c.name for c in SUBJECT_COLUMNS]
        return self.table[cols].drop_duplicates("subject_id").reset_index(drop=True)

    def with_table(self, table: pd.DataFrame) -> Self:
        """The same dataset (of the same type) with a new table (steps add columns this way)."""
        return replace(self, table=table)


@dataclass(frozen=True)
class ProbedDataset(Dataset):
    """A ``Dataset`` whose table carries the probe columns (``probe.run`` is the only maker).

    A type, not a runtime check: a function that needs probe columns takes a ``ProbedDataset``,
    so mypy stops a caller that skipped the probe.
    """

    @classmethod
    def of(cls, dataset: Dataset, table: pd.DataFrame) -> ProbedDataset:
        """``dataset`` with ``table`` (which holds the probe columns), as a ProbedDataset."""
        return cls(
            root=dataset.root,
            table=table,
            annotation_file=dataset.annotation_file,
            image_root=dataset.image_root,
            notes=dataset.notes,
        )


def load(
    root: str | os.PathLike[str],
    annotations: str | os.PathLike[str] | None = None,
    fields: Mapping[str, str] | None = None,
) -> Dataset:
    """Read a dataset folder and its annotation file into a ``Dataset``.

    Args:
        root: the dataset folder (subject folders directly inside it, or inside one subfolder
            such as ``files/``).
        annotations: the annotation file; default: the first of ``ANNOTATION_NAMES`` at the root.
        fields: ``canonical -> their field name`` for fields the aliases do not cover, e.g.
            ``{"label": "hair_loss_grade", "front": "img_face"}``.

    Raises:
        InputError: the root is missing or not a folder.
        AnnotationError: no annotation file, or one that cannot be read as records.
    """
    root_path = Path(root)
    if not root_path.exists():
        raise InputError(
            f"{root_path}: no such folder; pass the dataset folder that holds "
            "annotation.json and the subject folders",
            code="root-missing",
        )
    if not root_path.is_dir():
        raise InputError(
            f"{root_path}: is a file, not a folder; pass the dataset folder that "
            "holds annotation.json and the subject folders",
            code="root-not-folder",
        )
    field_map = _check_field_map(fields or {})
    notes: list[Finding] = []
    ann_path = _find_annotation(root_path, annotations)
    records = _parse_records(_read_records(ann_path, notes), ann_path.name, field_map, notes)
    columns, image_root = _collect_columns(root_path, ann_path, records, notes)
    del records
    table = _table(columns)
    return Dataset(
        root=root_path,
        table=table,
        annotation_file=ann_path,
        image_root=image_root,
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------- annotation file


def _check_field_map(fields: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for canonical, theirs in fields.items():
        key = "subject_id" if canonical == "id" else canonical
        if key not in CANONICAL_FIELDS:
            raise InputError(
                f"--field {canonical}={theirs}: unknown field '{canonical}'; "
                f"known fields: {', '.join(CANONICAL_FIELDS)}",
                code="usage",
            )
        out[key] = theirs
    return out


def _find_annotation(root: Path, annotations: str | os.PathLike[str] | None) -> Path:
    if annotations is not None:
        path = Path(annotations)
        if not path.is_file():
            raise AnnotationError(
                f"{path}: annotation file not found; check the --annotations path",
                code="annotation-missing",
            )
        return path
    for name in ANNOTATION_NAMES:
        if (root / name).is_file():
            return root / name
    candidates = sorted(
        p
        for p in root.iterdir()
        if p.is_file() and p.suffix.lower() in (".json", ".csv") and not p.name.startswith(".")
    )
    if len(candidates) == 1:
        return candidates[0]
    looked = ", ".join(ANNOTATION_NAMES[:2])
    extra = f" (found several: {', '.join(p.name for p in candidates)})" if candidates else ""
    raise AnnotationError(
        f"{root}: no annotation file found{extra}; looked for {looked} and a "
        "single .json or .csv at the root; pass --annotations FILE",
        code="annotation-missing",
    )


def _decode_text(path: Path, notes: list[Finding]) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AnnotationError(
            f"{path}: cannot read the annotation file ({exc.strerror}); check its permissions",
            code="annotation-unreadable",
        ) from exc
    if not data.strip():
        raise AnnotationError(
            f"{path}: the annotation file is empty; restore it from the dataset delivery",
            code="annotation-empty",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        notes.append(
            finding(
                "annotation-encoding",
                f"{path.name}: not valid UTF-8 (byte {exc.start}); read as Latin-1 - check "
                "accented "
                "values, and re-save the file as UTF-8",
                path=path.name,
            )
        )
        return data.decode("latin-1")


def _read_records(path: Path, notes: list[Finding]) -> list[tuple[str, dict[str, Any]]]:
    """Records as (where, fields) pairs; ``where`` locates the record in the file for messages."""
    text = _decode_text(path, notes)
    if path.suffix.lower() == ".csv":
        return _read_csv(path, text, notes)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AnnotationError(
            f"{path}: not valid JSON at line {exc.lineno} column {exc.colno} "
            f"({exc.msg}); fix the file or pass the right --annotations file",
            code="annotation-not-json",
        ) from exc
    return _records_from_json(path, doc)


def _records_from_json(path: Path, doc: Any) -> list[tuple[str, dict[str, Any]]]:
    shape_help = (
        "expected a list of person records, an object keyed by person id, or either "
        "under a key such as 'annotations' or 'data'"
    )
    if isinstance(doc, dict):
        for key, value in doc.items():
            if _norm_key(key) in WRAPPER_KEYS and isinstance(value, (list, dict)):
                return _records_from_json(path, value)
        dict_items = [(k, v) for k, v in doc.items() if isinstance(v, dict)]
        if dict_items:
            # An object keyed by person id; scalar entries beside them (version, date) are metadata.
            out = []
            for key, value in dict_items:
                rec = dict(value)
                rec.setdefault("__key_id__", key)
                out.append((f"key {key!r}", rec))
            return out
        lists = [v for v in doc.values() if isinstance(v, list)]
        if len(lists) == 1:
            return _records_from_json(path, lists[0])
        raise AnnotationError(
            f"{path}: unrecognised annotation shape (an object with keys "
            f"{', '.join(map(str, list(doc)[:8]))}); {shape_help}",
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
        return [(f"record #{i}", r) for i, r in enumerate(doc)]
    raise AnnotationError(
        f"{path}: the annotation is a bare {type(doc).__name__}, not records; {shape_help}",
        code="annotation-shape",
    )


def _read_csv(path: Path, text: str, notes: list[Finding]) -> list[tuple[str, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey="__extra__")
    if not reader.fieldnames:
        raise AnnotationError(
            f"{path}: the CSV has no header row; the first line must name the "
            "columns (id, label, age, ...)",
            code="annotation-empty",
        )
    out: list[tuple[str, dict[str, Any]]] = []
    for row in reader:
        line = reader.line_num
        extra = row.pop("__extra__", None)
        missing = [k for k, v in row.items() if v is None]
        if extra or missing:
            what = (
                f"{len(extra)} value(s) more than the header"
                if extra
                else f"no value for {', '.join(missing)}"
            )
            notes.append(
                finding(
                    "annotation-row-shape",
                    f"{path.name} line {line}: {what}; fix the row (quotes around "
                    "values with commas?)",
                    path=path.name,
                )
            )
        out.append((f"line {line}", {k: v for k, v in row.items() if v is not None}))
    return out


# --------------------------------------------------------------------------- records


@dataclass
class _Record:
    subject_id: str
    where: str
    stage: int | None = None
    stage_variant: str | None = None
    raw_label: str | None = None
    age: int | None = None
    gender: str | None = None
    ethnicity: str | None = None
    views: dict[View, str] = field(default_factory=dict)  # view -> path as written
    loose_paths: list[str] = field(default_factory=list)  # listed paths with no view key
    extras: dict[str, Any] = field(default_factory=dict)


def _norm_key(key: object) -> str:
    return re.sub(r"[\s\-]+", "_", str(key).strip().casefold())


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


def _parse_age(value: Any) -> int:
    """A whole number of years; raises ValueError with a reason otherwise."""
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
        if re.fullmatch(r"[+-]?\d+", s):
            return int(s)
        if re.fullmatch(r"[+-]?\d+\.0*", s):
            return int(float(s))
        if re.fullmatch(r"[+-]?\d*\.\d+", s):
            raise ValueError("not a whole number of years")
        raise ValueError("not a number")
    raise ValueError(f"a {type(value).__name__} is not an age")


def _parse_records(
    raw: list[tuple[str, dict[str, Any]]],
    source: str,
    field_map: dict[str, str],
    notes: list[Finding],
) -> list[_Record]:
    # Which key of a record plays which canonical role: explicit --field first, then aliases.
    records: dict[str, _Record] = {}
    first_seen: dict[str, tuple[str, object]] = {}
    without_id = 0
    seen_keys: set[str] = set()
    for where, rec in raw:
        seen_keys.update(str(k) for k in rec if k != "__key_id__")
        roles = _assign_roles(rec, field_map)
        id_value = rec[roles["subject_id"]] if "subject_id" in roles else rec.get("__key_id__")
        try:
            sid = canonical_id(_nfc(id_value))
        except LabelError as exc:
            without_id += 1
            code = (
                exc.code if exc.code in ("record-without-id", "id-invalid") else "record-without-id"
            )
            notes.append(
                finding(
                    code,
                    f"{source} {where}: {exc.message}; the record is left out "
                    "until it has an id (set one, or map the id field with --field "
                    "subject_id=NAME)",
                    path=source,
                )
            )
            continue
        if sid in records:
            prev_where, prev_value = first_seen[sid]
            notes.append(
                finding(
                    "duplicate-id",
                    f"{source}: {where} (id {id_value!r}) and {prev_where} (id "
                    f"{prev_value!r}) are both subject {sid}; the first is used - "
                    "merge or renumber them",
                    subject=sid,
                    path=source,
                )
            )
            continue
        first_seen[sid] = (where, id_value)
        records[sid] = _record(sid, where, rec, roles, source, notes)
    if raw and not records and without_id == len(raw):
        keys = ", ".join(sorted(seen_keys)[:12]) or "none"
        raise AnnotationError(
            f"{source}: no record has a subject id (fields seen: {keys}); map "
            "the id field with --field subject_id=NAME",
            code="record-without-id",
        )
    return list(records.values())


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
    sid: str,
    where: str,
    rec: dict[str, Any],
    roles: dict[str, str],
    source: str,
    notes: list[Finding],
) -> _Record:
    r = _Record(subject_id=sid, where=where)
    label = rec.get(roles["label"]) if "label" in roles else None
    r.raw_label = None if label is None else str(label)
    try:
        st = parse_stage(label)
        r.stage, r.stage_variant = st.number, st.variant
    except LabelError as exc:
        notes.append(
            finding(
                exc.code if exc.code.startswith("stage-") else "stage-invalid",
                f"{source} {where}, subject {sid}: {exc.message}",
                subject=sid,
                path=source,
            )
        )
    age = rec.get(roles["age"]) if "age" in roles else None
    if _blank(age):
        notes.append(
            finding(
                "age-missing",
                f"{source} {where}, subject {sid}: no age; add it "
                "(whole years) or leave it and expect the subject in 'missing'",
                subject=sid,
                path=source,
            )
        )
    else:
        try:
            r.age = _parse_age(age)
        except ValueError as exc:
            notes.append(
                finding(
                    "age-invalid",
                    f"{source} {where}, subject {sid}: age {age!r} is "
                    f"{exc}; write whole years, e.g. 45",
                    subject=sid,
                    path=source,
                )
            )
    r.gender = _text(rec.get(roles["gender"])) if "gender" in roles else None
    r.ethnicity = _text(rec.get(roles["ethnicity"])) if "ethnicity" in roles else None
    used = set(roles.values()) | {"__key_id__"}
    view_keys = {c: k for c, k in roles.items() if c in {v.value for v in VIEWS}}
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
    return r


def _collect_image_list(value: list[Any] | dict[str, Any], r: _Record) -> None:
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


# --------------------------------------------------------------------------- folder walk


@dataclass
class _Walk:
    """What one walk of the image root found: per subject folder, its files (relative paths)."""

    folders: dict[str, str] = field(default_factory=dict)  # subject id -> folder rel path
    files: dict[str, list[str]] = field(default_factory=dict)  # subject id -> file rel paths
    loose: list[str] = field(default_factory=list)  # images at the image root, outside folders


def _rel(root: Path, path: str) -> str:
    # Strings, not Path objects: this runs once per file, and pathlib interns every part.
    return os.path.relpath(path, root).replace(os.sep, "/")


def _inside(root_real: str, path: str) -> bool:
    real = os.path.realpath(path)
    return real == root_real or real.startswith(root_real.rstrip(os.sep) + os.sep)


def _choose_image_root(root: Path, ids: set[str]) -> Path:
    """The folder that holds the subject folders: the root, or one subfolder such as files/."""

    def score(folder: Path) -> int:
        n = 0
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return 0
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                name = unicodedata.normalize("NFC", e.name)
                try:
                    sid = canonical_id(name)
                except LabelError:
                    continue
                if sid in ids or (not ids and name.isdigit()):
                    n += 1
        return n

    best, best_score = root, score(root)
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if (
            entry.is_dir(follow_symlinks=False)
            and not entry.name.startswith(".")
            and not is_junk(entry.name)
        ):
            s = score(Path(entry.path))
            if s > best_score:
                best, best_score = Path(entry.path), s
    return best


def _walk(root: Path, image_root: Path, notes: list[Finding]) -> _Walk:
    root_real = os.path.realpath(root)
    w = _Walk()
    try:
        top = sorted(os.scandir(image_root), key=lambda e: e.name)
    except OSError as exc:
        raise InputError(
            f"{image_root}: cannot list the folder ({exc.strerror}); check its permissions",
            code="root-unreadable",
        ) from exc
    for entry in top:
        rel = _rel(root, entry.path)
        if is_junk(entry.name):
            notes.append(
                finding("junk-file", f"{rel}: operating-system junk; safe to delete", path=rel)
            )
            continue
        if entry.is_symlink() and not _inside(root_real, entry.path):
            notes.append(_escape_note(rel, entry.path))
            continue
        if entry.is_dir(follow_symlinks=False):
            if entry.name.startswith("."):
                continue  # hidden tool folders (.git, a --cache put here) are not subjects
            try:
                sid = canonical_id(unicodedata.normalize("NFC", entry.name))
            except LabelError:
                notes.append(
                    finding(
                        "unexpected-file",
                        f"{rel}/: folder name cannot be a subject id; rename or move it",
                        path=rel,
                    )
                )
                continue
            if sid in w.folders:
                notes.append(
                    finding(
                        "duplicate-id",
                        f"{rel}/ and {w.folders[sid]}/ are both "
                        f"subject {sid}; {rel}/ is left out - merge or renumber "
                        "them",
                        subject=sid,
                        path=rel,
                    )
                )
                continue
            w.folders[sid] = rel
            w.files[sid] = list(_files_under(root, root_real, entry.path, sid, notes))
        elif entry.is_file() and os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS:
            w.loose.append(rel)
    return w


def _escape_note(rel: str, path: str, sid: str | None = None) -> Finding:
    return finding(
        "path-escapes-root",
        f"{rel}: a link to {os.path.realpath(path)}, outside the dataset root; it is "
        "not opened - copy the file into the dataset instead",
        subject=sid,
        path=rel,
    )


def _files_under(
    root: Path, root_real: str, folder: str, sid: str, notes: list[Finding]
) -> Iterator[str]:
    """Image files in one subject folder (recursively); everything else becomes a note."""

    def note(code: str, rel: str, text: str) -> None:
        notes.append(finding(code, f"{rel}: {text}", subject=sid, path=rel))

    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames.sort()
        for d in list(dirnames):
            full = os.path.join(dirpath, d)
            rel = _rel(root, full)
            if is_junk(d) or os.path.islink(full):
                dirnames.remove(d)
            if is_junk(d):
                note("junk-file", rel, "operating-system junk; safe to delete")
            elif os.path.islink(full) and not _inside(root_real, full):
                notes.append(_escape_note(rel, full, sid))
            elif os.path.islink(full):
                note("unexpected-file", rel, "a link to a folder; links are not followed")
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = _rel(root, full)
            if is_junk(name):
                note("junk-file", rel, "operating-system junk; safe to delete")
            elif os.path.islink(full) and not _inside(root_real, full):
                notes.append(_escape_note(rel, full, sid))
            elif os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                yield rel
            else:
                note("unexpected-file", rel, "not an image; move it out of the subject folder")


# --------------------------------------------------------------------------- the table


def _safe_listed_path(listed: str, root: Path, image_root: Path) -> str | None:
    """Resolve a path from the annotation to a root-relative POSIX path, or None if it escapes.

    A leading '/' means "relative to the image root" (the vendor's convention), never the file
    system root. Paths are tried under the image root first, then under the dataset root.
    """
    p = listed.replace("\\", "/").strip()
    if re.match(r"^[A-Za-z]:", p) or p.startswith("//"):
        return None
    parts = [s for s in p.split("/") if s not in ("", ".")]
    if not parts or ".." in parts:
        return None
    rel = posixpath.join(*parts)
    base = _rel(root, str(image_root))
    candidates = [rel] if base == "." else [posixpath.join(base, rel), rel]
    for cand in candidates:
        if os.path.lexists(os.path.join(root, cand)):
            return cand
    return candidates[0]


def _collect_columns(
    root: Path, ann_path: Path, records: list[_Record], notes: list[Finding]
) -> tuple[dict[str, list[Any]], str]:
    """The table's values column by column, and the image root (relative to ``root``)."""
    by_id = {r.subject_id: r for r in records}
    image_root = _choose_image_root(root, set(by_id))
    walk = _walk(root, image_root, notes)
    root_real = os.path.realpath(root)
    ann_rel = _rel(root, str(ann_path)) if _inside(root_real, str(ann_path)) else ann_path.name
    names = {c.name for c in DATASET_COLUMNS}
    extras = sorted({k if k not in names else f"x_{k}" for r in records for k in r.extras})
    # Columns of plain lists, not a dict or tuple per row: at tens of thousands of images the
    # per-row objects would outweigh the table itself.
    columns: dict[str, list[Any]] = {c: [] for c in [c.name for c in DATASET_COLUMNS] + extras}
    for rel in walk.loose:
        if rel == ann_rel:
            continue
        notes.append(
            finding(
                "extra-image",
                f"{rel}: image outside every subject folder; move "
                "it into its subject's folder or out of the dataset",
                path=rel,
            )
        )
    for sid in sorted(set(by_id) | set(walk.folders), key=id_sort_key):
        rec = by_id.get(sid)
        folder = walk.folders.get(sid)
        files = walk.files.get(sid, [])
        for row in _subject_rows(
            root, root_real, image_root, sid, rec, folder, files, notes, ann_rel
        ):
            for name, values in columns.items():
                values.append(row.get(name))
    return columns, ("" if image_root == root else _rel(root, str(image_root)))


def _table(columns: dict[str, list[Any]]) -> pd.DataFrame:
    """The table in schema dtypes (extra fields as strings); empties ``columns`` as it goes."""
    dtypes: dict[str, Any] = {c.name: c.dtype for c in DATASET_COLUMNS}
    arrays = {}
    for name in list(columns):
        arrays[name] = pd.array(columns.pop(name), dtype=dtypes.get(name, "string"))
    return pd.DataFrame(arrays)


def _subject_rows(
    root: Path,
    root_real: str,
    image_root: Path,
    sid: str,
    rec: _Record | None,
    folder: str | None,
    files: list[str],
    notes: list[Finding],
    ann_rel: str,
) -> list[dict[str, Any]]:
    base: dict[str, Any] = {"subject_id": sid, "folder": folder, "in_annotation": rec is not None}
    if rec is not None:
        base.update(
            stage=rec.stage,
            stage_variant=rec.stage_variant,
            raw_label=rec.raw_label,
            age=rec.age,
            gender=rec.gender,
            ethnicity=rec.ethnicity,
        )
        for k, v in rec.extras.items():
            base[k if k not in {c.name for c in DATASET_COLUMNS} else f"x_{k}"] = (
                v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False)
            )
    listed: dict[View, str] = dict(rec.views) if rec else {}
    rows: list[dict[str, Any]] = []
    used: set[str] = set()
    file_set = set(files)
    listed_missing: dict[View, str] = {}

    def resolve(raw: str) -> str | None:
        rel = _safe_listed_path(raw, root, image_root)
        full = os.path.join(root, rel) if rel is not None else ""
        if rel is not None and os.path.lexists(full) and not _inside(root_real, full):
            if not any(n.code == "path-escapes-root" and n.path == rel for n in notes):
                notes.append(_escape_note(rel, full, sid))
            return None
        if rel is None:
            notes.append(
                finding(
                    "path-escapes-root",
                    f"{ann_rel}, subject {sid}: path {raw!r} leads outside the "
                    "dataset root; it is not opened - list a path inside the "
                    "dataset",
                    subject=sid,
                    path=ann_rel,
                )
            )
            return None
        return rel

    for view, raw in listed.items():
        rel = resolve(raw)
        if rel is None:
            continue
        if rel in file_set or (rel not in used and os.path.isfile(os.path.join(root, rel))):
            rows.append({**base, "view": view.value, "path": rel, "annotation_path": raw})
            used.add(rel)
        else:
            listed_missing[view] = raw
    for raw in rec.loose_paths if rec else []:
        rel = resolve(raw)
        if rel is not None and rel not in used and os.path.isfile(os.path.join(root, rel)):
            v = parse_view(rel)
            rows.append(
                {**base, "view": v.value if v else None, "path": rel, "annotation_path": raw}
            )
            used.add(rel)
    for rel in files:
        if rel in used:
            continue
        v = parse_view(rel)
        rows.append({**base, "view": v.value if v else None, "path": rel, "annotation_path": None})
        used.add(rel)
    present = {r["view"] for r in rows if r["view"] is not None}
    for view in VIEWS:
        if view.value not in present:
            rows.append(
                {
                    **base,
                    "view": view.value,
                    "path": None,
                    "annotation_path": listed_missing.get(view),
                }
            )
    order = {v.value: i for i, v in enumerate(VIEWS)}
    rows.sort(key=lambda r: (order.get(r["view"], len(order)), r["path"] or ""))
    return rows
