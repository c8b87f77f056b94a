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
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import re
import shutil
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from norwoodkit.atomic import write_text_atomic
from norwoodkit.dataset import Dataset
from norwoodkit.errors import InputError, OutputError
from norwoodkit.findings import Finding, finding
from norwoodkit.labels import VIEWS, id_sort_key
from norwoodkit.parallel import pool_context, resolve_workers
from norwoodkit.split.assignment import Assignment

#: Bumped when the shard layout changes; part of every shard's identity key.
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
STATE_DIR = ".norwoodkit-pack"
STAGE_NAMES = tuple(f"stage_{i}" for i in range(1, 8))
#: Reader counts that shard counts should divide when sizes allow (GPUs x workers).
READER_COUNTS = (8, 4, 2)
MIN_SHARD_BYTES = 64 * 1024
SHARD_BYTES_RANGE = (64 * 2**20, 256 * 2**20)


class Layout(StrEnum):
    """One row per image, or one row per subject with a column per view."""

    IMAGE = "image"
    SUBJECT = "subject"


@dataclass(frozen=True)
class PackOptions:
    """How to pack.

    Attributes:
        layout: ``image`` (one row per image) or ``subject`` (five image columns per row).
        shard_size: target shard size in bytes (64-256 MB recommended; at least 64 KiB).
        rows_per_group: rows per row group (image layout; subjects are never split, so groups
            hold whole subjects: 20 rows = 4 subjects). In subject layout, subjects per group.
        seed: shuffles subjects before writing (same seed, same shards).
        resize: store a copy re-encoded with this short side (EXIF orientation applied);
            None stores the original bytes.
        quality: JPEG quality of resized copies.
        workers: processes for re-encoding; None: one per core.
    """

    layout: Layout = Layout.IMAGE
    shard_size: int = 128 * 2**20
    rows_per_group: int = 20
    seed: int = 0
    resize: int | None = None
    quality: int = 90
    workers: int | None = None

    def __post_init__(self) -> None:
        if self.shard_size < MIN_SHARD_BYTES:
            raise InputError(
                f"--shard-size {self.shard_size}: use at least 64KiB (64-256MB is "
                "right for training)",
                code="usage",
            )
        if self.rows_per_group < 1:
            raise InputError("--rows-per-group must be at least 1", code="usage")
        if self.resize is not None and not 16 <= self.resize <= 8192:
            raise InputError(
                f"--resize {self.resize}: use a short side from 16 to 8192 pixels", code="usage"
            )
        if not 1 <= self.quality <= 100:
            raise InputError(f"--quality {self.quality}: use 1..100", code="usage")


def parse_size(text: str) -> int:
    """``128MB``, ``1MiB``, ``500k``, ``1048576`` -> bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*", text.lower())
    if not m:
        raise InputError(f"--shard-size {text!r}: write e.g. 128MB, 256MiB or 500k", code="usage")
    power = " kmgt".index(m.group(2) or " ")
    base = 1024 if m.group(3) else 1000  # MiB = 2^20 bytes, MB = 10^6
    return int(float(m.group(1)) * base**power)


# --------------------------------------------------------------------------- plan


@dataclass(frozen=True, eq=False)
class ShardPlan:
    """One shard to write: its split, file name and rows (in order, grouped into row groups).

    ``positions`` are row positions in the packed table (``prepare_table``), not a copy of the
    rows: a plan for 24,000 images costs a few hundred kilobytes, whatever the columns.
    """

    split: str
    index: int
    count: int
    positions: np.ndarray  # row positions in the packed table, one per image, subjects contiguous
    groups: tuple[tuple[int, int], ...]  # ranges [start, end) of ``positions``, one per row group

    @property
    def relpath(self) -> str:
        return f"{self.split}/{self.split}-{self.index:05d}-of-{self.count:05d}.parquet"

    def rows(self, table: pd.DataFrame) -> pd.DataFrame:
        """This shard's rows of the packed table, in write order."""
        return table.iloc[self.positions]

    def key(self, table: pd.DataFrame, options: PackOptions) -> str:
        """Identity of the shard's content: same key, same bytes (used by resume)."""
        h = hashlib.sha256()
        h.update(
            json.dumps(
                {
                    "format": FORMAT_VERSION,
                    "layout": options.layout.value,
                    "resize": options.resize,
                    "quality": options.quality,
                    "groups": self.groups,
                    "path": self.relpath,
                }
            ).encode()
        )
        _hash_rows(h, self.rows(table), ["path", "sha256", "label", "split"], end=b"")
        return h.hexdigest()


def _hash_rows(h: Any, rows: pd.DataFrame, columns: list[str], end: bytes) -> None:
    """Feed each row's values (NUL-separated, then ``end``) to ``h``, a thousand rows at a time."""
    for start in range(0, len(rows), 1000):
        chunk = rows.iloc[start : start + 1000][columns]
        for row in chunk.itertuples(index=False):
            h.update("\0".join(map(str, row)).encode() + end)


def _shard_count(total_bytes: int, target: int) -> int:
    n = max(1, math.ceil(total_bytes / target))
    if n == 1:
        return 1
    for readers in READER_COUNTS:
        rounded = math.ceil(n / readers) * readers
        if total_bytes / rounded >= min(SHARD_BYTES_RANGE[0], target / 2):
            return rounded
    return n


def plan(table: pd.DataFrame, options: PackOptions) -> list[ShardPlan]:
    """Cut each split's shuffled subjects into shards of about ``shard_size`` bytes."""
    out: list[ShardPlan] = []
    per_group = (
        max(1, options.rows_per_group // len(VIEWS))
        if options.layout is Layout.IMAGE
        else options.rows_per_group
    )
    view_rank = {v.value: i for i, v in enumerate(VIEWS)}
    for split in _split_order(table["split"]):
        where = np.flatnonzero((table["split"] == split).to_numpy(dtype=bool))
        part = table.iloc[where][["subject_id", "view", "path", "est_bytes"]]
        subjects = sorted(part["subject_id"].unique(), key=id_sort_key)
        rng = np.random.default_rng([options.seed, zlib.crc32(split.encode())])
        order = [subjects[i] for i in rng.permutation(len(subjects))]
        rank = {s: i for i, s in enumerate(order)}
        sizes = part.groupby("subject_id")["est_bytes"].sum()
        total = int(sizes.sum())
        n = min(_shard_count(total, options.shard_size), len(order))
        cuts = np.searchsorted(
            np.cumsum([sizes[s] for s in order]), [total * k / n for k in range(1, n)], side="left"
        )
        bounds = [0, *[int(c) + 1 for c in cuts], len(order)]
        bounds = sorted(set(min(b, len(order)) for b in bounds))
        # Write order: shuffled subjects, each subject's views in VIEWS order, then by path.
        ranks = part["subject_id"].map(rank).to_numpy(dtype=np.int64)
        views = part["view"].map(view_rank).to_numpy(dtype=np.int64)
        paths = part["path"].to_numpy(dtype=object)
        by = np.lexsort((paths, views, ranks))
        positions, ranks = where[by], ranks[by]
        edges = np.searchsorted(ranks, bounds, side="left")
        spans = [(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]
        for index, (a, b) in enumerate(spans):
            groups = _row_groups(ranks[a:b], per_group)
            out.append(ShardPlan(split, index, len(spans), positions[a:b], groups))
    return out


def _row_groups(subjects: np.ndarray, per_group: int) -> tuple[tuple[int, int], ...]:
    """Ranges of a shard's rows holding ``per_group`` whole subjects each.

    ``subjects`` labels each row with its subject (contiguous). In subject layout the writer
    turns each subject's image rows into one row, so ``per_group`` subjects make that many rows.
    """
    starts = [0, *(np.flatnonzero(subjects[1:] != subjects[:-1]) + 1).tolist(), len(subjects)]
    return tuple(
        (starts[g], starts[min(g + per_group, len(starts) - 1)])
        for g in range(0, len(starts) - 1, per_group)
    )


def _split_order(splits: pd.Series) -> list[str]:
    known = ["train", "val", "validation", "test", "all"]
    values = list(dict.fromkeys(splits.astype(str)))
    return sorted(values, key=lambda s: (known.index(s) if s in known else len(known), s))


# --------------------------------------------------------------------------- images


def prepare_images(
    root: str, paths: Sequence[str], resize: int | None, quality: int
) -> list[bytes]:
    """The bytes to store for each path: the file itself, or a resized upright JPEG copy.

    The pure unit of work that a pool (or a cluster) maps; it writes nothing.
    """
    out = []
    for p in paths:
        with open(os.path.join(root, p), "rb") as fh:
            data = fh.read()
        out.append(data if resize is None else _resized(data, resize, quality))
    return out


def _resized(data: bytes, short_side: int, quality: int) -> bytes:
    import io

    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as im:
        w, h = im.size
        scale = short_side / min(w, h)
        if im.format == "JPEG" and scale < 1:
            # DCT scaling makes the decode cheap; the final resize below sets the exact size.
            im.draft("RGB", (math.ceil(w * scale), math.ceil(h * scale)))
        upright = ImageOps.exif_transpose(im.convert("RGB") if im.mode != "RGB" else im)
        uw, uh = upright.size
        s = short_side / min(uw, uh)
        size = (max(1, round(uw * s)), max(1, round(uh * s)))
        if size != upright.size:
            upright = upright.resize(size, Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        upright.convert("RGB").save(buf, "JPEG", quality=quality, optimize=False)
        return buf.getvalue()


# --------------------------------------------------------------------------- schema


_META_TYPES = {
    "subject_id": "string",
    "view": "string",
    "stage": "int64",
    "stage_variant": "string",
    "age": "int64",
    "gender": "string",
    "ethnicity": "string",
    "sha256": "string",
    "size": "int64",
    "width": "int64",
    "height": "int64",
    "orientation": "int64",
    "split": "string",
}
_VIEW_META = ("view", "sha256", "size", "width", "height", "orientation")


def _arrow_schema(layout: Layout) -> Any:
    import pyarrow as pa

    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    fields: list[Any] = []
    features: dict[str, Any] = {}
    if layout is Layout.IMAGE:
        fields.append(pa.field("image", image))
        features["image"] = {"_type": "Image"}
        meta = list(_META_TYPES)
    else:
        for v in VIEWS:
            fields.append(pa.field(f"image_{v.value}", image))
            features[f"image_{v.value}"] = {"_type": "Image"}
        meta = [c for c in _META_TYPES if c not in _VIEW_META]
        meta += [f"{c}_{v.value}" for v in VIEWS for c in _VIEW_META if c != "view"]
    fields.append(pa.field("label", pa.int64()))
    features["label"] = {"names": list(STAGE_NAMES), "_type": "ClassLabel"}
    for name in meta:
        dtype = _META_TYPES[name.rsplit("_", 1)[0] if name not in _META_TYPES else name]
        fields.append(pa.field(name, _arrow_type(dtype)))
        features[name] = {"dtype": dtype, "_type": "Value"}
    hf = json.dumps({"info": {"features": features}})
    return pa.schema(fields, metadata={b"huggingface": hf.encode()}), features


def _image_columns(layout: Layout) -> list[str]:
    if layout is Layout.IMAGE:
        return ["image"]
    return [f"image_{v.value}" for v in VIEWS]


# --------------------------------------------------------------------------- write


@dataclass
class PackResult:
    """What ``write`` did: the manifest it wrote, shards skipped by resume, notes."""

    out: Path
    manifest: dict[str, Any]
    skipped: list[str] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document."""
        splits = {
            name: {k: v for k, v in s.items() if k != "shards"}
            for name, s in self.manifest["splits"].items()
        }
        return {
            "out": str(self.out),
            "rows": self.manifest["rows"],
            "splits": splits,
            "shards": sum(len(s["shards"]) for s in self.manifest["splits"].values()),
            "resumed_shards": self.skipped,
            "excluded": self.manifest["excluded"],
            "notes": [n.to_dict() for n in self.notes],
        }


#: Columns of the dataset table that packing reads.
PACK_INPUT_COLUMNS = (
    "path",
    "subject_id",
    "view",
    "stage",
    "stage_variant",
    "age",
    "gender",
    "ethnicity",
    "status",
    "sha256",
    "size",
    "width",
    "height",
    "orientation",
)


def pack_input(dataset: Dataset) -> Dataset:
    """The dataset with only the columns packing reads.

    ``write`` needs nothing else; a caller that hands over its only reference (the CLI does)
    lets the probe's hashes and thumbnails be freed before the first shard is written.
    """
    return dataset.with_table(
        dataset.table[[c for c in PACK_INPUT_COLUMNS if c in dataset.table.columns]]
    )


def prepare_table(
    dataset: Dataset,
    splits: Assignment | pd.DataFrame | None = None,
    exclude: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """The rows to pack (one per image, with split and label) and what was left out, and why.

    Raises:
        InputError: the split file does not match the dataset (lists the mismatches).
    """
    t = pack_input(dataset).images.copy()
    excluded: list[dict[str, Any]] = []
    from norwoodkit.dedupe import excluded as excluded_rows

    drop = excluded_rows(t, exclude)
    excluded += [
        {"path": p, "subject_id": s, "reason": "in the exclude list"}
        for p, s in zip(t.loc[drop, "path"], t.loc[drop, "subject_id"], strict=True)
    ]
    t = t[~drop]
    bad = t["status"] != "ok"
    excluded += [
        {"path": p, "subject_id": s, "reason": f"unusable image ({st})"}
        for p, s, st in zip(
            t.loc[bad, "path"], t.loc[bad, "subject_id"], t.loc[bad, "status"], strict=True
        )
    ]
    t = t[~bad]
    nostage = t["stage"].isna()
    excluded += [
        {"path": p, "subject_id": s, "reason": "no valid Norwood stage (no label)"}
        for p, s in zip(t.loc[nostage, "path"], t.loc[nostage, "subject_id"], strict=True)
    ]
    t = t[~nostage]
    noview = t["view"].isna()
    excluded += [
        {"path": p, "subject_id": s, "reason": "file name is not a view"}
        for p, s in zip(t.loc[noview, "path"], t.loc[noview, "subject_id"], strict=True)
    ]
    t = t[~noview].copy()
    t["subject_id"] = t["subject_id"].astype(str)
    if splits is None:
        t["split"] = "all"
    else:
        t["split"] = _match_splits(t, splits, excluded)
    t["label"] = t["stage"].astype("int64") - 1
    t["est_bytes"] = t["size"].astype("int64")
    return t.reset_index(drop=True), excluded


def _match_splits(
    t: pd.DataFrame, splits: Assignment | pd.DataFrame, excluded: list[dict[str, Any]]
) -> pd.Series:
    assignment = Assignment.of(splits)
    listed = set(assignment.subjects)
    have = set(t["subject_id"])
    gone = {e["subject_id"] for e in excluded}
    unknown = sorted(listed - have - gone, key=id_sort_key)
    missing = sorted(have - listed, key=id_sort_key)
    problems = []
    if unknown:
        problems.append(f"{len(unknown)} subject(s) not in the dataset: {_few(unknown)}")
    if missing:
        problems.append(f"{len(missing)} dataset subject(s) in no split: {_few(missing)}")
    if problems:
        raise InputError(
            "the split file does not match the dataset: "
            + "; ".join(problems)
            + "; make the split file from this dataset (norwoodkit split)",
            code="split-mismatch",
        )
    return t["subject_id"].map(assignment.to_dict())


def _few(ids: Sequence[str], limit: int = 8) -> str:
    ids = list(ids)
    return ", ".join(map(str, ids[:limit])) + (
        f" and {len(ids) - limit} more" if len(ids) > limit else ""
    )


def _check_out(out: Path, root: Path, overwrite: bool, resume: bool) -> None:
    real_out, real_root = os.path.realpath(out), os.path.realpath(root)
    if real_out == real_root or real_out.startswith(real_root.rstrip(os.sep) + os.sep):
        raise OutputError(
            f"--out {out}: inside the dataset folder {root}; write the shards "
            "somewhere else (norwoodkit never writes into a dataset)",
            code="output-inside-dataset",
        )
    if not out.parent.is_dir():
        raise OutputError(
            f"--out {out}: folder {out.parent} does not exist; create it first",
            code="output-parent-missing",
        )
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out}: is a file; give a folder", code="output-is-file")
    if out.is_dir() and any(out.iterdir()) and not (overwrite or resume):
        raise OutputError(
            f"--out {out}: exists and is not empty; pass --resume to finish an "
            "interrupted pack, --overwrite to replace earlier shards (other files "
            "are left alone), or choose a new folder",
            code="output-exists",
        )


def _stage_counts(rows: pd.DataFrame) -> dict[str, int]:
    counts = rows.groupby("stage")["subject_id"].nunique()
    return {STAGE_NAMES[_int(s) - 1]: _int(c) for s, c in counts.items()}


def _int(v: Any) -> int:
    return int(v)


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write(
    dataset: Dataset,
    out: str | os.PathLike[str],
    options: PackOptions | None = None,
    *,
    splits: Assignment | pd.DataFrame | None = None,
    exclude: pd.DataFrame | None = None,
    overwrite: bool = False,
    resume: bool = False,
    progress: Callable[[int], None] | None = None,
) -> PackResult:
    """Pack a probed dataset (see ``probe.run``) into Parquet shards under ``out``.

    Args:
        dataset: a probed Dataset.
        out: the output folder (created; must not be inside the dataset).
        options: layout, shard size, row groups, seed, resize.
        splits: subject -> split: an Assignment (``split.read_assignment``, a ``SplitResult``'s
            ``assignment``) or a table with ``subject_id`` and ``split`` columns; None: one
            ``all/`` folder.
        exclude: an exclude list (``path``/``subject_id``) from dedupe.
        overwrite: replace earlier shards in ``out`` (files that are not ours stay).
        resume: keep shards of an interrupted run that are complete and identical.
        progress: called with the number of images written.

    Raises:
        InputError: split file mismatch, nothing to pack.
        OutputError: a refused output folder, or a write that failed (disk full); no partial
            shard is left behind.
    """
    opts = options or PackOptions()
    target = Path(out)
    _check_out(target, dataset.root, overwrite, resume)
    table, excluded = prepare_table(dataset, splits, exclude)
    if table.empty:
        raise InputError(
            f"{dataset.root}: nothing to pack (every image was excluded)", code="empty-dataset"
        )
    if opts.resize is not None:
        # Resized JPEGs: about 0.25 bytes per pixel at quality 90, short side x 4/3.
        table["est_bytes"] = int(opts.resize * opts.resize * 4 / 3 * 0.25)
    shards = plan(table, opts)
    target.mkdir(exist_ok=True)
    state = target / STATE_DIR
    state.mkdir(exist_ok=True)
    _remove_stale_temporaries(target)
    done = _load_done(target, state) if resume else {}
    if overwrite and not resume:
        _remove_our_shards(target)
    schema, features = _arrow_schema(opts.layout)
    source = _source_rows(table)
    records: dict[str, dict[str, Any]] = {}
    skipped: list[str] = []
    pool: ProcessPoolExecutor | None = None
    workers = resolve_workers(opts.workers)
    if opts.resize is not None and workers > 1:
        pool = ProcessPoolExecutor(workers, mp_context=pool_context())
    try:
        for shard in shards:
            key = shard.key(table, opts)
            path = target / shard.relpath
            prev = done.get(shard.relpath)
            if (
                prev
                and prev["key"] == key
                and path.is_file()
                and _file_sha256(path) == prev["sha256"]
            ):
                records[shard.relpath] = prev
                skipped.append(shard.relpath)
                if progress:
                    progress(len(shard.positions))
                continue
            record = _write_shard(
                dataset.root, target, source, table, shard, opts, schema, pool, progress
            )
            record["key"] = key
            records[shard.relpath] = record
            write_text_atomic(
                state / (shard.relpath.replace("/", "__") + ".json"),
                json.dumps(record, sort_keys=True),
            )
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    manifest = _manifest(dataset, table, shards, records, excluded, opts, features, schema)
    _remove_stale(target, {s.relpath for s in shards})
    write_text_atomic(target / MANIFEST, json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    write_text_atomic(target / "README.md", dataset_card(manifest))
    shutil.rmtree(state, ignore_errors=True)
    notes = [
        finding(
            "pack-excluded",
            f"{e['path']}: left out ({e['reason']})",
            subject=str(e["subject_id"]),
            path=str(e["path"]),
        )
        for e in excluded
    ]
    return PackResult(out=target, manifest=manifest, skipped=skipped, notes=notes)


def _load_done(target: Path, state: Path) -> dict[str, dict[str, Any]]:
    done: dict[str, dict[str, Any]] = {}
    manifest = target / MANIFEST
    if manifest.is_file():
        try:
            doc = json.loads(manifest.read_text())
            for s in doc.get("splits", {}).values():
                for rec in s.get("shards", []):
                    done[rec["path"]] = rec
        except (ValueError, KeyError, TypeError, AttributeError):
            pass  # a damaged manifest only means nothing can be reused
    for f in state.glob("*.json"):
        try:
            rec = json.loads(f.read_text())
            done[rec["path"]] = rec
        except (ValueError, KeyError):
            continue
    return done


def _our_shard_files(target: Path) -> list[Path]:
    pattern = re.compile(r"^(?P<split>[^/]+)-\d{5}-of-\d{5}\.parquet$")
    out = []
    for sub in target.iterdir():
        if sub.is_dir() and not sub.name.startswith("."):
            out += [
                f
                for f in sub.iterdir()
                if f.is_file() and (m := pattern.match(f.name)) and m.group("split") == sub.name
            ]
    return out


def _remove_stale_temporaries(target: Path) -> None:
    """Temporary shards of a run that was killed (they are never valid): ours only."""
    pattern = re.compile(r"^\.[^/]+-\d{5}-of-\d{5}\.parquet\.\d+\.tmp$")
    for sub in target.iterdir():
        if sub.is_dir():
            for f in sub.iterdir():
                if pattern.match(f.name):
                    f.unlink()


def _remove_our_shards(target: Path) -> None:
    for f in _our_shard_files(target):
        f.unlink()


def _remove_stale(target: Path, keep: set[str]) -> None:
    """Shards of ours that this plan no longer has (another shard count): delete them only."""
    for f in _our_shard_files(target):
        if f.relative_to(target).as_posix() not in keep:
            f.unlink()


def _row_batches(
    root: Path,
    source: Any,
    shard: ShardPlan,
    opts: PackOptions,
    pool: ProcessPoolExecutor | None,
) -> Iterator[tuple[np.ndarray, list[bytes]]]:
    """Row groups (positions in ``source``) with their image bytes; a pool works a few ahead."""
    groups = [shard.positions[a:b] for a, b in shard.groups]

    def paths(pos: np.ndarray) -> list[str]:
        return list(source.column("path").take(pos).to_pylist())

    if pool is None:
        for g in groups:
            yield g, prepare_images(str(root), paths(g), opts.resize, opts.quality)
        return
    ahead = 2 * resolve_workers(opts.workers)
    futures: dict[int, Future[list[bytes]]] = {}
    submitted = 0
    for i, g in enumerate(groups):
        while submitted <= i + ahead and submitted < len(groups):
            futures[submitted] = pool.submit(
                prepare_images, str(root), paths(groups[submitted]), opts.resize, opts.quality
            )
            submitted += 1
        yield g, futures.pop(i).result()  # popped: the bytes are freed once written


def _source_rows(table: pd.DataFrame) -> Any:
    """The packed table's columns that shards store, as one Arrow batch typed like the shards.

    Row groups are Arrow ``take``s from it: no per-row Python objects while writing.
    """
    import pyarrow as pa

    kinds = {"path": "string", "label": "int64"} | _META_TYPES
    arrays = []
    for name, kind in kinds.items():
        values = pa.array(table[name], from_pandas=True)  # chunked if pandas holds chunks
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        arrays.append(values.cast(_arrow_type(kind)))
    return pa.RecordBatch.from_arrays(arrays, names=list(kinds))


def _arrow_type(kind: str) -> Any:
    """The Arrow type of a ``_META_TYPES`` kind ("string" or "int64")."""
    import pyarrow as pa

    return pa.string() if kind == "string" else pa.int64()


def _batch(
    source: Any, positions: np.ndarray, images: list[bytes], layout: Layout, schema: Any
) -> Any:
    """One row group: the rows at ``positions`` of ``source`` with their image bytes."""
    import pyarrow as pa

    rows = source.take(pa.array(positions))
    image_type = schema.field(_image_columns(layout)[0]).type
    image = pa.StructArray.from_arrays(
        [pa.array(images, pa.binary()), rows.column("path")], fields=list(image_type)
    )
    if layout is Layout.IMAGE:
        cols = {"image": image, "label": rows.column("label")}
        cols |= {name: rows.column(name) for name in _META_TYPES}
        return pa.RecordBatch.from_arrays([cols[f.name] for f in schema], schema=schema)
    # Subject layout: a row per subject, and per view the index of its image row (null: none).
    subject = rows.column("subject_id").to_numpy(zero_copy_only=False)
    new = np.r_[True, subject[1:] != subject[:-1]]
    first = np.flatnonzero(new)
    ordinal = np.cumsum(new) - 1
    view = rows.column("view").to_numpy(zero_copy_only=False)
    cols = {"label": rows.column("label").take(first)}
    cols |= {name: rows.column(name).take(first) for name in _META_TYPES if name not in _VIEW_META}
    for v in VIEWS:
        at = np.full(len(first), -1, dtype=np.int64)
        mine = np.flatnonzero(view == v.value)
        at[ordinal[mine]] = mine  # a second file of one view: the later one, as sorted, wins
        index = pa.array(at, mask=at < 0)
        cols[f"image_{v.value}"] = image.take(index)
        for c in _VIEW_META:
            if c != "view":
                cols[f"{c}_{v.value}"] = rows.column(c).take(index)
    return pa.RecordBatch.from_arrays([cols[f.name] for f in schema], schema=schema)


def _write_shard(
    root: Path,
    target: Path,
    source: Any,
    table: pd.DataFrame,
    shard: ShardPlan,
    opts: PackOptions,
    schema: Any,
    pool: ProcessPoolExecutor | None,
    progress: Callable[[int], None] | None,
) -> dict[str, Any]:
    import pyarrow.parquet as pq

    final = target / shard.relpath
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    images = set(_image_columns(opts.layout))
    leaves = [f"{c}.bytes" for c in images] + [f"{c}.path" for c in images]
    meta = [f.name for f in schema if f.name not in images] + [f"{c}.path" for c in images]
    compression = {leaf: ("none" if leaf.endswith(".bytes") else "zstd") for leaf in leaves}
    compression.update({name: "zstd" for name in meta if "." not in name})
    try:
        with pq.ParquetWriter(
            tmp, schema, compression=compression, use_dictionary=False, write_statistics=meta
        ) as writer:
            for positions, data in _row_batches(root, source, shard, opts, pool):
                batch = _batch(source, positions, data, opts.layout, schema)
                writer.write_batch(batch, row_group_size=max(1, batch.num_rows))
                if progress:
                    progress(len(positions))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except OSError as exc:
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
    meta_rows = pq.ParquetFile(final).metadata
    rows = shard.rows(table)
    return {
        "path": shard.relpath,
        "rows": meta_rows.num_rows,
        "row_groups": meta_rows.num_row_groups,
        "images": len(rows),
        "subjects": int(rows["subject_id"].nunique()),
        "bytes": final.stat().st_size,
        "sha256": _file_sha256(final),
        "stage_counts": _stage_counts(rows),
    }


# --------------------------------------------------------------------------- manifest, card


def source_hash(table: pd.DataFrame) -> str:
    """A hash of what was packed: every path, its sha256, subject, view, label and split."""
    h = hashlib.sha256()
    order = np.argsort(table["path"].to_numpy(dtype=object), kind="stable")
    _hash_rows(
        h, table.iloc[order], ["path", "sha256", "subject_id", "view", "label", "split"], end=b"\n"
    )
    return h.hexdigest()


def _manifest(
    dataset: Dataset,
    table: pd.DataFrame,
    shards: list[ShardPlan],
    records: dict[str, dict[str, Any]],
    excluded: list[dict[str, Any]],
    opts: PackOptions,
    features: dict[str, Any],
    schema: Any,
) -> dict[str, Any]:
    from norwoodkit import __version__

    splits: dict[str, Any] = {}
    for name in _split_order(table["split"]):
        part = table[table["split"] == name]
        shard_recs = [
            {k: v for k, v in records[s.relpath].items() if k != "key"}
            | {"key": records[s.relpath]["key"]}
            for s in shards
            if s.split == name
        ]
        splits[name] = {
            "rows": sum(r["rows"] for r in shard_recs),
            "images": len(part),
            "subjects": int(part["subject_id"].nunique()),
            "stage_counts": _stage_counts(part),
            "shards": shard_recs,
        }
    options = asdict(opts)
    options["layout"] = opts.layout.value
    options.pop("workers")
    return {
        "format": "norwoodkit-shards",
        "format_version": FORMAT_VERSION,
        "norwoodkit_version": __version__,
        "layout": opts.layout.value,
        "options": options,
        "source": {
            "root": str(dataset.root),
            "table_sha256": source_hash(table),
            "images": len(table),
            "subjects": int(table["subject_id"].nunique()),
        },
        "rows": sum(s["rows"] for s in splits.values()),
        "label_names": list(STAGE_NAMES),
        "schema": {f.name: str(f.type) for f in schema},
        "features": features,
        "splits": splits,
        "excluded": excluded,
    }


def dataset_card(manifest: dict[str, Any]) -> str:
    """The README.md written beside the shards: counts, schema, how to load."""
    splits = manifest["splits"]
    yaml_files = "\n".join(
        f'      - split: {name}\n        path: "{name}/*.parquet"' for name in splits
    )
    rows = "\n".join(
        f"| {name} | {s['subjects']} | {s['rows']} | {len(s['shards'])} | "
        + ", ".join(f"{k}: {v}" for k, v in s["stage_counts"].items())
        + " |"
        for name, s in splits.items()
    )
    schema = "\n".join(f"| `{k}` | `{v}` |" for k, v in manifest["schema"].items())
    first = next(iter(splits))
    # Without splits there is one all/ folder: point data_dir at it (the folder above also
    # holds manifest.json and this card, which are not Parquet).
    data_dir = "path/to/this/folder" + ("/all" if list(splits) == ["all"] else "")
    image_col = "image" if manifest["layout"] == "image" else "image_front"
    return f"""---
configs:
  - config_name: default
    data_files:
{yaml_files}
---

# Male Hair Loss dataset: Parquet shards

Written by norwoodkit {manifest["norwoodkit_version"]} (`norwoodkit pack`, layout
`{manifest["layout"]}`, {
        "original image bytes"
        if manifest["options"]["resize"] is None
        else f"images re-encoded with short side {manifest['options']['resize']}"
    }). One row per
{"image" if manifest["layout"] == "image" else "subject (five image columns)"}; every view of a
subject is in one shard and one row group. `label` is the Norwood-Hamilton stage minus one
(class names `stage_1` .. `stage_7`); `stage` keeps the stage itself.

| split | subjects | rows | shards | subjects per stage |
|---|---|---|---|---|
{rows}

Source: {manifest["source"]["images"]} images of {manifest["source"]["subjects"]} subjects, table
hash `{manifest["source"]["table_sha256"][:16]}`. {len(manifest["excluded"])} images were left
out (see `manifest.json`, `excluded`). Check the shards with `norwoodkit verify .`.

## Load it

Hugging Face `datasets` (images come back as PIL images, `label` with its class names):

```python
from datasets import load_dataset
ds = load_dataset("parquet", data_dir="{data_dir}")
ds["{first}"][0]["{image_col}"], ds["{first}"].features["label"].names
```

pyarrow:

```python
import pyarrow.dataset as pads
table = pads.dataset("path/to/this/folder/{first}", format="parquet").to_table()
```

DuckDB:

```sql
SELECT stage, count(*) FROM 'path/to/this/folder/{first}/*.parquet' GROUP BY stage ORDER BY stage;
```

norwoodkit's PyTorch loader (`pip install 'norwoodkit[torch]'`):

```python
from norwoodkit.loader import ShardDataset
data = ShardDataset("path/to/this/folder", split="{first}")
```

## Schema

| column | type |
|---|---|
{schema}
"""


# --------------------------------------------------------------------------- verify


def read_manifest(root: str | os.PathLike[str]) -> dict[str, Any]:
    """``root/manifest.json``, checked: present, ours, not from a newer norwoodkit, well formed.

    Raises:
        InputError: codes manifest-missing, manifest-invalid, manifest-newer.
    """
    mpath = Path(root) / MANIFEST
    if not mpath.is_file():
        raise InputError(
            f"{mpath}: no manifest; is {root} a `norwoodkit pack` output folder?",
            code="manifest-missing",
        )
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
        version = int(manifest.get("format_version", 0))
        Layout(manifest["layout"])
        _ = manifest["options"]["resize"]
        for split in manifest["splits"].values():
            _ = [(s["path"], s["rows"], s["sha256"]) for s in split["shards"]]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(
            f"{mpath}: not a norwoodkit manifest ({exc})", code="manifest-invalid"
        ) from exc
    if manifest.get("format") != "norwoodkit-shards":
        raise InputError(
            f"{mpath}: format {manifest.get('format')!r} is not norwoodkit-shards",
            code="manifest-invalid",
        )
    if version > FORMAT_VERSION:
        raise InputError(
            f"{mpath}: written by a newer norwoodkit (shard format {version}; this "
            f"one reads up to {FORMAT_VERSION}); upgrade norwoodkit to read it",
            code="manifest-newer",
        )
    return dict(manifest)


def verify(
    out: str | os.PathLike[str],
    *,
    decode: bool = False,
    progress: Callable[[int], None] | None = None,
) -> list[Finding]:
    """Re-read every shard: file hash against the manifest, rows, schema, every image's bytes.

    Image bytes are checked against their ``sha256`` column (original bytes) or, for resized
    shards, decoded; ``decode`` decodes every image in any case.
    """
    import pyarrow.parquet as pq

    root = Path(out)
    manifest = read_manifest(root)
    layout = Layout(manifest["layout"])
    resized = manifest["options"]["resize"] is not None
    shards = [s for split in manifest["splits"].values() for s in split["shards"]]
    schema, _ = _arrow_schema(layout)
    found: list[Finding] = []
    listed = {s["path"] for s in shards}
    for f in _our_shard_files(root):
        rel = f.relative_to(root).as_posix()
        if rel not in listed:
            found.append(
                finding(
                    "shard-unlisted",
                    f"{rel}: a shard that manifest.json does not list; delete it or pack again",
                    path=rel,
                )
            )
    for s in shards:
        path = root / s["path"]
        if not path.is_file():
            found.append(
                finding(
                    "shard-missing",
                    f"{s['path']}: listed in manifest.json but missing; pack again with --resume",
                    path=s["path"],
                )
            )
            continue
        if _file_sha256(path) != s["sha256"]:
            found.append(
                finding(
                    "shard-hash",
                    f"{s['path']}: sha256 differs from manifest.json "
                    "(the file changed or is corrupt); pack again with --resume",
                    path=s["path"],
                )
            )
        try:
            pf = pq.ParquetFile(path)
            if not pf.schema_arrow.equals(schema, check_metadata=False):
                found.append(
                    finding(
                        "shard-schema",
                        f"{s['path']}: schema differs from what this norwoodkit writes",
                        path=s["path"],
                    )
                )
            if pf.metadata.num_rows != s["rows"]:
                found.append(
                    finding(
                        "shard-rows",
                        f"{s['path']}: {pf.metadata.num_rows} rows, manifest says {s['rows']}",
                        path=s["path"],
                    )
                )
            for rg in range(pf.metadata.num_row_groups):
                batch = pf.read_row_group(rg).to_pylist()
                for i, row in enumerate(batch):
                    found += _check_row(row, layout, resized, decode, s["path"], rg, i)
                if progress:
                    progress(len(batch))
        except (OSError, ValueError) as exc:
            found.append(
                finding(
                    "shard-unreadable",
                    f"{s['path']}: cannot be read as Parquet ({exc}); pack again with --resume",
                    path=s["path"],
                )
            )
    return found


def _check_row(
    row: dict[str, Any],
    layout: Layout,
    resized: bool,
    decode: bool,
    shard: str,
    rg: int,
    i: int,
) -> list[Finding]:
    """Findings for one shard row: bytes against the original's sha256, or a decode."""
    import io

    from PIL import Image

    out = []
    if layout is Layout.IMAGE:
        cells = [("image", row["image"], row["sha256"])]
    else:
        cells = [
            (f"image_{v.value}", row[f"image_{v.value}"], row[f"sha256_{v.value}"]) for v in VIEWS
        ]
    for col, cell, sha in cells:
        if cell is None:
            continue
        data = cell["bytes"]
        where = (
            f"{shard} row group {rg} row {i} ({col}, subject {row['subject_id']}, {cell['path']})"
        )
        if not resized and hashlib.sha256(data).hexdigest() != sha:
            out.append(
                finding(
                    "image-hash",
                    f"{where}: bytes differ from the original's sha256; pack again",
                    subject=str(row["subject_id"]),
                    path=shard,
                )
            )
            continue
        if resized or decode:
            try:
                with Image.open(io.BytesIO(data)) as im:
                    im.load()
            except Exception as exc:  # any decoder failure is a finding, not a crash
                out.append(
                    finding(
                        "image-undecodable-in-shard",
                        f"{where}: cannot be decoded ({exc}); pack again",
                        subject=str(row["subject_id"]),
                        path=shard,
                    )
                )
    return out
