"""Outputs written to object storage: whole objects only, and a pack uploaded manifest last.

A local output never comes here: it keeps ``atomic``'s temporary name and rename. An object
store has no rename, but a PUT is all or nothing: an object appears complete or not at all. So
every output URL is first written to a local temporary file by the same writer a local path
uses (same bytes), and then sent with one ``put_file`` (s3fs sends a large file as a multipart
upload, which the store also shows only once complete). A pack is written into a local staging
folder by ``pack.write`` and uploaded shards first, then ``README.md`` and ``croissant.json``,
then ``manifest.json`` last: readers refuse a folder without a manifest, so an interrupted
upload is never taken for a finished pack. Before the first shard goes up, a record object
(``.norwoodkit-pack/upload.json``) lists every shard the upload may leave behind, so that
``--overwrite`` can later prove them ours, as the local resume records do.

``verify`` reads a pack at a URL by copying its manifest and listed shards to a temporary
folder and checking that copy with the local code.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from norwoodkit import interrupts
from norwoodkit.errors import InputError, NorwoodkitError, OutputError
from norwoodkit.pack.croissant import CROISSANT
from norwoodkit.pack.layout import CARD, MANIFEST, STATE_DIR, shard_split
from norwoodkit.paths import OutputKind, guard_url, safe_relpath
from norwoodkit.storage import Action, Location, storage_error

if TYPE_CHECKING:
    import os

__all__ = [
    "UPLOAD_RECORD",
    "check_pack",
    "fetched_pack",
    "local_pack",
    "pack_to",
    "put_file",
    "staged",
]

#: The record that lists the shards an upload may leave behind (relative to the pack URL).
UPLOAD_RECORD = f"{STATE_DIR}/upload.json"
#: The largest manifest or record object we read (as ``pack.folder.MAX_RECORD_BYTES``).
MAX_RECORD_BYTES = 1 << 30

_Result = TypeVar("_Result")


def _store(where: Location, action: Action, call: Callable[[], _Result]) -> _Result:
    """``call()``, with any store exception turned into an error naming ``where``'s URL."""
    try:
        return call()
    except NorwoodkitError:
        raise
    except Exception as exc:  # the store's own text may hold a signature: never echoed
        raise storage_error(exc, where, action) from None


def put_file(local: Path, where: Location) -> None:
    """Send the complete local file ``local`` to ``where`` in one upload (all or nothing)."""
    interrupts.check()
    _store(where, "write", lambda: where.fs.put_file(str(local), where.path))


def _put_bytes(where: Location, data: bytes, folder: Path) -> None:
    """Send ``data`` to ``where``, staged as a file in ``folder`` first (never half an object)."""
    local = folder / "object"
    local.write_bytes(data)
    put_file(local, where)


def _delete(where: Location) -> None:
    """Delete one object; one already gone is fine."""
    with contextlib.suppress(FileNotFoundError):
        _store(where, "delete", lambda: where.fs.rm_file(where.path))


@contextlib.contextmanager
def staged(place: Path | Location, kind: OutputKind) -> Iterator[Path]:
    """Where to write the output ``place``: ``place`` itself when local; for a URL, a path in a
    temporary folder, uploaded whole when the block ends without an exception (a folder's files
    one object each, in name order) and removed in any case."""
    if isinstance(place, Path):
        yield place
        return
    with tempfile.TemporaryDirectory(prefix="norwoodkit-out-") as tmp:
        local = Path(tmp) / (place.name or "out")
        if kind == "folder":
            local.mkdir()
        yield local
        if kind == "file":
            if local.is_file():
                put_file(local, place)
            return
        for path in sorted(p for p in local.rglob("*") if p.is_file()):
            put_file(path, place.join(path.relative_to(local).as_posix()))


def _listing(where: Location) -> list[str]:
    """Every object under ``where``, as POSIX paths relative to it (none: an empty list)."""
    fs = where.fs
    fs.invalidate_cache(where.path)
    found = _store(where, "list", lambda: fs.find(where.path))
    prefix = where.path + "/"
    return sorted(str(p)[len(prefix) :] for p in found if str(p).startswith(prefix))


def _refused(problem: str, code: str) -> OutputError:
    return OutputError(problem, code=code, parameter="out")


def check_pack(
    where: Location,
    dataset_root: str | os.PathLike[str] | Location | None,
    overwrite: bool,
    resume: bool,
) -> list[str]:
    """``pack.folder.check_out`` for a pack URL: refuse it before any work.

    Returns:
        The shards (relative paths) that an earlier pack's manifest or upload record there
        lists: the only objects ``--overwrite`` may delete.

    Raises:
        OutputError: codes of ``paths.guard_url``, and output-resume-url, output-exists,
            output-not-ours, output-listing.
    """
    guard_url(where, "out", dataset_root=dataset_root, kind="folder")
    if resume:
        raise _refused(
            f"{where.url}: --resume works on local folders only (an upload to a URL sends "
            "finished files); pack again with --overwrite, which replaces what an interrupted "
            "upload left there",
            "output-resume-url",
        )
    names = _listing(where)
    if not names:
        return []
    if not overwrite:
        raise _refused(
            f"{where.url}: holds objects already; pass --overwrite to replace earlier shards "
            "(other objects are left alone), or choose a new URL",
            "output-exists",
        )
    listed, vouched = _ours(where, set(names))
    if not vouched:
        foreign = [n for n in names if n in (CARD, CROISSANT) or shard_split(n) is not None]
        if foreign:
            raise _refused(
                f"{where.join(foreign[0]).url}: not written by `norwoodkit pack` (there is no "
                f"{MANIFEST} and no upload record of ours there), and pack would replace it; "
                "move it away or choose a new URL",
                "output-not-ours",
            )
    return listed


def _ours(where: Location, names: set[str]) -> tuple[list[str], bool]:
    """The shards our manifest and upload record at ``where`` list, and whether either exists."""
    listed: set[str] = set()
    for rel in (MANIFEST, UPLOAD_RECORD):
        if rel not in names:
            continue
        doc = _read_record(where.join(rel))
        try:
            if rel == MANIFEST:
                paths = [s["path"] for split in doc["splits"].values() for s in split["shards"]]
            else:
                paths = list(doc["shards"])
        except (KeyError, TypeError, AttributeError):
            raise _unreadable(where.join(rel)) from None
        for path in paths:
            if not (safe_relpath(path) and shard_split(path) is not None):
                raise _refused(
                    f"{where.join(rel).url}: lists {path!r}, which is not a shard of this pack; "
                    "refusing to delete anything: remove the objects yourself or choose a new URL",
                    "output-listing",
                )
            listed.add(path)
    return sorted(listed), MANIFEST in names or UPLOAD_RECORD in names


def _read_record(where: Location) -> Any:
    """A JSON object of ours, of a sane size, parsed."""
    size = _store(where, "read", lambda: where.fs.size(where.path))
    if size is None or size > MAX_RECORD_BYTES:
        raise _unreadable(where)
    data = _store(where, "read", lambda: where.fs.cat_file(where.path))
    try:
        return json.loads(data)
    except ValueError:
        raise _unreadable(where) from None


def _unreadable(where: Location) -> OutputError:
    return _refused(
        f"{where.url}: cannot be read as a record of an earlier `norwoodkit pack`, so which "
        "objects are ours cannot be told; refusing to replace anything: choose a new URL",
        "output-listing",
    )


def upload_pack(local: Path, where: Location, earlier: list[str]) -> None:
    """Upload the finished local pack ``local`` to ``where``: the upload record, then the shards,
    the card and croissant.json, then (earlier shards this pack no longer has deleted) the
    manifest, last; the record goes once the manifest is up.

    An earlier manifest is deleted before any shard changes, so no reader trusts it meanwhile.
    """
    files = sorted(p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file())
    files = [f for f in files if not f.startswith(STATE_DIR + "/")]
    shards = [f for f in files if shard_split(f) is not None]
    rest = [f for f in files if f not in shards and f != MANIFEST]
    rest.sort(key=lambda f: (f not in (CARD, CROISSANT), f != CARD, f))
    with tempfile.TemporaryDirectory(prefix="norwoodkit-record-") as tmp:
        record = {"shards": sorted(set(earlier) | set(shards))}
        _put_bytes(where.join(UPLOAD_RECORD), json.dumps(record).encode(), Path(tmp))
    _delete(where.join(MANIFEST))
    for rel in [*shards, *rest]:
        put_file(local / rel, where.join(rel))
    for rel in sorted(set(earlier) - set(shards)):
        _delete(where.join(rel))
    put_file(local / MANIFEST, where.join(MANIFEST))
    _delete(where.join(UPLOAD_RECORD))


def pack_to(
    where: Location,
    dataset_root: str | os.PathLike[str] | Location | None,
    overwrite: bool,
    resume: bool,
    write_local: Callable[[Path], _Result],
) -> _Result:
    """Pack to a URL: check it, ``write_local`` into a fresh local staging folder (the local
    writer, its own rules unchanged), then :func:`upload_pack`. Returns ``write_local``'s
    result."""
    earlier = check_pack(where, dataset_root, overwrite, resume)
    with tempfile.TemporaryDirectory(prefix="norwoodkit-pack-") as tmp:
        local = Path(tmp) / where.name
        result = write_local(local)
        upload_pack(local, where, earlier)
    return result


@contextlib.contextmanager
def local_pack(place: Path | Location) -> Iterator[Path]:
    """A pack folder to read locally: ``place`` itself, or a URL's copy (:func:`fetched_pack`)."""
    if isinstance(place, Path):
        yield place
        return
    with fetched_pack(place) as local:
        yield local


@contextlib.contextmanager
def fetched_pack(where: Location) -> Iterator[Path]:
    """A temporary local copy of the pack at ``where``: its manifest, the shards it lists, and
    an empty stand-in for every other object named like a shard (``verify`` reports those).

    Raises:
        InputError: no manifest there (code manifest-missing), or one that is not a pack's
            manifest (the URL named, not the copy).
        StorageError: the store refused a read (names the permission).
    """
    from norwoodkit.pack.manifest import read_manifest

    names = set(_listing(where))
    if MANIFEST not in names:
        raise InputError(
            f"{where.url}: no {MANIFEST}; not a finished `norwoodkit pack` output (pack uploads "
            f"{MANIFEST} last: if an upload was interrupted, pack again with --overwrite)",
            code="manifest-missing",
        )
    with tempfile.TemporaryDirectory(prefix="norwoodkit-verify-") as tmp:
        local = Path(tmp) / where.name
        local.mkdir()
        _get(where.join(MANIFEST), local / MANIFEST)
        try:
            manifest = read_manifest(local)
        except InputError as exc:
            raise InputError(exc.message.replace(str(local), where.url), code=exc.code) from None
        listed = {s["path"] for split in manifest["splits"].values() for s in split["shards"]}
        for rel in sorted(names):
            if rel in listed:
                _get(where.join(rel), local / rel)
            elif shard_split(rel) is not None and safe_relpath(rel):
                (local / rel).parent.mkdir(parents=True, exist_ok=True)
                (local / rel).touch()
        yield local


def _get(where: Location, local: Path) -> None:
    """Copy one object to ``local`` (its folders made)."""
    local.parent.mkdir(parents=True, exist_ok=True)
    _store(where, "read", lambda: where.fs.get_file(where.path, str(local)))
