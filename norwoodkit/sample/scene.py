"""The photo around the head: the wall behind it, one shot's composition (framing, light,
exposure, blur, grain) and developing the small render into a full-size photo with sensor grain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops

from norwoodkit.sample.fields import (
    BLOB,
    F32,
    NOISE_TILE,
    TEX,
    noise_tile,
    ramp,
    smooth_field,
    tinted,
)


def background(rng: np.random.Generator, x: F32, y: F32) -> F32:
    """An indoor wall: two-tone gradient, a corner or floor line, clutter and soft rectangles."""
    h, w = len(y), len(x)
    hue = rng.uniform(0.0, 2.0 * math.pi)
    sat = rng.uniform(0.0, 0.3) ** 1.5
    val0 = rng.uniform(0.12, 0.95)
    val1 = float(np.clip(val0 + rng.normal(0.0, 0.3), 0.05, 1.0))
    c0 = tinted(val0, hue, sat)
    c1 = tinted(val1, hue + rng.normal(0.0, 0.6), sat)
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
        split = 1.0 + (shade - 1.0) * ramp(line, -0.01, 0.01)
    else:
        split = np.ones((h, w), dtype=np.float32)

    # Out-of-focus clutter (shelves, furniture, plants): smooth random brightness at two scales.
    clutter = smooth_field(rng, 4, 8, w, h) * rng.uniform(0.1, 0.35)
    clutter += smooth_field(rng, 10, 16, w, h) * rng.uniform(0.03, 0.12)
    # Split line and clutter only change brightness, so they are folded into one scalar gain.
    gain = split * (1.0 + clutter)
    bg: F32 = (c0 + g[:, :, None] * (c1 - c0)) * gain[:, :, None]

    # Door frames, windows, pictures, shelves, furniture: soft axis-aligned rectangles.
    n_rect = int(rng.integers(2, 9))
    ax, ay = float(x[-1]), float(y[-1])
    for i in range(8):  # fixed number of draws keeps the rng stream independent of n_rect
        cx, cy = rng.uniform(-ax - 0.1, ax + 0.1), rng.uniform(-ay - 0.1, ay + 0.1)
        rx, ry = rng.uniform(0.02, 0.35), rng.uniform(0.02, 0.35)
        col = tinted(
            rng.uniform(0.05, 1.05), rng.uniform(0.0, 2.0 * math.pi), rng.uniform(0.0, 0.45) ** 1.5
        )
        edge = rng.uniform(0.004, 0.04)
        if i >= n_rect:
            continue
        mx = ramp(rx - np.abs(x - cx), 0.0, edge)
        my = ramp(ry - np.abs(y - cy), 0.0, edge)
        nzx, nzy = np.flatnonzero(mx), np.flatnonzero(my)
        if nzx.size == 0 or nzy.size == 0:
            continue
        x0, x1, y0, y1 = nzx[0], nzx[-1] + 1, nzy[0], nzy[-1] + 1
        m = (my[y0:y1, None] * mx[None, x0:x1])[:, :, None]
        sub = bg[y0:y1, x0:x1]
        sub += m * (col - sub)
    return bg


def work_size(size: tuple[int, int]) -> tuple[int, int]:
    """The small resolution a photo of ``size`` is painted at (320 or 400 px on the long side)."""
    w, h = size
    long_side = max(w, h)
    target = 320 if long_side < 2000 else 400
    target = min(target, max(16, long_side // 2))
    scale = target / long_side
    return max(8, round(w * scale)), max(8, round(h * scale))


@dataclass(frozen=True)
class Shot:
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


def draw_shot(rng: np.random.Generator, view: str, w: int, h: int) -> Shot:
    """A random composition for one photo of ``view`` at working size ``w`` x ``h``."""
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
    return Shot(
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
        strand_off=(int(rng.integers(0, TEX)), int(rng.integers(0, TEX))),
        blob_off=(int(rng.integers(0, BLOB - max(w, h))), int(rng.integers(0, BLOB - max(w, h)))),
        noise_off=(int(rng.integers(0, NOISE_TILE)), int(rng.integers(0, NOISE_TILE))),
    )


def develop(small: Image.Image, size: tuple[int, int], shot: Shot) -> Image.Image:
    """Upscale to the output size and add full-resolution sensor grain."""
    out_w, out_h = size
    out = small.resize(size, Image.Resampling.BICUBIC)
    long_side = max(out_w, out_h)
    grain_factor = 1 if long_side <= 1600 else (2 if long_side <= 3200 else 3)
    tile = noise_tile(shot.noise_level, grain_factor)
    noise = Image.new("RGB", size)
    oy, ox = shot.noise_off
    for ty in range(-oy, out_h, NOISE_TILE):
        for tx in range(-ox, out_w, NOISE_TILE):
            noise.paste(tile, (tx, ty))
    return ImageChops.add(out, noise, 1.0, -128)
