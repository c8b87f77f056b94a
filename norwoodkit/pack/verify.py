"""verify: re-read a pack folder against its manifest; every problem is a finding.

Each shard's file hash, row count and schema, every stored image's bytes against the original's
sha256 (or a decode, for resized copies), and shard files the manifest does not list. A format 1
folder (a folder per split) passes the same checks and gets a ``pack-format-old`` warning that
says how to rewrite it as a Hub dataset repository.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from norwoodkit.findings import Finding, finding
from norwoodkit.labels import VIEWS
from norwoodkit.pack.folder import file_sha256, our_shard_files
from norwoodkit.pack.layout import FORMAT_VERSION, Layout, shard_schema
from norwoodkit.pack.manifest import read_manifest, shard_problem
from norwoodkit.storage import is_url, locate

#: What pyarrow raises for a file that is not (or no longer) valid Parquet: its own errors
#: derive from these (ArrowInvalid is a ValueError, ArrowIOError an OSError, ...).
_READ_ERRORS = (
    OSError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    NotImplementedError,
    MemoryError,
)


def verify(
    out: str | os.PathLike[str],
    *,
    decode: bool = False,
    progress: Callable[[int], None] | None = None,
) -> list[Finding]:
    """Re-read every shard: file hash against the manifest, rows, schema, every image's bytes.

    Image bytes are checked against their ``sha256`` column (original bytes) or, for resized
    shards, decoded; ``decode`` decodes every image in any case. ``out`` may be a URL: the
    pack is copied to a temporary folder and that copy checked (``remote_out.fetched_pack``).

    Raises:
        InputError: no manifest, or one that is not ours or from a newer norwoodkit.
        StorageError: the store refused a read of a pack at a URL.
    """
    if isinstance(out, str) and is_url(out):
        from norwoodkit.remote_out import fetched_pack

        with fetched_pack(locate(out, parameter="out")) as local:
            return verify(local, decode=decode, progress=progress)
    root = Path(out)
    manifest = read_manifest(root)
    layout = Layout(manifest["layout"])
    check = _RowCheck(layout, manifest["options"]["resize"] is not None, decode)
    check.upright = manifest["options"].get("orientation") == "apply"
    shards = [s for split in manifest["splits"].values() for s in split["shards"]]
    found = _unlisted(root, {s["path"] for s in shards}) + _old_format(manifest)
    for s in shards:
        file_findings, readable = _check_file(root, s)
        found += file_findings
        if readable:
            found += _read_shard(root / s["path"], s, check, progress)
    return found


def _old_format(manifest: dict[str, Any]) -> list[Finding]:
    """A warning for a manifest older than ``FORMAT_VERSION``, with what rewriting changes."""
    version = manifest["format_version"]
    if version >= FORMAT_VERSION:
        return []
    message = (
        f"manifest.json: shard format {version}, readable but not a Hub dataset repository "
        "(one folder per split; `load_dataset` may fail or drop splits); to rewrite it, run "
        "`norwoodkit pack` again with the same dataset and --splits file into a new --out "
        "folder (or this one with --overwrite): shards move to "
        "data/<split>-NNNNN-of-NNNNN.parquet, `all` becomes `train`, `val` becomes "
        "`validation`, folds become `fold_<i>` with one config each, and README.md lists "
        "the configs"
    )
    return [finding("pack-format-old", message, path="manifest.json")]


def _check_file(root: Path, record: dict[str, Any]) -> tuple[list[Finding], bool]:
    """Findings on a listed shard as a file (kind, place, sha256), and whether to read it."""
    rel = record["path"]
    problem = shard_problem(root, rel)
    if problem is not None:
        # never opened: a link or a special file could lead out of the folder or hang
        code = "shard-missing" if problem == "missing" else "shard-unreadable"
        message = f"{rel}: listed in manifest.json but {problem}; pack again with --resume"
        return [finding(code, message, path=rel)], False
    try:
        digest = file_sha256(root / rel)
    except OSError as exc:
        message = (
            f"{rel}: cannot be read ({exc.strerror}); fix its permissions or pack again "
            "with --resume"
        )
        return [finding("shard-unreadable", message, path=rel)], False
    if digest != record["sha256"]:
        message = (
            f"{rel}: sha256 differs from manifest.json (the file changed or is corrupt); "
            "pack again with --resume"
        )
        return [finding("shard-hash", message, path=rel)], True
    return [], True


def _unlisted(root: Path, listed: set[str]) -> list[Finding]:
    """A finding for each of our shard files that the manifest does not list."""
    found = []
    for f in our_shard_files(root):
        rel = f.relative_to(root).as_posix()
        if rel not in listed:
            found.append(
                finding(
                    "shard-unlisted",
                    f"{rel}: a shard that manifest.json does not list; delete it or pack again",
                    path=rel,
                )
            )
    return found


def _read_shard(
    path: Path,
    record: dict[str, Any],
    check: _RowCheck,
    progress: Callable[[int], None] | None,
) -> list[Finding]:
    """Findings from reading one shard: its schema, row count and every row's images."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rel = record["path"]
    found: list[Finding] = []
    try:
        pf = pq.ParquetFile(path)
        if not pf.schema_arrow.equals(check.schema, check_metadata=False):
            # rows of another shape cannot be checked cell by cell: the schema is the finding
            return [
                finding(
                    "shard-schema",
                    f"{rel}: schema differs from what this norwoodkit writes (not a shard "
                    "of this pack, or changed since packing); pack again with --resume",
                    path=rel,
                )
            ]
        if pf.metadata.num_rows != record["rows"]:
            found.append(
                finding(
                    "shard-rows",
                    f"{rel}: {pf.metadata.num_rows} rows, manifest says {record['rows']}",
                    path=rel,
                )
            )
        for rg in range(pf.metadata.num_row_groups):
            batch = pf.read_row_group(rg).to_pylist()
            for i, row in enumerate(batch):
                found += check(row, rel, rg, i)
            if progress:
                progress(len(batch))
    except (*_READ_ERRORS, pa.ArrowException) as exc:
        found.append(
            finding(
                "shard-unreadable",
                f"{rel}: cannot be read as Parquet ({type(exc).__name__}: {str(exc)[:200]}); "
                "pack again with --resume",
                path=rel,
            )
        )
    return found


class _RowCheck:
    """Findings for one shard row: bytes against the original's sha256, or a decode."""

    def __init__(self, layout: Layout, resized: bool, decode: bool) -> None:
        self.layout = layout
        self.resized = resized
        self.decode = decode
        self.upright = False  # orientation "apply": photos tagged 2..8 were re-encoded upright
        self.schema, _ = shard_schema(layout)

    def __call__(self, row: dict[str, Any], shard: str, rg: int, i: int) -> list[Finding]:
        """The findings for row ``i`` of row group ``rg`` of ``shard``."""
        if self.layout is Layout.IMAGE:
            cells = [("image", row["image"], row["sha256"], row["orientation"])]
        else:
            cells = [
                (f"image_{v}", row[f"image_{v}"], row[f"sha256_{v}"], row[f"orientation_{v}"])
                for v in (v.value for v in VIEWS)
            ]
        out = []
        for col, cell, sha, orientation in cells:
            if cell is None:
                continue
            where = (
                f"{shard} row group {rg} row {i} ({col}, subject {row['subject_id']}, "
                f"{cell['path']})"
            )
            copy = self.resized or (self.upright and orientation not in (None, 1))
            out += self._cell(cell["bytes"], sha, where, str(row["subject_id"]), shard, copy)
        return out

    def _cell(
        self, data: bytes, sha: str, where: str, subject: str, shard: str, copy: bool
    ) -> list[Finding]:
        """Findings for one stored image: its bytes against the original's ``sha256`` or, for a
        re-encoded ``copy``, a decode."""
        import io

        from PIL import Image

        if not copy and hashlib.sha256(data).hexdigest() != sha:
            return [
                finding(
                    "image-hash",
                    f"{where}: bytes differ from the original's sha256; pack again",
                    subject=subject,
                    path=shard,
                )
            ]
        if copy or self.decode:
            try:
                with Image.open(io.BytesIO(data)) as im:
                    im.load()
            except Exception as exc:  # any decoder failure is a finding, not a crash
                return [
                    finding(
                        "image-undecodable-in-shard",
                        f"{where}: cannot be decoded ({exc}); pack again",
                        subject=subject,
                        path=shard,
                    )
                ]
        return []
