"""One pass over each image's bytes: size, sha256, real format, mode, dimensions, EXIF orientation,
integrity and perceptual hashes, from a single decode. Cached on disk.

The per-image work (``probe_batch``) is a pure function from a batch of paths to a batch of result
rows, so a process pool today (or a distributed engine tomorrow) can map it. Reading and writing the
cache stays outside it, in ``run``.

JPEGs are decoded once in Pillow's draft mode (DCT scaling to about 256 px, greyscale): the entropy
decoder still reads every byte of the scan, so truncation and corruption surface, while the inverse
DCT runs at 1/8 scale. The perceptual hash comes from that same decode.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from PIL import Image, ImageFile, UnidentifiedImageError

from norwoodkit.dataset import Dataset
from norwoodkit.parallel import pool_context, resolve_workers
from norwoodkit.schema import PROBE_COLUMNS, coerce

log = logging.getLogger(__name__)

#: Bump when the meaning of any probe column changes: older cache entries are then ignored.
PROBE_VERSION = 2

#: Paths per task sent to a worker: large enough to amortise pickling, small enough to balance.
BATCH_SIZE = 16

#: JPEG draft mode: decode in colour at the largest DCT reduction that stays >= 256 px (the
#: phash needs 32x32, the thumbnail 160 px).
DRAFT_MODE = "RGB"
DRAFT_SIZE = (256, 256)

#: Long side of the stored thumbnail (JPEG, for reports and contact sheets).
THUMBNAIL_SIZE = 160

_TRANSPOSE: dict[int, list[Image.Transpose]] = {
    2: [Image.Transpose.FLIP_LEFT_RIGHT],
    3: [Image.Transpose.ROTATE_180],
    4: [Image.Transpose.FLIP_TOP_BOTTOM],
    5: [Image.Transpose.TRANSPOSE],
    6: [Image.Transpose.ROTATE_270],
    7: [Image.Transpose.TRANSVERSE],
    8: [Image.Transpose.ROTATE_90],
}

ProgressFn = Callable[[int], None]


def sniff_format(head: bytes) -> str | None:
    """The real image format from the first bytes of a file, or None when unknown."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:2] == b"BM":
        return "BMP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head[4:8] == b"ftyp" and head[8:12] in (
        b"heic",
        b"heix",
        b"mif1",
        b"msf1",
        b"hevc",
        b"avif",
    ):
        return "HEIF"
    return None


#: Rows 0..7 of the 32-point DCT-II basis (scipy.fftpack's unnormalised type 2, as imagehash
#: uses): the 8x8 low-frequency block is ``_DCT8 @ pixels @ _DCT8.T``.
_DCT8 = 2.0 * np.cos(np.pi * np.outer(np.arange(8), 2 * np.arange(32) + 1) / 64)

#: Flipping a row reverses it, and reversing the input of a DCT-II multiplies coefficient k by
#: (-1)^k: the mirror image's low-frequency block is the same block with odd columns negated.
_MIRROR_SIGNS = np.where(np.arange(8) % 2 == 0, 1.0, -1.0)


def _bits_hex(bits: npt.NDArray[np.bool_]) -> str:
    return np.packbits(bits.ravel()).tobytes().hex()


def phash_pair(image: Image.Image) -> tuple[str, str]:
    """The 64-bit phash of an image and of its mirror image, from one resize and one DCT.

    Bit-identical to ``imagehash.phash(image, hash_size=8)`` and to the same call on the
    horizontally flipped image (the tests check both), at half the cost of two calls.
    """
    small = image.convert("L").resize((32, 32), Image.Resampling.LANCZOS)
    pixels = np.asarray(small, dtype=np.float64)
    low = _DCT8 @ pixels @ _DCT8.T
    mirrored = low * _MIRROR_SIGNS
    return (_bits_hex(low > np.median(low)), _bits_hex(mirrored > np.median(mirrored)))


def probe_file(path: str) -> dict[str, Any]:
    """Probe one image file; never raises for a bad file (the status column says what is wrong)."""
    out: dict[str, Any] = {c.name: None for c in PROBE_COLUMNS}
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        return {**out, "status": "missing", "error": "file not found"}
    except OSError as exc:
        return {**out, "status": "unreadable", "error": exc.strerror or str(exc)}
    return probe_bytes(data)


def probe_bytes(data: bytes) -> dict[str, Any]:
    """Probe an image's bytes (what ``probe_file`` does once it has read the file)."""
    out: dict[str, Any] = {c.name: None for c in PROBE_COLUMNS}
    out["size"] = len(data)
    if not data:
        return {**out, "status": "empty", "error": "zero-byte file"}
    out["sha256"] = hashlib.sha256(data).hexdigest()
    out["format"] = sniff_format(data[:16])
    return _decode(data, out)


def _decode(data: bytes, out: dict[str, Any]) -> dict[str, Any]:
    try:
        with warnings.catch_warnings():
            # We check the pixel count ourselves below, so the warning would only be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                width, height = im.size
                out.update(width=width, height=height, mode=im.mode)
                if out["format"] is None and im.format:
                    out["format"] = str(im.format)
                orientation = _orientation(im)
                out["orientation"] = orientation
                swap = orientation in (5, 6, 7, 8)
                out["oriented_width"], out["oriented_height"] = (
                    (height, width) if swap else (width, height)
                )
                limit = Image.MAX_IMAGE_PIXELS
                if limit is not None and width * height > limit:
                    return {
                        **out,
                        "status": "too-large",
                        "error": f"{width}x{height} = {width * height:,} pixels, over Pillow's "
                        f"decompression-bomb limit of {limit:,}; not decoded",
                    }
                if im.format == "JPEG":
                    im.draft(DRAFT_MODE, DRAFT_SIZE)
                im.load()  # the full entropy decode: truncation and corruption raise here
                small = _to_rgb(im)
    except Image.DecompressionBombError as exc:
        return {**out, "status": "too-large", "error": str(exc)}
    except UnidentifiedImageError:
        return {**out, "status": "undecodable", "error": "not an image format Pillow can read"}
    except OSError as exc:
        msg = str(exc)
        status = "truncated" if "truncated" in msg or "premature" in msg.lower() else "undecodable"
        return {**out, "status": status, "error": msg or type(exc).__name__}
    except (SyntaxError, ValueError, TypeError, IndexError, EOFError) as exc:
        return {**out, "status": "undecodable", "error": str(exc) or type(exc).__name__}
    for step in _TRANSPOSE.get(orientation or 1, []):
        small = small.transpose(step)
    out["phash"], out["phash_mirror"] = phash_pair(small)
    out["thumbnail"] = _thumbnail(small)
    out["status"] = "ok"
    return out


def _thumbnail(upright: Image.Image) -> bytes:
    thumb = upright.copy()
    thumb.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    thumb.save(buf, "JPEG", quality=80)
    return buf.getvalue()


def _orientation(im: Image.Image) -> int | None:
    try:
        value = im.getexif().get(0x0112)
    except Exception:  # a broken EXIF block must not hide the image itself
        return None
    return int(value) if isinstance(value, int) and 1 <= value <= 8 else None


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode == "RGB":
        return im
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greys: scale to 8 bits instead of clipping everything above 255 to white.
        return im.convert("I").point(lambda v: v / 256).convert("L").convert("RGB")
    if im.mode in ("P", "PA", "LA", "RGBA", "1"):
        return im.convert("RGBA").convert("RGB")
    return im.convert("RGB")


def probe_batch(root: str, paths: Sequence[str]) -> list[dict[str, Any]]:
    """Probe a batch of root-relative paths: the pure unit of work a pool or cluster maps."""
    return [probe_file(os.path.join(root, p)) for p in paths]


def _init_worker() -> None:
    ImageFile.LOAD_TRUNCATED_IMAGES = False


# --------------------------------------------------------------------------- cache

#: Columns of a cache file: the key, then the probe columns.
CACHE_COLUMNS = ["path", "size_key", *(c.name for c in PROBE_COLUMNS)]


def default_cache_dir() -> Path:
    """``$NORWOODKIT_CACHE_DIR``, else the user cache folder (never inside a dataset)."""
    env = os.environ.get("NORWOODKIT_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("norwoodkit"))


def cache_file(root: Path, cache_dir: Path) -> Path:
    """Where the probe cache of one dataset root lives."""
    key = hashlib.sha256(os.path.realpath(root).encode("utf-8", "surrogateescape")).hexdigest()
    return cache_dir / f"probe-v{PROBE_VERSION}" / f"{key[:20]}.parquet"


def _read_cache(path: Path, columns: list[str] | None = None) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        frame = pd.read_parquet(path, columns=columns)
    except Exception as exc:  # a damaged cache is rebuilt, never fatal
        log.warning("probe cache %s is unreadable (%s); probing again", path, exc)
        return None
    return frame


def _write_cache(path: Path, frame: pd.DataFrame) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except OSError as exc:
        log.warning(
            "cannot write the probe cache %s (%s); the next run will probe again", path, exc
        )


# --------------------------------------------------------------------------- run


def _stat(root: Path, rel: str) -> tuple[int, int] | None:
    try:
        st = os.stat(root / rel)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _batches(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def _probe_all(
    root: Path, paths: list[str], workers: int | None, progress: ProgressFn | None
) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    n_workers = resolve_workers(workers)
    if n_workers <= 1 or len(paths) <= 2 * BATCH_SIZE:
        previous = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            for batch in _batches(paths, BATCH_SIZE):
                for p, r in zip(batch, probe_batch(str(root), batch), strict=True):
                    results[p] = r
                if progress:
                    progress(len(batch))
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = previous
        return results
    # Several tasks per worker, so a slow image does not leave the other workers idle.
    size = max(1, min(BATCH_SIZE, math.ceil(len(paths) / (n_workers * 4))))
    with ProcessPoolExecutor(
        max_workers=n_workers, mp_context=pool_context(), initializer=_init_worker
    ) as pool:
        batches = list(_batches(paths, size))
        futures = [pool.submit(probe_batch, str(root), b) for b in batches]
        for batch, fut in zip(batches, futures, strict=True):
            for p, r in zip(batch, fut.result(), strict=True):
                results[p] = r
            if progress:
                progress(len(batch))
    return results


def run(
    dataset: Dataset,
    *,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    workers: int | None = None,
    progress: ProgressFn | None = None,
    thumbnails: bool = True,
) -> Dataset:
    """Add the probe columns to the dataset's table, probing only files the cache does not know.

    Args:
        dataset: from ``dataset.load``.
        cache_dir: where caches live; None: ``default_cache_dir()``.
        use_cache: False reads and writes no cache (everything is probed).
        workers: processes; None: one per CPU core.
        progress: called with the number of images finished, batch by batch.
        thumbnails: False leaves the ``thumbnail`` column empty (it is still cached), so
            commands that do not draw pictures keep memory flat at any dataset size.

    Returns:
        A new Dataset whose table has the PROBE_COLUMNS (null for missing-view rows).
    """
    root = dataset.root
    table = dataset.table
    paths = table["path"].dropna().unique().tolist()
    stat = [_stat(root, p) for p in paths]
    # Columnar from here on: per-row dicts cost kilobytes per image, and memory must stay flat.
    now = pd.DataFrame(
        {
            "path": pd.Series(paths, dtype="string"),
            "size_key": pd.Series([s[0] if s else None for s in stat], dtype="Int64"),
            "mtime_ns": pd.Series([s[1] if s else None for s in stat], dtype="Int64"),
        }
    )
    cfile = cache_file(root, cache_dir or default_cache_dir()) if use_cache else None
    columns = CACHE_COLUMNS if thumbnails else [c for c in CACHE_COLUMNS if c != "thumbnail"]
    hits = pd.DataFrame(columns=columns)
    if cfile is not None:
        frame = _read_cache(cfile, columns)
        if frame is not None:
            frame = coerce(frame, PROBE_COLUMNS)
            frame["path"] = frame["path"].astype("string")
            frame["size_key"] = frame["size_key"].astype("Int64")
            joined = now.merge(frame, on="path", how="inner", suffixes=("", "_cached"))
            same = (joined["size_key"] == joined["size_key_cached"]) & (
                joined["mtime_ns"] == joined["mtime_ns_cached"]
            )
            hits = joined[same.fillna(False).astype(bool)][columns]
            del frame, joined
    cached = set(hits["path"].astype(str))
    todo = [p for p in paths if p not in cached]
    if progress and cached:
        progress(len(cached))
    fresh = _probe_all(root, todo, workers, progress) if todo else {}
    fresh_frame = pd.DataFrame.from_dict(fresh, orient="index") if fresh else None
    if fresh_frame is not None:
        fresh_frame.index.name = "path"
        fresh_frame = fresh_frame.reset_index().drop(
            columns=["mtime_ns", "size_key"], errors="ignore"
        )
        fresh_frame = fresh_frame.merge(now, on="path", how="left")
    parts = [f for f in (hits, fresh_frame) if f is not None and len(f)]
    empty = pd.DataFrame(
        {"path": pd.Series([], dtype="string"), "size_key": pd.Series([], dtype="Int64")}
    )
    probed = coerce(pd.concat(parts, ignore_index=True) if parts else empty, PROBE_COLUMNS)
    if cfile is not None and (fresh or len(hits) != len(paths)):
        keep = probed[probed["size_key"].notna() & (probed["status"] != "missing")]
        if not thumbnails and len(hits):
            old = _read_cache(cfile, ["path", "thumbnail"])
            if old is not None:
                thumbs = dict(zip(old["path"], old["thumbnail"], strict=True))
                kept: list[Any] = [
                    thumbs.get(p) if p in cached else t
                    for p, t in zip(keep["path"], keep["thumbnail"], strict=True)
                ]
                keep = keep.assign(thumbnail=pd.Series(kept, index=keep.index, dtype=object))
        if len(keep) or cfile.exists():
            _write_cache(cfile, keep[CACHE_COLUMNS].reset_index(drop=True))
    if not thumbnails:
        probed["thumbnail"] = None
    del hits, parts, fresh, fresh_frame  # before the merge makes the final copy
    base = table.drop(columns=[c.name for c in PROBE_COLUMNS if c.name in table.columns])
    probed["path"] = probed["path"].astype(base["path"].dtype)
    out = base.merge(probed.drop(columns=["size_key"]), on="path", how="left")
    out = coerce(out, PROBE_COLUMNS)
    return dataset.with_table(out)
