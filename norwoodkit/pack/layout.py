"""What a pack folder holds: file names and patterns, and the columns of a shard in each layout.

The shard columns are derived from ``norwoodkit.columns`` (``SHARD_ORDER`` and each column's
``shard``), so the writer, the verifier, the manifest and the loader read one definition.
Importing this module does not import pyarrow.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from norwoodkit.columns import (
    ALL_COLUMNS,
    SHARD_ORDER,
    STAGE_NAMES,
    STRING,
    Column,
    Image,
    Shard,
    arrow_schema,
    column,
)
from norwoodkit.labels import VIEWS

__all__ = [
    "CARD",
    "DATA_DIR",
    "FORMAT_VERSION",
    "MANIFEST",
    "SHARD_NAME",
    "STAGE_NAMES",
    "STATE_DIR",
    "SUBJECT_STRING_COLUMNS",
    "TEMP_NAME",
    "Layout",
    "ShardColumn",
    "image_columns",
    "shard_columns",
    "shard_relpath",
    "shard_schema",
    "shard_split",
]

#: Bumped when the shard layout changes; part of every shard's identity key. Format 1 kept each
#: split in a folder of its own (``<split>/<split>-NNNNN-of-NNNNN.parquet``); format 2 puts every
#: shard in ``data/`` with the split in the file name, as Hub dataset repositories do.
FORMAT_VERSION = 2
MANIFEST = "manifest.json"
CARD = "README.md"
#: The folder that holds every shard (format 2): the Hub's ``data/{split}-NNNNN-of-NNNNN.*``.
DATA_DIR = "data"
#: Records of finished shards while a pack runs (for ``resume``); removed at the end.
STATE_DIR = ".norwoodkit-pack"

#: A shard's file name: ``<split>-<index>-of-<count>.parquet``.
SHARD_NAME = re.compile(r"^(?P<split>[^/]+)-\d{5}-of-\d{5}\.parquet$")
#: A shard's temporary name while it is written (``.<shard name>.<pid>.tmp``).
TEMP_NAME = re.compile(r"^\.[^/]+-\d{5}-of-\d{5}\.parquet\.\d+\.tmp$")

#: The subject's annotation strings on every shard row (the loader hands them out in ``meta``,
#: null as ""): table columns stored once per subject whose values are strings.
SUBJECT_STRING_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in ALL_COLUMNS if c.shard is Shard.SUBJECT and c.type == STRING
)


class Layout(StrEnum):
    """One row per image, or one row per subject with a column per view."""

    IMAGE = "image"
    SUBJECT = "subject"


@dataclass(frozen=True)
class ShardColumn:
    """One column of a shard: its name there, the spec column, and its view (subject layout)."""

    name: str
    column: Column
    view: str | None = None


def shard_relpath(split: str, index: int, count: int) -> str:
    """Where shard ``index`` of ``count`` of a split lives, relative to the pack folder."""
    return f"{DATA_DIR}/{split}-{index:05d}-of-{count:05d}.parquet"


def shard_split(rel: str, version: int | None = None) -> str | None:
    """The split a shard path of ours holds, or None when ``rel`` is not one.

    Format 2 paths are ``data/<split>-NNNNN-of-NNNNN.parquet``, format 1 paths
    ``<split>/<split>-NNNNN-of-NNNNN.parquet``; ``version`` None accepts both (what a folder
    of ours may hold while it moves from one format to the other).
    """
    parts = rel.split("/")
    m = SHARD_NAME.match(parts[-1]) if len(parts) == 2 else None
    if m is None:
        return None
    split = m["split"]
    fits = {1: parts[0] == split, 2: parts[0] == DATA_DIR}
    ok = fits[1] or fits[2] if version is None else fits.get(version, False)
    return split if ok else None


def shard_columns(layout: Layout) -> list[ShardColumn]:
    """A shard's columns, in order.

    Image layout: ``SHARD_ORDER``. Subject layout: the images one per view where the image
    column stands, the per-subject columns, then every other per-image column per view
    (``sha256_front`` ... ``orientation_right``); the view itself is in those names.
    """
    spec = [column(name) for name in SHARD_ORDER]
    if layout is Layout.IMAGE:
        return [ShardColumn(c.name, c) for c in spec]
    out: list[ShardColumn] = []
    for c in spec:
        if isinstance(c.type, Image):
            out += [ShardColumn(f"{c.name}_{v.value}", c, v.value) for v in VIEWS]
        elif c.shard is Shard.SUBJECT:
            out.append(ShardColumn(c.name, c))
    per_image = [c for c in spec if c.shard is Shard.IMAGE and not isinstance(c.type, Image)]
    out += [ShardColumn(f"{c.name}_{v.value}", c, v.value) for v in VIEWS for c in per_image]
    return out


def image_columns(layout: Layout) -> list[str]:
    """The names of a shard's image columns: ``image``, or ``image_<view>`` per view."""
    return [s.name for s in shard_columns(layout) if isinstance(s.column.type, Image)]


def shard_schema(layout: Layout) -> tuple[Any, dict[str, Any]]:
    """A shard's Arrow schema and its Hugging Face features (also in the schema's metadata)."""
    cols = shard_columns(layout)
    features = {s.name: s.column.feature() for s in cols}
    hf = json.dumps({"info": {"features": features}})
    schema = arrow_schema(
        [s.column.renamed(s.name) for s in cols], metadata={b"huggingface": hf.encode()}
    )
    return schema, features
