"""The one table's columns: names, pandas dtypes and meaning, in one place.

``dataset.load`` produces the DATASET columns; ``probe.run`` adds the PROBE columns; later steps
(dedupe, split, pack) add their own. docs/formats.md documents the same list, and a test keeps the
two in step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Column:
    """One column of the table."""

    name: str
    dtype: str
    doc: str


DATASET_COLUMNS: tuple[Column, ...] = (
    Column("subject_id", "string", "canonical subject id: '001', 1 and '1' are all '1'"),
    Column(
        "view", "string", "front, top, back, left or right; null for an image whose name is no view"
    ),
    Column(
        "path",
        "string",
        "image path, POSIX, relative to the dataset root; null when the view is missing",
    ),
    Column(
        "annotation_path",
        "string",
        "the path the annotation listed for this view, as written; null if none",
    ),
    Column(
        "folder", "string", "the subject's folder relative to the root; null when there is none"
    ),
    Column("in_annotation", "boolean", "the subject has a record in the annotation file"),
    Column("stage", "Int64", "Norwood-Hamilton stage 1..7; null when missing or unparseable"),
    Column("stage_variant", "string", "'a' (IIa, IIIa, IVa, Va), 'vertex' (III vertex) or null"),
    Column("raw_label", "string", "the stage exactly as the annotation wrote it"),
    Column(
        "age",
        "Int64",
        "age in whole years as written (range checked by validate); null if not a whole number",
    ),
    Column("gender", "string", "gender as written, whitespace stripped"),
    Column("ethnicity", "string", "ethnicity as written, whitespace stripped"),
)

PROBE_COLUMNS: tuple[Column, ...] = (
    Column(
        "status", "string", "ok, missing, empty, unreadable, undecodable, truncated or too-large"
    ),
    Column("error", "string", "why the status is not ok, in words; null when ok"),
    Column("size", "Int64", "file size in bytes"),
    Column("mtime_ns", "Int64", "modification time in nanoseconds (part of the cache key)"),
    Column("sha256", "string", "SHA-256 of the file's bytes, lower-case hex"),
    Column(
        "format",
        "string",
        "real format from the magic bytes: JPEG, PNG, GIF, WEBP, BMP, TIFF, HEIF",
    ),
    Column("mode", "string", "Pillow mode of the stored image: RGB, L, CMYK, I;16, ..."),
    Column("width", "Int64", "stored width in pixels (before EXIF orientation)"),
    Column("height", "Int64", "stored height in pixels (before EXIF orientation)"),
    Column("orientation", "Int64", "EXIF orientation tag 1..8; null when absent"),
    Column("oriented_width", "Int64", "width once EXIF orientation is applied"),
    Column("oriented_height", "Int64", "height once EXIF orientation is applied"),
    Column(
        "phash",
        "string",
        "64-bit perceptual hash (imagehash phash, 8x8), 16 hex digits, upright image",
    ),
    Column("phash_mirror", "string", "perceptual hash of the horizontally flipped upright image"),
    Column("thumbnail", "object", "JPEG bytes of the upright image, long side 160 px"),
)

ALL_COLUMNS: tuple[Column, ...] = DATASET_COLUMNS + PROBE_COLUMNS


def empty_frame(columns: tuple[Column, ...]) -> pd.DataFrame:
    """An empty DataFrame with the given columns and dtypes."""
    return pd.DataFrame({c.name: pd.Series([], dtype=c.dtype) for c in columns})


def coerce(frame: pd.DataFrame, columns: tuple[Column, ...]) -> pd.DataFrame:
    """Cast the named columns of ``frame`` to their schema dtypes (other columns untouched)."""
    out = frame.copy()
    for c in columns:
        dtype: Any = c.dtype  # pandas-stubs only type-check literal dtype names
        if c.name not in out.columns:
            out[c.name] = pd.Series([pd.NA] * len(out), dtype=dtype, index=out.index)
        else:
            out[c.name] = out[c.name].astype(dtype)
    return out


def plain(value: Any) -> Any:
    """A JSON-safe scalar: numpy scalars unboxed; None, pandas NA, NaN and infinities as None."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
