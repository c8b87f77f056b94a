"""Ctrl-C that cannot be lost: remembered when it arrives, checked before any output is published.

Python turns SIGINT into ``KeyboardInterrupt`` in whatever Python code the main thread runs at
that moment. When that code is a finalizer (``__del__``, pyarrow's ``ParquetWriter`` among them)
or a weakref callback, Python prints "Exception ignored" and carries on, and the command would
finish and exit 0 as if nobody had pressed Ctrl-C. So while a command runs (``latched``) the
signal is also remembered, and every place that makes an output visible (a rename into place,
an upload) calls ``check`` first: a Ctrl-C that was swallowed still stops the run before
anything is published, and the command exits 130 with its temporaries removed.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_pressed = False


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    """Remember the Ctrl-C, then raise it as Python's default handler does."""
    global _pressed
    _pressed = True
    raise KeyboardInterrupt


@contextmanager
def latched() -> Iterator[None]:
    """Remember a Ctrl-C that arrives inside the block (main thread only; elsewhere a no-op).

    The handler before the block is restored after it, so a Python caller keeps its own, and
    the Ctrl-C is forgotten: a later write of that caller is not refused for it.
    """
    global _pressed
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _pressed = False
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # started deaf to it (``nohup``, ``&``)
        yield
        return
    previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _pressed = False


def pressed() -> bool:
    """Whether a Ctrl-C arrived inside the current ``latched`` block."""
    return _pressed


def check() -> None:
    """Raise ``KeyboardInterrupt`` if a Ctrl-C arrived, even one some finalizer swallowed.

    Called just before an output is made visible, so an interrupted run publishes nothing more.
    """
    if _pressed:
        raise KeyboardInterrupt
