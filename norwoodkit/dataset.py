"""Dataset = root + one table: ``load`` reads the folder and its annotation into it, once.

``load(root)`` has the annotation read (``annotation``: the only module that opens the
annotation file) and the folder walked (``walk``: the only module that lists the dataset's
folders), then joins the two into a ``Dataset`` whose table has one row per image file plus one
placeholder row (``path`` null) per missing view. Nothing else in norwoodkit walks the folder or
reads the annotation: every later step takes the ``Dataset``. Problems met while reading are kept
as findings in ``Dataset.notes``; only problems that make the dataset unreadable raise.

A root in an object store (a :class:`~norwoodkit.storage.Location`) is listed once instead
(``remote_walk``); the listing then answers every "is this file there" question that the local
path asks the file system, and travels with the ``Dataset`` as the probe cache's key.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import pandas as pd

from norwoodkit.annotation import (
    ANNOTATION_NAMES,
    CANONICAL_FIELDS,
    FIELD_ALIASES,
    IMAGE_LIST_KEYS,
    WRAPPER_KEYS,
    AnnotationRecord,
    read_annotation,
)
from norwoodkit.columns import DATASET_COLUMNS, PROBE_COLUMNS, SUBJECT_COLUMNS
from norwoodkit.errors import InputError, ParameterError
from norwoodkit.findings import Finding, finding
from norwoodkit.labels import VIEWS, View, id_sort_key, parse_view
from norwoodkit.paths import inside, posix_rel
from norwoodkit.storage import Location
from norwoodkit.walk import FolderWalk, Listings, choose_image_root, escape_note, walk

if TYPE_CHECKING:
    from norwoodkit.remote_walk import Listing

__all__ = [
    "ANNOTATION_NAMES",
    "CANONICAL_FIELDS",
    "FIELD_ALIASES",
    "IMAGE_LIST_KEYS",
    "WRAPPER_KEYS",
    "Dataset",
    "ProbedDataset",
    "load",
    "local_root",
]


@dataclass(frozen=True)
class Dataset:
    """A dataset root, its one table and what was noticed while reading it.

    ``listing``: for a root in a store, every object under it (size, ETag or version id);
    None for a local folder.
    """

    root: Path | Location
    table: pd.DataFrame
    annotation_file: Path | Location | None = None
    image_root: str = ""
    notes: tuple[Finding, ...] = field(default_factory=tuple)
    listing: Listing | None = field(default=None, repr=False)

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


_ALL_PROBED = frozenset(c.name for c in PROBE_COLUMNS)


@dataclass(frozen=True)
class ProbedDataset(Dataset):
    """A ``Dataset`` whose table carries the probe columns (``probe.run`` is the only maker).

    A type, not a runtime check: a function that needs probe columns takes a ``ProbedDataset``,
    so mypy stops a caller that skipped the probe. ``probe_columns`` names the probe columns
    that hold what the probe found; the others (a command that reads few, ``probe.run``'s
    ``columns``) are null, and :meth:`require` refuses a step that would read them.
    """

    probe_columns: frozenset[str] = _ALL_PROBED

    @property
    def decoded(self) -> pd.Series:
        """Per table row: the probe read and decoded the image (``status`` is ``ok``)."""
        return decoded(self.table)

    @classmethod
    def of(
        cls, dataset: Dataset, table: pd.DataFrame, probe_columns: Collection[str] | None = None
    ) -> ProbedDataset:
        """``dataset`` with ``table`` (which holds the probe columns), as a ProbedDataset.

        ``probe_columns``: the probe columns with values in ``table``; None: all of them.
        """
        return cls(
            root=dataset.root,
            table=table,
            annotation_file=dataset.annotation_file,
            image_root=dataset.image_root,
            notes=dataset.notes,
            listing=dataset.listing,
            probe_columns=_ALL_PROBED if probe_columns is None else frozenset(probe_columns),
        )

    def require(self, names: Collection[str], step: str) -> None:
        """Refuse to run ``step`` on a table probed without some of the columns it reads.

        Raises:
            ParameterError: ``names`` holds columns outside ``probe_columns`` (parameter
                ``columns``): the step would read nulls and report nothing wrong.
        """
        missing = sorted(set(names) - self.probe_columns)
        if missing:
            raise ParameterError(
                "columns",
                f"{self.root}: {step} reads the probe columns {', '.join(missing)}, but the "
                f"dataset was probed without them; probe it with columns including them "
                "(or columns=None for all)",
            )


def load(
    root: str | os.PathLike[str] | Location,
    annotations: str | os.PathLike[str] | Location | None = None,
    fields: Mapping[str, str] | None = None,
) -> Dataset:
    """Read a dataset folder and its annotation file into a ``Dataset``.

    Args:
        root: the dataset folder (subject folders directly inside it, or inside one subfolder
            such as ``files/``), or its place in an object store (``storage.place``).
        annotations: the annotation file (a path, or a store's Location); default: the first of
            ``ANNOTATION_NAMES`` at the root.
        fields: ``canonical -> their field name`` for fields the aliases do not cover, e.g.
            ``{"label": "hair_loss_grade", "front": "img_face"}``.

    Raises:
        InputError: the root is missing or not a folder, or cannot be listed.
        ParameterError: ``fields`` names an unknown field, or ``annotations`` is not a file.
        AnnotationError: no annotation file, or one that cannot be read as records.
        StorageError: the store refused to list or read the root (names the permission).
    """
    if isinstance(root, Location):
        return _load_listed(root, annotations, fields or {})
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
    notes: list[Finding] = []
    ann_path, records = read_annotation(root_path, annotations, fields or {}, notes)
    listings = Listings()  # choosing the image root lists what the walk then reads
    image_root = choose_image_root(root_path, {r.subject_id for r in records}, listings)
    found = walk(root_path, image_root, notes, listings)
    del listings
    place = _local_place(root_path, ann_path, image_root, found)
    columns = _collect_columns(place, found, records, notes)
    del records
    table = _table(columns)
    return Dataset(
        root=root_path,
        table=table,
        annotation_file=ann_path,
        image_root="" if place.base == "." else place.base,
        notes=tuple(notes),
    )


def _load_listed(
    root: Location, annotations: str | os.PathLike[str] | Location | None, fields: Mapping[str, str]
) -> Dataset:
    """``load`` for a root in an object store: one listing, then the same table."""
    from norwoodkit import remote_walk

    listing = remote_walk.list_objects(root)
    if annotations is None:
        annotations = remote_walk.find_annotation(listing)
    notes: list[Finding] = []
    ann, records = read_annotation(root, annotations, fields, notes)
    base = remote_walk.image_root(listing, {r.subject_id for r in records})
    found = remote_walk.walk_listing(listing, base, notes)
    # Messages name the annotation by its key under the root, as they name a local one.
    ann_rel = ann.name
    if isinstance(ann, Location) and ann.under(root):
        ann_rel = ann.path[len(root.path) + 1 :]
    place = _Place(root, "", ann_rel, base or ".", _walked(found), frozenset(listing.objects))
    columns = _collect_columns(place, found, records, notes)
    del records
    return Dataset(root, _table(columns), ann, base, tuple(notes), listing)


# --------------------------------------------------------------------------- the table

_COLUMN_NAMES = frozenset(c.name for c in DATASET_COLUMNS)


@dataclass(frozen=True)
class _Place:
    """Where one load resolves paths, and how its messages name the annotation file."""

    root: Path | Location
    root_real: str
    ann_rel: str
    #: The image root relative to the root ("." when they are one).
    base: str
    #: Every image file the walk kept: each is already known to lie inside the root.
    walked: frozenset[str]
    #: A store's root: every object under it (the file system is not asked); None: local.
    listed: frozenset[str] | None = None

    def lexists(self, rel: str) -> bool:
        """Whether anything is at ``rel`` (a link counts, even a broken one)."""
        if self.listed is not None:
            return rel in self.listed
        return os.path.lexists(os.path.join(self.local, rel))

    def is_file(self, rel: str) -> bool:
        """Whether ``rel`` is a file (links followed)."""
        if self.listed is not None:
            return rel in self.listed
        return os.path.isfile(os.path.join(self.local, rel))

    def escaping(self, rel: str) -> str | None:
        """The full path of ``rel`` when it is there and leads outside the root (a link), else
        None (a store has no links)."""
        if self.listed is not None:
            return None
        full = os.path.join(self.local, rel)
        return full if os.path.lexists(full) and not inside(self.root_real, full) else None

    @property
    def local(self) -> str:
        return str(self.root)


def _local_place(
    root: Path, ann_path: Path | Location, image_root: Path, found: FolderWalk
) -> _Place:
    """The ``_Place`` of a local load."""
    root_real = os.path.realpath(root)
    if isinstance(ann_path, Path) and inside(root_real, str(ann_path)):
        ann_rel = posix_rel(root, str(ann_path))
    else:
        ann_rel = ann_path.name
    return _Place(root, root_real, ann_rel, posix_rel(root, str(image_root)), _walked(found))


def _walked(found: FolderWalk) -> frozenset[str]:
    return frozenset(rel for files in found.files.values() for rel in files)


def _extra_column(key: str) -> str:
    """The column of an extra annotation field; ``x_`` before a name the schema already uses."""
    return key if key not in _COLUMN_NAMES else f"x_{key}"


_DRIVE = re.compile(r"^[A-Za-z]:")


def _safe_listed_path(listed: str, place: _Place) -> str | None:
    """Resolve a path from the annotation to a root-relative POSIX path, or None if it escapes.

    A leading '/' means "relative to the image root" (the vendor's convention), never the file
    system root. Paths are tried under the image root first, then under the dataset root.
    """
    p = listed.replace("\\", "/").strip()
    if _DRIVE.match(p) or p.startswith("//"):
        return None
    parts = [s for s in p.split("/") if s not in ("", ".")]
    if not parts or ".." in parts:
        return None
    rel = "/".join(parts)  # no part holds a "/": posixpath.join's result, without its work
    candidates = [rel] if place.base == "." else [posixpath.join(place.base, rel), rel]
    for cand in candidates:
        # A file the walk kept exists; asking the file system again is one stat per image.
        if cand in place.walked or place.lexists(cand):
            return cand
    return candidates[0]


def _collect_columns(
    place: _Place, found: FolderWalk, records: list[AnnotationRecord], notes: list[Finding]
) -> dict[str, list[Any]]:
    """The table's values column by column."""
    by_id = {r.subject_id: r for r in records}
    ann_rel = place.ann_rel
    extras = sorted({_extra_column(k) for r in records for k in r.extras})
    # Columns of plain lists, not a dict or tuple per row: at tens of thousands of images the
    # per-row objects would outweigh the table itself.
    columns: dict[str, list[Any]] = {c: [] for c in [c.name for c in DATASET_COLUMNS] + extras}
    for rel in found.loose:
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
    batch: list[dict[str, Any]] = []
    for sid in sorted(set(by_id) | set(found.folders), key=id_sort_key):
        rows = _SubjectRows(place, sid, by_id.get(sid), found.folders.get(sid), notes)
        batch.extend(rows.build(found.files.get(sid, [])))
        if len(batch) >= _ROWS_PER_BATCH:
            _flush(batch, columns)
    _flush(batch, columns)
    return columns


#: Row dicts held before they join the columns: a column at a time is quicker than a row at a
#: time, and a few hundred dicts leave no mark on the peak (4,096 had: 4 MB at 24,000 images).
_ROWS_PER_BATCH = 256


def _flush(batch: list[dict[str, Any]], columns: dict[str, list[Any]]) -> None:
    for name, values in columns.items():
        values.extend([row.get(name) for row in batch])
    batch.clear()


def _table(columns: dict[str, list[Any]]) -> pd.DataFrame:
    """The table in schema dtypes (extra fields as strings); empties ``columns`` as it goes."""
    dtypes: dict[str, Any] = {c.name: c.dtype for c in DATASET_COLUMNS}
    arrays = {}
    for name in list(columns):
        arrays[name] = pd.array(columns.pop(name), dtype=dtypes.get(name, "string"))
    return pd.DataFrame(arrays)


class _SubjectRows:
    """One subject's rows: listed files, found files, then placeholders for missing views.

    The files its record lists come first (so a listed file keeps the listed view), then the
    files found in its folder that no record line claimed, then one row with ``path`` None for
    every view still without a file.
    """

    def __init__(
        self,
        place: _Place,
        sid: str,
        rec: AnnotationRecord | None,
        folder: str | None,
        notes: list[Finding],
    ) -> None:
        self.place, self.sid, self.rec, self.notes = place, sid, rec, notes
        self.base = _subject_values(sid, rec, folder)
        self.rows: list[dict[str, Any]] = []
        self.used: set[str] = set()

    def build(self, files: list[str]) -> list[dict[str, Any]]:
        """The rows in table order: by view (``VIEWS`` order, no view last), then by path."""
        listed_missing = self._listed(set(files))
        self._loose()
        for rel in files:
            if rel not in self.used:
                self._add(rel, None)
        present = {r["view"] for r in self.rows if r["view"] is not None}
        for view in VIEWS:
            if view.value not in present:
                self.rows.append(
                    {
                        **self.base,
                        "view": view.value,
                        "path": None,
                        "annotation_path": listed_missing.get(view),
                    }
                )
        order = {v.value: i for i, v in enumerate(VIEWS)}
        self.rows.sort(key=lambda r: (order.get(r["view"], len(order)), r["path"] or ""))
        return self.rows

    def _listed(self, file_set: set[str]) -> dict[View, str]:
        """Rows for the record's per-view paths; returns the views whose listed file is absent."""
        listed_missing: dict[View, str] = {}
        for view, raw in (self.rec.views if self.rec else {}).items():
            rel = self._resolve(raw)
            if rel is None:
                continue
            if rel in file_set or (rel not in self.used and self._is_file(rel)):
                self.rows.append(
                    {**self.base, "view": view.value, "path": rel, "annotation_path": raw}
                )
                self.used.add(rel)
            else:
                listed_missing[view] = raw
        return listed_missing

    def _loose(self) -> None:
        """Rows for paths the record lists without a view; the file name says the view."""
        for raw in self.rec.loose_paths if self.rec else []:
            rel = self._resolve(raw)
            if rel is not None and rel not in self.used and self._is_file(rel):
                self._add(rel, raw)

    def _add(self, rel: str, raw: str | None) -> None:
        v = parse_view(rel)
        self.rows.append(
            {**self.base, "view": v.value if v else None, "path": rel, "annotation_path": raw}
        )
        self.used.add(rel)

    def _is_file(self, rel: str) -> bool:
        return self.place.is_file(rel)

    def _resolve(self, raw: str) -> str | None:
        """A listed path as a root-relative path, or None (with a note) when it leads outside."""
        place, sid = self.place, self.sid
        rel = _safe_listed_path(raw, place)
        if rel is not None and rel in place.walked:
            return rel  # the walk kept it: inside the root, links resolved
        full = place.escaping(rel) if rel is not None else None
        if rel is not None and full is not None:
            if not any(n.code == "path-escapes-root" and n.path == rel for n in self.notes):
                self.notes.append(escape_note(rel, full, sid))
            return None
        if rel is None:
            self.notes.append(
                finding(
                    "path-escapes-root",
                    f"{place.ann_rel}, subject {sid}: path {raw!r} leads outside the "
                    "dataset root; it is not opened - list a path inside the "
                    "dataset",
                    subject=sid,
                    path=place.ann_rel,
                )
            )
            return None
        return rel


def _subject_values(sid: str, rec: AnnotationRecord | None, folder: str | None) -> dict[str, Any]:
    """The subject-level values every row of one subject repeats (extras as text)."""
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
            base[_extra_column(k)] = (
                v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False)
            )
    return base


def local_root(root: Path | Location, step: str) -> Path:
    """``root`` when it is a local folder; ``step`` (a pass that re-reads the image files
    itself, as pack does) refuses a root in a store.

    Raises:
        ParameterError: ``root`` is a store's URL (parameter ``root``).
    """
    if isinstance(root, Location):
        raise ParameterError(
            "root",
            f"{root.url}: {step} reads its images from a folder only; copy the dataset out of "
            "the store first (e.g. aws s3 sync URL DIR) and pass that folder, or use the local "
            "engine",
        )
    return root


def decoded(frame: pd.DataFrame) -> pd.Series:
    """Per row of a probed table (or a slice of one): the image was read and decoded.

    The one spelling of "usable image": ``status == "ok"``, a missing status counting as not.
    """
    return (frame["status"] == "ok").fillna(False).astype(bool)
