"""parallel: one ordered, bounded map of a pure batch function, in this process or a pool."""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from norwoodkit.parallel import ordered_map, process_pool, resolve_workers


def _tasks(n: int, pulled: list[int]) -> Iterator[tuple[int, int]]:
    for i in range(n):
        pulled.append(i)
        yield (i, 3)


def test_inline_and_process_pool_agree_in_order() -> None:
    tasks = [(i, 7 - i % 5) for i in range(40)]
    inline = list(ordered_map(math.comb, tasks, pool=None, ahead=4))
    with process_pool(2) as pool:
        pooled = list(ordered_map(math.comb, tasks, pool=pool, ahead=4))
    assert inline == pooled == [math.comb(*t) for t in tasks]


@pytest.mark.parametrize("ahead", [0, 1, 3])
def test_tasks_are_drawn_a_bounded_way_ahead(ahead: int) -> None:
    pulled: list[int] = []
    with ThreadPoolExecutor(2) as pool:
        results = ordered_map(pow, _tasks(20, pulled), pool=pool, ahead=ahead)
        for taken, value in enumerate(results, start=1):
            assert value == (taken - 1) ** 3
            assert len(pulled) <= taken + ahead  # results never pile up ahead of the reader
        assert len(pulled) == 20


def test_inline_runs_each_task_when_its_result_is_taken() -> None:
    pulled: list[int] = []
    results = ordered_map(pow, _tasks(10, pulled), pool=None, ahead=8)
    assert next(results) == 0 and pulled == [0]


def test_closing_early_stops_drawing_tasks() -> None:
    pulled: list[int] = []
    with ThreadPoolExecutor(1) as pool:
        results = ordered_map(pow, _tasks(100, pulled), pool=pool, ahead=2)
        assert next(results) == 0
        results.close()
        assert len(pulled) <= 4


def test_resolve_workers() -> None:
    assert resolve_workers(3) == 3
    assert resolve_workers(None) >= 1 and resolve_workers(0) == resolve_workers(None)
