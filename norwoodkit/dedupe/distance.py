"""The one Hamming distance between 64-bit perceptual hashes, and hex <-> uint64 conversion.

The probe stores each phash as 16 hex digits; searches work on uint64 arrays. Every distance in
norwoodkit (dedupe's pair search and groups, calibration, the sample's spacing of its photos)
comes from here, so the definition cannot drift between commands.
"""

from __future__ import annotations

from collections.abc import Iterable, Sized

import numpy as np
import numpy.typing as npt

#: Hash bits; distances run 0..64.
HASH_BITS = 64

U64 = npt.NDArray[np.uint64]
#: Distances fit a byte (0..64).
Distances = npt.NDArray[np.uint8]


#: Byte -> its hex digit's value (255: not a hex digit).
_NIBBLE = np.full(256, 255, np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _NIBBLE[_c] = _NIBBLE[bytes([_c]).upper()[0]] = _i
#: The shift of each of 16 hex digits, most significant first.
_SHIFTS = np.arange(60, -4, -4, dtype=np.uint64)


def hashes_to_u64(hex_hashes: Iterable[object]) -> U64:
    """16-hex-digit hashes -> uint64 array (every item must hold a hash).

    Vectorised for what the probe writes (exactly 16 hex digits); anything else (a prefix, fewer
    digits, a missing hash) is parsed one by one, as ``int(text, 16)`` parses it or fails.
    """
    values = np.asarray(hex_hashes if isinstance(hex_hashes, Sized) else list(hex_hashes), object)
    try:
        raw = values.reshape(-1).astype("S17")  # one byte more than a hash: longer ones show
    except (UnicodeEncodeError, ValueError, TypeError):
        raw = None
    if raw is not None:
        digits = raw.view(np.uint8).reshape(len(raw), 17)
        nibbles = _NIBBLE[digits[:, :16]]
        if not digits[:, 16].any() and not (nibbles == 255).any():
            out: U64 = np.bitwise_or.reduce(nibbles.astype(np.uint64) << _SHIFTS, axis=1)
            return out
    return np.array([int(str(h), 16) for h in values.reshape(-1)], dtype=np.uint64)


def u64_to_hex(hashes: U64) -> list[str]:
    """uint64 hashes -> 16-hex-digit strings, as the probe writes them."""
    return [f"{h:016x}" for h in hashes.tolist()]


def hamming(a: str, b: str) -> int:
    """Bits that differ between two hex hashes."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def hamming_u64(
    a: U64 | np.uint64,
    b: U64 | np.uint64,
    *,
    out: tuple[U64, Distances] | None = None,
) -> Distances:
    """Bits that differ between uint64 hashes, element-wise with numpy broadcasting.

    ``out`` is a pair of preallocated buffers (the XOR, then the distances) shaped like the
    result, so a tiled search allocates nothing per tile.
    """
    if out is None:
        return np.bitwise_count(np.bitwise_xor(a, b))
    xor, dist = out
    return np.bitwise_count(np.bitwise_xor(a, b, out=xor), out=dist)
