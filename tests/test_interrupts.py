"""A Ctrl-C is remembered while a command runs, so one that a finalizer swallows still stops
every later publication of an output (interrupts.py)."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from norwoodkit import interrupts
from norwoodkit.atomic import write_text_atomic


class _Swallowing:
    """An object whose finalizer is running when the Ctrl-C arrives (Python discards it)."""

    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        start = time.monotonic()
        while time.monotonic() - start < 1.0:
            pass


def test_a_swallowed_ctrl_c_stops_the_next_atomic_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lost: list[type[BaseException] | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda raised: lost.append(raised.exc_type))
    target = tmp_path / "out.txt"
    target.write_text("old")
    with interrupts.latched():
        victim = _Swallowing()
        del victim  # the KeyboardInterrupt is raised, and lost, inside __del__
        assert interrupts.pressed()
        with pytest.raises(KeyboardInterrupt):
            write_text_atomic(target, "new")
    assert lost == [KeyboardInterrupt]
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    assert not interrupts.pressed()  # forgotten once the block ends: later writes go ahead
    write_text_atomic(target, "later")
    assert target.read_text() == "later"


def test_the_latch_starts_clear_and_restores_the_callers_handler() -> None:
    seen: list[int] = []

    def own(signum: int, frame: object) -> None:
        seen.append(signum)

    previous = signal.signal(signal.SIGINT, own)
    try:
        with interrupts.latched():
            assert not interrupts.pressed()
            interrupts.check()  # nothing pressed: no exception
            assert signal.getsignal(signal.SIGINT) is not own
        assert signal.getsignal(signal.SIGINT) is own
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        assert seen == [signal.SIGINT]
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_process_started_deaf_to_ctrl_c_stays_deaf() -> None:
    """``nohup`` and a shell's ``cmd &`` start a process with SIGINT ignored: keep it so."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with interrupts.latched():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            assert not interrupts.pressed()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
