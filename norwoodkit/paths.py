"""Paths: root-relative POSIX names, the one "inside the root" test, and the one output guard.

One rule for "inside the root", resolved with symlinks, so the folder walk, the paths an
annotation lists and every output check refuse the same things. Every path norwoodkit writes
(an option, an argument, a library call's ``path``) goes through :func:`guard_output` first.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal

from norwoodkit.errors import OutputError
from norwoodkit.storage import Location

__all__ = ["OutputKind", "guard_output", "guard_url", "inside", "posix_rel", "safe_relpath"]

#: What an output path is meant to be: one file, or a folder we write files into.
OutputKind = Literal["file", "folder"]


def posix_rel(root: str | os.PathLike[str], path: str) -> str:
    """``path`` relative to ``root``, with ``/`` separators (the table's spelling of a path)."""
    # Strings, not Path objects: this runs once per file, and pathlib interns every part.
    return os.path.relpath(path, root).replace(os.sep, "/")


def inside(root_real: str, path: str) -> bool:
    """True when ``path``, symlinks resolved, is ``root_real`` or lies under it.

    ``root_real`` is the root's ``os.path.realpath``, computed once by the caller.
    """
    real = os.path.realpath(path)
    return real == root_real or real.startswith(root_real.rstrip(os.sep) + os.sep)


def safe_relpath(rel: object) -> bool:
    """True when ``rel`` is a plain relative POSIX path: no root, no ``..``, no empty part."""
    if not isinstance(rel, str) or not rel or "\\" in rel or "\x00" in rel:
        return False
    parts = rel.split("/")
    return rel[0] != "/" and all(p not in ("", ".", "..") for p in parts)


def _kind_of(mode: int) -> str:
    """A file-system object's kind in words, for messages."""
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISREG, "a file"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISLNK, "a broken symbolic link"),
    )
    return next((words for test, words in kinds if test(mode)), "a special file")


def guard_output(
    path: str | os.PathLike[str],
    parameter: str,
    *,
    dataset_root: str | os.PathLike[str] | Location | None,
    kind: OutputKind,
    inputs: Iterable[str | os.PathLike[str] | Location | None] = (),
    make_parents: bool = False,
) -> Path:
    """Refuse an output path before any work; return it as a ``Path``.

    The path is resolved (symlinks and ``..`` included) and refused when it is the dataset root
    or lies under it, when it is one of ``inputs`` (a file the command reads), when it exists
    and is not what ``kind`` asks for (a FIFO, device, socket or folder where a file is meant;
    anything but a folder where a folder is meant), when a file output is itself a symlink
    (the rename that writes it would replace the link, not its target), and when its folder is
    missing or not writable. ``make_parents`` (the probe cache) lets missing folders above be
    made later and leaves writability to the writer. A dataset root or an input at a URL (a
    ``Location``) never collides with a local path.

    Raises:
        OutputError: with ``parameter`` set; codes output-inside-dataset, output-is-input,
            output-is-link, output-is-folder, output-not-regular, output-not-folder, output-denied,
            output-parent-missing, output-not-writable.
    """
    if isinstance(dataset_root, Location):  # a local output never lies in a store
        dataset_root = None
    given = Path(path)
    real = os.path.realpath(given)
    shown = f"{given}" if os.path.abspath(given) == real else f"{given} (resolves to {real})"

    def refuse(problem: str, code: str) -> OutputError:
        return OutputError(f"{shown}: {problem}", code=code, parameter=parameter)

    local_root = dataset_root
    if local_root is not None and inside(os.path.realpath(local_root), real):
        raise refuse(
            f"inside the dataset folder {dataset_root}; write it somewhere else "
            "(norwoodkit never writes into a dataset)",
            "output-inside-dataset",
        )
    if any(
        p is not None and not isinstance(p, Location) and os.path.realpath(p) == real
        for p in inputs
    ):
        raise refuse(
            "is also an input of this command; write the output elsewhere", "output-is-input"
        )
    _refuse_wrong_kind(given, kind, refuse)
    if make_parents:
        return given
    exists = os.path.isdir(real)
    parent = real if kind == "folder" and exists else os.path.dirname(real)
    if not os.path.isdir(parent):
        raise refuse(f"folder {parent} does not exist; create it first", "output-parent-missing")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise refuse(
            f"folder {parent} is not writable; choose another place", "output-not-writable"
        )
    return given


def _refuse_wrong_kind(
    given: Path, kind: OutputKind, refuse: Callable[[str, str], OutputError]
) -> None:
    """Raise ``refuse(problem, code)`` when what exists at ``given`` is not a ``kind``."""
    try:
        link_mode = os.lstat(given).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise refuse(
            f"cannot be examined ({exc.strerror}); choose another path", "output-denied"
        ) from None
    if kind == "file" and stat.S_ISLNK(link_mode):
        raise refuse(
            "is a symbolic link; give the path of a real file (norwoodkit replaces files, "
            "never writes through links)",
            "output-is-link",
        )
    try:
        mode = os.stat(given).st_mode
    except OSError:
        mode = link_mode  # a dangling link where a folder is meant
    if kind == "file" and stat.S_ISDIR(mode):
        raise refuse("is a folder; give a file name", "output-is-folder")
    if kind == "file" and not stat.S_ISREG(mode):
        raise refuse(
            f"is {_kind_of(mode)}, not a regular file; refusing to replace it", "output-not-regular"
        )
    if kind == "folder" and not stat.S_ISDIR(mode):
        raise refuse(f"is {_kind_of(mode)}; give a folder", "output-not-folder")


def guard_url(
    where: Location,
    parameter: str,
    *,
    dataset_root: str | os.PathLike[str] | Location | None,
    kind: OutputKind,
    inputs: Iterable[str | os.PathLike[str] | Location | None] = (),
) -> Location:
    """:func:`guard_output` for an output URL: refuse it before any work; return it.

    Refused when it is the dataset root's URL or lies under its prefix (a local root and a URL
    never collide), when it is one of ``inputs``, when its bucket does not exist or cannot be
    listed with these credentials, and when what is there is not what ``kind`` asks for (a
    folder of objects where a file is meant, an object where a folder is meant).

    Raises:
        OutputError: with ``parameter`` set; codes output-inside-dataset, output-is-input,
            output-is-folder, output-not-folder, storage-missing.
        StorageError: the store refused to list the bucket (names the permission).
    """
    from norwoodkit.storage import Location, storage_error

    def refuse(problem: str, code: str) -> OutputError:
        return OutputError(f"{where.url}: {problem}", code=code, parameter=parameter)

    if isinstance(dataset_root, Location) and where.under(dataset_root):
        raise refuse(
            f"inside the dataset {dataset_root.url}; write it somewhere else "
            "(norwoodkit never writes into a dataset)",
            "output-inside-dataset",
        )
    if any(isinstance(p, Location) and p.under(where) and where.under(p) for p in inputs):
        raise refuse(
            "is also an input of this command; write the output elsewhere", "output-is-input"
        )
    bucket = where.path.split("/", 1)[0]
    try:
        where.fs.invalidate_cache(where.path)
        where.fs.info(bucket)  # raises for a missing bucket or refused credentials
        is_dir = where.fs.isdir(where.path)
        is_file = where.fs.isfile(where.path)
    except FileNotFoundError:
        raise refuse(
            f"the bucket {bucket!r} does not exist or is not visible to these credentials; "
            "create it or check the URL's bucket name",
            "storage-missing",
        ) from None
    except Exception as exc:  # any other store error, named by storage_error, never echoed raw
        raise storage_error(exc, where, "list") from None
    if kind == "file" and is_dir:
        raise refuse("is a folder (objects lie under it); give a file name", "output-is-folder")
    if kind == "folder" and is_file:
        raise refuse("is an object, not a folder; give a folder URL", "output-not-folder")
    return where
