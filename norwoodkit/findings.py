"""Findings: what a check found, as data. Every finding code lives in ``CODES``.

A finding is never an exception: commands collect them, render them and pick the exit code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """How bad a finding is. Errors fail ``validate``; warnings fail it with ``--strict``."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class CodeInfo:
    """What a finding code means: its severity, the check group it belongs to, one line."""

    severity: Severity
    check: str
    summary: str


E, W, N = Severity.ERROR, Severity.WARNING, Severity.INFO

#: Every finding code norwoodkit emits. ``check`` groups codes for JUnit output.
CODES: dict[str, CodeInfo] = {
    # annotation file and records
    "annotation-encoding": CodeInfo(
        E, "annotation", "annotation file is not UTF-8; read as Latin-1"
    ),
    "annotation-row-shape": CodeInfo(
        W, "annotation", "CSV row with more or fewer fields than the header"
    ),
    "record-without-id": CodeInfo(E, "annotation", "annotation record has no subject id"),
    "id-invalid": CodeInfo(E, "annotation", "subject id that cannot name a folder ('/', '..')"),
    "duplicate-id": CodeInfo(E, "annotation", "two annotation records share one subject id"),
    "duplicate-key": CodeInfo(
        E, "annotation", "a key or CSV column written twice in one place; the first is used"
    ),
    # folder structure
    "folder-without-record": CodeInfo(E, "structure", "subject folder with no annotation record"),
    "record-without-folder": CodeInfo(E, "structure", "annotation record with no subject folder"),
    "view-missing": CodeInfo(E, "structure", "a subject has no image for one of the five views"),
    "duplicate-view": CodeInfo(E, "structure", "two image files for one view of a subject"),
    "extra-image": CodeInfo(W, "structure", "image file whose name is not one of the five views"),
    "unexpected-file": CodeInfo(W, "structure", "file that is neither an image nor known junk"),
    "junk-file": CodeInfo(N, "structure", "operating-system junk (.DS_Store, Thumbs.db, __MACOSX)"),
    "special-file": CodeInfo(
        E, "structure", "a FIFO, socket or device where files belong; never opened"
    ),
    "name-not-utf8": CodeInfo(
        E, "structure", "a file or folder name that is not valid UTF-8; left out of the table"
    ),
    "path-escapes-root": CodeInfo(
        E, "structure", "a path or link that leads outside the dataset root"
    ),
    "subject-count": CodeInfo(E, "structure", "number of subjects differs from --expect-subjects"),
    "image-count": CodeInfo(E, "structure", "number of images differs from --expect-images"),
    # image bytes
    "image-empty": CodeInfo(E, "image", "zero-byte image file"),
    "image-unreadable": CodeInfo(E, "image", "image file cannot be read (permissions, I/O error)"),
    "image-undecodable": CodeInfo(E, "image", "image bytes cannot be decoded"),
    "image-truncated": CodeInfo(E, "image", "image data ends early (truncated download or copy)"),
    "image-too-large": CodeInfo(E, "image", "pixel count over Pillow's decompression-bomb limit"),
    "format-mismatch": CodeInfo(W, "image", "file extension does not match the real format"),
    "mode-not-rgb": CodeInfo(W, "image", "colour mode other than RGB (CMYK, grey, 16-bit, ...)"),
    "exif-rotated": CodeInfo(N, "image", "EXIF orientation other than 1: pixels must be rotated"),
    "size-outlier": CodeInfo(W, "image", "width, height or file size far from the dataset median"),
    # photo quality (quality/): thresholds calibrated per view, absolute floors
    "quality-blurry": CodeInfo(W, "image", "sharpness below its view's threshold"),
    "quality-dark": CodeInfo(W, "image", "brightness below its view's threshold"),
    "quality-bright": CodeInfo(W, "image", "brightness above its view's threshold (over-exposed)"),
    "quality-low-information": CodeInfo(
        W, "image", "entropy below its view's threshold (mostly one flat surface)"
    ),
    "quality-grayscale": CodeInfo(W, "image", "a grayscale photo in a view of colour photos"),
    "quality-odd-aspect-ratio": CodeInfo(W, "image", "aspect ratio far from its view's"),
    "quality-odd-size": CodeInfo(W, "image", "pixel count far from its view's"),
    "quality-not-measurable": CodeInfo(
        N, "image", "a decoded photo whose quality measures could not be taken, with why"
    ),
    # labels and metadata
    "stage-missing": CodeInfo(E, "labels", "subject has no Norwood stage"),
    "stage-invalid": CodeInfo(E, "labels", "Norwood stage that cannot be parsed"),
    "stage-out-of-range": CodeInfo(E, "labels", "Norwood stage outside 1..7"),
    "age-missing": CodeInfo(W, "metadata", "subject has no age"),
    "age-invalid": CodeInfo(E, "metadata", "age that is not a whole number"),
    "age-out-of-range": CodeInfo(E, "metadata", "age outside the dataset's 18..80"),
    "gender-missing": CodeInfo(W, "metadata", "subject has no gender"),
    "gender-unexpected": CodeInfo(W, "metadata", "gender outside male/female"),
    "ethnicity-missing": CodeInfo(W, "metadata", "subject has no ethnicity"),
    "ethnicity-variant": CodeInfo(W, "metadata", "one ethnicity spelled two ways"),
    # duplicates
    "duplicate-bytes-cross-subject": CodeInfo(
        E, "duplicates", "identical image bytes under two different subjects (leakage)"
    ),
    "duplicate-bytes-within-subject": CodeInfo(
        W, "duplicates", "identical image bytes for two views of one subject"
    ),
    "near-duplicate-cross-subject": CodeInfo(
        E, "duplicates", "one photo (re-encoded, resized, ...) under two different subjects"
    ),
    "split-subject-in-two-splits": CodeInfo(E, "split", "a subject listed in two splits"),
    "split-views-apart": CodeInfo(E, "split", "views of one subject in different splits"),
    "split-duplicate-across-splits": CodeInfo(
        E, "split", "two subjects sharing a duplicate photo sit in different splits"
    ),
    "split-stage-missing": CodeInfo(W, "split", "a stage with no subject in some split"),
    "split-unknown-subject": CodeInfo(W, "split", "split file ids that the dataset does not have"),
    "split-subject-missing": CodeInfo(W, "split", "dataset subjects that no split lists"),
    "pack-excluded": CodeInfo(N, "pack", "an image left out of the shards, with the reason"),
    "pack-format-old": CodeInfo(
        W, "verify", "a pack folder of an older format: readable, not a Hub dataset repository"
    ),
    "shard-missing": CodeInfo(E, "verify", "a shard listed in manifest.json is not on disk"),
    "shard-unlisted": CodeInfo(E, "verify", "a shard on disk that manifest.json does not list"),
    "shard-hash": CodeInfo(E, "verify", "a shard's sha256 differs from manifest.json"),
    "shard-schema": CodeInfo(E, "verify", "a shard's schema differs from what norwoodkit writes"),
    "shard-rows": CodeInfo(E, "verify", "a shard's row count differs from manifest.json"),
    "shard-unreadable": CodeInfo(E, "verify", "a shard that cannot be read as Parquet"),
    "image-hash": CodeInfo(E, "verify", "stored image bytes differ from the original's sha256"),
    "image-undecodable-in-shard": CodeInfo(E, "verify", "a stored image that cannot be decoded"),
    "near-duplicate-within-subject": CodeInfo(
        W, "duplicates", "one photo (re-encoded, resized, ...) used for two views of one subject"
    ),
    # split targets (warnings: they fail only `split --strict`)
    "split-sizes-off": CodeInfo(W, "split-sizes", "split sizes differ from the asked ratios"),
    "split-stage-above-bound": CodeInfo(
        W, "split-balance", "worst stage deviation of a split above its rounding bound"
    ),
}

del E, W, N


@dataclass(frozen=True)
class Finding:
    """One thing a check found. ``subject`` and ``path`` are ``None`` for dataset-wide findings;
    ``line`` is the line of ``path`` (the annotation file) where a check knows one."""

    code: str
    severity: Severity
    subject: str | None
    path: str | None
    message: str
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The finding as a JSON-safe dict (the severity as its text)."""
        d = asdict(self)
        d["severity"] = self.severity.value
        return d


def finding(
    code: str,
    message: str,
    *,
    subject: str | None = None,
    path: str | None = None,
    line: int | None = None,
) -> Finding:
    """Build a finding whose severity comes from ``CODES`` (so one code has one severity)."""
    return Finding(code, CODES[code].severity, subject, path, message, line)


_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def fails(severity: Severity, strict: bool = False) -> bool:
    """Whether a finding of ``severity`` fails a gate: errors do, warnings too with ``strict``."""
    return severity is Severity.ERROR or (strict and severity is Severity.WARNING)


def at_least(severity: Severity, least: Severity) -> bool:
    """True when ``severity`` is ``least`` or worse (error > warning > info)."""
    return _SEVERITY_ORDER[severity] <= _SEVERITY_ORDER[least]


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Order findings for output: errors first, then by code, subject and path (stable)."""

    from norwoodkit.labels import id_sort_key

    def key(f: Finding) -> tuple[int, str, tuple[int, int, str], str]:
        return (_SEVERITY_ORDER[f.severity], f.code, id_sort_key(f.subject or ""), f.path or "")

    return sorted(findings, key=key)
