"""pack's shards on Ray: one task per shard of the plan, each writing its file as ``Job`` does.

The driver makes the plan (``pack.plan``), keeps shards an earlier run finished, and writes the
records, the card and the manifest; each task gets its shard's rows of the packed table and
calls the local writer (``Job.write_shard``) on them, so the file's bytes are those the local
engine writes. A task writes the shard straight into the output folder (a temporary name,
renamed when complete): on a local instance that is this machine's disk; on a cluster of several
nodes the output folder must be at the same path on every node (a shared file system).

A worker that dies (killed, out of memory) is retried by Ray up to ``MAX_RETRIES`` times; its
half-written temporary file is removed once the tasks are done. Past the retries the pack stops
with an error and no manifest, so nothing reads as a complete pack; ``--resume`` keeps the shards
that were finished.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from norwoodkit.engine import connect
from norwoodkit.errors import NorwoodkitError, OutputError
from norwoodkit.pack.layout import TEMP_NAME
from norwoodkit.pack.options import PackOptions
from norwoodkit.pack.plan import ShardPlan
from norwoodkit.pack.write import Job

__all__ = ["DIE_HOOK", "MAX_RETRIES", "write_shards"]

#: How many times Ray starts a shard's task again after its worker died.
MAX_RETRIES = 3

#: For tests only: ``N:FOLDER`` makes the first N task attempts (counted by files made in
#: FOLDER) exit their worker abruptly, as a killed worker would. Read by the driver when it
#: submits the tasks, so the workers need not see it; unset, nothing happens.
DIE_HOOK = "NORWOODKIT_TEST_RAY_DIE"


def write_shards(job: Job, shards: list[ShardPlan]) -> Iterator[tuple[ShardPlan, dict[str, Any]]]:
    """Write ``shards`` as Ray tasks; yield each with its record as its task finishes.

    Raises:
        RayMissingError, RayUnreachableError: from ``engine.connect``.
        OutputError: a shard's write failed (as the local writer says it), or its task's
            worker died more than ``MAX_RETRIES`` times.
    """
    if not shards:
        return
    ray = connect(job.engine)
    task = ray.remote(num_cpus=1, max_retries=MAX_RETRIES)(_write_one)
    hook = os.environ.get(DIE_HOOK)
    refs = {
        task.remote(str(job.root), str(job.target), *_alone(job.table, s), job.opts, hook): s
        for s in shards
    }
    try:
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            shard = refs[ready[0]]
            record = _result(ray, ready[0], shard, job.target)
            if job.progress:
                job.progress(len(shard.positions))
            yield shard, record
    except BaseException:  # an error, Ctrl-C or the caller stopping: no task left running
        for ref in refs:
            with contextlib.suppress(Exception):
                ray.cancel(ref)
        raise
    finally:
        _remove_temporaries(job.target, shards)


def _alone(table: pd.DataFrame, shard: ShardPlan) -> tuple[pd.DataFrame, ShardPlan]:
    """The shard's rows on their own, and the shard re-planned over them (same groups)."""
    rows = table.iloc[shard.positions]
    local = np.arange(len(shard.positions))
    return rows, ShardPlan(shard.split, shard.index, shard.count, local, shard.groups)


def _result(ray: Any, ref: Any, shard: ShardPlan, target: Path) -> dict[str, Any]:
    """A finished task's record; its failure as the error the local writer would raise."""
    try:
        record: dict[str, Any] = ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, NorwoodkitError):
            raise exc.cause from None
        raise
    except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError) as exc:
        raise OutputError(
            f"{target / shard.relpath}: the Ray worker writing it died {MAX_RETRIES + 1} times "
            f"({type(exc).__name__}); no manifest was written, so nothing reads as a complete "
            "pack - give the workers more memory or fix the node, then rerun with --resume",
            code="ray-worker-died",
        ) from None
    return record


def _write_one(
    root: str,
    target: str,
    rows: pd.DataFrame,
    shard: ShardPlan,
    opts: PackOptions,
    hook: str | None,
) -> dict[str, Any]:
    """A Ray task: write one shard with the local writer; its manifest record."""
    if hook is not None:
        _maybe_die(hook, Path(target) / shard.relpath)
    job = Job(Path(root), Path(target), rows, opts, None)
    return job.write_shard(shard, None)


def _maybe_die(hook: str, final: Path) -> None:
    """The test hook (``DIE_HOOK``): leave a half-written temporary and exit, N times."""
    times, _, folder = hook.partition(":")
    for attempt in range(int(times)):
        try:
            os.close(os.open(Path(folder) / f"attempt-{attempt}", os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            continue
        final.parent.mkdir(parents=True, exist_ok=True)
        final.with_name(f".{final.name}.{os.getpid()}.tmp").write_bytes(b"PAR1 half")
        os._exit(1)


def _remove_temporaries(target: Path, shards: list[ShardPlan]) -> None:
    """Temporary files of these shards left by workers that died (ours by name, regular)."""
    for shard in shards:
        final = target / shard.relpath
        if not final.parent.is_dir():
            continue
        for f in final.parent.iterdir():
            ours = f.name.startswith(f".{final.name}.") and TEMP_NAME.match(f.name)
            if ours and f.is_file() and not f.is_symlink():
                f.unlink(missing_ok=True)
