"""The epoch plan: which rows each reader (rank x worker) reads, in which seeded order, from where.

A pure function of the row-group sizes and (rank, world size, worker, workers, epoch, seed,
options), in numpy only: no torch, no file is opened (MosaicML Streaming keeps its partition
apart from its dataset class the same way).

1. **Work units** are row groups. With ``shuffle`` they are permuted with ``(seed, epoch)``;
   without it they keep file order.
2. **Readers.** Every DataLoader worker of every rank is one reader: ``readers = world_size x
   num_workers``, reader ``rank x num_workers + worker``. Units are dealt in the (shuffled)
   order, each to the reader with the fewest rows so far, so readers differ by at most one
   unit's rows. Fewer units than readers is an error (some reader would get nothing).
3. **Equal counts.** Every reader yields ``target`` samples, or distributed training hangs at
   the last step: ``uneven="pad"`` repeats rows from the start of a reader's own list up to the
   largest reader's rows; ``uneven="drop"`` cuts every reader to the smallest reader's rows.
4. **Shuffle buffer.** A reader's stream of ``target`` positions passes through a buffer of
   ``shuffle_buffer`` samples seeded with ``(seed, epoch, reader)``; the plan's ``order`` is the
   resulting output order, as stream positions.

A resumed epoch starts at output ``position``: the plan is rebuilt from the same inputs and the
positions before it are passed without reading them. Positions past ``target`` (replacements
for skipped images) take the reader's list again from its start.
"""

from __future__ import annotations

import bisect
import heapq
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from norwoodkit.errors import InputError, ParameterError
from norwoodkit.loader.options import Uneven, check_choice

__all__ = [
    "BoolArray",
    "EpochPlan",
    "IntArray",
    "Readers",
    "buffer_order",
    "deal",
    "plan_epoch",
    "read_order",
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


@dataclass(frozen=True)
class EpochPlan:
    """One reader's epoch: its units in reading order, its own row count and the common target.

    The reader's *stream* is its units' rows in order, repeated from the start past ``base``
    (padding, or replacements for skipped images); ``order`` is the output order as stream
    positions ``0..target-1``.
    """

    units: list[int]
    starts: list[int]  # offset of each unit's first row in the reader's list (cumulative)
    base: int  # rows in the reader's own units
    target: int  # samples every reader yields
    order: IntArray  # output order as positions of the (padded or cut) input stream
    first_rows: IntArray  # global row index (file order) of each of the reader's units

    def locate(self, position: int) -> tuple[int, int, int]:
        """Stream position -> (unit, row in the unit, positions left in that unit's run)."""
        r = position % self.base
        k = bisect.bisect_right(self.starts, r) - 1
        first = r - self.starts[k]
        return self.units[k], first, self.starts[k + 1] - r

    def replacement(self, position: int) -> tuple[int, int]:
        """The (unit, row) read at output ``position >= target``: the list again from its start."""
        unit, row, _ = self.locate(position - self.target)
        return unit, row

    def stream_rows(self, positions: IntArray) -> IntArray:
        """Global row indices (file order) of stream positions."""
        r = positions % self.base
        starts = np.asarray(self.starts, dtype=np.int64)
        k = np.searchsorted(starts, r, side="right") - 1
        return (self.first_rows[k] + (r - starts[k])).astype(np.int64)

    def rows(self, start: int = 0) -> IntArray:
        """Global row indices this reader yields from output ``start`` on, in yield order."""
        return self.stream_rows(self.order[start:])

    def padded(self, start: int = 0) -> BoolArray:
        """Whether each output from ``start`` on repeats a row (``uneven="pad"``)."""
        return np.asarray(self.order[start:] >= self.base)


def deal(rows: IntArray, order: IntArray, readers: int) -> list[list[int]]:
    """Give each unit (in ``order``) to the reader with the fewest rows so far (ties: lowest)."""
    heap = [(0, r) for r in range(readers)]
    out: list[list[int]] = [[] for _ in range(readers)]
    sizes = rows.tolist()
    for u in order.tolist():
        load, r = heapq.heappop(heap)
        out[r].append(u)
        heapq.heappush(heap, (load + sizes[u], r))
    return out


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


def plan_epoch(
    unit_rows: IntArray,
    reader: int,
    readers: int,
    *,
    epoch: int,
    seed: int,
    shuffle: bool = True,
    shuffle_buffer: int = 512,
    uneven: Uneven = "pad",
    source: str = "the split",
) -> EpochPlan:
    """Reader ``reader`` of ``readers``'s epoch over units of ``unit_rows`` rows each.

    Raises:
        InputError: fewer units than readers (``source`` names the split in the message).
    """
    check_choice("uneven", uneven)
    rows = np.asarray(unit_rows, dtype=np.int64)
    units = len(rows)
    if units < readers:
        raise InputError(
            f"{source} has {units} row groups (work units) for {readers} readers "
            "(world_size x DataLoader workers); each reader needs at least one. Use fewer "
            "workers or ranks, or pack again with a smaller --rows-per-group (or more data)",
            code="too-few-units",
        )
    order = np.random.default_rng([seed, epoch]).permutation(units) if shuffle else np.arange(units)
    dealt = deal(rows, order, readers)
    loads = [int(rows[d].sum()) for d in dealt]
    target = max(loads) if uneven == "pad" else min(loads)
    mine = dealt[reader]
    if shuffle:
        rng = np.random.default_rng([seed, epoch, 1 + reader])
        out = buffer_order(target, shuffle_buffer, rng)
    else:
        out = np.arange(target, dtype=np.int64)
    first_rows = np.concatenate([[0], np.cumsum(rows)[:-1]]).astype(np.int64)
    return EpochPlan(
        units=mine,
        starts=[0, *np.cumsum(rows[mine]).tolist()],
        base=loads[reader],
        target=target,
        order=out,
        first_rows=first_rows[mine],
    )


def read_order(
    unit_rows: IntArray,
    readers: Readers,
    *,
    epoch: int,
    seed: int,
    shuffle: bool = True,
    shuffle_buffer: int = 512,
    uneven: Uneven = "pad",
    position: int = 0,
) -> IntArray:
    """Global row indices one reader yields in an epoch, resumed at output ``position``."""
    plan = plan_epoch(
        unit_rows,
        readers.index,
        readers.count,
        epoch=epoch,
        seed=seed,
        shuffle=shuffle,
        shuffle_buffer=shuffle_buffer,
        uneven=uneven,
    )
    return plan.rows(position)
