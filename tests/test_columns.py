"""columns: one spec, and every view of it (table dtypes, cache, shards, docs) agrees with it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from norwoodkit import columns, pack, probe
from norwoodkit.columns import ALL_COLUMNS, SHARD_ORDER, Shard
from norwoodkit.dataset import Dataset
from norwoodkit.pack.layout import (
    SUBJECT_STRING_COLUMNS,
    Layout,
    image_columns,
    shard_columns,
    shard_schema,
)

DOCS = Path(__file__).resolve().parent.parent / "docs"
VIEWS = ("front", "top", "back", "left", "right")


def test_every_stored_column_has_one_place_in_the_shard_order() -> None:
    stored = [c.name for c in columns.BY_NAME.values() if c.shard is not None]
    assert sorted(stored) == sorted(SHARD_ORDER)
    assert len(set(SHARD_ORDER)) == len(SHARD_ORDER)


def test_image_layout_shard_columns() -> None:
    assert [c.name for c in shard_columns(Layout.IMAGE)] == [
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
    ]


def test_subject_layout_shard_columns() -> None:
    per_view = ["sha256", "size", "width", "height", "orientation"]
    assert [c.name for c in shard_columns(Layout.SUBJECT)] == [
        *(f"image_{v}" for v in VIEWS),
        "label",
        "subject_id",
        "stage",
        "stage_variant",
        "age",
        "gender",
        "ethnicity",
        "split",
        *(f"{c}_{v}" for v in VIEWS for c in per_view),
    ]
    assert image_columns(Layout.SUBJECT) == [f"image_{v}" for v in VIEWS]


def test_shard_schema_types_and_features() -> None:
    for layout in Layout:
        schema, features = shard_schema(layout)
        assert list(features) == schema.names
        assert json.loads(schema.metadata[b"huggingface"]) == {"info": {"features": features}}
        for field in schema:
            feature = features[field.name]
            if field.name.startswith("image"):
                assert feature == {"_type": "Image"}
                assert field.type == pa.struct([("bytes", pa.binary()), ("path", pa.string())])
            elif field.name == "label":
                assert feature == {"names": list(pack.STAGE_NAMES), "_type": "ClassLabel"}
                assert field.type == pa.int64()
            else:
                assert feature == {"dtype": str(field.type), "_type": "Value"}
                assert str(field.type) in ("string", "int64")


def test_image_type_encodes_like_datasets() -> None:
    image = columns.column("image").type
    assert isinstance(image, columns.Image)
    stored = image.encode([b"\xff\xd8", None], pa.array(["1/Front.jpg", None]))
    assert stored.type == image.arrow()
    assert stored.to_pylist() == [
        {"bytes": b"\xff\xd8", "path": "1/Front.jpg"},
        {"bytes": None, "path": None},
    ]


def test_cache_schema_is_the_key_then_the_probe_columns() -> None:
    schema = probe.cache_schema()
    key = ["path", "size_key", "inode_key", "ctime_key"]
    assert schema.names == [*key, *(c.name for c in columns.PROBE_COLUMNS)]
    for name in key[1:]:
        assert schema.field(name).type == pa.int64()
    assert "thumbnail" not in schema.names  # a report makes the few it shows
    assert schema.field("mtime_ns").type == pa.int64()


def test_table_dtypes_come_from_the_spec() -> None:
    frame = columns.coerce(pd.DataFrame({"path": ["a.jpg"], "stage": [3]}), ALL_COLUMNS)
    assert list(frame.columns[:2]) == ["path", "stage"]
    for c in ALL_COLUMNS:
        assert str(frame[c.name].dtype) == c.dtype, c.name
        assert str(columns.empty_frame(ALL_COLUMNS)[c.name].dtype) == c.dtype, c.name
    assert str(frame["in_annotation"].dtype) == "boolean"


def test_subjects_are_the_subject_level_columns() -> None:
    table = columns.empty_frame(ALL_COLUMNS)
    ds = Dataset(root=Path("."), table=table)
    expected = [c.name for c in columns.DATASET_COLUMNS if c.level is columns.Level.SUBJECT]
    assert list(ds.subjects.columns) == expected
    assert "folder" in expected and "view" not in expected


def test_columns_pack_reads_and_the_loader_metadata() -> None:
    assert set(pack.PACK_INPUT_COLUMNS) == {
        "path",
        "status",
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
        "oriented_width",  # the upright size: width/height of photos stored upright
        "oriented_height",
    }
    assert SUBJECT_STRING_COLUMNS == ("subject_id", "stage_variant", "gender", "ethnicity")
    assert all(columns.column(c).shard is Shard.SUBJECT for c in SUBJECT_STRING_COLUMNS)


def test_formats_documents_each_column_with_its_dtype() -> None:
    formats = (DOCS / "formats.md").read_text()
    for c in ALL_COLUMNS:
        assert f"| `{c.name}` | {c.dtype} |" in formats, c.name
    shard_section = formats.split("### Shard schema")[1].split("### `manifest.json`")[0]
    for stored in shard_columns(Layout.IMAGE):
        assert f"`{stored.name}`" in shard_section, stored.name


@given(st.lists(st.one_of(st.none(), st.binary(max_size=64)), max_size=40))
def test_image_bytes_are_one_exact_buffer_equal_to_arrows_own(data: list[bytes | None]) -> None:
    import pyarrow as pa

    from norwoodkit.columns import _binary

    got = _binary(data)
    got.validate(full=True)
    assert got.equals(pa.array(data, pa.binary()))
