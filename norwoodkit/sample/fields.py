"""Textures and smooth random fields that the photo renderer paints with.

Textures come from fixed seeds and are cached, so renders stay deterministic and cheap: a render
only picks offsets into them. The fields (ramps, ellipses, low-frequency DCT fields, smooth cell
fields) are float32 arrays over the working resolution.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

# Arrays are float32 at runtime; the alias is looser because numpy's stubs widen arithmetic
# between float32 arrays and Python floats to float64.
F32 = npt.NDArray[np.floating[Any]]

TEX = 256  # side of the strand texture; a power of two so indices wrap with "&"
BLOB = 768  # side of the smooth-noise texture; must exceed the largest working resolution
NOISE_TILE = 512
_DCT_K = 8  # the perceptual hash reads the lowest 8 x 8 DCT frequencies

_PHASE = np.array([0.0, 2.094, 4.189], dtype=np.float32)  # hue rotation for R, G, B


def tinted(val: float, hue: float, sat: float) -> npt.NDArray[np.float32]:
    """An RGB colour (0..1) of brightness ``val``, turned towards ``hue`` by ``sat``."""
    out: npt.NDArray[np.float32] = val * (1.0 + sat * np.cos(hue + _PHASE))
    return out


# ---------------------------------------------------------------------------------------------
# Cached textures and bases: picking offsets into them is far cheaper than drawing fresh noise.


@lru_cache(maxsize=1)
def strand_texture() -> F32:
    """A ``TEX`` x ``TEX`` streaky texture (0..1) that reads as hair strands."""
    from scipy.ndimage import uniform_filter1d

    g = np.random.default_rng(0x5EED).random((TEX, TEX), dtype=np.float32)
    # Long along axis 0, sharp across axis 1: indexed with (along, across) it reads as strands.
    s = uniform_filter1d(g, 11, axis=0, mode="wrap")
    s = (s - s.min()) / (s.max() - s.min())
    return np.ascontiguousarray(np.clip((s - 0.5) * 2.2 + 0.5, 0.0, 1.0), dtype=np.float32)


@lru_cache(maxsize=1)
def blob_texture() -> tuple[F32, F32]:
    """Two ``BLOB`` x ``BLOB`` noise textures in [-1, 1]: coarse blotches and fine grain."""
    from scipy.ndimage import gaussian_filter

    g = np.random.default_rng(0xB10B).standard_normal((2, BLOB, BLOB)).astype(np.float32)
    coarse = gaussian_filter(g[0], 9.0, mode="wrap")
    fine = gaussian_filter(g[1], 0.8, mode="wrap")
    coarse /= np.abs(coarse).max()
    fine /= np.abs(fine).max()
    return coarse.astype(np.float32), fine.astype(np.float32)


@lru_cache(maxsize=16)
def noise_tile(level: int, grain: int) -> Image.Image:
    """Sensor-noise tile centred on 128; ``grain`` > 1 makes it blotchier for big images."""
    rng = np.random.default_rng([0x0150, level, grain])
    n = NOISE_TILE // grain
    sigma = (4.0, 4.8, 5.8, 7.0)[level]
    luma = rng.standard_normal((n, n, 1), dtype=np.float32) * sigma
    chroma = rng.standard_normal((n, n, 3), dtype=np.float32) * (sigma * 0.45)
    small = Image.fromarray(np.clip(luma + chroma + 128.0, 0, 255).astype(np.uint8), "RGB")
    if grain == 1:
        return small
    # Phone denoisers leave low-amplitude, spatially correlated grain at high resolution.
    return small.resize((NOISE_TILE, NOISE_TILE), Image.Resampling.BILINEAR)


@lru_cache(maxsize=8)
def axes(w: int, h: int) -> tuple[F32, F32]:
    """Pixel-centre coordinates in units of the short side, centred on the frame."""
    s = float(min(w, h))
    x = ((np.arange(w, dtype=np.float32) + 0.5) - w / 2) / s
    y = ((np.arange(h, dtype=np.float32) + 0.5) - h / 2) / s
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


@lru_cache(maxsize=8)
def dct_basis(n: int, k: int) -> F32:
    """The first ``k`` DCT-II basis vectors over ``n`` samples, as a (k, n) matrix."""
    t = (np.arange(n, dtype=np.float64)[None, :] + 0.5) * (math.pi / n)
    b = np.cos(t * np.arange(k, dtype=np.float64)[:, None]).astype(np.float32)
    b.setflags(write=False)
    return b


# ---------------------------------------------------------------------------------------------
# Field helpers.


def ramp(x: F32, lo: float, hi: float) -> F32:
    """0 below ``lo``, 1 above ``hi``, linear between."""
    out: F32 = np.clip((x - lo) * (1.0 / (hi - lo)), 0.0, 1.0)
    return out


def ellipse(u: F32, v: F32, cu: float, cv: float, ru: float, rv: float, soft: float) -> F32:
    """1 inside the ellipse, 0 outside, with a soft edge of width ``soft`` in squared radius."""
    q = np.square((u - cu) * (1.0 / ru)) + np.square((v - cv) * (1.0 / rv))
    return ramp(1.0 - q, 0.0, soft)


def dct_field(rng: np.random.Generator, w: int, h: int, rms: float, slope: float) -> F32:
    """Smooth random field with independent Gaussian weights on the low 2-D DCT frequencies.

    A field interpolated from a few random cells, or any single big shape, moves only a few
    directions of the low-frequency DCT signature; this one moves every direction independently.
    """
    k = _DCT_K
    kk = np.arange(k, dtype=np.float32)
    sig = 1.0 / np.power(1.0 + kk[:, None] + kk[None, :], slope)
    sig[0, 0] = 0.0  # overall brightness is exposure's job
    c = np.where(kk == 0, 1.0, 0.5)
    norm = rms / math.sqrt(float((np.square(sig) * c[:, None] * c[None, :]).sum()))
    weights = rng.standard_normal((k, k)).astype(np.float32) * (sig * norm)
    # einsum rather than "@": the products are tiny, and BLAS threads only add contention.
    rows = np.einsum("kh,kj->hj", dct_basis(h, k), weights)
    out: F32 = np.einsum("hk,kw->hw", rows, dct_basis(w, k))
    return out


def smooth_field(rng: np.random.Generator, lo: int, hi: int, w: int, h: int) -> F32:
    """Random field in [-1, 1] with ``lo``..``hi`` smooth cells across the long side."""
    cells = rng.integers(0, 256, (16, 16), dtype=np.uint8)  # fixed-size draw
    n = int(rng.integers(lo, hi + 1))
    gx, gy = (n, max(2, round(n * h / w))) if w >= h else (max(2, round(n * w / h)), n)
    img = Image.fromarray(np.ascontiguousarray(cells[:gy, :gx]), "L")
    big = np.asarray(img.resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32)
    out: F32 = big * (2.0 / 255.0) - 1.0
    return out
