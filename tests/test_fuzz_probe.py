"""Fuzzing the probe: mutated bytes of small valid images in every format Pillow writes and reads.

Each example flips, truncates, inserts and splices bytes of one seed image, then probes the
result as bytes (``probe_bytes``) and as a real file (``probe_file``): never an exception,
always a row with a known status, and an ``ok`` row the cache would trust.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import photo
from norwoodkit import probe
from norwoodkit.probe.cache import consistent

STATUSES = {
    "ok",
    "empty",
    "unreadable",
    "undecodable",
    "truncated",
    "too-large",
}

#: Pillow's name for each format, and the mode a small photo is saved in for it.
FORMATS = {
    "JPEG": "RGB",
    "PNG": "RGB",
    "WEBP": "RGB",
    "TIFF": "RGB",
    "GIF": "P",
    "BMP": "RGB",
    "DDS": "RGB",
    "ICO": "RGB",
    "PCX": "RGB",
    "TGA": "RGB",
    "PPM": "RGB",
    "QOI": "RGB",
    "SGI": "RGB",
    "JPEG2000": "RGB",
}


def _seed(fmt: str) -> bytes:
    buf = io.BytesIO()
    photo(21, (24, 18), FORMATS[fmt]).save(buf, fmt)
    return buf.getvalue()


SEEDS = {fmt: _seed(fmt) for fmt in FORMATS}
ALL_SEEDS = list(SEEDS.values())


@st.composite
def mutated(draw: st.DrawFn, fmt: str) -> bytes:
    """One seed image with a few flips, cuts, insertions and splices of another format."""
    data = bytearray(SEEDS[fmt])
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "byte", "cut", "insert", "splice"]))
        at = draw(st.integers(0, len(data)))
        if op == "flip" and data:
            data[min(at, len(data) - 1)] ^= 1 << draw(st.integers(0, 7))
        elif op == "byte" and data:
            data[min(at, len(data) - 1)] = draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xFF]))
        elif op == "cut":
            data = data[:at]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "splice":
            other = draw(st.sampled_from(ALL_SEEDS))
            start = draw(st.integers(0, len(other)))
            data[at:] = other[start : start + draw(st.integers(1, 256))]
    return bytes(data)


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="nk-fuzz-") as name:
        yield Path(name)


def check_row(row: dict[str, Any], data: bytes) -> None:
    """A row with every probe column, a known status, and an ok row the cache would trust."""
    assert set(row) == {c for c in probe.CACHE_COLUMNS if not c.endswith("_key")} - {"path"}
    assert row["status"] in STATUSES, row["status"]
    assert row["size"] == len(data)
    if row["status"] == "ok":
        key = {"size_key": [len(data)], "path": ["x"]}
        table = pa.table({**{k: [v] for k, v in row.items()}, **key})
        assert consistent(table).to_pylist() == [True], row
    else:
        assert row["error"], row


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_seed_images_probe_ok(fmt: str) -> None:
    row = probe.probe_bytes(SEEDS[fmt])
    assert row["status"] == "ok", (fmt, row["error"])


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_mutated_images_never_raise(fmt: str, folder: Path) -> None:
    target = folder / f"image.{fmt.lower()}"

    @given(mutated(fmt))
    def probe_both(data: bytes) -> None:
        check_row(probe.probe_bytes(data), data)
        target.write_bytes(data)
        row = probe.probe_file(os.fspath(target))
        if data:
            check_row(row, data)
        else:
            assert row["status"] == "empty"

    probe_both()
