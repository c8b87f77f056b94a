"""write: a probed dataset into shards, row group by row group, then the manifest and the card.

Every shard goes to ``data/<split>-NNNNN-of-NNNNN.parquet`` under the split's Hub name
(``pack.hub``), so the folder is a Hub dataset repository as written.

Each shard goes to a temporary name and is renamed when complete; a record of every finished
shard lets ``resume`` skip shards that are complete and identical. With ``resize``, a process
pool re-encodes a few row groups ahead; original bytes need no pool (that is I/O).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from norwoodkit import interrupts, memory
from norwoodkit.atomic import write_text_atomic
from norwoodkit.dataset import ProbedDataset
from norwoodkit.engine import Engine, EngineChoice
from norwoodkit.errors import InputError, OutputError
from norwoodkit.findings import Finding, finding
from norwoodkit.pack.card import dataset_card
from norwoodkit.pack.croissant import CROISSANT, croissant_json
from norwoodkit.pack.folder import (
    check_out,
    file_sha256,
    open_folder,
    remove_leftover_temporaries,
    remove_stale,
    reusable,
    save_record,
)
from norwoodkit.pack.hub import SplitNaming, name_splits
from norwoodkit.pack.layout import CARD, MANIFEST, STATE_DIR, Layout, image_columns, shard_schema
from norwoodkit.pack.manifest import (
    build_manifest,
    read_manifest,
    split_info_record,
    stage_counts,
)
from norwoodkit.pack.options import Orientation, PackOptions
from norwoodkit.pack.plan import ShardPlan, plan
from norwoodkit.pack.rows import batch, group_images, source_rows
from norwoodkit.pack.table import prepare_table
from norwoodkit.parallel import lazy_process_pool, process_pool, resolve_workers
from norwoodkit.split.assignment import Assignment
from norwoodkit.storage import Location, is_url, locate


@dataclass
class PackResult:
    """What ``write`` did: the manifest it wrote, shards skipped by resume, notes."""

    out: Path
    manifest: dict[str, Any]
    skipped: list[str] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)
    #: The URL the pack was uploaded to (``out`` was then a staging folder, now removed).
    url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document."""
        splits = {
            name: {k: v for k, v in s.items() if k != "shards"}
            for name, s in self.manifest["splits"].items()
        }
        return {
            "out": self.url or str(self.out),
            "rows": self.manifest["rows"],
            "splits": splits,
            "shards": sum(len(s["shards"]) for s in self.manifest["splits"].values()),
            "resumed_shards": self.skipped,
            "excluded": self.manifest["excluded"],
            "notes": [n.to_dict() for n in self.notes],
        }


def write(
    dataset: ProbedDataset,
    out: str | os.PathLike[str],
    options: PackOptions | None = None,
    *,
    splits: Assignment | pd.DataFrame | None = None,
    exclude: pd.DataFrame | None = None,
    overwrite: bool = False,
    resume: bool = False,
    progress: Callable[[int], None] | None = None,
    engine: EngineChoice | None = None,
) -> PackResult:
    """Pack a probed dataset (see ``probe.run``) into Parquet shards under ``out``.

    Args:
        dataset: a probed Dataset.
        out: the output folder (created; must not be inside the dataset), or a URL (staged
            locally, then uploaded manifest last: ``remote_out``; ``resume`` is refused there).
        options: layout, shard size, row groups, seed, resize.
        splits: subject -> split: an Assignment (``split.read_assignment``, a ``SplitResult``'s
            ``assignment``) or a table with ``subject_id`` and ``split`` columns; None: one
            split, ``train``. Names are written as the Hub expects (``val`` as
            ``validation``, folds 0..k-1 as ``fold_<i>``; see ``pack.hub``). An Assignment
            read from a ``split --json`` document carries how the split was made (``info``):
            the manifest's ``split_info`` and the card state it.
        exclude: an exclude list (``path``/``subject_id``) from dedupe.
        overwrite: replace earlier shards in ``out`` (files that are not ours stay).
        resume: keep shards of an interrupted run that are complete and identical.
        progress: called with the number of images written.
        engine: where the shards are written (local processes, or a Ray task per shard; the
            same files either way); None: local.

    Raises:
        InputError: split file mismatch, a split name the Hub would reject (code
            split-name-hub), nothing to pack.
        OutputError: a refused output folder, or a write that failed (disk full); no partial
            shard is left behind.
    """
    if isinstance(out, str) and is_url(out):
        # The same pack into a local staging folder, then uploaded manifest last.
        staged = functools.partial(
            write,
            dataset,
            options=options,
            splits=splits,
            exclude=exclude,
            progress=progress,
            engine=engine,
        )
        return _write_url(out, dataset, overwrite, resume, staged)
    opts = options or PackOptions()
    target = Path(out)
    check_out(target, dataset.root, overwrite, resume)
    work = Planned.make(dataset, opts, None if splits is None else Assignment.of(splits), exclude)
    state, done = prepare_folder(target, overwrite, resume)
    job = Job(dataset.root, target, work.table, opts, progress, engine=engine or EngineChoice())
    records, skipped = job.write_all(work.shards, done, state)
    return work.finish(dataset, target, records, skipped, state)


@dataclass
class Planned:
    """A pack worked out before writing: the rows, what was left out, the names, the shards."""

    table: pd.DataFrame
    excluded: list[dict[str, Any]]
    naming: SplitNaming
    split_info: dict[str, Any] | None
    shards: list[ShardPlan]
    opts: PackOptions

    @classmethod
    def make(
        cls,
        dataset: ProbedDataset,
        opts: PackOptions,
        assignment: Assignment | None,
        exclude: pd.DataFrame | None,
    ) -> Planned:
        """The rows to pack and their shard plan (see ``write`` for what it raises)."""
        table, excluded, naming = _rows(dataset, opts, assignment, exclude)
        info = None if assignment is None else assignment.info
        split_info = None if info is None else split_info_record(info)  # its names checked now
        return cls(table, excluded, naming, split_info, plan(table, opts), opts)

    def finish(
        self,
        dataset: ProbedDataset,
        target: Path,
        records: dict[str, dict[str, Any]],
        skipped: list[str],
        state: Path,
    ) -> PackResult:
        """Write the manifest, the card and croissant.json for the shards ``records`` name."""
        schema, features = shard_schema(self.opts.layout)
        manifest = build_manifest(
            dataset,
            self.table,
            self.shards,
            records,
            self.excluded,
            self.opts,
            self.naming,
            (features, schema),
            split_info=self.split_info,
        )
        _finish(target, self.shards, manifest, state)
        return PackResult(target, manifest, skipped=skipped, notes=_notes(self.excluded))


def _finish(target: Path, shards: list[ShardPlan], manifest: dict[str, Any], state: Path) -> None:
    """Remove shards of an earlier run this one did not write, then write the card, the
    Croissant file and the manifest; the manifest, the one mark of a finished pack, last."""
    try:
        remove_stale(target, {s.relpath for s in shards})
    except OSError as exc:
        raise _folder_failed(target, exc) from exc
    write_text_atomic(target / CARD, dataset_card(manifest))
    write_text_atomic(target / CROISSANT, croissant_json(manifest))
    write_text_atomic(target / MANIFEST, json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    shutil.rmtree(state, ignore_errors=True)


def _rows(
    dataset: ProbedDataset,
    opts: PackOptions,
    splits: Assignment | None,
    exclude: pd.DataFrame | None,
) -> tuple[pd.DataFrame, list[dict[str, Any]], SplitNaming]:
    """The rows to pack with their written split names, the rows left out, and the naming."""
    naming = name_splits(None if splits is None else splits.names, source="splits")
    table, excluded = prepare_table(dataset, splits, exclude)
    table["split"] = table["split"].astype(str).map(naming.name)
    if table.empty:
        raise InputError(
            f"{dataset.root}: nothing to pack (every image was excluded)", code="empty-dataset"
        )
    if opts.resize is not None:
        # Resized JPEGs: about 0.25 bytes per pixel at quality 90, short side x 4/3.
        table["est_bytes"] = int(opts.resize * opts.resize * 4 / 3 * 0.25)
    return table, excluded, naming


def prepare_folder(
    target: Path, overwrite: bool, resume: bool
) -> tuple[Path, dict[str, dict[str, Any]]]:
    """Retire the earlier manifest, open the folder (clearing what is ours and stale), and
    remove a killed run's temporary files: the state folder and the records to reuse."""
    _retire_manifest(target)
    try:
        state, done = open_folder(target, overwrite=overwrite, resume=resume)
    except OSError as exc:
        raise _folder_failed(target, exc) from exc
    remove_leftover_temporaries(target)
    return state, done


def _retire_manifest(target: Path) -> None:
    """Remove an earlier run's manifest before any shard changes, so that no reader trusts it
    while this run works. Its shard records move to the state folder first: they stay the
    proof of which files are ours (``folder.ours``), and ``--resume`` may reuse them."""
    manifest = target / MANIFEST
    if not os.path.lexists(manifest):
        return
    if manifest.is_dir() and not manifest.is_symlink():
        raise OutputError(
            f"--out {target}: {MANIFEST} is a folder, not a pack's manifest; remove it or "
            "choose a new folder",
            code="output-exists",
        )
    if not manifest.is_symlink():
        try:
            splits = read_manifest(target)["splits"]
        except InputError:
            splits = {}  # a damaged or foreign manifest only means nothing can be reused
        state = target / STATE_DIR
        state.mkdir(exist_ok=True)
        for split in splits.values():
            for record in split["shards"]:
                if isinstance(record.get("key"), str):
                    save_record(state, record)
    manifest.unlink()


def _folder_failed(target: Path, exc: OSError) -> OutputError:
    """A failure to make, clear or tidy the output folder, naming the file it met."""
    where = exc.filename or target
    return OutputError(
        f"{where}: cannot prepare the output folder ({exc.strerror or exc}); make {target} "
        "writable or choose another --out",
        code="output-write-failed",
    )


def _notes(excluded: list[dict[str, Any]]) -> list[Finding]:
    """A ``pack-excluded`` finding for each image left out, with the reason."""
    return [
        finding(
            "pack-excluded",
            f"{e['path']}: left out ({e['reason']})",
            subject=str(e["subject_id"]),
            path=str(e["path"]),
        )
        for e in excluded
    ]


def _no_wait(positions: np.ndarray) -> None:
    """Every row is in the table already (a probed dataset)."""


@dataclass
class Job:
    """One pack run's shards: what they are made from and where they go.

    ``ready`` is called with table positions before their rows are read; pack's pipeline
    makes it wait for their probe results (and stop when a guess of the plan was wrong).
    """

    root: Path | Location
    target: Path
    table: pd.DataFrame
    opts: PackOptions
    progress: Callable[[int], None] | None
    ready: Callable[[np.ndarray], None] = _no_wait
    streamed: bool = False  # rows arrive group by group (``ready``): typed per group, not shard
    written: dict[str, dict[str, Any]] = field(default_factory=dict)
    engine: EngineChoice = field(default_factory=EngineChoice)  # where the shards are written

    def write_all(
        self, shards: list[ShardPlan], done: dict[str, dict[str, Any]], state: Path
    ) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """Write every shard not already done; every shard's record, and those kept (resume).

        Each shard written is also in ``written`` by the time the next one starts.
        """
        records: dict[str, dict[str, Any]] = {}
        skipped: list[str] = []

        def todo() -> Iterator[ShardPlan]:
            """The shards to write; those kept from an earlier run go into the records."""
            for shard in shards:
                prev = done.get(shard.relpath)
                if prev is not None:
                    self.ready(shard.positions)  # the key needs every row's sha256
                    key = shard.key(self.table, self.opts)
                    if reusable(prev, key, self.target / shard.relpath):
                        records[shard.relpath] = prev
                        skipped.append(shard.relpath)
                        if self.progress:
                            self.progress(len(shard.positions))
                        continue
                yield shard

        for shard, record in self._write(todo()):
            record["key"] = shard.key(self.table, self.opts)
            records[shard.relpath] = self.written[shard.relpath] = record
            save_record(state, record)
        return records, skipped

    def _write(self, shards: Iterator[ShardPlan]) -> Iterator[tuple[ShardPlan, dict[str, Any]]]:
        """Write each shard on this job's engine; each with its record, as it is done."""
        if self.engine.engine is Engine.ray:
            from norwoodkit.pack.ray_engine import write_shards

            yield from write_shards(self, list(shards))
            return
        with self._pool() as pool:
            for shard in shards:
                yield shard, self.write_shard(shard, pool)

    def _pool(self) -> AbstractContextManager[Executor | None]:
        """A re-encode pool with more than one worker: for ``resize``, or, started only when a
        photo needs it, for the turns of ``--orientation apply``; else none."""
        workers = resolve_workers(self.opts.workers)
        if workers <= 1:
            return nullcontext()
        if self.opts.resize is not None:
            return process_pool(workers)
        if self.opts.orientation is Orientation.APPLY:
            return lazy_process_pool(workers)
        return nullcontext()

    def write_shard(self, shard: ShardPlan, pool: Executor | None) -> dict[str, Any]:
        """Write one shard to a temporary name and rename it when complete; its record."""
        final = self.target / shard.relpath
        tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        layout = self.opts.layout
        schema, _ = shard_schema(layout)
        images = group_images(self.root, self.table, shard, self.opts, pool)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            with _parquet_writer(tmp, schema, layout) as writer:
                whole = (
                    None
                    if self.streamed
                    else source_rows(self.table.iloc[shard.positions], self.opts)
                )
                for a, b in shard.groups:
                    positions = shard.positions[a:b]
                    self.ready(positions)
                    if whole is None:  # streamed rows are typed once their probe results are in
                        source, at = (
                            source_rows(self.table.iloc[positions], self.opts),
                            np.arange(b - a),
                        )
                    else:
                        source, at = whole, np.arange(a, b)
                    rows = batch(source, at, next(images), layout, schema)
                    writer.write_batch(rows, row_group_size=max(1, rows.num_rows))
                    del rows
                    # glibc keeps a freed row group's large buffers for reuse (its mmap threshold
                    # rises after each free), so without this, peak memory grows by groups.
                    memory.trim()
                    if self.progress:
                        self.progress(len(positions))
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            interrupts.check()
            os.replace(tmp, final)
        except OSError as exc:
            with suppress(OSError):  # the folder itself may be what failed (``data`` a file)
                tmp.unlink(missing_ok=True)
            raise OutputError(
                f"{final}: writing the shard failed ({exc.strerror or exc}); nothing "
                "half-written is left - free space or fix the folder, then rerun with "
                "--resume",
                code="output-write-failed",
            ) from exc
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        finally:
            images.close()  # re-encodes not yet started are cancelled
        return _record(final, shard, self.table)


def _parquet_writer(path: Path, schema: Any, layout: Layout) -> Any:
    """A Parquet writer for a shard: image bytes stored as they are, metadata zstd.

    No dictionary pages anywhere (in small row groups they cost more to read than they save);
    statistics for everything but the image bytes.
    """
    import pyarrow.parquet as pq

    images = image_columns(layout)
    leaves = [f"{c}.bytes" for c in images] + [f"{c}.path" for c in images]
    meta = [f.name for f in schema if f.name not in images] + [f"{c}.path" for c in images]
    compression = {leaf: ("none" if leaf.endswith(".bytes") else "zstd") for leaf in leaves}
    compression.update({name: "zstd" for name in meta if "." not in name})
    # Page checksums (CRC32): a changed byte in a metadata page (a label) is caught on read;
    # image bytes are checked against their own sha256 (loader.samples).
    return pq.ParquetWriter(
        path,
        schema,
        compression=compression,
        use_dictionary=False,
        write_statistics=meta,
        write_page_checksum=True,
    )


def _write_url(
    out: str, dataset: ProbedDataset, overwrite: bool, resume: bool, staged: Callable[..., Any]
) -> PackResult:
    """``write`` to a store's URL: ``staged`` packs into a local folder, ``remote_out`` uploads."""
    from norwoodkit.remote_out import pack_to

    where = locate(out, parameter="out")
    result: PackResult = pack_to(where, dataset.root, overwrite, resume, staged)
    result.url = where.url
    return result


def _record(final: Path, shard: ShardPlan, table: pd.DataFrame) -> dict[str, Any]:
    """A written shard's manifest record (its content ``key`` is added by the caller)."""
    import pyarrow.parquet as pq

    meta_rows = pq.ParquetFile(final).metadata
    rows = shard.rows(table)
    return {
        "path": shard.relpath,
        "rows": meta_rows.num_rows,
        "row_groups": meta_rows.num_row_groups,
        "images": len(rows),
        "subjects": int(rows["subject_id"].nunique()),
        "bytes": final.stat().st_size,
        "sha256": file_sha256(final),
        "stage_counts": stage_counts(rows),
    }
