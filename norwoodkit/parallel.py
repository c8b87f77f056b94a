"""Process pools for the per-image work (probe, sample rendering): one way to start them."""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import sys


def resolve_workers(workers: int | None) -> int:
    """``None`` means one process per CPU core (resolved at call time, never at import)."""
    return workers if workers is not None and workers > 0 else (os.cpu_count() or 1)


def pool_context() -> multiprocessing.context.BaseContext:
    """The start method for worker processes.

    forkserver on Linux: workers start from a clean process, not by forking a parent that may
    hold threads (a progress bar) or locks; spawn where fork-based starts do not exist.
    """
    method = "forkserver" if sys.platform.startswith("linux") else "spawn"
    return multiprocessing.get_context(method)
