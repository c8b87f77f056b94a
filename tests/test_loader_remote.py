"""The loader reading a pack from a URL (moto's S3 server): the same epochs as the local folder,
a bounded local cache shared by workers, resume, and every bad input named."""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hostile import Watch, check, run

from norwoodkit import dataset, pack, probe, storage
from norwoodkit.errors import InputError, ParameterError
from s3server import S3

torch = pytest.importorskip("torch")

from torch.utils.data import DataLoader  # noqa: E402

from norwoodkit.loader import ShardDataset, ShardIndex  # noqa: E402
from norwoodkit.loader.cache import ShardCache, cached_bytes  # noqa: E402
from norwoodkit.loader.remote import cache_folder, open_pack  # noqa: E402

Epoch = list[tuple[str, bool, bytes]]  # (path, padded, image bytes) in the order handed out


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def packed(clean_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local pack of the clean sample: 26 train subjects in about ten shards of ~400 kB."""
    base = tmp_path_factory.mktemp("remote")
    ds = probe.run(dataset.load(clean_sample), cache_dir=base / "probe", workers=1)
    ids = sorted(ds.images["subject_id"].astype(str).unique(), key=int)
    splits = pd.DataFrame(
        {"subject_id": ids, "split": ["train" if i < 26 else "test" for i in range(len(ids))]}
    )
    opts = pack.PackOptions(
        shard_size=pack.parse_size("400KB"),
        rows_per_group=10,
        workers=1,
        orientation=pack.Orientation.KEEP,
    )
    pack.write(ds, base / "pack", opts, splits=splits)
    return base / "pack"


def upload(s3: S3, local: Path, name: str = "packs/x") -> str:
    """Put the pack folder into the test's bucket, as a user uploads one; returns its URL."""
    where = storage.locate(s3.url(name), parameter="out")
    where.fs.put(str(local), where.path, recursive=True)
    return s3.url(name)


def store_state(s3: S3) -> dict[str, str]:
    """Every object in the bucket with the sha256 of its bytes."""
    where = storage.locate(s3.url(), parameter="out")
    return {
        p: hashlib.sha256(where.fs.cat_file(p)).hexdigest()
        for p in sorted(where.fs.find(s3.bucket))
    }


def epoch(ds: ShardDataset, num_workers: int) -> Epoch:
    """One epoch through a real DataLoader: (path, padded, image bytes) in the order handed out."""
    out = []
    for images, _, meta in DataLoader(ds, batch_size=4, num_workers=num_workers):
        for k in range(len(meta["path"])):
            out.append((meta["path"][k], bool(meta["padded"][k]), images[k].numpy().tobytes()))
    return out


def ranks(
    directory: str | Path, epoch_no: int = 0, **kw: Any
) -> list[list[tuple[str, bool, bytes]]]:
    """Both ranks' epochs of a 2 ranks x 2 workers run, each through a DataLoader with workers."""
    out = []
    for rank in range(2):
        ds = ShardDataset(directory, size=32, seed=5, rank=rank, world_size=2, **kw)
        ds.set_epoch(epoch_no)
        out.append(epoch(ds, num_workers=2))
    return out


def shard_files(folder: Path) -> dict[str, int]:
    """The cached shard files by name, with their inode (a new download is a new file)."""
    return {f.name: f.stat().st_ino for f in folder.glob("data/*") if f.is_file()}


# --------------------------------------------------------------------------- same epochs


def test_epoch_from_s3_equals_the_local_epoch_over_ranks_and_workers(
    s3: S3, packed: Path, tmp_path: Path
) -> None:
    url = upload(s3, packed)
    before = store_state(s3)
    watch = Watch((packed,))
    local = ranks(packed)
    remote = ranks(url, cache_dir=tmp_path)
    assert remote == local
    assert sum(len(r) for r in remote) >= 130 and len(remote[0]) == len(remote[1])
    assert watch.changed() == [] and store_state(s3) == before


def test_second_epoch_reads_no_shard_from_the_store(s3: S3, packed: Path, tmp_path: Path) -> None:
    url = upload(s3, packed)
    first = ranks(url, cache_dir=tmp_path)
    assert first == ranks(packed)
    folder = next((tmp_path / "shards").iterdir())
    files = shard_files(folder)
    assert len(files) == len(list(packed.glob("data/train-*")))
    # with the shards gone from the store, any read of one would fail
    where = storage.locate(url, parameter="directory")
    where.fs.rm(where.join("data").path, recursive=True)
    assert ranks(url, epoch_no=1, cache_dir=tmp_path) == ranks(packed, epoch_no=1)
    assert shard_files(folder) == files
    assert not list(folder.glob("data/.*.part"))


def test_shard_index_from_s3_equals_local(s3: S3, packed: Path, tmp_path: Path) -> None:
    url = upload(s3, packed)
    remote = ShardIndex(url, "test", size=32, cache_dir=tmp_path)
    local = ShardIndex(packed, "test", size=32)
    assert len(remote) == len(local)
    for i in (0, len(local) - 1, 3, -2):
        a, b = remote[i], local[i]
        assert torch.equal(a[0], b[0]) and a[2]["path"] == b[2]["path"]


# --------------------------------------------------------------------------- bounded cache


def test_cache_limit_of_two_shards_holds_at_most_the_limit_every_step(
    s3: S3, packed: Path, tmp_path: Path
) -> None:
    url = upload(s3, packed)
    largest = max(f.stat().st_size for f in packed.glob("data/*.parquet"))
    limit = 2 * largest
    ds = ShardDataset(url, size=32, seed=2, cache_dir=tmp_path, cache_limit=limit)
    folder = ds.split.root
    seen = []
    paths = []
    for _, _, meta in ds:
        seen.append(cached_bytes(folder))
        paths.append(meta["path"])
    assert paths == [m["path"] for _, _, m in ShardDataset(packed, size=32, seed=2)]
    assert max(seen) <= limit and max(seen) > 0
    assert len(shard_files(folder)) <= 2 < len(ds.split.shards)


def test_cache_limit_text_and_evicts_least_recently_used(
    s3: S3, packed: Path, tmp_path: Path
) -> None:
    url = upload(s3, packed)
    largest = max(f.stat().st_size for f in packed.glob("data/train-*.parquet"))
    kilobytes = -(-2 * largest // 1000)  # room for two shards, written as text
    split = open_pack(url, "train", cache_dir=tmp_path, cache_limit=f"{kilobytes}kB")
    cache = split.cache
    assert cache is not None and cache.limit == kilobytes * 1000
    for s in (0, 1):
        cache.acquire(s)
        cache.release(s)
    cache.acquire(0)  # shard 1 is now the least recently used
    cache.release(0)
    cache.acquire(2)
    cache.release(2)
    assert cache.local(0).is_file() and not cache.local(1).exists()
    # a shard someone holds is never evicted, however cold
    cache.acquire(0)
    for s in range(1, len(split.shards)):
        cache.acquire(s)
        cache.release(s)
        assert cache.local(0).is_file() and cached_bytes(split.root) <= cache.limit
    cache.close()


def test_concurrent_readers_download_a_shard_once(
    s3: S3, packed: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = upload(s3, packed)
    split = open_pack(url, "train", cache_dir=tmp_path)
    assert split.cache is not None
    where, folder = split.cache.where, split.root
    records = [r for r in _records(packed)]
    # four caches on one folder, as four worker processes have: their file locks are separate
    caches = [ShardCache(where, folder, records, None) for _ in range(4)]
    got: list[bytes] = []
    barrier = threading.Barrier(4)

    def read(cache: ShardCache) -> None:
        barrier.wait()
        got.append(cache.acquire(1).read_bytes())
        cache.release(1)

    caplog.set_level(logging.DEBUG, logger="norwoodkit.loader.cache")
    threads = [threading.Thread(target=read, args=(c,)) for c in caches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    downloads = [r for r in caplog.records if r.getMessage().startswith("downloaded")]
    assert len(downloads) == 1
    assert got == [(packed / split.shards[1]).read_bytes()] * 4


def test_download_left_half_done_by_a_killed_process_is_removed(
    s3: S3, packed: Path, tmp_path: Path
) -> None:
    url = upload(s3, packed)
    split = open_pack(url, "train", cache_dir=tmp_path)
    assert split.cache is not None
    final = split.cache.local(0)
    final.parent.mkdir(parents=True)
    stale = final.with_name(f".{final.name}.99999-1.part")
    stale.write_bytes(b"half a shard")
    assert split.cache.acquire(0).read_bytes() == (packed / split.shards[0]).read_bytes()
    split.cache.close()
    assert not stale.exists()


def _records(packed: Path) -> list[dict[str, Any]]:
    from norwoodkit.pack import read_manifest

    return list(read_manifest(packed)["splits"]["train"]["shards"])


# --------------------------------------------------------------------------- resume


def test_resume_state_from_s3_is_the_local_one(s3: S3, packed: Path, tmp_path: Path) -> None:
    url = upload(s3, packed)

    def interrupted(directory: str | Path) -> tuple[list[str], dict[str, Any], list[str]]:
        ds = ShardDataset(directory, size=32, seed=7, cache_dir=tmp_path)
        it = iter(ds)
        head = [next(it)[2]["path"] for _ in range(37)]
        state = ds.state_dict()
        again = ShardDataset(directory, size=32, seed=7, cache_dir=tmp_path)
        again.load_state_dict(state)
        return head, state, [m["path"] for _, _, m in again]

    remote, local = interrupted(url), interrupted(packed)
    assert remote == local
    head, _, rest = remote
    assert sorted(head + rest) == sorted(m["path"] for _, _, m in ShardDataset(packed, size=32))
    # a state saved while reading from the store resumes the local folder too (same pack)
    elastic = ShardDataset(url, size=32, seed=7, cache_dir=tmp_path)
    state = elastic.state_after_batches(3, 4, num_workers=2)
    onto = [
        ShardDataset(url, size=32, seed=7, cache_dir=tmp_path, worker_id=w, num_workers=3)
        for w in range(3)
    ]
    for ds in onto:
        ds.load_state_dict(state)
    rest_s3 = sorted(m["path"] for ds in onto for _, _, m in ds)
    same = [ShardDataset(packed, size=32, seed=7, worker_id=w, num_workers=3) for w in range(3)]
    for ds in same:
        ds.load_state_dict(state)
    assert rest_s3 == sorted(m["path"] for ds in same for _, _, m in ds)


# --------------------------------------------------------------------------- bad input


def test_missing_bucket_names_the_url(s3: S3, tmp_path: Path) -> None:
    url = "s3://no-such-bucket-nk/packs/x"
    with pytest.raises(InputError, match="bucket 'no-such-bucket-nk' does not exist") as info:
        ShardDataset(url, cache_dir=tmp_path)
    assert url in str(info.value) and info.value.exit_code == 2
    assert not (tmp_path / "shards").exists()


def test_missing_pack_url_says_nothing_is_there(s3: S3, tmp_path: Path) -> None:
    url = s3.url("packs", "never-uploaded")
    with pytest.raises(InputError, match="nothing there") as info:
        ShardDataset(url, cache_dir=tmp_path)
    assert url in str(info.value) and "check the URL" in str(info.value)


def test_interrupted_upload_without_manifest(s3: S3, packed: Path, tmp_path: Path) -> None:
    url = upload(s3, packed)
    where = storage.locate(url, parameter="directory")
    where.fs.rm(where.join("manifest.json").path)
    with pytest.raises(InputError, match="no manifest") as info:
        ShardDataset(url, cache_dir=tmp_path)
    assert info.value.code == "manifest-missing"
    assert f"{url}/manifest.json" in str(info.value) and "upload" in str(info.value)


def test_changed_shard_object_is_refused_and_never_cached(
    s3: S3, packed: Path, tmp_path: Path
) -> None:
    url = upload(s3, packed)
    where = storage.locate(url, parameter="directory")
    shard = sorted(packed.glob("data/train-*.parquet"))[0]
    data = bytearray(shard.read_bytes())
    data[len(data) // 3] ^= 0xFF  # an image byte: the footer still reads
    obj = where.join("data", shard.name)
    where.fs.pipe_file(obj.path, bytes(data))
    ds = ShardDataset(url, size=32, shuffle=False, cache_dir=tmp_path)
    with pytest.raises(InputError, match=r"sha256 differs from manifest\.json") as info:
        list(ds)
    assert info.value.code == "shard-hash"
    assert obj.url in str(info.value) and "norwoodkit verify" in str(info.value)
    folder = ds.split.root
    assert not (folder / "data" / shard.name).exists()
    assert not list(folder.glob("data/.*.part"))


def test_shard_missing_from_the_store(s3: S3, packed: Path, tmp_path: Path) -> None:
    url = upload(s3, packed)
    where = storage.locate(url, parameter="directory")
    name = sorted(packed.glob("data/train-*.parquet"))[1].name
    where.fs.rm(where.join("data", name).path)
    with pytest.raises(InputError, match=r"listed in manifest\.json but not in the store") as info:
        ShardDataset(url, cache_dir=tmp_path)
    assert info.value.code == "shard-missing" and name in str(info.value)


def test_shard_gone_after_the_index_is_refused_cleanly(
    s3: S3, packed: Path, tmp_path: Path
) -> None:
    # Indexed, then removed before its download: the download names the shard and the pack's
    # URL for `norwoodkit verify`, and nothing is left half-written in the cache.
    url = upload(s3, packed)
    where = storage.locate(url, parameter="directory")
    ds = ShardDataset(url, shuffle=False, cache_dir=tmp_path)
    shard = sorted(packed.glob("data/train-*.parquet"))[0].name
    where.fs.rm(where.join("data", shard).path)
    with pytest.raises(InputError, match=r"listed in manifest\.json but not in the store") as info:
        list(ds)
    assert info.value.code == "shard-missing"
    assert f"{url}/data/{shard}" in str(info.value)
    assert f"norwoodkit verify {url}`" in str(info.value)
    assert not list(ds.split.root.glob("data/.*.part"))


def test_cache_limit_below_the_largest_shard(s3: S3, packed: Path, tmp_path: Path) -> None:
    url = upload(s3, packed)
    largest = max(f.stat().st_size for f in packed.glob("data/train-*.parquet"))
    with pytest.raises(ParameterError, match=f"use at least {largest} bytes") as info:
        ShardDataset(url, cache_dir=tmp_path, cache_limit=largest - 1)
    assert info.value.parameter == "cache_limit"


@pytest.mark.parametrize("limit", ["lots", 0, -5, "2 parsecs"])
def test_cache_limit_that_is_not_a_size(packed: Path, limit: Any) -> None:
    with pytest.raises(ParameterError) as info:
        ShardDataset(packed, cache_limit=limit)
    assert info.value.parameter == "cache_limit"


# schemes whose backend no test imports (once imported, fsspec keeps the class it registered)
BACKENDS = [("gs://bucket/packs/x", "gcsfs"), ("az://container/packs/x", "adlfs")]


@pytest.mark.parametrize(("url", "package"), BACKENDS)
def test_missing_backend_names_the_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str, package: str
) -> None:
    import fsspec

    monkeypatch.setitem(sys.modules, package, None)  # as if not installed
    fsspec.AbstractFileSystem.clear_instance_cache()
    with pytest.raises(storage.BackendMissingError, match=f"pip install {package}") as info:
        ShardDataset(url, cache_dir=tmp_path)
    assert info.value.exit_code == 2 and url in str(info.value)


def test_local_paths_keep_the_old_path(packed: Path, tmp_path: Path) -> None:
    split = open_pack(packed, "train", cache_dir=tmp_path, cache_limit="1MB")
    assert split.cache is None and split.root == packed
    assert open_pack(f"file://{packed}", "train").root == packed
    assert not list(tmp_path.iterdir())


def test_cache_folder_is_keyed_by_url_and_manifest(tmp_path: Path) -> None:
    a = storage.locate("s3://bucket/packs/a", parameter="directory")
    b = storage.locate("s3://bucket/packs/b", parameter="directory")
    assert cache_folder(a, b"{}", tmp_path) != cache_folder(b, b"{}", tmp_path)
    assert cache_folder(a, b"{}", tmp_path) != cache_folder(a, b"{ }", tmp_path)
    assert cache_folder(a, b"{}", tmp_path).parent == tmp_path / "shards"


def test_bench_load_reads_a_pack_at_a_url(s3: S3, packed: Path) -> None:
    """``norwoodkit bench-load URL`` streams the shards like the loader does."""
    url = upload(s3, packed)
    args = ["--worker-counts", "0", "--batch-sizes", "8", "--seconds", "0.2", "--json"]
    result = run(["bench-load", url, *args])
    check(result, 0)
    rows = json.loads(result.stdout)["results"]
    assert rows and rows[0]["images"] > 0
