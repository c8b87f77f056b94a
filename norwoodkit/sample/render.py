"""Phone-photo-like renders of heads whose hair follows the Norwood stage (``render_view``).

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
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFilter

from norwoodkit.errors import LabelError
from norwoodkit.sample.fields import (
    BLOB,
    F32,
    TEX,
    axes,
    blob_texture,
    dct_field,
    ellipse,
    ramp,
    smooth_field,
    strand_texture,
    tinted,
)
from norwoodkit.sample.hair import back_cover, front_cover, side_cover, top_cover
from norwoodkit.sample.scene import Shot, background, develop, draw_shot, work_size

__all__ = ["VIEWS", "SubjectTraits", "random_traits", "render_view"]

VIEWS: tuple[str, ...] = ("front", "top", "back", "left", "right")

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


def random_traits(rng: np.random.Generator) -> SubjectTraits:
    """Draw one random person: skin, hair, head shape and clothing."""
    t = rng.uniform(0.0, len(_SKIN_PALETTE) - 1)
    i = min(int(t), len(_SKIN_PALETTE) - 2)
    skin = _SKIN_PALETTE[i] + (t - i) * (_SKIN_PALETTE[i + 1] - _SKIN_PALETTE[i])
    skin = skin * rng.uniform(0.92, 1.05) + rng.normal(0.0, 5.0, 3)
    hair = _HAIR_PALETTE[int(rng.integers(len(_HAIR_PALETTE)))] * rng.uniform(0.8, 1.15)
    hair = hair * (1.0 + rng.normal(0.0, 0.05, 3))  # relative, so black hair stays neutral
    # Clothing is anything from black to white, sometimes saturated.
    shirt = tinted(rng.uniform(25.0, 235.0), rng.uniform(0.0, 2.0 * math.pi), rng.uniform() ** 3)
    return SubjectTraits(
        skin_rgb=_rgb(skin),
        hair_rgb=_rgb(hair),
        hair_density=float(rng.uniform(0.35, 1.0)),
        head_aspect=float(rng.uniform(1.15, 1.4)),
        shirt_rgb=_rgb(shirt),
        ear_scale=float(rng.uniform(0.85, 1.2)),
        beard=float(rng.uniform(0.0, 1.0) ** 2),
        pattern_offset=int(rng.integers(0, BLOB)),
    )


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


def _head_box(shot: Shot, ru: float, rv: float, w: int, h: int) -> tuple[slice, slice] | None:
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
    w, h = work_size((out_w, out_h))
    x, y = axes(w, h)

    # All rng draws happen before anything stage-dependent, so the same stream renders the same
    # photo of the same person at every stage.
    bg = background(rng, x, y)
    shot = draw_shot(rng, view, w, h)
    light_field = dct_field(rng, w, h, rng.uniform(0.25, 0.4), 0.75)
    light_field += smooth_field(rng, 10, 16, w, h) * rng.uniform(0.04, 0.12)
    detail = smooth_field(rng, 10, 16, w, h) * rng.uniform(0.2, 0.45)

    coarse, fine = blob_texture()
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
    layers.bg *= 1.0 - ramp(1.0 - sq, -s_soft * 2.0, s_soft) * s_strength

    # Shoulders and clothing (seen from above in the top view, below the head otherwise).
    sw = shot.shoulder_w
    if view == "top":
        sh = ellipse(u, v, 0.0, 0.45, sw * 1.05, 1.25, 0.15)
        sh_shade = 0.75 + 0.25 * np.clip(1.0 - np.square(u * (1.0 / sw)), 0.0, 1.0)
    else:
        su = u - (0.35 if view in ("left", "right") else 0.0)
        sh = ellipse(su, v, 0.0, shot.shoulder_top + 1.1, sw, 1.1, 0.08)
        sh_shade = 0.6 + 0.4 * np.clip(1.0 - np.square(su * (1.0 / sw)), 0.0, 1.0)
    # Fabric folds: broad random light and dark patches on the clothing.
    layers.put(sh, "shirt", sh_shade * (1.0 + 0.08 * blob + 0.04 * grain + 1.2 * detail))

    r_px = shot.radius * min(w, h)
    edge = 2.5 / max(r_px, 1.0)
    if view != "top":
        ncu = 0.2 if view in ("left", "right") else 0.0
        neck = ramp(0.55 - np.abs(u - ncu), 0.0, edge * 2) * ramp(v - 0.4, 0.0, 0.1)
        neck *= ramp(shot.shoulder_top + 0.3 - v, 0.0, 0.2)
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
    return develop(small, (out_w, out_h), shot)


def _paint_head(
    layers: _Layers,
    spec_out: F32,
    box: tuple[slice, slice],
    u: F32,
    v: F32,
    blob: F32,
    grain: F32,
    detail: F32,
    shot: Shot,
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
            ellipse(u, v, -eu, ev, 0.16 * es, 0.3 * es, edge * 3),
            ellipse(u, v, eu, ev, 0.16 * es, 0.3 * es, edge * 3),
        )
        layers.put(ear, "skin", ear_lum, box)

    q = np.square(u) + np.square(v)
    skull = ramp(1.0 - q, 0.0, edge * 2)
    nz = np.sqrt(np.clip(1.0 - q, 0.0, 1.0))
    shade = shot.ambient + (1.0 - shot.ambient) * np.clip(u * llx + v * lly + nz * lz, 0.0, 1.0)
    skin_lum = (0.93 + 0.05 * blob + 0.035 * grain) * shade

    # Stage-dependent hair coverage, with person-specific wobble in the boundaries.
    coarse, _ = blob_texture()
    po = tr.pattern_offset
    h, w = u.shape
    py, px = (
        (po + shot.blob_off[0] // 3) % (BLOB - h),
        (po * 7 + shot.blob_off[1] // 3) % (BLOB - w),
    )
    pattern = coarse[py : py + h, px : px + w]
    up = u + 0.07 * pattern
    vp = v + 0.07 * blob
    cover: F32
    if view == "front":
        cover = front_cover(up - shot.yaw, vp, k)
    elif view == "top":
        cover = top_cover(up, vp, k)
    elif view == "back":
        cover = back_cover(up - shot.yaw, vp, k)
    else:
        cover = side_cover(up, vp, k)

    # Strands fan out from the crown whorl: index a streaky texture with (along, across).
    wu, wv = _WHORL[view]
    across = (u - wu) / (np.abs(v - wv) + 0.3)
    sk = max(r_px * 0.9, 4.0)
    ix = (across * sk + float(shot.strand_off[1])).astype(np.intp) & (TEX - 1)
    iy = (v * sk + float(shot.strand_off[0])).astype(np.intp) & (TEX - 1)
    strand = strand_texture()[iy, ix]
    dens = 0.6 + 0.6 * tr.hair_density
    # Thin coverage lets only the strongest strands through, so the scalp shows between them.
    hair_a = np.clip((cover * dens - 0.5 * (1.0 - strand)) * 2.2, 0.0, 1.0)
    hair_lum = (0.5 + 0.8 * strand) * (1.0 + 0.2 * blob + detail) * shade

    # Hair volume: full hair pokes out beyond the skull outline.
    volume = 1.0 + 0.16 * tr.hair_density
    cap = ramp(volume - q, 0.0, edge * 2) * ramp(cover - 0.3, 0.0, 0.4)

    if view == "front":
        fu = u - shot.yaw
        eyes = np.maximum(
            ellipse(fu, v, -0.36, 0.1, 0.14, 0.055, 0.5),
            ellipse(fu, v, 0.36, 0.1, 0.14, 0.055, 0.5),
        )
        brows = np.maximum(
            ellipse(fu, v, -0.36, -0.06, 0.18, 0.045, 0.6),
            ellipse(fu, v, 0.36, -0.06, 0.18, 0.045, 0.6),
        )
        mouth = ellipse(fu, v, 0.0, 0.6, 0.22, 0.05, 0.6)
        nose = ellipse(fu, v, 0.04, 0.32, 0.08, 0.22, 1.0)
        skin_lum = skin_lum * (1.0 - 0.65 * eyes - 0.3 * mouth - 0.2 * nose)
        beard = ramp(v - 0.35, 0.0, 0.2) * tr.beard * 0.8
        hair_a = np.maximum(hair_a, np.maximum(brows * 0.85, beard * strand))
    elif view in ("left", "right"):
        nose = ellipse(u, v, -0.98, 0.28, 0.16, 0.13, 0.5)
        jaw = ellipse(u, v, -0.45, 0.55, 0.55, 0.42, 0.3)
        layers.put(np.maximum(nose, jaw) * (1.0 - skull), "skin", 0.8 * shade + 0.1, box)
        eye = ellipse(u, v, -0.78, 0.08, 0.07, 0.05, 0.6)
        brow = ellipse(u, v, -0.8, -0.04, 0.12, 0.035, 0.6)
        skin_lum = skin_lum * (1.0 - 0.6 * eye)
        beard = ramp(v - 0.35, 0.0, 0.2) * ramp(-0.1 - u, 0.0, 0.2) * tr.beard * 0.8
        hair_a = np.maximum(hair_a, np.maximum(brow * 0.85, beard * strand))

    head = np.maximum(skull, cap)
    hair_a = hair_a * ramp(volume - q, 0.0, edge * 2)
    hair_a = np.where(skull > 0.0, hair_a, np.minimum(hair_a, cap))
    layers.put(head * (1.0 - hair_a), "skin", skin_lum, box)
    layers.put(head * hair_a, "hair", hair_lum, box)

    if view in ("left", "right"):
        ear = ellipse(u, v, 0.05, 0.06, 0.15 * es, 0.26 * es, 0.3)
        inner = ellipse(u, v, 0.07, 0.07, 0.08 * es, 0.16 * es, 0.5)
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
