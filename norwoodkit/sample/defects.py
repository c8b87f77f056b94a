"""The planted defects: one instance of every problem ``validate`` checks for, each in its own
subject, written into a freshly rendered sample and listed (code, subject, path, what) for
``defects.json``.

The order of ``Planter.PLANTS`` decides which subject gets which defect: changing it changes
the sample's bytes for every seed.
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image, ImageEnhance

from norwoodkit.dedupe.distance import hamming
from norwoodkit.labels import VENDOR_FILENAMES, View
from norwoodkit.sample import render
from norwoodkit.sample.options import MIN_SUBJECTS_WITH_DEFECTS, SampleOptions
from norwoodkit.sample.people import Subject
from norwoodkit.sample.photos import MAX_ATTEMPTS, Distinct, encode_jpeg, phash

#: The 'same' tier of dedupe (bits): planted near duplicates must fall inside it.
SAME_TIER_BITS = 4

#: Annotation values that each trigger one finding: (code, record key, value).
BAD_FIELDS = (
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
)


class Planter:
    """Plants defects into a freshly written sample and records what each one must trigger."""

    def __init__(
        self,
        root: Path,
        records: list[dict[str, Any]],
        plan: list[Subject],
        opts: SampleOptions,
        seen: Distinct,
    ) -> None:
        self.root, self.records, self.plan, self.opts, self.seen = root, records, plan, opts, seen
        self.rng = np.random.default_rng([opts.seed, 0xDEFEC7])
        self.defects: list[dict[str, Any]] = []
        # Subjects get one defect each so that findings never overlap; spread over the range.
        picks = self.rng.permutation(len(plan))[:MIN_SUBJECTS_WITH_DEFECTS]
        self._free = [plan[int(i)] for i in sorted(picks, key=lambda i: int(i))]

    def plant_all(self) -> None:
        """Plant every defect, in the fixed order of ``PLANTS``."""
        for plant in self.PLANTS:
            plant(self)

    # ------------------------------------------------------------------------- helpers

    def take(self) -> Subject:
        """The next subject without a defect."""
        return self._free.pop(0)

    def note(
        self, code: str, subject: str | None, path: str | None, what: str, source: str | None = None
    ) -> None:
        """List a planted defect: the finding ``code`` it must trigger, where, and what it is."""
        entry = {"code": code, "subject": subject, "path": path, "what": what}
        if source is not None:
            entry["source"] = source  # for duplicates: the photo this one copies
        self.defects.append(entry)

    def record(self, sid: str) -> dict[str, Any]:
        """The annotation record of subject ``sid``."""
        return next(r for r in self.records if r.get("id") == sid)

    def file(self, s: Subject, name: str) -> Path:
        """A file in subject ``s``'s folder."""
        return self.root / s.sid / name

    def fresh(
        self,
        s: Subject,
        view: View,
        encode: Callable[[Image.Image], bytes],
        size: tuple[int, int] | None = None,
    ) -> bytes:
        """A new photo for a planted defect, as far from every other photo as the clean ones."""
        for attempt in range(MAX_ATTEMPTS):
            rng = np.random.default_rng([self.opts.seed, 0xBAD, int(s.sid), attempt])
            traits = render.random_traits(rng)
            img = render.render_view(
                rng, s.stage, view.value, size or s.size, subject_traits=traits
            )
            data = encode(img)
            h = phash(data)
            if self.seen.fits(h):
                self.seen.add(h)
                return data
        raise RuntimeError(f"sample: could not render a distinct photo for subject {s.sid}")

    def jpeg(self, im: Image.Image) -> bytes:
        """``im`` as a JPEG at the sample's quality."""
        return encode_jpeg(im, self.opts.quality)

    # ------------------------------------------------------------------------- files

    def view_missing(self) -> None:
        """A record lists a photo that is not there."""
        s = self.take()
        os.remove(self.file(s, VENDOR_FILENAMES[View.BACK]))
        self.note("view-missing", s.sid, None, "Back.jpg deleted; the record still lists it")

    def extra_image(self) -> None:
        """A sixth photo whose name is no view."""
        s = self.take()
        self.file(s, "IMG_0001.jpg").write_bytes(self.fresh(s, View.FRONT, self.jpeg))
        self.note("extra-image", s.sid, f"{s.sid}/IMG_0001.jpg", "a sixth photo with no view name")

    def duplicate_view(self) -> None:
        """Two files for one view."""
        s = self.take()
        self.file(s, "front.png").write_bytes(self.fresh(s, View.FRONT, png))
        self.note("duplicate-view", s.sid, f"{s.sid}/front.png", "a second front view")

    def junk_files(self) -> None:
        """Operating-system litter: .DS_Store, Thumbs.db, a __MACOSX folder."""
        s = self.take()
        self.file(s, ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + b"\x00" * 64)
        self.note("junk-file", s.sid, f"{s.sid}/.DS_Store", "macOS folder metadata")
        s = self.take()
        self.file(s, "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 60)
        self.note("junk-file", s.sid, f"{s.sid}/Thumbs.db", "Windows thumbnail cache")
        (self.root / "__MACOSX").mkdir()
        (self.root / "__MACOSX" / "._annotation.json").write_bytes(b"\x00\x05\x16\x07")
        self.note("junk-file", None, "__MACOSX", "macOS zip resource folder")

    def unexpected_file(self) -> None:
        """A file that is neither a photo nor junk."""
        s = self.take()
        self.file(s, "notes.txt").write_text("left side photo retaken\n", "utf-8")
        self.note("unexpected-file", s.sid, f"{s.sid}/notes.txt", "a text file in a subject folder")

    # ------------------------------------------------------------------------- images

    def image_empty(self) -> None:
        """A photo of zero bytes."""
        s = self.take()
        self.file(s, VENDOR_FILENAMES[View.LEFT]).write_bytes(b"")
        self.note("image-empty", s.sid, f"{s.sid}/Left.jpg", "zero bytes")

    def image_truncated(self) -> None:
        """A photo cut short, as by an interrupted copy."""
        s = self.take()
        p = self.file(s, VENDOR_FILENAMES[View.RIGHT])
        data = p.read_bytes()
        p.write_bytes(data[: len(data) * 6 // 10])
        self.note("image-truncated", s.sid, f"{s.sid}/Right.jpg", "cut at 60 % of its bytes")

    def image_undecodable(self) -> None:
        """A JPEG marker followed by noise."""
        s = self.take()
        garbage = self.rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
        self.file(s, VENDOR_FILENAMES[View.TOP]).write_bytes(b"\xff\xd8\xff\xe0" + garbage)
        self.note("image-undecodable", s.sid, f"{s.sid}/Top-Down.jpg", "JPEG marker, then noise")

    def format_mismatch(self) -> None:
        """A PNG under a .jpg name."""
        s = self.take()
        self.file(s, VENDOR_FILENAMES[View.FRONT]).write_bytes(self.fresh(s, View.FRONT, png))
        self.note("format-mismatch", s.sid, f"{s.sid}/Front.jpg", "a PNG named .jpg")

    def mode_not_rgb(self) -> None:
        """A CMYK JPEG and a greyscale JPEG."""
        q = self.opts.quality
        s = self.take()
        self.file(s, VENDOR_FILENAMES[View.BACK]).write_bytes(
            self.fresh(s, View.BACK, lambda im: encode_jpeg(im.convert("CMYK"), q))
        )
        self.note("mode-not-rgb", s.sid, f"{s.sid}/Back.jpg", "a CMYK JPEG")
        s = self.take()
        self.file(s, VENDOR_FILENAMES[View.LEFT]).write_bytes(
            self.fresh(s, View.LEFT, lambda im: encode_jpeg(im.convert("L"), q))
        )
        self.note("mode-not-rgb", s.sid, f"{s.sid}/Left.jpg", "a greyscale JPEG")

    def image_too_large(self) -> None:
        """A PNG whose header claims 30000 x 30000 pixels (a decompression bomb, up front)."""
        s = self.take()
        os.remove(self.file(s, VENDOR_FILENAMES[View.FRONT]))
        self.file(s, "Front.png").write_bytes(bomb_png(30000, 30000))
        self.record(s.sid)["Front"] = f"/{s.sid}/Front.png"
        self.note(
            "image-too-large",
            s.sid,
            f"{s.sid}/Front.png",
            "a PNG header claiming 30000x30000 pixels",
        )

    def size_outlier(self) -> None:
        """A photo a sixth of the usual size."""
        s = self.take()
        small = (max(32, s.size[0] // 6), max(32, s.size[1] // 6))
        self.file(s, VENDOR_FILENAMES[View.TOP]).write_bytes(
            self.fresh(s, View.TOP, self.jpeg, small)
        )
        self.note("size-outlier", s.sid, f"{s.sid}/Top-Down.jpg", "one sixth of the usual size")

    # ------------------------------------------------------------------------- annotation

    def record_folder_mismatch(self) -> None:
        """A folder whose record is gone, and a record whose folder is gone."""
        s = self.take()
        self.records.remove(self.record(s.sid))
        self.note("folder-without-record", s.sid, s.sid, "its record was removed")
        s = self.take()
        shutil.rmtree(self.root / s.sid)
        self.note("record-without-folder", s.sid, None, "its folder was removed")

    def duplicate_id(self) -> None:
        """A second record whose id spells an existing one with leading zeros."""
        s = self.take()
        dup = dict(self.record(s.sid), id=s.sid.zfill(3), label="Stage 1", age="30")
        self.records.append(dup)
        self.note(
            "duplicate-id", s.sid, "annotation.json", f"a second record with id {s.sid.zfill(3)}"
        )

    def record_without_id(self) -> None:
        """A record with no id at all."""
        self.records.append(
            {"gender": "male", "age": "41", "ethnicity": "Asians", "label": "Stage 2"}
        )
        self.note("record-without-id", None, "annotation.json", "a record with no id")

    def bad_fields(self) -> None:
        """One record per ``BAD_FIELDS`` entry, with that value."""
        for code, key, value in BAD_FIELDS:
            s = self.take()
            self.record(s.sid)[key] = value
            self.note(code, s.sid, "annotation.json", f"{key} set to {value!r}")

    def path_escapes_root(self) -> None:
        """A record whose photo path points outside the dataset."""
        s = self.take()
        self.record(s.sid)["Front"] = "../../etc/passwd"
        self.note(
            "path-escapes-root",
            s.sid,
            "annotation.json",
            "the record's Front path points outside the dataset",
        )

    # ------------------------------------------------------------------------- duplicates

    def byte_copies(self) -> None:
        """A byte copy across two people and one within a person."""
        a, b = self.take(), self.take()
        front, left, right = (VENDOR_FILENAMES[v] for v in (View.FRONT, View.LEFT, View.RIGHT))
        shutil.copyfile(self.file(a, front), self.file(b, front))
        self.note(
            "duplicate-bytes-cross-subject",
            b.sid,
            f"{b.sid}/Front.jpg",
            f"a byte copy of {a.sid}/Front.jpg",
            source=f"{a.sid}/Front.jpg",
        )
        s = self.take()
        shutil.copyfile(self.file(s, left), self.file(s, right))
        self.note(
            "duplicate-bytes-within-subject",
            s.sid,
            f"{s.sid}/Right.jpg",
            "a byte copy of its Left.jpg",
            source=f"{s.sid}/Left.jpg",
        )

    def near_copies(self) -> None:
        """Altered copies dedupe's 'same' tier must find: re-encoded, resized, brightened."""
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
            src = self.file(a, VENDOR_FILENAMES[src_view])
            dst = self.file(b, VENDOR_FILENAMES[dst_view])
            with Image.open(src) as im:
                exif = im.info.get("exif", b"")
                altered = change(im.convert("RGB"))
            buf = io.BytesIO()
            altered.save(buf, "JPEG", quality=quality, exif=exif)
            original = dst.read_bytes()
            dst.write_bytes(buf.getvalue())
            h1, h2 = probe_file(str(src))["phash"], probe_file(str(dst))["phash"]
            if h1 and h2 and hamming(h1, h2) <= SAME_TIER_BITS:
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

    #: Every planting step, in the order that assigns subjects to defects.
    PLANTS: ClassVar[tuple[Callable[[Planter], None], ...]] = (
        view_missing,
        extra_image,
        duplicate_view,
        junk_files,
        unexpected_file,
        image_empty,
        image_truncated,
        image_undecodable,
        format_mismatch,
        mode_not_rgb,
        image_too_large,
        size_outlier,
        record_folder_mismatch,
        duplicate_id,
        record_without_id,
        bad_fields,
        byte_copies,
        near_copies,
        path_escapes_root,
    )


def png(img: Image.Image) -> bytes:
    """PNG bytes of ``img``."""
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def bomb_png(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge image (what a decompression bomb looks like up front)."""

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
