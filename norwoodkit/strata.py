"""Strata: the one vocabulary of age bins, stage labels, "missing" and "out of range".

``stats``, ``split`` and ``report`` all group subjects by stage and by age bin; they import the
labels from here so that a subject lands in the same stratum in every command.

Ages are whole years and a bin ``(lo, hi)`` holds both ends (``lo <= age < hi + 1``, so 29.5 is
still "18-29"). Every age gets exactly one label:

- its bin's label, ``"18-29"``;
- ``MISSING`` ("missing") when there is no age or it is not a number;
- ``OUT_OF_RANGE`` ("out of range") when it is a number that no bin holds (200, or 17).

The two are kept apart on purpose, in every command: a missing age says nothing about a subject,
an out-of-range age says something odd (``validate`` flags it), and a split balances each as a
stratum value of its own. (Split once folded out-of-range ages into "missing" while ``stats``
did not, so the two commands reported different age-bin counts for one dataset.)

Any other column (stage, gender, ethnicity, an age bin written by the user) becomes stratum
labels by :func:`stratum_labels`: its values as text, a missing value as ``MISSING``.

A stratum too small to reach every split can join its neighbour (:func:`merge_small`): only in
the ordered columns of ``MERGEABLE`` (stages, age bins), where a neighbour is the nearest stage or
age, and never ``MISSING`` or ``OUT_OF_RANGE``, which no neighbour stands for.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from norwoodkit.errors import ParameterError

__all__ = [
    "AGE_BINS",
    "MERGEABLE",
    "MISSING",
    "OUT_OF_RANGE",
    "STAGE_LABELS",
    "AgeBins",
    "StratumMerge",
    "age_bin_labels",
    "age_bin_order",
    "bin_label",
    "check_age_bins",
    "label_key",
    "merge_small",
    "parse_age_bins",
    "sorted_labels",
    "stage_labels",
    "stratum_column",
    "stratum_labels",
]

AgeBins = tuple[tuple[int, int], ...]

#: The default age bins, young to old, both ends inclusive.
AGE_BINS: AgeBins = ((18, 29), (30, 39), (40, 49), (50, 59), (60, 80))
#: The label of a subject without a value (no stage, no age, no gender, ...).
MISSING = "missing"
#: The label of a known age that falls in no age bin.
OUT_OF_RANGE = "out of range"
#: Stage labels in table order: Norwood-Hamilton 1..7, then subjects with no stage.
STAGE_LABELS: tuple[str, ...] = (*(str(s) for s in range(1, 8)), MISSING)

_BIN_RE = re.compile(r"^\s*(\d+)\s*[-\u2013\u2014]\s*(\d+)\s*$")
_BINS_EXAMPLE = "18-29,30-39,40-49,50-59,60-80"


# --- age bins ----------------------------------------------------------------------------------


#: The oldest age a bin may name: beyond it a number is not an age in years.
MAX_AGE = 200


def check_age_bins(bins: Iterable[tuple[int, int]]) -> AgeBins:
    """Age bins as a tuple, checked: each ``(lo, hi)`` has ``lo <= hi``, in rising order, disjoint.

    Raises:
        ParameterError: (parameter "age_bins") no bins, a bin with ``lo > hi`` or outside
            0..``MAX_AGE``, or overlapping bins.
    """
    out = tuple((int(lo), int(hi)) for lo, hi in bins)
    if not out:
        raise ParameterError("age_bins", "give at least one bin, e.g. 18-29,30-39")
    for lo, hi in out:
        if not (0 <= lo <= MAX_AGE and 0 <= hi <= MAX_AGE):
            raise ParameterError(
                "age_bins", f"bin {lo}-{hi} is outside 0-{MAX_AGE}; use ages in whole years"
            )
        if lo > hi:
            raise ParameterError(
                "age_bins", f"bin {lo}-{hi} ends before it starts; write the lower age first"
            )
    for (lo1, hi1), (lo2, hi2) in itertools.pairwise(out):
        if lo2 <= hi1:
            raise ParameterError(
                "age_bins",
                f"bins {lo1}-{hi1} and {lo2}-{hi2} overlap or are out of order; "
                "list disjoint bins from young to old, e.g. 18-29,30-39",
            )
    return out


def parse_age_bins(text: str) -> AgeBins:
    """Read ``"18-29,30-39,40-49"`` into ``((18, 29), (30, 39), (40, 49))``.

    Both ends are inclusive whole years; an en or em dash reads as a hyphen.

    Raises:
        ParameterError: (parameter "age_bins") text that is not LOW-HIGH bins, or bins that
            :func:`check_age_bins` refuses.
    """
    bins: list[tuple[int, int]] = []
    for part in text.split(","):
        if not part.strip():
            continue
        match = _BIN_RE.match(part)
        if match is None:
            raise ParameterError(
                "age_bins",
                f"cannot read {part.strip()!r}; write bins as LOW-HIGH in whole years, "
                f"separated by commas, e.g. {_BINS_EXAMPLE}",
            )
        bins.append((int(match.group(1)), int(match.group(2))))
    return check_age_bins(bins)


def bin_label(lo: int, hi: int) -> str:
    """The label of one age bin: ``"18-29"``."""
    return f"{lo}-{hi}"


def age_bin_order(bins: AgeBins = AGE_BINS) -> list[str]:
    """Every age label in table order: the bins young to old, ``OUT_OF_RANGE``, ``MISSING``."""
    return [*(bin_label(lo, hi) for lo, hi in bins), OUT_OF_RANGE, MISSING]


def age_bin_labels(ages: pd.Series, bins: AgeBins = AGE_BINS) -> pd.Series:
    """Each age's bin label; ``OUT_OF_RANGE`` for a known age in no bin, ``MISSING`` for none.

    Returns a ``string`` Series named ``age_bin``, indexed like ``ages``.
    """
    numeric = pd.to_numeric(pd.Series(ages, copy=False), errors="coerce").astype("Float64")
    labels = pd.Series(OUT_OF_RANGE, index=ages.index, dtype="string", name="age_bin")
    labels[numeric.isna().to_numpy(dtype=bool, na_value=True)] = MISSING
    for lo, hi in bins:
        # Whole years, but a fractional age still lands in the bin that holds its year.
        inside = ((numeric >= lo) & (numeric < hi + 1)).to_numpy(dtype=bool, na_value=False)
        labels[inside] = bin_label(lo, hi)
    return labels


# --- stage and other strata --------------------------------------------------------------------


def stage_labels(stages: pd.Series) -> pd.Series:
    """Stage numbers (Int64) as labels ``"1"`` ... ``"7"``, a missing stage as ``MISSING``."""
    return stages.astype("Int64").astype("string").fillna(MISSING)


def stratum_labels(values: pd.Series) -> pd.Series:
    """Any column's values as stratum labels; a missing value is its own stratum, ``MISSING``.

    Whole numbers stored as floats (a stage column read with gaps) are written without ".0".
    """
    if pd.api.types.is_float_dtype(values.dtype):
        known = values.dropna()
        if bool((known == known.round()).all()):
            values = values.astype("Int64")
    return values.astype("string").fillna(MISSING)


def stratum_column(subjects: pd.DataFrame, name: str) -> pd.Series | None:
    """A subjects table's column as stratum labels; None when the table lacks it.

    ``"age_bin"`` is derived from ``age`` (default bins) when the table has no such column.
    """
    if name in subjects.columns:
        return stratum_labels(subjects[name])
    if name == "age_bin" and "age" in subjects.columns:
        return age_bin_labels(subjects["age"])
    return None


def label_key(label: str) -> tuple[bool, bool, float, str]:
    """Sort labels naturally: numbers by value ("2" < "10", "18-29" < "30-39"), then other text,
    ``OUT_OF_RANGE`` and ``MISSING`` last."""
    head = label.split("-", 1)[0].strip()
    try:
        number = float(head)
    except ValueError:
        number = math.inf
    return (label == MISSING, label == OUT_OF_RANGE, number, label)


def sorted_labels(labels: pd.Series) -> list[str]:
    """The distinct labels of a column, in :func:`label_key` order."""
    return sorted({str(v) for v in labels.unique()}, key=label_key)


# --- merging strata too small for every split --------------------------------------------------

#: Stratify columns whose values have an order, so a stratum can join the one next to it; stages
#: first, then age bins (the order merges are made and told in).
MERGEABLE: tuple[str, ...] = ("stage", "age_bin")
# Labels that stand for no stage or age: merging them with a neighbour would say something false.
_NEVER_MERGED = frozenset({MISSING, OUT_OF_RANGE})
_COLUMN_WORDS = {"stage": "stage", "age_bin": "age bin"}


def _subjects(n: int) -> str:
    return f"{n} subject{'s' if n != 1 else ''}"


@dataclass(frozen=True)
class StratumMerge:
    """Neighbouring strata of one column balanced as one, because some held fewer subjects than
    ``minimum`` (the number of splits): a split would have had none of them.

    ``members`` are ``(label, subjects)`` in order; ``label`` names the merged stratum by its
    first and last member (stages 6 and 7: ``"6-7"``; age bins 50-59 and 60-80: ``"50-80"``).
    """

    column: str
    label: str
    members: tuple[tuple[str, int], ...]
    minimum: int

    @property
    def subjects(self) -> int:
        """Subjects in the merged stratum."""
        return sum(n for _, n in self.members)

    @property
    def title(self) -> str:
        """The merged stratum as a person reads it: ``"stage 6-7"``, ``"age bin 50-80"``."""
        return f"{_COLUMN_WORDS.get(self.column, self.column)} {self.label}"

    def explain(self) -> str:
        """One line for a person: which strata, into what, why, how many subjects."""
        word = _COLUMN_WORDS.get(self.column, self.column)
        parts = [f"{label} ({_subjects(n)})" for label, n in self.members]
        small = [label for label, n in self.members if n < self.minimum]
        verb = "has" if len(small) == 1 else "each have"
        return (
            f"merged {word} {', '.join(parts[:-1])} and {parts[-1]} into {self.title} "
            f"({_subjects(self.subjects)}): {word} {', '.join(small)} {verb} fewer subjects "
            f"than the {self.minimum} splits, so some split would have none"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record."""
        return {
            "column": self.column,
            "label": self.label,
            "members": [label for label, _ in self.members],
            "member_subjects": [n for _, n in self.members],
            "subjects": self.subjects,
            "minimum": self.minimum,
        }


def _run_label(run: list[str]) -> str:
    """A merged stratum's name: the first member's low end, the last member's high end."""
    return f"{run[0].split('-', 1)[0].strip()}-{run[-1].rsplit('-', 1)[-1].strip()}"


def merge_small(
    labels: pd.Series, column: str, minimum: int
) -> tuple[pd.Series, tuple[StratumMerge, ...]]:
    """Merge each stratum with fewer than ``minimum`` subjects into a neighbouring one.

    The rule, deterministic and independent of row order: while more than one stratum is left
    (``MISSING`` and ``OUT_OF_RANGE`` are never merged nor counted) and the smallest has fewer
    than ``minimum`` subjects, that one (the first in :func:`label_key` order on a tie) joins
    the smaller of its neighbours (the earlier on a tie). So a merged stratum is as small as
    the rule allows, and its members are always next to each other. When all strata together
    are still too few, they end as one stratum.

    Returns:
        The labels with merged ones renamed (index and name kept), and one record per merged
        stratum, in label order; the labels unchanged and ``()`` when nothing is too small.
    """
    counts = {str(k): int(v) for k, v in labels.value_counts().items()}
    runs = [[label] for label in sorted_labels(labels) if label not in _NEVER_MERGED]
    while len(runs) > 1:
        sizes = [sum(counts[label] for label in run) for run in runs]
        small = min(range(len(runs)), key=lambda i: (sizes[i], i))
        if sizes[small] >= minimum:
            break
        near = [j for j in (small - 1, small + 1) if 0 <= j < len(runs)]
        other = min(near, key=lambda j: (sizes[j], j))
        lo, hi = sorted((small, other))
        runs[lo : hi + 1] = [runs[lo] + runs[hi]]
    merged = [run for run in runs if len(run) > 1]
    if not merged:
        return labels, ()
    rename = {label: _run_label(run) for run in merged for label in run}
    out = labels.map(lambda v: rename.get(str(v), v)).astype("string")
    records = tuple(
        StratumMerge(column, _run_label(run), tuple((m, counts[m]) for m in run), minimum)
        for run in merged
    )
    return out, records
