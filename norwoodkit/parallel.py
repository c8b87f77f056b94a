"""Worker processes for the per-image work (probe, pack's re-encode, sample rendering).

One way to start them (forkserver), to count them, and to map a pure batch function over
batches in order with a bounded number in flight, so results stream instead of piling up.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

R = TypeVar("R")


def resolve_workers(workers: int | None) -> int:
    """``None`` means one process per CPU core (resolved at call time, never at import)."""
    return workers if workers is not None and workers > 0 else (os.cpu_count() or 1)


def pool_context() -> multiprocessing.context.BaseContext:
    """The start method for worker processes.

    forkserver on Linux: workers start from a clean process, not by forking a parent that may
    hold threads (a progress bar) or locks; spawn where fork-based starts do not exist.
    """
    if not sys.platform.startswith("linux"):
        return multiprocessing.get_context("spawn")
    _start_forkserver_deaf_to_ctrl_c()
    return multiprocessing.get_context("forkserver")


def _start_forkserver_deaf_to_ctrl_c() -> None:
    """Start the fork server (once) with Ctrl-C ignored.

    A Ctrl-C reaches every process of the terminal's group. The server ignores it once its loop
    runs, but not while it is still importing, when it would print a traceback of its own; and
    workers forked from it inherit the disposition, so the parent alone handles Ctrl-C (exit
    130) and ends the pool.
    """
    from multiprocessing import forkserver

    if threading.current_thread() is not threading.main_thread():
        forkserver.ensure_running()  # signal dispositions can only change in the main thread
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def process_pool(
    workers: int, initializer: Callable[[], object] | None = None
) -> Iterator[ProcessPoolExecutor]:
    """A pool of ``workers`` processes, started the ``pool_context`` way.

    Tasks not yet started are cancelled when the block ends, so an error or Ctrl-C does not
    wait for work nobody will read.
    """
    pool = ProcessPoolExecutor(workers, mp_context=pool_context(), initializer=initializer)
    try:
        yield pool
    finally:
        pool.shutdown(cancel_futures=True)


def ordered_map(
    fn: Callable[..., R],
    tasks: Iterable[tuple[Any, ...]],
    *,
    pool: Executor | None,
    ahead: int,
) -> Generator[R, None, None]:
    """``fn(*task)`` for each task, in task order.

    With a pool, at most ``ahead + 1`` tasks are submitted and not yet taken: results stream
    as the consumer takes them, whatever the number of tasks, and ``tasks`` is read only as
    far as that. Without a pool (``None``), each task runs here when its result is taken.
    ``fn`` must be a pure function of its arguments (it may run in another process).
    Closing the generator early cancels the tasks not yet started.
    """
    if pool is None:
        for task in tasks:
            yield fn(*task)
        return
    pending: deque[Future[R]] = deque()
    try:
        for task in tasks:
            pending.append(pool.submit(fn, *task))
            if len(pending) > ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


class LazyPool(Executor):
    """A process pool started on its first ``submit``: a pass that may need no worker at all
    (pack's ``--orientation apply`` when no photo is turned) costs no start-up."""

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        """``fn(*args, **kwargs)`` in a worker (the pool starts now if not yet)."""
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self._workers, mp_context=pool_context())
        return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the workers, if any started."""
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


@contextmanager
def lazy_process_pool(workers: int) -> Iterator[LazyPool]:
    """``process_pool``, started only when the first task is submitted."""
    pool = LazyPool(workers)
    try:
        yield pool
    finally:
        pool.shutdown(cancel_futures=True)
