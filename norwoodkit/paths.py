"""Paths under the dataset root: root-relative POSIX names, and whether a path stays inside it.

One rule for "inside the root", resolved with symlinks, so the folder walk, the paths an
annotation lists and any output check refuse the same things.
"""

from __future__ import annotations

import os

__all__ = ["inside", "posix_rel"]


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
