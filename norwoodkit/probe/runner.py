"""The probe pass: stat every file, take what the cache still vouches for, probe the rest.

For a root in an object store, the listing stands in for ``stat`` (``probe/remote.py`` derives
the key) and the bodies are fetched concurrently ahead of the same decode.

Results stream: each finished batch goes into the new cache file and into the table; reused
entries are copied over row group by row group. No step holds every image's results as Python
objects.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from norwoodkit.columns import PROBE_COLUMNS, coerce
from norwoodkit.dataset import Dataset, ProbedDataset, local_root
from norwoodkit.engine import Engine, EngineChoice
from norwoodkit.paths import guard_output
from norwoodkit.probe import cache
from norwoodkit.probe.writer import CacheWriter
from norwoodkit.storage import Location

__all__ = ["BATCH_SIZE", "ProbeStream", "ProgressFn", "results_frame", "run"]

#: Paths per task sent to a worker: large enough to amortise pickling, small enough to balance.
BATCH_SIZE = 16

ProgressFn = Callable[[int], None]

_INT64_SPAN = 1 << 64


@dataclass
class _Stats:
    """What ``stat`` says of each path now: the cache key (-1 where it cannot be stat'ed)."""

    sizes: np.ndarray
    mtimes: np.ndarray
    inodes: np.ndarray
    ctimes: np.ndarray

    def take(self, rows: np.ndarray) -> _Stats:
        return _Stats(self.sizes[rows], self.mtimes[rows], self.inodes[rows], self.ctimes[rows])


def _stat_all(root: Path, paths: Sequence[str]) -> _Stats:
    """File size, mtime, inode and ctime (ns) of each path; -1 where it cannot be stat'ed."""
    prefix = os.path.join(str(root), "")
    rows: list[tuple[int, int, int, int]] = []
    gone = (-1, -1, -1, -1)
    for rel in paths:
        try:
            # As os.path.join(root, rel), without its work per call (rel is relative here).
            st = os.stat(rel if rel.startswith("/") else prefix + rel)
        except OSError:
            rows.append(gone)
            continue
        ino = st.st_ino if st.st_ino < _INT64_SPAN // 2 else st.st_ino - _INT64_SPAN
        rows.append((st.st_size, st.st_mtime_ns, ino, st.st_ctime_ns))
    table = np.array(rows, dtype=np.int64).reshape(len(rows), 4)
    return _Stats(*(np.ascontiguousarray(table[:, k]) for k in range(4)))


def _key_arrays(paths: Any, stats: _Stats) -> dict[str, Any]:
    """The cache key columns as Arrow arrays; null where ``stat`` failed."""
    import pyarrow as pa

    schema = cache.cache_schema()
    missing = stats.sizes < 0

    def key(name: str, values: np.ndarray) -> Any:
        return pa.array(values, schema.field(name).type, mask=missing)

    return {
        "path": pa.array(paths, schema.field("path").type, from_pandas=True),
        "size_key": key("size_key", stats.sizes),
        "mtime_ns": key("mtime_ns", stats.mtimes),
        "inode_key": key("inode_key", stats.inodes),
        "ctime_key": key("ctime_key", stats.ctimes),
    }


def _probe_stream(
    root: Path | Location,
    paths: Sequence[str],
    workers: int | None,
    sizes: np.ndarray | None = None,
    ahead_bytes: int | None = None,
) -> Iterator[tuple[int, int, list[dict[str, Any]]]]:
    """Probe ``paths`` in order, yielding ``(start, end, results)`` per batch as they finish.

    A pool keeps only a few batches in flight, so results never pile up in memory; with
    ``ahead_bytes``, no more batches than the largest (by ``sizes``, file bytes) fits in it,
    one at least.
    """
    # Imported here: a warm run (every file cached) needs neither the decoders nor a pool.
    from norwoodkit.parallel import ordered_map, resolve_workers
    from norwoodkit.probe.files import probe_batch

    n_workers = resolve_workers(workers)
    pooled = n_workers > 1 and len(paths) > 2 * BATCH_SIZE
    # Several tasks per worker, so a slow image does not leave the other workers idle.
    size = (
        max(1, min(BATCH_SIZE, math.ceil(len(paths) / (n_workers * 4)))) if pooled else BATCH_SIZE
    )
    spans = [(s, min(s + size, len(paths))) for s in range(0, len(paths), size)]
    tasks: Iterator[tuple[Any, ...]] = ((str(root), list(paths[a:b])) for a, b in spans)
    unit: Callable[..., list[dict[str, Any]]] = probe_batch
    if isinstance(root, Location):  # the bodies are fetched here, a few GETs ahead of the pool
        from norwoodkit.probe.remote import fetched, probe_blobs

        blobs = fetched(root, paths, [-1] * len(paths) if sizes is None else sizes.tolist())
        tasks, unit = (([next(blobs) for _ in range(a, b)],) for a, b in spans), probe_blobs
    ahead = 4 * n_workers
    if ahead_bytes is not None and sizes is not None and len(paths):
        largest = max(int(sizes[a:b].clip(0).sum()) for a, b in spans)
        ahead = max(1, min(ahead, ahead_bytes // max(1, largest) - 1))
    with _probe_pool(n_workers if pooled else 1) as pool:
        results = ordered_map(unit, tasks, pool=pool, ahead=ahead)
        for (start, end), batch in zip(spans, results, strict=True):
            yield start, end, batch


@contextlib.contextmanager
def _probe_pool(workers: int) -> Iterator[Executor | None]:
    """A pool whose workers refuse truncated images, or None (probe here, refusing them too)."""
    from PIL import ImageFile

    from norwoodkit.parallel import process_pool
    from norwoodkit.probe.files import init_worker

    if workers > 1:
        with process_pool(workers, initializer=init_worker) as pool:
            yield pool
        return
    previous, ImageFile.LOAD_TRUNCATED_IMAGES = ImageFile.LOAD_TRUNCATED_IMAGES, False
    try:
        yield None
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous


def _result_batch(paths: Sequence[str], stats: _Stats, results: list[dict[str, Any]]) -> Any:
    """Fresh results as one Arrow batch in the cache schema (key columns from ``stat``)."""
    import pyarrow as pa

    schema = cache.cache_schema()
    cols = _key_arrays(list(paths), stats)
    for c in PROBE_COLUMNS:
        if c.name not in cols:
            cols[c.name] = pa.array([r.get(c.name) for r in results], schema.field(c.name).type)
    return pa.RecordBatch.from_arrays([cols[f.name] for f in schema], schema=schema)


def _trusted(cached: Any, now: Any) -> Any:
    """Per row of ``cached``, whether it may stand for the file of the same row of ``now``."""
    import pyarrow.compute as pc

    return pc.and_(cache.same_key(cached, now), cache.consistent(cached))


def _cache_hits(cfile: Path, now: Any, keep: list[str]) -> tuple[Any, Any]:
    """Cached rows still valid for ``now`` (same key, consistent), and a mask over ``now``'s rows.

    ``(None, None)`` without a readable cache file.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    cached = cache.read_cache(cfile, ["path", "size_key", "inode_key", "ctime_key", *keep])
    if cached is None:
        return None, None
    # A hash lookup per path, not a join: Arrow's join engine costs tens of megabytes.
    at = pc.index_in(now["path"], value_set=cached["path"])
    hit = _trusted(cached.take(at), now)
    mask = pc.fill_null(hit, False).to_numpy(zero_copy_only=False)
    return cached.take(at.filter(pa.array(mask))).select(["path", *keep]), mask


def _copy_hits(old: Path, now: Any, hit_paths: Any, writer: CacheWriter) -> None:
    """Carry the reused entries from the old cache file to the new one.

    The file is read again, so each row is checked again: one swapped in since is not copied.
    """
    import pyarrow.compute as pc

    if not writer.active or not len(hit_paths):
        return
    for table in cache.cached_batches(old):
        aligned = now.take(pc.index_in(table["path"], value_set=now["path"]))
        use = pc.and_(_trusted(table, aligned), pc.is_in(table["path"], value_set=hit_paths))
        writer.add(table.filter(pc.fill_null(use, False)))


def run(
    dataset: Dataset,
    *,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    workers: int | None = None,
    progress: ProgressFn | None = None,
    columns: Collection[str] | None = None,
    engine: EngineChoice | None = None,
) -> ProbedDataset:
    """Add the probe columns to the dataset's table, probing only files the cache does not know.

    Results stream: each finished batch goes straight into the new cache file (row group by row
    group) and into the table. Memory is the table plus a few batches, whatever the number of
    images.

    Args:
        dataset: from ``dataset.load``.
        cache_dir: where caches live; None: ``default_cache_dir()``.
        use_cache: False reads and writes no cache (everything is probed).
        workers: processes; None: one per CPU core.
        progress: called with the number of images finished, batch by batch.
        columns: the probe columns read from the cache (``cache.read_columns``); None: all.
        engine: where files the cache does not hold are probed; None: local processes.

    Returns:
        A ProbedDataset whose table has the PROBE_COLUMNS (null for missing-view rows).
    """
    with ProbeStream(
        dataset,
        cache_dir=cache_dir,
        use_cache=use_cache,
        workers=workers,
        progress=progress,
        columns=columns,
        engine=engine,
    ) as stream:
        for _ in stream.fresh():
            pass
        return stream.finish()


class ProbeStream:
    """``run`` in steps, for a caller that consumes results as they come (pack's pipeline).

    ``known`` holds what the cache vouches for; ``fresh`` probes the rest in the caller's
    order, yielding each batch's results as they finish (each also goes into the new cache
    file); ``finish`` commits the cache and returns the ProbedDataset ``run`` would. Leaving
    the ``with`` block on an error discards the new cache file.
    """

    def __init__(
        self,
        dataset: Dataset,
        *,
        cache_dir: Path | None = None,
        use_cache: bool = True,
        workers: int | None = None,
        progress: ProgressFn | None = None,
        columns: Collection[str] | None = None,
        engine: EngineChoice | None = None,
    ) -> None:
        self.dataset, self._workers, self._progress = dataset, workers, progress
        self._engine = engine or EngineChoice()
        self.now, self._stats = _stat_table(dataset, dataset.table)
        self._cfile = None
        if use_cache:
            folder = cache_dir or cache.default_cache_dir()
            # The cache is an output like any other: never inside the dataset (guard_output).
            guard_output(
                folder, "cache_dir", dataset_root=dataset.root, kind="folder", make_parents=True
            )
            self._cfile = cache.cache_file(dataset.root, folder)
        self._keep = cache.read_columns(columns)
        hits, hit = _cache_hits(self._cfile, self.now, self._keep) if self._cfile else (None, None)
        if hit is None:
            hit = np.zeros(self.now.num_rows, dtype=bool)
        if progress and hit.any():
            progress(int(hit.sum()))
        #: The cached results still valid (``path`` and the probe columns), or None.
        self.known: Any = hits
        #: Rows of ``now`` the cache did not vouch for: ``fresh`` probes them.
        self.todo = np.flatnonzero(~hit)
        self._writer = CacheWriter(self._cfile) if self._cfile and len(self.todo) else None
        self._parts: list[Any] = [hits] if hits is not None and hits.num_rows else []
        self._probed = False  # fresh() has run to its end

    def __enter__(self) -> ProbeStream:
        return self

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        if kind is not None and self._writer is not None:
            self._writer.abort()

    def assumed(self) -> ProbedDataset:
        """The probed dataset as it will be if every file still to probe is a readable image
        of the size ``stat`` gave it (status ``ok``; its other probe columns null).

        A guess for planning ahead; rows the cache vouched for hold their real results.
        """
        import pyarrow as pa

        sizes = self._stats.sizes[self.todo]
        guess = pa.table(
            {
                "path": self.now["path"].take(pa.array(self.todo)),
                "status": pa.array(np.where(sizes >= 0, "ok", "unknown"), pa.string()),
                "size": pa.array(sizes, pa.int64(), mask=sizes < 0),
            }
        )
        if self.known is not None:
            guess = pa.concat_tables([self.known, guess], promote_options="permissive")
        probed = _frame([guess])
        return ProbedDataset.of(self.dataset, _merged(self.dataset.table, probed))

    def fresh(
        self, order: np.ndarray | None = None, ahead_bytes: int | None = None
    ) -> Iterator[Any]:
        """Probe the ``todo`` rows (in ``order``, positions into ``todo``; None: as listed);
        yield each batch's results as an Arrow table of ``path`` and the probe columns.

        ``ahead_bytes`` caps the file bytes probed ahead of the consumer (one batch at least).
        """
        if not len(self.todo):  # a warm run: no pool, no decoder imports
            self._probed = True
            return
        import pyarrow as pa
        import pyarrow.compute as pc

        todo = self.todo if order is None else self.todo[order]
        paths: list[str] = self.now["path"].take(pa.array(todo)).to_pylist()
        sizes = self._stats.sizes[todo]
        recent: list[Any] = []  # fresh batches not yet folded into one table
        for start, end, results in self._stream(paths, sizes, ahead_bytes):
            batch = _result_batch(paths[start:end], self._stats.take(todo[start:end]), results)
            del results
            if self._writer is not None:
                cacheable = pc.is_in(batch["status"], value_set=pa.array(cache.CACHED_STATUSES))
                self._writer.add(batch.filter(pc.and_(pc.is_valid(batch["size_key"]), cacheable)))
            table = pa.Table.from_batches([batch]).select(["path", *self._keep])
            recent.append(table)
            if sum(t.num_rows for t in recent) >= cache.CACHE_GROUP_ROWS or end == len(paths):
                # Thousands of 16-row tables would cost more than their rows: fold them.
                self._parts.append(pa.concat_tables(recent).combine_chunks())
                recent = []
            if self._progress:
                self._progress(end - start)
            yield table
        self._probed = True

    def _stream(
        self, paths: Sequence[str], sizes: np.ndarray, ahead_bytes: int | None
    ) -> Iterator[tuple[int, int, list[dict[str, Any]]]]:
        """``_probe_stream`` on this stream's engine: the same results, in the same order."""
        if self._engine.engine is Engine.ray:
            from norwoodkit.probe.ray_engine import probe_stream

            root = local_root(self.dataset.root, "the probe on Ray")
            return probe_stream(self._engine, root, paths, self._workers)
        return _probe_stream(self.dataset.root, paths, self._workers, sizes, ahead_bytes)

    def finish(self) -> ProbedDataset:
        """Commit the new cache file; the dataset with the probe columns (as ``run``).

        Raises:
            RuntimeError: ``fresh`` has not run to its end (the results would be partial).
        """
        if len(self.todo) and not self._probed:
            raise RuntimeError("ProbeStream.finish: probe every file first (iterate fresh())")
        if self._writer is not None and self._cfile is not None:
            if self.known is not None:
                _copy_hits(self._cfile, self.now, self.known["path"], self._writer)
            self._writer.commit()
            self._writer = None
        probed = _frame(self._parts)
        self._parts, self.known = [], None  # the Arrow copies go before the merge allocates
        return ProbedDataset.of(self.dataset, _merged(self.dataset.table, probed), self._keep)


def _stat_table(dataset: Dataset, table: pd.DataFrame) -> tuple[Any, _Stats]:
    """Each distinct image path's cache key now, as an Arrow table, and as arrays (-1: none)."""
    import pyarrow as pa

    paths = pd.Series(table["path"].dropna().unique(), dtype="string")
    if isinstance(dataset.root, Path):
        stats = _stat_all(dataset.root, paths.tolist())
    else:  # a store's listing is its stat
        from norwoodkit.probe.remote import listed_keys
        from norwoodkit.remote_walk import Listing

        listing = dataset.listing or Listing(dataset.root, {})
        stats = _Stats(*listed_keys(listing, paths.tolist()))
    return pa.table(_key_arrays(paths, stats)), stats


@functools.cache
def _spec_dtypes() -> dict[Any, Any]:
    """Arrow type -> the pandas dtype the probe columns' spec gives it."""
    import pyarrow as pa

    return {
        pa.int64(): pd.Int64Dtype(),
        pa.string(): pd.StringDtype("pyarrow"),
        pa.bool_(): pd.BooleanDtype(),
    }


def results_frame(results: Any) -> pd.DataFrame:
    """Probe results (an Arrow table) as a DataFrame in the probe columns' spec dtypes: Int64,
    not float64 (nanosecond mtimes do not survive a trip through a double); text and flags
    straight into theirs, so that casting them afterwards copies nothing."""
    frame: pd.DataFrame = results.to_pandas(types_mapper=_spec_dtypes().get)
    return frame


def _frame(parts: list[Any]) -> pd.DataFrame:
    """The probe results (Arrow tables) as one DataFrame, ``path`` first."""
    import pyarrow as pa

    if not parts:
        return pd.DataFrame({"path": pd.Series([], dtype="string")})
    return results_frame(pa.concat_tables(parts).combine_chunks())  # one chunk per column


def _merged(table: pd.DataFrame, probed: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the probe columns of ``probed`` joined on ``path``, in spec dtypes."""
    base = table.drop(columns=[c.name for c in PROBE_COLUMNS if c.name in table.columns])
    probed["path"] = probed["path"].astype(base["path"].dtype)
    out = base.merge(probed, on="path", how="left")
    return coerce(out, PROBE_COLUMNS)
