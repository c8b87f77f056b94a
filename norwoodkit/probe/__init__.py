"""One pass over each image's bytes: size, sha256, real format, mode, dimensions, EXIF orientation,
integrity and perceptual hashes, from a single decode. Cached on disk.

The package's modules, one job each: ``read`` opens a file safely and bounded (regular files
only, never blocking); ``decode`` turns bytes into a row (sniffing, the integrity decode, the
phashes, the quality measures); ``files`` is the pure unit of work a pool maps (paths in, rows out);
``cache`` is the cache file's place, schema, key and the checks a cached row must pass;
``writer`` writes a new cache file privately; ``runner`` is the pass (``run``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from norwoodkit import lazy

# The cache and the safe read are light (the standard library; pyarrow waits for a read).
from norwoodkit.probe.cache import (
    CACHE_COLUMNS,
    CACHE_GROUP_ROWS,
    PROBE_VERSION,
    cache_file,
    cache_schema,
    default_cache_dir,
)
from norwoodkit.probe.read import MAX_FILE_BYTES, NOT_A_FILE, OUTSIDE_ROOT

if TYPE_CHECKING:
    from norwoodkit.probe.decode import (
        DRAFT_MODE,
        DRAFT_SIZE,
        phash_pair,
        probe_bytes,
        sniff_format,
    )
    from norwoodkit.probe.files import probe_batch, probe_file
    from norwoodkit.probe.runner import BATCH_SIZE, ProgressFn, run

__all__ = [
    "BATCH_SIZE",
    "CACHE_COLUMNS",
    "CACHE_GROUP_ROWS",
    "DRAFT_MODE",
    "DRAFT_SIZE",
    "MAX_FILE_BYTES",
    "NOT_A_FILE",
    "OUTSIDE_ROOT",
    "PROBE_VERSION",
    "ProgressFn",
    "cache_file",
    "cache_schema",
    "default_cache_dir",
    "phash_pair",
    "probe_batch",
    "probe_bytes",
    "probe_file",
    "run",
    "sniff_format",
]

# public name -> the module that defines it, imported on first use: a warm run reads the cache
# without importing Pillow, the decoders or a process pool
_HOMES = {
    **dict.fromkeys(
        ["DRAFT_MODE", "DRAFT_SIZE", "phash_pair", "probe_bytes", "sniff_format"],
        "decode",
    ),
    "probe_batch": "files",
    "probe_file": "files",
    **dict.fromkeys(["BATCH_SIZE", "ProgressFn", "run"], "runner"),
}


if not TYPE_CHECKING:  # mypy sees the imports above; an unknown name stays an error for it
    __getattr__, __dir__ = lazy.exports(__name__, _HOMES, __all__)
