"""The ``norwoodkit split --json`` document read as a split file: recognised, checked, and
taken apart into its ``assignment`` rows and a ``SplitInfo``, how the split was made.

A split file in CSV says only which split each subject is in. The document ``split --json``
prints also says how the split was made (ratios or folds, strata, seed, the balance it measured
against its rounding bound, the duplicate groups, the merged strata), and ``pack`` records that
in its manifest and card. Reading it checks what those rely on: the command, a schema version
this reader knows, the type of every field used, and that the quality describes the assignment
(a document edited after the run is refused, not described falsely).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from norwoodkit.errors import InputError, ParameterError
from norwoodkit.split.spec import SplitSpec
from norwoodkit.strata import MERGEABLE, StratumMerge

__all__ = ["SPLIT_DOCUMENT_VERSION", "SplitInfo", "is_document", "split_document"]

#: The newest ``schema_version`` of a ``split --json`` document this reader understands.
SPLIT_DOCUMENT_VERSION = 1

#: The run's balance figures: the worst deviation of each kind, and the bound it is held to.
QUALITY_KEYS = (
    "max_stage_dev_pp",
    "stage_bound_pp",
    "max_age_dev_pp",
    "age_bound_pp",
    "max_size_dev_pp",
)
_PER_SPLIT_FIGURES = ("target_share", "size_dev_pp", "max_stage_dev_pp", "max_age_dev_pp")
# A command name is echoed only when it looks like one (a refused file's content is not echoed).
_COMMAND_NAME = re.compile(r"^[a-z][a-z-]{0,23}$")
# Column names and strata labels reach the card's Markdown: plain words only.
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_LABEL = re.compile(r"^[A-Za-z0-9_.+ -]{1,64}$")
_FIX = "write one with `norwoodkit split DATA --json > FILE`, or give the file `split --out` writes"


def is_document(doc: object) -> bool:
    """Whether a JSON value is a norwoodkit ``--json`` document (``command`` and
    ``schema_version`` at the top)."""
    return isinstance(doc, dict) and "command" in doc and "schema_version" in doc


@dataclass(frozen=True)
class SplitInfo:
    """How a split was made, as the ``split --json`` document that carried it says.

    ``spec`` is what the run was asked for (its names are the run's: ``train``, ``val`` ...;
    ``fold0`` ... for folds); ``grouped_subjects`` counts the subjects placed together with
    another subject who shares a duplicate photo (``merged_groups`` such groups).
    ``quality`` holds the run's worst deviations and their rounding bounds (``QUALITY_KEYS``,
    in percentage points; None where not measured), ``per_split`` each split's ``split``,
    ``subjects`` and figures.
    """

    schema_version: int
    spec: SplitSpec
    subjects: int
    target_sizes: tuple[int, ...]
    sizes_met: bool
    merged_groups: int
    grouped_subjects: int
    excluded_subjects: int
    strata_merges: tuple[StratumMerge, ...]
    quality: dict[str, float | None]
    per_split: tuple[dict[str, Any], ...]

    def to_dict(self, rename: Callable[[str], str] | None = None) -> dict[str, Any]:
        """The JSON form (a pack's manifest ``split_info``), each split name through
        ``rename`` (pack passes its Hub naming: ``val`` -> ``validation``)."""
        name = rename or str
        spec = self.spec
        return {
            "schema_version": self.schema_version,
            "mode": spec.mode,
            "names": [name(n) for n in spec.names],
            "ratios": None if spec.ratios is None else list(spec.ratios),
            "folds": spec.folds,
            "stratify": list(spec.stratify),
            "seed": spec.seed,
            "subjects": self.subjects,
            "target_sizes": list(self.target_sizes),
            "sizes_met": self.sizes_met,
            "merged_groups": self.merged_groups,
            "grouped_subjects": self.grouped_subjects,
            "excluded_subjects": self.excluded_subjects,
            "strata_merges": [m.to_dict() for m in self.strata_merges],
            "quality": {
                **self.quality,
                "per_split": [{**row, "split": name(row["split"])} for row in self.per_split],
            },
        }


def split_document(doc: dict[str, Any], source: str) -> tuple[pd.DataFrame, SplitInfo]:
    """The ``assignment`` rows (as strings, the columns ``split --out`` writes) and the
    ``SplitInfo`` of a ``split --json`` document.

    Args:
        doc: a JSON object for which :func:`is_document` holds.
        source: how the caller knows the file (``--splits split.json``), to start messages.

    Raises:
        InputError: another command's document (code split-document-command), a newer schema
            (split-document-newer), no assignment (split-document-no-assignment: a ``split
            --check`` audit or a failed run), or a field of the wrong type or a quality that
            does not describe the assignment (split-document-invalid).
    """
    _check_kind(doc, source)
    rows = doc.get("assignment")
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise _bad(source, "`assignment` is not a list of one object per subject")
    frame = pd.DataFrame(rows)
    frame.columns = [str(c).strip() for c in frame.columns]
    info = _info(doc, frame, source)
    return frame.astype("string"), info


def _check_kind(doc: dict[str, Any], source: str) -> None:
    """Refuse another command's document, a newer schema, or one without an assignment."""
    command = doc["command"]
    if command != "split":
        what = (
            f"`norwoodkit {command} --json`"
            if isinstance(command, str) and _COMMAND_NAME.match(command)
            else "another command's `--json`"
        )
        raise InputError(
            f"{source}: a {what} document, not a split; {_FIX}", code="split-document-command"
        )
    version = doc["schema_version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _bad(source, "`schema_version` is not a positive whole number")
    if version > SPLIT_DOCUMENT_VERSION:
        raise InputError(
            f"{source}: written by a newer norwoodkit (split document schema_version {version};"
            f" this one reads up to {SPLIT_DOCUMENT_VERSION}); upgrade norwoodkit, or give the "
            "file `split --out` writes",
            code="split-document-newer",
        )
    if "assignment" not in doc:
        raise InputError(
            f"{source}: a `split` document without `assignment` (the output of `split --check`, "
            f"or of a run that failed), so it says no subject's split; {_FIX}",
            code="split-document-no-assignment",
        )


def _info(doc: dict[str, Any], frame: pd.DataFrame, source: str) -> SplitInfo:
    """The SplitInfo of a document whose kind was checked; types and consistency checked."""
    field = _Fields(source)
    spec = _spec(field, doc, source)
    quality = field.get(doc, "quality", _is_dict)
    per_split = tuple(_per_split(field, quality, spec.names, source))
    _check_counts(frame, per_split, spec.mode == "folds", source)
    groups = frame["group_id"].astype(str).value_counts() if "group_id" in frame else None
    return SplitInfo(
        schema_version=int(doc["schema_version"]),
        spec=spec,
        subjects=field.get(doc, "subjects", _is_int),
        target_sizes=tuple(field.get(doc, "target_sizes", _ints)),
        sizes_met=field.get(doc, "sizes_met", _is_bool),
        merged_groups=field.get(doc, "merged_groups", _is_int),
        grouped_subjects=0 if groups is None else int(groups[groups > 1].sum()),
        excluded_subjects=len(field.get(doc, "excluded", _is_list)),
        strata_merges=tuple(_merges(field, doc.get("strata_merges", []))),
        quality={k: _float(field.get(quality, k, _number_or_none)) for k in QUALITY_KEYS},
        per_split=per_split,
    )


def _spec(field: _Fields, doc: dict[str, Any], source: str) -> SplitSpec:
    """The run's parameters as the ``SplitSpec`` it was given, checked by the spec's own rules
    (names, ratios, folds, seed), and fold names as ``k_folds`` makes them."""
    mode = field.get(doc, "mode", _is_str)
    ratios = field.get(doc, "ratios", _numbers_or_none)
    folds = field.get(doc, "folds", _int_or_none)
    names = tuple(field.get(doc, "names", _strings))
    stratify = tuple(field.get(doc, "stratify", _strings))
    seed = field.get(doc, "seed", _is_int)
    if not all(_COLUMN.match(c) for c in stratify):
        raise field.wrong("stratify", "a list of column names")
    try:
        spec = SplitSpec(
            names=names,
            ratios=None if ratios is None else tuple(float(r) for r in ratios),
            folds=folds,
            stratify=stratify,
            seed=seed,
        )
        folds_made = None if folds is None else SplitSpec.k_folds(folds).names
    except ParameterError as exc:
        problem = f"its parameters are not a split `norwoodkit split` makes ({exc})"
        raise _bad(source, problem) from None
    if spec.mode != mode or folds_made not in (None, names):
        raise _bad(source, "`mode`, `ratios`, `folds` and `names` do not describe one split")
    return spec


def _per_split(
    field: _Fields, quality: dict[str, Any], names: tuple[str, ...], source: str
) -> list[dict[str, Any]]:
    """``quality.per_split``, one row per split name, in the order of ``names``."""
    rows = field.get(quality, "per_split", _is_list)
    out: list[dict[str, Any]] = []
    for row in rows:
        figures = {k: _float(field.get(row, k, _number_or_none)) for k in _PER_SPLIT_FIGURES}
        split = field.get(row, "split", _is_str)
        out.append({"split": split, "subjects": field.get(row, "subjects", _is_int), **figures})
    if tuple(r["split"] for r in out) != names:
        raise _bad(source, "`quality.per_split` does not list the splits of `names`, in order")
    return out


def _check_counts(
    frame: pd.DataFrame, per_split: tuple[dict[str, Any], ...], folds: bool, source: str
) -> None:
    """The subjects the assignment puts in each split are those ``quality.per_split`` counts.

    The assignment names fold i by its number (the ``fold`` column), the quality by ``fold<i>``.
    """
    column = "fold" if folds else "split"
    if column not in frame.columns:
        raise _bad(source, f"the `assignment` rows have no `{column}`")
    counts = frame[column].astype(str).value_counts()
    expected = {(str(i) if folds else row["split"]): row for i, row in enumerate(per_split)}
    for key, n in counts.items():
        row = expected.get(str(key))
        if row is None or row["subjects"] != n:
            said = "no such split" if row is None else f"{row['subjects']} subjects"
            raise _bad(
                source,
                f"`assignment` puts {n} subjects in {column} {key!s} but `quality.per_split` "
                f"says {said}: the document was changed after `norwoodkit split` wrote it",
            )


def _merges(field: _Fields, value: Any) -> list[StratumMerge]:
    """``strata_merges`` as StratumMerge values (absent: none were merged)."""
    if not _is_list(value):
        raise field.wrong("strata_merges", "a list")
    out = []
    for m in value:
        members = field.get(m, "members", _strings)
        counts = field.get(m, "member_subjects", _ints)
        if len(members) != len(counts):
            raise field.wrong("member_subjects", "one count per member")
        label = field.get(m, "label", _is_str)
        if not all(_LABEL.match(x) for x in (label, *members)):
            raise field.wrong("label", "a stratum label")
        out.append(
            StratumMerge(
                column=field.get(m, "column", _mergeable),
                label=label,
                members=tuple(zip(members, counts, strict=True)),
                minimum=field.get(m, "minimum", _is_int),
            )
        )
    return out


class _Fields:
    """Reads fields of a document, each checked by a predicate; a wrong one is refused."""

    def __init__(self, source: str) -> None:
        self.source = source

    def get(self, obj: Any, key: str, check: Callable[[Any], bool]) -> Any:
        """``obj[key]`` when ``obj`` is an object with that key and ``check`` accepts it."""
        if not isinstance(obj, dict) or key not in obj or not check(obj[key]):
            raise self.wrong(key, _WORDS.get(check, "of the kind `split --json` writes"))
        return obj[key]

    def wrong(self, key: str, kind: str) -> InputError:
        """The refusal of a field that is missing or not ``kind``."""
        return _bad(self.source, f"`{key}` is missing or not {kind}")


def _bad(source: str, problem: str) -> InputError:
    return InputError(
        f"{source}: not a split document: {problem}; {_FIX}", code="split-document-invalid"
    )


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    # Finite and within float range: JSON allows NaN and integers of any length.
    if _is_int(v):
        return bool(abs(v) <= 2**53)
    return isinstance(v, float) and math.isfinite(v)


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _mergeable(v: Any) -> bool:
    return v in MERGEABLE


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_list(v: Any) -> bool:
    return isinstance(v, list)


def _is_dict(v: Any) -> bool:
    return isinstance(v, dict)


def _strings(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _ints(v: Any) -> bool:
    return isinstance(v, list) and all(_is_int(x) for x in v)


def _numbers(v: Any) -> bool:
    return isinstance(v, list) and all(_is_number(x) for x in v)


def _int_or_none(v: Any) -> bool:
    return v is None or _is_int(v)


def _number_or_none(v: Any) -> bool:
    return v is None or _is_number(v)


def _numbers_or_none(v: Any) -> bool:
    return v is None or _numbers(v)


_WORDS: dict[Callable[[Any], bool], str] = {
    _is_int: "a whole number",
    _is_number: "a number",
    _is_str: "text",
    _is_bool: "true or false",
    _mergeable: f"one of {', '.join(MERGEABLE)}",
    _is_list: "a list",
    _is_dict: "an object",
    _strings: "a list of text",
    _ints: "a list of whole numbers",
    _numbers: "a list of numbers",
    _int_or_none: "a whole number or null",
    _number_or_none: "a number or null",
    _numbers_or_none: "a list of numbers or null",
}


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
