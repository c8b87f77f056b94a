"""The epoch plan without torch: coverage across readers, equal counts, seeds, epochs, resume."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

from norwoodkit.errors import InputError, ParameterError
from norwoodkit.loader.partition import (
    IntArray,
    Readers,
    buffer_order,
    deal,
    plan_epoch,
    read_order,
)

# 37 row groups of 1..24 rows: uneven on purpose, so readers differ and padding is needed
UNITS: IntArray = np.random.default_rng(11).integers(1, 25, 37).astype(np.int64)
TOTAL = int(UNITS.sum())
LAYOUTS = [(1, 1), (1, 3), (2, 2), (3, 2), (4, 3)]  # (world_size, num_workers)


def every_reader(world: int, workers: int) -> list[Readers]:
    return [Readers(r, world, w, workers) for r in range(world) for w in range(workers)]


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
        "from norwoodkit.loader.partition import Readers, read_order\n"
        "import numpy as np\n"
        "rows = read_order(np.array([3, 4, 5]), Readers(), epoch=0, seed=0)\n"
        "assert sorted(rows.tolist()) == list(range(12))\n"
        "print('torch' in sys.modules and sys.modules['torch'] is not None)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert r.stdout.strip() == "False", r.stdout + r.stderr


@pytest.mark.parametrize(("world", "workers"), LAYOUTS)
@pytest.mark.parametrize("epoch", [0, 3])
def test_pad_reads_every_row_exactly_once_with_equal_counts(
    world: int, workers: int, epoch: int
) -> None:
    plans = [
        plan_epoch(UNITS, r.index, r.count, epoch=epoch, seed=5, shuffle_buffer=16)
        for r in every_reader(world, workers)
    ]
    assert len({p.target for p in plans}) == 1  # no rank waits at the end of the epoch
    real: list[int] = []
    for p in plans:
        rows, padded = p.rows(), p.padded()
        assert len(rows) == p.target
        real += rows[~padded].tolist()
        own = set(rows[~padded].tolist())
        assert set(rows[padded].tolist()) <= own  # padding repeats the reader's own rows
        assert padded.sum() == p.target - p.base
    assert Counter(real) == Counter(range(TOTAL))


@pytest.mark.parametrize(("world", "workers"), LAYOUTS)
def test_drop_never_repeats_and_cuts_to_the_smallest(world: int, workers: int) -> None:
    plans = [
        plan_epoch(UNITS, r.index, r.count, epoch=1, seed=2, uneven="drop")
        for r in every_reader(world, workers)
    ]
    assert len({p.target for p in plans}) == 1
    assert plans[0].target == min(p.base for p in plans)
    seen = np.concatenate([p.rows() for p in plans]).tolist()
    assert len(seen) == len(set(seen)) and set(seen) <= set(range(TOTAL))
    assert not any(p.padded().any() for p in plans)


def test_readers_differ_by_at_most_one_unit() -> None:
    dealt = deal(UNITS, np.arange(len(UNITS)), 6)
    loads = [int(UNITS[d].sum()) for d in dealt]
    assert max(loads) - min(loads) <= int(UNITS.max())
    assert sorted(u for d in dealt for u in d) == list(range(len(UNITS)))


def test_same_seed_same_order_other_seed_or_epoch_other_order() -> None:
    reader = Readers(1, 2, 1, 2)

    def order(epoch: int, seed: int) -> list[int]:
        return [int(r) for r in read_order(UNITS, reader, epoch=epoch, seed=seed)]

    first = order(0, 7)
    assert order(0, 7) == first
    assert order(1, 7) != first
    assert order(0, 8) != first
    # one reader of one: every epoch is every row, in another order
    alone = [read_order(UNITS, Readers(), epoch=e, seed=7).tolist() for e in (0, 1)]
    assert alone[0] != alone[1] and sorted(alone[0]) == sorted(alone[1]) == list(range(TOTAL))


def test_no_shuffle_keeps_file_order() -> None:
    one = read_order(UNITS, Readers(), epoch=4, seed=9, shuffle=False)
    assert one.tolist() == list(range(TOTAL))
    # without a buffer, the rows of a unit stay together and in order
    plan = plan_epoch(UNITS, 0, 1, epoch=0, seed=1, shuffle_buffer=0)
    rows = plan.rows().tolist()
    assert sorted(rows) == list(range(TOTAL))
    starts = np.concatenate([[0], np.cumsum(UNITS)[:-1]])
    for unit in plan.units:
        first = int(starts[unit])
        at = rows.index(first)
        assert rows[at : at + int(UNITS[unit])] == list(range(first, first + int(UNITS[unit])))


@pytest.mark.parametrize("position", [0, 1, 17, 60])
def test_resume_continues_exactly_where_the_state_says(position: int) -> None:
    reader = Readers(0, 2, 1, 2)

    def order(start: int) -> list[int]:
        rows = read_order(UNITS, reader, epoch=2, seed=3, shuffle_buffer=24, position=start)
        return [int(r) for r in rows]

    full = order(0)
    assert position <= len(full)
    assert full[:position] + order(position) == full
    assert order(len(full)) == []


def test_replacements_take_the_list_again_from_its_start() -> None:
    plan = plan_epoch(UNITS, 2, 4, epoch=0, seed=0)
    stream = plan.stream_rows(np.arange(plan.base, dtype=np.int64)).tolist()
    starts = np.concatenate([[0], np.cumsum(UNITS)[:-1]])
    replaced = []
    for k in range(plan.base + 3):  # wraps round the list
        unit, row = plan.replacement(plan.target + k)
        replaced.append(int(starts[unit]) + row)
    assert replaced == stream + stream[:3]


def test_locate_runs_cover_each_unit_once() -> None:
    plan = plan_epoch(UNITS, 0, 3, epoch=0, seed=4)
    position, seen = 0, []
    while position < plan.base:
        unit, first, run = plan.locate(position)
        assert first == 0 and run == int(UNITS[unit])
        seen.append(unit)
        position += run
    assert seen == plan.units


def test_shuffle_buffer_is_a_permutation_that_only_looks_ahead_by_its_size() -> None:
    n, size = 200, 16
    out = buffer_order(n, size, np.random.default_rng(0))
    assert sorted(out.tolist()) == list(range(n))
    assert all(out[k] < size + k for k in range(n - size))
    assert buffer_order(n, 1, np.random.default_rng(0)).tolist() == list(range(n))


def test_fewer_units_than_readers_names_the_source() -> None:
    with pytest.raises(InputError, match=r"^shards/: split 'x' has 3 row groups .* 4 readers"):
        plan_epoch(UNITS[:3], 0, 4, epoch=0, seed=0, source="shards/: split 'x'")


def test_bad_reader_and_option_name_the_parameter() -> None:
    with pytest.raises(ParameterError) as info:
        Readers(rank=2, world_size=2)
    assert info.value.parameter == "rank"
    with pytest.raises(ParameterError) as info:
        Readers(worker=3, num_workers=3)
    assert info.value.parameter == "worker_id"
    with pytest.raises(ParameterError, match="uneven: 'even'"):
        plan_epoch(UNITS, 0, 1, epoch=0, seed=0, uneven="even")  # type: ignore[arg-type]
