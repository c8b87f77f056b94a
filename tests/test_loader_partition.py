"""The epoch plan without torch: every sample once, padding <= readers - 1, contiguous runs,
seeds and epochs, and elastic resume onto other numbers of readers."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from norwoodkit.errors import ParameterError
from norwoodkit.loader.partition import (
    EpochPlan,
    IntArray,
    Order,
    Readers,
    Segment,
    buffer_order,
    counts,
    epoch_rows,
    plan_epoch,
    read_order,
    remaining,
    taken_after_batches,
)

# 37 row groups of 1..24 rows: uneven on purpose, so runs cut row groups
UNITS: IntArray = np.random.default_rng(11).integers(1, 25, 37).astype(np.int64)
TOTAL = int(UNITS.sum())
LAYOUTS = [(1, 1), (1, 3), (2, 2), (3, 2), (4, 3)]  # (world_size, num_workers)


def plans(
    order: Order, world: int, workers: int, seq: IntArray | None = None, segment: int = 0
) -> dict[int, EpochPlan]:
    layout = Readers(0, world, 0, workers)
    return {
        r.index: plan_epoch(UNITS, r, order, sequence=seq, segment=segment) for r in layout.every()
    }


def yielded(all_plans: dict[int, EpochPlan]) -> tuple[list[int], int]:
    """Every real sample yielded, and how many repeats."""
    real: list[int] = []
    pad = 0
    for p in all_plans.values():
        rows, padded = p.rows(), p.padded()
        real += rows[~padded].tolist()
        pad += int(padded.sum())
    return real, pad


@pytest.mark.parametrize(
    "prelude",
    [
        "",  # torch installed: still not imported
        "sys.modules['torch'] = None\n",  # torch not importable at all: still works
    ],
)
def test_partition_needs_no_torch(prelude: str) -> None:
    code = (
        "import sys\n"
        f"{prelude}"
        "from norwoodkit.loader.partition import Order, Readers, read_order\n"
        "import numpy as np\n"
        "rows = read_order(np.array([3, 4, 5]), Readers(), Order(epoch=0, seed=0))\n"
        "assert sorted(rows.tolist()) == list(range(12))\n"
        "print('torch' in sys.modules and sys.modules['torch'] is not None)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert r.stdout.strip() == "False", r.stdout + r.stderr


@pytest.mark.parametrize(("world", "workers"), LAYOUTS)
@pytest.mark.parametrize("epoch", [0, 3])
def test_pad_yields_every_sample_once_and_at_most_readers_minus_one_repeats(
    world: int, workers: int, epoch: int
) -> None:
    got = plans(Order(epoch=epoch, seed=5, shuffle_buffer=16), world, workers)
    per_rank: Counter[int] = Counter()
    for i, p in got.items():
        per_rank[i // workers] += p.target
        assert set(p.rows()[p.padded()].tolist()) <= set(p.stream.tolist())
    assert len(set(per_rank.values())) == 1  # no rank waits at the end of the epoch
    real, pad = yielded(got)
    assert Counter(real) == Counter(range(TOTAL))
    assert pad == world * per_rank[0] - TOTAL <= world * workers - 1


@pytest.mark.parametrize(("world", "workers"), LAYOUTS)
def test_drop_never_repeats_and_leaves_out_at_most_readers_minus_one(
    world: int, workers: int
) -> None:
    got = plans(Order(epoch=1, seed=2, uneven="drop"), world, workers)
    seen = np.concatenate([p.rows() for p in got.values()]).tolist()
    assert len(seen) == len(set(seen)) and set(seen) <= set(range(TOTAL))
    assert TOTAL - len(seen) <= world - 1
    assert not any(p.padded().any() for p in got.values())


def test_readers_read_contiguous_runs_sharing_only_boundary_row_groups() -> None:
    order = Order(epoch=2, seed=1, shuffle_buffer=0)
    got = plans(order, 2, 3)
    global_order = epoch_rows(UNITS, order)
    where = {int(row): k for k, row in enumerate(global_order)}
    units_of = []
    for p in got.values():
        real = p.stream[: p.base]
        at = [where[int(r)] for r in real]
        assert at == list(range(at[0], at[0] + len(at)))  # one run of the epoch's order
        units_of.append(set(p.unit[: p.base].tolist()))
    shared = sum(len(a & b) for i, a in enumerate(units_of) for b in units_of[i + 1 :])
    assert shared <= len(got) - 1  # only the row group at a boundary is read twice


def test_counts_and_epoch_order() -> None:
    assert counts(10, 4).tolist() == [3, 3, 2, 2]
    assert counts(2, 4).tolist() == [1, 1, 0, 0]
    rows = epoch_rows(UNITS, Order(epoch=0, seed=3))
    assert sorted(rows.tolist()) == list(range(TOTAL)) and rows.tolist() != list(range(TOTAL))
    assert epoch_rows(UNITS, Order(epoch=0, seed=3, shuffle=False)).tolist() == list(range(TOTAL))


def test_same_seed_same_order_other_seed_or_epoch_other_order() -> None:
    reader = Readers(1, 2, 1, 2)

    def order(epoch: int, seed: int) -> list[int]:
        return [int(r) for r in read_order(UNITS, reader, Order(epoch=epoch, seed=seed))]

    first = order(0, 7)
    assert order(0, 7) == first
    assert order(1, 7) != first
    assert order(0, 8) != first


def test_no_shuffle_keeps_file_order() -> None:
    one = read_order(UNITS, Readers(), Order(epoch=4, seed=9, shuffle=False))
    assert one.tolist() == list(range(TOTAL))


@pytest.mark.parametrize("position", [0, 1, 17, 60])
def test_resume_on_the_same_reader_continues_its_order(position: int) -> None:
    reader, order = Readers(0, 2, 1, 2), Order(epoch=2, seed=3, shuffle_buffer=24)
    full = read_order(UNITS, reader, order).tolist()
    assert full[:position] + read_order(UNITS, reader, order, position=position).tolist() == full
    assert read_order(UNITS, reader, order, position=len(full)).tolist() == []


def elastic(
    order: Order, before: tuple[int, int], after: tuple[int, int], passed: dict[int, int]
) -> tuple[list[int], list[int], int]:
    """Samples yielded before the state, after resuming on other readers, and repeats after."""
    first = plans(order, *before)
    head: list[int] = []
    for reader, p in first.items():
        rows, padded = p.rows()[: passed[reader]], p.padded()[: passed[reader]]
        head += rows[~padded].tolist()
    done = (Segment(*before, passed),)
    rest = remaining(UNITS, order, done)
    assert sorted(rest.tolist()) == sorted(set(range(TOTAL)) - set(head))
    real, pad = yielded(plans(order, *after, seq=rest, segment=1))
    return head, real, pad


@pytest.mark.parametrize("after", [(1, 3), (3, 2), (1, 1)])
@pytest.mark.parametrize("at", [0, 5, 13, 40, 10_000])
def test_elastic_resume_repeats_and_loses_nothing(after: tuple[int, int], at: int) -> None:
    order = Order(epoch=1, seed=4, shuffle_buffer=8)
    first = plans(order, 2, 2)
    passed = {r: min(at, p.target) for r, p in first.items()}
    head, rest, pad = elastic(order, (2, 2), after, passed)
    assert Counter(head + rest) == Counter(range(TOTAL))
    assert pad <= after[0] * after[1] - 1


def test_elastic_resume_twice() -> None:
    order = Order(epoch=0, seed=9, shuffle_buffer=4)
    first = plans(order, 2, 2)
    one = Segment(2, 2, {r: 7 for r in first})
    seq = remaining(UNITS, order, (one,))
    second = plans(order, 1, 3, seq=seq, segment=1)
    two = Segment(1, 3, {r: 11 for r in second})
    rest = remaining(UNITS, order, (one, two))
    taken = [
        *(int(x) for p in first.values() for x in p.passed(7)),
        *(int(x) for p in second.values() for x in p.passed(11)),
    ]
    assert len(taken) == len(set(taken))
    assert sorted(rest.tolist() + taken) == list(range(TOTAL))


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 30), min_size=1, max_size=25),
    world=st.integers(1, 5),
    workers=st.integers(1, 4),
    world2=st.integers(1, 5),
    workers2=st.integers(1, 4),
    at=st.integers(0, 60),
    buffer=st.integers(0, 20),
    seed=st.integers(0, 2**16),
)
def test_any_sizes_and_readers(
    sizes: list[int],
    world: int,
    workers: int,
    world2: int,
    workers2: int,
    at: int,
    buffer: int,
    seed: int,
) -> None:
    units = np.asarray(sizes, dtype=np.int64)
    total = int(units.sum())
    order = Order(epoch=seed % 5, seed=seed, shuffle_buffer=buffer)
    layout = Readers(0, world, 0, workers)
    first = {r.index: plan_epoch(units, r, order) for r in layout.every()}
    real = [int(x) for p in first.values() for x in p.rows()[~p.padded()]]
    pad = sum(int(p.padded().sum()) for p in first.values())
    assert sorted(real) == list(range(total))
    assert pad <= world * workers - 1
    passed = {r: min(at, p.target) for r, p in first.items()}
    head = [int(x) for r, p in first.items() for x in p.passed(passed[r])]
    rest = remaining(units, order, (Segment(world, workers, passed),))
    after = Readers(0, world2, 0, workers2)
    second = [plan_epoch(units, r, order, sequence=rest, segment=1) for r in after.every()]
    tail = [int(x) for p in second for x in p.rows()[~p.padded()]]
    assert sorted(head + tail) == list(range(total))
    assert sum(int(p.padded().sum()) for p in second) <= world2 * workers2 - 1


def test_dataloader_hands_out_batches_in_turn_leaving_out_finished_workers() -> None:
    assert taken_after_batches([10, 9], 4, 0) == [0, 0]
    assert taken_after_batches([10, 9], 4, 3) == [8, 4]
    assert taken_after_batches([10, 9], 4, 5) == [10, 8]
    assert taken_after_batches([5, 1, 5], 2, 5) == [4, 1, 4]
    assert taken_after_batches([3, 3], 2, 99) == [3, 3]


def test_replacements_take_the_stream_again_from_its_start() -> None:
    plan = plan_epoch(UNITS, Readers(2, 4), Order(epoch=0, seed=0))
    starts = np.concatenate([[0], np.cumsum(UNITS)[:-1]])
    replaced = []
    for k in range(plan.target + 3):  # wraps round the stream
        unit, row = plan.replacement(plan.target + k)
        replaced.append(int(starts[unit]) + row)
    stream = plan.stream.tolist()
    assert replaced == stream + stream[:3]


def test_locate_runs_cover_the_stream_once() -> None:
    plan = plan_epoch(UNITS, Readers(0, 3), Order(epoch=0, seed=4))
    position, units = 0, []
    while position < plan.target:
        unit, run = plan.locate(position)
        assert set(plan.unit[position : position + run].tolist()) == {unit}
        units.append(unit)
        position += run
    assert len(units) == len(set(units))  # a row group is one run of a reader's stream


def test_shuffle_buffer_is_a_permutation_that_only_looks_ahead_by_its_size() -> None:
    n, size = 200, 16
    out = buffer_order(n, size, np.random.default_rng(0))
    assert sorted(out.tolist()) == list(range(n))
    assert all(out[k] < size + k for k in range(n - size))
    assert buffer_order(n, 1, np.random.default_rng(0)).tolist() == list(range(n))


def test_more_readers_than_samples_still_equal_counts() -> None:
    units = np.asarray([2, 1], dtype=np.int64)
    got = {r.index: plan_epoch(units, r, Order(epoch=0, seed=0)) for r in Readers(0, 5).every()}
    assert {p.target for p in got.values()} == {1}
    real = sorted(int(x) for p in got.values() for x in p.rows()[~p.padded()])
    assert real == [0, 1, 2]


def test_bad_reader_option_and_segment_name_the_parameter() -> None:
    with pytest.raises(ParameterError) as info:
        Readers(rank=2, world_size=2)
    assert info.value.parameter == "rank"
    with pytest.raises(ParameterError) as info:
        Readers(worker=3, num_workers=3)
    assert info.value.parameter == "worker_id"
    with pytest.raises(ParameterError, match="uneven: 'even'"):
        Order(epoch=0, seed=0, uneven="even")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="reader 9"):
        remaining(UNITS, Order(epoch=0, seed=0), (Segment(2, 2, {9: 1}),))
