"""How much hair each view shows at each Norwood stage: coverage fields in skull coordinates.

Each ``*_cover`` function maps skull coordinates (u to the right, v down, the skull outline the
unit circle) and a stage index (stage - 1) to hair coverage 0..1.
"""

from __future__ import annotations

import numpy as np

from norwoodkit.sample.fields import F32, ramp

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


def front_cover(u: F32, v: F32, k: int) -> F32:
    """Front view: the hairline recedes and the temples deepen with the stage."""
    au = np.abs(u)
    line = _FRONT_HAIRLINE[k] - _FRONT_TEMPLE[k] * np.exp(-np.square((au - 0.5) * 5.5))
    top = ramp(line - v, 0.0, 0.08) * _FRONT_TOP_DENSITY[k]
    side = (
        ramp(au - _FRONT_SIDE_U[k], 0.0, 0.08)
        * ramp(v - _FRONT_SIDE_TOP[k], 0.0, 0.1)
        * ramp(0.12 - v, 0.0, 0.1)
    )
    out: F32 = np.maximum(top, side)
    return out


def top_cover(u: F32, v: F32, k: int) -> F32:
    """Top view: a receding front, a growing crown, and at late stages the bridge between."""
    au = np.abs(u)
    line = _TOP_FRONT[k] + _TOP_TEMPLE[k] * np.exp(-np.square((au - 0.55) * 5.0))
    front = ramp(line - v, 0.0, 0.08)
    r_vertex = _TOP_VERTEX[k]
    dv = np.sqrt(np.square(u) + np.square(v - 0.3))
    vertex = ramp(r_vertex - dv, -0.04, 0.12) if r_vertex > 0 else np.zeros_like(u)
    d = np.sqrt(np.square(u) + np.square(v))
    bridge = ramp(_TOP_RIM[k] - d, 0.0, 0.08) * _TOP_BRIDGE_THIN[k]
    bald = np.maximum(np.maximum(front, vertex), bridge)
    out: F32 = 1.0 - bald
    return out


def back_cover(u: F32, v: F32, k: int) -> F32:
    """Back view: the crown opens, and at late stages only the fringe above the nape stays."""
    r_vertex = _BACK_VERTEX[k]
    dv = np.sqrt(np.square(u) + np.square((v + 0.62) * 1.5))
    vertex = ramp(r_vertex - dv, -0.04, 0.12) if r_vertex > 0 else np.zeros_like(u)
    top = ramp(_BACK_TOP[k] - v, 0.0, 0.1)
    nape = ramp(0.86 - v, 0.0, 0.1)
    out: F32 = (1.0 - np.maximum(vertex, top)) * nape
    return out


_SIDE_LOWER_U = np.array([-1.3, -0.6, -0.42, -0.30, -0.05, 0.25, 0.6, 1.3], dtype=np.float32)
_SIDE_LOWER_V = np.array([-0.55, -0.5, -0.2, 0.18, 0.02, 0.3, 0.78, 0.86], dtype=np.float32)


def side_cover(u: F32, v: F32, k: int) -> F32:
    """Side view: hair above the ear and nape, minus the receding front, crown and top."""
    lower = np.interp(u, _SIDE_LOWER_U, _SIDE_LOWER_V).astype(np.float32)
    region = ramp(lower - v, 0.0, 0.08)
    front = ramp(_SIDE_FRONT[k] - u, 0.0, 0.08) * ramp(0.05 - v, 0.0, 0.1)
    r_vertex = _SIDE_VERTEX[k]
    dv = np.sqrt(np.square(u - 0.35) + np.square(v + 0.85))
    vertex = ramp(r_vertex - dv, -0.04, 0.12) if r_vertex > 0 else np.zeros_like(u)
    top = ramp(_SIDE_TOP[k] - v, 0.0, 0.1)
    out: F32 = region * (1.0 - np.maximum(np.maximum(front, vertex), top))
    return out
