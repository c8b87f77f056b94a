"""A split's shards on disk: the manifest and footers, row groups read, rows taken out of Arrow.

The work units of an epoch are row groups (about 20 rows; a subject never straddles two), read
from the Parquet footers without touching an image. The manifest is the source of truth: a
shard it lists but that is missing, not a regular file, outside the folder or changed stops
with an ``InputError``; a shard file it does not list is never read and is logged as a warning
(``norwoodkit verify`` reports it as an error). A changed byte never reaches training
silently: original-bytes shards carry each image's sha256, which the sample maker checks
against the bytes it decodes anyway; resized shards are hashed whole against the manifest when
the split is opened. Both shard formats are read: format 2 (every shard in ``data/``) and
format 1 (a folder per split); a split may be named as the split file did (``val`` for
``validation``, fold ``0`` for ``fold_0``). Torch-free: images leave this module as bytes
through the caller's ``copy``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from norwoodkit.errors import InputError
from norwoodkit.labels import VIEWS
from norwoodkit.pack.folder import file_sha256
from norwoodkit.pack.layout import DATA_DIR, SUBJECT_STRING_COLUMNS, shard_split
from norwoodkit.pack.manifest import resolve_split, shard_problem

if TYPE_CHECKING:
    from norwoodkit.loader.cache import ShardCache

__all__ = [
    "VIEW_NAMES",
    "OpenFiles",
    "Row",
    "RowGroup",
    "ShardSplit",
    "build_split",
    "group_rows",
    "open_split",
    "split_records",
]

log = logging.getLogger(__name__)

VIEW_NAMES = tuple(v.value for v in VIEWS)
_OPEN_FILES = 8

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ShardSplit:
    """One split of a pack folder: its shards and work units (row groups), from the footers."""

    root: Path
    split: str
    layout: str
    resized: bool
    shards: tuple[str, ...]
    unit_shard: IntArray  # shard index of each unit
    unit_group: IntArray  # row group index inside its shard
    unit_rows: IntArray
    unit_start: IntArray  # global row index of the unit's first row (file order)
    upright: bool = False  # orientation "apply": photos tagged 2..8 are stored re-encoded upright
    digest: str = (
        ""  # the split's shards (manifest path, sha256, rows), hashed: ties a resume state
    )
    cache: ShardCache | None = None  # a pack read from a URL: its shards' local cache

    @property
    def units(self) -> int:
        """Work units (non-empty row groups) in the split."""
        return len(self.unit_rows)

    @property
    def rows(self) -> int:
        """Rows in the split (images, or subjects for subject-layout shards)."""
        return int(self.unit_rows.sum())

    @property
    def image_columns(self) -> tuple[str, ...]:
        """The struct columns holding image bytes: one, or one per view."""
        if self.layout == "image":
            return ("image",)
        return tuple(f"image_{v}" for v in VIEW_NAMES)

    @property
    def hash_columns(self) -> tuple[str, ...]:
        """The sha256 column of each image column; none for resized copies (it is the
        original's hash, not the stored bytes')."""
        if self.resized:
            return ()
        if self.layout == "image":
            return ("sha256",)
        return tuple(f"sha256_{v}" for v in VIEW_NAMES)

    def columns(self) -> list[str]:
        """The columns a sample is made from, in the order they are read."""
        if self.layout == "image":
            return [
                *self.image_columns,
                "label",
                "view",
                "stage",
                "age",
                *SUBJECT_STRING_COLUMNS,
                "orientation",
                *self.hash_columns,
            ]
        return [
            *self.image_columns,
            "label",
            "stage",
            "age",
            *SUBJECT_STRING_COLUMNS,
            *(f"orientation_{v}" for v in VIEW_NAMES),
            *self.hash_columns,
        ]

    def shard_of(self, unit: int) -> str:
        """The manifest path of the shard that holds ``unit``."""
        return self.shards[int(self.unit_shard[unit])]


def open_split(directory: str | Path, split: str) -> ShardSplit:
    """Read manifest.json and the footers of one split's shards; check they agree."""
    from norwoodkit.pack import read_manifest

    root = Path(directory)
    manifest = read_manifest(root)
    split, records = split_records(manifest, split, str(root))
    _warn_unlisted(root, split, {r["path"] for r in records})
    resized = manifest["options"]["resize"] is not None
    for rec in records:
        _check_file(root, rec, whole=resized)
    return build_split(root, manifest, split, [_group_rows(root, rec) for rec in records])


def split_records(
    manifest: Mapping[str, Any], split: str, where: str
) -> tuple[str, list[Mapping[str, Any]]]:
    """The split's name in the manifest and its shard records; refuses an unknown split."""
    splits = manifest["splits"]
    split = resolve_split(dict(manifest), split)
    if split not in splits:
        raise InputError(
            f"{where}: no split {split!r}; this pack has {', '.join(map(repr, splits))}",
            code="split-unknown",
        )
    return split, list(splits[split]["shards"])


def build_split(
    root: Path,
    manifest: Mapping[str, Any],
    split: str,
    groups: list[list[int]],
    cache: ShardCache | None = None,
) -> ShardSplit:
    """The split from its manifest and each shard's row-group sizes (``groups``, in manifest
    order); ``cache`` serves the shards of a pack read from a URL."""
    records = manifest["splits"][split]["shards"]
    shard_of: list[int] = []
    group_of: list[int] = []
    rows_of: list[int] = []
    for i, sizes in enumerate(groups):
        for g, n in enumerate(sizes):
            if n:
                shard_of.append(i)
                group_of.append(g)
                rows_of.append(n)
    rows = np.asarray(rows_of, dtype=np.int64)
    return ShardSplit(
        root=root,
        split=split,
        layout=str(manifest["layout"]),
        resized=manifest["options"]["resize"] is not None,
        shards=tuple(r["path"] for r in records),
        unit_shard=np.asarray(shard_of, dtype=np.int64),
        unit_group=np.asarray(group_of, dtype=np.int64),
        unit_rows=rows,
        unit_start=np.concatenate([[0], np.cumsum(rows)[:-1]]).astype(np.int64),
        upright=manifest["options"].get("orientation") == "apply",
        digest=_split_digest(records),
        cache=cache,
    )


def _split_digest(records: list[Mapping[str, Any]]) -> str:
    """One sha256 over the split's shard records: equal exactly when the same shards are read."""
    listed = [[r["path"], r.get("sha256"), r["rows"]] for r in records]
    return hashlib.sha256(json.dumps(listed).encode()).hexdigest()


def _warn_unlisted(root: Path, split: str, listed: set[str]) -> None:
    """Log each shard file of the split (in ``data/``, or its format 1 folder) that the
    manifest does not list."""
    files = [
        f for name in (DATA_DIR, split) if (root / name).is_dir() for f in (root / name).iterdir()
    ]
    for f in sorted(set(files)):
        rel = f"{f.parent.name}/{f.name}"
        if shard_split(rel) == split and rel not in listed:
            log.warning(
                "%s: a shard file that manifest.json does not list; it is not read "
                "(run `norwoodkit verify %s`, then delete it or pack again)",
                root / rel,
                root,
            )


def _check_file(root: Path, record: Mapping[str, Any], *, whole: bool) -> None:
    """Refuse a listed shard that is missing, a link, special or outside the folder; with
    ``whole``, also one whose sha256 differs from the manifest (one read of the file)."""
    rel = record["path"]
    problem = shard_problem(root, rel)
    if problem is not None:
        code = "shard-missing" if problem == "missing" else "shard-unreadable"
        raise InputError(
            f"{root / rel}: listed in manifest.json but {problem}; run `norwoodkit verify "
            f"{root}` and pack again with --resume",
            code=code,
        )
    if whole and _file_digest(root / rel) != record["sha256"]:
        raise InputError(
            f"{root / rel}: sha256 differs from manifest.json (the shard changed after "
            f"packing); run `norwoodkit verify {root}` and pack again with --resume",
            code="shard-hash",
        )


def _file_digest(path: Path) -> str:
    """The file's sha256, remembered for this process while its size, mtime and inode stay."""
    st = os.stat(path)
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    digest = _DIGESTS.get(key)
    if digest is None:
        try:
            digest = _DIGESTS[key] = file_sha256(path)
        except OSError as exc:
            raise _unreadable(path, exc) from exc
    return digest


#: Shard hashes already computed in this process (a loader made again does not re-read).
_DIGESTS: dict[tuple[str, int, int, int, int], str] = {}


def _unreadable(path: Path, exc: BaseException) -> InputError:
    """The error for a listed shard that cannot be read as Parquet."""
    return InputError(
        f"{path}: cannot be read as Parquet ({type(exc).__name__}: {str(exc)[:200]}); run "
        f"`norwoodkit verify {path.parent.parent}` and pack again with --resume",
        code="shard-unreadable",
    )


def _group_rows(root: Path, record: Mapping[str, Any]) -> list[int]:
    """Rows of each row group of one listed shard on disk, from its footer."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = root / record["path"]
    try:
        meta = pq.read_metadata(path)
    except (OSError, ValueError, TypeError, IndexError, pa.ArrowException) as exc:
        raise _unreadable(path, exc) from exc
    return group_rows(meta, record, str(path), str(root))


def group_rows(meta: Any, record: Mapping[str, Any], where: str, root: str) -> list[int]:
    """Rows of each row group in a shard's footer ``meta``, checked against its manifest
    ``record`` (``where``: the shard, ``root``: the pack, as messages name them)."""
    if meta.num_rows != record["rows"]:
        raise InputError(
            f"{where}: {meta.num_rows} rows, manifest.json says {record['rows']}; the shard "
            f"changed since packing: run `norwoodkit verify {root}`",
            code="shard-rows",
        )
    return [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]


@dataclass(slots=True)
class Row:
    """One row of a row group, its image bytes taken out of Arrow: what a sample is made from."""

    unit: int
    row: int
    images: list[Any]  # bytes (cpu), uint8 tensor (cuda) or None (missing view), per column
    paths: list[str]
    orientation: list[int]
    label: int
    meta: dict[str, Any]
    sha256: list[str | None]  # per image column: the original's hash (None: resized or none)


class RowGroup:
    """A row group read from a shard; image bytes are memoryview slices of the Arrow buffer."""

    def __init__(self, table: Any, split: ShardSplit) -> None:
        self.images = [_binary_views(table.column(c)) for c in split.image_columns]
        self.paths = [_struct_field(table.column(c), 1) for c in split.image_columns]
        self.hashes = [table.column(c).to_pylist() for c in split.hash_columns]
        names = [
            c
            for c in table.column_names
            if c not in split.image_columns and c not in split.hash_columns
        ]
        self.meta = {c: table.column(c).to_pylist() for c in names}
        self.layout = split.layout
        self.resized = split.resized
        self.upright = split.upright

    def row(self, unit: int, i: int, copy: Callable[[memoryview], Any]) -> Row:
        """Row ``i`` of this group, each image taken out of Arrow by ``copy``."""
        images = [None if (v := col[i]) is None else copy(v) for col in self.images]
        m = self.meta
        meta: dict[str, Any] = {c: m[c][i] or "" for c in SUBJECT_STRING_COLUMNS}
        meta["stage"] = int(m["stage"][i] or 0)
        meta["age"] = -1 if m["age"][i] is None else int(m["age"][i])
        if self.layout == "image":
            meta["view"] = m["view"][i] or ""
            orient = [m["orientation"][i]]
        else:
            orient = [m[f"orientation_{v}"][i] for v in VIEW_NAMES]
        # resized copies are stored upright; originals carry their EXIF orientation
        orientation = [1 if self.resized or self.upright or o is None else int(o) for o in orient]
        # a photo turned upright by pack is new bytes: its original's sha256 cannot check it
        sha256 = [h[i] for h in self.hashes] or [None] * len(self.images)
        if self.upright:
            sha256 = [s if o in (None, 1) else None for s, o in zip(sha256, orient, strict=True)]
        return Row(
            unit=unit,
            row=i,
            images=images,
            paths=[p[i] or "" for p in self.paths],
            orientation=orientation,
            label=int(m["label"][i]),
            meta=meta,
            sha256=sha256,
        )


def _struct_field(column: Any, index: int) -> list[Any]:
    out: list[Any] = []
    for chunk in column.chunks:
        out += chunk.flatten()[index].to_pylist()
    return out


def _binary_views(column: Any) -> list[memoryview | None]:
    """Each cell's ``bytes`` as a zero-copy slice of the Arrow data buffer (None where null)."""
    out: list[memoryview | None] = []
    for chunk in column.chunks:
        data = chunk.flatten()[0]  # the struct's validity merged into its "bytes" child
        n = len(data)
        bufs = data.buffers()
        wide = str(data.type) in ("large_binary", "large_string")
        offsets = np.frombuffer(bufs[1], dtype=np.int64 if wide else np.int32)
        offsets = offsets[data.offset : data.offset + n + 1]
        body = memoryview(bufs[2]) if bufs[2] is not None else memoryview(b"")
        valid = data.is_valid().to_numpy(zero_copy_only=False)
        bounds = offsets.tolist()
        for i in range(n):
            out.append(body[bounds[i] : bounds[i + 1]] if valid[i] else None)
    return out


class OpenFiles:
    """A few open Parquet files (an LRU), so row groups of one shard do not reparse its footer."""

    def __init__(self, split: ShardSplit) -> None:
        from norwoodkit.pack.layout import Layout, shard_schema

        self.split = split
        self.open: OrderedDict[int, Any] = OrderedDict()
        self.schema = shard_schema(Layout(split.layout))[0]

    def group(self, unit: int) -> RowGroup:
        """Read one work unit's row group (the sample columns only)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        s = int(self.split.unit_shard[unit])
        path = self._path(s)
        g = int(self.split.unit_group[unit])
        try:
            pf = self.open.pop(s, None)
            if pf is None:
                pf = pq.ParquetFile(path, page_checksum_verification=True)
                if not pf.schema_arrow.equals(self.schema, check_metadata=False):
                    pf.close()
                    raise InputError(
                        f"{path}: schema differs from what norwoodkit writes (not a shard of "
                        f"this pack, or changed since packing); run `norwoodkit verify "
                        f"{self.split.root}` and pack again with --resume",
                        code="shard-schema",
                    )
                if len(self.open) >= _OPEN_FILES:
                    _, old = self.open.popitem(last=False)
                    old.close()
            self.open[s] = pf
            table = pf.read_row_group(g, columns=self.split.columns(), use_threads=False)
        except (OSError, ValueError, TypeError, KeyError, IndexError, pa.ArrowException) as exc:
            raise _unreadable(path, exc) from exc
        return RowGroup(table, self.split)

    def _path(self, s: int) -> Path:
        """Shard ``s``'s local file; from a URL, the cached copy, held while it is open (the
        other open shard is closed first, so a reader holds one shard of a bounded cache)."""
        cache = self.split.cache
        if cache is None:
            return self.split.root / self.split.shards[s]
        for other in [k for k in self.open if k != s]:
            self.open.pop(other).close()
            cache.release(other)
        return cache.acquire(s)

    def close(self) -> None:
        """Close every open file (and let the cache evict their shards)."""
        for pf in self.open.values():
            pf.close()
        if self.split.cache is not None:
            for s in self.open:
                self.split.cache.release(s)
            self.split.cache.close()
        self.open.clear()
