"""A realistic synthetic dataset in the vendor's layout, optionally with every defect planted.

Layout (as the vendor delivers): ``OUT/annotation.json`` and ``OUT/<id>/{Front,Top-Down,Back,
Left,Right}.jpg``. The annotation is a list of records shaped like the vendor's CSV rows (every
value a string, view paths starting with '/'). ``--defects`` plants one instance of every problem
``validate`` checks for and lists them in ``OUT/defects.json``; ``OUT/sample.json`` records how the
sample was made. Same options and seed, same bytes.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance

from norwoodkit import synth
from norwoodkit.errors import InputError, OutputError
from norwoodkit.labels import VENDOR_FILENAMES, VIEWS, View
from norwoodkit.parallel import pool_context, resolve_workers

#: Named sizes (landscape width, height) for ``--size``; any ``WxH`` works too.
SIZES: dict[str, tuple[int, int]] = {
    "tiny": (320, 240),
    "small": (640, 480),
    "medium": (1600, 1200),
    "large": (4000, 3000),
    "12mp": (4000, 3000),
}

#: Stage shares: imbalanced like clinical collections (early and middle stages most common).
STAGE_SHARES = (0.13, 0.20, 0.22, 0.17, 0.12, 0.09, 0.07)
ETHNICITIES = (
    ("Caucasians", 0.46),
    ("Asians", 0.22),
    ("Africans", 0.14),
    ("Hispanics", 0.12),
    ("Middle Eastern", 0.06),
)
#: Share of images stored rotated with an EXIF orientation tag, as phones do.
ROTATED_SHARE = 0.06
MIN_SUBJECTS_WITH_DEFECTS = 50
#: The 'same' tier of dedupe (bits): planted near duplicates must fall inside it.
SAME_TIER_BITS = 4


@dataclass(frozen=True)
class SampleOptions:
    """How to make a sample.

    Attributes:
        subjects: number of people (five photos each).
        seed: same seed and options, byte-identical output.
        size: a name from ``SIZES`` or ``WxH``; each subject's photos vary by up to 12 % around it.
        quality: JPEG quality.
        defects: plant every defect ``validate`` checks for and write ``defects.json``.
        workers: processes rendering images; None: one per CPU core.
    """

    subjects: int = 480
    seed: int = 0
    size: str = "small"
    quality: int = 90
    defects: bool = False
    workers: int | None = None


@dataclass(frozen=True)
class SampleResult:
    """What ``write`` made."""

    root: Path
    subjects: int
    images: int
    defects: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document."""
        return {
            "root": str(self.root),
            "subjects": self.subjects,
            "images": self.images,
            "defects": list(self.defects),
        }


def parse_size(size: str) -> tuple[int, int]:
    """``small`` / ``large`` / ``1024x768`` -> (width, height); raises InputError otherwise."""
    if size.lower() in SIZES:
        return SIZES[size.lower()]
    m = re.fullmatch(r"(\d+)[xX](\d+)", size.strip())
    if m and 32 <= int(m.group(1)) <= 20000 and 32 <= int(m.group(2)) <= 20000:
        return int(m.group(1)), int(m.group(2))
    raise InputError(
        f"--size {size!r}: use one of {', '.join(SIZES)} or WIDTHxHEIGHT with "
        "sides from 32 to 20000, e.g. 1024x768",
        code="usage",
    )


# --------------------------------------------------------------------------- subjects


@dataclass(frozen=True)
class _Subject:
    sid: str
    stage: int
    age: int
    ethnicity: str
    size: tuple[int, int]
    rotations: tuple[int, ...]  # EXIF orientation per view (1 = upright)


def _plan(opts: SampleOptions) -> list[_Subject]:
    rng = np.random.default_rng([opts.seed, 0xC0FFEE])
    base_w, base_h = parse_size(opts.size)
    names = [e for e, _ in ETHNICITIES]
    shares = np.array([s for _, s in ETHNICITIES])
    out = []
    for i in range(1, opts.subjects + 1):
        stage = int(rng.choice(7, p=STAGE_SHARES)) + 1
        # Older men reach higher stages; the mean age over all stages lands near the card's 45.
        age = int(np.clip(round(rng.normal(33 + 3.5 * stage, 11)), 18, 80))
        eth = names[int(rng.choice(len(names), p=shares / shares.sum()))]
        scale = float(rng.uniform(0.88, 1.12))
        w, h = max(32, round(base_w * scale)), max(32, round(base_h * scale))
        if rng.random() < 0.3:
            w, h = h, w  # a portrait phone
        rotations = tuple(6 if rng.random() < ROTATED_SHARE else 1 for _ in VIEWS)
        out.append(_Subject(str(i), stage, age, eth, (w, h), rotations))
    return out


def _encode_jpeg(img: Image.Image, quality: int, orientation: int = 1) -> bytes:
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


#: Two photos of a clean sample are never closer than this (phash bits, as the probe computes
#: them): dedupe's near tier ends at 10, so a clean sample never shows a false duplicate.
MIN_PHASH_DISTANCE = 13
#: Renders tried for one photo before giving up on keeping it that far from all others.
MAX_ATTEMPTS = 50

Rendered = tuple[str, bytes, int]  # file name, JPEG bytes, phash as an integer


def _phash(data: bytes) -> int:
    from norwoodkit.probe import probe_bytes

    h = probe_bytes(data)["phash"]
    return int(h, 16) if h else 0


def _render_subject(seed: int, index: int, subject: _Subject, quality: int) -> list[Rendered]:
    """The five photos of one subject with their phashes: a pure, picklable unit."""
    rng = np.random.default_rng([seed, index])
    traits = synth.random_traits(rng)
    files = []
    for view, orient in zip(VIEWS, subject.rotations, strict=True):
        img = synth.render_view(rng, subject.stage, view.value, subject.size, subject_traits=traits)
        data = _encode_jpeg(img, quality, orient)
        files.append((VENDOR_FILENAMES[view], data, _phash(data)))
    return files


def _render_again(
    seed: int, index: int, subject: _Subject, view: View, quality: int, attempt: int
) -> tuple[bytes, int]:
    """Another photo of the same person and view, from a stream of its own."""
    traits = synth.random_traits(np.random.default_rng([seed, index]))
    rng = np.random.default_rng([seed, index, 0x5EED, attempt])
    img = synth.render_view(rng, subject.stage, view.value, subject.size, subject_traits=traits)
    data = _encode_jpeg(img, quality, subject.rotations[VIEWS.index(view)])
    return data, _phash(data)


class _Distinct:
    """The phashes accepted so far; a new photo must be MIN_PHASH_DISTANCE from all of them."""

    def __init__(self) -> None:
        self._hashes = np.zeros(1024, np.uint64)
        self._n = 0

    def fits(self, h: int) -> bool:
        if self._n == 0:
            return True
        d = np.bitwise_count(self._hashes[: self._n] ^ np.uint64(h))
        return bool(d.min() >= MIN_PHASH_DISTANCE)

    def add(self, h: int) -> None:
        if self._n == len(self._hashes):
            self._hashes = np.concatenate([self._hashes, np.zeros_like(self._hashes)])
        self._hashes[self._n] = np.uint64(h)
        self._n += 1


def _keep_distinct(
    opts: SampleOptions, plan: list[_Subject], rendered: list[list[Rendered]], seen: _Distinct
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


def _render_all(
    opts: SampleOptions, plan: list[_Subject], progress: Callable[[int], None] | None
) -> list[list[Rendered]]:
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


def _record(s: _Subject) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "id": s.sid,
        "gender": "male",
        "age": str(s.age),
        "ethnicity": s.ethnicity,
        "label": f"Stage {s.stage}",
    }
    for view in VIEWS:
        rec[VENDOR_FILENAMES[view].removesuffix(".jpg")] = f"/{s.sid}/{VENDOR_FILENAMES[view]}"
    return rec


# --------------------------------------------------------------------------- defects


class _Planter:
    """Plants defects into a freshly written sample and records what each one must trigger."""

    def __init__(
        self,
        root: Path,
        records: list[dict[str, Any]],
        plan: list[_Subject],
        opts: SampleOptions,
        seen: _Distinct,
    ) -> None:
        self.root, self.records, self.plan, self.opts, self.seen = root, records, plan, opts, seen
        self.rng = np.random.default_rng([opts.seed, 0xDEFEC7])
        self.defects: list[dict[str, Any]] = []
        # Subjects get one defect each so that findings never overlap; spread over the range.
        picks = self.rng.permutation(len(plan))[:MIN_SUBJECTS_WITH_DEFECTS]
        self._free = [plan[int(i)] for i in sorted(picks, key=lambda i: int(i))]

    def take(self) -> _Subject:
        return self._free.pop(0)

    def note(
        self, code: str, subject: str | None, path: str | None, what: str, source: str | None = None
    ) -> None:
        entry = {"code": code, "subject": subject, "path": path, "what": what}
        if source is not None:
            entry["source"] = source  # for duplicates: the photo this one copies
        self.defects.append(entry)

    def record(self, sid: str) -> dict[str, Any]:
        return next(r for r in self.records if r.get("id") == sid)

    def fresh(
        self,
        s: _Subject,
        view: View,
        encode: Callable[[Image.Image], bytes],
        size: tuple[int, int] | None = None,
    ) -> bytes:
        """A new photo for a planted defect, as far from every other photo as the clean ones."""
        for attempt in range(MAX_ATTEMPTS):
            rng = np.random.default_rng([self.opts.seed, 0xBAD, int(s.sid), attempt])
            traits = synth.random_traits(rng)
            img = synth.render_view(rng, s.stage, view.value, size or s.size, subject_traits=traits)
            data = encode(img)
            h = _phash(data)
            if self.seen.fits(h):
                self.seen.add(h)
                return data
        raise RuntimeError(f"sample: could not render a distinct photo for subject {s.sid}")

    def _near_copy(
        self,
        src_view: View,
        dst_view: View,
        what: str,
        *,
        cross: bool,
        change: Callable[[Image.Image], Image.Image],
        quality: int = 85,
    ) -> None:
        """Plant an altered copy of one photo; try other sources until it is a 'same'-tier copy.

        Altered copies of most photos land within the tier (4 bits); the check keeps the sample
        honest for the rare photo whose hash is fragile, so defects.json never lists a copy that
        dedupe is not meant to find.
        """
        from norwoodkit.probe import probe_file

        for _ in range(5):
            a = self.take()
            b = self.take() if cross else a
            src = self.root / a.sid / VENDOR_FILENAMES[src_view]
            dst = self.root / b.sid / VENDOR_FILENAMES[dst_view]
            with Image.open(src) as im:
                exif = im.info.get("exif", b"")
                altered = change(im.convert("RGB"))
            buf = io.BytesIO()
            altered.save(buf, "JPEG", quality=quality, exif=exif)
            original = dst.read_bytes()
            dst.write_bytes(buf.getvalue())
            h1, h2 = probe_file(str(src))["phash"], probe_file(str(dst))["phash"]
            if h1 and h2 and bin(int(h1, 16) ^ int(h2, 16)).count("1") <= SAME_TIER_BITS:
                scope = "cross-subject" if cross else "within-subject"
                self.note(
                    f"near-duplicate-{scope}",
                    b.sid,
                    f"{b.sid}/{dst.name}",
                    f"{a.sid}/{src.name} {what}",
                    source=f"{a.sid}/{src.name}",
                )
                return
            dst.write_bytes(original)  # too far for the tier: put the photo back, try another
        raise RuntimeError("could not plant a near duplicate in five tries")

    def plant_all(self) -> None:
        q = self.opts.quality
        f = VENDOR_FILENAMES
        s = self.take()
        os.remove(self.root / s.sid / f[View.BACK])
        self.note("view-missing", s.sid, None, "Back.jpg deleted; the record still lists it")
        s = self.take()
        (self.root / s.sid / "IMG_0001.jpg").write_bytes(
            self.fresh(s, View.FRONT, lambda im: _encode_jpeg(im, q))
        )
        self.note("extra-image", s.sid, f"{s.sid}/IMG_0001.jpg", "a sixth photo with no view name")
        s = self.take()
        (self.root / s.sid / "front.png").write_bytes(self.fresh(s, View.FRONT, _png))
        self.note("duplicate-view", s.sid, f"{s.sid}/front.png", "a second front view")
        s = self.take()
        (self.root / s.sid / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + b"\x00" * 64)
        self.note("junk-file", s.sid, f"{s.sid}/.DS_Store", "macOS folder metadata")
        s = self.take()
        (self.root / s.sid / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 60)
        self.note("junk-file", s.sid, f"{s.sid}/Thumbs.db", "Windows thumbnail cache")
        (self.root / "__MACOSX").mkdir()
        (self.root / "__MACOSX" / "._annotation.json").write_bytes(b"\x00\x05\x16\x07")
        self.note("junk-file", None, "__MACOSX", "macOS zip resource folder")
        s = self.take()
        (self.root / s.sid / "notes.txt").write_text("left side photo retaken\n", "utf-8")
        self.note("unexpected-file", s.sid, f"{s.sid}/notes.txt", "a text file in a subject folder")
        s = self.take()
        (self.root / s.sid / f[View.LEFT]).write_bytes(b"")
        self.note("image-empty", s.sid, f"{s.sid}/Left.jpg", "zero bytes")
        s = self.take()
        p = self.root / s.sid / f[View.RIGHT]
        data = p.read_bytes()
        p.write_bytes(data[: len(data) * 6 // 10])
        self.note("image-truncated", s.sid, f"{s.sid}/Right.jpg", "cut at 60 % of its bytes")
        s = self.take()
        garbage = self.rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
        (self.root / s.sid / f[View.TOP]).write_bytes(b"\xff\xd8\xff\xe0" + garbage)
        self.note("image-undecodable", s.sid, f"{s.sid}/Top-Down.jpg", "JPEG marker, then noise")
        s = self.take()
        (self.root / s.sid / f[View.FRONT]).write_bytes(self.fresh(s, View.FRONT, _png))
        self.note("format-mismatch", s.sid, f"{s.sid}/Front.jpg", "a PNG named .jpg")
        s = self.take()
        (self.root / s.sid / f[View.BACK]).write_bytes(
            self.fresh(s, View.BACK, lambda im: _encode_jpeg(im.convert("CMYK"), q))
        )
        self.note("mode-not-rgb", s.sid, f"{s.sid}/Back.jpg", "a CMYK JPEG")
        s = self.take()
        (self.root / s.sid / f[View.LEFT]).write_bytes(
            self.fresh(s, View.LEFT, lambda im: _encode_jpeg(im.convert("L"), q))
        )
        self.note("mode-not-rgb", s.sid, f"{s.sid}/Left.jpg", "a greyscale JPEG")
        s = self.take()
        os.remove(self.root / s.sid / f[View.FRONT])
        (self.root / s.sid / "Front.png").write_bytes(_bomb_png(30000, 30000))
        self.record(s.sid)["Front"] = f"/{s.sid}/Front.png"
        self.note(
            "image-too-large",
            s.sid,
            f"{s.sid}/Front.png",
            "a PNG header claiming 30000x30000 pixels",
        )
        s = self.take()
        small = (max(32, s.size[0] // 6), max(32, s.size[1] // 6))
        (self.root / s.sid / f[View.TOP]).write_bytes(
            self.fresh(s, View.TOP, lambda im: _encode_jpeg(im, q), small)
        )
        self.note("size-outlier", s.sid, f"{s.sid}/Top-Down.jpg", "one sixth of the usual size")
        s = self.take()
        self.records.remove(self.record(s.sid))
        self.note("folder-without-record", s.sid, s.sid, "its record was removed")
        s = self.take()
        shutil.rmtree(self.root / s.sid)
        self.note("record-without-folder", s.sid, None, "its folder was removed")
        s = self.take()
        dup = dict(self.record(s.sid), id=s.sid.zfill(3), label="Stage 1", age="30")
        self.records.append(dup)
        self.note(
            "duplicate-id", s.sid, "annotation.json", f"a second record with id {s.sid.zfill(3)}"
        )
        self.records.append(
            {"gender": "male", "age": "41", "ethnicity": "Asians", "label": "Stage 2"}
        )
        self.note("record-without-id", None, "annotation.json", "a record with no id")
        for code, key, value in (
            ("stage-invalid", "label", "3-4"),
            ("stage-out-of-range", "label", "Stage 9"),
            ("stage-missing", "label", ""),
            ("age-invalid", "age", "abc"),
            ("age-invalid", "age", "45.5"),
            ("age-out-of-range", "age", "200"),
            ("age-missing", "age", ""),
            ("gender-missing", "gender", ""),
            ("ethnicity-missing", "ethnicity", ""),
            ("gender-unexpected", "gender", "unknown"),
            ("ethnicity-variant", "ethnicity", "Caucasian"),
        ):
            s = self.take()
            self.record(s.sid)[key] = value
            self.note(code, s.sid, "annotation.json", f"{key} set to {value!r}")
        a, b = self.take(), self.take()
        shutil.copyfile(self.root / a.sid / f[View.FRONT], self.root / b.sid / f[View.FRONT])
        self.note(
            "duplicate-bytes-cross-subject",
            b.sid,
            f"{b.sid}/Front.jpg",
            f"a byte copy of {a.sid}/Front.jpg",
            source=f"{a.sid}/Front.jpg",
        )
        s = self.take()
        shutil.copyfile(self.root / s.sid / f[View.LEFT], self.root / s.sid / f[View.RIGHT])
        self.note(
            "duplicate-bytes-within-subject",
            s.sid,
            f"{s.sid}/Right.jpg",
            "a byte copy of its Left.jpg",
            source=f"{s.sid}/Left.jpg",
        )
        self._near_copy(
            View.BACK,
            View.BACK,
            "re-encoded at JPEG quality 60",
            cross=True,
            change=lambda im: im,
            quality=60,
        )
        self._near_copy(
            View.TOP,
            View.TOP,
            "resized to 50 %",
            cross=True,
            change=lambda im: im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS),
        )
        self._near_copy(
            View.LEFT,
            View.RIGHT,
            "brightened by 15 %",
            cross=False,
            change=lambda im: ImageEnhance.Brightness(im).enhance(1.15),
        )
        s = self.take()
        self.record(s.sid)["Front"] = "../../etc/passwd"
        self.note(
            "path-escapes-root",
            s.sid,
            "annotation.json",
            "the record's Front path points outside the dataset",
        )


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _bomb_png(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge image (what a decompression bomb looks like up front)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (width + 1) * 4)  # a few rows; the rest never arrives
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# --------------------------------------------------------------------------- write


def write(
    out: str | os.PathLike[str],
    options: SampleOptions | None = None,
    *,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> SampleResult:
    """Write a sample dataset to ``out`` (built in a temporary folder, renamed when complete).

    Raises:
        InputError: bad options (size, subject count).
        OutputError: ``out`` exists and is not an earlier sample, or its parent is missing.
    """
    opts = options or SampleOptions()
    target = Path(out)
    parse_size(opts.size)
    if opts.subjects < 1:
        raise InputError(f"--subjects {opts.subjects}: need at least 1", code="usage")
    if opts.defects and opts.subjects < MIN_SUBJECTS_WITH_DEFECTS:
        raise InputError(
            f"--defects needs --subjects {MIN_SUBJECTS_WITH_DEFECTS} or more (one "
            f"subject per planted defect); got {opts.subjects}",
            code="usage",
        )
    if not 1 <= opts.quality <= 100:
        raise InputError(f"--quality {opts.quality}: use 1..100", code="usage")
    if not target.parent.is_dir():
        raise OutputError(
            f"{target.parent}: folder does not exist; create it first", code="output-parent-missing"
        )
    if target.exists():
        if not overwrite:
            raise OutputError(
                f"{target}: already exists; choose a new folder or pass "
                "--overwrite to replace an earlier sample",
                code="output-exists",
            )
        if not (target / "sample.json").is_file():
            raise OutputError(
                f"{target}: exists and is not a norwoodkit sample (no sample.json); "
                "refusing to replace it",
                code="output-exists",
            )
    plan = _plan(opts)
    seen = _Distinct()
    rendered = _keep_distinct(opts, plan, _render_all(opts, plan, progress), seen)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for s, files in zip(plan, rendered, strict=True):
            folder = tmp / s.sid
            folder.mkdir()
            for name, data in files:
                (folder / name).write_bytes(data)
        records = [_record(s) for s in plan]
        defects: list[dict[str, Any]] = []
        if opts.defects:
            planter = _Planter(tmp, records, plan, opts, seen)
            planter.plant_all()
            defects = planter.defects
            _write_json(tmp / "defects.json", {"seed": opts.seed, "defects": defects})
        _write_json(tmp / "annotation.json", records)
        from norwoodkit import __version__

        _write_json(
            tmp / "sample.json",
            {
                "generator": "norwoodkit sample",
                "version": __version__,
                "options": {k: v for k, v in asdict(opts).items() if k != "workers"},
            },
        )
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    n_images = sum(
        1 for p in target.rglob("*") if p.is_file() and p.suffix.lower() in (".jpg", ".png")
    )
    return SampleResult(root=target, subjects=len(plan), images=n_images, defects=tuple(defects))


def _write_json(path: Path, doc: Any) -> None:
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
