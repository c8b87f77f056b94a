"""The PyTorch datasets: ``ShardDataset`` (streamed, split over ranks x workers, resumable) and
``ShardIndex`` (random access by row), over one split of a ``norwoodkit pack`` folder."""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from norwoodkit.loader.partition import EpochPlan, Readers, plan_epoch
from norwoodkit.loader.samples import SampleMaker, copy_bytes
from norwoodkit.loader.shards import VIEW_NAMES, OpenFiles, RowGroup, open_split
from norwoodkit.loader.state import LoaderState
from norwoodkit.loader.stream import read_epoch

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = ["ShardDataset", "ShardIndex"]


class ShardDataset(IterableDataset[Sample]):
    """Stream one split of a ``norwoodkit pack`` folder as ``(image, label, meta)`` samples.

    Args:
        directory: the pack output folder (with ``manifest.json``).
        split: the split to read (``train``, ``validation`` or ``val``, ``test``, ...).
        size: output ``(H, W)`` (or one int for a square); the image is scaled to cover it and
            centre-cropped. None: the full upright image (only with a ``transform`` or batch
            size 1; subject layout needs a size unless the transform makes equal tensors).
        transform: called with the upright RGB PIL image (after ``size``); its result replaces
            the uint8 tensor.
        shuffle: permute units per epoch and pass samples through the shuffle buffer.
        seed: with the epoch, fixes every random choice (same seed and epoch, same order).
        shuffle_buffer: samples in each reader's shuffle buffer (encoded bytes in memory).
        uneven: ``pad`` repeats samples from the start of a reader's list up to the largest
            reader's count; ``drop`` cuts every reader to the smallest's.
        decode: ``cpu`` (Pillow in the workers) or ``cuda`` (bytes from the workers, nvJPEG in
            ``collate_cuda``; needs torchvision and a GPU).
        on_bad_image: ``raise`` (InputError naming shard, row group, row, subject) or ``skip``
            (logged, counted in ``skipped``, replaced from the start of the reader's list).
        rank, world_size: this process's place among ranks (default: torch.distributed, else
            0 of 1).
        worker_id, num_workers: this copy's place among DataLoader workers (default:
            ``get_worker_info()``, else 0 of 1); set them to simulate workers.

    Raises:
        InputError: no manifest, unknown split, newer format, a missing or changed shard.
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
    ) -> None:
        super().__init__()
        check_options(
            uneven=uneven,
            decode=decode,
            on_bad_image=on_bad_image,
            seed=seed,
            buffer=shuffle_buffer,
        )
        self.split = open_split(directory, split)
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
        self._readers: int | None = None
        self._progress: dict[int, list[int]] = {}  # reader -> [position, yielded]
        self._resume: dict[int, tuple[int, int]] | None = None
        self._resume_readers: int | None = None
        self._plan_cache: tuple[tuple[int, int, int], EpochPlan] | None = None

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
            self._resume = None
            self._progress = {}

    def state_dict(self) -> dict[str, Any]:
        """Epoch, seed and, per reader, stream positions passed and samples yielded."""
        progress = sorted(self._progress.items())
        return self._state(
            self._readers, {r: p[0] for r, p in progress}, {r: p[1] for r, p in progress}
        )

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume: the next iteration of ``state["epoch"]`` yields only what was not yet yielded.

        Raises:
            InputError: the state is from another split or other options.
        """
        loaded = LoaderState.from_dict(state, split=self.split.split, config=self._config())
        self.epoch = loaded.epoch
        self.seed = loaded.seed
        self._resume = loaded.resume()
        self._resume_readers = loaded.readers
        self._readers = loaded.readers
        self._progress = {r: [p, y] for r, (p, y) in self._resume.items()}

    def state_after_batches(
        self, batches: int, batch_size: int, num_workers: int = 0
    ) -> dict[str, Any]:
        """The state after a plain ``DataLoader`` handed out ``batches`` batches this epoch.

        DataLoader takes batches from its workers in turn and every worker yields the same
        count, so worker ``w`` has given ``ceil((batches - w) / num_workers)`` batches. Exact
        while no image was skipped (with skips, use torchdata's StatefulDataLoader).
        """
        workers = max(1, num_workers)
        here = self._where(num_workers=workers, worker_id=0)
        readers = here.world_size * workers
        target = self._plan(0, readers).target
        progress: dict[int, int] = {}
        for w in range(workers):
            taken = max(0, -(-(batches - w) // workers))
            progress[here.rank * workers + w] = min(target, taken * batch_size)
        return self._state(readers, progress, dict(progress))

    def samples_per_epoch(self, num_workers: int | None = None) -> int:
        """Samples this rank yields in the current epoch (every reader's count x workers)."""
        here = self._where(num_workers=num_workers, worker_id=0)
        return self._plan(0, here.count).target * here.num_workers

    # ----------------------------------------------------------- iteration

    def _config(self) -> dict[str, Any]:
        return {
            "shuffle": self.shuffle,
            "shuffle_buffer": self.shuffle_buffer,
            "uneven": self.uneven,
            "units": self.split.units,
            "rows": self.split.rows,
        }

    def _state(
        self, readers: int | None, position: dict[int, int], yielded: dict[int, int]
    ) -> dict[str, Any]:
        return LoaderState(
            split=self.split.split,
            epoch=self.epoch,
            seed=self.seed,
            config=self._config(),
            readers=readers,
            position=position,
            yielded=yielded,
        ).to_dict()

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

    def _plan(self, reader: int, readers: int) -> EpochPlan:
        key = (self.epoch, reader, readers)
        if self._plan_cache is not None and self._plan_cache[0] == key:
            return self._plan_cache[1]
        plan = plan_epoch(
            self.split.unit_rows,
            reader,
            readers,
            epoch=self.epoch,
            seed=self.seed,
            shuffle=self.shuffle,
            shuffle_buffer=self.shuffle_buffer,
            uneven=self.uneven,
            source=f"{self.split.root}: split {self.split.split!r}",
        )
        self._plan_cache = (key, plan)
        return plan

    def __iter__(self) -> Iterator[Sample]:
        here = self._where()
        readers, reader = here.count, here.index
        plan = self._plan(reader, readers)
        position, yielded = 0, 0
        if self._resume is not None:
            if self._resume_readers is not None and self._resume_readers != readers:
                raise InputError(
                    f"the loader state was saved with {self._resume_readers} readers (ranks x "
                    f"workers), this run has {readers}; resume with the same world size and "
                    "num_workers",
                    code="state-readers",
                )
            position, yielded = self._resume.get(reader, (0, 0))
        self._readers = readers
        progress = [position, yielded]
        self._progress = {reader: progress}
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
    map-style dataset cannot skip an index.
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
    ) -> None:
        self.split = open_split(directory, split)
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
