"""manifest.json: what a pack folder holds (made by ``write``, checked by ``read_manifest``).

The manifest lists every shard with its rows, hash and content key, the options and layout,
a hash of the packed table, the Arrow schema and Hugging Face features, what was left out, and
how the splits are named for the Hub: ``configs`` (exactly the card's YAML ``configs``),
``folds`` and ``split_names`` (the split file's names -> the names written); and
``split_info``, how the split was made, when the split file said so (a ``split --json``
document; null otherwise). Readers accept format 1 (a folder per split) and format 2 (every
shard in ``data/``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from norwoodkit.columns import as_int
from norwoodkit.dataset import Dataset
from norwoodkit.errors import InputError
from norwoodkit.pack.hub import (
    RENAMED,
    UNSPLIT,
    SplitNaming,
    configs,
    name_splits,
    split_order,
)
from norwoodkit.pack.layout import FORMAT_VERSION, MANIFEST, STAGE_NAMES, Layout, shard_split
from norwoodkit.pack.options import PackOptions
from norwoodkit.pack.plan import ShardPlan, hash_rows
from norwoodkit.split.document import SplitInfo


def source_hash(table: pd.DataFrame) -> str:
    """A hash of what was packed: every path, its sha256, subject, view, label and split."""
    h = hashlib.sha256()
    order = np.argsort(table["path"].to_numpy(dtype=object), kind="stable")
    hash_rows(
        h, table.iloc[order], ["path", "sha256", "subject_id", "view", "label", "split"], end=b"\n"
    )
    return h.hexdigest()


def build_manifest(
    dataset: Dataset,
    table: pd.DataFrame,
    shards: list[ShardPlan],
    records: dict[str, dict[str, Any]],
    excluded: list[dict[str, Any]],
    opts: PackOptions,
    naming: SplitNaming,
    shard_types: tuple[dict[str, Any], Any],
    *,
    split_info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest of a finished pack (``records``: each shard's record by relative path;
    ``shard_types``: the Hugging Face features and the Arrow schema of the shards;
    ``split_info``: how the split was made (``split_info_record``), when the split file said
    so)."""
    from norwoodkit import __version__

    features, schema = shard_types
    splits = _splits(table, shards, records)
    order = split_order(naming.written.values())
    options = asdict(opts)
    options["layout"] = opts.layout.value
    options["orientation"] = opts.orientation.value
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
        "configs": configs(list(splits), naming.folds),
        "folds": naming.folds,
        "split_names": dict(sorted(naming.written.items(), key=lambda kv: order.index(kv[1]))),
        "split_info": split_info,
        "splits": splits,
        "excluded": excluded,
    }


def split_info_record(info: SplitInfo) -> dict[str, Any]:
    """``info`` as the manifest's ``split_info`` records it: its split names written as a split
    file's are (``val`` -> ``validation``, ``fold0`` -> ``fold_0``), so they match ``splits``.

    Raises:
        InputError: (code split-name-hub) a split name the Hub would reject.
    """
    return info.to_dict(name_splits(info.spec.names, source="splits").name)


def _splits(
    table: pd.DataFrame, shards: list[ShardPlan], records: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Per split: rows, images, subjects, subjects per stage, and its shards' records."""
    splits: dict[str, Any] = {}
    for name in split_order(table["split"].astype(str)):
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
            "stage_counts": stage_counts(part),
            "shards": shard_recs,
        }
    return splits


def stage_counts(rows: pd.DataFrame) -> dict[str, int]:
    """Subjects per stage among ``rows``, by class name."""
    counts = rows.groupby("stage")["subject_id"].nunique()
    return {STAGE_NAMES[as_int(s) - 1]: as_int(c) for s, c in counts.items()}


#: A manifest larger than this is not one we wrote (10,000 shards take about 5 MB).
MAX_MANIFEST_BYTES = 64 << 20

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def read_manifest(root: str | os.PathLike[str]) -> dict[str, Any]:
    """``root/manifest.json``, checked: present, ours, not from a newer norwoodkit, well formed.

    Every listed shard path is ``<split>/<shard name>`` of its own split, so nothing a manifest
    says can lead a reader out of the folder. ``pack`` writes the manifest last, so a folder
    without one is an unfinished pack.

    Raises:
        InputError: codes manifest-missing, manifest-invalid, manifest-newer.
    """
    mpath = Path(root) / MANIFEST
    manifest = _load(mpath, root)
    if not isinstance(manifest, dict) or manifest.get("format") != "norwoodkit-shards":
        raise _invalid(mpath, "it is not a norwoodkit-shards manifest")
    version: Any = manifest.get("format_version")
    if not _is_int(version) or version < 1:
        raise _invalid(mpath, "'format_version' is not a positive whole number")
    if version > FORMAT_VERSION:
        raise InputError(
            f"{mpath}: written by a newer norwoodkit (shard format {version}; this "
            f"one reads up to {FORMAT_VERSION}); upgrade norwoodkit to read it",
            code="manifest-newer",
        )
    problem = _structure_problem(manifest)
    if problem is not None:
        raise _invalid(mpath, problem)
    return dict(manifest)


def _load(mpath: Path, root: str | os.PathLike[str]) -> Any:
    """The manifest's JSON value; refuses a missing, special, linked, huge or non-JSON file."""
    try:
        st = os.lstat(mpath)
    except FileNotFoundError:
        raise InputError(
            f"{mpath}: no manifest; {root} is not a finished `norwoodkit pack` output folder "
            "(pack writes manifest.json last: if a pack into it was interrupted, run pack "
            "again with --resume)",
            code="manifest-missing",
        ) from None
    except OSError as exc:
        raise _invalid(mpath, f"it cannot be read: {exc.strerror}") from None
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
        raise _invalid(mpath, "it is not a regular file (pack writes one, never a link)")
    if st.st_size > MAX_MANIFEST_BYTES:
        raise _invalid(mpath, f"{st.st_size} bytes, more than any manifest pack writes")
    try:
        with open(mpath, "rb") as fh:
            return json.loads(fh.read(MAX_MANIFEST_BYTES + 1).decode("utf-8"))
    except OSError as exc:
        raise _invalid(mpath, f"it cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise _invalid(mpath, "it is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise _invalid(mpath, f"not JSON at line {exc.lineno} column {exc.colno}") from None
    except (ValueError, RecursionError):
        raise _invalid(mpath, "it is not JSON that norwoodkit writes") from None


def _invalid(mpath: Path, problem: str) -> InputError:
    """The error for a manifest that is not ours or is damaged (its content is never echoed)."""
    return InputError(
        f"{mpath}: not a norwoodkit manifest ({problem}); run pack again into this folder "
        "with --overwrite, or into a new one",
        code="manifest-invalid",
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _structure_problem(manifest: dict[str, Any]) -> str | None:
    """What is wrong with the fields readers use (layout, options, splits, shards), or None."""
    if manifest.get("layout") not in {v.value for v in Layout}:
        return "'layout' is not a layout"
    options = manifest.get("options")
    if not isinstance(options, dict) or not (
        options.get("resize") is None or _is_int(options.get("resize"))
    ):
        return "'options.resize' is not a whole number or null"
    splits = manifest.get("splits")
    if not isinstance(splits, dict):
        return "'splits' is not an object"
    version = manifest["format_version"]
    for name, split in splits.items():
        if not safe_split_name(name):
            return "a split name is not a plain folder name"
        shards = split.get("shards") if isinstance(split, dict) else None
        if not isinstance(shards, list):
            return f"split {name!r} has no list of shards"
        for i, rec in enumerate(shards):
            problem = _record_problem(name, rec, version)
            if problem is not None:
                return f"split {name!r} shard {i}: {problem}"
    return None


def safe_split_name(name: str) -> bool:
    """Whether a split name is one plain folder name (no separator, not ``.`` or ``..``)."""
    return 0 < len(name) <= 255 and name not in (".", "..") and not set(name) & {"/", "\\", "\0"}


def _record_problem(split: str, rec: Any, version: int) -> str | None:
    """What is wrong with one shard record of ``split`` in a manifest of format ``version``."""
    if not isinstance(rec, dict):
        return "not an object"
    path = rec.get("path")
    if not isinstance(path, str) or shard_split(path, version) != split:
        where = "data" if version >= 2 else split
        return f"'path' is not {where}/{split}-NNNNN-of-NNNNN.parquet"
    if not _is_int(rec.get("rows")) or rec["rows"] < 0:
        return "'rows' is not a whole number"
    if not isinstance(rec.get("sha256"), str) or not _SHA256.match(rec["sha256"]):
        return "'sha256' is not a sha256"
    return None


def shard_problem(root: Path, rel: str) -> str | None:
    """Why a listed shard cannot be read safely (missing, a link, not a regular file, outside
    the folder), or None. Never follows a link and never opens the file."""
    path = root / rel
    try:
        st = os.lstat(path)
    except OSError:
        return "missing"
    if stat.S_ISLNK(st.st_mode):
        return "a symbolic link (pack writes regular files)"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    real_root = os.path.realpath(root)
    if os.path.commonpath([real_root, os.path.realpath(path)]) != real_root:
        return "outside the pack folder (its split folder is a link)"
    return None


def resolve_split(manifest: dict[str, Any], split: str) -> str:
    """The split a manifest holds under the name ``split``: itself, the name a split-file name
    was written as (``val`` -> ``validation``, fold ``0`` -> ``fold_0``), or the one split of
    an unsplit pack (``all`` in format 1, ``train`` in format 2) under either name; ``split``
    unchanged when none is there (the caller says it is unknown)."""
    splits = manifest["splits"]
    if split in splits:
        return split
    names = manifest.get("split_names")
    candidates = [names.get(split) if isinstance(names, dict) else None, RENAMED.get(split)]
    unsplit = {"all", UNSPLIT}
    if split in unsplit and len(splits) == 1 and set(splits) <= unsplit:
        candidates.append(next(iter(splits)))
    return next((c for c in candidates if isinstance(c, str) and c in splits), split)


def manifest_rows(root: str | os.PathLike[str]) -> int:
    """The row total that ``root/manifest.json`` states; 0 when it cannot say (never raises).

    For a progress bar before ``verify``, which reports a missing or bad manifest itself.
    """
    try:
        return max(0, int(read_manifest(root)["rows"]))
    except (InputError, KeyError, TypeError, ValueError, OverflowError):
        return 0
