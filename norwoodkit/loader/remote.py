"""A pack read from a URL: its manifest and footers from the store, its shards through the cache.

``open_remote`` reads ``manifest.json`` (one object, at most ``MAX_MANIFEST_BYTES``), keys the
local cache folder by the pack's URL and the manifest's sha256 (a pack uploaded again gets a
fresh folder), checks it as a local manifest is checked, and reads each shard's Parquet footer
with ranged reads (the row-group sizes are kept in the cache folder, so the next dataset of the
same pack reads none). Shards themselves are downloaded only when a reader needs them
(``cache.ShardCache``). A store's refusal, a missing bucket or an unfinished upload stop with an
error naming the URL and what to do.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from norwoodkit.atomic import write_bytes_atomic
from norwoodkit.errors import InputError, NorwoodkitError, ParameterError
from norwoodkit.loader.cache import META_DIR, ShardCache, shard_missing
from norwoodkit.loader.shards import (
    ShardSplit,
    build_split,
    group_rows,
    open_split,
    split_records,
)
from norwoodkit.pack.layout import MANIFEST
from norwoodkit.pack.manifest import MAX_MANIFEST_BYTES
from norwoodkit.storage import Location, place, storage_error

__all__ = ["cache_folder", "open_pack", "open_remote", "parse_limit"]

_GROUPS = "row_groups.json"


def parse_limit(limit: int | str | None) -> int | None:
    """``cache_limit`` in bytes: an int, text such as ``2GB`` or ``500MiB``, or None (no limit).

    Raises:
        ParameterError: (cache_limit) not a size, or not positive.
    """
    if limit is None:
        return None
    if isinstance(limit, str):
        from norwoodkit.pack.options import parse_size

        limit = parse_size(limit, "cache_limit")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ParameterError(
            "cache_limit", f"{limit!r} is not a size; give bytes or text such as '2GB'"
        )
    return limit


def open_pack(
    directory: str | os.PathLike[str],
    split: str,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    cache_limit: int | str | None = None,
) -> ShardSplit:
    """One split of a pack folder (a local path: read in place, as always) or of a pack at a
    URL (``s3://``, ``gs://``, any fsspec URL: through the local cache)."""
    limit = parse_limit(cache_limit)
    where = place(directory, parameter="directory")
    if isinstance(where, Path):
        return open_split(where, split)
    folder = None if cache_dir is None else Path(cache_dir)
    return open_remote(where, split, cache_dir=folder, cache_limit=limit)


def cache_folder(where: Location, manifest: bytes, cache_dir: Path | None) -> Path:
    """The cache folder of this pack: ``<cache_dir>/shards/<url key>-<manifest key>``."""
    if cache_dir is None:
        from norwoodkit.probe.cache import default_cache_dir

        cache_dir = default_cache_dir()
    url_key = hashlib.sha256(where.url.encode()).hexdigest()[:16]
    manifest_key = hashlib.sha256(manifest).hexdigest()[:16]
    return Path(cache_dir) / "shards" / f"{url_key}-{manifest_key}"


def open_remote(
    where: Location,
    split: str,
    *,
    cache_dir: Path | None = None,
    cache_limit: int | None = None,
) -> ShardSplit:
    """One split of the pack at ``where``, its shards served through a local cache.

    Raises:
        InputError: no such bucket or pack, no manifest (an unfinished upload), a manifest or
            footer that disagrees, a store that refuses (each names the URL).
        ParameterError: ``cache_limit`` below the split's largest shard (names the size needed).
    """
    data = _manifest_bytes(where)
    folder = cache_folder(where, data, cache_dir)
    manifest = _checked_manifest(where, folder, data)
    split, records = split_records(manifest, split, where.url)
    _check_limit(cache_limit, records)
    groups = _row_groups(where, folder, records)
    cache = ShardCache(where, folder, records, cache_limit)
    return build_split(folder, manifest, split, groups, cache)


def _manifest_bytes(where: Location) -> bytes:
    """``manifest.json``'s bytes, or an error saying whether anything is at the URL at all."""
    obj = where.join(MANIFEST)
    try:
        with obj.fs.open(obj.path, "rb") as fh:
            data: bytes = fh.read(MAX_MANIFEST_BYTES + 1)
    except FileNotFoundError as exc:
        raise _no_manifest(where, exc) from exc
    except OSError as exc:
        raise storage_error(exc, obj, "read") from exc
    if len(data) > MAX_MANIFEST_BYTES:
        raise InputError(
            f"{obj.url}: more than {MAX_MANIFEST_BYTES} bytes, more than any manifest pack "
            "writes; check the URL",
            code="manifest-invalid",
        )
    return data


def _no_manifest(where: Location, exc: FileNotFoundError) -> NorwoodkitError:
    """A missing manifest: no bucket, nothing at the URL, or an upload left unfinished."""
    error = storage_error(exc, where, "read")
    if "does not exist" in str(error):  # the bucket itself is missing
        return error
    try:
        anything = bool(where.fs.ls(where.path, detail=False))
    except FileNotFoundError:
        anything = False
    except OSError as other:
        return storage_error(other, where, "list")
    if not anything:
        return InputError(
            f"{where.url}: nothing there (no manifest.json, no shards); check the URL, e.g. "
            "s3://bucket/packs/name for the folder `norwoodkit pack` wrote",
            code="storage-missing",
        )
    return InputError(
        f"{where.url}/{MANIFEST}: no manifest; {where.url} is not a finished pack (an upload "
        "that was interrupted, or one that is still running: pack writes manifest.json last, "
        "so upload it last); upload the pack folder again",
        code="manifest-missing",
    )


def _checked_manifest(where: Location, folder: Path, data: bytes) -> dict[str, Any]:
    """The manifest, kept in the cache folder and checked as a local one is."""
    from norwoodkit.pack import read_manifest

    folder.mkdir(parents=True, exist_ok=True)
    (folder / META_DIR).mkdir(exist_ok=True)
    local = folder / MANIFEST
    if not local.is_file() or local.read_bytes() != data:
        write_bytes_atomic(local, data)
        write_bytes_atomic(folder / META_DIR / "source.txt", f"{where.url}\n".encode())
    try:
        return read_manifest(folder)
    except InputError as exc:  # name the URL, not the cached copy
        message = str(exc).replace(str(local), f"{where.url}/{MANIFEST}")
        raise InputError(message.replace(str(folder), where.url), code=exc.code) from None


def _check_limit(limit: int | None, records: list[Mapping[str, Any]]) -> None:
    if limit is None or not records:
        return
    largest = max(records, key=lambda r: int(r["bytes"]))
    if limit < int(largest["bytes"]):
        raise ParameterError(
            "cache_limit",
            f"{limit} bytes is smaller than the largest shard ({largest['path']}, "
            f"{largest['bytes']} bytes); use at least {largest['bytes']} bytes (a few shards "
            "per DataLoader worker lets prefetch work)",
        )


def _row_groups(where: Location, folder: Path, records: list[Mapping[str, Any]]) -> list[list[int]]:
    """Each shard's row-group sizes: from the cache folder, else from the footers (kept)."""
    kept_at = folder / META_DIR / _GROUPS
    kept = _read_kept(kept_at)
    out: list[list[int]] = []
    fresh = False
    for rec in records:
        sizes = kept.get(str(rec["path"]))
        if not _valid(sizes, rec):
            sizes = _footer_groups(where, rec)
            kept[str(rec["path"])] = sizes
            fresh = True
        assert sizes is not None
        out.append(list(sizes))
    if fresh:
        write_bytes_atomic(kept_at, json.dumps(kept, sort_keys=True).encode())
    return out


def _read_kept(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _valid(sizes: Any, record: Mapping[str, Any]) -> bool:
    """A kept list of row-group sizes that adds up to the shard's rows."""
    return (
        isinstance(sizes, list)
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in sizes)
        and sum(sizes) == record["rows"]
    )


def _footer_groups(where: Location, record: Mapping[str, Any]) -> list[int]:
    """Row-group sizes from one shard's footer, read from the store (a few ranged reads)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    obj = where.join(str(record["path"]))
    try:
        with obj.fs.open(obj.path, "rb", block_size=1 << 16) as fh:
            meta = pq.read_metadata(fh)
    except FileNotFoundError as exc:
        raise shard_missing(obj.url, where.url) from exc
    except (ValueError, TypeError, IndexError, pa.ArrowException) as exc:
        raise InputError(
            f"{obj.url}: cannot be read as Parquet ({type(exc).__name__}); run `norwoodkit "
            f"verify {where.url}` and upload the pack again",
            code="shard-unreadable",
        ) from exc
    except OSError as exc:
        raise storage_error(exc, obj, "read") from exc
    return group_rows(meta, record, obj.url, where.url)
