"""Images in an object store for the probe: their cache key, and their bytes, fetched concurrently.

A store has no inode or ctime; what it does give is the object's size, its ETag (or version id)
and when it was last modified. ``listed_keys`` derives the cache's key columns from those, so a
cache file has one format whatever the root: ``size_key`` is the size, ``mtime_ns`` the last
modified time, and ``inode_key``/``ctime_key`` hold the first 128 bits of the sha256 of the
ETag or version id. A rewritten object gets a new ETag, so its cached row no longer matches.

``fetched`` gets the bodies with a bounded number of GETs in flight (threads: the time goes in
waiting on the network), in the caller's order, holding at most twice that many bodies; an
object the listing says is over ``MAX_FILE_BYTES`` is never fetched. ``probe_blobs`` is the
pure unit of work that a process pool maps over the fetched bytes (``probe_bytes`` on each).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from norwoodkit.probe.read import MAX_FILE_BYTES
from norwoodkit.storage import Location, storage_error

if TYPE_CHECKING:
    from norwoodkit.remote_walk import Listing

__all__ = ["CONCURRENCY", "fetch", "fetched", "listed_keys", "probe_blobs"]

#: GETs in flight while probing a store's images. Measured (docs/benchmarks.md, "Probing from
#: object storage"): with 20 ms per request, 4 or more reach the decode-bound plateau on two
#: cores; 16 stays on it and leaves room for more cores or a farther store.
CONCURRENCY = 16

#: A fetched body, or the probe row of an object that was not fetched (its status says why).
Blob = bytes | dict[str, Any]


def listed_keys(listing: Listing, paths: Sequence[str]) -> tuple[np.ndarray, ...]:
    """Per path: size, last modified (ns), and the tag's two 64-bit halves; -1 where the
    listing holds no such object."""
    out = tuple(np.full(len(paths), -1, dtype=np.int64) for _ in range(4))
    for i, rel in enumerate(paths):
        obj = listing.objects.get(rel)
        if obj is None:
            continue
        digest = hashlib.sha256(obj.tag.encode("utf-8")).digest()
        out[0][i], out[1][i] = obj.size, obj.mtime_ns
        out[2][i] = int.from_bytes(digest[:8], "little", signed=True)
        out[3][i] = int.from_bytes(digest[8:16], "little", signed=True)
    return out


def fetch(root: Location, rel: str, size: int) -> Blob:
    """The body of the object ``rel`` (root-relative), or the row saying why it was not read.

    Raises:
        StorageError: the store refused the read (names the permission) or could not serve it:
            a network failure is not a property of the image, so it is never cached as one.
    """
    from norwoodkit.probe.decode import empty_row

    if size > MAX_FILE_BYTES:
        error = f"{size:,} bytes, over the probe's limit of {MAX_FILE_BYTES:,} bytes; not read"
        return {**empty_row(), "status": "too-large", "error": error, "size": size}
    where = root.join(rel)
    try:
        data = where.fs.cat_file(where.path, start=0, end=MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return {**empty_row(), "status": "missing", "error": "object not found"}
    except Exception as exc:  # the store's exception, as one message naming the URL
        raise storage_error(exc, where, "read") from None
    if len(data) > MAX_FILE_BYTES:
        error = f"over the probe's limit of {MAX_FILE_BYTES:,} bytes; not read"
        return {**empty_row(), "status": "too-large", "error": error}
    return bytes(data)


def fetched(
    root: Location, paths: Sequence[str], sizes: Sequence[int], concurrency: int | None = None
) -> Iterator[Blob]:
    """``fetch`` of each path, in order, with at most ``concurrency`` GETs in flight (None:
    ``CONCURRENCY``, read at the call, so a benchmark can set it)."""
    from norwoodkit.parallel import ordered_map

    n = max(1, CONCURRENCY if concurrency is None else concurrency)
    tasks = ((root, rel, int(size)) for rel, size in zip(paths, sizes, strict=True))
    with ThreadPoolExecutor(n, thread_name_prefix="nk-fetch") as pool:
        # Up to 2n requested ahead of the consumer: every thread busy while it takes results.
        yield from ordered_map(fetch, tasks, pool=pool, ahead=2 * n - 1)


def probe_blobs(blobs: Sequence[Blob]) -> list[dict[str, Any]]:
    """Probe rows of fetched bodies (rows of objects not fetched pass through): the pure unit
    of work a pool maps."""
    from norwoodkit.probe.decode import probe_bytes

    return [probe_bytes(b) if isinstance(b, bytes) else b for b in blobs]
