"""The local shard cache of a pack read from a URL: whole shards, bounded, shared by processes.

One folder per pack (``<cache_dir>/<key>/``, ``docs/formats.md``) mirrors the pack: the
manifest at its top, each shard at its manifest path once it is downloaded and checked. A shard
is downloaded whole into a temporary name beside its final one, hashed while it arrives, and
renamed only when its sha256 equals the manifest's, so no reader ever opens a half-written or
changed file. File locks (``fcntl.flock``) in ``.nk-cache/locks/`` coordinate every process on
the machine (DataLoader workers, ranks): one downloader per shard at a time (the others wait
and then find it present); a reader holds a shared lock on the shard it reads, and eviction
removes only shards it can lock exclusively. With ``limit``, the bytes of the shard files
(downloads in progress counted at their full size) never exceed it: before a download, the
least recently used shards nobody reads are removed (MosaicML Streaming's ``cache_limit``;
LitData's ``max_cache_size``). A background thread downloads the next shards of the reader's
plan ahead of it (``PREFETCH``); it never waits for room and never evicts a shard in use.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from norwoodkit.errors import InputError
from norwoodkit.storage import Location, locate, storage_error

try:  # POSIX; elsewhere processes do not coordinate (the rename still keeps files whole)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["META_DIR", "PREFETCH", "ShardCache", "cached_bytes"]

log = logging.getLogger(__name__)

#: Shards downloaded ahead of the one a reader is reading, in its plan's order.
PREFETCH = 2
#: The cache's own files (locks, row-group sizes, the source URL), apart from the shards.
META_DIR = ".nk-cache"
_CHUNK = 1 << 20
_WAIT = 0.05  # seconds between looks for room while other readers hold every shard


def cached_bytes(folder: Path) -> int:
    """Bytes of the shard files in a pack's cache folder, downloads in progress included."""
    total = 0
    for path in _shard_files(folder, parts=True):
        with contextlib.suppress(OSError):
            total += path.stat().st_size
    return total


def _shard_files(folder: Path, *, parts: bool) -> Iterator[Path]:
    """Shard files under ``folder`` (the manifest and ``.nk-cache`` left out)."""
    for sub in folder.iterdir() if folder.is_dir() else ():
        if sub.name == META_DIR or not sub.is_dir() or sub.is_symlink():
            continue
        for f in sub.iterdir():
            if f.name.endswith(".part") and not parts:
                continue
            if f.is_file() and not f.is_symlink():
                yield f


@contextlib.contextmanager
def _flock(path: Path, exclusive: bool, *, wait: bool = True) -> Iterator[bool]:
    """Hold a file lock on ``path`` (created if absent); yields False when ``wait`` is off and
    another holder has it."""
    with open(path, "a+b") as fh:
        yield _lock(fh, exclusive, wait)


def _lock(fh: IO[bytes], exclusive: bool, wait: bool) -> bool:
    if fcntl is None:
        return True
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    try:
        fcntl.flock(fh.fileno(), mode if wait else mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@dataclass
class _Process:
    """What one process holds: its pins (open shared locks), prefetch thread and queue."""

    pid: int
    where: Location  # the pack's URL with a filesystem made in this process
    pins: dict[int, IO[bytes]]
    jobs: queue.SimpleQueue[int | None]
    thread: threading.Thread | None = None
    plan: tuple[int, ...] = ()
    cursor: int = 0


class ShardCache:
    """The cached shards of one remote pack: ``acquire`` a shard to read it, ``release`` after.

    Picklable: DataLoader workers and ranks each get their own process state (pins, prefetch
    thread) on first use; the folder and its locks are shared.
    """

    def __init__(
        self,
        where: Location,
        folder: Path,
        records: Sequence[Mapping[str, Any]],
        limit: int | None,
    ) -> None:
        self.where = where
        self.folder = folder
        self.paths = tuple(str(r["path"]) for r in records)
        self.sizes = tuple(int(r["bytes"]) for r in records)
        self.hashes = tuple(str(r["sha256"]) for r in records)
        self.limit = limit
        self._proc: _Process | None = None
        (folder / META_DIR / "locks").mkdir(parents=True, exist_ok=True)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_proc"] = None  # open locks and threads stay in the process that made them
        return state

    # ----------------------------------------------------------- per process

    def _here(self) -> _Process:
        """This process's state, made afresh in a forked or spawned worker."""
        proc = self._proc
        if proc is None or proc.pid != os.getpid():
            # a forked child inherits the parent's descriptors (its locks are the parent's)
            # and the parent's store client, bound to the parent's event loop: make its own
            where = locate(self.where.url, parameter="directory")
            proc = self._proc = _Process(os.getpid(), where, {}, queue.SimpleQueue())
        return proc

    def follow(self, shards: Sequence[int]) -> None:
        """The shards this reader will read, in order: prefetch follows them."""
        proc = self._here()
        runs = [s for i, s in enumerate(shards) if i == 0 or shards[i - 1] != s]
        proc.plan, proc.cursor = tuple(runs), 0

    def local(self, shard: int) -> Path:
        """Where shard ``shard`` lives in the cache (present or not)."""
        return self.folder / self.paths[shard]

    def _lockfile(self, shard: int, kind: str) -> Path:
        return self.folder / META_DIR / "locks" / f"{self.paths[shard].replace('/', '__')}.{kind}"

    def acquire(self, shard: int) -> Path:
        """The shard's local file, downloaded and checked if needed, held until ``release``.

        Raises:
            InputError: the store cannot serve it, or its sha256 differs from the manifest.
        """
        proc = self._here()
        if shard not in proc.pins:
            fh = open(self._lockfile(shard, "use"), "a+b")  # noqa: SIM115 (held until release)
            _lock(fh, exclusive=False, wait=True)
            proc.pins[shard] = fh
        try:
            path = self.local(shard)
            while not path.is_file():
                self._download(shard, wait=True)
            os.utime(path)  # the mtime is the recency eviction reads, across processes
        except BaseException:
            self.release(shard)
            raise
        self._ahead(proc, shard)
        return path

    def release(self, shard: int) -> None:
        """Let eviction remove the shard again."""
        fh = self._here().pins.pop(shard, None)
        if fh is not None:
            fh.close()

    def close(self) -> None:
        """Release every shard this process holds and stop its prefetch thread."""
        proc = self._here()
        for shard in list(proc.pins):
            self.release(shard)
        if proc.thread is not None and proc.thread.is_alive():
            with contextlib.suppress(queue.Empty):
                while True:  # a reader that stops early wants no more shards ahead
                    proc.jobs.get_nowait()
            proc.jobs.put(None)
            proc.thread.join(timeout=60)
        proc.thread = None

    # ----------------------------------------------------------- prefetch

    def _ahead(self, proc: _Process, shard: int) -> None:
        """Queue the next ``PREFETCH`` shards of the plan after ``shard`` for the thread."""
        plan = proc.plan
        try:
            proc.cursor = plan.index(shard, proc.cursor)
        except ValueError:
            return
        nxt: list[int] = []
        for s in plan[proc.cursor + 1 :]:
            if s != shard and s not in nxt:
                nxt.append(s)
            if len(nxt) == PREFETCH:
                break
        todo = [s for s in nxt if not self.local(s).is_file()]
        if not todo:
            return
        if proc.thread is None or not proc.thread.is_alive():
            proc.thread = threading.Thread(
                target=self._prefetch, args=(proc.jobs,), name="norwoodkit-prefetch", daemon=True
            )
            proc.thread.start()
        for s in todo:
            proc.jobs.put(s)

    def _prefetch(self, jobs: queue.SimpleQueue[int | None]) -> None:
        """The prefetch thread: download queued shards while there is room; never wait."""
        while (shard := jobs.get()) is not None:
            if self.local(shard).is_file():
                continue
            try:
                self._download(shard, wait=False)
            except Exception as exc:  # the reader meets the same error when it gets there
                log.debug("prefetch of %s failed: %s", self.paths[shard], exc)

    # ----------------------------------------------------------- download

    def _download(self, shard: int, *, wait: bool) -> None:
        """Download one shard into the cache unless another process is already at it.

        With ``wait`` (a reader needs it now) wait for the other downloader and for room;
        without (prefetch) give up instead.
        """
        with _flock(self._lockfile(shard, "get"), True, wait=wait) as mine:
            if not mine or self.local(shard).is_file():
                return
            final = self.local(shard)
            for stale in final.parent.glob(f".{final.name}.*.part"):
                stale.unlink(missing_ok=True)  # left by a killed process: no one else writes it
            tmp = self._reserve(shard, wait=wait)
            if tmp is None:
                return
            try:
                self._fetch_into(shard, tmp)
                os.replace(tmp, self.local(shard))
            finally:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()

    def _reserve(self, shard: int, *, wait: bool) -> Path | None:
        """A temporary file of the shard's full size, once the cache has room for it."""
        size = self.sizes[shard]
        final = self.local(shard)
        final.parent.mkdir(parents=True, exist_ok=True)
        warned = False
        started = time.monotonic()
        while True:
            with _flock(self.folder / META_DIR / "locks" / "cache", True):
                if self._make_room(size, keep=shard):
                    mark = f"{os.getpid()}-{threading.get_ident()}"
                    tmp = final.with_name(f".{final.name}.{mark}.part")
                    with open(tmp, "wb") as fh:
                        fh.truncate(size)  # counted at full size from now on
                    return tmp
            if not wait:
                return None
            if not warned and time.monotonic() - started > 30:
                warned = True
                log.warning(
                    "%s: waiting for room in the shard cache (cache_limit %d bytes): the readers "
                    "on this machine hold the rest; a larger cache_limit avoids the wait",
                    self.where.url,
                    self.limit,
                )
            time.sleep(_WAIT)

    def _make_room(self, size: int, keep: int) -> bool:
        """Remove least recently used shards nobody reads (and abandoned downloads) until
        ``size`` more bytes fit under the limit; False when they cannot (yet)."""
        if self.limit is None:
            return True
        used = cached_bytes(self.folder)
        if used + size <= self.limit:
            return True
        by_name = {p: i for i, p in enumerate(self.paths)}
        candidates: list[tuple[float, Path, int]] = []
        for f in _shard_files(self.folder, parts=True):
            rel = f"{f.parent.name}/{f.name}"
            if f.name.endswith(".part"):
                owner = by_name.get(f"{f.parent.name}/{f.name[1:].split('.parquet.')[0]}.parquet")
                if owner is not None and owner != keep:
                    candidates.append((-1.0, f, owner))  # abandoned when its get-lock is free
                continue
            shard = by_name.get(rel)
            if shard is not None and shard != keep:
                with contextlib.suppress(OSError):
                    candidates.append((f.stat().st_mtime, f, shard))
        for _, f, shard in sorted(candidates, key=lambda c: c[0]):
            kind = "get" if f.name.endswith(".part") else "use"
            with _flock(self._lockfile(shard, kind), True, wait=False) as free:
                if not free:
                    continue
                try:
                    freed = f.stat().st_size
                    f.unlink()
                except OSError:  # finished and renamed meanwhile, or gone
                    continue
            used -= freed
            if used + size <= self.limit:
                return True
        return False

    def _fetch_into(self, shard: int, tmp: Path) -> None:
        """Stream the shard's object into ``tmp``, hashing it; refuse one that changed."""
        where = self._here().where.join(self.paths[shard])
        digest = hashlib.sha256()
        size = 0
        try:
            with where.fs.open(where.path, "rb", block_size=_CHUNK) as src, open(tmp, "r+b") as dst:
                while (chunk := src.read(_CHUNK)) and size <= self.sizes[shard]:
                    digest.update(chunk)
                    dst.write(chunk)  # past the reserved size only by one chunk, then refused
                    size += len(chunk)
        except FileNotFoundError as exc:
            raise shard_missing(where.url, self.where.url) from exc
        except OSError as exc:
            raise storage_error(exc, where, "read") from exc
        if size != self.sizes[shard] or digest.hexdigest() != self.hashes[shard]:
            raise InputError(
                f"{where.url}: sha256 differs from manifest.json (the shard changed after "
                f"packing); run `norwoodkit verify {self.where}` and pack or upload it again",
                code="shard-hash",
            )
        log.debug("downloaded %s (%d bytes)", where.url, size)


def shard_missing(shard_url: str, pack_url: str) -> InputError:
    """A shard the manifest lists is not in the store: the fix is the whole upload again."""
    return InputError(
        f"{shard_url}: listed in manifest.json but not in the store; upload the whole pack "
        f"folder again (manifest.json last) or run `norwoodkit verify {pack_url}`",
        code="shard-missing",
    )
