"""Decoding: bytes to an upright RGB image covering the output size; tensor orient and resize.

CPU (``decode="cpu"``): JPEGs are decoded at a reduced DCT scale (``Image.draft``) when the size
allows it, the EXIF orientation is applied, then the image is scaled to *cover* ``size = (H,
W)`` (for a square size: shorter side to H) and centre-cropped, in one resampling (bilinear,
antialiased). ``orient`` and ``resize_cover`` do the same on tensors, on any device, for the
GPU path.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from norwoodkit import exif
from norwoodkit.loader.extra import torch

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = ["cover_box", "decode_image", "fill", "orient", "resize_cover", "to_tensor"]


def cover_box(w: int, h: int, size: tuple[int, int]) -> tuple[float, float, float, float]:
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
        orientation, _ = exif.orientation(im)  # what exif_transpose below will apply
        uw, uh = exif.upright_size(*im.size, orientation)
        scale = max(size[0] / uh, size[1] / uw)
        if scale < 1:
            need = exif.upright_size(math.ceil(uw * scale), math.ceil(uh * scale), orientation)
            im.draft("RGB", need)
    ImageOps.exif_transpose(im, in_place=True)
    if im.mode != "RGB":
        im = im.convert("RGB")
    if size is None:
        im.load()
        return im
    box = cover_box(im.width, im.height, size)
    return im.resize((size[1], size[0]), Image.Resampling.BILINEAR, box=box)


def to_tensor(im: PILImage.Image) -> torch.Tensor:
    """An image as a ``C x H x W`` uint8 tensor."""
    out = np.empty((len(im.getbands()), im.height, im.width), dtype=np.uint8)
    fill(out, im)
    return torch.from_numpy(out)


def fill(out: npt.NDArray[np.uint8], im: PILImage.Image) -> None:
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
    left, top, right, bottom = cover_box(w, h, size)
    t, b = round(top), max(round(top) + 1, round(bottom))
    lft, r = round(left), max(round(left) + 1, round(right))
    crop = imgs[..., t:b, lft:r].float()
    out = torch.nn.functional.interpolate(
        crop, size=size, mode="bilinear", antialias=True, align_corners=False
    )
    return out.round_().clamp_(0, 255).to(torch.uint8)
