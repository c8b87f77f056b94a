"""The PyTorch datasets: ``ShardDataset`` (streamed, split over ranks x workers, resumable) and
``ShardIndex`` (random access by row), over one split of a ``norwoodkit pack`` folder."""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from norwoodkit.errors import InputError
from norwoodkit.loader import gpu
from norwoodkit.loader.extra import IterableDataset, TorchDataset, get_worker_info, torch
from norwoodkit.loader.options import (
    DEFAULT_SIZE,
    BadImage,
    Decode,
    Sample,
    Uneven,
    check_options,
    check_output,
    parse_size,
)
from norwoodkit.loader.partition import (
    EpochPlan,
    IntArray,
    Order,
    Readers,
    Segment,
    plan_epoch,
    remaining,
    taken_after_batches,
)
from norwoodkit.loader.remote import open_pack
from norwoodkit.loader.samples import SampleMaker, copy_bytes
from norwoodkit.loader.shards import VIEW_NAMES, OpenFiles, RowGroup
from norwoodkit.loader.state import LoaderState, Progress
from norwoodkit.loader.stream import read_epoch

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = ["ShardDataset", "ShardIndex"]


class ShardDataset(IterableDataset[Sample]):
    """Stream one split of a ``norwoodkit pack`` folder as ``(image, label, meta)`` samples.

    Args:
        directory: the pack output folder (with ``manifest.json``), or its URL (``s3://...``,
            ``gs://...``, any fsspec URL): shards are then downloaded whole into a local cache
            as the readers need them, checked against the manifest's sha256, and the next
            ones of each reader's plan prefetched.
        split: the split to read (``train``, ``validation`` or ``val``, ``test``, ...).
        size: output ``(H, W)`` (or one int for a square); the image is scaled to cover it and
            centre-cropped. None: the full upright image (only with a ``transform`` or batch
            size 1; subject layout needs a size unless the transform makes equal tensors).
        transform: called with the upright RGB PIL image (after ``size``); its result replaces
            the uint8 tensor.
        shuffle: permute row groups per epoch and pass samples through the shuffle buffer.
        seed: with the epoch, fixes every random choice (same seed and epoch, same order).
        shuffle_buffer: samples in each reader's shuffle buffer (encoded bytes in memory).
        uneven: ``pad`` gives a short rank one repeat of its first sample, ``drop`` leaves out a
            long rank's last; either way at most ``readers - 1`` samples per epoch.
        decode: ``cpu`` (Pillow in the workers) or ``cuda`` (bytes from the workers, nvJPEG in
            ``collate_cuda``; needs torchvision and a GPU).
        on_bad_image: ``raise`` (InputError naming shard, row group, row, subject) or ``skip``
            (logged, counted in ``skipped``, replaced from the start of the reader's list).
        rank, world_size: this process's place among ranks (default: torch.distributed, else
            0 of 1).
        worker_id, num_workers: this copy's place among DataLoader workers (default:
            ``get_worker_info()``, else 0 of 1); set them to simulate workers.
        cache_dir: for a URL, where the shard cache lives (default: the user cache folder,
            ``$NORWOODKIT_CACHE_DIR`` if set); one folder per pack URL and manifest inside.
        cache_limit: for a URL, the most bytes of shards the pack's cache folder holds (an int
            or text such as ``"2GB"``); least recently used shards no reader holds are
            evicted. None: no limit. At least the largest shard.

    Raises:
        InputError: no manifest, unknown split, newer format, a missing or changed shard; for a
            URL also no such bucket or pack, or a store that refuses (naming the URL).
        ParameterError: an option value the dataset cannot use (named in the message).
        NorwoodkitError: ``decode="cuda"`` without torchvision or CUDA.
    """

    views = VIEW_NAMES

    def __init__(
        self,
        directory: str | Path,
        split: str = "train",
        *,
        size: int | tuple[int, int] | None = DEFAULT_SIZE,
        transform: Callable[[PILImage.Image], Any] | None = None,
        shuffle: bool = True,
        seed: int = 0,
        shuffle_buffer: int = 512,
        uneven: Uneven = "pad",
        decode: Decode = "cpu",
        on_bad_image: BadImage = "raise",
        rank: int | None = None,
        world_size: int | None = None,
        worker_id: int | None = None,
        num_workers: int | None = None,
        cache_dir: str | Path | None = None,
        cache_limit: int | str | None = None,
    ) -> None:
        super().__init__()
        check_options(
            uneven=uneven,
            decode=decode,
            on_bad_image=on_bad_image,
            seed=seed,
            buffer=shuffle_buffer,
        )
        self.split = open_pack(directory, split, cache_dir=cache_dir, cache_limit=cache_limit)
        if self.split.units == 0:
            raise InputError(f"{directory}: split {split!r} has no rows", code="split-empty")
        hw = parse_size(size)
        if decode == "cuda":
            gpu.require_cuda()
        check_output(hw, transform=transform is not None, decode=decode, layout=self.split.layout)
        self.size = hw
        self.shuffle = shuffle
        self.seed = seed
        self.shuffle_buffer = shuffle_buffer
        self.uneven: Uneven = uneven
        self.decode: Decode = decode
        self.on_bad_image: BadImage = on_bad_image
        self._maker = SampleMaker(self.split, hw, transform, decode, on_bad_image)
        self._overrides = (rank, world_size, worker_id, num_workers)
        self.epoch = 0
        self._progress = Progress()
        self._sequences: dict[tuple[int, int], IntArray] = {}  # (epoch, segments done) -> rows
        self._plans: dict[tuple[int, int, Readers], EpochPlan] = {}

    # ----------------------------------------------------------- public state

    @property
    def skipped(self) -> int:
        """Images skipped as undecodable (``on_bad_image="skip"``) by this copy of the dataset.

        With DataLoader workers each worker counts its own (the log names every one).
        """
        return self._maker.skipped

    @property
    def layout(self) -> str:
        """``image`` (one image per row) or ``subject`` (five views per row)."""
        return self.split.layout

    @property
    def rows(self) -> int:
        """Rows in the split (images, or subjects for subject-layout shards)."""
        return self.split.rows

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch (the shuffle depends on it); a loaded resume position is dropped
        when the epoch changes."""
        if epoch != self.epoch:
            self.epoch = epoch
            self._progress.reset()

    def state_dict(self) -> dict[str, Any]:
        """Epoch, seed, segments read by other layouts and, per reader, positions passed and
        samples yielded (``docs/formats.md``)."""
        return self._progress.state(self._expected()).to_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume: the next iteration of ``state["epoch"]`` yields only what was not yet yielded,
        on the same readers or on any other number of ranks and workers.

        Raises:
            InputError: a state of another split, pack, seed or options, of a newer or older
                format, or not a state at all (each names what differs).
        """
        loaded = LoaderState.from_dict(state, expect=self._expected())
        self.epoch = loaded.epoch
        self._progress.load(loaded)

    def state_after_batches(
        self, batches: int, batch_size: int, num_workers: int = 0
    ) -> dict[str, Any]:
        """The state after a plain ``DataLoader`` handed out ``batches`` more batches on every
        rank (from the loaded state, if any, else from the epoch's start).

        DataLoader asks its workers for batches in turn, leaving out a worker that has none
        left; every rank hands out the same batches. Exact while no image was skipped (with
        skips, use torchdata's StatefulDataLoader). The state names every reader of every
        rank, so it also resumes on another number of ranks or workers.
        """
        here = self._where(num_workers=max(1, num_workers), worker_id=0)
        done, at = self._progress.start(here.world_size, here.num_workers)
        position: dict[int, int] = {}
        for rank in range(here.world_size):
            readers = [
                Readers(rank, here.world_size, w, here.num_workers) for w in range(here.num_workers)
            ]
            start = [at.get(r.index, (0, 0)) for r in readers]
            left = [
                self._plan(r, done).target - y for r, (_, y) in zip(readers, start, strict=True)
            ]
            taken = taken_after_batches(left, batch_size, batches)
            for r, (p, _), t in zip(readers, start, taken, strict=True):
                position[r.index] = p + t
        progress = Progress()
        progress.begin(here.world_size, here.num_workers, done, 0, (0, 0))
        progress.counts = {r: [p, p] for r, p in position.items()}
        return progress.state(self._expected()).to_dict()

    def samples_per_epoch(self, num_workers: int | None = None) -> int:
        """Samples this rank yields in a whole epoch, padding included (any ``num_workers``)."""
        here = self._where(num_workers=num_workers, worker_id=0)
        return sum(self._plan(r, ()).target for r in here.every() if r.rank == here.rank)

    def __len__(self) -> int:
        """Samples this rank yields in the current epoch, or in its rest after
        ``load_state_dict``; padding included, a skipped image's replacement too."""
        nw = self._progress.layout[1] if self._progress.layout else None
        here = self._where(num_workers=nw, worker_id=0)
        done, at = self._progress.start(here.world_size, here.num_workers)
        mine = [r for r in here.every() if r.rank == here.rank]
        return sum(self._plan(r, done).target - at.get(r.index, (0, 0))[1] for r in mine)

    # ----------------------------------------------------------- iteration

    def _config(self) -> dict[str, Any]:
        return {
            "shuffle": self.shuffle,
            "shuffle_buffer": self.shuffle_buffer,
            "uneven": self.uneven,
            "units": self.split.units,
            "rows": self.split.rows,
        }

    def _expected(self) -> LoaderState:
        """This dataset as a state with nothing read: what a loaded state must match."""
        return LoaderState(
            split=self.split.split,
            dataset=self.split.digest,
            epoch=self.epoch,
            seed=self.seed,
            config=self._config(),
        )

    def _where(self, *, num_workers: int | None = None, worker_id: int | None = None) -> Readers:
        """This copy's reader: constructor overrides, else the worker info and torch.distributed."""
        rank, world, wid, nw = self._overrides
        info = get_worker_info()
        if wid is None:
            wid = worker_id if worker_id is not None else (info.id if info else 0)
        if nw is None:
            nw = num_workers if num_workers is not None else (info.num_workers if info else 1)
        if rank is None or world is None:
            dist = torch.distributed
            on = dist.is_available() and dist.is_initialized()
            rank = rank if rank is not None else (dist.get_rank() if on else 0)
            world = world if world is not None else (dist.get_world_size() if on else 1)
        return Readers(rank=rank, world_size=world, worker=wid, num_workers=nw)

    def _order(self) -> Order:
        return Order(
            epoch=self.epoch,
            seed=self.seed,
            shuffle=self.shuffle,
            shuffle_buffer=self.shuffle_buffer,
            uneven=self.uneven,
        )

    def _plan(self, readers: Readers, done: tuple[Segment, ...]) -> EpochPlan:
        """The reader's plan in the segment after ``done`` (both kept for the epoch)."""
        key = (self.epoch, len(done))
        plan = self._plans.get((*key, readers))
        if plan is not None:
            return plan
        if len(self._plans) > 64 or any(k[0] != self.epoch for k in self._sequences):
            self._plans.clear()
            self._sequences.clear()
        order = self._order()
        if key not in self._sequences:
            self._sequences[key] = remaining(self.split.unit_rows, order, done)
        seq = self._sequences[key]
        plan = plan_epoch(self.split.unit_rows, readers, order, sequence=seq, segment=len(done))
        self._plans[(*key, readers)] = plan
        return plan

    def __iter__(self) -> Iterator[Sample]:
        here = self._where()
        done, at = self._progress.start(here.world_size, here.num_workers)
        plan = self._plan(here, done)
        progress = self._progress.begin(
            here.world_size, here.num_workers, done, here.index, at.get(here.index, (0, 0))
        )
        if self.split.cache is not None:  # prefetch follows the shards this reader will read
            ahead = np.sort(plan.order[progress[0] :])
            self.split.cache.follow(self.split.unit_shard[plan.unit[ahead]].tolist())
        return read_epoch(self.split, plan, progress, self._maker)

    # ----------------------------------------------------------- GPU batches

    @staticmethod
    def collate_bytes(samples: Sequence[Sample]) -> gpu.EncodedBatch:
        """Batch ``decode="cuda"`` samples without decoding (use as the DataLoader collate_fn)."""
        return gpu.collate_bytes(samples)

    def collate_cuda(
        self, batch: Sequence[Sample] | gpu.EncodedBatch, device: str | torch.device = "cuda"
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
        """Decode a batch on the GPU: ``(uint8 B x 3 x H x W [B x 5 x ...], labels, meta)``.

        With ``num_workers=0`` pass it as ``collate_fn``. With workers, the collate function
        runs in the worker processes, which must not touch CUDA: use
        ``collate_fn=ShardDataset.collate_bytes`` and call ``ds.collate_cuda(batch)`` on each
        batch in the training loop. Undecodable images follow ``on_bad_image`` (``skip``
        drops the sample from the batch).
        """
        tv_io = gpu.require_cuda()
        enc = batch if isinstance(batch, gpu.EncodedBatch) else gpu.collate_bytes(batch)
        assert self.size is not None
        dev = torch.device(device)
        return gpu.decode_batch(enc, self.size, dev, tv_io, self.split.root, self._maker.bad)


class ShardIndex(TorchDataset[Sample]):
    """Random access to one split by global row index (shards in manifest order, then rows).

    ``ShardIndex(DIR, "test")[i]`` is the same ``(image, label, meta)`` sample ``ShardDataset``
    makes. The last ``cache_row_groups`` row groups read stay in memory (an LRU), so reading
    neighbouring rows costs one Parquet read per row group. A bad image always raises: a
    map-style dataset cannot skip an index. ``directory`` may be a URL; ``cache_dir`` and
    ``cache_limit`` then work as for ``ShardDataset``.
    """

    views = VIEW_NAMES

    def __init__(
        self,
        directory: str | Path,
        split: str = "train",
        *,
        size: int | tuple[int, int] | None = DEFAULT_SIZE,
        transform: Callable[[PILImage.Image], Any] | None = None,
        cache_row_groups: int = 4,
        cache_dir: str | Path | None = None,
        cache_limit: int | str | None = None,
    ) -> None:
        self.split = open_pack(directory, split, cache_dir=cache_dir, cache_limit=cache_limit)
        hw = parse_size(size)
        check_output(hw, transform=transform is not None, decode="cpu", layout=self.split.layout)
        self._maker = SampleMaker(self.split, hw, transform, "cpu", "raise")
        self._starts = self.split.unit_start.tolist()
        self._cache_size = max(1, cache_row_groups)
        self._cache: OrderedDict[int, RowGroup] = OrderedDict()
        self._files: OpenFiles | None = None

    def __len__(self) -> int:
        return self.split.rows

    def __getitem__(self, index: int) -> Sample:
        n = len(self)
        i = index + n if index < 0 else index
        if not 0 <= i < n:
            raise IndexError(f"row {index} of {n}")
        unit = bisect.bisect_right(self._starts, i) - 1
        group = self._cache.pop(unit, None)
        if group is None:
            if self._files is None:
                self._files = OpenFiles(self.split)
            group = self._files.group(unit)
            if len(self._cache) >= self._cache_size:
                self._cache.popitem(last=False)
        self._cache[unit] = group
        row = group.row(unit, i - self._starts[unit], copy_bytes)
        sample = self._maker.make(row, padded=False)
        assert sample is not None  # the policy is "raise"
        return sample

    def __getstate__(self) -> dict[str, Any]:
        # open files and cached Arrow buffers stay in the process that made them
        state = dict(self.__dict__)
        state["_cache"] = OrderedDict()
        state["_files"] = None
        return state
