"""The one declarative column specification: every column of the table and of the shards.

Each ``Column`` knows its name, its level (one value per subject or per image), its value type,
whether and how shards store it, and what it means. The value type owns the rest, as Hugging
Face ``datasets`` lets ``Value``, ``ClassLabel`` and ``Image`` own their storage: the pandas
dtype, the Arrow type, the Hugging Face feature and, for images, how bytes become Arrow. Every
other view is derived from this module: the table's dtypes (``coerce``, ``empty_frame``), the
probe cache schema, the shard schema and its features (``norwoodkit.pack.layout``), the columns
pack reads and ``Dataset.subjects``. docs/formats.md documents the table columns, and a test
keeps the two in step.

``dataset.load`` produces the DATASET columns; ``probe.run`` adds the PROBE columns; ``pack``
adds the PACK columns (``split``, ``label``) and stores each image as ``image``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: the CLI reads these specs before --help
    import pandas as pd

#: Class names of ``label`` (stage minus one): a ClassLabel runs 0..n-1.
STAGE_NAMES = tuple(f"stage_{i}" for i in range(1, 8))


@dataclass(frozen=True)
class Value:
    """A scalar: its Hugging Face ``Value`` dtype (also its Arrow type's name) and pandas dtype."""

    dtype: str
    pandas: str

    def arrow(self) -> Any:
        """The Arrow type (pyarrow is imported here, not when norwoodkit is)."""
        import pyarrow as pa

        return pa.type_for_alias(self.dtype)

    def feature(self) -> dict[str, Any]:
        """The Hugging Face feature, as ``datasets`` writes it into a schema's metadata."""
        return {"dtype": self.dtype, "_type": "Value"}


@dataclass(frozen=True)
class ClassLabel(Value):
    """An integer class 0..n-1 with a name per class (Hugging Face ``ClassLabel``)."""

    names: tuple[str, ...] = ()

    def feature(self) -> dict[str, Any]:
        """The Hugging Face feature, names first, as ``datasets`` writes it."""
        return {"names": list(self.names), "_type": "ClassLabel"}


@dataclass(frozen=True)
class Image:
    """An image stored as Hugging Face's ``Image`` stores it: ``struct<bytes, path>``."""

    pandas: str = "object"

    def arrow(self) -> Any:
        """The Arrow storage type: the encoded bytes and the image's dataset path."""
        import pyarrow as pa

        return pa.struct([("bytes", pa.binary()), ("path", pa.string())])

    def feature(self) -> dict[str, Any]:
        """The Hugging Face feature: readers decode the bytes into PIL images."""
        return {"_type": "Image"}

    def encode(self, data: Sequence[bytes | None], paths: Any) -> Any:
        """Arrow storage for encoded images and their paths (an Arrow string array)."""
        import pyarrow as pa

        return pa.StructArray.from_arrays([_binary(data), paths], fields=list(self.arrow()))


def _binary(data: Sequence[bytes | None]) -> Any:
    """``pa.array(data, pa.binary())`` built in one buffer of the exact size.

    Arrow's builder grows its buffer by doubling, so a row group of large photos briefly took
    about three times its bytes; here the bytes are joined once and wrapped (issue 15).
    """
    import numpy as np
    import pyarrow as pa

    lengths = np.fromiter((len(d) if d is not None else 0 for d in data), np.int64, len(data))
    offsets = np.zeros(len(data) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] >= 2**31:  # binary's offsets are 32-bit; such a group needs large_binary
        return pa.array(data, pa.binary())
    valid = [d is not None for d in data]
    mask = None if all(valid) else pa.array(valid).buffers()[1]
    joined = pa.py_buffer(b"".join(d for d in data if d is not None))
    return pa.Array.from_buffers(
        pa.binary(),
        len(data),
        [mask, pa.py_buffer(offsets.astype(np.int32)), joined],
        null_count=valid.count(False),
    )


STRING = Value("string", "string")
INT = Value("int64", "Int64")
FLOAT = Value("float64", "float64")
BOOL = Value("bool", "boolean")


class Level(StrEnum):
    """What one value describes: a subject (the same on all its rows) or one image."""

    SUBJECT = "subject"
    IMAGE = "image"


class Shard(StrEnum):
    """How shards store a column (a column with ``shard=None`` is not stored)."""

    #: One value per subject: one column in both layouts.
    SUBJECT = "subject"
    #: One value per image: in the subject layout, one column per view (``<name>_<view>``).
    IMAGE = "image"
    #: The image's view: a column in the image layout; the subject layout has it in column names.
    VIEW = "view"


@dataclass(frozen=True)
class Column:
    """One column: name, level, value type, how shards store it, and its meaning."""

    name: str
    level: Level
    type: Value | Image
    doc: str
    shard: Shard | None = None

    @property
    def dtype(self) -> str:
        """The pandas dtype of the column in the table."""
        return self.type.pandas

    def arrow_type(self) -> Any:
        """The Arrow type of the column (in the probe cache and in shards)."""
        return self.type.arrow()

    def feature(self) -> dict[str, Any]:
        """The Hugging Face feature of the column (in shard metadata and the manifest)."""
        return self.type.feature()

    def renamed(self, name: str) -> Column:
        """The same column under another name (a per-view shard column, a cache key)."""
        return Column(name, self.level, self.type, self.doc, self.shard)


# Short names keep each declaration a line of the table it is.
_S, _I = Level.SUBJECT, Level.IMAGE

DATASET_COLUMNS: tuple[Column, ...] = (
    Column(
        "subject_id",
        _S,
        STRING,
        "canonical subject id: '001', 1 and '1' are all '1'",
        Shard.SUBJECT,
    ),
    Column(
        "view",
        _I,
        STRING,
        "front, top, back, left or right; null for an image whose name is no view",
        Shard.VIEW,
    ),
    Column(
        "path",
        _I,
        STRING,
        "image path, POSIX, relative to the dataset root; null when the view is missing",
    ),
    Column(
        "annotation_path",
        _I,
        STRING,
        "the path the annotation listed for this view, as written; null if none",
    ),
    Column(
        "folder", _S, STRING, "the subject's folder relative to the root; null when there is none"
    ),
    Column("in_annotation", _S, BOOL, "the subject has a record in the annotation file"),
    Column(
        "stage",
        _S,
        INT,
        "Norwood-Hamilton stage 1..7; null when missing or unparseable",
        Shard.SUBJECT,
    ),
    Column(
        "stage_variant",
        _S,
        STRING,
        "'a' (IIa, IIIa, IVa, Va), 'vertex' (III vertex) or null",
        Shard.SUBJECT,
    ),
    Column("raw_label", _S, STRING, "the stage exactly as the annotation wrote it"),
    Column(
        "age",
        _S,
        INT,
        "age in whole years as written (range checked by validate); null if not a whole number",
        Shard.SUBJECT,
    ),
    Column("gender", _S, STRING, "gender as written, whitespace stripped", Shard.SUBJECT),
    Column("ethnicity", _S, STRING, "ethnicity as written, whitespace stripped", Shard.SUBJECT),
)

PROBE_COLUMNS: tuple[Column, ...] = (
    Column(
        "status",
        _I,
        STRING,
        "ok, missing, empty, unreadable, undecodable, truncated, too-large, not-a-file or "
        "outside-root",
    ),
    Column("error", _I, STRING, "why the status is not ok, in words; null when ok"),
    Column("size", _I, INT, "file size in bytes", Shard.IMAGE),
    Column("mtime_ns", _I, INT, "modification time in nanoseconds (part of the cache key)"),
    Column("sha256", _I, STRING, "SHA-256 of the file's bytes, lower-case hex", Shard.IMAGE),
    Column(
        "format",
        _I,
        STRING,
        "real format from the magic bytes: JPEG, PNG, GIF, WEBP, BMP, TIFF, HEIF",
    ),
    Column("mode", _I, STRING, "Pillow mode of the stored image: RGB, L, CMYK, I;16, ..."),
    Column("width", _I, INT, "stored width in pixels (before EXIF orientation)", Shard.IMAGE),
    Column("height", _I, INT, "stored height in pixels (before EXIF orientation)", Shard.IMAGE),
    Column("orientation", _I, INT, "EXIF orientation tag 1..8; null when absent", Shard.IMAGE),
    Column("oriented_width", _I, INT, "width once EXIF orientation is applied"),
    Column("oriented_height", _I, INT, "height once EXIF orientation is applied"),
    Column(
        "phash",
        _I,
        STRING,
        "64-bit perceptual hash (imagehash phash, 8x8), 16 hex digits, upright image",
    ),
    Column("phash_mirror", _I, STRING, "perceptual hash of the horizontally flipped upright image"),
    # The quality measures (probe/quality.py), on the decoded image shrunk to 256 px long side.
    Column(
        "sharpness",
        _I,
        FLOAT,
        "variance of the Laplacian of luma (levels 0..255) at 256 px long side; NaN: see note",
    ),
    Column("brightness", _I, FLOAT, "mean luma on [0, 1]"),
    Column("dark_fraction", _I, FLOAT, "share of pixels with luma <= 7/255 (about 0.03)"),
    Column("bright_fraction", _I, FLOAT, "share of pixels with luma >= 248/255 (about 0.97)"),
    Column("entropy", _I, FLOAT, "Shannon entropy of the 256-bin luma histogram, bits (0..8)"),
    Column("grayscale", _I, BOOL, "no colour: a grey mode, or 99 % of pixels grey within 8 levels"),
    Column("quality_note", _I, STRING, "why a measure is NaN or how it was taken; empty when fine"),
)

#: The quality measures' columns, read by validate's quality check, stats and the report.
QUALITY_COLUMNS: tuple[str, ...] = (
    "sharpness",
    "brightness",
    "dark_fraction",
    "bright_fraction",
    "entropy",
    "grayscale",
    "quality_note",
)

#: Columns that only ``pack`` makes: the split, the class label and the stored image.
PACK_COLUMNS: tuple[Column, ...] = (
    Column("split", _S, STRING, "the split (`all` without a split file)", Shard.SUBJECT),
    Column(
        "label",
        _S,
        ClassLabel("int64", "int64", STAGE_NAMES),
        "Norwood stage minus one",
        Shard.SUBJECT,
    ),
    Column(
        "image",
        _I,
        Image(),
        "the stored image: original file bytes (or a resized copy) and its dataset path",
        Shard.IMAGE,
    ),
)

#: The table's columns after ``dataset.load`` and ``probe.run``, in table order.
ALL_COLUMNS: tuple[Column, ...] = DATASET_COLUMNS + PROBE_COLUMNS

#: ``Dataset.subjects``: the subject-level columns ``dataset.load`` makes.
SUBJECT_COLUMNS: tuple[Column, ...] = tuple(c for c in DATASET_COLUMNS if c.level is Level.SUBJECT)

BY_NAME: dict[str, Column] = {c.name: c for c in ALL_COLUMNS + PACK_COLUMNS}

#: The order of columns in a shard (image layout); each column's ``shard`` says how it is
#: stored, and ``norwoodkit.pack.layout`` derives both layouts from it.
SHARD_ORDER: tuple[str, ...] = (
    "image",
    "label",
    "subject_id",
    "view",
    "stage",
    "stage_variant",
    "age",
    "gender",
    "ethnicity",
    "sha256",
    "size",
    "width",
    "height",
    "orientation",
    "split",
)


def column(name: str) -> Column:
    """The column called ``name`` (KeyError for a name the spec does not have)."""
    return BY_NAME[name]


def arrow_schema(columns: Sequence[Column], metadata: dict[bytes, bytes] | None = None) -> Any:
    """The Arrow schema of ``columns``, in order."""
    import pyarrow as pa

    return pa.schema([pa.field(c.name, c.arrow_type()) for c in columns], metadata=metadata)


def empty_frame(columns: tuple[Column, ...]) -> pd.DataFrame:
    """An empty DataFrame with the given columns and dtypes."""
    import pandas as pd

    return pd.DataFrame({c.name: pd.Series([], dtype=c.dtype) for c in columns})


def coerce(frame: pd.DataFrame, columns: tuple[Column, ...]) -> pd.DataFrame:
    """Cast the named columns of ``frame`` to their spec dtypes (other columns untouched)."""
    import pandas as pd

    out = frame.copy(deep=False)  # the columns cast are replaced, never written in place
    for c in columns:
        dtype: Any = c.dtype  # pandas-stubs only type-check literal dtype names
        if c.name not in out.columns:
            na = math.nan if dtype == "float64" else pd.NA  # numpy floats have no pd.NA
            out[c.name] = pd.Series([na] * len(out), dtype=dtype, index=out.index)
        else:
            out[c.name] = out[c.name].astype(dtype)
    return out


def as_int(value: Any) -> int:
    """A table cell or numpy scalar as an ``int`` (pandas-stubs type cells too loosely)."""
    return int(value)


def plain(value: Any) -> Any:
    """A JSON-safe scalar: numpy scalars unboxed; None, pandas NA, NaN and infinities as None."""
    import numpy as np
    import pandas as pd

    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
