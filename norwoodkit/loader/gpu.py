"""The GPU path (``decode="cuda"``): bytes batched in the workers, nvJPEG in the main process.

Workers yield each image's encoded bytes as a uint8 tensor; ``collate_bytes`` batches them
without decoding (an ``EncodedBatch``), and ``decode_batch`` decodes the batch with nvJPEG
(``torchvision.io.decode_jpeg``), orients and resizes it on the GPU. DataLoader workers must
not touch CUDA, so only ``decode_batch`` does.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from norwoodkit.errors import NorwoodkitError
from norwoodkit.loader.badimage import BadImageHandler, ImagePlace
from norwoodkit.loader.decode import decode_image, orient, resize_cover, to_tensor
from norwoodkit.loader.extra import default_collate, torch
from norwoodkit.loader.options import Sample
from norwoodkit.loader.shards import VIEW_NAMES

__all__ = [
    "EncodedBatch",
    "assemble",
    "collate_bytes",
    "copy_tensor",
    "decode_batch",
    "decode_many",
    "require_cuda",
]


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


def copy_tensor(view: memoryview) -> torch.Tensor:
    """Encoded bytes out of the Arrow buffer into a uint8 tensor the workers can hand over."""
    return torch.from_numpy(np.frombuffer(view, dtype=np.uint8).copy())


def require_cuda() -> Any:
    """``torchvision.io``, once torchvision and a CUDA GPU are known to be there."""
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


def decode_many(
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
                cpu = to_tensor(decode_image(t.numpy().tobytes(), None))
            except Exception as exc:  # Pillow raises many types for broken bytes
                out[i] = exc
                continue
            out[i] = cpu.to(device)
    return out


def assemble(
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


def decode_batch(
    enc: EncodedBatch,
    size: tuple[int, int],
    device: torch.device,
    tv_io: Any,
    root: Path,
    on_bad: BadImageHandler,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """Decode, orient and resize a batch on ``device``: ``(uint8 images, labels, meta)``.

    ``on_bad`` hears of each undecodable image (in pack folder ``root``); when it returns, the
    sample leaves the batch.
    """
    decoded = decode_many(enc.images, device, tv_io)
    keep = list(range(len(enc)))
    for i, d in enumerate(decoded):
        if isinstance(d, Exception):
            s = i // enc.views
            on_bad(_place(enc, s, i % enc.views, root), d)
            if s in keep:
                keep.remove(s)
    clean = [d if isinstance(d, torch.Tensor) else None for d in decoded]
    images = assemble(clean, enc.orientation, size, device)
    if enc.views > 1:
        images = images.view(len(enc), enc.views, 3, *size)
    labels = enc.labels
    meta = enc.meta
    if len(keep) < len(enc):
        idx = torch.tensor(keep, dtype=torch.int64)
        images, labels = images[idx.to(device)], labels[idx]
        meta = _take(meta, keep)
    return images, labels.to(device, non_blocking=True), meta


def _place(enc: EncodedBatch, sample: int, view: int, root: Path) -> ImagePlace:
    """Where image ``view`` of ``sample`` in the batch was stored, from the collated meta."""
    m = enc.meta
    paths = m.get("path") if enc.views == 1 else None
    return ImagePlace(
        root=root,
        shard=m["shard"][sample],
        row_group=int(m["row_group"][sample]),
        row=int(m["row"][sample]),
        subject=m["subject_id"][sample],
        path=paths[sample] if paths else "",
        view=VIEW_NAMES[view] if enc.views > 1 else "",
    )


def _take(meta: Any, keep: list[int]) -> Any:
    """The collated metadata of the samples in ``keep`` only."""
    if isinstance(meta, torch.Tensor):
        return meta[torch.tensor(keep, dtype=torch.int64)]
    if isinstance(meta, dict):
        return {k: _take(v, keep) for k, v in meta.items()}
    if isinstance(meta, list) and meta and isinstance(meta[0], list | torch.Tensor):
        return [_take(v, keep) for v in meta]
    if isinstance(meta, list):
        return [meta[i] for i in keep]
    return meta
