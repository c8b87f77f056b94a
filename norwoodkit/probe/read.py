"""Reading one image file safely: regular files only, never blocking, never past a size ceiling.

A dataset may hold anything under an image's name: a FIFO (reading it would wait forever), a
device (``/dev/zero`` would be read until memory runs out), a socket, a folder, a link that
loops. Such a path is refused before it is opened, from ``stat``; the file that is opened is
checked again on its descriptor (``fstat``), so nothing swapped in between is read, and it is
opened with ``O_NONBLOCK`` so even a FIFO swapped in cannot hang the open.
"""

from __future__ import annotations

import errno
import os
import stat

__all__ = ["MAX_FILE_BYTES", "NOT_A_FILE", "OUTSIDE_ROOT", "Refused", "read_file"]

#: The most bytes the probe reads of one file. A 100-megapixel photo is rarely over 60 MB, even
#: as a 16-bit TIFF it stays under this; what is larger is not a photo, and each worker would
#: hold it in memory whole.
MAX_FILE_BYTES = 256 * 1024 * 1024

#: The status of a path that is there but is no regular file (FIFO, device, socket, folder,
#: link loop): it is never opened.
NOT_A_FILE = "not-a-file"

#: The status of a path whose real location (links resolved) is outside the dataset root.
OUTSIDE_ROOT = "outside-root"

_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)

#: Read size once a file turns out longer than ``fstat`` said (it grew while it was read).
_CHUNK = 1 << 20


class Refused(Exception):
    """A file the probe does not read (or cannot): the row's status and why, in words."""

    def __init__(self, status: str, error: str, size: int | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.size = status, error, size


def _kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def _check(st: os.stat_result, limit: int) -> None:
    """Refuse what is not a regular file, or is larger than ``limit`` bytes."""
    if not stat.S_ISREG(st.st_mode):
        raise Refused(NOT_A_FILE, f"{_kind(st.st_mode)}, not a regular file; it is not opened")
    if st.st_size > limit:
        raise Refused(
            "too-large",
            f"{st.st_size:,} bytes, over the probe's limit of {limit:,} bytes; not read",
            st.st_size,
        )


def _refusal(exc: OSError, path: str) -> Refused:
    """The row for a path that could not be stat'ed or opened."""
    if isinstance(exc, FileNotFoundError):
        if os.path.islink(path):
            return Refused(NOT_A_FILE, "a link to nothing (its target does not exist)")
        return Refused("missing", "file not found")
    if exc.errno == errno.ELOOP:
        return Refused(NOT_A_FILE, "a symbolic link that loops, not a regular file; not opened")
    if exc.errno == errno.ENXIO:  # a socket, or a FIFO swapped in: nothing to read
        return Refused(NOT_A_FILE, "a socket or FIFO, not a regular file; it is not read")
    return Refused("unreadable", exc.strerror or str(exc))


def read_file(path: str, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of the regular file at ``path`` (links followed), ``limit`` bytes at most.

    Raises:
        Refused: the path is missing, not a regular file, unreadable, or over ``limit``.
    """
    try:
        _check(os.stat(path), limit)
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise _refusal(exc, path) from None
    try:
        st = os.fstat(fd)
        _check(st, limit)  # the file opened is the file checked, whatever changed since stat
        data = _read_at_most(fd, limit, st.st_size)
    except OSError as exc:
        raise _refusal(exc, path) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise Refused("too-large", f"over the probe's limit of {limit:,} bytes; not read")
    return data


def _read_at_most(fd: int, limit: int, expected: int) -> bytes:
    """Up to ``limit + 1`` bytes from ``fd``: one read of the expected size in the usual case."""
    parts: list[bytes] = []
    total = 0
    want = expected + 1  # one byte more than stat said, to meet the end of the file at once
    while total <= limit:
        size = want - total if want > total else _CHUNK  # the rest of a file that grew
        chunk = os.read(fd, min(size, limit + 1 - total))
        if not chunk:
            break
        parts.append(chunk)
        total += len(chunk)
    return b"".join(parts)
