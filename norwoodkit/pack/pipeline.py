"""A cold pack in one pass: probe results stream into the shard writer as subjects complete.

The plan is made before probing from a guess: every file the cache does not know is taken to
be a readable image of the size ``stat`` gave it. The probe then works through the files in the
plan's write order, at most ``PROBE_AHEAD_GROUPS`` row groups' bytes ahead of the writer, and
each row group is written once its rows' results are in. Whatever the probe finds, the pack is
the one ``write`` makes from the probed dataset, byte for byte: a result that contradicts the
guess (an image that does not decode, a file whose size changed) stops the writing; the probe
finishes, the plan is made again from the results, and shards already written are kept where
their content key matches (as ``--resume`` keeps them), the others written again.

On Ray (``--engine ray``) nothing streams: the probe runs first, in the same order, and each
shard of the plan made from its results is a Ray task (``pack.ray_engine``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from norwoodkit.columns import PROBE_COLUMNS
from norwoodkit.dataset import Dataset, local_root
from norwoodkit.engine import Engine, EngineChoice
from norwoodkit.errors import InputError
from norwoodkit.pack.folder import check_out
from norwoodkit.pack.options import PackOptions
from norwoodkit.pack.table import pack_input
from norwoodkit.pack.write import Job, PackResult, Planned, prepare_folder
from norwoodkit.split.assignment import Assignment

if TYPE_CHECKING:
    from norwoodkit.probe.runner import ProbeStream

#: The probe runs at most this many times ``row_group_bytes`` of image files ahead of the writer.
PROBE_AHEAD_GROUPS = 4

#: Probe results are poured into the plan's table this many rows at a time (``_Feed.ready``).
POUR_ROWS = 256


class _Misguess(Exception):
    """A probe result contradicts the plan's guess: the rest waits for the whole probe."""


def write_probing(
    dataset: Dataset,
    out: str | os.PathLike[str],
    options: PackOptions | None = None,
    *,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    splits: Assignment | pd.DataFrame | None = None,
    exclude: pd.DataFrame | None = None,
    overwrite: bool = False,
    resume: bool = False,
    progress: Callable[[int], None] | None = None,
    engine: EngineChoice | None = None,
) -> PackResult:
    """Probe ``dataset`` (as ``probe.run``, filling the cache) and pack it (as ``write``),
    the two overlapping: the same shards, manifest, card and croissant.json as ``write``.
    ``cache_dir``/``use_cache``/``engine`` are ``probe.run``'s, the others ``write``'s (the
    probe uses ``options.workers``). Raises what those two raise.
    """
    from norwoodkit.probe.runner import ProbeStream

    opts = options or PackOptions()
    target = Path(out)
    check_out(target, dataset.root, overwrite, resume)
    assignment = None if splits is None else Assignment.of(splits)
    if engine is not None and engine.engine is Engine.ray:
        run = _Run(dataset, target, opts, assignment, exclude, overwrite, resume, progress)
        return run.on_ray(cache_dir, use_cache, engine)
    with ProbeStream(
        dataset, cache_dir=cache_dir, use_cache=use_cache, workers=opts.workers
    ) as stream:
        ahead = _write_ahead(stream, target, opts, assignment, exclude, overwrite, resume, progress)
        probed = pack_input(stream.finish())
    work = Planned.make(probed, opts, assignment, exclude)
    written: dict[str, dict[str, Any]] = {}
    if ahead is None:
        state, done = prepare_folder(target, overwrite, resume)
    elif ahead.records is not None and ahead.same_as(work):
        return work.finish(probed, target, ahead.records, ahead.skipped, ahead.state)
    else:
        state, done, written = ahead.state, ahead.done, ahead.written
    job = Job(dataset.root, target, work.table, opts, progress)
    records, skipped = job.write_all(work.shards, {**done, **written}, state)
    skipped = [s for s in skipped if s not in written]  # kept from an earlier run only
    return work.finish(probed, target, records, skipped, state)


@dataclass
class _Ahead:
    """What writing from the guessed plan left: the pack folder's state, the shards written
    (all of them, with ``records``, when the guess held), and the plan's shape."""

    state: Path
    done: dict[str, dict[str, Any]]
    written: dict[str, dict[str, Any]]
    records: dict[str, dict[str, Any]] | None  # every shard's record; None: the guess failed
    skipped: list[str]
    shapes: list[tuple[str, Any]]  # (file, row groups) of each shard, in order

    def same_as(self, work: Planned) -> bool:
        """Whether the real plan writes the same files with the same rows in the same row
        groups: each shard's content key (every row's path, sha256, label and split) too."""
        if self.records is None or len(self.shapes) != len(work.shards):
            return False
        for (relpath, groups), b in zip(self.shapes, work.shards, strict=True):
            if relpath != b.relpath or groups != b.groups:
                return False
            if self.records[relpath]["key"] != b.key(work.table, work.opts):
                return False
        return True


def _write_ahead(
    stream: ProbeStream,
    target: Path,
    opts: PackOptions,
    assignment: Assignment | None,
    exclude: pd.DataFrame | None,
    overwrite: bool,
    resume: bool,
    progress: Callable[[int], None] | None,
) -> _Ahead | None:
    """Write the guessed plan while the probe runs (None, having probed everything, when no
    plan can be guessed). The guessed table is gone when this returns, before the probe's
    results are made into the real one."""
    guess = _guessed_plan(stream, opts, assignment, exclude)
    if guess is None:
        for _ in stream.fresh():  # no plan ahead: probe first, as ``write`` expects
            pass
        return None
    state, done = prepare_folder(target, overwrite, resume)
    feed = _Feed(guess, stream)
    streamed = not feed.filled.all()
    job = Job(stream.dataset.root, target, guess.table, opts, progress, feed.ready, streamed)
    finished = None
    try:
        with contextlib.suppress(_Misguess):  # then the plan is made again, by the caller
            finished = job.write_all(guess.shards, done, state)
    except Exception:
        _fill_cache(feed, stream)
        raise
    feed.drain()
    records, skipped = finished if finished is not None else (None, [])
    shapes = [(s.relpath, s.groups) for s in guess.shards]
    return _Ahead(state, done, job.written, records, skipped, shapes)


def _fill_cache(feed: _Feed, stream: ProbeStream) -> None:
    """After a failed write, probe the rest and commit the cache, as a probe before the pack
    would have (Ctrl-C does not wait for it); the write's error is the one reported."""
    with contextlib.suppress(Exception):
        feed.drain()
        stream.finish()


def _guessed_plan(
    stream: ProbeStream,
    opts: PackOptions,
    assignment: Assignment | None,
    exclude: pd.DataFrame | None,
) -> Planned | None:
    """The plan if the guess holds; None where it cannot be made ahead (the guess leaves
    nothing to pack, or a split file that fits only once unusable images drop out, or a path
    listed twice): the pack then waits for the probe, as ``write`` does.

    None as well with nothing to probe (a warm cache): nothing overlaps, so the plan is made
    once, from the results, and no guessed copy of the table is held beside it.
    """
    if not len(stream.todo):
        return None
    try:
        guess = Planned.make(pack_input(stream.assumed()), opts, assignment, exclude)
    except InputError:
        return None
    return guess if guess.table["path"].is_unique else None


def _probe_order(guess: Planned, stream: ProbeStream) -> np.ndarray:
    """The files to probe (positions into ``stream.todo``) in the order the writer reads them;
    those it never reads, last. The new cache file holds them in this order."""
    import pyarrow as pa

    write_order = np.concatenate([s.positions for s in guess.shards])
    todo = stream.now["path"].take(pa.array(stream.todo)).to_pylist()
    rank = pd.Index(guess.table["path"].to_numpy(dtype=object)[write_order]).get_indexer(todo)
    return np.argsort(np.where(rank < 0, len(write_order), rank), kind="stable")


@dataclass(frozen=True)
class _Run:
    """A pack's inputs, for the engines that do not stream the probe into the writer."""

    dataset: Dataset
    target: Path
    opts: PackOptions
    assignment: Assignment | None
    exclude: pd.DataFrame | None
    overwrite: bool
    resume: bool
    progress: Callable[[int], None] | None

    def on_ray(self, cache_dir: Path | None, use_cache: bool, engine: EngineChoice) -> PackResult:
        """Probe every file on Ray Data, then write each shard of the plan as a Ray task.

        Ray's tasks write whole shards from a finished plan, so nothing streams; the probe
        still takes the files in the order the local pipeline does, so the cache file is the
        same byte for byte, and so are the shards, manifest and card.
        """
        from norwoodkit.probe.runner import ProbeStream

        opts, assignment, exclude = self.opts, self.assignment, self.exclude
        with ProbeStream(
            self.dataset,
            cache_dir=cache_dir,
            use_cache=use_cache,
            workers=opts.workers,
            engine=engine,
        ) as stream:
            guess = _guessed_plan(stream, opts, assignment, exclude)
            for _ in stream.fresh(None if guess is None else _probe_order(guess, stream)):
                pass
            probed = pack_input(stream.finish())
        work = Planned.make(probed, opts, assignment, exclude)
        state, done = prepare_folder(self.target, self.overwrite, self.resume)
        root = local_root(probed.root, "pack on Ray")  # Ray's tasks read a shared folder
        job = Job(root, self.target, work.table, opts, self.progress, engine=engine)
        records, skipped = job.write_all(work.shards, done, state)
        return work.finish(probed, self.target, records, skipped, state)


class _Feed:
    """Probe results poured into the guessed plan's table as the writer needs its rows."""

    def __init__(self, guess: Planned, stream: ProbeStream) -> None:
        self.table = table = guess.table
        self.index = pd.Index(table["path"])
        known = set() if stream.known is None else set(stream.known["path"].to_pylist())
        self.filled = np.array(table["path"].isin(known), dtype=bool)  # writable
        self.wrong = np.zeros(len(table), dtype=bool)
        self.columns = [c.name for c in PROBE_COLUMNS if c.name in table.columns]
        self.pending: list[tuple[np.ndarray, Any]] = []  # checked results not yet poured
        self.held = 0  # rows in ``pending``
        budget = PROBE_AHEAD_GROUPS * guess.opts.row_group_bytes
        self.batches: Iterator[Any] = stream.fresh(_probe_order(guess, stream), budget)

    def ready(self, positions: np.ndarray) -> None:
        """Wait until the rows at ``positions`` hold their probe results; ``_Misguess`` when
        one of them contradicts the guess.

        Results are poured into the table ``POUR_ROWS`` at a time (or all that are left): each
        pour costs milliseconds of pandas work, and copies every text column held in Arrow
        whole, so pouring each small batch would cost more than the rows do.
        """
        while not self.filled[positions].all() or 0 < self.held < POUR_ROWS:
            results = next(self.batches, None)
            if results is None:
                if not self.filled[positions].all():
                    raise _Misguess  # a row the probe never returned (it changed since the stat)
                break
            self._check(results)
        self._pour()
        if self.wrong[positions].any():
            raise _Misguess

    def _check(self, results: Any) -> None:
        """Hold a batch's results for the next pour; mark its rows filled, and wrong where
        they contradict the guess (not an ok image, or another size)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        at = self.index.get_indexer(results["path"].to_pandas())
        mine = at >= 0
        at, results = at[mine], results.filter(pa.array(mine))
        guessed = self.table["size"].iloc[at].to_numpy(dtype=np.int64, na_value=-1)
        got = pc.fill_null(results["size"], -1).to_numpy()
        ok = pc.fill_null(pc.equal(results["status"], "ok"), False)
        bad = ~ok.to_numpy(zero_copy_only=False)
        self.wrong[at] = bad | (got != guessed)
        self.filled[at] = True
        self.pending.append((at, results))
        self.held += len(at)

    def _pour(self) -> None:
        """Write the held results into the table: one assignment per column for all of them."""
        if not self.pending:
            return
        import pyarrow as pa

        from norwoodkit.probe.runner import results_frame

        at = np.concatenate([a for a, _ in self.pending])
        parts = pa.concat_tables([r for _, r in self.pending])
        self.pending, self.held = [], 0
        frame = results_frame(parts.select(self.columns))
        for name in self.columns:
            loc = int(self.table.columns.get_loc(name))  # type: ignore[arg-type]
            self.table.iloc[at, loc] = frame[name].astype(self.table[name].dtype).to_numpy()

    def drain(self) -> None:
        """Probe what is left: the cache then holds every file, as ``probe.run`` leaves it."""
        for _ in self.batches:
            pass
