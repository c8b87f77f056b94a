"""The clean photos: five renders per person, JPEG-encoded in a process pool, each kept at least
``MIN_PHASH_DISTANCE`` bits (phash, as the probe computes it) from every photo before it.

Photos stream: ``render_stream`` yields one subject's photos at a time, in subject order, with a
few subjects in flight in the pool, so memory holds those few whatever the sample's size.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Generator

import numpy as np
from PIL import Image

from norwoodkit.dedupe.distance import hamming_u64, hashes_to_u64
from norwoodkit.labels import VENDOR_FILENAMES, VIEWS, View
from norwoodkit.parallel import ordered_map, process_pool, resolve_workers
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


def render_stream(
    opts: SampleOptions, plan: list[Subject], progress: Callable[[int], None] | None
) -> Generator[list[Rendered], None, None]:
    """Each subject's five photos, in subject order, as they come (in a pool unless tiny).

    The pool holds at most about two subjects per worker in flight; ``progress`` hears of a
    subject once the caller has taken (and written) it.
    """
    workers = resolve_workers(opts.workers)
    tasks = ((opts.seed, i, s, opts.quality) for i, s in enumerate(plan, start=1))
    pooled = workers > 1 and len(plan) >= 8
    with contextlib.ExitStack() as stack:
        pool = stack.enter_context(process_pool(workers)) if pooled else None
        for files in ordered_map(_render_subject, tasks, pool=pool, ahead=2 * workers):
            yield files
            if progress:
                progress(len(VIEWS))


def keep_distinct(
    opts: SampleOptions, index: int, subject: Subject, files: list[Rendered], seen: Distinct
) -> list[tuple[str, bytes]]:
    """One subject's photos (the ``index``-th, from 1), each far enough from every photo kept
    before it: one too close is rendered again, deterministically, until it fits.

    Called in subject order, it keeps the same photos whether subjects arrive all at once or
    one by one.
    """
    kept = []
    for view, (name, data, h) in zip(VIEWS, files, strict=True):
        attempt = 0
        while not seen.fits(h):
            attempt += 1
            if attempt > MAX_ATTEMPTS:
                raise RuntimeError(
                    f"sample: could not render subject {subject.sid} {view.value} "
                    "far enough from every other photo"
                )
            data, h = _render_again(opts.seed, index, subject, view, opts.quality, attempt)
        seen.add(h)
        kept.append((name, data))
    return kept
