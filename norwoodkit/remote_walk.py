"""The walk of a dataset in an object store: one listing of the prefix, sorted as the folder walk.

A store has no folders, links, FIFOs or undecodable names: only keys. ``list_objects`` asks for
every key under the dataset's URL once (``fs.find``) and keeps what the store says of each
object (size, ETag or version id, last modified), which the probe cache then uses as its key.
``walk_listing`` turns the keys into the same subject folders, image files and notes (junk,
strays, folders that cannot be subject ids, two folders for one subject) that ``walk.walk``
gives for the same tree on disk, through the same classifiers; ``image_root`` and
``find_annotation`` make the choices ``walk.choose_image_root`` and the annotation reader make
on disk. ``dataset.load`` is the caller.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from norwoodkit.annotation import ANNOTATION_NAMES
from norwoodkit.errors import AnnotationError, InputError
from norwoodkit.findings import Finding
from norwoodkit.labels import is_junk
from norwoodkit.storage import Location, storage_error
from norwoodkit.walk import (
    FolderWalk,
    candidate_image_root,
    claim_folder,
    is_image_name,
    junk_note,
    sort_file,
    subject_folders,
)

__all__ = [
    "Listing",
    "StoreObject",
    "find_annotation",
    "image_root",
    "list_objects",
    "walk_listing",
]


@dataclass(frozen=True)
class StoreObject:
    """What the store says of one object: the probe cache's key for it.

    Attributes:
        size: bytes.
        tag: the version id where the bucket keeps versions, else the ETag (quotes kept).
        mtime_ns: last modified, in nanoseconds since the epoch (-1 when the store gave none).
    """

    size: int
    tag: str
    mtime_ns: int


@dataclass(frozen=True)
class Listing:
    """Every object under a dataset URL, by root-relative POSIX path (one listing)."""

    root: Location
    objects: Mapping[str, StoreObject]


def list_objects(root: Location) -> Listing:
    """List every object under ``root`` once.

    Raises:
        InputError: nothing under the URL (a prefix with no objects), or no such bucket.
        StorageError: the store refused the listing (names the permission), or failed.
    """
    try:
        found = root.fs.find(root.path, detail=True)
    except Exception as exc:  # any store's exception becomes one message naming the URL
        raise storage_error(exc, root, "list") from None
    prefix = root.path + "/"
    objects = {
        name[len(prefix) :]: _object(info)
        for name, info in found.items()
        if name.startswith(prefix) and not name.endswith("/") and info.get("type") != "directory"
    }
    if not objects:
        raise InputError(
            f"{root.url}: no objects under this URL; check the bucket and the prefix (the "
            "dataset folder that holds annotation.json and the subject folders)",
            code="root-missing",
        )
    return Listing(root, objects)


def _object(info: Mapping[str, Any]) -> StoreObject:
    """A listing entry as a StoreObject (s3fs, gcsfs and adlfs spell the fields differently)."""
    tag = info.get("VersionId") or info.get("version_id") or info.get("ETag") or info.get("etag")
    tag = tag or info.get("md5Hash") or info.get("generation") or ""
    stamp = info.get("LastModified") or info.get("last_modified") or info.get("updated")
    if isinstance(stamp, datetime):
        mtime = int(stamp.timestamp()) * 1_000_000_000 + stamp.microsecond * 1000
    else:
        mtime = -1
    return StoreObject(int(info.get("size") or info.get("Size") or 0), str(tag), mtime)


@dataclass
class _Folder:
    """The keys below one prefix, as folders and file names."""

    folders: dict[str, _Folder] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


def _tree(paths: Iterator[str] | list[str]) -> _Folder:
    top = _Folder()
    for rel in paths:
        *parents, name = rel.split("/")
        here = top
        for part in parents:
            here = here.folders.setdefault(part, _Folder())
        here.files.append(name)
    return top


def _at(top: _Folder, rel: str) -> _Folder:
    here = top
    for part in [p for p in rel.split("/") if p]:
        here = here.folders.get(part, _Folder())
    return here


def image_root(listing: Listing, ids: set[str]) -> str:
    """The prefix (relative, "" for the root) that holds the subject folders, as on disk."""
    top = _tree(sorted(listing.objects))
    best, best_score = "", subject_folders(top.folders, ids)
    for name in sorted(top.folders):
        if candidate_image_root(name):
            score = subject_folders(top.folders[name].folders, ids)
            if score > best_score:
                best, best_score = name, score
    return best


def walk_listing(listing: Listing, base: str, notes: list[Finding]) -> FolderWalk:
    """Subject folders under ``base`` (from ``image_root``) and their image files; the same
    notes, in the same order, as ``walk.walk`` gives for the same tree on disk."""
    top = _at(_tree(sorted(listing.objects)), base)
    w = FolderWalk()

    def rel(name: str) -> str:
        return posixpath.join(base, name) if base else name

    for name in sorted([*top.folders, *top.files]):
        if is_junk(name):
            notes.append(junk_note(rel(name)))
        elif name in top.folders:
            sid = None if name.startswith(".") else claim_folder(w, name, rel(name), notes)
            if sid is not None:
                w.files[sid] = list(_files_under(top.folders[name], rel(name), sid, notes))
        elif is_image_name(name):
            w.loose.append(rel(name))
    return w


def _files_under(folder: _Folder, here: str, sid: str, notes: list[Finding]) -> Iterator[str]:
    """Image files of one subject folder, in ``os.walk``'s top-down order; the rest as notes."""
    kept = []
    for name in sorted(folder.folders):
        if is_junk(name):
            notes.append(junk_note(f"{here}/{name}", sid))
        else:
            kept.append(name)
    for name in sorted(folder.files):
        if sort_file(f"{here}/{name}", name, sid, notes):
            yield f"{here}/{name}"
    for name in kept:
        yield from _files_under(folder.folders[name], f"{here}/{name}", sid, notes)


def find_annotation(listing: Listing) -> Location:
    """The annotation object: the first of ``ANNOTATION_NAMES`` at the root, else the single
    .json or .csv there (the rule the annotation reader applies on disk).

    Raises:
        AnnotationError: none, or several candidates.
    """
    top = [rel for rel in listing.objects if "/" not in rel]
    for name in ANNOTATION_NAMES:
        if name in top:
            return listing.root.join(name)
    candidates = sorted(
        rel
        for rel in top
        if posixpath.splitext(rel)[1].lower() in (".json", ".csv") and not rel.startswith(".")
    )
    if len(candidates) == 1:
        return listing.root.join(candidates[0])
    extra = f" (found several: {', '.join(candidates)})" if candidates else ""
    raise AnnotationError(
        f"{listing.root.url}: no annotation file found{extra}; looked for "
        f"{', '.join(ANNOTATION_NAMES[:2])} and a single .json or .csv at the root; name the "
        "file (--annotations)",
        code="annotation-missing",
    )
