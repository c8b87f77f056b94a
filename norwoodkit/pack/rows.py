"""Row groups as Arrow batches: the packed table's stored columns, taken by position, plus bytes.

The table's columns that shards store are turned into a typed Arrow batch row group by row
group (``source_rows``; ``width``/``height`` are those of the stored pixels: a group's rows are
typed when their probe results are in, which pack's pipeline fills as they come), joined with
its image bytes (``group_images``, a pool working ahead within a byte budget with
``--resize``), shaped into the layout's columns (``batch``). No per-row Python objects while
writing.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from norwoodkit.columns import SHARD_ORDER, Image, Shard, column
from norwoodkit.labels import VIEWS
from norwoodkit.pack.images import Prepared, prepare_images, prepare_upright, stored_sizes
from norwoodkit.pack.layout import Layout, shard_columns
from norwoodkit.pack.options import Orientation, PackOptions
from norwoodkit.pack.plan import ShardPlan
from norwoodkit.parallel import ordered_map, resolve_workers
from norwoodkit.storage import Location

log = logging.getLogger(__name__)

#: With ``--resize``, the pool re-encodes at most this many times ``row_group_bytes`` ahead.
READ_AHEAD_GROUPS = 4

#: The packed table's columns a row group is made from: ``path`` (read, then kept beside the
#: bytes) and every stored column that is not the image itself.
SOURCE_COLUMNS = (
    column("path"),
    *(c for c in map(column, SHARD_ORDER) if not isinstance(c.type, Image)),
)


def source_rows(table: pd.DataFrame, opts: PackOptions) -> Any:
    """The packed table's ``SOURCE_COLUMNS`` as one Arrow batch, typed like the shards;
    ``width``/``height`` describe the pixels stored with ``opts`` (``stored_sizes``)."""
    import pyarrow as pa

    width, height = stored_sizes(table, opts)
    stored = {"width": width, "height": height}
    arrays = []
    for c in SOURCE_COLUMNS:
        # chunked if pandas holds chunks
        values = pa.array(stored.get(c.name, table[c.name]), from_pandas=True)
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        arrays.append(values.cast(c.arrow_type()))
    return pa.RecordBatch.from_arrays(arrays, names=[c.name for c in SOURCE_COLUMNS])


def group_images(
    root: Path | Location,
    table: pd.DataFrame,
    shard: ShardPlan,
    opts: PackOptions,
    pool: Executor | None,
) -> Generator[list[bytes], None, None]:
    """Each row group's image bytes, in order; a pool works ahead, within a byte budget.

    With ``--orientation apply`` and no ``--resize``, the files are read here and only the
    photos to turn upright are decoded and re-encoded in the pool.

    The pool holds at most ``READ_AHEAD_GROUPS`` times ``row_group_bytes`` of estimated image
    bytes (and never fewer than two groups, so that it has work while the writer writes). A
    photo stored as it is although ``apply`` was asked (its orientation tag is unusable) is
    logged as a warning naming it.
    """
    groups = [shard.positions[a:b] for a, b in shard.groups]
    paths = table["path"].to_numpy(dtype=object)
    if pool is not None and opts.resize is None and opts.orientation is Orientation.APPLY:
        # Originals: read here, group by group; only the photos to turn go to the pool.
        for g in groups:
            yield _noted(prepare_upright(str(root), paths[g].tolist(), pool))
        return
    weights = table["est_bytes"].to_numpy(dtype=np.int64)
    tasks = (
        (str(root), paths[g].tolist(), opts.resize, opts.quality, opts.orientation) for g in groups
    )
    largest = max(1, max(int(weights[g].sum()) for g in groups))
    budget = READ_AHEAD_GROUPS * opts.row_group_bytes
    ahead = max(1, min(2 * resolve_workers(opts.workers), budget // largest - 1))
    yield from map(_noted, ordered_map(prepare_images, tasks, pool=pool, ahead=ahead))


def _noted(prepared: Prepared) -> list[bytes]:
    """A group's bytes, its notes logged as warnings.

    The generators above yield what this returns and keep no name for it, so a group's bytes
    are freed as soon as the writer has turned them into Arrow, not when the next group comes.
    """
    for note in prepared.notes:
        log.warning("%s", note)
    return prepared.images


def batch(
    source: Any, positions: np.ndarray, images: list[bytes], layout: Layout, schema: Any
) -> Any:
    """One row group: the rows at ``positions`` of ``source`` with their image bytes."""
    import pyarrow as pa

    rows = source.take(pa.array(positions))
    cols = shard_columns(layout)
    image = next(s.column for s in cols if isinstance(s.column.type, Image))
    assert isinstance(image.type, Image)
    stored = image.type.encode(images, rows.column("path"))
    if layout is Layout.IMAGE:
        arrays = [stored if s.column is image else rows.column(s.name) for s in cols]
        return pa.RecordBatch.from_arrays(arrays, schema=schema)
    # Subject layout: a row per subject, and per view the index of its image row (null: none).
    subject = rows.column("subject_id").to_numpy(zero_copy_only=False)
    new = np.r_[True, subject[1:] != subject[:-1]]
    first = pa.array(np.flatnonzero(new))
    ordinal = np.cumsum(new) - 1
    view = rows.column("view").to_numpy(zero_copy_only=False)
    at: dict[str, Any] = {}
    for v in VIEWS:
        index = np.full(len(first), -1, dtype=np.int64)
        mine = np.flatnonzero(view == v.value)
        index[ordinal[mine]] = mine  # a second file of one view: the later one, as sorted, wins
        at[v.value] = pa.array(index, mask=index < 0)
    arrays = []
    for s in cols:
        data = stored if s.column is image else rows.column(s.column.name)
        arrays.append(data.take(first if s.column.shard is Shard.SUBJECT else at[str(s.view)]))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
