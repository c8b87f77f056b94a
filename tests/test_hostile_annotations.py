"""Hostile annotation files and dataset folders: every one is exit 1 with a finding or exit 2
with a message naming the file; never a traceback, a hang, or a changed dataset."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hostile import check, hostile, run, tree

from conftest import MakeDataset, vendor_record
from norwoodkit import dataset

VALIDATE = ["validate", "--no-cache", "--workers", "1"]
REPO = Path(__file__).resolve().parent.parent


def deep(n: int) -> bytes:
    return b"[" * n + b"]" * n


def record_json(**changes: object) -> bytes:
    return json.dumps([{**vendor_record("1"), **changes}]).encode()


REFUSED_CONTENT = [
    pytest.param(deep(100_000), "nests deeper", id="json-nested-100000"),
    pytest.param(
        b'[{"id": "1", "label": "Stage 3", "x": ' + deep(70) + b"}]",
        "nests deeper",
        id="json-record-nested-70",
    ),
    pytest.param(b"42", "bare int", id="json-bare-number"),
    pytest.param(b'"people"', "bare str", id="json-bare-string"),
    pytest.param(b"null", "not records", id="json-null"),
    pytest.param(b"true", "not records", id="json-bare-bool"),
    pytest.param(b'[1, "a", null]', "record #0", id="json-records-not-objects"),
    pytest.param(b'[{"id": "1"}, []]', "record #1", id="json-record-is-a-list"),
    pytest.param(b'[{"id": "1", "age": NaN}]', "NaN is not JSON", id="json-nan"),
    pytest.param(b'[{"id": "1", "age": Infinity}]', "Infinity", id="json-infinity"),
    pytest.param(b'[{"id": "1", "age": -Infinity}]', "Infinity", id="json-minus-infinity"),
    pytest.param(b"", "is empty", id="empty-file"),
    pytest.param(b" \n\t\r\n ", "is empty", id="only-whitespace"),
    pytest.param(b"{not json", "not valid JSON at line 1", id="json-invalid"),
    pytest.param(b'{"a": 1, "b": 2}', "unrecognised annotation shape", id="json-odd-shape"),
    pytest.param(record_json().decode().encode("utf-16"), "UTF-16", id="utf16-bom"),
    pytest.param(record_json().decode().encode("utf-16-le"), "NUL byte", id="utf16-no-bom"),
    pytest.param(record_json().decode().encode("utf-32"), "UTF-32", id="utf32-bom"),
    pytest.param(b'[{"id": "1",\x00 "label": "3"}]', "NUL byte", id="nul-byte"),
    pytest.param(b'[{"id": "1", "label": "\\udcff"}]', "surrogate", id="json-lone-surrogate"),
    pytest.param(b'[{"id": "1", "\\ud800": "x"}]', "surrogate", id="json-lone-surrogate-key"),
]


@pytest.mark.parametrize(("content", "words"), REFUSED_CONTENT)
def test_malformed_annotation_is_refused(
    make_dataset: MakeDataset, content: bytes, words: str
) -> None:
    root = make_dataset(1)
    (root / "annotation.json").write_bytes(content)
    result = hostile([*VALIDATE, root], 2, ["annotation.json", words], untouched=[root])
    # A refused file's content is never echoed.
    assert "Stage 3" not in result.stderr and "\\udcff" not in result.stderr


def csv_text(*rows: str) -> bytes:
    return ("id,label,age\n" + "".join(r + "\n" for r in rows)).encode()


def test_csv_field_of_200_kb_is_refused(make_dataset: MakeDataset) -> None:
    root = make_dataset(1, shape="csv")
    (root / "annotation.csv").write_bytes(csv_text('1,"' + "3" * 200_000 + '",40'))
    hostile([*VALIDATE, root], 2, ["annotation.csv line", "field"], untouched=[root])


FINDINGS = [
    pytest.param(
        json.dumps([vendor_record("7"), vendor_record("007")]), "duplicate-id", id="ids-7-and-007"
    ),
    pytest.param(
        json.dumps([vendor_record("1"), vendor_record(" 1 ")]),
        "duplicate-id",
        id="ids-with-spaces",
    ),
    pytest.param(
        json.dumps([vendor_record("1"), {**vendor_record("1"), "id": 1}]),
        "duplicate-id",
        id="id-number-and-text",
    ),
    pytest.param(
        json.dumps([vendor_record("1"), vendor_record("\u0661")]),
        "duplicate-id",
        id="id-arabic-indic-digit",
    ),
    pytest.param(
        json.dumps([vendor_record("1"), vendor_record("\uff11")]),
        "duplicate-id",
        id="id-fullwidth-digit",
    ),
    pytest.param(
        json.dumps([vendor_record("1"), vendor_record("\u00e9"), vendor_record("e\u0301")]),
        "duplicate-id",
        id="ids-nfc-and-nfd",
    ),
    pytest.param(
        '{"1": {"label": "Stage 3"}, "1": {"label": "Stage 5"}}',
        "duplicate-id",
        id="keyed-same-key-twice",
    ),
    pytest.param(
        '{"1": {"label": "Stage 3"}, "001": {"label": "Stage 5"}}',
        "duplicate-id",
        id="keyed-1-and-001",
    ),
    pytest.param(
        '[{"id": "1", "label": "Stage 3", "label": "Stage 6"}]',
        "duplicate-key",
        id="record-key-twice",
    ),
    pytest.param(
        '{"annotations": [{"id": "1", "label": "Stage 3"}], "annotations": [{"id": "2"}]}',
        "duplicate-key",
        id="wrapper-key-twice",
    ),
    pytest.param(
        '[{"id": "1", "label": "Stage 3", "images": {"a": {"path": "x", "path": "y"}}}]',
        "duplicate-key",
        id="nested-key-twice",
    ),
    pytest.param(
        json.dumps([vendor_record("1"), vendor_record("1" * 5000)]),
        "id-invalid",
        id="id-5000-digit-text",
    ),
    pytest.param(
        '[{"id": 1, "label": "Stage 3"}, {"id": ' + "1" * 5000 + "}]",
        "id-invalid",
        id="id-5000-digit-number",
    ),
    pytest.param('[{"id": 1, "label": "Stage 3"}, {"id": 1e300}]', "id-invalid", id="id-1e300"),
    pytest.param(json.dumps([vendor_record("1", age="9" * 5000)]), "age-invalid", id="age-text"),
    pytest.param(
        '[{"id": "1", "label": "Stage 3", "age": ' + "9" * 5000 + "}]",
        "age-invalid",
        id="age-5000-digit-number",
    ),
    pytest.param(
        '[{"id": "1", "label": "Stage 3", "age": 1e400}]', "age-invalid", id="age-overflow"
    ),
    pytest.param(
        '[{"id": "1", "label": "Stage 3", "age": 99999999999999999999}]',
        "age-invalid",
        id="age-over-int64",
    ),
    pytest.param(
        json.dumps([vendor_record("1", stage="3" * 5000)]), "stage-invalid", id="stage-5000-digits"
    ),
    pytest.param(
        '[{"id": "1", "label": ' + "3" * 5000 + "}]", "stage-invalid", id="stage-5000-digit-num"
    ),
    pytest.param(
        json.dumps([vendor_record("1", stage="\u0663", age="\u0664\u0665")]) + "\n",
        None,
        id="arabic-indic-stage-and-age-are-read",
    ),
]


@pytest.mark.parametrize(("text", "code"), FINDINGS)
def test_malformed_records_are_findings(
    make_dataset: MakeDataset, text: str, code: str | None
) -> None:
    root = make_dataset(1)
    (root / "annotation.json").write_text(text, encoding="utf-8")
    expected = 0 if code is None else 1
    result = hostile([*VALIDATE, root, "--json"], expected, untouched=[root])
    found = {f["code"] for f in json.loads(result.stdout)["findings"]}
    if code is None:
        ds = dataset.load(root)
        assert ds.subjects["stage"].iloc[0] == 3 and ds.subjects["age"].iloc[0] == 45
    else:
        assert code in found, found


def test_latin1_annotation_is_an_error_finding(make_dataset: MakeDataset) -> None:
    rec = vendor_record("1", ethnicity="M\u00e9tis")
    root = make_dataset(1, records=[rec])
    (root / "annotation.json").write_bytes(json.dumps([rec], ensure_ascii=False).encode("latin-1"))
    result = hostile([*VALIDATE, root, "--json"], 1, untouched=[root])
    assert "annotation-encoding" in {f["code"] for f in json.loads(result.stdout)["findings"]}


def test_csv_column_twice_is_a_finding(make_dataset: MakeDataset) -> None:
    root = make_dataset(1, shape="csv")
    (root / "annotation.csv").write_text("id,label,label\n1,Stage 3,Stage 6\n")
    result = hostile([*VALIDATE, root, "--json"], 1, untouched=[root])
    assert "duplicate-key" in {f["code"] for f in json.loads(result.stdout)["findings"]}
    assert dataset.load(root).subjects["stage"].iloc[0] == 3  # the first column is used


# --------------------------------------------------------------------------- the file itself


def _link_out(root: Path, outside: Path) -> list[str]:
    target = outside / "elsewhere.json"
    target.write_text(json.dumps([vendor_record("1")]))
    (root / "annotation.json").unlink()
    (root / "annotation.json").symlink_to(target)
    return [str(root)]


def _folder(root: Path, outside: Path) -> list[str]:
    (root / "annotation.json").unlink()
    (root / "annotation.json").mkdir()
    return [str(root)]


def _given_folder(root: Path, outside: Path) -> list[str]:
    return [str(root), "--annotations", str(root / "1")]


def _given_device(root: Path, outside: Path) -> list[str]:
    return [str(root), "--annotations", "/dev/zero"]


def _given_link_out(root: Path, outside: Path) -> list[str]:
    target = outside / "elsewhere.json"
    target.write_text(json.dumps([vendor_record("1")]))
    (root / "labels.json").symlink_to(target)
    return [str(root), "--annotations", str(root / "labels.json")]


def _too_large(root: Path, outside: Path) -> list[str]:
    with open(root / "annotation.json", "r+b") as fh:
        fh.truncate(256 * 2**20 + 1)  # sparse: no disk used, nothing read
    return [str(root)]


FILE_CASES: list[tuple[Callable[[Path, Path], list[str]], str]] = [
    (_link_out, "outside the dataset root"),
    (_folder, "is a folder"),
    (_given_folder, "is a folder"),
    (_given_device, "character device"),
    (_given_link_out, "outside the dataset root"),
    (_too_large, "256 MiB"),
]


@pytest.mark.parametrize(
    ("make", "words"),
    [pytest.param(m, w, id=m.__name__.strip("_").replace("_", "-")) for m, w in FILE_CASES],
)
def test_annotation_file_refused_before_it_is_opened(
    make_dataset: MakeDataset,
    tmp_path: Path,
    make: Callable[[Path, Path], list[str]],
    words: str,
) -> None:
    root = make_dataset(1)
    outside = tmp_path / "outside"
    outside.mkdir()
    args = make(root, outside)
    hostile([*VALIDATE, *args], 2, [words], untouched=[root, outside])


def run_subprocess(args: list[str]) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process with a timeout: a FIFO that blocks fails the test, not CI."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "norwoodkit", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


@pytest.mark.parametrize("given", [False, True], ids=["fifo-annotation", "fifo-given"])
def test_fifo_annotation_never_blocks(make_dataset: MakeDataset, given: bool) -> None:
    root = make_dataset(1)
    (root / "annotation.json").unlink()
    os.mkfifo(root / "annotation.json")
    before = tree(root)
    extra = ["--annotations", str(root / "annotation.json")] if given else []
    done = run_subprocess([*VALIDATE, str(root), *extra])
    assert done.returncode == 2, done.stderr
    assert "FIFO" in done.stderr and "Traceback" not in done.stderr
    assert tree(root) == before


def test_socket_annotation_is_refused(make_dataset: MakeDataset) -> None:
    root = make_dataset(1)
    (root / "annotation.json").unlink()
    here = os.getcwd()
    os.chdir(root)  # a socket's path must be short; bind it by its relative name
    try:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind("annotation.json")
    finally:
        os.chdir(here)
    try:
        hostile([*VALIDATE, root], 2, ["socket"], untouched=[root])
    finally:
        sock.close()


# --------------------------------------------------------------------------- the folder walk


def _bad_name_file(root: Path) -> str:
    fd = os.open(os.fsencode(root / "1") + b"/Extra\xff.jpg", os.O_CREAT | os.O_WRONLY, 0o644)
    os.close(fd)
    return "1/"


def _bad_name_folder(root: Path) -> str:
    os.mkdir(os.fsencode(root) + b"/2\xfe")
    return "\\xfe"


def _bad_name_subfolder(root: Path) -> str:
    os.mkdir(os.fsencode(root / "1") + b"/sub\xff")
    return "\\xff"


def _fifo_view(root: Path) -> str:
    (root / "1" / "Front.jpg").unlink()
    os.mkfifo(root / "1" / "Front.jpg")
    return "FIFO"


def _fifo_loose(root: Path) -> str:
    os.mkfifo(root / "stray.jpg")
    return "FIFO"


def _link_to_fifo(root: Path) -> str:
    os.mkfifo(root / "pipe")
    (root / "1" / "Back.jpg").unlink()
    (root / "1" / "Back.jpg").symlink_to(root / "pipe")
    return "FIFO"


def _link_to_device(root: Path) -> str:
    (root / "1" / "Left.jpg").unlink()
    (root / "1" / "Left.jpg").symlink_to("/dev/zero")
    return "outside the dataset root"


def _socket_view(root: Path) -> str:
    here = os.getcwd()
    os.chdir(root / "1")
    try:
        socket.socket(socket.AF_UNIX).bind("Right.png")
    finally:
        os.chdir(here)
    return "socket"


WALK_CASES = [
    pytest.param(_bad_name_file, "name-not-utf8", id="file-name-not-utf8"),
    pytest.param(_bad_name_folder, "name-not-utf8", id="folder-name-not-utf8"),
    pytest.param(_bad_name_subfolder, "name-not-utf8", id="subfolder-name-not-utf8"),
    pytest.param(_fifo_view, "special-file", id="fifo-as-a-view"),
    pytest.param(_fifo_loose, "special-file", id="fifo-at-the-root"),
    pytest.param(_link_to_fifo, "special-file", id="link-to-a-fifo"),
    pytest.param(_link_to_device, "path-escapes-root", id="link-to-a-device"),
    pytest.param(_socket_view, "special-file", id="socket-as-a-file"),
]


@pytest.mark.parametrize(("plant", "code"), WALK_CASES)
def test_odd_entries_in_the_folder_are_findings(
    make_dataset: MakeDataset, plant: Callable[[Path], str], code: str
) -> None:
    root = make_dataset(1)
    words = plant(root)
    before = tree(root)
    # In a child process: were a FIFO ever opened, the timeout ends the case, not the suite.
    done = run_subprocess([*VALIDATE, str(root), "--json"])
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    findings = json.loads(done.stdout)["findings"]
    hits = [f for f in findings if f["code"] == code]
    assert hits and words in hits[0]["message"], findings
    assert tree(root) == before


def test_non_utf8_names_never_reach_the_table(make_dataset: MakeDataset) -> None:
    root = make_dataset(1)
    _bad_name_file(root)
    _bad_name_folder(root)
    ds = dataset.load(root)
    for value in ds.table.to_numpy().ravel():
        str(value).encode("utf-8")
    for note in ds.notes:
        json.dumps(note.to_dict(), ensure_ascii=False).encode("utf-8")
    result = run([*VALIDATE, root, "--json"])
    check(result, 1)


def test_an_annotation_over_the_size_limit_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from norwoodkit import annotation_text
    from norwoodkit.errors import AnnotationError

    path = tmp_path / "annotation.json"
    path.write_text(json.dumps([{"id": str(i), "label": 2} for i in range(20)]))
    monkeypatch.setattr(annotation_text, "MAX_ANNOTATION_BYTES", path.stat().st_size - 1)
    with pytest.raises(AnnotationError) as caught:
        annotation_text.read_text(path, [])
    assert caught.value.code == "annotation-too-large" and str(path) in str(caught.value)
    monkeypatch.setattr(annotation_text, "MAX_ANNOTATION_BYTES", path.stat().st_size)
    assert json.loads(annotation_text.read_text(path, []))[19]["id"] == "19"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_a_file_longer_than_its_stat_size_is_read_to_the_limit_and_no_further(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """/proc files say size 0 and hold text: the read goes on past what fstat said (as for a
    file that grew while it was read), and still stops at the limit."""
    from norwoodkit import annotation_text
    from norwoodkit.errors import AnnotationError

    status = Path("/proc/self/status")
    assert status.stat().st_size == 0
    assert "VmRSS" in annotation_text.read_text(status, [])
    monkeypatch.setattr(annotation_text, "MAX_ANNOTATION_BYTES", 16)
    with pytest.raises(AnnotationError, match="larger than"):
        annotation_text.read_text(status, [])
