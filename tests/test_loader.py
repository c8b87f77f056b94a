"""The PyTorch loader over real shards: order, equal counts, resume, decoding, bad input."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import logging
import shutil
import subprocess
import sys
import types
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hostile import Watch
from PIL import Image, ImageOps

from conftest import MakeDataset
from norwoodkit import dataset, pack, probe
from norwoodkit.errors import InputError, NorwoodkitError, ParameterError
from norwoodkit.labels import View

torch = pytest.importorskip("torch")

from torch.utils.data import DataLoader  # noqa: E402

from norwoodkit import loader  # noqa: E402
from norwoodkit.cli.bench_load import measure as bench_load  # noqa: E402
from norwoodkit.loader import ShardDataset, ShardIndex  # noqa: E402
from norwoodkit.loader.gpu import assemble  # noqa: E402

Sample = tuple[Any, int, dict[str, Any]]


# --------------------------------------------------------------------------- fixtures


def _pack(
    ds: dataset.ProbedDataset, out: Path, splits: pd.DataFrame | None = None, **options: Any
) -> Path:
    opts = pack.PackOptions(shard_size=pack.parse_size("1MB"), workers=1, **options)
    pack.write(ds, out, opts, splits=splits)
    return out


@pytest.fixture(scope="module")
def probed(clean_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> dataset.ProbedDataset:
    cache = tmp_path_factory.mktemp("ld") / "cache"
    return probe.run(dataset.load(clean_sample), cache_dir=cache, workers=1)


@pytest.fixture(scope="module")
def split_table(probed: dataset.Dataset) -> pd.DataFrame:
    ids = sorted(probed.images["subject_id"].astype(str).unique(), key=int)
    # 26 train subjects = 130 images: row groups of 2 subjects leave some readers a group short
    return pd.DataFrame(
        {"subject_id": ids, "split": ["train" if i < 26 else "test" for i in range(len(ids))]}
    )


@pytest.fixture(scope="module")
def shards(
    probed: dataset.ProbedDataset,
    split_table: pd.DataFrame,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    out = tmp_path_factory.mktemp("shards") / "image"
    # original bytes with their EXIF tags: the loader's own turning is what these tests check
    return _pack(probed, out, split_table, rows_per_group=10, orientation=pack.Orientation.KEEP)


@pytest.fixture(scope="module")
def subject_shards(
    probed: dataset.ProbedDataset,
    split_table: pd.DataFrame,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    out = tmp_path_factory.mktemp("shards") / "subject"
    return _pack(probed, out, split_table, rows_per_group=3, layout=pack.Layout.SUBJECT)


@pytest.fixture(scope="module")
def resized_shards(
    probed: dataset.ProbedDataset,
    split_table: pd.DataFrame,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    out = tmp_path_factory.mktemp("shards") / "resized"
    return _pack(probed, out, split_table, rows_per_group=10, resize=128)


def paths_in(shards_dir: Path, split: str = "train") -> list[str]:
    """Every image path of a split, in file order (manifest shard order), read with pyarrow."""
    manifest = json.loads((shards_dir / "manifest.json").read_text())
    out: list[str] = []
    for rec in manifest["splits"][split]["shards"]:
        table = pq.read_table(shards_dir / rec["path"], columns=["image"])
        out += [cell["path"] for cell in table.column("image").to_pylist()]
    return out


def ids(samples: Iterable[Sample]) -> list[str]:
    return [s[2]["path"] for s in samples]


def readers(
    directory: Path, world: int = 2, workers: int = 2, **kw: Any
) -> dict[tuple[int, int], list[Sample]]:
    """Every (rank, worker) reader's epoch, simulated through the constructor overrides."""
    out = {}
    for rank in range(world):
        for worker in range(workers):
            ds = ShardDataset(
                directory,
                rank=rank,
                world_size=world,
                worker_id=worker,
                num_workers=workers,
                size=32,
                **kw,
            )
            out[rank, worker] = list(ds)
    return out


# --------------------------------------------------------------------------- the extra


def test_import_without_torch_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import norwoodkit.loader\n"  # the package loads a module only when a name is used
        "try:\n    from norwoodkit.loader import ShardDataset\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, isinstance(e, ImportError), e)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.startswith("TorchMissingError True"), r.stdout + r.stderr
    assert "pip install 'norwoodkit[torch]'" in r.stdout
    assert issubclass(loader.TorchMissingError, NorwoodkitError)


def test_nothing_else_imports_torch() -> None:
    code = (
        "import sys, norwoodkit, norwoodkit.cli, norwoodkit.pack, norwoodkit.split\n"
        "import norwoodkit.loader, norwoodkit.loader.partition, norwoodkit.cli.bench_load\n"
        "print('torch' in sys.modules)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "False"


# --------------------------------------------------------------------------- readers and counts


@pytest.mark.parametrize(("world", "workers"), [(2, 2), (3, 2)])
def test_every_sample_once_with_at_most_readers_minus_one_repeats(
    shards: Path, world: int, workers: int
) -> None:
    every = paths_in(shards)  # 130 rows: over 3 ranks, 2 repeats
    got = readers(shards, world, workers, uneven="pad")
    per_rank = Counter({r: 0 for r in range(world)})
    for (rank, _), v in got.items():
        per_rank[rank] += len(v)
    assert len(set(per_rank.values())) == 1, per_rank  # equal counts: no rank waits at the end
    real = [s for v in got.values() for s in v if not s[2]["padded"]]
    assert Counter(ids(real)) == Counter(every)  # each image exactly once
    padding = [s for v in got.values() for s in v if s[2]["padded"]]
    assert len(padding) == world * per_rank[0] - len(every) <= world * workers - 1
    assert set(ids(padding)) <= set(every)
    for rank in range(world):
        ds = ShardDataset(shards, rank=rank, world_size=world, num_workers=workers, size=32)
        assert len(ds) == ds.samples_per_epoch() == per_rank[rank]


def test_pad_and_drop_counts(shards: Path) -> None:
    n = len(paths_in(shards))
    padded = ShardDataset(shards, world_size=4, rank=0, num_workers=2, worker_id=0)
    dropped = ShardDataset(shards, world_size=4, rank=0, num_workers=2, worker_id=0, uneven="drop")
    assert (len(padded), len(dropped)) == (33, 32)  # 130 over 4 ranks: 2 repeats or 2 left out
    got = readers(shards, 4, 2, uneven="drop")
    seen = ids(s for v in got.values() for s in v)
    assert len(seen) == len(set(seen)) == n - 2  # drop never repeats
    assert not any(s[2]["padded"] for v in got.values() for s in v)


def test_real_dataloader_with_two_workers(shards: Path) -> None:
    ds = ShardDataset(shards, size=32, seed=1)
    batches = list(DataLoader(ds, batch_size=8, num_workers=2))
    assert batches[0][0].shape == (8, 3, 32, 32) and batches[0][0].dtype == torch.uint8
    paths = [p for b in batches for p in b[2]["path"]]
    padded = [bool(x) for b in batches for x in b[2]["padded"]]
    assert len(paths) == ds.samples_per_epoch(num_workers=2) == len(ds) == 130
    real = [p for p, pad in zip(paths, padded, strict=True) if not pad]
    assert Counter(real) == Counter(paths_in(shards))


def test_more_readers_than_row_groups_still_read_every_sample_once(shards: Path) -> None:
    units = ShardDataset(shards).split.units
    got = readers(shards, world=2, workers=units)  # 26 readers, 13 row groups
    real = [s for v in got.values() for s in v if not s[2]["padded"]]
    assert Counter(ids(real)) == Counter(paths_in(shards))
    assert sum(len(v) for v in got.values()) - len(real) <= 2 * units - 1


def test_bad_reader_ids_are_refused(shards: Path) -> None:
    with pytest.raises(ParameterError, match="rank: rank 2 of world_size 2"):
        iter(ShardDataset(shards, rank=2, world_size=2))


# --------------------------------------------------------------------------- order


def test_same_seed_and_epoch_same_order_other_epoch_other_order(shards: Path) -> None:
    a = ShardDataset(shards, size=16, seed=7)
    b = ShardDataset(shards, size=16, seed=7)
    first = ids(a)
    assert first == ids(b)
    assert ids(a) == first  # iterating again replays the epoch
    a.set_epoch(1)
    b.set_epoch(1)
    second = ids(a)
    assert second == ids(b)
    assert second != first and sorted(second) == sorted(first)
    assert ids(ShardDataset(shards, size=16, seed=8)) != first


def test_shuffle_false_keeps_file_order(shards: Path) -> None:
    ds = ShardDataset(shards, size=16, shuffle=False)
    assert ids(ds) == paths_in(shards)
    ds.set_epoch(3)
    assert ids(ds) == paths_in(shards)


def test_shuffle_buffer_mixes_within_a_reader(shards: Path) -> None:
    no_buffer = ids(ShardDataset(shards, size=16, shuffle_buffer=0))
    buffered = ids(ShardDataset(shards, size=16, shuffle_buffer=64))
    assert sorted(no_buffer) == sorted(buffered) and no_buffer != buffered
    # without a buffer the rows of a row group stay together (units are shuffled only)
    subjects = [p.split("/")[0] for p in no_buffer]
    runs = sum(1 for i in range(1, len(subjects)) if subjects[i] != subjects[i - 1]) + 1
    assert runs == len(set(subjects))


# --------------------------------------------------------------------------- resume


@pytest.mark.parametrize("k", [0, 1, 37, 129, 130])
def test_resume_in_a_plain_loop_yields_exactly_the_rest(shards: Path, k: int) -> None:
    opts: dict[str, Any] = {"size": 16, "seed": 4, "shuffle_buffer": 32}
    full = ids(ShardDataset(shards, **opts))
    ds = ShardDataset(shards, **opts)
    ds.set_epoch(0)
    it = iter(ds)
    head = [next(it) for _ in range(k)]
    state = json.loads(json.dumps(ds.state_dict()))  # survives JSON (keys become strings)
    resumed = ShardDataset(shards, **opts)
    resumed.load_state_dict(state)
    resumed.set_epoch(0)  # the same epoch keeps the loaded position
    assert ids(head) + ids(resumed) == full


def test_resume_other_epoch_and_set_epoch(shards: Path) -> None:
    ds = ShardDataset(shards, size=16)
    ds.set_epoch(2)
    it = iter(ds)
    for _ in range(10):
        next(it)
    state = ds.state_dict()
    assert state["epoch"] == 2 and state["position"] == {0: 10} and state["yielded"] == {0: 10}
    fresh = ShardDataset(shards, size=16)
    fresh.load_state_dict(state)
    assert fresh.epoch == 2
    ds2 = ShardDataset(shards, size=16)
    ds2.set_epoch(2)
    assert ids(fresh) == ids(ds2)[10:]
    fresh.set_epoch(3)  # a new epoch starts from its beginning
    ds2.set_epoch(3)
    assert ids(fresh) == ids(ds2)


def test_resume_with_simulated_workers(shards: Path) -> None:
    def make(worker: int) -> ShardDataset:
        return ShardDataset(shards, size=16, seed=2, worker_id=worker, num_workers=2)

    full = {w: ids(make(w)) for w in range(2)}
    merged: dict[str, Any] = {}
    heads = {}
    for w, k in ((0, 13), (1, 40)):
        ds = make(w)
        it = iter(ds)
        heads[w] = ids(next(it) for _ in range(k))
        state = ds.state_dict()
        assert (state["world_size"], state["num_workers"]) == (1, 2)
        assert list(state["position"]) == [w]
        if merged:
            merged["position"] |= state["position"]
            merged["yielded"] |= state["yielded"]
        else:
            merged = state
    for w in range(2):  # one merged state serves every worker: each finds its own entry
        ds = make(w)
        ds.load_state_dict(merged)
        assert heads[w] + ids(ds) == full[w]
    single = ShardDataset(shards, size=16, seed=2)  # one reader: the rest is dealt again
    single.load_state_dict(merged)
    assert len(single) == 130 - 13 - 40
    assert Counter(heads[0] + heads[1] + ids(single)) == Counter(paths_in(shards))
    partial = ShardDataset(shards, size=16, seed=2)
    partial.load_state_dict(state)  # worker 1's entry only: not enough to deal the rest again
    with pytest.raises(InputError, match=r"readers 0 of 2 are missing"):
        iter(partial)


def test_resume_plain_dataloader_after_k_batches(shards: Path) -> None:
    def loader_of(ds: ShardDataset) -> DataLoader[Any]:
        return DataLoader(ds, batch_size=6, num_workers=2)

    full = [ids_of(b) for b in loader_of(ShardDataset(shards, size=16, seed=5))]
    k = 4  # a multiple of num_workers keeps the workers' interleaving too
    ds = ShardDataset(shards, size=16, seed=5)
    state = ds.state_after_batches(k, batch_size=6, num_workers=2)
    ds.load_state_dict(state)
    assert [ids_of(b) for b in loader_of(ds)] == full[k:]


def ids_of(batch: Any) -> list[str]:
    return list(batch[2]["path"])


@pytest.mark.filterwarnings("ignore:'set_vital' is deprecated")
def test_resume_with_torchdata_stateful_dataloader(shards: Path) -> None:
    sdl = pytest.importorskip("torchdata.stateful_dataloader")

    def loader_of(ds: ShardDataset) -> Any:
        return sdl.StatefulDataLoader(ds, batch_size=5, num_workers=2)

    full = [ids_of(b) for b in loader_of(ShardDataset(shards, size=16, seed=6))]
    first = loader_of(ShardDataset(shards, size=16, seed=6))
    it = iter(first)
    head = [ids_of(next(it)) for _ in range(5)]
    state = first.state_dict()
    del it
    second = loader_of(ShardDataset(shards, size=16, seed=6))
    second.load_state_dict(state)
    assert head + [ids_of(b) for b in second] == full


def test_state_from_other_options_is_refused(shards: Path) -> None:
    state = ShardDataset(shards, size=16, shuffle_buffer=8).state_dict()
    with pytest.raises(InputError, match=r"shuffle_buffer=8 \(this dataset: 9\)"):
        ShardDataset(shards, size=16, shuffle_buffer=9).load_state_dict(state)
    with pytest.raises(InputError, match="split 'train'"):
        ShardDataset(shards, "test", size=16, shuffle_buffer=8).load_state_dict(state)


def saved_midway(directory: Path, seed: int = 0) -> dict[str, Any]:
    ds = ShardDataset(directory, size=16, seed=seed)
    it = iter(ds)
    for _ in range(7):
        next(it)
    return ds.state_dict()


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("pack", ["another pack", "resume from the pack folder"]),
        ("seed", ["seed 3", "has seed 0", "seed=3"]),
        ("newer", ["format 3", "newer norwoodkit"]),
        ("corrupt", ["not a ShardDataset state", "state_dict()"]),
    ],
)
def test_state_of_another_pack_seed_newer_or_corrupt_is_refused(
    shards: Path, resized_shards: Path, change: str, words: list[str]
) -> None:
    state = {
        "pack": lambda: saved_midway(resized_shards),  # same split and rows, other shards
        "seed": lambda: saved_midway(shards, seed=3),
        "newer": lambda: saved_midway(shards) | {"format": 3},
        "corrupt": lambda: saved_midway(shards) | {"position": "7"},
    }[change]()
    watch = Watch((shards,))
    ds = ShardDataset(shards, size=16)
    with pytest.raises(InputError) as info:
        ds.load_state_dict(state)
    for w in words:
        assert w in str(info.value)
    assert ids(ds) == ids(ShardDataset(shards, size=16))  # nothing half-loaded
    assert watch.changed() == []


def batches_of(ds: ShardDataset, workers: int) -> list[list[tuple[str, bool]]]:
    loader = DataLoader(ds, batch_size=5, num_workers=workers)
    return [list(zip(b[2]["path"], map(bool, b[2]["padded"]), strict=True)) for b in loader]


@pytest.fixture(scope="module")
def four_readers(shards: Path) -> list[list[list[tuple[str, bool]]]]:
    """The epoch of 2 ranks x 2 real DataLoader workers: each rank's batches."""
    return [
        batches_of(ShardDataset(shards, size=16, seed=1, rank=r, world_size=2), 2) for r in range(2)
    ]


@pytest.mark.parametrize(("world", "workers"), [(3, 0), (3, 2)])  # 3 readers, 6 readers
@pytest.mark.parametrize("k", [0, 5, 13, 14])  # 14 batches a rank: 14 is after the last sample
def test_resume_from_four_readers_onto_three_or_six(
    shards: Path,
    four_readers: list[list[list[tuple[str, bool]]]],
    world: int,
    workers: int,
    k: int,
) -> None:
    head = [s for rank in four_readers for b in rank[:k] for s in b]
    state = ShardDataset(shards, size=16, seed=1, world_size=2).state_after_batches(k, 5, 2)
    state = json.loads(json.dumps(state))
    rest: list[tuple[str, bool]] = []
    lengths = set()
    for rank in range(world):
        ds = ShardDataset(shards, size=16, seed=1, rank=rank, world_size=world)
        ds.load_state_dict(state)
        got = [s for b in batches_of(ds, workers) for s in b]
        assert len(ds) == len(got)
        lengths.add(len(got))
        rest += got
    assert len(lengths) == 1  # every new rank yields as many: none waits
    real = [p for p, padded in head + rest if not padded]
    assert Counter(real) == Counter(paths_in(shards))  # nothing repeated, nothing lost
    assert sum(padded for _, padded in rest) <= world * max(workers, 1) - 1
    if k == 14:
        assert rest == []


@pytest.mark.parametrize("after", [(1, 3), (2, 3)])  # onto 3 readers, onto 6
@pytest.mark.parametrize("where", ["boundary", "boundary+1", "end"])
def test_resume_at_a_row_group_boundary_onto_other_readers(
    shards: Path, after: tuple[int, int], where: str
) -> None:
    def reader(rank: int, world: int, worker: int, workers: int) -> ShardDataset:
        return ShardDataset(
            shards,
            size=16,
            seed=3,
            shuffle_buffer=0,  # stream order: positions are rows of the row groups
            rank=rank,
            world_size=world,
            worker_id=worker,
            num_workers=workers,
        )

    head: list[Sample] = []
    state: dict[str, Any] = {}
    for rank, worker in itertools.product(range(2), range(2)):
        ds = reader(rank, 2, worker, 2)
        plan = ds._plan(ds._where(), ())
        stop = {
            "boundary": plan.locate(0)[1],  # the first row group of its run, read whole
            "boundary+1": plan.locate(0)[1] + 1,
            "end": plan.target,
        }[where]
        it = iter(ds)
        head += [next(it) for _ in range(stop)]
        part = ds.state_dict()
        state = (
            part
            if not state
            else state
            | {
                "position": state["position"] | part["position"],
                "yielded": state["yielded"] | part["yielded"],
            }
        )
    rest = []
    for rank, worker in itertools.product(range(after[0]), range(after[1])):
        ds = reader(rank, after[0], worker, after[1])
        ds.load_state_dict(state)
        rest += list(ds)
    real = [s for s in head + rest if not s[2]["padded"]]
    assert Counter(ids(real)) == Counter(paths_in(shards))
    assert len(head) + len(rest) - len(real) <= after[0] * after[1] - 1


# --------------------------------------------------------------------------- decoding


def stored(shards_dir: Path, meta: dict[str, Any], column: str = "image") -> bytes:
    table = pq.ParquetFile(shards_dir / meta["shard"]).read_row_group(meta["row_group"])
    cell = table.column(column)[meta["row"]].as_py()
    assert isinstance(cell["bytes"], bytes)
    return cell["bytes"]


def reference(data: bytes, h: int, w: int) -> np.ndarray:
    """Pillow's own way: full decode, EXIF orientation, RGB, ``ImageOps.fit`` (scale to cover,
    centre crop)."""
    im = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    return np.asarray(ImageOps.fit(im, (w, h), Image.Resampling.BILINEAR)).transpose(2, 0, 1)


@pytest.mark.parametrize(("size", "worst", "typical"), [((224, 224), 0, 0), ((48, 80), 6, 2)])
def test_images_match_a_pillow_reference(
    shards: Path, size: tuple[int, int], worst: float, typical: float
) -> None:
    """Mean absolute difference per image, in levels of 0..255. Without DCT scaling (224 from
    240-pixel photos) the pixels are identical; with it (48 x 80) a few levels apart, where a
    wrong crop or orientation costs 50+."""
    index = ShardIndex(shards, "train", size=size)
    rotated = 0
    diffs = []
    for i in range(0, len(index), 7):
        image, label, meta = index[i]
        assert image.shape == (3, *size) and image.dtype == torch.uint8
        assert label == meta["stage"] - 1
        ref = reference(stored(shards, meta), *size)
        diffs.append(float(np.abs(image.numpy().astype(int) - ref.astype(int)).mean()))
        assert diffs[-1] <= worst, (meta["path"], diffs[-1])
        rotated += meta["orientation"] == 6
    assert float(np.median(diffs)) <= typical
    assert rotated  # EXIF-rotated photos were among them (and came out upright)


def test_rotated_photo_comes_out_upright(shards: Path) -> None:
    index = ShardIndex(shards, "train", size=None)
    for i in range(len(index)):
        image, _, meta = index[i]
        if meta["orientation"] == 6:
            with Image.open(io.BytesIO(stored(shards, meta))) as raw:
                assert image.shape[1:] == (raw.width, raw.height)  # rotated by 90 degrees
            return
    pytest.fail("the sample has no EXIF-rotated photo")


def test_transform_replaces_the_tensor(shards: Path) -> None:
    ds = ShardDataset(shards, size=(20, 30), transform=lambda im: im.size)
    assert all(s[0] == (30, 20) for s in ds)
    assert len(list(ds)) == len(paths_in(shards))  # the check above saw every sample


def test_resized_shards_decode(resized_shards: Path) -> None:
    image, _, meta = next(iter(ShardDataset(resized_shards, size=64)))
    assert image.shape == (3, 64, 64) and meta["orientation"] == 1  # stored upright


def test_subject_layout_keeps_views_together(subject_shards: Path) -> None:
    ds = ShardDataset(subject_shards, size=32, world_size=2, rank=1)
    samples = list(ds)
    image, _, meta = samples[0]
    assert image.shape == (5, 3, 32, 32)
    assert meta["mask"].tolist() == [True] * 5
    for _, _, m in samples:
        assert {p.split("/")[0] for p in m["paths"]} == {m["subject_id"]}
    both = samples + list(ShardDataset(subject_shards, size=32, world_size=2, rank=0))
    real = [m["subject_id"] for _, _, m in both if not m["padded"]]
    assert sorted(real, key=int) == [str(i) for i in range(1, 27)]
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch[0].shape == (4, 5, 3, 32, 32) and batch[2]["mask"].shape == (4, 5)


def test_missing_view_is_zeros_and_masked(make_dataset: MakeDataset, tmp_path: Path) -> None:
    root = make_dataset(4, missing_view=("2", View.TOP))
    ds = probe.run(dataset.load(root), cache_dir=tmp_path / "c", workers=1)
    out = _pack(ds, tmp_path / "subj", rows_per_group=1, layout=pack.Layout.SUBJECT)
    in_order = list(ShardDataset(out, "train", size=24, shuffle=False))
    samples = {s[2]["subject_id"]: s for s in in_order}
    image, _, meta = samples["2"]
    assert meta["mask"].tolist() == [True, False, True, True, True]
    assert int(image[1].abs().sum()) == 0 and int(image[0].sum()) > 0
    assert meta["paths"][1] == ""
    index = ShardIndex(out, "train", size=24)
    assert [index[i][2]["subject_id"] for i in range(len(index))] == list(samples)
    assert torch.equal(index[list(samples).index("2")][0], image)


# --------------------------------------------------------------------------- bad input


def corrupt_copy(src: Path, dst: Path, split: str = "train", row: int = 3) -> dict[str, Any]:
    """Copy a pack folder and truncate one image inside its first shard; say where.

    Its sha256 column is updated too: the image is undecodable, not changed after packing.
    """
    shutil.copytree(src, dst)
    manifest = json.loads((dst / "manifest.json").read_text())
    rel = manifest["splits"][split]["shards"][0]["path"]
    path = dst / rel
    pf = pq.ParquetFile(path)
    schema = pf.schema_arrow
    groups = [pf.read_row_group(g) for g in range(pf.num_row_groups)]
    pf.close()
    rows = groups[0].to_pylist()
    victim = rows[row]
    victim["image"] = {"bytes": victim["image"]["bytes"][:400], "path": victim["image"]["path"]}
    victim["sha256"] = hashlib.sha256(victim["image"]["bytes"]).hexdigest()
    groups[0] = pa.Table.from_pylist(rows, schema=schema)
    with pq.ParquetWriter(path, schema) as writer:
        for g in groups:
            writer.write_table(g, row_group_size=len(g))
    return {"shard": rel, "row": row, "subject": victim["subject_id"]}


def test_corrupt_image_raises_naming_where(shards: Path, tmp_path: Path) -> None:
    where = corrupt_copy(shards, tmp_path / "bad")
    with pytest.raises(InputError) as info:
        list(ShardDataset(tmp_path / "bad", size=16))
    msg = str(info.value)
    assert where["shard"] in msg and f"row group 0 row {where['row']}" in msg
    assert f"subject {where['subject']}" in msg and "on_bad_image='skip'" in msg


def test_corrupt_image_skip_counts_and_keeps_counts_equal(
    shards: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    corrupt_copy(shards, tmp_path / "bad")
    healthy = readers(shards)
    total_skipped = 0
    with caplog.at_level(logging.WARNING, logger="norwoodkit.loader"):
        for rank in range(2):
            for worker in range(2):

                def reader(rank: int = rank, worker: int = worker) -> ShardDataset:
                    return ShardDataset(
                        tmp_path / "bad",
                        size=32,
                        on_bad_image="skip",
                        rank=rank,
                        world_size=2,
                        worker_id=worker,
                        num_workers=2,
                    )

                ds = reader()
                got = list(ds)
                per_reader = len(healthy[rank, worker])
                assert len(got) == per_reader  # a replacement keeps the count
                total_skipped += ds.skipped
                if ds.skipped:
                    state = ds.state_dict()
                    # each skip moves the stream one position further than the yielded count
                    assert state["position"] == {ds_reader(rank, worker): per_reader + ds.skipped}
                    # resume past the bad image: no decode needed to find the position
                    again = reader()
                    it = iter(again)
                    head = [next(it) for _ in range(per_reader - 2)]
                    rest_state = again.state_dict()
                    resumed = reader()
                    resumed.load_state_dict(rest_state)
                    assert ids(head) + ids(resumed) == ids(got)
    # One bad image; a reader whose padding repeats it meets it twice, and skips it twice.
    assert 1 <= total_skipped <= 2
    assert "cannot be decoded" in caplog.text and "skipped" in caplog.text


def ds_reader(rank: int, worker: int) -> int:
    return rank * 2 + worker


def test_missing_shard_names_it_and_verify(shards: Path, tmp_path: Path) -> None:
    shutil.copytree(shards, tmp_path / "p")
    gone = sorted((tmp_path / "p" / "data").glob("train-*.parquet"))[1]
    gone.unlink()
    with pytest.raises(InputError, match=rf"{gone.name}: listed in manifest.json but missing"):
        ShardDataset(tmp_path / "p")
    with pytest.raises(InputError, match="norwoodkit verify"):
        ShardIndex(tmp_path / "p")
    ShardDataset(tmp_path / "p", "test")  # the other split is fine


def test_unlisted_shard_is_ignored_with_a_warning(
    shards: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shutil.copytree(shards, tmp_path / "p")
    first = sorted((tmp_path / "p" / "data").glob("train-*.parquet"))[0]
    shutil.copy(first, tmp_path / "p" / "data" / "train-00099-of-00099.parquet")
    with caplog.at_level(logging.WARNING, logger="norwoodkit.loader"):
        ds = ShardDataset(tmp_path / "p", size=16)
    assert "train-00099-of-00099.parquet" in caplog.text and "not read" in caplog.text
    assert sorted(ids(ds)) == sorted(paths_in(shards))


def test_unknown_split_lists_the_ones_there(shards: Path) -> None:
    with pytest.raises(InputError, match="no split 'valid'; this pack has 'train', 'test'"):
        ShardDataset(shards, "valid")


def test_newer_manifest_is_refused(shards: Path, tmp_path: Path) -> None:
    doc = json.loads((shards / "manifest.json").read_text())
    doc["format_version"] = pack.FORMAT_VERSION + 1
    (tmp_path / "manifest.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"newer norwoodkit .*upgrade"):
        ShardDataset(tmp_path)


def test_not_a_pack_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no manifest"):
        ShardIndex(tmp_path)


def test_bad_options(shards: Path) -> None:
    with pytest.raises(ParameterError, match="uneven: 'even' is not a choice"):
        ShardDataset(shards, uneven="even")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"size: \(0, 4\) is not a size"):
        ShardDataset(shards, size=(0, 4))


# --------------------------------------------------------------------------- ShardIndex


def test_shard_index_random_access(shards: Path) -> None:
    index = ShardIndex(shards, "test", size=16, cache_row_groups=2)
    every = paths_in(shards, "test")
    assert len(index) == len(every)
    assert [index[i][2]["path"] for i in (0, 5, len(every) - 1, -1)] == [
        every[0],
        every[5],
        every[-1],
        every[-1],
    ]
    with pytest.raises(IndexError):
        index[len(every)]
    streamed = list(ShardDataset(shards, "test", size=16, shuffle=False))
    assert torch.equal(streamed[7][0], index[7][0])
    batch = next(iter(DataLoader(index, batch_size=4, shuffle=True, num_workers=0)))
    assert batch[0].shape == (4, 3, 16, 16)


# --------------------------------------------------------------------------- GPU path


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orient_matches_pillow(orientation: int) -> None:
    arr = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    im.save(buf, "PNG", exif=exif.tobytes())
    want = np.asarray(ImageOps.exif_transpose(Image.open(buf))).transpose(2, 0, 1)
    got = loader.orient(torch.from_numpy(arr.transpose(2, 0, 1).copy()), orientation)
    assert np.array_equal(got.numpy(), want)


def test_gpu_assembly_on_cpu_matches_the_cpu_path(shards: Path) -> None:
    """The GPU path without nvJPEG: Pillow-decoded stored images, oriented and resized by
    the tensor code, close to the CPU loader's output."""
    index = ShardIndex(shards, "train", size=(40, 56))
    picks = [index[i] for i in range(0, 60, 6)]
    raw = []
    orientation = []
    for _, _, meta in picks:
        with Image.open(io.BytesIO(stored(shards, meta))) as im:
            raw.append(torch.from_numpy(np.asarray(im.convert("RGB")).transpose(2, 0, 1).copy()))
        orientation.append(meta["orientation"])
    out = assemble(raw, orientation, (40, 56), torch.device("cpu"))
    assert out.shape == (len(picks), 3, 40, 56)
    for k, (image, _, _) in enumerate(picks):
        assert (out[k].int() - image.int()).abs().float().mean() < 6


class PillowAsNvjpeg:
    """A stand-in for ``torchvision.io`` (third-party, not ours): ``decode_jpeg`` with Pillow,
    raw pixels without EXIF orientation as nvJPEG gives them, RuntimeError on bad bytes."""

    ImageReadMode = types.SimpleNamespace(RGB="RGB")

    @staticmethod
    def decode_jpeg(data: Any, mode: Any = None, device: Any = "cpu") -> Any:
        def one(t: Any) -> Any:
            try:
                with Image.open(io.BytesIO(t.numpy().tobytes())) as im:
                    arr = np.asarray(im.convert("RGB")).transpose(2, 0, 1).copy()
            except Exception as exc:
                raise RuntimeError(f"nvjpeg: {exc}") from exc
            return torch.from_numpy(arr).to(device)

        return [one(t) for t in data] if isinstance(data, list) else one(data)


@pytest.fixture
def fake_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the decode="cuda" path on the CPU: torchvision.io replaced, CUDA reported present."""
    monkeypatch.setitem(sys.modules, "torchvision", types.ModuleType("torchvision"))
    monkeypatch.setitem(sys.modules, "torchvision.io", PillowAsNvjpeg)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)


@pytest.mark.usefixtures("fake_gpu")
def test_cuda_path_logic_on_the_cpu(shards: Path, subject_shards: Path, tmp_path: Path) -> None:
    ds = ShardDataset(shards, size=(40, 56), decode="cuda", shuffle=False)
    encoded, _, meta = next(iter(ds))
    assert encoded.dtype == torch.uint8 and encoded.dim() == 1 and "orientation" in meta
    batches = list(DataLoader(ds, batch_size=16, collate_fn=ShardDataset.collate_bytes))
    assert all(isinstance(b, loader.EncodedBatch) for b in batches)
    got = [ds.collate_cuda(b, device="cpu") for b in batches]
    images = torch.cat([g[0] for g in got])
    cpu = list(ShardDataset(shards, size=(40, 56), shuffle=False))
    assert images.shape == (len(cpu), 3, 40, 56)
    assert torch.equal(torch.cat([g[1] for g in got]), torch.tensor([s[1] for s in cpu]))
    for k in range(len(cpu)):  # oriented from the column, resized by torch: close to Pillow
        assert (images[k].int() - cpu[k][0].int()).abs().float().mean() < 6
    subj = ShardDataset(subject_shards, size=24, decode="cuda", shuffle=False)
    views, _, _ = subj.collate_cuda(list(itertools.islice(subj, 3)), device="cpu")
    assert views.shape == (3, 5, 3, 24, 24)

    corrupt_copy(shards, tmp_path / "bad")
    bad = ShardDataset(tmp_path / "bad", size=16, decode="cuda", shuffle=False)
    first = ShardDataset.collate_bytes(list(itertools.islice(bad, 8)))
    with pytest.raises(InputError, match="row group 0 row 3"):
        bad.collate_cuda(first, device="cpu")
    skip = ShardDataset(
        tmp_path / "bad", size=16, decode="cuda", shuffle=False, on_bad_image="skip"
    )
    images, labels, meta = skip.collate_cuda(first, device="cpu")
    assert len(images) == len(labels) == len(meta["path"]) == 7 and skip.skipped == 1


def test_decode_cuda_without_cuda_is_a_clear_error(
    shards: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(NorwoodkitError, match="decode='cuda' needs"):
        ShardDataset(shards, decode="cuda")
    monkeypatch.setitem(sys.modules, "torchvision", None)  # not installed
    with pytest.raises(NorwoodkitError, match="needs torchvision"):
        ShardDataset(shards, decode="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_decode_cuda_matches_cpu(shards: Path, subject_shards: Path) -> None:
    pytest.importorskip("torchvision")
    ds = ShardDataset(shards, size=64, decode="cuda", shuffle=False)
    cpu = list(ShardDataset(shards, size=64, shuffle=False))
    loader_ = DataLoader(ds, batch_size=16, num_workers=2, collate_fn=ShardDataset.collate_bytes)
    got = [ds.collate_cuda(b) for b in loader_]
    images = torch.cat([g[0] for g in got]).cpu()
    assert images.shape == (len(cpu), 3, 64, 64)
    want = torch.stack([s[0] for s in cpu])
    assert (images.int() - want.int()).abs().float().mean() < 8
    subj = ShardDataset(subject_shards, size=32, decode="cuda", shuffle=False)
    batch = subj.collate_cuda([next(iter(subj))])
    assert batch[0].shape == (1, 5, 3, 32, 32) and batch[0].is_cuda


def test_bench_load_reports(shards: Path) -> None:
    rows = bench_load(shards, workers=(0,), batch_sizes=(16,), seconds=0.2, size=32)
    assert len(rows) == 1
    r = rows[0]
    assert r["workers"] == 0 and r["batch_size"] == 16 and r["images"] > 0
    assert r["images_per_s"] > 0 and r["mb_per_s"] > 0
