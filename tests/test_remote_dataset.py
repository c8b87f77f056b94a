"""Datasets read from object storage (moto's S3 server): the same results as the local folder,
the probe cache keyed by what the store gives, and every bad URL refused with exit 2."""

from __future__ import annotations

import json
import logging
import re
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile import check, run

from conftest import MakeDataset
from norwoodkit import dataset, storage
from norwoodkit.errors import InputError
from norwoodkit.labels import View
from norwoodkit.report.enlarge import enlarge
from s3server import S3

pytest.importorskip("s3fs")


def _upload(root: Path, url: str) -> None:
    where = storage.locate(url, parameter="root")
    where.fs.put(f"{root}/", f"{where.path}/", recursive=True)


def _same(args: list[str], local: Path, url: str) -> dict[str, object]:
    """Run a command on the folder and on its copy in the store; both documents and codes."""
    a = run([args[0], str(local), *args[1:], "--json", "-q"])
    b = run([args[0], url, *args[1:], "--json", "-q"])
    assert a.exit_code == b.exit_code, (a.stderr, b.stderr)
    assert a.exit_code in (0, 1), a.stderr
    assert json.loads(a.stdout) == json.loads(b.stdout)
    doc: dict[str, object] = json.loads(b.stdout)
    return doc


def test_clean_sample_same_results(clean_sample: Path, s3: S3) -> None:
    _upload(clean_sample, s3.url("sample"))
    for args in (["validate"], ["dedupe"], ["stats"], ["split", "--ratios", "70,30"]):
        _same(args, clean_sample, s3.url("sample"))


@pytest.fixture
def messy(make_dataset: MakeDataset) -> Path:
    """A dataset with what a store can hold wrong: junk, strays, a missing view, a corrupt and
    a duplicated photo, a folder that is no subject, files/ as the image root."""
    root = make_dataset(
        subjects=6,
        shape="csv",
        missing_view=("2", View.LEFT),
        corrupt={("3", View.BACK): b"\xff\xd8\xff not a jpeg"},
    )
    files = root / "files"
    (files / "4" / ".DS_Store").write_bytes(b"\x00junk")
    (files / "4" / "notes.txt").write_text("retake the left view\n")
    (files / "4" / "extra").mkdir()
    (files / "4" / "extra" / "Front.jpg").write_bytes((files / "1" / "Front.jpg").read_bytes())
    (files / "__MACOSX").mkdir()
    (files / "__MACOSX" / "._1").write_bytes(b"\x00")
    (files / "misc").mkdir()
    (files / "misc" / "a.jpg").write_bytes(b"x")
    (files / "loose.jpg").write_bytes((files / "5" / "Top-Down.jpg").read_bytes())
    return root


def test_messy_dataset_same_findings(messy: Path, s3: S3) -> None:
    url = s3.url(messy.name)  # stats names the dataset by its folder
    _upload(messy, url)
    doc = _same(["validate"], messy, url)
    codes = {f["code"] for f in doc["findings"]}  # type: ignore[attr-defined]
    assert {"junk-file", "unexpected-file", "extra-image", "view-missing"} <= codes
    _same(["dedupe"], messy, url)
    _same(["stats"], messy, url)


def test_walk_of_listing_equals_folder_walk(messy: Path, s3: S3) -> None:
    _upload(messy, s3.url("messy"))
    local = dataset.load(messy)
    remote = dataset.load(storage.locate(s3.url("messy"), parameter="root"))
    assert remote.image_root == local.image_root == "files"
    assert remote.notes == local.notes
    assert remote.table.equals(local.table)
    assert isinstance(remote.annotation_file, storage.Location)
    assert remote.annotation_file.url == s3.url("messy", "annotation.csv")


def test_annotations_url_with_local_root_and_back(clean_sample: Path, s3: S3) -> None:
    _upload(clean_sample, s3.url("sample"))
    ann = clean_sample / "annotation.json"
    base = run(["validate", str(clean_sample), "--json", "-q"])
    mixed = run(["validate", str(clean_sample), "-a", s3.url("sample", "annotation.json")])
    back = run(["validate", s3.url("sample"), "-a", str(ann), "--json", "-q"])
    assert mixed.exit_code == base.exit_code == back.exit_code, mixed.stderr + back.stderr
    assert json.loads(back.stdout) == json.loads(base.stdout)


@pytest.fixture
def gets(s3_server: str) -> Iterator[list[str]]:
    """The GET request lines moto's server logs while a test runs (image bodies included)."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage()
            if "GET /" in text:
                lines.append(text)

    log = logging.getLogger("werkzeug")
    handler, level = Keep(), log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


def _image_gets(lines: list[str]) -> list[str]:
    return [line for line in lines if ".jpg" in line]


def test_second_run_fetches_no_image_and_a_changed_object_is_probed_again(
    clean_sample: Path, s3: S3, gets: list[str]
) -> None:
    url = s3.url("sample")
    _upload(clean_sample, url)
    first = run(["validate", url, "--json", "-q"])
    assert first.exit_code == 0, first.stderr
    assert len(_image_gets(gets)) == 150
    gets.clear()
    second = run(["validate", url, "--json", "-q"])
    assert second.stdout == first.stdout and _image_gets(gets) == []
    # A new body under the same key: a new ETag, so that one object (only) is probed again.
    where = storage.locate(s3.url("sample", "7", "Front.jpg"), parameter="root")
    where.fs.pipe_file(where.path, b"\xff\xd8\xff broken now")
    gets.clear()
    third = run(["validate", url, "--json", "-q"])
    assert third.exit_code == 1, third.stderr
    assert [line for line in _image_gets(gets) if "/7/Front.jpg" in line] == _image_gets(gets)
    assert len(_image_gets(gets)) == 1
    doc = json.loads(third.stdout)
    assert any(f["path"] == "7/Front.jpg" for f in doc["findings"])


def test_enlarge_fetches_and_checks_the_hash(clean_sample: Path, s3: S3) -> None:
    _upload(clean_sample, s3.url("sample"))
    where = storage.locate(s3.url("sample"), parameter="root")
    import hashlib

    sha = hashlib.sha256((clean_sample / "1" / "Front.jpg").read_bytes()).hexdigest()
    big = enlarge(where, "1/Front.jpg", sha, 64)
    assert big.jpeg is not None and big.jpeg[:2] == b"\xff\xd8"
    assert "sha256 differs" in enlarge(where, "1/Front.jpg", "0" * 64, 64).note
    assert "could not be fetched again" in enlarge(where, "1/Nothing.jpg", sha, 64).note


def test_report_enlarges_photos_fetched_from_the_store(
    make_dataset: MakeDataset, s3: S3, tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib")
    from norwoodkit import probe, report

    local = make_dataset(subjects=2)
    _upload(local, s3.url("two"))
    where = storage.locate(s3.url("two"), parameter="root")
    ds = probe.run(dataset.load(where), cache_dir=tmp_path / "cache", workers=2)
    text = report.build(ds, findings=())
    shown = re.findall(r'<div class=zoom id="zoom-\d+">(.*?)</div>', text.split("</main>")[1], re.S)
    assert len(shown) == 10  # every photo read back from the store: an overlay each
    assert "not shown:" not in text


# --------------------------------------------------------------------------- bad input


def test_bucket_that_does_not_exist(s3: S3) -> None:
    r = run(["validate", "s3://nk-no-such-bucket/data", "-q"])
    check(r, 2, ["s3://nk-no-such-bucket/data", "bucket 'nk-no-such-bucket' does not exist"])


def test_prefix_with_nothing_in_it(s3: S3) -> None:
    r = run(["stats", s3.url("empty"), "-q"])
    check(r, 2, [s3.url("empty"), "no objects under this URL", "check the bucket and the prefix"])


def test_no_annotation_in_the_store(clean_sample: Path, s3: S3) -> None:
    where = storage.locate(s3.url("noann", "1", "Front.jpg"), parameter="root")
    where.fs.pipe_file(where.path, (clean_sample / "1" / "Front.jpg").read_bytes())
    r = run(["validate", s3.url("noann"), "-q"])
    check(r, 2, [s3.url("noann"), "no annotation file found", "--annotations"])


def test_annotations_url_that_does_not_exist(clean_sample: Path, s3: S3) -> None:
    r = run(["validate", str(clean_sample), "-a", s3.url("none.json"), "-q"])
    check(r, 2, [s3.url("none.json"), "no such object", "check the URL"])


@pytest.fixture
def enforced_auth(s3: S3) -> Iterator[None]:
    """moto checks every request's credentials from now on (its keys: none known)."""

    def reset(count: str) -> None:
        request = urllib.request.Request(
            f"{s3.endpoint}/moto-api/reset-auth",
            data=count.encode(),
            headers={"Content-Type": "text/plain"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200

    reset("0")
    try:
        yield
    finally:
        reset("inf")


def test_wrong_credentials_name_the_permission_never_the_secret(
    clean_sample: Path, s3: S3, enforced_auth: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-never-shown")
    r = run(["validate", s3.url("sample"), "-q"])
    check(r, 2, [s3.url("sample"), "s3:ListBucket", "AWS_PROFILE"])
    assert "s3cr3t-never-shown" not in r.stderr + r.stdout


def test_missing_backend_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gcsfs", None)  # as if gcsfs were not installed
    r = run(["validate", "gs://bucket/data", "-q"])
    check(r, 2, ["gs://bucket/data", "pip install gcsfs"])
    r = run(["dedupe", "ignored", "-a", "gs://bucket/ann.json", "-q"])
    check(r, 2, ["gs://bucket/ann.json", "pip install gcsfs"])


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_pack_from_a_store_root_is_the_local_pack(
    clean_sample: Path, s3: S3, tmp_path: Path
) -> None:
    """pack reads a dataset in the store as it reads the folder (cold, then warm; photos
    turned upright in pool workers that fetch their own bytes): the same files, byte for byte."""
    url = s3.url("sample")
    _upload(clean_sample, url)
    local, remote, warm = tmp_path / "local", tmp_path / "remote", tmp_path / "warm"
    check(run(["pack", str(clean_sample), "--out", str(local), "--no-cache", "-q"]), 0)
    check(run(["pack", url, "--out", str(remote), "-q", "--workers", "2"]), 0)
    check(run(["pack", url, "--out", str(warm), "-q", "--workers", "1"]), 0)
    a, b, c = _tree_bytes(local), _tree_bytes(remote), _tree_bytes(warm)
    manifests = [json.loads(m.pop("manifest.json")) for m in (a, b, c)]
    assert a == b == c  # shards, card, croissant.json
    assert [m.pop("source")["root"] for m in manifests] == [str(clean_sample), url, url]
    assert manifests[0] == manifests[1] == manifests[2]
    check(run(["verify", str(remote), "-q"]), 0)


def test_pack_from_a_store_names_an_object_gone_since_the_probe(
    clean_sample: Path, s3: S3, tmp_path: Path
) -> None:
    url = s3.url("sample")
    _upload(clean_sample, url)
    check(run(["validate", url, "-q"]), 0)  # the probe cache now vouches for every object
    gone = storage.locate(url, parameter="root").join("1", "Front.jpg")
    out = tmp_path / "out"
    from norwoodkit import pack as pack_lib
    from norwoodkit.source import DatasetSource

    source = DatasetSource(root=storage.locate(url, parameter="root"))
    probed = source.open()
    gone.fs.rm_file(gone.path)
    with pytest.raises(InputError, match=r"1/Front\.jpg.*no longer in the store.*validate"):
        pack_lib.write(probed, out)
    assert not (out / "manifest.json").exists()
