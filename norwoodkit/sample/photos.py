"""The clean photos: five renders per person, JPEG-encoded in a process pool, each kept at least
``MIN_PHASH_DISTANCE`` bits (phash, as the probe computes it) from every photo before it."""

from __future__ import annotations

import io
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from PIL import Image

from norwoodkit.dedupe.distance import hamming_u64, hashes_to_u64
from norwoodkit.labels import VENDOR_FILENAMES, VIEWS, View
from norwoodkit.parallel import pool_context, resolve_workers
from norwoodkit.sample import render
from norwoodkit.sample.options import SampleOptions
from norwoodkit.sample.people import Subject

#: Two photos of a clean sample are never closer than this (phash bits, as the probe computes
#: them): dedupe's near tier ends at 10, so a clean sample never shows a false duplicate.
MIN_PHASH_DISTANCE = 13
#: Renders tried for one photo before giving up on keeping it that far from all others.
MAX_ATTEMPTS = 50

Rendered = tuple[str, bytes, np.uint64]  # file name, JPEG bytes, phash


def encode_jpeg(img: Image.Image, quality: int, orientation: int = 1) -> bytes:
    """JPEG bytes of ``img``; orientation 6 stores it turned with the EXIF tag, as phones do."""
    buf = io.BytesIO()
    if orientation == 6:
        # Stored turned a quarter left; the tag tells viewers to turn it back (as phones do).
        exif = Image.Exif()
        exif[0x0112] = 6
        img.transpose(Image.Transpose.ROTATE_90).save(
            buf, "JPEG", quality=quality, exif=exif.tobytes()
        )
    else:
        img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def phash(data: bytes) -> np.uint64:
    """The phash of encoded bytes exactly as the probe computes it (0 when there is none)."""
    from norwoodkit.probe import probe_bytes

    h = probe_bytes(data)["phash"]
    return np.uint64(hashes_to_u64([h or "0"])[0])


def _render_subject(seed: int, index: int, subject: Subject, quality: int) -> list[Rendered]:
    """The five photos of one subject with their phashes: a pure, picklable unit."""
    rng = np.random.default_rng([seed, index])
    traits = render.random_traits(rng)
    files = []
    for view, orient in zip(VIEWS, subject.rotations, strict=True):
        img = render.render_view(
            rng, subject.stage, view.value, subject.size, subject_traits=traits
        )
        data = encode_jpeg(img, quality, orient)
        files.append((VENDOR_FILENAMES[view], data, phash(data)))
    return files


def _render_again(
    seed: int, index: int, subject: Subject, view: View, quality: int, attempt: int
) -> tuple[bytes, np.uint64]:
    """Another photo of the same person and view, from a stream of its own."""
    traits = render.random_traits(np.random.default_rng([seed, index]))
    rng = np.random.default_rng([seed, index, 0x5EED, attempt])
    img = render.render_view(rng, subject.stage, view.value, subject.size, subject_traits=traits)
    data = encode_jpeg(img, quality, subject.rotations[VIEWS.index(view)])
    return data, phash(data)


class Distinct:
    """The phashes accepted so far; a new photo must be MIN_PHASH_DISTANCE from all of them."""

    def __init__(self) -> None:
        self._hashes = np.zeros(1024, np.uint64)
        self._n = 0

    def fits(self, h: np.uint64) -> bool:
        """Whether a photo with phash ``h`` is far enough from every accepted one."""
        if self._n == 0:
            return True
        d = hamming_u64(self._hashes[: self._n], h)
        return bool(d.min() >= MIN_PHASH_DISTANCE)

    def add(self, h: np.uint64) -> None:
        """Accept a photo's phash."""
        if self._n == len(self._hashes):
            self._hashes = np.concatenate([self._hashes, np.zeros_like(self._hashes)])
        self._hashes[self._n] = h
        self._n += 1


def render_all(
    opts: SampleOptions, plan: list[Subject], progress: Callable[[int], None] | None
) -> list[list[Rendered]]:
    """Every subject's five photos, in subject order (in a process pool unless tiny)."""
    workers = resolve_workers(opts.workers)
    args = [(opts.seed, i, s, opts.quality) for i, s in enumerate(plan, start=1)]
    if workers <= 1 or len(plan) < 8:
        out = []
        for a in args:
            out.append(_render_subject(*a))
            if progress:
                progress(len(VIEWS))
        return out
    with ProcessPoolExecutor(max_workers=workers, mp_context=pool_context()) as pool:
        futures = [pool.submit(_render_subject, *a) for a in args]
        out = []
        for fut in futures:
            out.append(fut.result())
            if progress:
                progress(len(VIEWS))
        return out


def keep_distinct(
    opts: SampleOptions, plan: list[Subject], rendered: list[list[Rendered]], seen: Distinct
) -> list[list[tuple[str, bytes]]]:
    """Re-render (deterministically, in subject order) any photo too close to an earlier one."""
    out = []
    for index, (s, files) in enumerate(zip(plan, rendered, strict=True), start=1):
        kept = []
        for view, (name, data, h) in zip(VIEWS, files, strict=True):
            attempt = 0
            while not seen.fits(h):
                attempt += 1
                if attempt > MAX_ATTEMPTS:
                    raise RuntimeError(
                        f"sample: could not render subject {s.sid} {view.value} "
                        "far enough from every other photo"
                    )
                data, h = _render_again(opts.seed, index, s, view, opts.quality, attempt)
            seen.add(h)
            kept.append((name, data))
        out.append(kept)
    return out
