"""Outputs written to object storage (remote_out.py, paths.guard_url), on moto's S3 server.

Every output a URL can take gives the same bytes as the local path; a pack is uploaded manifest
last and verified at its URL; and the safety rules hold: a missing bucket, refused credentials,
an output under the dataset's prefix, a listing that is not ours, ``--resume`` to a URL and a
missing backend each stop the run with exit 2, naming the URL and the fix, writing nothing.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hostile import Watch, check, hostile, run

from conftest import MakeDataset
from norwoodkit import storage
from norwoodkit.errors import OutputError
from norwoodkit.paths import guard_output, guard_url
from s3server import S3

pytest.importorskip("s3fs")


def _fs() -> Any:
    import fsspec

    fs = fsspec.filesystem("s3")
    fs.invalidate_cache()
    return fs


def _objects(s3: S3, *parts: str) -> dict[str, str]:
    """sha256 of every object under ``s3.url(*parts)``, by path relative to it."""
    fs = _fs()
    base = s3.url(*parts).removeprefix("s3://")
    return {p[len(base) + 1 :]: hashlib.sha256(fs.cat_file(p)).hexdigest() for p in fs.find(base)}


def _files(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root``, by POSIX path relative to it."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _pack(root: Path, out: str | Path, *extra: str | Path) -> Any:
    return run(["pack", root, "--out", out, "-q", "--workers", "1", *extra])


# ----------------------------------------------------------------------------- pack and verify


def test_pack_to_s3_is_byte_identical_to_local(s3: S3, clean_sample: Path, tmp_path: Path) -> None:
    local = tmp_path / "x"
    check(_pack(clean_sample, local), 0)
    result = _pack(clean_sample, s3.url("packs", "x"), "--json")
    check(result, 0)
    assert json.loads(result.stdout)["out"] == s3.url("packs", "x")
    files = _files(local)
    assert {"manifest.json", "README.md", "croissant.json"} <= files.keys()
    assert any(k.startswith("data/") for k in files)
    assert _objects(s3, "packs", "x") == files  # the upload record is gone too


def test_verify_reads_a_pack_at_a_url(s3: S3, clean_sample: Path) -> None:
    url = s3.url("packs", "v")
    check(_pack(clean_sample, url), 0)
    result = run(["verify", url, "-q"])
    check(result, 0)
    assert f"OK: {url}: every shard matches" in result.stdout
    fs = _fs()
    shard = next(p for p in fs.find(url.removeprefix("s3://")) if "/data/" in p)
    data = bytearray(fs.cat_file(shard))
    data[len(data) // 2] ^= 0xFF
    fs.pipe_file(shard, bytes(data))
    check(run(["verify", url, "-q"]), 1, ["sha256 differs from manifest.json"], where="stdout")
    fs.rm_file(url.removeprefix("s3://") + "/manifest.json")
    check(run(["verify", url, "-q"]), 2, [f"{url}: no manifest.json", "--overwrite"])


def test_library_pack_write_and_verify_take_a_url(s3: S3, clean_sample: Path) -> None:
    from norwoodkit import pack
    from norwoodkit.source import DatasetSource

    source = DatasetSource(root=clean_sample, workers=1)
    probed = source.probe(source.load())
    result = pack.write(probed, s3.url("lib"), pack.PackOptions(workers=1))
    assert result.to_dict()["out"] == s3.url("lib")
    assert pack.verify(s3.url("lib")) == []


def test_overwrite_at_a_url_deletes_only_listed_shards(
    s3: S3, clean_sample: Path, tmp_path: Path
) -> None:
    url = s3.url("packs", "o")
    splits = tmp_path / "s.csv"
    check(run(["split", clean_sample, "-o", splits, "--ratios", "70,30", "-q"]), 0)
    check(_pack(clean_sample, url, "--splits", splits), 0)
    before = _objects(s3, "packs", "o")
    others = {k for k in before if k.startswith("data/") and not k.startswith("data/train-")}
    assert others  # the second split's shards, which an unsplit pack does not have
    _fs().pipe_file(url.removeprefix("s3://") + "/notes.txt", b"mine")
    check(_pack(clean_sample, url), 2, ["holds objects already", "--overwrite"])
    assert _objects(s3, "packs", "o") == {**before, "notes.txt": _sha(b"mine")}
    check(_pack(clean_sample, url, "--overwrite"), 0)
    after = _objects(s3, "packs", "o")
    assert after.pop("notes.txt") == _sha(b"mine")  # not ours: left alone
    assert not others & after.keys()
    check(_pack(clean_sample, tmp_path / "unsplit"), 0)
    assert after == _files(tmp_path / "unsplit")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("objects", "words"),
    [
        ({"data/train-00000-of-00001.parquet": b"theirs"}, ["not written by `norwoodkit pack`"]),
        ({"README.md": b"# theirs"}, ["README.md: not written by"]),
        (
            {"manifest.json": json.dumps({"splits": {"t": {"shards": [{"path": "../x"}]}}})},
            ["lists '../x', which is not a shard of this pack"],
        ),
        ({"manifest.json": b"{not json"}, ["cannot be read as a record"]),
    ],
    ids=["foreign-shard", "foreign-card", "listing-outside", "garbage-manifest"],
)
def test_overwrite_refuses_what_is_not_provably_ours(
    s3: S3, clean_sample: Path, objects: dict[str, Any], words: list[str]
) -> None:
    url = s3.url("packs", "f")
    fs = _fs()
    for rel, data in objects.items():
        fs.pipe_file(
            f"{url.removeprefix('s3://')}/{rel}", data.encode() if isinstance(data, str) else data
        )
    before = _objects(s3, "packs", "f")
    hostile(
        ["pack", clean_sample, "--out", url, "--overwrite", "-q"],
        2,
        words,
        untouched=[clean_sample],
    )
    assert _objects(s3, "packs", "f") == before


def test_resume_to_a_url_is_refused(s3: S3, clean_sample: Path) -> None:
    url = s3.url("packs", "r")
    hostile(
        ["pack", clean_sample, "--out", url, "--resume", "-q"],
        2,
        [url, "--resume works on local folders only", "--overwrite"],
        untouched=[clean_sample],
    )
    assert _objects(s3, "packs", "r") == {}


# ----------------------------------------------------------------------------- single files


def test_split_to_s3_writes_the_same_bytes(s3: S3, clean_sample: Path, tmp_path: Path) -> None:
    args: list[str | Path] = ["split", clean_sample, "--ratios", "70,30", "-q"]
    check(run([*args, "-o", tmp_path / "s.csv", "--images", tmp_path / "i.parquet"]), 0)
    check(run([*args, "-o", s3.url("s.csv"), "--images", s3.url("out", "i.parquet")]), 0)
    found = _objects(s3)
    assert found == {
        "s.csv": _files(tmp_path)["s.csv"],
        "out/i.parquet": _files(tmp_path)["i.parquet"],
    }
    hostile([*args, "-o", s3.url("s.txt")], 2, [f"{s3.url('s.txt')}: unknown file type"])


def test_dedupe_tables_to_s3_write_the_same_bytes(
    s3: S3, defect_sample: Path, tmp_path: Path
) -> None:
    args: list[str | Path] = ["dedupe", defect_sample, "-q"]
    names = {"--pairs": "p.csv", "--groups": "g.parquet", "--exclude-list": "x.json"}
    local = [a for flag, name in names.items() for a in (flag, tmp_path / name)]
    remote = [a for flag, name in names.items() for a in (flag, s3.url("d", name))]
    assert run([*args, *local]).exit_code == run([*args, *remote]).exit_code
    assert _objects(s3, "d") == _files(tmp_path)
    hostile([*args, "--pairs", s3.url("d", "p.txt")], 2, [f"{s3.url('d', 'p.txt')}: unknown file"])


def test_report_to_s3_writes_the_same_bytes(s3: S3, clean_sample: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    check(run(["report", clean_sample, "-o", tmp_path / "r.html", "-q"]), 0)
    result = run(["report", clean_sample, "-o", s3.url("r.html"), "-q", "--json"])
    check(result, 0)
    doc = json.loads(result.stdout)
    assert doc["out"] == s3.url("r.html") and doc["bytes"] == (tmp_path / "r.html").stat().st_size
    assert _objects(s3) == {"r.html": _files(tmp_path)["r.html"]}


def test_stats_outputs_to_s3_write_the_same_bytes(
    s3: S3, clean_sample: Path, tmp_path: Path
) -> None:
    check(run(["stats", clean_sample, "--markdown", tmp_path / "s.md", "--csv", tmp_path / "c"]), 0)
    check(run(["stats", clean_sample, "--markdown", s3.url("s.md"), "--csv", s3.url("c")]), 0)
    assert _objects(s3) == _files(tmp_path)


def test_ci_reports_to_s3_write_the_same_bytes(
    s3: S3, make_dataset: MakeDataset, tmp_path: Path
) -> None:
    root = make_dataset(subjects=3)
    (reports := tmp_path / "reports").mkdir()
    local: list[str | Path] = ["--junit", reports / "v.xml", "--sarif", reports / "v.sarif"]
    check(run(["validate", root, "-q", *local]), 0)
    remote = ["--junit", s3.url("v.xml"), "--sarif", s3.url("v.sarif")]
    check(run(["validate", root, "-q", *remote]), 0)
    assert _objects(s3) == _files(reports)


def test_verify_refuses_a_report_inside_the_pack_url(s3: S3, make_dataset: MakeDataset) -> None:
    root = make_dataset(subjects=3)
    url = s3.url("packs", "j")
    check(_pack(root, url), 0)
    before = _objects(s3)
    hostile(["verify", url, "--junit", f"{url}/j.xml"], 2, [f"{url}/j.xml", "inside the dataset"])
    assert _objects(s3) == before


# ----------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "args",
    [
        ["pack", "{root}", "--out", "{url}/packs/x"],
        ["split", "{root}", "--out", "{url}/s.csv"],
        ["stats", "{root}", "--markdown", "{url}/s.md"],
        ["stats", "{root}", "--csv", "{url}/csv"],
        ["report", "{root}", "--out", "{url}/r.html"],
    ],
    ids=["pack", "split", "stats-markdown", "stats-csv", "report"],
)
def test_a_missing_bucket_is_refused_before_any_work(
    s3: S3, make_dataset: MakeDataset, args: list[str]
) -> None:
    if args[0] == "report":
        pytest.importorskip("matplotlib")
    root = make_dataset(subjects=2)
    url = "s3://nk-no-such-bucket"
    line = [a.format(root=root, url=url) for a in args]
    hostile(
        [*line, "-q"],
        2,
        [f"{url}/", "the bucket 'nk-no-such-bucket' does not exist", "check the URL"],
        untouched=[root],
    )


def test_a_file_output_where_objects_lie_is_refused(s3: S3, make_dataset: MakeDataset) -> None:
    root = make_dataset(subjects=2)
    _fs().pipe_file(f"{s3.bucket}/taken/x.csv", b"x")
    hostile(["split", root, "-o", s3.url("taken"), "-q"], 2, [s3.url("taken"), "is a folder"])
    hostile(["pack", root, "--out", s3.url("taken", "x.csv"), "-q"], 2, ["is an object"])


def test_an_output_under_the_dataset_prefix_is_refused(s3: S3, tmp_path: Path) -> None:
    data = storage.locate(s3.url("data"), parameter="root")
    inside = storage.locate(s3.url("data", "packs", "x"), parameter="out")
    for where in (data, inside):
        with pytest.raises(OutputError, match="inside the dataset") as info:
            guard_url(where, "out", dataset_root=data, kind="folder")
        assert info.value.code == "output-inside-dataset" and where.url in str(info.value)
    beside = storage.locate(s3.url("database"), parameter="out")
    assert guard_url(beside, "out", dataset_root=data, kind="folder") == beside
    assert guard_url(inside, "out", dataset_root=tmp_path, kind="folder") == inside  # no clash
    here = tmp_path / "x.csv"
    assert guard_output(here, "out", dataset_root=data, kind="file", inputs=[data]) == here
    ann = storage.locate(s3.url("a.json"), parameter="annotations")
    with pytest.raises(OutputError, match="is also an input") as info:
        guard_url(ann, "out", dataset_root=None, kind="file", inputs=[tmp_path, ann])
    assert info.value.code == "output-is-input"


def test_a_missing_backend_names_the_package(
    make_dataset: MakeDataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "gcsfs", None)  # as if not installed
    root = make_dataset(subjects=2)
    hostile(
        ["pack", root, "--out", "gs://bucket/packs/x", "-q"],
        2,
        ["--out", "gs://bucket/packs/x", "pip install gcsfs"],
        untouched=[root],
    )


# ----------------------------------------------------------------------------- refused writes


@pytest.fixture
def auth(s3: S3, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """moto checking every request against IAM from now on; yields an IAM user's keys that may
    do anything but PUT an object named manifest.json."""
    import s3fs
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    boto3 = pytest.importorskip("boto3")  # moto's own dependency

    iam = boto3.client("iam", endpoint_url=s3.endpoint)
    user = f"packer-{s3.bucket}"
    iam.create_user(UserName=user)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::*/manifest.json",
            },
        ],
    }
    iam.put_user_policy(UserName=user, PolicyName="no-manifest", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    monkeypatch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    monkeypatch.setattr(ActionAuthenticatorMixin, "request_count", 0)
    s3fs.S3FileSystem.clear_instance_cache()  # instances hold the keys they were made with
    yield {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
    s3fs.S3FileSystem.clear_instance_cache()


def test_wrong_credentials_name_the_permission_never_the_secret(
    s3: S3, auth: dict[str, str], make_dataset: MakeDataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_dataset(subjects=2)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-never-shown")
    result = hostile(
        ["pack", root, "--out", s3.url("packs", "w"), "-q"],
        2,
        [s3.url("packs", "w"), "the store refused", "s3:ListBucket", "AWS_ACCESS_KEY_ID"],
        untouched=[root],
    )
    assert "s3cr3t" not in result.stderr + result.stdout


def test_a_refused_manifest_put_leaves_no_manifest(
    s3: S3,
    auth: dict[str, str],
    clean_sample: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The upload stops at the manifest (the store refuses that one PUT): shards are there, no
    manifest, so nothing takes it for a pack; the upload record lets --overwrite finish it."""
    import s3fs

    for name, value in auth.items():
        monkeypatch.setenv(name, value)
    url = s3.url("packs", "i")
    staging = tmp_path / "tmp"
    staging.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(staging))  # where the pack is staged
    watch = Watch((clean_sample,))
    check(_pack(clean_sample, url), 2, [f"{url}/manifest.json", "refused to write", "s3:PutObject"])
    assert watch.changed() == []
    assert list(staging.iterdir()) == []  # the staged pack is gone too
    left = _objects(s3, "packs", "i")
    assert "manifest.json" not in left and any(k.startswith("data/") for k in left)
    assert ".norwoodkit-pack/upload.json" in left
    check(run(["verify", url, "-q"]), 2, ["no manifest.json"])
    monkeypatch.setattr("moto.settings.INITIAL_NO_AUTH_ACTION_COUNT", float("inf"))
    s3fs.S3FileSystem.clear_instance_cache()
    check(_pack(clean_sample, url, "--overwrite"), 0)
    check(_pack(clean_sample, tmp_path / "i"), 0)
    assert _objects(s3, "packs", "i") == _files(tmp_path / "i")
