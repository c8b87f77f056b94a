"""A shard row to a sample: ``(image, label, meta)``, decoded (CPU) or still encoded (GPU).

The sample is ``(uint8 tensor C x H x W, label, meta)``, or ``transform(PIL image)`` in place
of the tensor. Subject-layout shards give ``5 x C x H x W`` (views in ``VIEWS`` order; a missing
view is zeros and ``meta["mask"]`` is False for it). With ``decode="cuda"`` the image is the
encoded bytes as a uint8 tensor (a list of five for subject layout). An image that cannot be
decoded, or whose bytes differ from the sha256 stored beside them (original-bytes shards),
goes to the bad-image handler chosen from ``on_bad_image``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from norwoodkit.loader.badimage import HANDLERS, ChangedImage, ImagePlace
from norwoodkit.loader.decode import decode_image, fill, to_tensor
from norwoodkit.loader.extra import torch
from norwoodkit.loader.gpu import copy_tensor
from norwoodkit.loader.options import BadImage, Decode, Sample
from norwoodkit.loader.shards import Row, ShardSplit

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = ["COPIES", "SampleMaker", "copy_bytes"]


def copy_bytes(view: memoryview) -> bytes:
    """Encoded bytes out of the Arrow buffer, for Pillow to read."""
    return bytes(view)


# how image bytes leave Arrow, per decode: bytes for Pillow, tensors for the GPU batch
COPIES: dict[Decode, Callable[[memoryview], Any]] = {"cpu": copy_bytes, "cuda": copy_tensor}


class SampleMaker:
    """Turns a ``Row`` into a sample: decode, orient, resize, transform; the bad-image policy."""

    def __init__(
        self,
        split: ShardSplit,
        size: tuple[int, int] | None,
        transform: Callable[[PILImage.Image], Any] | None,
        decode: Decode,
        on_bad_image: BadImage,
    ) -> None:
        self.split = split
        self.size = size
        self.transform = transform
        self.decode = decode
        self.handle = HANDLERS[on_bad_image]
        self.skipped = 0
        self.copy: Callable[[memoryview], Any] = COPIES[decode]

    def place(self, row: Row, column: int) -> ImagePlace:
        """Where image ``column`` of ``row`` is stored."""
        return ImagePlace(
            root=self.split.root,
            shard=self.split.shard_of(row.unit),
            row_group=int(self.split.unit_group[row.unit]),
            row=row.row,
            subject=row.meta["subject_id"],
            path=row.paths[column],
        )

    def bad(self, place: ImagePlace, exc: BaseException) -> None:
        """Apply the policy to an undecodable image; count it when the policy goes on."""
        self.handle(place, exc)
        self.skipped += 1

    def meta(self, row: Row, padded: bool) -> dict[str, Any]:
        """The sample's metadata: the row's columns and where it was read."""
        meta = dict(row.meta)
        meta["label"] = row.label
        meta["shard"] = self.split.shard_of(row.unit)
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

    def intact(self, row: Row) -> bool:
        """Whether every image of the row matches its stored sha256; the policy hears of one
        that does not (one hash of the bytes the decoder reads anyway)."""
        for k, (data, expected) in enumerate(zip(row.images, row.sha256, strict=True)):
            if data is None or expected is None:
                continue
            view: Any = data.numpy() if isinstance(data, torch.Tensor) else data
            if hashlib.sha256(view).hexdigest() != expected:
                self.bad(self.place(row, k), ChangedImage())
                return False
        return True

    def make(self, row: Row, padded: bool) -> Sample | None:
        """The sample, or None when an image is bad and the policy is ``skip``."""
        if not self.intact(row):
            return None
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
                self.bad(self.place(row, k), exc)
                return None
        # the transform runs outside the try: its errors are the user's, not a bad image
        if self.split.layout == "image":
            im = decoded[0]
            assert im is not None
            return (self.transform(im) if self.transform else to_tensor(im)), row.label, meta
        return self.stack(decoded), row.label, meta

    def stack(self, views: list[PILImage.Image | None]) -> Any:
        """Five views as one ``5 x C x H x W`` tensor (zeros for a missing view), or a list."""
        if self.transform is None:
            assert self.size is not None
            out = np.zeros((len(views), 3, *self.size), dtype=np.uint8)
            for k, im in enumerate(views):
                if im is not None:
                    fill(out[k], im)
            return torch.from_numpy(out)
        done = [None if im is None else self.transform(im) for im in views]
        present = [d for d in done if d is not None]
        if present and all(
            isinstance(d, torch.Tensor) and d.shape == present[0].shape for d in present
        ):
            zero = torch.zeros_like(present[0])
            return torch.stack([zero if d is None else d for d in done])
        return done
