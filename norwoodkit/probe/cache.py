"""The probe cache file: where it lives, its schema and key, and which of its rows can be trusted.

A cached row is used only when its key matches the file now (path, size, mtime, inode, ctime:
a user can set mtime back, not ctime; an object in a store keeps its size, last modified time and
ETag or version id in the same columns, see ``probe/remote.py``) and the row passes its own
consistency check (an ok row has a 64-hex sha256, 16-hex phashes, positive dimensions, the size
its key says). A cache file that is not a regular file, not Parquet or of another schema is
ignored with a warning, and every image is probed again: the cache is an optimisation, never a
reason to fail or to trust.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import stat
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

from norwoodkit.columns import PROBE_COLUMNS, arrow_schema, column
from norwoodkit.errors import ParameterError
from norwoodkit.storage import Location

log = logging.getLogger(__name__)

__all__ = [
    "CACHE_COLUMNS",
    "CACHE_GROUP_ROWS",
    "KEY_COLUMNS",
    "PROBE_VERSION",
    "cache_file",
    "cache_schema",
    "cached_batches",
    "consistent",
    "default_cache_dir",
    "read_cache",
    "read_columns",
    "same_key",
]

#: Bump when the meaning of any probe column or of the key changes: older caches are then
#: ignored. 3: the key gained inode and ctime, and rows are checked before they are trusted.
# 4: the quality measures (sharpness, exposure, entropy, grayscale). 5: a phash whose DCT values
# tie at the median (a flat or symmetric photo) is imagehash's, not the matrix DCT's rounding.
# 6: no thumbnail column (a report makes the thumbnails of the photos it shows).
PROBE_VERSION = 6

#: The key of a cache row besides ``path``: what ``stat`` said when the row was written.
#: ``mtime_ns`` is a probe column that belongs to the key as well.
KEY_COLUMNS = ("size_key", "mtime_ns", "inode_key", "ctime_key")

#: Columns of a cache file: the key, then the probe columns.
CACHE_COLUMNS = ["path", "size_key", "inode_key", "ctime_key", *(c.name for c in PROBE_COLUMNS)]

#: Probe columns every pass reads, whatever its caller asked for: the status (what every step
#: looks at first) and the modification time (part of the key).
ALWAYS_READ = ("status", "mtime_ns")

#: Rows per row group of a cache file: reading or copying one group stays well under a megabyte
#: whatever the dataset size.
CACHE_GROUP_ROWS = 1024

#: The statuses a cache may hold. Missing files, and paths that are no regular file or lead out
#: of the root, cost nothing to see again and are never cached.
CACHED_STATUSES = ("ok", "empty", "unreadable", "undecodable", "truncated", "too-large")

#: The dimensions an ok row must hold (positive).
_DIMENSIONS = ("width", "height", "oriented_width", "oriented_height")

_HEX64 = "^[0-9a-f]{64}$"
_HEX16 = "^[0-9a-f]{16}$"


@functools.cache
def cache_schema() -> Any:
    """A cache file's Arrow schema: the key (path, size, inode, ctime), then the probe columns."""
    # The key columns hold what stat gave when the entry was written (inode as signed 64 bits).
    key = [column("path"), *(column("size").renamed(n) for n in KEY_COLUMNS if n != "mtime_ns")]
    return arrow_schema([*key, *PROBE_COLUMNS])


def read_columns(wanted: Collection[str] | None) -> list[str]:
    """The probe columns a pass takes from the cache into its table, in spec order:
    ``wanted`` (None: every probe column) plus ``ALWAYS_READ``.

    Raises:
        ParameterError: ``wanted`` names a column that is not a probe column (``columns``).
    """
    names = {c.name for c in PROBE_COLUMNS}
    unknown = sorted(set(wanted or ()) - names)
    if unknown:
        raise ParameterError(
            "columns",
            f"{', '.join(map(repr, unknown))}: not a probe column; choose from "
            f"{', '.join(sorted(names))}",
        )
    chosen = names if wanted is None else {*wanted, *ALWAYS_READ}
    return [c.name for c in PROBE_COLUMNS if c.name in chosen]


def default_cache_dir() -> Path:
    """``$NORWOODKIT_CACHE_DIR``, else the user cache folder (never inside a dataset)."""
    env = os.environ.get("NORWOODKIT_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("norwoodkit"))


def cache_file(root: Path | Location, cache_dir: Path) -> Path:
    """Where the probe cache of one dataset root (a folder, or a store's URL) lives."""
    name = os.path.realpath(root) if isinstance(root, Path) else f"{root.protocol}://{root.path}"
    key = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()
    return cache_dir / f"probe-v{PROBE_VERSION}" / f"{key[:20]}.parquet"


def _conform(table: Any, names: Sequence[str]) -> Any:
    """``table``'s columns ``names``, cast to the cache schema (older files wrote large strings)."""
    import pyarrow as pa

    schema = cache_schema()
    return table.select(list(names)).cast(pa.schema([schema.field(n) for n in names]))


class _Ignored(Exception):
    """A cache file that is not used, and why."""


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[Any]:
    """The cache file as a ``ParquetFile`` (None when there is none), closed afterwards.

    Raises:
        _Ignored: it is not a regular file, not Parquet, or not a cache's schema.
    """
    import pyarrow.parquet as pq

    try:
        # Non-blocking, and checked on the descriptor: a FIFO put here cannot hang the run.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        yield None
        return
    except OSError as exc:
        raise _Ignored(exc.strerror or str(exc)) from None
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError:
        regular = False
    if not regular:  # checked on the descriptor: what was opened is what is refused
        os.close(fd)
        raise _Ignored("not a regular file")
    with os.fdopen(fd, "rb") as fh:
        try:
            # No pre-buffering: the file is local, and coalesced reads held megabytes more.
            parquet = pq.ParquetFile(fh, pre_buffer=False)
        except Exception as exc:
            raise _Ignored(f"not a Parquet file ({type(exc).__name__})") from None
        if sorted(parquet.schema_arrow.names) != sorted(CACHE_COLUMNS):
            raise _Ignored("another schema than this version's")
        yield parquet


def read_cache(path: Path, columns: Sequence[str]) -> Any | None:
    """The cache file's ``columns`` as an Arrow table; None when there is none or it is ignored."""
    try:
        with _opened(path) as parquet:
            if parquet is None:
                return None
            return _conform(parquet.read(columns=list(columns), use_threads=False), columns)
    except Exception as exc:  # a damaged or foreign cache is ignored, never fatal
        log.warning("probe cache %s is ignored (%s); probing again", path, _reason(exc))
        return None


def cached_batches(path: Path) -> Iterator[Any]:
    """The cache file's rows (all columns) as tables of ``CACHE_GROUP_ROWS`` rows at most.

    Stops with a warning, having yielded what it could, when the file went bad since it was
    read; yields nothing when there is no usable file.
    """
    import pyarrow as pa

    try:
        with _opened(path) as parquet:
            if parquet is None:
                return
            for batch in parquet.iter_batches(batch_size=CACHE_GROUP_ROWS, columns=CACHE_COLUMNS):
                yield _conform(pa.Table.from_batches([batch]), CACHE_COLUMNS)
    except Exception as exc:
        log.warning("probe cache %s is unreadable (%s); rewriting it", path, _reason(exc))


def _reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, _Ignored) else f"{type(exc).__name__}: {exc}"


def same_key(cached: Any, now: Any) -> Any:
    """Per row, whether the cached key columns equal ``now``'s (rows aligned; null: False)."""
    import pyarrow.compute as pc

    same = pc.equal(now["path"], cached["path"])
    for name in KEY_COLUMNS:
        same = pc.and_(same, pc.equal(now[name], cached[name]))
    return pc.fill_null(same, False)


def consistent(t: Any) -> Any:
    """Per row, whether a cached row is believable on its own (a boolean array without nulls).

    Tampering or a bug that left a row half-written must lead to a new probe, not to a wrong
    hash in every command after it. Only the columns ``t`` holds are checked: a pass that reads
    few columns trusts a row on those (a bad hash cannot mislead a command that never reads
    it), and the next pass that reads the hash finds it bad and probes the file again.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    def given(x: Any, default: bool) -> Any:
        return pc.fill_null(x, default)

    has = set(t.column_names)
    ok = given(pc.equal(t["status"], "ok"), False)
    checks = [
        given(pc.is_in(t["status"], value_set=pa.array(CACHED_STATUSES)), False),
        given(pc.greater_equal(t["size_key"], 0), False),
        *([given(pc.greater_equal(t["size"], 0), True)] if "size" in has else []),
        *([given(pc.match_substring_regex(t["sha256"], _HEX64), True)] if "sha256" in has else []),
        pc.or_(pc.invert(ok), _ok_row(t, has)),
    ]
    result = checks[0]
    for check in checks[1:]:
        result = pc.and_(result, check)
    return result


def _ok_row(t: Any, has: set[str]) -> Any:
    """Per row, whether the columns (of ``has``) an ok row must have are there and well formed."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rules: dict[str, Callable[[], Any]] = {
        "sha256": lambda: pc.match_substring_regex(t["sha256"], _HEX64),
        "phash": lambda: pc.match_substring_regex(t["phash"], _HEX16),
        "phash_mirror": lambda: pc.match_substring_regex(t["phash_mirror"], _HEX16),
        "size": lambda: pc.equal(t["size"], t["size_key"]),
        **{n: functools.partial(pc.greater, t[n], 0) for n in _DIMENSIONS if n in has},
    }
    result = pa.repeat(True, t.num_rows)
    for name, rule in rules.items():
        if name in has:
            result = pc.and_(result, pc.fill_null(rule(), False))
    return result
