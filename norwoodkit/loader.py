"""PyTorch datasets over ``norwoodkit pack`` shards: a streaming ``ShardDataset`` for training and
a random-access ``ShardIndex``. Needs the ``torch`` extra (``pip install 'norwoodkit[torch]'``).

``ShardDataset`` is an ``IterableDataset``. How one epoch is produced:

1. **Work units** are the shards' row groups (about 20 rows; a subject never straddles two),
   read from the Parquet footers. With ``shuffle`` the units are permuted with
   ``(seed, epoch)``; without it they keep file order (manifest shard order, then row group).
2. **Readers.** Every DataLoader worker of every rank is one reader: ``readers = world_size x
   num_workers`` and reader ``rank x num_workers + worker_id``. Rank and world size come from
   ``torch.distributed`` when it is initialised (else 0 and 1), the worker from
   ``get_worker_info()``; constructor arguments override all four. Units are dealt in the
   (shuffled) order, each to the reader with the fewest rows so far, so readers differ by at most
   one unit's rows. Fewer units than readers is an error (some reader would get nothing).
3. **Equal counts.** Every reader yields the same number of samples per epoch, or distributed
   training hangs at the last step. ``uneven="pad"`` (default) fills each reader up to the
   largest reader's rows by repeating samples from the start of its own list (they carry
   ``meta["padded"] = True``); ``uneven="drop"`` cuts every reader to the smallest reader's rows
   (a few rows of the epoch are not seen; which ones changes with the epoch).
4. **Shuffle buffer.** Each reader passes its stream through a buffer of ``shuffle_buffer``
   samples (a random one leaves as each new one enters), seeded with ``(seed, epoch, reader)``.
   The buffer holds encoded image bytes, so its memory is about ``shuffle_buffer`` x the stored
   image size (resized shards make it small); ``shuffle=False`` or ``shuffle_buffer <= 1``
   yields in reading order.

Determinism and resume: the whole order above is a pure function of (seed, epoch, readers,
options), computed from the footers without reading an image. Each reader counts the stream
positions it has passed (``position``) and the samples it has yielded (``yielded``; they differ
only when a bad image was skipped). ``state_dict()`` returns them per reader with the epoch and
seed; after ``load_state_dict()`` each reader rebuilds the same order, skips the passed positions
without reading or decoding them, and yields exactly the samples the interrupted run had not yet
yielded, in the same order.

- ``num_workers=0``: the dataset object itself counts; ``ds.state_dict()`` in the training loop
  is exact after every sample.
- DataLoader workers iterate *copies* of the dataset, so the counts live in the workers, one
  entry per worker. torchdata's ``StatefulDataLoader`` handles this: it calls ``state_dict()``
  on each worker's copy after every batch, keeps the state that matches the batches it handed
  out, and calls ``load_state_dict()`` on each worker's copy when resumed (our dataset state
  is used, so it does not fast-forward by re-reading). With a plain ``DataLoader``, use
  ``ds.state_after_batches(k, batch_size, num_workers)`` for the state after ``k`` batches
  (DataLoader takes batches from workers in turn, and every worker yields equal counts);
  resume at a ``k`` that is a multiple of ``num_workers`` to keep the workers' interleaving
  too. Call ``set_epoch`` before each epoch; with ``persistent_workers=True`` the workers keep
  the epoch they started with.

Decoding (``decode="cpu"``): one copy takes the image out of the Arrow data buffer (a
``memoryview`` slice; the column is never turned into Python objects) into the bytes Pillow
reads; JPEGs are decoded at a reduced DCT scale (``Image.draft``) when ``size`` allows it, the
EXIF orientation is applied, then the image is scaled to *cover* ``size = (H, W)`` (for a square
size: shorter side to H) and centre-cropped, in one resampling (bilinear, antialiased). The
sample is ``(uint8 tensor C x H x W, label, meta)``, or ``transform(PIL image)`` in place of the
tensor. Subject-layout shards give ``5 x C x H x W`` (views in ``VIEWS`` order; a missing view
is zeros and ``meta["mask"]`` is False for it). ``decode="cuda"``: workers yield the encoded
bytes as uint8 tensors; ``ShardDataset.collate_bytes`` batches them in the workers and
``ds.collate_cuda`` decodes the batch with nvJPEG (``torchvision.io.decode_jpeg``) and resizes
on the GPU in the main process.

Bad input: a shard in the manifest but not on disk, an unknown split, a newer manifest format
or a footer that disagrees with the manifest stop with an ``InputError``; a shard file on disk
that the manifest does not list is never read and is logged as a warning (the manifest is the
source of truth; ``norwoodkit verify`` reports it as an error). An image that cannot be decoded
raises (``on_bad_image="raise"``, naming shard, row group, row and subject) or is skipped,
logged and counted in ``ds.skipped`` (``"skip"``); a reader that skipped images then takes
replacements from the start of its list so its count still matches the others'.
"""

from __future__ import annotations

import bisect
import heapq
import importlib
import io
import logging
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from norwoodkit.errors import InputError, NorwoodkitError
from norwoodkit.labels import VIEWS


class TorchMissingError(NorwoodkitError, ImportError):
    """PyTorch is not installed (``norwoodkit.loader`` needs the ``torch`` extra)."""


try:
    import torch
    from torch.utils.data import DataLoader, IterableDataset, default_collate, get_worker_info
    from torch.utils.data import Dataset as TorchDataset
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess test
    raise TorchMissingError(
        f"norwoodkit.loader needs PyTorch ({_exc}); install it with: "
        "pip install 'norwoodkit[torch]'",
        code="torch-missing",
    ) from _exc

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = [
    "DEFAULT_SIZE",
    "EncodedBatch",
    "ShardDataset",
    "ShardIndex",
    "TorchMissingError",
    "bench_load",
]

log = logging.getLogger(__name__)

STATE_FORMAT = 1
DEFAULT_SIZE = (224, 224)
VIEW_NAMES = tuple(v.value for v in VIEWS)
_SHARD_NAME = re.compile(r"^(?P<split>.+)-\d{5}-of-\d{5}\.parquet$")
_OPEN_FILES = 8
_META_STR = ("subject_id", "stage_variant", "gender", "ethnicity")

Sample = tuple[Any, int, dict[str, Any]]
Uneven = Literal["pad", "drop"]
BadImage = Literal["raise", "skip"]
Decode = Literal["cpu", "cuda"]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


# --------------------------------------------------------------------------- shards on disk


@dataclass(frozen=True)
class _Split:
    """One split of a pack folder: its shards and work units (row groups), from the footers."""

    root: Path
    split: str
    layout: str
    resized: bool
    shards: tuple[str, ...]
    unit_shard: IntArray  # shard index of each unit
    unit_group: IntArray  # row group index inside its shard
    unit_rows: IntArray
    unit_start: IntArray  # global row index of the unit's first row (file order)

    @property
    def units(self) -> int:
        return len(self.unit_rows)

    @property
    def rows(self) -> int:
        return int(self.unit_rows.sum())

    @property
    def image_columns(self) -> tuple[str, ...]:
        if self.layout == "image":
            return ("image",)
        return tuple(f"image_{v}" for v in VIEW_NAMES)

    def columns(self) -> list[str]:
        if self.layout == "image":
            return [*self.image_columns, "label", "view", "stage", "age", *_META_STR, "orientation"]
        return [
            *self.image_columns,
            "label",
            "stage",
            "age",
            *_META_STR,
            *(f"orientation_{v}" for v in VIEW_NAMES),
        ]


def _open_split(directory: str | Path, split: str) -> _Split:
    """Read manifest.json and the footers of one split's shards; check they agree."""
    import pyarrow.parquet as pq

    from norwoodkit.pack import read_manifest

    root = Path(directory)
    manifest = read_manifest(root)
    layout = str(manifest["layout"])
    resized = manifest["options"]["resize"] is not None
    splits = manifest["splits"]
    if split not in splits:
        raise InputError(
            f"{root}: no split {split!r}; this pack has {', '.join(map(repr, splits))}",
            code="split-unknown",
        )
    records = splits[split]["shards"]
    listed = {r["path"] for r in records}
    folder = root / split
    if folder.is_dir():
        for f in sorted(folder.iterdir()):
            rel = f"{split}/{f.name}"
            m = _SHARD_NAME.match(f.name)
            if m and m.group("split") == split and rel not in listed:
                log.warning(
                    "%s: a shard file that manifest.json does not list; it is not read "
                    "(run `norwoodkit verify %s`, then delete it or pack again)",
                    root / rel,
                    root,
                )
    shard_of: list[int] = []
    group_of: list[int] = []
    rows_of: list[int] = []
    for i, rec in enumerate(records):
        path = root / rec["path"]
        if not path.is_file():
            raise InputError(
                f"{path}: listed in manifest.json but missing; run `norwoodkit verify {root}` "
                "and pack again with --resume",
                code="shard-missing",
            )
        try:
            meta = pq.read_metadata(path)
        except (OSError, ValueError) as exc:
            raise InputError(
                f"{path}: cannot be read as Parquet ({exc}); run `norwoodkit verify {root}`",
                code="shard-unreadable",
            ) from exc
        if meta.num_rows != rec["rows"]:
            raise InputError(
                f"{path}: {meta.num_rows} rows, manifest.json says {rec['rows']}; the shard "
                f"changed since packing: run `norwoodkit verify {root}`",
                code="shard-rows",
            )
        for g in range(meta.num_row_groups):
            n = meta.row_group(g).num_rows
            if n:
                shard_of.append(i)
                group_of.append(g)
                rows_of.append(n)
    rows = np.asarray(rows_of, dtype=np.int64)
    return _Split(
        root=root,
        split=split,
        layout=layout,
        resized=resized,
        shards=tuple(r["path"] for r in records),
        unit_shard=np.asarray(shard_of, dtype=np.int64),
        unit_group=np.asarray(group_of, dtype=np.int64),
        unit_rows=rows,
        unit_start=np.concatenate([[0], np.cumsum(rows)[:-1]]).astype(np.int64),
    )


@dataclass(slots=True)
class _Row:
    """One row of a row group, its image bytes taken out of Arrow: what a sample is made from."""

    unit: int
    row: int
    images: list[Any]  # bytes (cpu), uint8 tensor (cuda) or None (missing view), per column
    paths: list[str]
    orientation: list[int]
    label: int
    meta: dict[str, Any]


class _Group:
    """A row group read from a shard; image bytes are memoryview slices of the Arrow buffer."""

    def __init__(self, table: Any, split: _Split) -> None:
        self.images = [_binary_views(table.column(c)) for c in split.image_columns]
        self.paths = [_struct_field(table.column(c), 1) for c in split.image_columns]
        names = [c for c in table.column_names if c not in split.image_columns]
        self.meta = {c: table.column(c).to_pylist() for c in names}
        self.layout = split.layout
        self.resized = split.resized

    def row(self, unit: int, i: int, copy: Callable[[memoryview], Any]) -> _Row:
        images = [None if (v := col[i]) is None else copy(v) for col in self.images]
        m = self.meta
        meta: dict[str, Any] = {c: m[c][i] or "" for c in _META_STR}
        meta["stage"] = int(m["stage"][i] or 0)
        meta["age"] = -1 if m["age"][i] is None else int(m["age"][i])
        if self.layout == "image":
            meta["view"] = m["view"][i] or ""
            orient = [m["orientation"][i]]
        else:
            orient = [m[f"orientation_{v}"][i] for v in VIEW_NAMES]
        # resized copies are stored upright; originals carry their EXIF orientation
        orientation = [1 if self.resized or o is None else int(o) for o in orient]
        return _Row(
            unit=unit,
            row=i,
            images=images,
            paths=[p[i] or "" for p in self.paths],
            orientation=orientation,
            label=int(m["label"][i]),
            meta=meta,
        )


def _struct_field(column: Any, index: int) -> list[Any]:
    out: list[Any] = []
    for chunk in column.chunks:
        out += chunk.flatten()[index].to_pylist()
    return out


def _binary_views(column: Any) -> list[memoryview | None]:
    """Each cell's ``bytes`` as a zero-copy slice of the Arrow data buffer (None where null)."""
    out: list[memoryview | None] = []
    for chunk in column.chunks:
        data = chunk.flatten()[0]  # the struct's validity merged into its "bytes" child
        n = len(data)
        bufs = data.buffers()
        wide = str(data.type) in ("large_binary", "large_string")
        offsets = np.frombuffer(bufs[1], dtype=np.int64 if wide else np.int32)
        offsets = offsets[data.offset : data.offset + n + 1]
        body = memoryview(bufs[2]) if bufs[2] is not None else memoryview(b"")
        valid = data.is_valid().to_numpy(zero_copy_only=False)
        bounds = offsets.tolist()
        for i in range(n):
            out.append(body[bounds[i] : bounds[i + 1]] if valid[i] else None)
    return out


class _Files:
    """A few open Parquet files (an LRU), so row groups of one shard do not reparse its footer."""

    def __init__(self, split: _Split) -> None:
        self.split = split
        self.open: OrderedDict[int, Any] = OrderedDict()

    def group(self, unit: int) -> _Group:
        import pyarrow.parquet as pq

        s = int(self.split.unit_shard[unit])
        pf = self.open.pop(s, None)
        if pf is None:
            pf = pq.ParquetFile(self.split.root / self.split.shards[s])
            if len(self.open) >= _OPEN_FILES:
                _, old = self.open.popitem(last=False)
                old.close()
        self.open[s] = pf
        g = int(self.split.unit_group[unit])
        table = pf.read_row_group(g, columns=self.split.columns(), use_threads=False)
        return _Group(table, self.split)

    def close(self) -> None:
        for pf in self.open.values():
            pf.close()
        self.open.clear()


def _copy_bytes(view: memoryview) -> bytes:
    return bytes(view)


def _copy_tensor(view: memoryview) -> torch.Tensor:
    return torch.from_numpy(np.frombuffer(view, dtype=np.uint8).copy())


# --------------------------------------------------------------------------- decoding


def _size(size: int | Sequence[int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    hw = (int(size), int(size)) if isinstance(size, int) else tuple(int(s) for s in size)
    if len(hw) != 2 or min(hw) < 1:
        raise InputError(f"size={size!r}: give (height, width) in pixels, or one int")
    return (hw[0], hw[1])


def _upright_size(w: int, h: int, orientation: int) -> tuple[int, int]:
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def _cover_box(w: int, h: int, size: tuple[int, int]) -> tuple[float, float, float, float]:
    """The centred source box of a ``w x h`` image that, scaled to cover ``size``, fills it."""
    height, width = size
    scale = max(height / h, width / w)
    cw, ch = min(w, width / scale), min(h, height / scale)
    left, top = (w - cw) / 2, (h - ch) / 2
    return (left, top, left + cw, top + ch)


def decode_image(data: bytes, size: tuple[int, int] | None) -> PILImage.Image:
    """Decode one image to an upright RGB PIL image covering ``size`` (H, W), centre-cropped.

    JPEGs are decoded at the smallest DCT scale (1/2, 1/4, 1/8) that still covers ``size``.
    ``size=None`` keeps the full upright image.
    """
    from PIL import Image, ImageOps

    im: Image.Image = Image.open(io.BytesIO(data))
    if size is not None and im.format == "JPEG":
        orientation = int(im.getexif().get(0x0112, 1) or 1)
        uw, uh = _upright_size(*im.size, orientation)
        scale = max(size[0] / uh, size[1] / uw)
        if scale < 1:
            need = _upright_size(math.ceil(uw * scale), math.ceil(uh * scale), orientation)
            im.draft("RGB", need)
    ImageOps.exif_transpose(im, in_place=True)
    if im.mode != "RGB":
        im = im.convert("RGB")
    if size is None:
        im.load()
        return im
    box = _cover_box(im.width, im.height, size)
    return im.resize((size[1], size[0]), Image.Resampling.BILINEAR, box=box)


def _to_tensor(im: PILImage.Image) -> torch.Tensor:
    out = np.empty((len(im.getbands()), im.height, im.width), dtype=np.uint8)
    _fill(out, im)
    return torch.from_numpy(out)


def _fill(out: npt.NDArray[np.uint8], im: PILImage.Image) -> None:
    """Write an image into a ``C x H x W`` array band by band.

    numpy, not torch: torch splits copies of this size over its intra-op threads, which costs
    1-10 ms per image in a process with several threads (``num_workers=0``).
    """
    for c, band in enumerate(im.split()):
        out[c] = np.asarray(band)


def orient(img: torch.Tensor, orientation: int) -> torch.Tensor:
    """Apply an EXIF orientation (1-8) to a ``... x H x W`` tensor, as Pillow's exif_transpose."""
    h, w = img.dim() - 2, img.dim() - 1
    ops: dict[int, Callable[[torch.Tensor], torch.Tensor]] = {
        2: lambda t: t.flip(w),
        3: lambda t: t.flip(h, w),
        4: lambda t: t.flip(h),
        5: lambda t: t.transpose(h, w),
        6: lambda t: t.rot90(-1, (h, w)),
        7: lambda t: t.transpose(h, w).flip(h, w),
        8: lambda t: t.rot90(1, (h, w)),
    }
    op = ops.get(orientation)
    return img if op is None else op(img)


def resize_cover(imgs: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``N x C x h x w`` -> ``N x C x H x W`` uint8: cover ``size``, centre crop (any device)."""
    h, w = imgs.shape[-2:]
    left, top, right, bottom = _cover_box(w, h, size)
    t, b = round(top), max(round(top) + 1, round(bottom))
    lft, r = round(left), max(round(left) + 1, round(right))
    crop = imgs[..., t:b, lft:r].float()
    out = torch.nn.functional.interpolate(
        crop, size=size, mode="bilinear", antialias=True, align_corners=False
    )
    return out.round_().clamp_(0, 255).to(torch.uint8)


class _Maker:
    """Turns a ``_Row`` into a sample: decode, orient, resize, transform; the bad-image policy."""

    def __init__(
        self,
        split: _Split,
        size: tuple[int, int] | None,
        transform: Callable[[PILImage.Image], Any] | None,
        decode: Decode,
        on_bad_image: BadImage,
    ) -> None:
        self.split = split
        self.size = size
        self.transform = transform
        self.decode = decode
        self.on_bad_image = on_bad_image
        self.skipped = 0
        self.copy: Callable[[memoryview], Any] = _COPIES[decode]

    def where(self, row: _Row, column: int | None = None) -> str:
        unit = row.unit
        shard = self.split.shards[int(self.split.unit_shard[unit])]
        group = int(self.split.unit_group[unit])
        path = row.paths[column] if column is not None else ""
        return (
            f"{self.split.root / shard} row group {group} row {row.row} "
            f"(subject {row.meta['subject_id']}{', ' + path if path else ''})"
        )

    def meta(self, row: _Row, padded: bool) -> dict[str, Any]:
        meta = dict(row.meta)
        meta["label"] = row.label
        meta["shard"] = self.split.shards[int(self.split.unit_shard[row.unit])]
        meta["row_group"] = int(self.split.unit_group[row.unit])
        meta["row"] = row.row
        meta["padded"] = padded
        meta["bytes"] = sum(len(x) for x in row.images if x is not None)
        if self.split.layout == "image":
            meta["path"] = row.paths[0]
            meta["orientation"] = row.orientation[0]
        else:
            meta["paths"] = list(row.paths)
            meta["mask"] = torch.tensor([x is not None for x in row.images])
            meta["orientation"] = list(row.orientation)
        return meta

    def make(self, row: _Row, padded: bool) -> Sample | None:
        """The sample, or None when an image is bad and the policy is ``skip``."""
        meta = self.meta(row, padded)
        if self.decode == "cuda":
            enc = [x if x is not None else torch.empty(0, dtype=torch.uint8) for x in row.images]
            return (enc[0] if self.split.layout == "image" else enc), row.label, meta
        decoded: list[PILImage.Image | None] = []
        for k, data in enumerate(row.images):
            if data is None:
                decoded.append(None)
                continue
            try:
                decoded.append(decode_image(data, self.size))
            except Exception as exc:  # Pillow raises many types for broken bytes
                if self.bad(row, k, exc):
                    return None
        # the transform runs outside the try: its errors are the user's, not a bad image
        if self.split.layout == "image":
            im = decoded[0]
            assert im is not None
            return (self.transform(im) if self.transform else _to_tensor(im)), row.label, meta
        return self.stack(decoded), row.label, meta

    def bad(self, row: _Row, column: int, exc: BaseException) -> bool:
        where = self.where(row, column)
        if self.on_bad_image == "raise":
            raise InputError(
                f"{where}: cannot be decoded ({type(exc).__name__}: {exc}); run `norwoodkit "
                f"verify {self.split.root} --decode` and pack again, or pass "
                "on_bad_image='skip'",
                code="image-undecodable-in-shard",
            ) from exc
        self.skipped += 1
        log.warning("%s: cannot be decoded (%s); skipped", where, exc)
        return True

    def stack(self, views: list[PILImage.Image | None]) -> Any:
        if self.transform is None:
            assert self.size is not None
            out = np.zeros((len(views), 3, *self.size), dtype=np.uint8)
            for k, im in enumerate(views):
                if im is not None:
                    _fill(out[k], im)
            return torch.from_numpy(out)
        done = [None if im is None else self.transform(im) for im in views]
        present = [d for d in done if d is not None]
        if present and all(
            isinstance(d, torch.Tensor) and d.shape == present[0].shape for d in present
        ):
            zero = torch.zeros_like(present[0])
            return torch.stack([zero if d is None else d for d in done])
        return done


_COPIES: dict[str, Callable[[memoryview], Any]] = {"cpu": _copy_bytes, "cuda": _copy_tensor}


# --------------------------------------------------------------------------- GPU decode


@dataclass
class EncodedBatch:
    """A batch of encoded images (``decode="cuda"``), made in the workers by ``collate_bytes``.

    ``images`` holds one 1-D uint8 tensor per image (``views`` per sample; empty for a missing
    view), ``orientation`` their EXIF orientations, ``labels`` the labels, ``meta`` the
    metadata collated as ``default_collate`` does.
    """

    images: list[torch.Tensor]
    orientation: list[int]
    labels: torch.Tensor
    meta: dict[str, Any]
    views: int

    def __len__(self) -> int:
        return len(self.labels)


def _require_cuda() -> Any:
    try:
        tv_io = importlib.import_module("torchvision.io")
    except Exception as exc:  # ImportError, or a torchvision built for another torch
        raise NorwoodkitError(
            f"decode='cuda' needs torchvision ({type(exc).__name__}: {exc}); install the "
            "torchvision that matches your torch, or use decode='cpu'",
            code="torchvision-missing",
        ) from exc
    if not torch.cuda.is_available():
        raise NorwoodkitError(
            "decode='cuda' needs a CUDA GPU, and torch.cuda.is_available() is False; "
            "use decode='cpu'",
            code="cuda-missing",
        )
    return tv_io


def _is_jpeg(t: torch.Tensor) -> bool:
    return t.numel() > 3 and t[:3].tolist() == [0xFF, 0xD8, 0xFF]


def _decode_many(
    images: Sequence[torch.Tensor], device: torch.device, tv_io: Any
) -> list[torch.Tensor | Exception | None]:
    """Decode to ``3 x h x w`` uint8 on ``device``: JPEGs with nvJPEG in one call, others (and
    JPEGs nvJPEG refuses, e.g. CMYK) with Pillow; an Exception in place of an undecodable one."""
    out: list[torch.Tensor | Exception | None] = [None] * len(images)
    jpegs = [i for i, t in enumerate(images) if _is_jpeg(t)]
    rgb = tv_io.ImageReadMode.RGB
    if jpegs:
        try:
            decoded = tv_io.decode_jpeg([images[i] for i in jpegs], mode=rgb, device=device)
            for i, d in zip(jpegs, decoded, strict=True):
                out[i] = d
        except RuntimeError:
            for i in jpegs:  # one bad JPEG fails the whole call: find it
                try:
                    out[i] = tv_io.decode_jpeg(images[i], mode=rgb, device=device)
                except RuntimeError:
                    out[i] = None
    for i, t in enumerate(images):
        if out[i] is None and t.numel():
            try:
                cpu = _to_tensor(decode_image(t.numpy().tobytes(), None))
            except Exception as exc:  # Pillow raises many types for broken bytes
                out[i] = exc
                continue
            out[i] = cpu.to(device)
    return out


def _assemble(
    decoded: Sequence[torch.Tensor | None],
    orientation: Sequence[int],
    size: tuple[int, int],
    device: torch.device,
) -> torch.Tensor:
    """Orient and resize decoded images into one ``N x 3 x H x W`` uint8 tensor (zeros for None).

    Images of one shape are resized in one call (resized shards: usually the whole batch).
    """
    out = torch.zeros((len(decoded), 3, *size), dtype=torch.uint8, device=device)
    by_shape: dict[tuple[int, ...], list[int]] = {}
    upright: dict[int, torch.Tensor] = {}
    for i, img in enumerate(decoded):
        if img is None:
            continue
        u = orient(img, orientation[i])
        upright[i] = u
        by_shape.setdefault(tuple(u.shape), []).append(i)
    for idx in by_shape.values():
        out[idx] = resize_cover(torch.stack([upright[i] for i in idx]), size)
    return out


# --------------------------------------------------------------------------- ShardDataset


def _deal(rows: IntArray, order: IntArray, readers: int) -> list[list[int]]:
    """Give each unit (in ``order``) to the reader with the fewest rows so far (ties: lowest)."""
    heap = [(0, r) for r in range(readers)]
    out: list[list[int]] = [[] for _ in range(readers)]
    sizes = rows.tolist()
    for u in order.tolist():
        load, r = heapq.heappop(heap)
        out[r].append(u)
        heapq.heappush(heap, (load + sizes[u], r))
    return out


def _buffer_order(n: int, size: int, rng: np.random.Generator) -> IntArray:
    """Output order of a shuffle buffer of ``size`` over inputs ``0..n-1``.

    Output ``k`` (before the final drain) only needs inputs ``< size + k`` to have entered.
    """
    if size <= 1 or n <= 1:
        return np.arange(n, dtype=np.int64)
    size = min(size, n)
    picks = rng.integers(0, size, n - size).tolist()
    buf = list(range(size))
    out = np.empty(n, dtype=np.int64)
    for k, j in enumerate(range(size, n)):
        p = picks[k]
        out[k] = buf[p]
        buf[p] = j
    tail = np.asarray(buf, dtype=np.int64)
    rng.shuffle(tail)
    out[n - size :] = tail
    return out


@dataclass(frozen=True)
class _Plan:
    """One reader's epoch: its units in reading order, its own row count and the common target."""

    units: list[int]
    starts: list[int]  # offset of each unit's first row in the reader's list (cumulative)
    base: int  # rows in the reader's own units
    target: int  # samples every reader yields
    order: IntArray  # output order as positions of the (padded or cut) input stream


class ShardDataset(IterableDataset[Sample]):
    """Stream one split of a ``norwoodkit pack`` folder as ``(image, label, meta)`` samples.

    Args:
        directory: the pack output folder (with ``manifest.json``).
        split: the split to read (``train``, ``test``, ... or ``all``).
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
        _check_choice("uneven", uneven, ("pad", "drop"))
        _check_choice("decode", decode, ("cpu", "cuda"))
        _check_choice("on_bad_image", on_bad_image, ("raise", "skip"))
        if seed < 0:
            raise InputError(f"seed={seed}: use a seed >= 0")
        if shuffle_buffer < 0:
            raise InputError(f"shuffle_buffer={shuffle_buffer}: use 0 or more samples")
        self.split = _open_split(directory, split)
        if self.split.units == 0:
            raise InputError(f"{directory}: split {split!r} has no rows", code="split-empty")
        hw = _size(size)
        if decode == "cuda":
            _require_cuda()
            if hw is None:
                raise InputError("decode='cuda' needs a size: the batch is resized on the GPU")
            if transform is not None:
                raise InputError("decode='cuda' takes no transform: apply it to the GPU batch")
        if self.split.layout == "subject" and hw is None and transform is None:
            raise InputError(
                "subject-layout shards stack five views: give size=(H, W) or a transform"
            )
        self.size = hw
        self.shuffle = shuffle
        self.seed = seed
        self.shuffle_buffer = shuffle_buffer
        self.uneven: Uneven = uneven
        self.decode: Decode = decode
        self.on_bad_image: BadImage = on_bad_image
        self._maker = _Maker(self.split, hw, transform, decode, on_bad_image)
        self._overrides = (rank, world_size, worker_id, num_workers)
        self.epoch = 0
        self._readers: int | None = None
        self._progress: dict[int, list[int]] = {}  # reader -> [position, yielded]
        self._resume: dict[int, tuple[int, int]] | None = None
        self._resume_readers: int | None = None
        self._plan_cache: tuple[tuple[int, int, int], _Plan] | None = None

    # ----------------------------------------------------------- public state

    @property
    def skipped(self) -> int:
        """Images skipped as undecodable (``on_bad_image="skip"``) by this copy of the dataset.

        With DataLoader workers each worker counts its own (the log names every one).
        """
        return self._maker.skipped

    @property
    def layout(self) -> str:
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
        return {
            "format": STATE_FORMAT,
            "split": self.split.split,
            "epoch": self.epoch,
            "seed": self.seed,
            "config": self._config(),
            "readers": self._readers,
            "position": {r: p[0] for r, p in sorted(self._progress.items())},
            "yielded": {r: p[1] for r, p in sorted(self._progress.items())},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume: the next iteration of ``state["epoch"]`` yields only what was not yet yielded.

        Raises:
            InputError: the state is from another split or other options.
        """
        try:
            if int(state["format"]) > STATE_FORMAT:
                raise InputError("the loader state was written by a newer norwoodkit")
            if state["split"] != self.split.split:
                raise InputError(
                    f"the loader state is for split {state['split']!r}, this dataset reads "
                    f"{self.split.split!r}"
                )
            if dict(state["config"]) != self._config():
                raise InputError(
                    f"the loader state was saved with {state['config']}, this dataset has "
                    f"{self._config()}; construct it with the same shards and options"
                )
            position = {int(k): int(v) for k, v in state["position"].items()}
            yielded = {int(k): int(v) for k, v in state["yielded"].items()}
            self.epoch = int(state["epoch"])
            self.seed = int(state["seed"])
            readers = state["readers"]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"not a ShardDataset state ({exc})", code="state-invalid") from exc
        self._resume = {r: (position[r], yielded.get(r, position[r])) for r in position}
        self._resume_readers = None if readers is None else int(readers)
        self._readers = self._resume_readers
        self._progress = {r: [p, y] for r, (p, y) in self._resume.items()}

    def state_after_batches(
        self, batches: int, batch_size: int, num_workers: int = 0
    ) -> dict[str, Any]:
        """The state after a plain ``DataLoader`` handed out ``batches`` batches this epoch.

        DataLoader takes batches from its workers in turn and every worker yields the same
        count, so worker ``w`` has given ``ceil((batches - w) / num_workers)`` batches. Exact
        while no image was skipped (with skips, use torchdata's StatefulDataLoader).
        """
        rank, world, _, _ = self._where(num_workers=max(1, num_workers), worker_id=0)
        workers = max(1, num_workers)
        readers = world * workers
        target = self._plan(0, readers).target
        progress: dict[int, int] = {}
        for w in range(workers):
            taken = max(0, -(-(batches - w) // workers))
            progress[rank * workers + w] = min(target, taken * batch_size)
        return {
            "format": STATE_FORMAT,
            "split": self.split.split,
            "epoch": self.epoch,
            "seed": self.seed,
            "config": self._config(),
            "readers": readers,
            "position": progress,
            "yielded": dict(progress),
        }

    def samples_per_epoch(self, num_workers: int | None = None) -> int:
        """Samples this rank yields in the current epoch (every reader's count x workers)."""
        _, world, _, workers = self._where(num_workers=num_workers, worker_id=0)
        return self._plan(0, world * workers).target * workers

    # ----------------------------------------------------------- iteration

    def _config(self) -> dict[str, Any]:
        return {
            "shuffle": self.shuffle,
            "shuffle_buffer": self.shuffle_buffer,
            "uneven": self.uneven,
            "units": self.split.units,
            "rows": self.split.rows,
        }

    def _where(
        self, *, num_workers: int | None = None, worker_id: int | None = None
    ) -> tuple[int, int, int, int]:
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
        if not (0 <= rank < world and 0 <= wid < nw):
            raise InputError(
                f"rank {rank} of world_size {world}, worker {wid} of {nw}: each must be "
                "0 <= id < count"
            )
        return rank, world, wid, nw

    def _plan(self, reader: int, readers: int) -> _Plan:
        key = (self.epoch, reader, readers)
        if self._plan_cache is not None and self._plan_cache[0] == key:
            return self._plan_cache[1]
        s = self.split
        if s.units < readers:
            raise InputError(
                f"{s.root}: split {s.split!r} has {s.units} row groups (work units) for "
                f"{readers} readers (world_size x DataLoader workers); each reader needs at "
                "least one. Use fewer workers or ranks, or pack again with a smaller "
                "--rows-per-group (or more data)",
                code="too-few-units",
            )
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(s.units)
        else:
            order = np.arange(s.units)
        dealt = _deal(s.unit_rows, order, readers)
        loads = [int(s.unit_rows[d].sum()) for d in dealt]
        target = max(loads) if self.uneven == "pad" else min(loads)
        mine = dealt[reader]
        if self.shuffle:
            rng = np.random.default_rng([self.seed, self.epoch, 1 + reader])
            out = _buffer_order(target, self.shuffle_buffer, rng)
        else:
            out = np.arange(target, dtype=np.int64)
        plan = _Plan(
            units=mine,
            starts=[0, *np.cumsum(s.unit_rows[mine]).tolist()],
            base=loads[reader],
            target=target,
            order=out,
        )
        self._plan_cache = (key, plan)
        return plan

    def __iter__(self) -> Iterator[Sample]:
        rank, world, wid, nw = self._where()
        readers = world * nw
        reader = rank * nw + wid
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
        return self._stream(plan, progress)

    def _stream(self, plan: _Plan, progress: list[int]) -> Iterator[Sample]:
        files = _Files(self.split)
        try:
            yield from self._samples(plan, progress, files)
        finally:
            files.close()

    def _samples(self, plan: _Plan, progress: list[int], files: _Files) -> Iterator[Sample]:
        maker, target, base = self._maker, plan.target, plan.base
        start = progress[0]
        needed = np.zeros(target, dtype=bool)
        needed[plan.order[start:]] = True
        pending: dict[int, _Row] = {}
        entered = 0
        order = plan.order.tolist()
        while progress[0] < target:
            j = order[progress[0]]
            while entered <= j:
                entered = self._enter(plan, entered, needed, pending, files)
            row = pending.pop(j)
            progress[0] += 1
            sample = maker.make(row, padded=j >= base)
            if sample is not None:
                progress[1] += 1
                yield sample
        # replacements for skipped images: the reader's list again from its start
        misses = 0
        while progress[1] < target:
            k = (progress[0] - target) % base
            row = self._row_at(plan, k, files)
            progress[0] += 1
            sample = maker.make(row, padded=True)
            if sample is None:
                misses += 1
                if misses > base:
                    raise InputError(
                        f"{self.split.root}: no image of this reader's {base} rows decodes",
                        code="image-undecodable-in-shard",
                    )
                continue
            misses = 0
            progress[1] += 1
            yield sample

    def _enter(
        self,
        plan: _Plan,
        entered: int,
        needed: BoolArray,
        pending: dict[int, _Row],
        files: _Files,
    ) -> int:
        """Enter the next run of input positions that lie in one unit; read it if needed."""
        r = entered % plan.base
        k = bisect.bisect_right(plan.starts, r) - 1
        unit = plan.units[k]
        first = r - plan.starts[k]
        n = min(int(self.split.unit_rows[unit]) - first, plan.target - entered)
        if needed[entered : entered + n].any():
            group = files.group(unit)
            for i in range(n):
                if needed[entered + i]:
                    pending[entered + i] = group.row(unit, first + i, self._maker.copy)
        return entered + n

    def _row_at(self, plan: _Plan, r: int, files: _Files) -> _Row:
        k = bisect.bisect_right(plan.starts, r) - 1
        unit = plan.units[k]
        return files.group(unit).row(unit, r - plan.starts[k], self._maker.copy)

    # ----------------------------------------------------------- GPU batches

    @staticmethod
    def collate_bytes(samples: Sequence[Sample]) -> EncodedBatch:
        """Batch ``decode="cuda"`` samples without decoding (use as the DataLoader collate_fn)."""
        images: list[torch.Tensor] = []
        orientation: list[int] = []
        metas = []
        for enc, _, meta in samples:
            m = dict(meta)
            o = m.pop("orientation")
            if isinstance(enc, list):
                images += enc
                orientation += o
            else:
                images.append(enc)
                orientation.append(o)
            metas.append(m)
        views = 1 if samples and not isinstance(samples[0][0], list) else len(VIEW_NAMES)
        return EncodedBatch(
            images=images,
            orientation=orientation,
            labels=torch.tensor([s[1] for s in samples], dtype=torch.int64),
            meta=default_collate(metas) if metas else {},
            views=views,
        )

    def collate_cuda(
        self, batch: Sequence[Sample] | EncodedBatch, device: str | torch.device = "cuda"
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
        """Decode a batch on the GPU: ``(uint8 B x 3 x H x W [B x 5 x ...], labels, meta)``.

        With ``num_workers=0`` pass it as ``collate_fn``. With workers, the collate function
        runs in the worker processes, which must not touch CUDA: use
        ``collate_fn=ShardDataset.collate_bytes`` and call ``ds.collate_cuda(batch)`` on each
        batch in the training loop. Undecodable images follow ``on_bad_image`` (``skip``
        drops the sample from the batch).
        """
        tv_io = _require_cuda()
        enc = batch if isinstance(batch, EncodedBatch) else self.collate_bytes(batch)
        assert self.size is not None
        dev = torch.device(device)
        decoded = _decode_many(enc.images, dev, tv_io)
        keep = list(range(len(enc)))
        for i, d in enumerate(decoded):
            if isinstance(d, Exception):
                s = i // enc.views
                self._bad_in_batch(enc, s, i % enc.views, d)
                if s in keep:
                    keep.remove(s)
        clean = [d if isinstance(d, torch.Tensor) else None for d in decoded]
        images = _assemble(clean, enc.orientation, self.size, dev)
        if enc.views > 1:
            images = images.view(len(enc), enc.views, 3, *self.size)
        labels = enc.labels
        meta = enc.meta
        if len(keep) < len(enc):
            idx = torch.tensor(keep, dtype=torch.int64)
            images, labels = images[idx.to(dev)], labels[idx]
            meta = _take(meta, keep)
        return images, labels.to(dev, non_blocking=True), meta

    def _bad_in_batch(self, enc: EncodedBatch, sample: int, view: int, exc: Exception) -> None:
        paths = enc.meta.get("path") if enc.views == 1 else enc.meta.get("paths")
        path = paths[sample] if enc.views == 1 and paths else ""
        where = (
            f"{self.split.root / enc.meta['shard'][sample]} row group "
            f"{int(enc.meta['row_group'][sample])} row {int(enc.meta['row'][sample])} "
            f"(subject {enc.meta['subject_id'][sample]}{', ' + path if path else ''}"
            f"{', view ' + VIEW_NAMES[view] if enc.views > 1 else ''})"
        )
        if self.on_bad_image == "raise":
            raise InputError(
                f"{where}: cannot be decoded ({exc}); run `norwoodkit verify "
                f"{self.split.root} --decode`, or pass on_bad_image='skip'",
                code="image-undecodable-in-shard",
            ) from exc
        self._maker.skipped += 1
        log.warning("%s: cannot be decoded (%s); skipped", where, exc)


def _take(meta: Any, keep: list[int]) -> Any:
    if isinstance(meta, torch.Tensor):
        return meta[torch.tensor(keep, dtype=torch.int64)]
    if isinstance(meta, dict):
        return {k: _take(v, keep) for k, v in meta.items()}
    if isinstance(meta, list) and meta and isinstance(meta[0], list | torch.Tensor):
        return [_take(v, keep) for v in meta]
    if isinstance(meta, list):
        return [meta[i] for i in keep]
    return meta


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InputError(f"{name}={value!r}: use one of {', '.join(map(repr, allowed))}")


# --------------------------------------------------------------------------- ShardIndex


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
        self.split = _open_split(directory, split)
        hw = _size(size)
        if self.split.layout == "subject" and hw is None and transform is None:
            raise InputError(
                "subject-layout shards stack five views: give size=(H, W) or a transform"
            )
        self._maker = _Maker(self.split, hw, transform, "cpu", "raise")
        self._starts = self.split.unit_start.tolist()
        self._cache_size = max(1, cache_row_groups)
        self._cache: OrderedDict[int, _Group] = OrderedDict()
        self._files: _Files | None = None

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
                self._files = _Files(self.split)
            group = self._files.group(unit)
            if len(self._cache) >= self._cache_size:
                self._cache.popitem(last=False)
        self._cache[unit] = group
        row = group.row(unit, i - self._starts[unit], _copy_bytes)
        sample = self._maker.make(row, padded=False)
        assert sample is not None  # the policy is "raise"
        return sample

    def __getstate__(self) -> dict[str, Any]:
        # open files and cached Arrow buffers stay in the process that made them
        state = dict(self.__dict__)
        state["_cache"] = OrderedDict()
        state["_files"] = None
        return state


# --------------------------------------------------------------------------- benchmark


def bench_load(
    directory: str | Path,
    split: str = "train",
    *,
    workers: Sequence[int] = (0, 2),
    batch_sizes: Sequence[int] = (32, 128),
    seconds: float = 5.0,
    size: int | tuple[int, int] = DEFAULT_SIZE,
    decode: Decode = "cpu",
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Images/s and MB/s (stored bytes) of ``ShardDataset`` through a DataLoader.

    For every worker count and batch size, reads for about ``seconds`` (epochs repeat as
    needed), timed from the first batch so worker start-up is left out.

    Returns:
        One dict per (workers, batch_size): ``workers``, ``batch_size``, ``images``,
        ``seconds``, ``images_per_s``, ``mb_per_s``, ``decode``, ``size``.
    """
    out: list[dict[str, Any]] = []
    for w in workers:
        for b in batch_sizes:
            ds = ShardDataset(directory, split, size=size, decode=decode, seed=0)
            collate = ShardDataset.collate_bytes if decode == "cuda" else None
            loader = DataLoader(
                ds,
                batch_size=b,
                num_workers=w,
                collate_fn=collate,
                persistent_workers=w > 0,
                prefetch_factor=4 if w > 0 else None,
            )
            images = stored = 0
            t0: float | None = None
            elapsed = 0.0
            while elapsed < seconds:
                for batch in loader:
                    if decode == "cuda":
                        images_t, _, meta = ds.collate_cuda(batch)
                        torch.cuda.synchronize()
                        n = len(images_t)
                    else:
                        meta = batch[2]
                        n = len(batch[1])
                    if t0 is None:  # the first batch includes start-up: not timed
                        t0 = time.perf_counter()
                        continue
                    images += n
                    stored += int(meta["bytes"].sum())
                    if progress:
                        progress(n)
                    elapsed = time.perf_counter() - t0
                    if elapsed >= seconds:
                        break
                else:
                    ds.set_epoch(ds.epoch + 1)
            out.append(
                {
                    "workers": w,
                    "batch_size": b,
                    "decode": decode,
                    "size": list(_size(size) or ()),
                    "images": images,
                    "seconds": round(elapsed, 3),
                    "images_per_s": images / elapsed if elapsed else 0.0,
                    "mb_per_s": stored / 1e6 / elapsed if elapsed else 0.0,
                }
            )
    return out
