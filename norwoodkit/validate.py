"""ProbedDataset -> findings. Every check reads the table; nothing is re-read.

Each check is a small function from the dataset to findings; ``CHECKS`` lists them in order. The
codes and severities live in ``findings.CODES``. ``validate`` takes a ``ProbedDataset`` (what
``probe.run`` returns): the image checks read the probe columns.
"""

from __future__ import annotations

import math
import numbers
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from norwoodkit.columns import QUALITY_COLUMNS
from norwoodkit.dataset import Dataset, ProbedDataset, decoded
from norwoodkit.errors import ParameterError
from norwoodkit.findings import Finding, Severity, fails, finding, sort_findings
from norwoodkit.labels import category_key
from norwoodkit.text import cell_text

if TYPE_CHECKING:
    from norwoodkit.quality.thresholds import Overrides

#: The probe columns ``validate`` reads, ``dedupe.find``'s and the quality check's included (a
#: warm ``validate`` reads only these from the probe cache).
PROBE_READS = frozenset(
    {"status", "error", "size", "sha256", "format", "mode", "orientation"}
    | {"oriented_width", "oriented_height", "phash", "phash_mirror"}
    | set(QUALITY_COLUMNS)
)

#: Ages the dataset card promises.
AGE_RANGE = (18, 80)

#: Gender spellings accepted without a finding (compared with ``category_key``).
EXPECTED_GENDERS = frozenset({"male", "female", "m", "f", "man", "woman"})

#: Extension (lower-case) -> the formats it may hold.
EXTENSION_FORMATS: dict[str, frozenset[str]] = {
    ".jpg": frozenset({"JPEG"}),
    ".jpeg": frozenset({"JPEG"}),
    ".jpe": frozenset({"JPEG"}),
    ".png": frozenset({"PNG"}),
    ".gif": frozenset({"GIF"}),
    ".webp": frozenset({"WEBP"}),
    ".bmp": frozenset({"BMP"}),
    ".tif": frozenset({"TIFF"}),
    ".tiff": frozenset({"TIFF"}),
    ".heic": frozenset({"HEIF"}),
    ".heif": frozenset({"HEIF"}),
}


@dataclass(frozen=True)
class ValidateOptions:
    """Knobs of ``validate``; the defaults are the CLI's defaults.

    Attributes:
        expect_subjects: the number of subjects the delivery promises (None: not checked).
        expect_views: the number of images the delivery promises (None: not checked).
        outlier_factor: width or height this many times above or below the median is an outlier.
        size_outlier_factor: file size this many times above or below the median is an outlier.
        min_images_for_outliers: below this many decodable images, no outlier check.
        duplicate_distance: phash distance up to which two images are one photo (dedupe's
            ``same`` tier).
        quality_thresholds: photo quality thresholds set by hand
            (``quality.thresholds.read_thresholds``); None: calibrated on the dataset.
    """

    expect_subjects: int | None = None
    expect_views: int | None = None
    outlier_factor: float = 4.0
    size_outlier_factor: float = 10.0
    min_images_for_outliers: int = 10
    duplicate_distance: int = 4
    quality_thresholds: Overrides | None = None

    def __post_init__(self) -> None:
        for name, promised in (
            ("expect_subjects", self.expect_subjects),
            ("expect_views", self.expect_views),
        ):
            if promised is not None and not _is_count(promised):
                raise ParameterError(
                    name,
                    f"{promised!r} is not a whole number of 0 or more; give the number the "
                    "delivery promises, or None to skip the check",
                )
        for name, factor in (
            ("outlier_factor", self.outlier_factor),
            ("size_outlier_factor", self.size_outlier_factor),
        ):
            if not (_is_number(factor) and factor > 1):
                raise ParameterError(
                    name,
                    f"{factor!r} is not a number above 1; a value this many times above or "
                    "below the median is an outlier, e.g. 4",
                )
        if not _is_count(self.min_images_for_outliers):
            raise ParameterError(
                "min_images_for_outliers",
                f"{self.min_images_for_outliers!r} is not a whole number of 0 or more; use e.g. 10",
            )
        if not (_is_count(self.duplicate_distance) and self.duplicate_distance <= _HASH_BITS):
            raise ParameterError(
                "duplicate_distance",
                f"{self.duplicate_distance!r} is outside 0..{_HASH_BITS} (the bits of a phash); "
                "use e.g. 4",
            )


#: Bits in a perceptual hash: the largest possible phash distance.
_HASH_BITS = 64


def _is_count(value: object) -> bool:
    # numbers.Integral, not int: a count read from a table arrives as a numpy integer.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and int(value) >= 0


def _is_number(value: object) -> bool:
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


@dataclass(frozen=True)
class Report:
    """What ``validate`` returns: the findings, sorted, and a few counts."""

    findings: tuple[Finding, ...]
    subjects: int
    images: int

    @classmethod
    def about(cls, dataset: Dataset, findings: Iterable[Finding]) -> Report:
        """A report of ``findings`` (sorted here) on ``dataset``, with its counts."""
        return cls(
            findings=tuple(sort_findings(findings)),
            subjects=int(dataset.table["subject_id"].nunique()),
            images=int(dataset.table["path"].notna().sum()),
        )

    def counts(self) -> dict[str, int]:
        """Findings per severity."""
        out = {s.value: 0 for s in Severity}
        for f in self.findings:
            out[f.severity.value] += 1
        return out

    def ok(self, strict: bool = False) -> bool:
        """True when nothing fails: no errors (and with ``strict``, no warnings)."""
        return not any(fails(f.severity, strict) for f in self.findings)

    def to_dict(self, strict: bool = False) -> dict[str, Any]:
        """The ``--json`` document."""
        return {
            "ok": self.ok(strict),
            "strict": strict,
            "subjects": self.subjects,
            "images": self.images,
            "counts": self.counts(),
            "findings": [f.to_dict() for f in self.findings],
        }


Check = Callable[[ProbedDataset, ValidateOptions], Iterable[Finding]]


def _int(value: Any) -> int | None:
    return None if cell_text(value) is None else int(value)


def _rows(frame: pd.DataFrame, columns: list[str]) -> Iterator[tuple[Any, ...]]:
    """The ``columns`` of ``frame`` row by row, as plain tuples of cells.

    Column lists zipped, not ``itertuples``: boxing every cell of every column through pandas
    cost most of a warm ``validate`` (issue 15).
    """
    return zip(*(frame[c].tolist() for c in columns), strict=True)


def check_structure(ds: Dataset, opts: ValidateOptions) -> Iterator[Finding]:
    """Folders against records, and the five views of every subject."""
    for sid, rows in _rows_by_subject(ds.table).items():
        yield from _subject_structure(ds, sid, rows)
    yield from _delivery_counts(ds.table, opts)


def _rows_by_subject(table: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """The structure columns as plain records, grouped by subject in table order."""
    # Plain records grouped once: per-subject pandas slicing costs seconds at 480 subjects.
    cols = ["subject_id", "view", "path", "annotation_path", "folder", "in_annotation"]
    by_subject: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for sid, view, path, ann, folder, listed in _rows(table, cols):
        by_subject[str(sid)].append(
            {
                "subject_id": cell_text(sid),
                "view": cell_text(view),
                "path": cell_text(path),
                "annotation_path": cell_text(ann),
                "folder": cell_text(folder),
                "in_annotation": listed,
            }
        )
    return by_subject


def _subject_structure(ds: Dataset, sid: str, rows: list[dict[str, Any]]) -> Iterator[Finding]:
    """One subject: its folder against its record, its missing views, its files per view."""
    folder = rows[0]["folder"]
    present = [r for r in rows if r["path"] is not None]
    if not bool(rows[0]["in_annotation"]):
        yield finding(
            "folder-without-record",
            f"{folder}/: subject {sid} has a folder but no record in "
            f"{_ann(ds)}; add a record or move the folder out",
            subject=sid,
            path=folder,
        )
    if folder is None and not present:
        yield finding(
            "record-without-folder",
            f"subject {sid} has a record in {_ann(ds)} but no folder under "
            f"'{ds.image_root or '.'}/' and no images; add the folder {sid}/ or "
            "remove the record",
            subject=sid,
        )
        return
    yield from _missing_views(sid, folder, rows)
    yield from _view_files(sid, present)


def _missing_views(sid: str, folder: str | None, rows: list[dict[str, Any]]) -> Iterator[Finding]:
    for r in rows:
        if r["view"] is None or r["path"] is not None:
            continue
        listed = r["annotation_path"]
        where = (
            f"the annotation lists {listed!r} but no such file exists"
            if listed
            else f"no file for it in {folder}/"
        )
        yield finding(
            "view-missing",
            f"subject {sid}: {r['view']} view missing ({where}); add the photo or "
            "fix the annotation",
            subject=sid,
            path=None,
        )


def _view_files(sid: str, present: list[dict[str, Any]]) -> Iterator[Finding]:
    """A second file for one view, and files whose name is no view."""
    per_view: dict[str, list[str]] = defaultdict(list)
    for r in present:
        if r["view"] is not None:
            per_view[r["view"]].append(r["path"])
    for view, paths in per_view.items():
        ordered = sorted(paths)
        for extra in ordered[1:]:
            yield finding(
                "duplicate-view",
                f"{extra}: a second {view} view for subject {sid} beside {ordered[0]}; keep one",
                subject=sid,
                path=extra,
            )
    for r in present:
        if r["view"] is None:
            yield finding(
                "extra-image",
                f"{r['path']}: the file name is not one of the five views (front, top, "
                "back, left, right); rename it or move it out",
                subject=sid,
                path=r["path"],
            )


def _delivery_counts(table: pd.DataFrame, opts: ValidateOptions) -> Iterator[Finding]:
    """Subjects and images against the numbers the delivery promises."""
    n_subjects = table["subject_id"].nunique()
    n_images = int(table["path"].notna().sum())
    if opts.expect_subjects is not None and n_subjects != opts.expect_subjects:
        yield finding(
            "subject-count",
            f"{n_subjects} subjects found, {opts.expect_subjects} "
            "expected (--expect-subjects); look for missing or extra folders",
        )
    if opts.expect_views is not None and n_images != opts.expect_views:
        yield finding(
            "image-count",
            f"{n_images} images found, {opts.expect_views} expected "
            "(--expect-images); look for missing or extra files",
        )


def _ann(ds: Dataset) -> str:
    return ds.annotation_file.name if ds.annotation_file else "the annotation file"


_STATUS_CODES = {
    "empty": ("image-empty", "a zero-byte file; copy it again from the delivery"),
    "unreadable": ("image-unreadable", "cannot be read ({error}); check permissions"),
    "undecodable": ("image-undecodable", "cannot be decoded ({error}); replace the file"),
    "truncated": ("image-truncated", "the image data ends early ({error}); copy it again"),
    "too-large": ("image-too-large", "{error}; downscale it or check it is a real photo"),
    "missing": ("view-missing", "vanished while it was being read; run again"),
    "not-a-file": ("image-unreadable", "{error}; put the photo itself in its place"),
    "outside-root": ("path-escapes-root", "{error}; copy the file into the dataset instead"),
}


def _suffix(path: str) -> str:
    """The file extension, lower-cased (as ``PurePosixPath.suffix``, without a Path per row)."""
    name = path.rpartition("/")[2]
    dot = name.rfind(".")
    return "" if dot <= 0 or dot == len(name) - 1 else name[dot:].lower()


def _images_to_check(images: pd.DataFrame) -> list[int]:
    """Positions of the rows ``check_images`` may report (a superset, in table order): whole
    columns compared at once, so the rows with nothing to say cost no Python each."""

    def flags(mask: pd.Series) -> Any:
        return mask.to_numpy(dtype=bool, na_value=False)

    mode, orient = images["mode"], images["orientation"]
    odd = flags(images["status"].isin(list(_STATUS_CODES))).copy()  # may be a read-only view
    odd |= flags(mode.notna() & (mode != "RGB")) | flags(orient.notna() & (orient != 1))
    formats = EXTENSION_FORMATS.get
    paths, fmts = images["path"].tolist(), images["format"].tolist()
    named = [
        i
        for i, (path, fmt) in enumerate(zip(paths, fmts, strict=True))
        if type(fmt) is str and fmt not in formats(_suffix(str(path)), (fmt,))
    ]
    odd[named] = True
    return np.flatnonzero(odd).tolist()


def check_images(ds: ProbedDataset, opts: ValidateOptions) -> Iterator[Finding]:
    """What the probe saw in the bytes: integrity, real format, colour mode, orientation."""
    images = ds.images
    cols = ["path", "subject_id", "status", "error", "format", "mode", "orientation"]
    for path_cell, sid_cell, status_cell, error, fmt_cell, mode_cell, orient_cell in _rows(
        images.iloc[_images_to_check(images)], cols
    ):
        path, sid = str(path_cell), str(sid_cell)
        status = cell_text(status_cell)
        if status in _STATUS_CODES:
            code, text = _STATUS_CODES[status]
            yield finding(
                code, f"{path}: {text.format(error=cell_text(error))}", subject=sid, path=path
            )
            continue
        fmt = cell_text(fmt_cell)
        ext = _suffix(path)
        allowed = EXTENSION_FORMATS.get(ext)
        if fmt and allowed is not None and fmt not in allowed:
            right = next((e for e, f in EXTENSION_FORMATS.items() if fmt in f), "")
            yield finding(
                "format-mismatch",
                f"{path}: named {ext} but the bytes are {fmt}; "
                f"rename it to {right or 'its real extension'} or re-encode it",
                subject=sid,
                path=path,
            )
        mode = cell_text(mode_cell)
        if mode and mode != "RGB":
            yield finding(
                "mode-not-rgb",
                f"{path}: colour mode {mode}, not RGB; convert it to "
                "RGB (loaders will do so, but colours of CMYK and 16-bit files may "
                "shift)",
                subject=sid,
                path=path,
            )
        orient = _int(orient_cell)
        if orient is not None and orient != 1:
            yield finding(
                "exif-rotated",
                f"{path}: EXIF orientation {orient}; the pixels "
                "are stored rotated - loaders must apply the tag",
                subject=sid,
                path=path,
            )
    yield from _outliers(images, opts)


def _outliers(images: pd.DataFrame, opts: ValidateOptions) -> Iterator[Finding]:
    ok = images[decoded(images)]
    if len(ok) < opts.min_images_for_outliers:
        return
    measures = {
        "width": (ok["oriented_width"].astype("float64"), opts.outlier_factor, "px"),
        "height": (ok["oriented_height"].astype("float64"), opts.outlier_factor, "px"),
        "file size": (ok["size"].astype("float64"), opts.size_outlier_factor, "bytes"),
    }
    reasons: dict[int, list[str]] = defaultdict(list)
    for name, (values, factor, unit) in measures.items():
        median = float(values.median())
        if median <= 0:
            continue
        ratio = values / median
        for idx in values.index[(ratio > factor) | (ratio < 1 / factor)]:
            reasons[idx].append(f"{name} {int(values[idx]):,} {unit} vs median {int(median):,}")
    for idx in sorted(reasons, key=lambda i: str(ok.at[i, "path"])):
        path = str(ok.at[idx, "path"])
        yield finding(
            "size-outlier",
            f"{path}: {'; '.join(reasons[idx])}; check it is the right photo at full resolution",
            subject=str(ok.at[idx, "subject_id"]),
            path=path,
        )


def check_metadata(ds: Dataset, opts: ValidateOptions) -> Iterator[Finding]:
    """Age range, gender set and ethnicity spellings (parsing problems are in ``ds.notes``)."""
    subjects = ds.subjects[ds.subjects["in_annotation"]]
    lo, hi = AGE_RANGE
    ann = _ann(ds)
    for sid_cell, age_cell, gender_cell, ethnicity in _rows(
        subjects, ["subject_id", "age", "gender", "ethnicity"]
    ):
        sid = str(sid_cell)
        age = _int(age_cell)
        if age is not None and not lo <= age <= hi:
            yield finding(
                "age-out-of-range",
                f"{ann}, subject {sid}: age {age} is outside {lo}..{hi}; check the record",
                subject=sid,
                path=ann,
            )
        gender = cell_text(gender_cell)
        if gender is None:
            yield finding(
                "gender-missing", f"{ann}, subject {sid}: no gender; add it", subject=sid, path=ann
            )
        elif category_key(gender) not in EXPECTED_GENDERS:
            yield finding(
                "gender-unexpected",
                f"{ann}, subject {sid}: gender {gender!r} is not male or female; check the record",
                subject=sid,
                path=ann,
            )
        if cell_text(ethnicity) is None:
            yield finding(
                "ethnicity-missing",
                f"{ann}, subject {sid}: no ethnicity; add it",
                subject=sid,
                path=ann,
            )
    yield from _spelling_variants(subjects, "ethnicity", ann)


def _spelling_variants(subjects: pd.DataFrame, column: str, ann: str) -> Iterator[Finding]:
    values = subjects[["subject_id", column]].dropna()
    groups: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for sid, value in _rows(values, ["subject_id", column]):
        groups[category_key(str(value))][str(value)].append(str(sid))
    for spellings in groups.values():
        if len(spellings) < 2:
            continue
        # The most common spelling is taken as the intended one; ties go to the first in order.
        main = max(spellings, key=lambda s: (len(spellings[s]), -sorted(spellings).index(s)))
        for spelling, sids in sorted(spellings.items()):
            if spelling == main:
                continue
            for sid in sids:
                yield finding(
                    f"{column}-variant",
                    f"{ann}, subject {sid}: {column} {spelling!r} is also spelled "
                    f"{main!r} ({len(spellings[main])} subjects); use one spelling",
                    subject=sid,
                    path=ann,
                )


#: A dedupe pair's (tier, kind) -> its finding code (``dedupe --junit`` uses it too).
DUPLICATE_CODES = {
    ("exact", "cross-subject"): "duplicate-bytes-cross-subject",
    ("exact", "within-subject"): "duplicate-bytes-within-subject",
    ("same", "cross-subject"): "near-duplicate-cross-subject",
    ("same", "within-subject"): "near-duplicate-within-subject",
    ("near", "cross-subject"): "near-duplicate-cross-subject",
    ("near", "within-subject"): "near-duplicate-within-subject",
}


def check_duplicates(ds: ProbedDataset, opts: ValidateOptions) -> Iterator[Finding]:
    """Duplicates from ``dedupe.find``: identical bytes, and phashes within the ``same`` tier.

    One finding per copy: each image is reported against its first partner in table order
    (the earlier subject, then view), byte-identical partners first.
    """
    from norwoodkit.dedupe import DedupeOptions, find

    threshold = opts.duplicate_distance
    pairs = find(ds, DedupeOptions(same=threshold, near=threshold)).pairs
    if pairs.empty:
        return
    order = {p: i for i, p in enumerate(ds.images["path"].astype(str))}
    pairs = pairs.assign(
        _first=pairs["a"].map(order),
        _inexact=pairs["tier"] != "exact",  # exact pairs first
    ).sort_values(["_inexact", "_first"])
    for r in pairs.drop_duplicates("b").itertuples(index=False):
        code = DUPLICATE_CODES[(str(r.tier), str(r.kind))]
        what = (
            "the same bytes as"
            if r.tier == "exact"
            else f"the same photo (phash distance {r.distance}) as"
        )
        if r.kind == "cross-subject":
            text = (
                f"{r.b} (subject {r.subject_b}) is {what} {r.a} (subject {r.subject_a}): one "
                "photo under two people leaks between splits; find the right owner and "
                "replace the other"
            )
        else:
            text = (
                f"{r.b} is {what} {r.a} (subject {r.subject_b}): one photo used for two "
                "views; replace it with the right view"
            )
        yield finding(
            code,
            text.replace(" is the same bytes as", " has the same bytes as"),
            subject=str(r.subject_b),
            path=str(r.b),
        )


def check_quality(ds: ProbedDataset, opts: ValidateOptions) -> Iterable[Finding]:
    """Sharpness, exposure, information, colour, aspect ratio and size against each view's
    calibrated thresholds (``quality/``)."""
    from norwoodkit.quality.check import check_quality as run_check

    return run_check(ds, opts.quality_thresholds)


#: The checks ``validate`` runs, in order.
CHECKS: tuple[Check, ...] = (
    check_structure,
    check_images,
    check_quality,
    check_metadata,
    check_duplicates,
)

#: The check groups (``CODES[code].check``) of every finding ``validate`` can report: loading's
#: (annotation, structure) and its checks'.
GROUPS = ("annotation", "structure", "image", "labels", "metadata", "duplicates")


def validate(ds: ProbedDataset, options: ValidateOptions | None = None) -> Report:
    """Run every check on a probed dataset (see ``probe.run``) and return the sorted findings."""
    opts = options or ValidateOptions()
    ds.require(PROBE_READS, "validate")
    found: list[Finding] = list(ds.notes)
    for check in CHECKS:
        found.extend(check(ds, opts))
    return Report.about(ds, found)
