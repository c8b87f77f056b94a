"""manifest.json: what a pack folder holds (made by ``write``, checked by ``read_manifest``).

The manifest lists every shard with its rows, hash and content key, the options and layout,
a hash of the packed table, the Arrow schema and Hugging Face features, and what was left out.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from norwoodkit.columns import as_int
from norwoodkit.dataset import Dataset
from norwoodkit.errors import InputError
from norwoodkit.pack.layout import FORMAT_VERSION, MANIFEST, STAGE_NAMES, Layout
from norwoodkit.pack.options import PackOptions
from norwoodkit.pack.plan import ShardPlan, hash_rows, split_order


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
    features: dict[str, Any],
    schema: Any,
) -> dict[str, Any]:
    """The manifest of a finished pack (``records``: each shard's record by relative path)."""
    from norwoodkit import __version__

    splits = _splits(table, shards, records)
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


def _splits(
    table: pd.DataFrame, shards: list[ShardPlan], records: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Per split: rows, images, subjects, subjects per stage, and its shards' records."""
    splits: dict[str, Any] = {}
    for name in split_order(table["split"]):
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


def manifest_rows(root: str | os.PathLike[str]) -> int:
    """The row total that ``root/manifest.json`` states; 0 when it cannot say (never raises).

    For a progress bar before ``verify``, which reports a missing or bad manifest itself.
    """
    try:
        return int(json.loads((Path(root) / MANIFEST).read_text())["rows"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0
