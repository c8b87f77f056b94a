"""The pure unit of per-image work: a file, or a batch of root-relative paths, to probe rows.

Nothing here touches the cache; ``probe_batch`` is what a process pool (or a cluster) maps.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from PIL import ImageFile

from norwoodkit.paths import inside
from norwoodkit.probe.decode import empty_row, probe_bytes
from norwoodkit.probe.read import OUTSIDE_ROOT, Refused, read_file

__all__ = ["init_worker", "probe_batch", "probe_file"]


def probe_file(path: str) -> dict[str, Any]:
    """Probe one image file; never raises for a bad file (the status column says what is wrong).

    Only a regular file is opened (links followed), never blocking and never past
    ``read.MAX_FILE_BYTES``; anything else is a row whose status says what it is.
    """
    try:
        data = read_file(path)
    except Refused as why:
        return {**empty_row(), "status": why.status, "error": why.error, "size": why.size}
    except MemoryError:  # a file under the ceiling can still be more than this machine holds
        return {**empty_row(), "status": "too-large", "error": "not enough memory to read it"}
    return probe_bytes(data)


def probe_batch(root: str, paths: Sequence[str]) -> list[dict[str, Any]]:
    """Probe a batch of root-relative paths: the pure unit of work a pool or cluster maps.

    A path whose real location (links resolved) is outside ``root`` is not opened: the folder
    walk already leaves such links out, and the probe holds the line on its own as well.
    """
    root_real = os.path.realpath(root)
    return [_probe_inside(root_real, os.path.join(root, p)) for p in paths]


def _probe_inside(root_real: str, path: str) -> dict[str, Any]:
    if not inside(root_real, path):
        error = "a link that leads outside the dataset root; it is not opened"
        return {**empty_row(), "status": OUTSIDE_ROOT, "error": error}
    return probe_file(path)


def init_worker() -> None:
    """A probe worker's setup: truncated images are errors, never quietly padded."""
    ImageFile.LOAD_TRUNCATED_IMAGES = False
