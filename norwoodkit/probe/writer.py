"""Writing a probe cache file: private to the user, in row groups, renamed when complete.

The file is created 0600 under a temporary name and renamed over the old one; every folder of
the cache path that we create is 0700 (a folder that exists keeps its mode). Any OSError turns
the writer off with a warning: the cache is an optimisation, never a reason to fail.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from pathlib import Path
from typing import IO, Any

from norwoodkit.probe import cache

log = logging.getLogger(__name__)

__all__ = ["CacheWriter", "make_private_dirs"]

_CREATE_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


def make_private_dirs(folder: Path) -> None:
    """Create ``folder`` and any missing parent, each 0700; folders that exist are left alone."""
    missing: list[Path] = []
    for p in (folder, *folder.parents):
        if p.is_dir():
            break
        missing.append(p)
    for p in reversed(missing):
        try:
            os.mkdir(p, 0o700)
        except FileExistsError:
            continue  # another process made it first; not ours to change
        os.chmod(p, 0o700)  # exactly 0700, whatever the umask took away


class CacheWriter:
    """A new cache file, written in row groups as results arrive and renamed when complete."""

    def __init__(self, path: Path) -> None:
        import pyarrow.parquet as pq

        self.path = path
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        self.pending: list[Any] = []  # Arrow tables not yet written
        self.writer: Any = None
        self.sink: IO[bytes] | None = None
        try:
            make_private_dirs(path.parent)
            fd = os.open(self.tmp, _CREATE_FLAGS, 0o600)
            os.fchmod(fd, 0o600)
            self.sink = os.fdopen(fd, "wb")
            self.writer = pq.ParquetWriter(self.sink, cache.cache_schema())
        except OSError as exc:
            self._fail(exc)

    def _close(self) -> None:
        if self.writer is not None:
            with contextlib.suppress(Exception):
                self.writer.close()
        self.writer = None
        if self.sink is not None:
            with contextlib.suppress(OSError):
                self.sink.close()
        self.sink = None

    def _fail(self, exc: OSError) -> None:
        log.warning(
            "cannot write the probe cache %s (%s); the next run will probe again", self.path, exc
        )
        self._close()
        self.pending = []
        with contextlib.suppress(OSError):  # the folder may be what failed
            self.tmp.unlink(missing_ok=True)

    @property
    def active(self) -> bool:
        """Whether rows added still go somewhere (no write has failed)."""
        return self.writer is not None

    def add(self, rows: Any) -> None:
        """Queue rows (a table or batch, cache schema); a row group per ``CACHE_GROUP_ROWS``."""
        import pyarrow as pa

        if self.writer is None or not rows.num_rows:
            return
        self.pending.append(rows if isinstance(rows, pa.Table) else pa.Table.from_batches([rows]))
        if sum(t.num_rows for t in self.pending) >= cache.CACHE_GROUP_ROWS:
            self._flush(last=False)

    def _flush(self, last: bool) -> None:
        """Write the whole row groups queued (all that is queued when ``last``)."""
        import pyarrow as pa

        if self.writer is None or not self.pending:
            return
        group = cache.CACHE_GROUP_ROWS
        table = pa.concat_tables(self.pending)
        cut = table.num_rows if last else table.num_rows // group * group
        rest = table.slice(cut)
        self.pending = [rest] if rest.num_rows else []
        try:
            self.writer.write_table(table.slice(0, cut), row_group_size=group)
        except OSError as exc:
            self._fail(exc)

    def commit(self) -> None:
        """Write what is queued, close the file and rename it over the old cache."""
        self._flush(last=True)
        if self.writer is None or self.sink is None:
            return
        try:
            self.writer.close()
            self.writer = None
            self.sink.close()
            self.sink = None
            os.replace(self.tmp, self.path)
        except OSError as exc:
            self._fail(exc)

    def abort(self) -> None:
        """Close and remove the temporary file; the old cache stays as it was."""
        self._close()
        with contextlib.suppress(OSError):
            self.tmp.unlink(missing_ok=True)
