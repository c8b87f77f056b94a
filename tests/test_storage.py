"""storage.py: URLs to places, a missing backend named, a store's refusal named, on a real
S3-compatible server (moto's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from norwoodkit import storage
from norwoodkit.errors import InputError, ParameterError
from s3server import S3


def test_local_paths_and_file_urls_stay_paths(tmp_path: Path) -> None:
    assert storage.place(str(tmp_path), parameter="root") == tmp_path
    assert storage.place(f"file://{tmp_path}", parameter="root") == tmp_path
    assert storage.place(tmp_path, parameter="root") == tmp_path
    assert not storage.is_url("C:/data") and not storage.is_url(tmp_path)
    assert storage.is_url("s3://bucket/x") and storage.is_url("memory://x")


def test_unknown_scheme_is_a_parameter_error() -> None:
    with pytest.raises(ParameterError, match="no filesystem serves nosuch://"):
        storage.locate("nosuch://bucket/x", parameter="root")


def test_missing_backend_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "gcsfs", None)  # as if not installed
    with pytest.raises(storage.BackendMissingError, match="pip install gcsfs") as info:
        storage.locate("gs://bucket/data", parameter="root")
    assert info.value.exit_code == 2 and info.value.parameter == "root"


def test_location_join_and_under() -> None:
    where = storage.locate("memory://nk/data/", parameter="root")
    assert where.url == "memory://nk/data"
    shard = where.join("out", "x.parquet")
    assert shard.url == "memory://nk/data/out/x.parquet" and shard.under(where)
    assert not storage.locate("memory://nk/database", parameter="out").under(where)
    assert shard.name == "x.parquet"


def test_missing_bucket_and_object_name_the_url(s3: S3) -> None:
    where = storage.locate(s3.url("nothing", "here.json"), parameter="root")
    with pytest.raises(FileNotFoundError) as info:
        where.fs.cat_file(where.path)
    error = storage.storage_error(info.value, where, "read")
    assert isinstance(error, InputError) and s3.url("nothing", "here.json") in str(error)
    other = storage.locate("s3://no-such-bucket-nk/x", parameter="root")
    with pytest.raises(FileNotFoundError) as info:
        other.fs.cat_file(other.path)
    error = storage.storage_error(info.value, other, "read")
    assert "bucket 'no-such-bucket-nk' does not exist" in str(error)


def test_refusal_names_the_permission_never_the_secret() -> None:
    where = storage.locate("s3://bucket/data/x.parquet", parameter="out")
    exc = PermissionError("An error occurred (AccessDenied) signature=SECRETSIG")
    error = storage.storage_error(exc, where, "write")
    assert "s3:PutObject" in str(error) and "s3://bucket/data/x.parquet" in str(error)
    assert "SECRETSIG" not in str(error) and error.exit_code == 2
