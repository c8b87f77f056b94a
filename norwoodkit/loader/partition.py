"""The epoch plan: which samples each reader (rank x worker) reads, in which seeded order.

A pure function of the row-group sizes, the readers and (epoch, seed, options), in numpy only:
no torch, no file is opened (MosaicML Streaming keeps its partition apart from its dataset class
the same way).

1. **The epoch's sample order** (``epoch_rows``) does not depend on the readers: with
   ``shuffle`` the row groups are permuted with ``(seed, epoch)``, without it they keep file
   order; the rows of a row group stay together and in order, so a contiguous run of this order
   is a run of whole row groups.
2. **Ranks** take contiguous runs of it, cut by sample count (the first ``N mod world_size``
   ranks one sample more), so only the row groups at a run's two ends are shared with a
   neighbour. Every rank yields ``target`` samples, or distributed training hangs at the last
   step: ``uneven="pad"`` fills a short rank with one repeat of its own first sample (a rank with
   no sample of its own repeats another's), ``uneven="drop"`` cuts the long ranks by one. Either
   way at most ``world_size - 1`` samples are added or left out per epoch.
3. **Workers** of a rank take contiguous runs of the rank's ``target`` samples, the first ones
   one sample more; DataLoader only needs equal counts between ranks, not between workers.
4. **Shuffle buffer.** A reader's run passes through a buffer of ``shuffle_buffer`` samples
   seeded with ``(seed, epoch, segment, reader)``; ``order`` is the output order, as positions
   of the run.

Resume (``remaining``): a state records, per reader, how many positions of its run it passed.
Rebuilding that reader's plan gives exactly the samples it passed, so the rest of the epoch is
the epoch's order without them. On the same readers each continues its own run; on other
readers the rest is a new *segment*, partitioned as above over the new readers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from norwoodkit.errors import ParameterError
from norwoodkit.loader.options import Uneven, check_choice

__all__ = [
    "BoolArray",
    "EpochPlan",
    "IntArray",
    "Order",
    "Readers",
    "Segment",
    "buffer_order",
    "counts",
    "epoch_rows",
    "plan_epoch",
    "read_order",
    "remaining",
    "taken_after_batches",
]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Readers:
    """This reader's place among all readers: rank of ``world_size``, worker of ``num_workers``."""

    rank: int = 0
    world_size: int = 1
    worker: int = 0
    num_workers: int = 1

    def __post_init__(self) -> None:
        rank, world, wid, nw = self.rank, self.world_size, self.worker, self.num_workers
        if not (0 <= rank < world and 0 <= wid < nw):
            raise ParameterError(
                "rank" if not 0 <= rank < world else "worker_id",
                f"rank {rank} of world_size {world}, worker {wid} of {nw}: each must be "
                "0 <= id < count",
            )

    @property
    def index(self) -> int:
        """This reader's number, ``rank x num_workers + worker``."""
        return self.rank * self.num_workers + self.worker

    @property
    def count(self) -> int:
        """Readers in all, ``world_size x num_workers``."""
        return self.world_size * self.num_workers

    def every(self) -> list[Readers]:
        """Every reader of this layout, in reader order."""
        return [
            Readers(r, self.world_size, w, self.num_workers)
            for r in range(self.world_size)
            for w in range(self.num_workers)
        ]


@dataclass(frozen=True)
class Order:
    """What fixes an epoch's order besides the readers: seed, epoch and the loader's options."""

    epoch: int
    seed: int
    shuffle: bool = True
    shuffle_buffer: int = 512
    uneven: Uneven = "pad"

    def __post_init__(self) -> None:
        check_choice("uneven", self.uneven)


@dataclass(frozen=True)
class Segment:
    """Part of an epoch read by one layout of readers: positions passed, per reader index."""

    world_size: int
    num_workers: int
    position: Mapping[int, int]


@dataclass(frozen=True)
class EpochPlan:
    """One reader's run: the rows it reads, which of them repeat, and its output order.

    ``stream`` holds global row indices (file order) in reading order; its first ``base``
    entries are the reader's own samples, the rest repeat samples (``uneven="pad"``).
    ``order`` is the output order as positions of ``stream``. Positions past ``target``
    (replacements for skipped images) take the stream again from its start.
    """

    stream: IntArray
    base: int
    order: IntArray
    unit: IntArray  # row group (work unit) of each stream entry
    row: IntArray  # row inside that row group
    run_end: IntArray  # first stream position after the run of equal ``unit`` holding each one

    @property
    def target(self) -> int:
        """Samples this reader yields."""
        return len(self.stream)

    def locate(self, position: int) -> tuple[int, int]:
        """Stream position ``< target`` -> (row group, positions left in its run)."""
        return int(self.unit[position]), int(self.run_end[position]) - position

    def replacement(self, position: int) -> tuple[int, int]:
        """The (row group, row) read at output ``position >= target``: the stream again."""
        k = (position - self.target) % self.target
        return int(self.unit[k]), int(self.row[k])

    def rows(self, start: int = 0) -> IntArray:
        """Global row indices this reader yields from output ``start`` on, in yield order."""
        return self.stream[self.order[start:]]

    def padded(self, start: int = 0) -> BoolArray:
        """Whether each output from ``start`` on repeats a sample (``uneven="pad"``)."""
        return np.asarray(self.order[start:] >= self.base)

    def passed(self, position: int) -> IntArray:
        """The reader's own samples among its first ``position`` outputs (repeats left out)."""
        taken = self.order[: min(position, self.target)]
        return self.stream[taken[taken < self.base]]


def counts(n: int, parts: int) -> IntArray:
    """``n`` split into ``parts`` contiguous counts, the first ``n mod parts`` one larger."""
    q, m = divmod(n, parts)
    return (q + (np.arange(parts) < m)).astype(np.int64)


def epoch_rows(unit_rows: IntArray, order: Order) -> IntArray:
    """The epoch's global sample order (row indices in file order); independent of readers."""
    rows = np.asarray(unit_rows, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(rows)[:-1]]).astype(np.int64)
    if not order.shuffle:
        return np.arange(int(rows.sum()), dtype=np.int64)
    units = np.random.default_rng([order.seed, order.epoch]).permutation(len(rows))
    # each unit's rows in order, units in permuted order, without a Python loop over rows
    sizes = rows[units]
    first = np.repeat(starts[units] - np.concatenate([[0], np.cumsum(sizes)[:-1]]), sizes)
    return (first + np.arange(int(sizes.sum()))).astype(np.int64)


def _rank_run(sequence: IntArray, readers: Readers, uneven: Uneven) -> tuple[IntArray, int]:
    """The rank's ``target`` samples (own run, then repeats) and how many are its own."""
    n, world = len(sequence), readers.world_size
    sizes = counts(n, world)
    start = int(sizes[: readers.rank].sum())
    own = sequence[start : start + int(sizes[readers.rank])]
    target = int(sizes.max()) if uneven == "pad" else int(sizes.min())
    if len(own) >= target:
        return own[:target], target
    # pad: one repeat; a rank with no sample of its own repeats one of the others'
    fill = own[:1] if len(own) else sequence[[readers.rank % n]]
    return np.concatenate([own, fill]), len(own)


def plan_epoch(
    unit_rows: IntArray,
    readers: Readers,
    order: Order,
    *,
    sequence: IntArray | None = None,
    segment: int = 0,
) -> EpochPlan:
    """One reader's run of ``sequence`` (default: the whole epoch, ``epoch_rows``)."""
    rows = np.asarray(unit_rows, dtype=np.int64)
    seq = epoch_rows(rows, order) if sequence is None else sequence
    run, own = _rank_run(seq, readers, order.uneven)
    sizes = counts(len(run), readers.num_workers)
    a = int(sizes[: readers.worker].sum())
    b = a + int(sizes[readers.worker])
    stream = run[a:b]
    if order.shuffle:
        rng = np.random.default_rng([order.seed, order.epoch, segment, readers.index])
        out = buffer_order(len(stream), order.shuffle_buffer, rng)
    else:
        out = np.arange(len(stream), dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(rows)[:-1]]).astype(np.int64)
    unit = (np.searchsorted(starts, stream, side="right") - 1).astype(np.int64)
    change = np.flatnonzero(np.diff(unit)) + 1
    ends = np.append(change, len(stream)).astype(np.int64)
    run_end = ends[np.searchsorted(ends, np.arange(len(stream)), side="right")]
    return EpochPlan(
        stream=stream,
        base=max(0, min(own - a, b - a)),
        order=out,
        unit=unit,
        row=stream - starts[unit],
        run_end=run_end.astype(np.int64),
    )


def remaining(unit_rows: IntArray, order: Order, done: Sequence[Segment]) -> IntArray:
    """The epoch's order without the samples the readers of ``done`` passed (oldest first).

    Raises:
        ParameterError: a segment's position is negative or names a reader its layout lacks.
    """
    seq = epoch_rows(unit_rows, order)
    for i, seg in enumerate(done):
        layout = Readers(0, seg.world_size, 0, seg.num_workers)
        known = {r.index: r for r in layout.every()}
        passed = [np.zeros(0, dtype=np.int64)]
        for reader, position in seg.position.items():
            if reader not in known or position < 0:
                raise ParameterError(
                    "state",
                    f"segment {i} has position {position} for reader {reader}, but it has "
                    f"readers 0..{layout.count - 1}; the state is damaged",
                )
            plan = plan_epoch(unit_rows, known[reader], order, sequence=seq, segment=i)
            passed.append(plan.passed(position))
        seq = seq[~np.isin(seq, np.concatenate(passed))]
    return seq


def taken_after_batches(samples: Sequence[int], batch_size: int, batches: int) -> list[int]:
    """Samples taken from each worker after a DataLoader handed out ``batches`` batches.

    DataLoader asks its workers in turn for a batch and leaves out a worker that has none left;
    worker ``w`` has ``ceil(samples[w] / batch_size)`` batches (the last may be short).
    """
    left = [-(-n // batch_size) for n in samples]
    taken = [0] * len(samples)
    handed = 0
    while handed < batches and any(left):
        for w in range(len(samples)):
            if handed == batches:
                break
            if left[w]:
                left[w] -= 1
                taken[w] = min(samples[w], taken[w] + batch_size)
                handed += 1
    return taken


def buffer_order(n: int, size: int, rng: np.random.Generator) -> IntArray:
    """Output order of a shuffle buffer of ``size`` over inputs ``0..n-1``.

    Output ``k`` (before the final drain) only needs inputs ``< size + k`` to have entered.
    """
    if size <= 1 or n <= 1:
        return np.arange(n, dtype=np.int64)
    size = min(size, n)
    picks = rng.integers(0, size, n - size).tolist()
    buf = list(range(size))
    out = np.empty(n, dtype=np.int64)
    for k, j in enumerate(range(size, n)):
        p = picks[k]
        out[k] = buf[p]
        buf[p] = j
    tail = np.asarray(buf, dtype=np.int64)
    rng.shuffle(tail)
    out[n - size :] = tail
    return out


def read_order(
    unit_rows: IntArray, readers: Readers, order: Order, *, position: int = 0
) -> IntArray:
    """Global row indices one reader yields in an epoch, resumed at output ``position``."""
    return plan_epoch(unit_rows, readers, order).rows(position)
