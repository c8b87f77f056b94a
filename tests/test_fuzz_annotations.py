"""Fuzzing the annotation readers: any JSON or CSV through ``dataset.load`` on a real folder
raises nothing but NorwoodkitError, and whatever it keeps can be written out as UTF-8."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from norwoodkit import dataset
from norwoodkit.errors import NorwoodkitError

KEYS = [
    "id",
    "subject_id",
    "label",
    "stage",
    "age",
    "gender",
    "ethnicity",
    "Front",
    "images",
    "annotations",
    "data",
    "path",
    "view",
    "Top-Down",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**60), max_value=10**60),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        ["1", "001", " 1 ", "\u0661", "\uff11", "Stage 3", "IIIa", "../x", "/1/Front.jpg"]
    ),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=8))
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(keys, inner, max_size=6)),
    max_leaves=40,
)


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    """One real dataset folder (two subjects, tiny files) that every example reuses."""
    root = Path(tempfile.mkdtemp(prefix="fuzz-annotations-"))
    for sid in ("1", "2"):
        (root / sid).mkdir()
        for name in ("Front.jpg", "Back.jpg"):
            (root / sid / name).write_bytes(b"\xff\xd8\xff")
    yield root
    shutil.rmtree(root)


def load_only_our_errors(root: Path, name: str, data: bytes) -> None:
    path = root / name
    path.write_bytes(data)
    try:
        ds = dataset.load(root, annotations=path)
    except NorwoodkitError:
        return
    finally:
        path.unlink()
    # What load kept can be written out: no surrogates, nothing JSON cannot hold.
    for value in ds.table.to_numpy().ravel():
        str(value).encode("utf-8")
    json.dumps([n.to_dict() for n in ds.notes], ensure_ascii=False).encode("utf-8")


@given(doc=documents)
def test_any_json_document(folder: Path, doc: Any) -> None:
    load_only_our_errors(folder, "annotation.json", json.dumps(doc).encode())


@given(text=st.text(max_size=300))
def test_any_json_text(folder: Path, text: str) -> None:
    load_only_our_errors(folder, "annotation.json", text.encode("utf-8", "surrogatepass"))


@given(
    rows=st.lists(
        st.lists(st.one_of(st.sampled_from(KEYS), st.text(max_size=12)), max_size=6), max_size=6
    ),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"]),
    quote=st.booleans(),
)
def test_any_csv(folder: Path, rows: list[list[str]], encoding: str, quote: bool) -> None:
    q = '"' if quote else ""
    text = "\n".join(",".join(f"{q}{cell}{q}" for cell in row) for row in rows)
    load_only_our_errors(folder, "annotation.csv", text.encode(encoding, "replace"))


@given(data=st.binary(max_size=300))
def test_any_bytes(folder: Path, data: bytes) -> None:
    load_only_our_errors(folder, "annotation.csv", data)
