"""The probe on Ray Data: ``files.probe_batch`` mapped over the paths the cache does not hold.

The same pure batch function the local pool maps runs in Ray Data's ``map_batches``; the results
come back in the paths' order (Ray Data's ``preserve_order``) as Arrow tables typed like the cache,
and ``runner.ProbeStream`` writes them into the table and the cache exactly as it does the local
pool's. Ray's workers read the files by the same path as the driver: a local instance, or a
cluster whose nodes all mount the dataset at that path.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from norwoodkit.columns import PROBE_COLUMNS
from norwoodkit.engine import EngineChoice, connect

__all__ = ["RAY_BATCH_SIZE", "probe_batch_arrow", "probe_stream"]

#: Paths per Ray Data batch: each costs a task's scheduling (milliseconds), so more than the
#: local pool's 16; small enough that two CPUs still share a 2,400-image dataset evenly.
RAY_BATCH_SIZE = 64


def probe_batch_arrow(batch: Any, root: str) -> Any:
    """A Ray Data batch (an Arrow table with ``path``) to its probe rows as an Arrow table.

    ``path`` and every probe column, typed as the cache types them, so nothing is inferred
    from the values (a column of nulls stays a string column).
    """
    import pyarrow as pa

    from norwoodkit.probe import cache
    from norwoodkit.probe.files import init_worker, probe_batch

    init_worker()  # a Ray worker is no pool worker: refuse truncated images here as well
    paths = batch.column("path").to_pylist()
    rows = probe_batch(root, paths)
    schema = cache.cache_schema()
    names = ["path", *(c.name for c in PROBE_COLUMNS)]
    arrays = [batch.column("path").cast(pa.string())]
    arrays += [pa.array([r.get(n) for r in rows], schema.field(n).type) for n in names[1:]]
    return pa.Table.from_arrays(arrays, names=names)


def probe_stream(
    choice: EngineChoice, root: Path, paths: Sequence[str], workers: int | None
) -> Iterator[tuple[int, int, list[dict[str, Any]]]]:
    """Probe ``paths`` on Ray, yielding ``(start, end, results)`` in order as they arrive.

    ``workers`` caps the batches probed at once (None: as many as the cluster's CPUs allow).

    Raises:
        RayMissingError, RayUnreachableError: from ``engine.connect``.
    """
    connect(choice)
    import pyarrow as pa
    import ray.data

    ds = ray.data.from_arrow(pa.table({"path": pa.array(list(paths), pa.string())}))
    # A Dataset takes a copy of the context when made: these settings stay with this one.
    ds.context.execution_options.preserve_order = True
    ds.context.enable_progress_bars = False
    ds.context.print_on_execution_start = False
    mapped = ds.map_batches(
        functools.partial(probe_batch_arrow, root=str(root)),
        batch_size=RAY_BATCH_SIZE,
        batch_format="pyarrow",
        concurrency=workers,
        zero_copy_batch=True,
    )
    start = 0
    with _quiet_ray_data():
        batches: Iterable[Any] = mapped.iter_batches(batch_size=None, batch_format="pyarrow")
        for table in batches:
            end = start + table.num_rows
            if table.column("path").to_pylist() != list(paths[start:end]):
                raise RuntimeError(f"ray: probe results out of order at row {start}")  # a bug
            yield start, end, table.drop_columns(["path"]).to_pylist()
            start = end
    if start != len(paths):
        raise RuntimeError(f"ray: {len(paths) - start} probe results missing")  # a bug


@contextlib.contextmanager
def _quiet_ray_data() -> Iterator[None]:
    """Ray Data's notices (an execution started or finished, its progress bars off) stay off
    stderr, which carries our own progress bar; its warnings still show."""
    quieter = {"ray.data": logging.WARNING, "ray.data._internal.progress": logging.ERROR}
    before = {name: logging.getLogger(name).level for name in quieter}
    for name, level in quieter.items():
        logging.getLogger(name).setLevel(level)
    try:
        yield
    finally:
        for name, level in before.items():
            logging.getLogger(name).setLevel(level)
