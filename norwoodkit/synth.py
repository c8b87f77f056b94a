"""Synthetic phone-photo-like head images for tests and benchmarks.

The renderer is not a medical illustration. Its job is to produce images whose statistics behave
like the real dataset's photos: plausible colours, textures and JPEG sizes, hair coverage that
follows the Norwood-Hamilton stage for each of the five views, and (most important for dedupe
testing) perceptual hashes that are far apart for distinct images yet stable under re-encoding.

How it stays fast: the scene is built with numpy at a small working resolution (320 px on the
long side, 400 px for very large outputs), mostly from scalar per-pixel "material weight" fields
that are turned into colour once, and head detail is only computed inside the head's bounding
box. Pillow's bicubic resize brings the scene to the output size and a cached, randomly offset
noise tile supplies full-resolution sensor grain in one C pass (``ImageChops.add``).

How it stays diverse: every view draws its own composition (head position, scale, roll, yaw,
mirroring, background layout and colours, light direction, exposure). A perceptual hash reads
only the lowest 8 x 8 DCT frequencies of a 32 x 32 thumbnail, and big shapes such as a head or a
wall edge put their energy into a few, strongly linked coefficients. So the room light is also a
smooth random field with an independent weight on every one of those frequencies (soft uneven
lighting, as from lamps and windows), which keeps distinct images' hashes close to independent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageChops, ImageFilter

from norwoodkit.errors import LabelError

__all__ = ["VIEWS", "SubjectTraits", "random_traits", "render_view"]

# Arrays are float32 at runtime; the alias is looser because numpy's stubs widen arithmetic
# between float32 arrays and Python floats to float64.
F32 = npt.NDArray[np.floating[Any]]

VIEWS: tuple[str, ...] = ("front", "top", "back", "left", "right")

_TEX = 256  # side of the strand texture; a power of two so indices wrap with "&"
_BLOB = 768  # side of the smooth-noise texture; must exceed the largest working resolution
_NOISE_TILE = 512
_DCT_K = 8  # the perceptual hash reads the lowest 8 x 8 DCT frequencies

# Plausible skin and hair colours (sRGB) that random_traits interpolates between or picks from.
_SKIN_PALETTE = np.array(
    [
        (255, 224, 196),
        (241, 194, 160),
        (224, 172, 132),
        (198, 144, 104),
        (168, 112, 76),
        (128, 84, 56),
        (92, 60, 40),
    ],
    dtype=np.float32,
)
_HAIR_PALETTE = np.array(
    [
        (22, 18, 16),
        (44, 32, 24),
        (70, 50, 34),
        (106, 78, 52),
        (150, 116, 78),
        (196, 168, 118),
        (120, 64, 36),
        (140, 138, 134),
        (196, 194, 190),
    ],
    dtype=np.float32,
)
_PHASE = np.array([0.0, 2.094, 4.189], dtype=np.float32)  # hue rotation for R, G, B


@dataclass(frozen=True)
class SubjectTraits:
    """What stays the same across one person's five views."""

    skin_rgb: tuple[int, int, int]
    hair_rgb: tuple[int, int, int]
    hair_density: float  # 0.35 (sparse, scalp shows through) .. 1.0 (thick)
    head_aspect: float  # skull height / width as seen from the front
    shirt_rgb: tuple[int, int, int]
    ear_scale: float
    beard: float  # 0 clean-shaven .. 1 full beard
    pattern_offset: int  # where this person's hairline irregularities come from in the noise


def _rgb(a: npt.NDArray[Any]) -> tuple[int, int, int]:
    c = np.clip(np.rint(a), 0, 255).astype(int)
    return (int(c[0]), int(c[1]), int(c[2]))


def _tinted(val: float, hue: float, sat: float) -> npt.NDArray[np.float32]:
    out: npt.NDArray[np.float32] = val * (1.0 + sat * np.cos(hue + _PHASE))
    return out


def random_traits(rng: np.random.Generator) -> SubjectTraits:
    """Draw one random person: skin, hair, head shape and clothing."""
    t = rng.uniform(0.0, len(_SKIN_PALETTE) - 1)
    i = min(int(t), len(_SKIN_PALETTE) - 2)
    skin = _SKIN_PALETTE[i] + (t - i) * (_SKIN_PALETTE[i + 1] - _SKIN_PALETTE[i])
    skin = skin * rng.uniform(0.92, 1.05) + rng.normal(0.0, 5.0, 3)
    hair = _HAIR_PALETTE[int(rng.integers(len(_HAIR_PALETTE)))] * rng.uniform(0.8, 1.15)
    hair = hair * (1.0 + rng.normal(0.0, 0.05, 3))  # relative, so black hair stays neutral
    # Clothing is anything from black to white, sometimes saturated.
    shirt = _tinted(rng.uniform(25.0, 235.0), rng.uniform(0.0, 2.0 * math.pi), rng.uniform() ** 3)
    return SubjectTraits(
        skin_rgb=_rgb(skin),
        hair_rgb=_rgb(hair),
        hair_density=float(rng.uniform(0.35, 1.0)),
        head_aspect=float(rng.uniform(1.15, 1.4)),
        shirt_rgb=_rgb(shirt),
        ear_scale=float(rng.uniform(0.85, 1.2)),
        beard=float(rng.uniform(0.0, 1.0) ** 2),
        pattern_offset=int(rng.integers(0, _BLOB)),
    )


# ---------------------------------------------------------------------------------------------
# Cached textures and bases. Textures come from fixed seeds so renders stay deterministic; each
# render only picks offsets into them, which is far cheaper than drawing fresh noise every time.


@lru_cache(maxsize=1)
def _strand_texture() -> F32:
    from scipy.ndimage import uniform_filter1d

    g = np.random.default_rng(0x5EED).random((_TEX, _TEX), dtype=np.float32)
    # Long along axis 0, sharp across axis 1: indexed with (along, across) it reads as strands.
    s = uniform_filter1d(g, 11, axis=0, mode="wrap")
    s = (s - s.min()) / (s.max() - s.min())
    return np.ascontiguousarray(np.clip((s - 0.5) * 2.2 + 0.5, 0.0, 1.0), dtype=np.float32)


@lru_cache(maxsize=1)
def _blob_texture() -> tuple[F32, F32]:
    from scipy.ndimage import gaussian_filter

    g = np.random.default_rng(0xB10B).standard_normal((2, _BLOB, _BLOB)).astype(np.float32)
    coarse = gaussian_filter(g[0], 9.0, mode="wrap")
    fine = gaussian_filter(g[1], 0.8, mode="wrap")
    coarse /= np.abs(coarse).max()
    fine /= np.abs(fine).max()
    return coarse.astype(np.float32), fine.astype(np.float32)


@lru_cache(maxsize=16)
def _noise_tile(level: int, grain: int) -> Image.Image:
    """Sensor-noise tile centred on 128; ``grain`` > 1 makes it blotchier for big images."""
    rng = np.random.default_rng([0x0150, level, grain])
    n = _NOISE_TILE // grain
    sigma = (4.0, 4.8, 5.8, 7.0)[level]
    luma = rng.standard_normal((n, n, 1), dtype=np.float32) * sigma
    chroma = rng.standard_normal((n, n, 3), dtype=np.float32) * (sigma * 0.45)
    small = Image.fromarray(np.clip(luma + chroma + 128.0, 0, 255).astype(np.uint8), "RGB")
    if grain == 1:
        return small
    # Phone denoisers leave low-amplitude, spatially correlated grain at high resolution.
    return small.resize((_NOISE_TILE, _NOISE_TILE), Image.Resampling.BILINEAR)


@lru_cache(maxsize=8)
def _axes(w: int, h: int) -> tuple[F32, F32]:
    """Pixel-centre coordinates in units of the short side, centred on the frame."""
    s = float(min(w, h))
    x = ((np.arange(w, dtype=np.float32) + 0.5) - w / 2) / s
    y = ((np.arange(h, dtype=np.float32) + 0.5) - h / 2) / s
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


@lru_cache(maxsize=8)
def _dct_basis(n: int, k: int) -> F32:
    """The first ``k`` DCT-II basis vectors over ``n`` samples, as a (k, n) matrix."""
    t = (np.arange(n, dtype=np.float64)[None, :] + 0.5) * (math.pi / n)
    b = np.cos(t * np.arange(k, dtype=np.float64)[:, None]).astype(np.float32)
    b.setflags(write=False)
    return b


# ---------------------------------------------------------------------------------------------
# Field helpers.


def _ramp(x: F32, lo: float, hi: float) -> F32:
    out: F32 = np.clip((x - lo) * (1.0 / (hi - lo)), 0.0, 1.0)
    return out


def _ellipse(u: F32, v: F32, cu: float, cv: float, ru: float, rv: float, soft: float) -> F32:
    """1 inside the ellipse, 0 outside, with a soft edge of width ``soft`` in squared radius."""
    q = np.square((u - cu) * (1.0 / ru)) + np.square((v - cv) * (1.0 / rv))
    return _ramp(1.0 - q, 0.0, soft)


def _dct_field(rng: np.random.Generator, w: int, h: int, rms: float, slope: float) -> F32:
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
    rows = np.einsum("kh,kj->hj", _dct_basis(h, k), weights)
    out: F32 = np.einsum("hk,kw->hw", rows, _dct_basis(w, k))
    return out


def _smooth_field(rng: np.random.Generator, lo: int, hi: int, w: int, h: int) -> F32:
    """Random field in [-1, 1] with ``lo``..``hi`` smooth cells across the long side."""
    cells = rng.integers(0, 256, (16, 16), dtype=np.uint8)  # fixed-size draw
    n = int(rng.integers(lo, hi + 1))
    gx, gy = (n, max(2, round(n * h / w))) if w >= h else (max(2, round(n * w / h)), n)
    img = Image.fromarray(np.ascontiguousarray(cells[:gy, :gx]), "L")
    big = np.asarray(img.resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32)
    out: F32 = big * (2.0 / 255.0) - 1.0
    return out


class _Layers:
    """Back-to-front compositing of scalar material weights (colour is applied once at the end)."""

    def __init__(self, shape: tuple[int, int]) -> None:
        self.bg: F32 = np.ones(shape, dtype=np.float32)
        self.skin: F32 = np.zeros(shape, dtype=np.float32)
        self.hair: F32 = np.zeros(shape, dtype=np.float32)
        self.shirt: F32 = np.zeros(shape, dtype=np.float32)

    def put(
        self,
        alpha: F32,
        material: str,
        lum: F32 | float,
        box: tuple[slice, slice] = (slice(None), slice(None)),
    ) -> None:
        """Lay ``alpha`` of ``material`` (brightness ``lum``) over what is there, inside ``box``."""
        keep = 1.0 - alpha
        self.bg[box] *= keep
        self.skin[box] *= keep
        self.hair[box] *= keep
        self.shirt[box] *= keep
        field: F32 = getattr(self, material)
        field[box] += alpha * lum


# Per-stage tables (index = stage - 1). Coordinates are in skull units: u to the right, v down,
# the skull outline is the unit circle in (u, v).
_FRONT_HAIRLINE = (-0.50, -0.56, -0.64, -0.74, -0.86, -1.6, -1.6)
_FRONT_TEMPLE = (0.0, 0.10, 0.22, 0.30, 0.32, 0.0, 0.0)
_FRONT_TOP_DENSITY = (1.0, 1.0, 1.0, 0.9, 0.55, 0.0, 0.0)
_FRONT_SIDE_U = (0.74, 0.76, 0.79, 0.81, 0.83, 0.85, 0.87)
_FRONT_SIDE_TOP = (-1.5, -1.5, -1.0, -0.8, -0.6, -0.45, -0.32)

_TOP_FRONT = (-0.92, -0.85, -0.72, -0.60, -0.50, -0.40, -0.30)
_TOP_TEMPLE = (0.0, 0.08, 0.18, 0.22, 0.25, 0.2, 0.0)
_TOP_VERTEX = (0.0, 0.0, 0.08, 0.22, 0.32, 0.45, 0.6)
_TOP_BRIDGE_THIN = (0.0, 0.0, 0.0, 0.0, 0.45, 1.0, 1.0)
_TOP_RIM = (0.75, 0.75, 0.75, 0.75, 0.75, 0.88, 0.80)

_BACK_VERTEX = (0.0, 0.0, 0.06, 0.2, 0.3, 0.45, 0.6)
_BACK_TOP = (-3.0, -3.0, -3.0, -3.0, -3.0, -0.40, -0.18)

_SIDE_FRONT = (-0.85, -0.72, -0.55, -0.42, -0.30, -0.35, -0.28)
_SIDE_VERTEX = (0.0, 0.0, 0.06, 0.18, 0.28, 0.4, 0.5)
_SIDE_TOP = (-3.0, -3.0, -3.0, -3.0, -3.0, -0.45, -0.25)


def _front_cover(u: F32, v: F32, k: int) -> F32:
    au = np.abs(u)
    line = _FRONT_HAIRLINE[k] - _FRONT_TEMPLE[k] * np.exp(-np.square((au - 0.5) * 5.5))
    top = _ramp(line - v, 0.0, 0.08) * _FRONT_TOP_DENSITY[k]
    side = (
        _ramp(au - _FRONT_SIDE_U[k], 0.0, 0.08)
        * _ramp(v - _FRONT_SIDE_TOP[k], 0.0, 0.1)
        * _ramp(0.12 - v, 0.0, 0.1)
    )
    out: F32 = np.maximum(top, side)
    return out


def _top_cover(u: F32, v: F32, k: int) -> F32:
    au = np.abs(u)
    line = _TOP_FRONT[k] + _TOP_TEMPLE[k] * np.exp(-np.square((au - 0.55) * 5.0))
    front = _ramp(line - v, 0.0, 0.08)
    r_vertex = _TOP_VERTEX[k]
    dv = np.sqrt(np.square(u) + np.square(v - 0.3))
    vertex = _ramp(r_vertex - dv, -0.04, 0.12) if r_vertex > 0 else np.zeros_like(u)
    d = np.sqrt(np.square(u) + np.square(v))
    bridge = _ramp(_TOP_RIM[k] - d, 0.0, 0.08) * _TOP_BRIDGE_THIN[k]
    bald = np.maximum(np.maximum(front, vertex), bridge)
    out: F32 = 1.0 - bald
    return out


def _back_cover(u: F32, v: F32, k: int) -> F32:
    r_vertex = _BACK_VERTEX[k]
    dv = np.sqrt(np.square(u) + np.square((v + 0.62) * 1.5))
    vertex = _ramp(r_vertex - dv, -0.04, 0.12) if r_vertex > 0 else np.zeros_like(u)
    top = _ramp(_BACK_TOP[k] - v, 0.0, 0.1)
    nape = _ramp(0.86 - v, 0.0, 0.1)
    out: F32 = (1.0 - np.maximum(vertex, top)) * nape
    return out


_SIDE_LOWER_U = np.array([-1.3, -0.6, -0.42, -0.30, -0.05, 0.25, 0.6, 1.3], dtype=np.float32)
_SIDE_LOWER_V = np.array([-0.55, -0.5, -0.2, 0.18, 0.02, 0.3, 0.78, 0.86], dtype=np.float32)


def _side_cover(u: F32, v: F32, k: int) -> F32:
    lower = np.interp(u, _SIDE_LOWER_U, _SIDE_LOWER_V).astype(np.float32)
    region = _ramp(lower - v, 0.0, 0.08)
    front = _ramp(_SIDE_FRONT[k] - u, 0.0, 0.08) * _ramp(0.05 - v, 0.0, 0.1)
    r_vertex = _SIDE_VERTEX[k]
    dv = np.sqrt(np.square(u - 0.35) + np.square(v + 0.85))
    vertex = _ramp(r_vertex - dv, -0.04, 0.12) if r_vertex > 0 else np.zeros_like(u)
    top = _ramp(_SIDE_TOP[k] - v, 0.0, 0.1)
    out: F32 = region * (1.0 - np.maximum(np.maximum(front, vertex), top))
    return out


# ---------------------------------------------------------------------------------------------
# Scene pieces.


def _background(rng: np.random.Generator, x: F32, y: F32) -> F32:
    """An indoor wall: two-tone gradient, a corner or floor line, clutter and soft rectangles."""
    h, w = len(y), len(x)
    hue = rng.uniform(0.0, 2.0 * math.pi)
    sat = rng.uniform(0.0, 0.3) ** 1.5
    val0 = rng.uniform(0.12, 0.95)
    val1 = float(np.clip(val0 + rng.normal(0.0, 0.3), 0.05, 1.0))
    c0 = _tinted(val0, hue, sat)
    c1 = _tinted(val1, hue + rng.normal(0.0, 0.6), sat)
    ang = rng.uniform(0.0, 2.0 * math.pi)
    g1 = (math.cos(ang) * x)[None, :] + (math.sin(ang) * y)[:, None]
    lo = min(math.cos(ang) * float(x[0]), math.cos(ang) * float(x[-1]))
    lo += min(math.sin(ang) * float(y[0]), math.sin(ang) * float(y[-1]))
    g = (g1 - lo) * (1.0 / (2.0 * abs(lo) + 1e-3))  # 0..1 across the frame

    # A wall/floor or wall/wall boundary: a line splitting the frame into two tones.
    horizontal = rng.random() < 0.5
    pos = rng.uniform(-0.8, 0.8)
    tilt = rng.normal(0.0, 0.15)
    shade = rng.uniform(0.55, 1.35)
    if rng.random() < 0.6:
        if horizontal:
            line = y[:, None] - pos * 0.5 - tilt * x[None, :]
        else:
            line = x[None, :] - pos * 0.5 * (w / h) - tilt * y[:, None]
        split = 1.0 + (shade - 1.0) * _ramp(line, -0.01, 0.01)
    else:
        split = np.ones((h, w), dtype=np.float32)

    # Out-of-focus clutter (shelves, furniture, plants): smooth random brightness at two scales.
    clutter = _smooth_field(rng, 4, 8, w, h) * rng.uniform(0.1, 0.35)
    clutter += _smooth_field(rng, 10, 16, w, h) * rng.uniform(0.03, 0.12)
    # Split line and clutter only change brightness, so they are folded into one scalar gain.
    gain = split * (1.0 + clutter)
    bg: F32 = (c0 + g[:, :, None] * (c1 - c0)) * gain[:, :, None]

    # Door frames, windows, pictures, shelves, furniture: soft axis-aligned rectangles.
    n_rect = int(rng.integers(2, 9))
    ax, ay = float(x[-1]), float(y[-1])
    for i in range(8):  # fixed number of draws keeps the rng stream independent of n_rect
        cx, cy = rng.uniform(-ax - 0.1, ax + 0.1), rng.uniform(-ay - 0.1, ay + 0.1)
        rx, ry = rng.uniform(0.02, 0.35), rng.uniform(0.02, 0.35)
        col = _tinted(
            rng.uniform(0.05, 1.05), rng.uniform(0.0, 2.0 * math.pi), rng.uniform(0.0, 0.45) ** 1.5
        )
        edge = rng.uniform(0.004, 0.04)
        if i >= n_rect:
            continue
        mx = _ramp(rx - np.abs(x - cx), 0.0, edge)
        my = _ramp(ry - np.abs(y - cy), 0.0, edge)
        nzx, nzy = np.flatnonzero(mx), np.flatnonzero(my)
        if nzx.size == 0 or nzy.size == 0:
            continue
        x0, x1, y0, y1 = nzx[0], nzx[-1] + 1, nzy[0], nzy[-1] + 1
        m = (my[y0:y1, None] * mx[None, x0:x1])[:, :, None]
        sub = bg[y0:y1, x0:x1]
        sub += m * (col - sub)
    return bg


def _work_size(size: tuple[int, int]) -> tuple[int, int]:
    w, h = size
    long_side = max(w, h)
    target = 320 if long_side < 2000 else 400
    target = min(target, max(16, long_side // 2))
    scale = target / long_side
    return max(8, round(w * scale)), max(8, round(h * scale))


@dataclass(frozen=True)
class _Shot:
    """One photo's composition: everything random about it except the person."""

    view: str
    hx: float  # head centre, in units of the short side from the frame centre
    hy: float
    radius: float  # skull half-width, same units
    roll: float
    yaw: float  # sideways turn, as a shift of the face features in skull units
    flip: bool
    light: tuple[float, float, float]  # unit vector towards the key light (x right, y down)
    ambient: float
    exposure: float
    tint: tuple[float, float, float]
    shadow: tuple[float, float, float]  # strength, distance, softness of the cast shadow
    shoulder_w: float
    shoulder_top: float
    spec_strength: float
    sheen_strength: float
    blur: float
    noise_level: int
    strand_off: tuple[int, int]
    blob_off: tuple[int, int]
    noise_off: tuple[int, int]


def _draw_shot(rng: np.random.Generator, view: str, w: int, h: int) -> _Shot:
    ax, ay = (w / 2) / min(w, h), (h / 2) / min(w, h)
    if view == "top":
        radius = rng.uniform(0.25, 0.52)
        roll = rng.uniform(0.0, 2.0 * math.pi)  # top-down shots come in any orientation
    else:
        radius = rng.uniform(0.17, 0.40)
        roll = rng.normal(0.0, 0.14)
    hx = rng.uniform(-1.0, 1.0) * max(ax - 0.55 * radius, 0.05)
    hy = rng.uniform(-1.0, 0.7) * max(ay - 0.55 * radius, 0.05)
    yaw = rng.uniform(-0.22, 0.22)
    mirror = rng.random() < 0.5
    light_ang = rng.uniform(0.0, 2.0 * math.pi)
    light_z = rng.uniform(0.35, 0.9)
    flat = math.sqrt(1.0 - light_z * light_z)
    return _Shot(
        view=view,
        hx=hx,
        hy=hy,
        radius=radius,
        roll=roll,
        yaw=yaw,
        # Left and right views are already each other's mirror images; the others may be mirrored.
        flip=(view == "right") or (mirror and view not in ("left", "right")),
        light=(math.cos(light_ang) * flat, math.sin(light_ang) * flat, light_z),
        ambient=rng.uniform(0.3, 0.6),
        exposure=rng.uniform(0.8, 1.2),
        tint=(1.0 + rng.normal(0.0, 0.05), 1.0, 1.0 + rng.normal(0.0, 0.07)),
        shadow=(rng.uniform(0.1, 0.55), rng.uniform(0.05, 0.4), rng.uniform(0.15, 0.6)),
        shoulder_w=rng.uniform(2.1, 2.9),
        shoulder_top=rng.uniform(1.25, 1.65),
        spec_strength=rng.uniform(0.05, 0.35),
        sheen_strength=rng.uniform(0.05, 0.4),
        blur=rng.uniform(0.0, 0.6),
        noise_level=int(rng.integers(0, 4)),
        strand_off=(int(rng.integers(0, _TEX)), int(rng.integers(0, _TEX))),
        blob_off=(int(rng.integers(0, _BLOB - max(w, h))), int(rng.integers(0, _BLOB - max(w, h)))),
        noise_off=(int(rng.integers(0, _NOISE_TILE)), int(rng.integers(0, _NOISE_TILE))),
    )


def _head_box(shot: _Shot, ru: float, rv: float, w: int, h: int) -> tuple[slice, slice] | None:
    """Pixel box that holds everything drawn in skull coordinates |u| <= 1.3, |v| <= 1.25."""
    s = float(min(w, h))
    cr, sr = math.cos(shot.roll), math.sin(shot.roll)
    eu, ev = 1.3 * ru, 1.25 * rv
    half_x = abs(cr) * eu + abs(sr) * ev
    half_y = abs(sr) * eu + abs(cr) * ev
    x0 = max(0, math.floor((shot.hx - half_x) * s + w / 2))
    x1 = min(w, math.ceil((shot.hx + half_x) * s + w / 2) + 1)
    y0 = max(0, math.floor((shot.hy - half_y) * s + h / 2))
    y1 = min(h, math.ceil((shot.hy + half_y) * s + h / 2) + 1)
    if x0 >= x1 or y0 >= y1:
        return None
    return slice(y0, y1), slice(x0, x1)


_WHORL = {  # crown whorl in skull coordinates; strands fan out from it
    "front": (0.0, -1.7),
    "top": (0.05, 0.3),
    "back": (0.08, -0.65),
    "left": (0.35, -0.9),
    "right": (0.35, -0.9),
}


def render_view(
    rng: np.random.Generator,
    stage: int,
    view: str,
    size: tuple[int, int],
    *,
    subject_traits: SubjectTraits,
) -> Image.Image:
    """Render one photo-like RGB image of a head at ``stage`` (1-7) seen from ``view``."""
    if view not in VIEWS:
        raise LabelError(f"unknown view {view!r}; expected one of {', '.join(VIEWS)}")
    if isinstance(stage, bool) or not isinstance(stage, int | np.integer) or not 1 <= stage <= 7:
        raise LabelError(f"Norwood stage must be an integer 1..7, got {stage!r}")
    out_w, out_h = int(size[0]), int(size[1])
    if out_w < 1 or out_h < 1:
        raise ValueError(f"size must be positive, got {size!r}")
    tr = subject_traits
    k = int(stage) - 1
    w, h = _work_size((out_w, out_h))
    x, y = _axes(w, h)

    # All rng draws happen before anything stage-dependent, so the same stream renders the same
    # photo of the same person at every stage.
    bg = _background(rng, x, y)
    shot = _draw_shot(rng, view, w, h)
    light_field = _dct_field(rng, w, h, rng.uniform(0.25, 0.4), 0.75)
    light_field += _smooth_field(rng, 10, 16, w, h) * rng.uniform(0.04, 0.12)
    detail = _smooth_field(rng, 10, 16, w, h) * rng.uniform(0.2, 0.45)

    coarse, fine = _blob_texture()
    by, bx = shot.blob_off
    blob = coarse[by : by + h, bx : bx + w]
    grain = fine[by : by + h, bx : bx + w]

    # Skull coordinates: the skull outline is the unit circle in (u, v), u right, v down.
    if view == "top":
        ru, rv = shot.radius, shot.radius * (tr.head_aspect * 0.92)
    elif view in ("left", "right"):
        ru, rv = shot.radius * 1.12, shot.radius * tr.head_aspect * 0.95
    else:
        ru, rv = shot.radius, shot.radius * tr.head_aspect
    cr, sr = math.cos(shot.roll), math.sin(shot.roll)
    dx = (x - shot.hx)[None, :]
    dy = (y - shot.hy)[:, None]
    sign = -1.0 if shot.flip else 1.0
    u: F32 = (cr * dx + sr * dy) * (sign / ru)
    v: F32 = (cr * dy - sr * dx) * (1.0 / rv)
    lx, ly, lz = shot.light
    llx, lly = sign * (cr * lx + sr * ly), cr * ly - sr * lx  # light in skull coordinates

    layers = _Layers((h, w))

    # Soft shadow of the head on the wall, cast away from the light.
    s_strength, s_dist, s_soft = shot.shadow
    sdx = (x - shot.hx + lx * s_dist * shot.radius * 3.0)[None, :]
    sdy = (y - shot.hy + ly * s_dist * shot.radius * 3.0)[:, None]
    sq = np.square(sdx * (1.0 / (shot.radius * 1.1))) + np.square(
        sdy * (1.0 / (shot.radius * 1.35))
    )
    layers.bg *= 1.0 - _ramp(1.0 - sq, -s_soft * 2.0, s_soft) * s_strength

    # Shoulders and clothing (seen from above in the top view, below the head otherwise).
    sw = shot.shoulder_w
    if view == "top":
        sh = _ellipse(u, v, 0.0, 0.45, sw * 1.05, 1.25, 0.15)
        sh_shade = 0.75 + 0.25 * np.clip(1.0 - np.square(u * (1.0 / sw)), 0.0, 1.0)
    else:
        su = u - (0.35 if view in ("left", "right") else 0.0)
        sh = _ellipse(su, v, 0.0, shot.shoulder_top + 1.1, sw, 1.1, 0.08)
        sh_shade = 0.6 + 0.4 * np.clip(1.0 - np.square(su * (1.0 / sw)), 0.0, 1.0)
    # Fabric folds: broad random light and dark patches on the clothing.
    layers.put(sh, "shirt", sh_shade * (1.0 + 0.08 * blob + 0.04 * grain + 1.2 * detail))

    r_px = shot.radius * min(w, h)
    edge = 2.5 / max(r_px, 1.0)
    if view != "top":
        ncu = 0.2 if view in ("left", "right") else 0.0
        neck = _ramp(0.55 - np.abs(u - ncu), 0.0, edge * 2) * _ramp(v - 0.4, 0.0, 0.1)
        neck *= _ramp(shot.shoulder_top + 0.3 - v, 0.0, 0.2)
        layers.put(neck, "skin", 0.7 + 0.1 * blob)

    spec = np.zeros((h, w), dtype=np.float32)
    box = _head_box(shot, ru, rv, w, h)
    if box is not None:
        _paint_head(
            layers,
            spec,
            box,
            u[box],
            v[box],
            blob[box],
            grain[box],
            detail[box],
            shot,
            tr,
            k,
            (llx, lly, lz),
            r_px,
        )

    # Uneven room light (lamps, windows, shadows of furniture) falls on the person too; it also
    # spreads independent random energy over every low frequency the perceptual hash reads.
    room = np.exp(light_field) * (shot.exposure * 255.0)
    img = bg * layers.bg[:, :, None]
    img += layers.skin[:, :, None] * (np.asarray(tr.skin_rgb, dtype=np.float32) / 255.0)
    img += layers.hair[:, :, None] * (np.asarray(tr.hair_rgb, dtype=np.float32) / 255.0)
    img += layers.shirt[:, :, None] * (np.asarray(tr.shirt_rgb, dtype=np.float32) / 255.0)
    img += spec[:, :, None]
    img *= room[:, :, None] * np.asarray(shot.tint, dtype=np.float32)
    small = Image.fromarray(np.clip(img, 0.0, 255.0).astype(np.uint8), "RGB")
    if shot.blur > 0.25:
        small = small.filter(ImageFilter.BoxBlur(shot.blur))
    return _develop(small, (out_w, out_h), shot)


def _paint_head(
    layers: _Layers,
    spec_out: F32,
    box: tuple[slice, slice],
    u: F32,
    v: F32,
    blob: F32,
    grain: F32,
    detail: F32,
    shot: _Shot,
    tr: SubjectTraits,
    k: int,
    light: tuple[float, float, float],
    r_px: float,
) -> None:
    """Ears, skull, face features and hair, all inside the head's pixel box."""
    view = shot.view
    llx, lly, lz = light
    edge = 2.5 / max(r_px, 1.0)
    es = tr.ear_scale
    ear_lum = 0.9 + 0.05 * blob
    if view in ("front", "back", "top"):
        ev = 0.1 if view != "top" else 0.05
        eu = 1.0 + (shot.yaw if view == "front" else -shot.yaw) * 0.3
        ear = np.maximum(
            _ellipse(u, v, -eu, ev, 0.16 * es, 0.3 * es, edge * 3),
            _ellipse(u, v, eu, ev, 0.16 * es, 0.3 * es, edge * 3),
        )
        layers.put(ear, "skin", ear_lum, box)

    q = np.square(u) + np.square(v)
    skull = _ramp(1.0 - q, 0.0, edge * 2)
    nz = np.sqrt(np.clip(1.0 - q, 0.0, 1.0))
    shade = shot.ambient + (1.0 - shot.ambient) * np.clip(u * llx + v * lly + nz * lz, 0.0, 1.0)
    skin_lum = (0.93 + 0.05 * blob + 0.035 * grain) * shade

    # Stage-dependent hair coverage, with person-specific wobble in the boundaries.
    coarse, _ = _blob_texture()
    po = tr.pattern_offset
    h, w = u.shape
    py, px = (
        (po + shot.blob_off[0] // 3) % (_BLOB - h),
        (po * 7 + shot.blob_off[1] // 3) % (_BLOB - w),
    )
    pattern = coarse[py : py + h, px : px + w]
    up = u + 0.07 * pattern
    vp = v + 0.07 * blob
    cover: F32
    if view == "front":
        cover = _front_cover(up - shot.yaw, vp, k)
    elif view == "top":
        cover = _top_cover(up, vp, k)
    elif view == "back":
        cover = _back_cover(up - shot.yaw, vp, k)
    else:
        cover = _side_cover(up, vp, k)

    # Strands fan out from the crown whorl: index a streaky texture with (along, across).
    wu, wv = _WHORL[view]
    across = (u - wu) / (np.abs(v - wv) + 0.3)
    sk = max(r_px * 0.9, 4.0)
    ix = (across * sk + float(shot.strand_off[1])).astype(np.intp) & (_TEX - 1)
    iy = (v * sk + float(shot.strand_off[0])).astype(np.intp) & (_TEX - 1)
    strand = _strand_texture()[iy, ix]
    dens = 0.6 + 0.6 * tr.hair_density
    # Thin coverage lets only the strongest strands through, so the scalp shows between them.
    hair_a = np.clip((cover * dens - 0.5 * (1.0 - strand)) * 2.2, 0.0, 1.0)
    hair_lum = (0.5 + 0.8 * strand) * (1.0 + 0.2 * blob + detail) * shade

    # Hair volume: full hair pokes out beyond the skull outline.
    volume = 1.0 + 0.16 * tr.hair_density
    cap = _ramp(volume - q, 0.0, edge * 2) * _ramp(cover - 0.3, 0.0, 0.4)

    if view == "front":
        fu = u - shot.yaw
        eyes = np.maximum(
            _ellipse(fu, v, -0.36, 0.1, 0.14, 0.055, 0.5),
            _ellipse(fu, v, 0.36, 0.1, 0.14, 0.055, 0.5),
        )
        brows = np.maximum(
            _ellipse(fu, v, -0.36, -0.06, 0.18, 0.045, 0.6),
            _ellipse(fu, v, 0.36, -0.06, 0.18, 0.045, 0.6),
        )
        mouth = _ellipse(fu, v, 0.0, 0.6, 0.22, 0.05, 0.6)
        nose = _ellipse(fu, v, 0.04, 0.32, 0.08, 0.22, 1.0)
        skin_lum = skin_lum * (1.0 - 0.65 * eyes - 0.3 * mouth - 0.2 * nose)
        beard = _ramp(v - 0.35, 0.0, 0.2) * tr.beard * 0.8
        hair_a = np.maximum(hair_a, np.maximum(brows * 0.85, beard * strand))
    elif view in ("left", "right"):
        nose = _ellipse(u, v, -0.98, 0.28, 0.16, 0.13, 0.5)
        jaw = _ellipse(u, v, -0.45, 0.55, 0.55, 0.42, 0.3)
        layers.put(np.maximum(nose, jaw) * (1.0 - skull), "skin", 0.8 * shade + 0.1, box)
        eye = _ellipse(u, v, -0.78, 0.08, 0.07, 0.05, 0.6)
        brow = _ellipse(u, v, -0.8, -0.04, 0.12, 0.035, 0.6)
        skin_lum = skin_lum * (1.0 - 0.6 * eye)
        beard = _ramp(v - 0.35, 0.0, 0.2) * _ramp(-0.1 - u, 0.0, 0.2) * tr.beard * 0.8
        hair_a = np.maximum(hair_a, np.maximum(brow * 0.85, beard * strand))

    head = np.maximum(skull, cap)
    hair_a = hair_a * _ramp(volume - q, 0.0, edge * 2)
    hair_a = np.where(skull > 0.0, hair_a, np.minimum(hair_a, cap))
    layers.put(head * (1.0 - hair_a), "skin", skin_lum, box)
    layers.put(head * hair_a, "hair", hair_lum, box)

    if view in ("left", "right"):
        ear = _ellipse(u, v, 0.05, 0.06, 0.15 * es, 0.26 * es, 0.3)
        inner = _ellipse(u, v, 0.07, 0.07, 0.08 * es, 0.16 * es, 0.5)
        layers.put(ear, "skin", ear_lum * shade * (1.0 - 0.35 * inner), box)

    # Scalp shine: a tight specular lobe that only bare skin catches.
    hz = lz + 1.0
    hn = 1.0 / math.sqrt(llx * llx + lly * lly + hz * hz)
    ndh = np.clip((u * llx + v * lly + nz * hz) * hn, 0.0, 1.0)
    spec = np.square(np.square(np.square(np.square(ndh))))
    spec *= skull * (1.0 - hair_a) * shot.spec_strength
    # Hair sheen: a broad highlight broken up by clumps.
    sheen = np.square(ndh) * np.clip(detail * 3.0 + 0.4, 0.0, 1.0) * strand
    spec += sheen * head * hair_a * shot.sheen_strength
    spec_out[box] = spec


def _develop(small: Image.Image, size: tuple[int, int], shot: _Shot) -> Image.Image:
    """Upscale to the output size and add full-resolution sensor grain."""
    out_w, out_h = size
    out = small.resize(size, Image.Resampling.BICUBIC)
    long_side = max(out_w, out_h)
    grain_factor = 1 if long_side <= 1600 else (2 if long_side <= 3200 else 3)
    tile = _noise_tile(shot.noise_level, grain_factor)
    noise = Image.new("RGB", size)
    oy, ox = shot.noise_off
    for ty in range(-oy, out_h, _NOISE_TILE):
        for tx in range(-ox, out_w, _NOISE_TILE):
            noise.paste(tile, (tx, ty))
    return ImageChops.add(out, noise, 1.0, -128)
