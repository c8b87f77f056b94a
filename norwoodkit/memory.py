"""Process memory: which allocator Arrow uses, and handing freed memory back to the system.

A command's peak memory should follow the work in hand (a few row groups, one table), not the
largest temporary it ever built. Two things stand in the way, both outside our code: Arrow's
default pool keeps what it once allocated, and the C library keeps freed heap memory for reuse,
so each step's temporaries stay resident under the next step. ``use_system_allocator`` fixes the
first (the CLI calls it once at start-up); ``trim`` fixes the second between steps. Both are
measured in docs/benchmarks.md (pack: peak memory for 24,000 vs 2,400 images).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys
from collections.abc import Callable


def use_system_allocator() -> None:
    """Arrow buffers from the C allocator, so that freed buffers go back to the system.

    Process-wide: only an application (the CLI) should call it, never the library on behalf of
    its caller.
    """
    if "pyarrow" not in sys.modules:
        # Arrow reads this when it makes its default pool: the same choice, and a run that never
        # touches Arrow (--help, --version) does not pay for importing it.
        os.environ["ARROW_DEFAULT_MEMORY_POOL"] = "system"
        return
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        fn: Callable[[int], int] = libc.malloc_trim  # glibc only; musl has no malloc_trim
    except (OSError, AttributeError):
        return None
    return fn


def trim() -> None:
    """Hand the C heap's free pages back to the system (glibc); elsewhere a no-op.

    Cheap (it walks the free lists, no Python objects): call it where a step's temporaries
    have just been freed, before the next step allocates its own.
    """
    fn = _malloc_trim()
    if fn is not None:
        fn(0)
