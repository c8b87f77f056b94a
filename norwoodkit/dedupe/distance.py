"""The one Hamming distance between 64-bit perceptual hashes, and hex <-> uint64 conversion.

The probe stores each phash as 16 hex digits; searches work on uint64 arrays. Every distance in
norwoodkit (dedupe's pair search and groups, calibration, the sample's spacing of its photos)
comes from here, so the definition cannot drift between commands.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

#: Hash bits; distances run 0..64.
HASH_BITS = 64

U64 = npt.NDArray[np.uint64]
#: Distances fit a byte (0..64).
Distances = npt.NDArray[np.uint8]


def hashes_to_u64(hex_hashes: Iterable[object]) -> U64:
    """16-hex-digit hashes -> uint64 array (every item must hold a hash)."""
    return np.array([int(str(h), 16) for h in hex_hashes], dtype=np.uint64)


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
