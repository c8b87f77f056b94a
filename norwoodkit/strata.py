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
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable

import pandas as pd

from norwoodkit.errors import ParameterError

__all__ = [
    "AGE_BINS",
    "MISSING",
    "OUT_OF_RANGE",
    "STAGE_LABELS",
    "AgeBins",
    "age_bin_labels",
    "age_bin_order",
    "bin_label",
    "check_age_bins",
    "label_key",
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
