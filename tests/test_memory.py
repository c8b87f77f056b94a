"""memory: Arrow's allocator for the CLI, and handing freed heap pages back between steps."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from norwoodkit import memory


def _run(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    )
    return proc.stdout.strip()


def test_cli_gives_arrow_the_system_allocator() -> None:
    # A fresh process: the allocator is process-wide, and the test process must keep its own.
    out = _run(
        """
        import sys
        import pyarrow as pa
        default = pa.default_memory_pool().backend_name
        from norwoodkit.cli import main
        imported = pa.default_memory_pool().backend_name
        sys.argv = ["norwoodkit", "validate", "/no/such/folder", "--quiet"]
        try:
            main()
        except SystemExit:
            pass
        print(default, imported, pa.default_memory_pool().backend_name)
        """
    )
    default, imported, after = out.split()
    assert imported == default  # importing the library changes nothing
    assert after == "system"  # running a command does


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc_trim")
def test_trim_hands_freed_heap_pages_back() -> None:
    # Many mid-sized blocks on the C heap, all freed but one at the top: without a trim the heap
    # keeps the pages (the live top block stops the usual shrink); malloc_trim(0) gives the
    # free pages in the middle back.
    out = _run(
        """
        import ctypes
        from norwoodkit import memory

        libc = ctypes.CDLL("libc.so.6")
        libc.malloc.restype = ctypes.c_void_p
        libc.free.argtypes = [ctypes.c_void_p]

        def rss_kb():
            with open("/proc/self/status") as fh:
                return next(int(l.split()[1]) for l in fh if l.startswith("VmRSS"))

        blocks = [libc.malloc(64 * 1024) for _ in range(1500)]  # ~96 MB, below mmap threshold
        for b in blocks:
            ctypes.memset(b, 1, 64 * 1024)
        keep = libc.malloc(64 * 1024)
        for b in blocks:
            libc.free(b)
        before = rss_kb()
        memory.trim()
        print(before, rss_kb())
        """
    )
    before, after = map(int, out.split())
    assert before - after > 50_000  # at least 50 MB of the 96 MB went back


def test_trim_is_safe_to_call_any_time() -> None:
    import platform

    import pyarrow as pa

    # Arrow buffers and Python objects in use keep their contents through repeated trims.
    values = pa.array(range(200_000), pa.int64())
    words = [str(i) * 8 for i in range(10_000)]
    memory.trim()
    memory.trim()
    assert values.sum().as_py() == 200_000 * 199_999 // 2
    assert words[::2500] == ["0" * 8, "2500" * 8, "5000" * 8, "7500" * 8]
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        assert memory._malloc_trim() is not None  # the calls above really trimmed


def test_a_cli_run_freezes_the_collector_only_at_exit() -> None:
    # The interpreter's last collections are skipped (architecture.md, "The end of a run"): the
    # freeze comes at exit, after the command, and a Python caller's collector runs until then.
    out = _run(
        """
        import atexit, gc, sys
        atexit.register(lambda: print("at exit", gc.get_freeze_count() > 0, flush=True))
        from norwoodkit.cli import main
        sys.argv = ["norwoodkit", "validate", "/no/such/folder", "--quiet"]
        try:
            main()
        except SystemExit:
            pass
        print("after main", gc.get_freeze_count(), gc.isenabled(), flush=True)
        """
    )
    assert out.splitlines() == ["after main 0 True", "at exit True"]
