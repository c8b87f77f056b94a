"""Dataset -> Parquet shards built for fast training input, a manifest and a dataset card; verify.

Shards follow what Hugging Face ``datasets`` writes, so ``load_dataset("parquet", ...)`` returns
PIL images and class names with no extra code: the image column is ``struct<bytes: binary,
path: string>`` and the schema's ``huggingface`` metadata declares it an ``Image`` and ``label``
a ``ClassLabel`` (``stage_1`` .. ``stage_7``). Every view of a subject sits in one shard and one
row group; row groups are small (about 20 rows) so a loader can shuffle and split work finely;
the image bytes are stored uncompressed without dictionary or statistics (JPEG does not
compress further, and readers then hand out the bytes without a copy), metadata columns zstd
with statistics but no dictionary pages (in 20-row groups, reading a dictionary page costs more
than it saves: measured, it made reading shards 1.6x slower).

Writing is streamed row group by row group, so memory stays at a few row groups whatever the
dataset size. Each shard goes to a temporary name and is renamed when complete; a record of every
finished shard lets ``resume`` skip shards that are complete and identical.

Every shard is ``data/<split>-NNNNN-of-NNNNN.parquet`` and the card's ``configs`` list the
splits, so the folder is a Hugging Face Hub dataset repository as written.

Modules, one job each: ``layout`` (file names, patterns, the shard columns in each layout),
``hub`` (split names the Hub accepts, the ``configs``), ``options`` (PackOptions, parse_size),
``table`` (the rows to pack), ``plan`` (the shard plan), ``images`` (the bytes to store),
``rows`` (row groups as Arrow batches), ``folder`` (the output folder, what is ours, resume
records), ``write``, ``manifest``, ``card`` (README.md), ``croissant`` (croissant.json) and
``verify``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from norwoodkit import lazy

if TYPE_CHECKING:
    from norwoodkit.pack.card import dataset_card, read_card_data
    from norwoodkit.pack.croissant import CROISSANT, croissant
    from norwoodkit.pack.images import prepare_images
    from norwoodkit.pack.layout import FORMAT_VERSION, MANIFEST, STAGE_NAMES, STATE_DIR, Layout
    from norwoodkit.pack.manifest import manifest_rows, read_manifest, source_hash
    from norwoodkit.pack.options import MIN_SHARD_BYTES, Orientation, PackOptions, parse_size
    from norwoodkit.pack.plan import READER_COUNTS, SHARD_BYTES_RANGE, ShardPlan, plan
    from norwoodkit.pack.table import PACK_INPUT_COLUMNS, pack_input, prepare_table
    from norwoodkit.pack.verify import verify
    from norwoodkit.pack.write import PackResult, write

__all__ = [
    "CROISSANT",
    "FORMAT_VERSION",
    "MANIFEST",
    "MIN_SHARD_BYTES",
    "PACK_INPUT_COLUMNS",
    "READER_COUNTS",
    "SHARD_BYTES_RANGE",
    "STAGE_NAMES",
    "STATE_DIR",
    "Layout",
    "Orientation",
    "PackOptions",
    "PackResult",
    "ShardPlan",
    "croissant",
    "dataset_card",
    "manifest_rows",
    "pack_input",
    "parse_size",
    "plan",
    "prepare_images",
    "prepare_table",
    "read_card_data",
    "read_manifest",
    "source_hash",
    "verify",
    "write",
]

# public name -> the module that defines it, imported on first use: the CLI reads Layout
# and Orientation for its options without importing pandas or pyarrow
_HOMES = {
    "CROISSANT": "croissant",
    "FORMAT_VERSION": "layout",
    "Layout": "layout",
    "MANIFEST": "layout",
    "MIN_SHARD_BYTES": "options",
    "Orientation": "options",
    "PACK_INPUT_COLUMNS": "table",
    "PackOptions": "options",
    "PackResult": "write",
    "READER_COUNTS": "plan",
    "SHARD_BYTES_RANGE": "plan",
    "STAGE_NAMES": "layout",
    "STATE_DIR": "layout",
    "ShardPlan": "plan",
    "croissant": "croissant",
    "dataset_card": "card",
    "manifest_rows": "manifest",
    "pack_input": "table",
    "parse_size": "options",
    "plan": "plan",
    "prepare_images": "images",
    "prepare_table": "table",
    "read_card_data": "card",
    "read_manifest": "manifest",
    "source_hash": "manifest",
    "verify": "verify",
    "write": "write",
}


if not TYPE_CHECKING:  # mypy sees the imports above; an unknown name stays an error for it
    __getattr__, __dir__ = lazy.exports(__name__, _HOMES, __all__)

# ``plan``, ``write``, ``verify``, ``croissant`` stay the functions when their submodules load.
lazy.keep_functions(__name__, [name for name, home in _HOMES.items() if name == home])
