"""``--engine ray``: the probe on Ray Data and pack's shards as Ray tasks, byte-identical to the
local engine; Ray missing, a cluster that does not answer, a worker that dies mid-pack.

One local Ray instance serves the whole session (``ray_instance``): each start costs seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hostile import Watch, check, hostile, run

from norwoodkit import dataset
from norwoodkit.engine import Engine, EngineChoice
from norwoodkit.pack.ray_engine import MAX_RETRIES
from norwoodkit.probe.runner import run as probe_run

ray = pytest.importorskip("ray")

RAY = EngineChoice(Engine.ray)


@pytest.fixture(scope="session")
def ray_instance() -> Iterator[str]:
    """One local Ray instance (2 CPUs) for the session; its address, for other processes."""
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield str(ray.get_runtime_context().gcs_address)
    if started:
        ray.shutdown()


def _files(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) by relative path, with its sha256."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _cache_files(folder: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted(folder.rglob("*.parquet"))]


def test_probe_on_ray_is_the_local_probe(
    ray_instance: str, clean_sample: Path, tmp_path: Path
) -> None:
    """Every probe column of every row, and the cache file's bytes, as the local engine."""
    ds = dataset.load(clean_sample)
    local = probe_run(ds, cache_dir=tmp_path / "local", workers=2)
    remote = probe_run(ds, cache_dir=tmp_path / "ray", engine=RAY)
    pd.testing.assert_frame_equal(remote.table, local.table)
    assert local.table["status"].eq("ok").all()
    assert _cache_files(tmp_path / "ray") == _cache_files(tmp_path / "local") != []


def test_probe_on_ray_with_defects(ray_instance: str, defect_sample: Path, tmp_path: Path) -> None:
    """Bad files (truncated, undecodable, empty, missing) come back as the local pool says."""
    ds = dataset.load(defect_sample)
    local = probe_run(ds, cache_dir=tmp_path / "local", workers=1)
    remote = probe_run(ds, cache_dir=tmp_path / "ray", engine=RAY, workers=1)
    pd.testing.assert_frame_equal(remote.table, local.table)
    assert set(local.table["status"].dropna()) - {"ok"}, "the sample plants no bad file"
    assert _cache_files(tmp_path / "ray") == _cache_files(tmp_path / "local")


_PACKS = {
    "default": [],
    # Several shards per split (64 KiB), re-encoded: every task writes, the re-encode runs there.
    "resized-shards": ["--shard-size", "64KiB", "--resize", "128", "--layout", "subject"],
}


@pytest.mark.parametrize("extra", _PACKS.values(), ids=_PACKS.keys())
def test_pack_on_ray_is_the_local_pack(
    ray_instance: str, clean_sample: Path, tmp_path: Path, extra: list[str]
) -> None:
    """Every file of the pack (shards, manifest, card, croissant.json) has the same sha256."""
    split = tmp_path / "split.csv"
    r = run(["split", clean_sample, "-o", split, "--ratios", "70,30", "-q"])
    assert r.exit_code == 0, r.stderr
    base: list[str | Path] = ["pack", clean_sample, "--splits", split, "-q", "--no-cache", *extra]
    local = run([*base, "--out", tmp_path / "local"])
    assert local.exit_code == 0, local.stderr
    remote = run([*base, "--out", tmp_path / "ray", "--engine", "ray"])
    assert remote.exit_code == 0, remote.stderr
    assert remote.stdout == local.stdout.replace(str(tmp_path / "local"), str(tmp_path / "ray"))
    files = _files(tmp_path / "local")
    assert _files(tmp_path / "ray") == files
    assert sum(f.endswith(".parquet") for f in files) >= (4 if extra else 2)


def test_pack_on_ray_fills_the_cache_as_local(
    ray_instance: str, clean_sample: Path, tmp_path: Path
) -> None:
    """A cold pack on Ray leaves the probe cache the local pack leaves, byte for byte."""
    for engine in ("local", "ray"):
        r = run(
            [
                *("pack", clean_sample, "--out", tmp_path / f"out-{engine}", "-q"),
                *("--cache", tmp_path / f"cache-{engine}", "--engine", engine),
            ]
        )
        assert r.exit_code == 0, r.stderr
    assert _cache_files(tmp_path / "cache-ray") == _cache_files(tmp_path / "cache-local") != []


def test_a_worker_that_dies_mid_pack_is_retried(
    ray_instance: str, clean_sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task's worker exits abruptly once, leaving a half-written temporary shard: Ray runs
    the task again, the pack is byte-identical and no temporary file is left."""
    base: list[str | Path] = ["pack", clean_sample, "-q", "--shard-size", "64KiB"]
    assert run([*base, "--out", tmp_path / "local"]).exit_code == 0
    marks = tmp_path / "marks"
    marks.mkdir()
    monkeypatch.setenv("NORWOODKIT_TEST_RAY_DIE", f"1:{marks}")
    result = hostile(
        [*base, "--out", tmp_path / "ray", "--engine", "ray"], 0, untouched=[clean_sample]
    )
    assert result.exit_code == 0
    assert [p.name for p in marks.iterdir()] == ["attempt-0"], "no worker died: no hook ran"
    assert _files(tmp_path / "ray") == _files(tmp_path / "local")


def test_a_worker_that_keeps_dying_fails_cleanly(
    ray_instance: str, clean_sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past Ray's retries: exit 2 naming the shard and --resume, no manifest (verify refuses
    the folder), no temporary file, the dataset untouched."""
    marks = tmp_path / "marks"
    marks.mkdir()
    monkeypatch.setenv("NORWOODKIT_TEST_RAY_DIE", f"99:{marks}")
    out = tmp_path / "ray"
    hostile(
        ["pack", clean_sample, "-q", "--out", out, "--engine", "ray"],
        2,
        ["train-00000-of-00001.parquet", "died", "--resume"],
        untouched=[clean_sample],
    )
    assert len(list(marks.iterdir())) == MAX_RETRIES + 1  # Ray did retry, then gave up
    assert not (out / "manifest.json").exists()
    assert not [p for p in out.rglob("*.tmp")]
    check(run(["verify", out]), 2, ["manifest.json"])


def test_ray_missing_names_the_extra(
    clean_sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without Ray installed, --engine ray is exit 2 naming the pip command."""
    monkeypatch.setitem(sys.modules, "ray", None)
    cases: list[list[str | Path]] = [
        ["validate", clean_sample, "--no-cache"],
        ["pack", clean_sample, "--out", tmp_path / "out", "--no-cache"],
    ]
    for args in cases:
        hostile(
            [*args, "-q", "--engine", "ray"],
            2,
            ["--engine", "pip install 'norwoodkit[ray]'"],
            untouched=[clean_sample],
        )
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_ray_address_needs_engine_ray(clean_sample: Path) -> None:
    """--ray-address without --engine ray is a usage error, before any work."""
    hostile(
        ["validate", clean_sample, "--ray-address", "127.0.0.1:6379"],
        2,
        ["--ray-address", "--engine ray"],
        untouched=[clean_sample],
    )


def _script(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``norwoodkit ARGS`` as a user runs it, in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "norwoodkit", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,  # a guard against a hang, not a timing: Ray alone would wait minutes
        check=False,
    )


@pytest.mark.parametrize("address", ["127.0.0.1:1", "ray://127.0.0.1:1"])
def test_a_cluster_that_does_not_answer(clean_sample: Path, tmp_path: Path, address: str) -> None:
    """A closed port: exit 2 within seconds naming the address and the fix, no traceback."""
    watch = Watch((clean_sample,))
    done = _script(
        [
            *("pack", str(clean_sample), "--out", str(tmp_path / "out"), "-q", "--no-cache"),
            *("--engine", "ray", "--ray-address", address),
        ]
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    for words in (address, "could not reach", "--ray-address"):
        assert words in done.stderr, done.stderr
    assert watch.changed() == []
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_console_script_on_a_running_cluster(
    ray_instance: str, clean_sample: Path, tmp_path: Path
) -> None:
    """``norwoodkit pack --engine ray`` in its own process, joining the session's cluster
    through RAY_ADDRESS: the pack and its --json document are those of the local engine."""
    local = run(["pack", clean_sample, "--out", tmp_path / "local", "-q", "--json"])
    assert local.exit_code == 0, local.stderr
    done = _script(
        [
            *("pack", str(clean_sample), "--out", str(tmp_path / "ray"), "-q", "--json"),
            *("--engine", "ray", "--no-cache"),
        ],
        env={"RAY_ADDRESS": ray_instance},
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    assert doc == {**json.loads(local.stdout), "out": str(tmp_path / "ray")}
    assert _files(tmp_path / "ray") == _files(tmp_path / "local")


def test_a_shard_that_cannot_be_written_is_the_local_error(
    ray_instance: str, clean_sample: Path, tmp_path: Path
) -> None:
    """A task's write that fails (``data`` is a file, so no shard can go under it) is the
    local writer's exit 2 and message, not Ray's wrapped traceback; no manifest."""
    messages = []
    for engine in ("local", "ray"):
        out = tmp_path / engine
        out.mkdir()
        (out / "data").write_text("not a folder\n")
        args: list[str | Path] = ["pack", clean_sample, "--out", out, "-q", "--overwrite"]
        args += ["--engine", engine]
        result = hostile(
            args, 2, ["train-00000-of-00001.parquet", "--resume"], untouched=[clean_sample]
        )
        assert not (out / "manifest.json").exists()
        messages.append(result.stderr.replace(str(out), "OUT"))
    assert messages[0] == messages[1]
