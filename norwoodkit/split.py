"""Seeded, subject-grouped, stratified splits: named ratios (train/val/test) or k folds.

Every subject of a group (a person, merged with the other persons who share a duplicate photo)
lands in the same split. Within that rule the splits match the requested sizes and the overall
distribution of each stratify column (by default the Norwood stage and the age bin) as closely
as integer counts allow.

How it works
------------
Groups with the same *type* (size and number of subjects per stratify value) are
interchangeable for every number we balance, so the search runs on a small matrix
``M[type, split]`` of group counts instead of on subjects (single-subject groups with stages
1-7 and 5 age bins, "missing" counted in both, make at most 8 x 6 = 48 types, for 480 subjects
as for 100,000):

1. a seeded greedy start: types, largest groups first, are spread over the splits in proportion
   to the room left in each; the few groups a floor leaves over go one by one to the split that
   lacks their strata most;
2. steepest descent over moves of one group and swaps of two groups between two splits,
   minimising lexicographically

   ``(size error, max dev of stratify[0], max dev of stratify[1], ..., sum of squared devs)``

   where the size error is the sum of squared differences, in subjects, between each split's
   size and its integer target, and a deviation is ``|c_vk / N_k - n_v / N|``. The sum of squares
   only breaks ties: it lets the search walk across plateaus of the maxima;
3. moves and swaps alone can stall above the bound when split sizes differ (70/15/15, or 7 folds
   of 480), so each stratify column in turn is then steered, by the same descent with the L1
   distance to that matrix inserted before the column's max, to a count matrix that reaches the
   column's joint rounding bound (below; a max-flow builds it). With single-subject groups a
   swap that shortens the distance always exists, so the stage bound is always reached. A last
   plain descent polishes;
4. the seed picks which groups of each type fill the counts (and breaks ties above), so the
   output is the same for the same input and seed, whatever the input's row order.

Sizes come first: a user who asks for 70/15/15 of 480 subjects gets 336/72/72 whenever the
groups allow it, and the stage balance is the best possible *for those sizes*. A group too big
for its split is placed anyway; :func:`quality` reports the size deviation.

The integer-rounding bound
--------------------------
Fix the split sizes ``N_k`` (``N = sum N_k``) and a stratum value with ``n_v`` subjects. Its
ideal count in split ``k`` is ``t_vk = n_v N_k / N``; an assignment gives integer counts
``c_vk`` with ``sum_k c_vk = n_v`` and, since the sizes are the assignment's own,
``sum_v c_vk = N_k``. Its worst deviation is ``max |c_vk - t_vk| / N_k``, and the bound is the
least value ``tau`` that any such integer matrix reaches.

``tau`` is reachable iff integer counts exist in the box
``ceil(t_vk - tau N_k) <= c_vk <= floor(t_vk + tau N_k)`` (clipped to ``[0, N_k]``) with those
row and column sums: a transportation problem with bounds, decided exactly by a max-flow.
Rounding every ``t_vk`` down or up with both sums kept is always possible (the classic
controlled rounding) and costs under ``1 / N_k`` per cell, so the bound lies below
``1 / min N_k`` and is one of the finitely many values ``(frac(t_vk) + j) / N_k`` or
``(1 - frac(t_vk) + j) / N_k`` there; :func:`rounding_bound` bisects over them with fractions.

For equal sizes this is each stratum's own best rounding: 480 subjects in 5 folds of 96 and a
stage count that is 1 or 4 mod 5 give ``t`` with fraction .2 or .8, so ``0.8 / 96 = 0.83 pp``;
2 or 3 mod 5 give ``0.6 / 96 = 0.625 pp``; all counts divisible by 5 give 0. With unequal sizes
the column sums can bind: at 336/72/72 with stage counts 67, 103, 109, 74, 49, 39, 39, each
stage alone could stay within 0.45 subjects (0.625 pp) of its ideal in the 72-subject splits,
but those nearest counts sum to 71, not 72, so the reachable best is 0.55 / 72 = 0.76 pp.
``rounding_bound(..., kind="marginal")`` gives the per-stratum figure (0.625 there); the
default, "joint", is the one :func:`quality` reports and the search reaches. Nor is the best
rounding always floor or ceil: a large split can absorb a unit that would cost a small one more.
"""

from __future__ import annotations

import json
import math
import os
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from norwoodkit.columns import plain
from norwoodkit.dataset import Dataset
from norwoodkit.errors import InputError, NorwoodkitError
from norwoodkit.findings import Finding, finding, sort_findings
from norwoodkit.labels import id_sort_key

__all__ = [
    "AGE_BINS",
    "DEFAULT_STRATIFY",
    "MISSING",
    "Quality",
    "SplitSpec",
    "age_bin_labels",
    "assign",
    "fold_index",
    "quality",
    "rounding_bound",
    "target_sizes",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Mode = Literal["ratios", "folds"]

AGE_BINS: tuple[tuple[int, int], ...] = ((18, 29), (30, 39), (40, 49), (50, 59), (60, 80))
MISSING = "missing"
DEFAULT_STRATIFY: tuple[str, ...] = ("stage", "age_bin")

_RATIO_TOL = 1e-6
# The search stops at a local optimum; the budget only guards against pathological inputs.
_MAX_STEPS = 20_000
# Swap candidates per pair of splits; beyond it a seeded sample of group types is tried.
_SWAP_CAP = 65_536
# Sampled swap rounds that may find nothing before the search gives up.
_SAMPLED_MISSES = 8
# The sum of squares is not recomputed from scratch for candidates: demand a real decrease.
_SQ_REL_TOL = 1e-9


# --- age bins ----------------------------------------------------------------------------------


def age_bin_labels(ages: pd.Series, bins: Sequence[tuple[int, int]] = AGE_BINS) -> pd.Series:
    """Label each age with its bin, ``"18-29"`` ... ``"60-80"``.

    A bin ``(lo, hi)`` holds ages ``lo <= age < hi + 1`` (whole years, so a fractional 29.5 is
    still "18-29"). Missing, unparseable and out-of-range ages become ``"missing"``.
    """
    numeric = pd.to_numeric(pd.Series(ages, copy=False), errors="coerce").astype("Float64")
    labels = pd.Series(MISSING, index=ages.index, dtype="string", name="age_bin")
    for lo, hi in bins:
        inside = ((numeric >= lo) & (numeric < hi + 1)).fillna(False).astype(bool)
        labels[inside] = f"{lo}-{hi}"
    return labels


# --- the spec ----------------------------------------------------------------------------------


def _usage(message: str) -> InputError:
    return InputError(message, code="usage")


def _check_names(names: Sequence[str], count: int, what: str) -> tuple[str, ...]:
    out = tuple(names)
    if len(out) != count:
        raise _usage(
            f"{count} {what} but {len(out)} names ({', '.join(out) or 'none'}): "
            f"give exactly one name per split"
        )
    for name in out:
        if not isinstance(name, str) or not name.strip():
            raise _usage(f"split name {name!r} is empty or not text: give each split a name")
    dupes = sorted({n for n in out if out.count(n) > 1})
    if dupes:
        raise _usage(f"split names must be unique, got {', '.join(dupes)} more than once")
    return out


def _default_names(count: int) -> tuple[str, ...]:
    known = {2: ("train", "test"), 3: ("train", "val", "test")}
    return known.get(count, tuple(f"split{i}" for i in range(count)))


@dataclass(frozen=True)
class SplitSpec:
    """What to make: named splits with ratios, or k folds; the strata to balance; the seed.

    Build one with :meth:`from_ratios` or :meth:`k_folds`, which validate user input and say
    how to fix it. ``ratios`` are stored as fractions summing to 1.
    """

    names: tuple[str, ...]
    ratios: tuple[float, ...] | None
    folds: int | None
    stratify: tuple[str, ...] = DEFAULT_STRATIFY
    seed: int = 0

    def __post_init__(self) -> None:
        if (self.ratios is None) == (self.folds is None):
            raise _usage("a split spec needs either ratios or a number of folds, not both")
        count = len(self.ratios) if self.ratios is not None else self.folds
        assert count is not None
        if count < 2:
            raise _usage(f"a split needs at least 2 parts, got {count}")
        _check_names(self.names, count, "splits")
        if self.ratios is not None and (
            any(not math.isfinite(r) or r <= 0 for r in self.ratios)
            or abs(sum(self.ratios) - 1.0) > _RATIO_TOL
        ):
            raise _usage(f"ratios must be positive fractions summing to 1, got {self.ratios}")
        if len(set(self.stratify)) != len(self.stratify):
            raise _usage(f"stratify columns repeat: {', '.join(self.stratify)}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise _usage(f"seed must be a non-negative integer, got {self.seed!r}")

    @classmethod
    def from_ratios(
        cls,
        ratios: Sequence[float],
        names: Sequence[str] | None = None,
        *,
        stratify: Sequence[str] = DEFAULT_STRATIFY,
        seed: int = 0,
    ) -> SplitSpec:
        """Named splits from ratios in percent (70, 15, 15) or fractions (0.7, 0.15, 0.15).

        Names default to train/test for two ratios, train/val/test for three and
        split0, split1, ... otherwise.

        Raises:
            InputError: (code "usage") fewer than two ratios, a ratio that is not a positive
                number, ratios summing to neither 100 nor 1, or names that do not match.
        """
        values = [float(r) for r in ratios]
        if len(values) < 2:
            raise _usage(
                f"got {len(values)} ratio(s): a split needs at least two parts, e.g. 70,15,15"
            )
        chosen = _check_names(
            _default_names(len(values)) if names is None else names, len(values), "ratios"
        )
        for name, value in zip(chosen, values, strict=True):
            if not math.isfinite(value) or value <= 0:
                raise _usage(
                    f"ratio {value:g} for split '{name}': every split needs a positive share; "
                    f"drop the split or give it a share above 0"
                )
        total = math.fsum(values)
        if abs(total - 100.0) > _RATIO_TOL and abs(total - 1.0) > _RATIO_TOL:
            shown = ", ".join(f"{v:g}" for v in values)
            raise _usage(
                f"ratios {shown} sum to {total:g}, not 100 (percent) or 1 (fractions): "
                f"make them add up, e.g. 70,15,15 or 0.7,0.15,0.15"
            )
        return cls(
            names=chosen,
            ratios=tuple(v / total for v in values),
            folds=None,
            stratify=tuple(stratify),
            seed=seed,
        )

    @classmethod
    def k_folds(
        cls, k: int, *, stratify: Sequence[str] = DEFAULT_STRATIFY, seed: int = 0
    ) -> SplitSpec:
        """``k`` folds named fold0 ... fold{k-1}; each subject is in exactly one test fold.

        Raises:
            InputError: (code "usage") when ``k < 2``.
        """
        if isinstance(k, bool) or not isinstance(k, int) or k < 2:
            raise _usage(
                f"--folds {k}: k-fold cross-validation needs at least 2 folds; "
                f"use --folds 5 (or 10), or ratios for a single train/test split"
            )
        return cls(
            names=tuple(f"fold{i}" for i in range(k)),
            ratios=None,
            folds=k,
            stratify=tuple(stratify),
            seed=seed,
        )

    @property
    def mode(self) -> Mode:
        """Which kind of split: "folds" or "ratios"."""
        return "folds" if self.folds is not None else "ratios"

    @property
    def shares(self) -> tuple[float, ...]:
        """Target share of subjects per split (1/k each for folds)."""
        if self.ratios is not None:
            return self.ratios
        return tuple(1.0 / len(self.names) for _ in self.names)


def target_sizes(n: int, spec: SplitSpec) -> tuple[int, ...]:
    """Integer split sizes for ``n`` subjects: largest remainders, ties to the earlier split."""
    exact = [n * s for s in spec.shares]
    sizes = [math.floor(x + 1e-9) for x in exact]
    left = n - sum(sizes)
    by_remainder = sorted(range(len(exact)), key=lambda k: (-(exact[k] - sizes[k]), k))
    for k in by_remainder[: max(left, 0)]:
        sizes[k] += 1
    return tuple(sizes)


def fold_index(split: pd.Series, spec: SplitSpec) -> pd.Series:
    """The fold number 0..k-1 (``Int64``) of each subject, from :func:`assign`'s names."""
    position = {name: i for i, name in enumerate(spec.names)}
    return split.map(position).astype("Int64").rename("fold")


# --- labels ------------------------------------------------------------------------------------


def _label_key(label: str) -> tuple[bool, float, str]:
    """Sort strata naturally: numbers by value ("2" < "10", "18-29" < "30-39"), missing last."""
    head = label.split("-", 1)[0].strip()
    try:
        number = float(head)
    except ValueError:
        number = math.inf
    return (label == MISSING, number, label)


def _stratum_labels(values: pd.Series) -> pd.Series:
    """Each value as a stratum label; missing values are their own stratum, "missing"."""
    if pd.api.types.is_float_dtype(values.dtype):
        known = values.dropna()
        if bool((known == known.round()).all()):
            values = values.astype("Int64")
    return values.astype("string").fillna(MISSING)


def _column(subjects: pd.DataFrame, name: str) -> pd.Series | None:
    """A stratify column as labels; "age_bin" is derived from "age" when it is absent."""
    if name in subjects.columns:
        return _stratum_labels(subjects[name])
    if name == "age_bin" and "age" in subjects.columns:
        return age_bin_labels(subjects["age"])
    return None


def _sorted_labels(labels: pd.Series) -> list[str]:
    return sorted({str(v) for v in labels.unique()}, key=_label_key)


# --- input checks ------------------------------------------------------------------------------


def _check_subjects(subjects: pd.DataFrame, spec: SplitSpec) -> None:
    needed = ["subject_id", "group_id", *spec.stratify]
    missing = [c for c in needed if not _column_present(subjects, c)]
    if missing:
        raise InputError(
            f"subjects table lacks column(s) {', '.join(missing)}; it has "
            f"{', '.join(map(str, subjects.columns))}",
            code="missing-column",
        )
    ids = subjects["subject_id"].astype("string")
    if bool(ids.isna().any()):
        raise InputError("subjects table has rows without a subject_id", code="bad-subject")
    dupes = ids[ids.duplicated()].astype(str).unique().tolist()
    if dupes:
        raise InputError(
            f"subject_id must be unique, repeated: {', '.join(sorted(dupes)[:10])}",
            code="duplicate-subject",
        )


def _column_present(subjects: pd.DataFrame, name: str) -> bool:
    if name in subjects.columns:
        return True
    return name == "age_bin" and "age" in subjects.columns


def _folds_fix(spec: SplitSpec, fewest: int, merge: str) -> str:
    fewer = f"Use --folds {fewest} or fewer, or merge" if fewest >= 2 else "Merge"
    return (
        f"{len(spec.names)} folds were asked for: every fold needs at least one subject of each "
        f"stage. {fewer} stage {merge} with a neighbouring stage"
    )


def _ratios_fix(spec: SplitSpec, fewest: int, merge: str) -> str:
    fewer = f"Use at most {fewest} splits, or merge" if fewest >= 2 else "Merge"
    return (
        f"{len(spec.names)} splits ({', '.join(spec.names)}) were asked for: each split needs at "
        f"least one subject of every stage. {fewer} stage {merge} with a neighbouring stage"
    )


_TOO_FEW_FIX: dict[Mode, Callable[[SplitSpec, int, str], str]] = {
    "folds": _folds_fix,
    "ratios": _ratios_fix,
}


def _too_few_message(spec: SplitSpec, short: list[tuple[str, int]]) -> str:
    listed = "; ".join(f"stage {s} has {n} subject{'s' if n != 1 else ''}" for s, n in short)
    fewest = min(n for _, n in short)
    merge = ", ".join(s for s, _ in short)
    return f"{listed}, but {_TOO_FEW_FIX[spec.mode](spec, fewest, merge)}"


def _check_enough(labels: dict[str, pd.Series], spec: SplitSpec, n: int) -> None:
    k = len(spec.names)
    if n < k:
        raise InputError(
            f"{n} subject(s) cannot fill {k} splits ({', '.join(spec.names)}): "
            f"use fewer splits or add subjects",
            code="too-few-subjects",
        )
    stage = labels.get("stage")
    if stage is None:
        return
    counts = stage[stage != MISSING].value_counts()
    short = sorted(
        ((str(s), int(c)) for s, c in counts.items() if int(c) < k),
        key=lambda sc: _label_key(sc[0]),
    )
    if short:
        raise InputError(_too_few_message(spec, short), code="too-few-subjects")


# --- the rounding bound ------------------------------------------------------------------------


BoundKind = Literal["joint", "marginal"]
_Grid = list[list[Fraction]]
_Box = tuple[list[list[int]], list[list[int]]]


def _box(ideal: _Grid, counts: list[int], sizes: list[int], tau: Fraction) -> _Box | None:
    """Integer counts each cell may take at worst deviation tau; None if a cell has none."""
    lo = [
        [max(0, math.ceil(t - tau * s)) for t, s in zip(row, sizes, strict=True)] for row in ideal
    ]
    hi = [
        [min(s, n, math.floor(t + tau * s)) for t, s in zip(row, sizes, strict=True)]
        for row, n in zip(ideal, counts, strict=True)
    ]
    for low, high in zip(lo, hi, strict=True):
        if any(a > b for a, b in zip(low, high, strict=True)):
            return None
    return lo, hi


def _marginal_ok(ideal: _Grid, counts: list[int], sizes: list[int], tau: Fraction) -> bool:
    """Every stratum alone can reach tau: its counts sum to n_v (split sizes ignored)."""
    box = _box(ideal, counts, sizes, tau)
    if box is None:
        return False
    return all(
        sum(low) <= n <= sum(high) for low, high, n in zip(box[0], box[1], counts, strict=True)
    )


def _joint_fill(
    ideal: _Grid, counts: list[int], sizes: list[int], tau: Fraction
) -> list[list[int]] | None:
    """One integer matrix within tau of the ideal with row sums n_v and column sums N_k, or None.

    A max-flow: take every cell's lower end, then route the rest from strata to splits through
    the room each cell has left."""
    box = _box(ideal, counts, sizes, tau)
    if box is None:
        return None
    lo, hi = box
    rows = [n - sum(low) for n, low in zip(counts, lo, strict=True)]
    cols = [s - sum(low[k] for low in lo) for k, s in enumerate(sizes)]
    if min(rows, default=0) < 0 or min(cols, default=0) < 0:
        return None
    n_rows, n_cols = len(rows), len(cols)
    source, sink = n_rows + n_cols, n_rows + n_cols + 1
    cap = [[0] * (sink + 1) for _ in range(sink + 1)]
    for v, r in enumerate(rows):
        cap[source][v] = r
        for k in range(n_cols):
            cap[v][n_rows + k] = hi[v][k] - lo[v][k]
    for k, c in enumerate(cols):
        cap[n_rows + k][sink] = c
    if _max_flow(cap, source, sink) != sum(rows):
        return None
    # What a cell's edge lost is the flow through it.
    return [
        [lo[v][k] + (hi[v][k] - lo[v][k]) - cap[v][n_rows + k] for k in range(n_cols)]
        for v in range(n_rows)
    ]


def _joint_ok(ideal: _Grid, counts: list[int], sizes: list[int], tau: Fraction) -> bool:
    return _joint_fill(ideal, counts, sizes, tau) is not None


def _max_flow(cap: list[list[int]], source: int, sink: int) -> int:
    """Edmonds-Karp on a dense capacity matrix (a few dozen nodes here); cap is consumed."""
    flow = 0
    while True:
        parent = [-1] * len(cap)
        parent[source] = source
        queue = deque([source])
        while queue and parent[sink] < 0:
            u = queue.popleft()
            for v, c in enumerate(cap[u]):
                if c > 0 and parent[v] < 0:
                    parent[v] = u
                    queue.append(v)
        if parent[sink] < 0:
            return flow
        path: list[tuple[int, int]] = []
        v = sink
        while v != source:
            path.append((parent[v], v))
            v = parent[v]
        push = min(cap[u][w] for u, w in path)
        for u, w in path:
            cap[u][w] -= push
            cap[w][u] += push
        flow += push


_FEASIBLE: dict[BoundKind, Callable[[_Grid, list[int], list[int], Fraction], bool]] = {
    "joint": _joint_ok,
    "marginal": _marginal_ok,
}


def _ideal(counts: list[int], sizes: list[int]) -> _Grid:
    total = sum(sizes)
    return [[Fraction(n * s, total) for s in sizes] for n in counts]


def _least_tau(counts: list[int], sizes: list[int], kind: BoundKind) -> Fraction:
    """The least worst-cell deviation (a fraction, not pp) that integer counts can reach."""
    ideal = _ideal(counts, sizes)
    # Rounding every cell down or up, sums kept, costs under 1/N_k: the answer lies below this.
    limit = Fraction(1, min(sizes))
    values: set[Fraction] = {limit}
    for row in ideal:
        for t, s in zip(row, sizes, strict=True):
            down, up = t - math.floor(t), math.ceil(t) - t
            for j in range(s // min(sizes) + 2):
                values.update(v for v in ((down + j) / s, (up + j) / s) if v <= limit)
    candidates = sorted(values)
    feasible = _FEASIBLE[kind]
    lo, hi = 0, len(candidates) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if feasible(ideal, counts, sizes, candidates[mid]):
            hi = mid
        else:
            lo = mid + 1
    return candidates[lo]


def _joint_matrix(counts: list[int], sizes: list[int]) -> list[list[int]]:
    """A count matrix (strata x splits, all sizes > 0) that reaches the joint bound."""
    ideal = _ideal(counts, sizes)
    matrix = _joint_fill(ideal, counts, sizes, _least_tau(counts, sizes, "joint"))
    assert matrix is not None
    return matrix


def rounding_bound(
    counts: Mapping[Any, int], split_sizes: Sequence[int], *, kind: BoundKind = "joint"
) -> float:
    """The least max share deviation (pp) that integer counts allow, given the split sizes.

    Args:
        counts: subjects per stratum value (a stage, an age bin), summing to ``sum(split_sizes)``.
        split_sizes: subjects per split, as assigned. Empty splits are left out.
        kind: "joint" (default) asks for one count matrix whose rows sum to the stratum counts
            and whose columns sum to the split sizes, as every real assignment's does;
            "marginal" drops the column sums, which gives each stratum's own best rounding and
            may be lower than anything reachable (see the module docstring).

    Returns:
        The bound in percentage points; 0.0 when there are no subjects.

    Raises:
        InputError: (code "usage") when the counts and sizes disagree on the total.
    """
    values = [int(c) for c in counts.values() if int(c) != 0]
    sizes = [int(s) for s in split_sizes]
    if sum(values) != sum(sizes) or any(v < 0 for v in values + sizes):
        raise _usage(
            f"rounding_bound: stratum counts sum to {sum(values)} but split sizes to {sum(sizes)}"
        )
    used = [s for s in sizes if s > 0]
    if not used:
        return 0.0
    return 100.0 * float(_least_tau(values, used, kind))


# --- the problem, reduced to group types -------------------------------------------------------


@dataclass(frozen=True)
class _Problem:
    """Groups reduced to types: what the search needs, nothing about who is in them."""

    ext: IntArray  # types x (1 + F): group size, then subjects per stratify value
    count: IntArray  # types: how many groups have the type
    columns: tuple[slice, ...]  # each stratify column's slice of ext (after the size column)
    totals: IntArray  # F: subjects per stratify value
    p: FloatArray  # F: overall share of each value within its column
    target: IntArray  # splits: integer target sizes
    shares: FloatArray  # splits: target shares


def _reduce(
    labels: dict[str, pd.Series], group_codes: IntArray, n_groups: int, spec: SplitSpec
) -> tuple[_Problem, IntArray]:
    """Count each group's subjects per stratify value and collapse identical groups to types."""
    n = len(group_codes)
    parts: list[IntArray] = [np.bincount(group_codes, minlength=n_groups).astype(np.int64)]
    slices: list[slice] = []
    offset = 1
    for name in spec.stratify:
        column = labels[name]
        values = _sorted_labels(column)
        codes = pd.Categorical(column, categories=values).codes.astype(np.int64)
        flat = np.bincount(group_codes * len(values) + codes, minlength=n_groups * len(values))
        parts.append(flat.reshape(n_groups, len(values)).astype(np.int64))
        slices.append(slice(offset, offset + len(values)))
        offset += len(values)
    per_group = np.column_stack(parts)
    ext, type_of, count = np.unique(per_group, axis=0, return_inverse=True, return_counts=True)
    totals = per_group[:, 1:].sum(axis=0).astype(np.int64)
    problem = _Problem(
        ext=ext.astype(np.int64),
        count=count.astype(np.int64),
        columns=tuple(slices),
        totals=totals,
        p=totals / n,
        target=np.array(target_sizes(n, spec), dtype=np.int64),
        shares=np.array(spec.shares, dtype=np.float64),
    )
    return problem, type_of.reshape(-1).astype(np.int64)


# --- scoring -----------------------------------------------------------------------------------
#
# A key is a tuple of numbers compared left to right: the size error, then per stratify column
# its max deviation, then the sum of squared deviations. A guided phase inserts, before the
# guided column's max, the L1 distance of that column's counts to a count matrix that reaches
# the column's joint rounding bound. Every size, max and distance is a function of the state,
# computed by the same formula for candidates and states, so comparisons are exact; only the
# sum of squares is updated incrementally and must fall by a margin.


@dataclass(frozen=True)
class _Guide:
    column: int  # index into problem.columns
    target: IntArray  # splits x the column's values: the counts to steer to


@dataclass(frozen=True)
class _State:
    counts: IntArray  # splits x (1 + F)
    colmax: FloatArray  # stratify columns x splits
    sq: FloatArray  # splits
    dist: IntArray  # splits: L1 distance of the guided column to its target (0 unguided)
    key: tuple[float, ...]


def _dev(counts: IntArray, sizes: IntArray, p: FloatArray) -> FloatArray:
    """|count / size - p| per cell; 0 in an empty split."""
    safe = np.where(sizes > 0, sizes, 1)
    dev = np.abs(counts / safe[..., None] - p)
    return np.where((sizes > 0)[..., None], dev, 0.0)


def _features(s: slice) -> slice:
    return slice(s.start - 1, s.stop - 1)


def _compose(
    size_err: Any, maxes: Sequence[Any], dist: Any, sq: Any, guide: _Guide | None
) -> list[Any]:
    parts: list[Any] = [size_err]
    for c, column_max in enumerate(maxes):
        if guide is not None and c == guide.column:
            parts.append(dist)
        parts.append(column_max)
    parts.append(sq)
    return parts


def _state(problem: _Problem, m: IntArray, guide: _Guide | None) -> _State:
    counts = m.T @ problem.ext
    dev = _dev(counts[:, 1:], counts[:, 0], problem.p)
    k = m.shape[1]
    colmax = np.zeros((len(problem.columns), k))
    for c, s in enumerate(problem.columns):
        colmax[c] = dev[:, _features(s)].max(axis=1)
    sq = (dev**2).sum(axis=1)
    dist = np.zeros(k, dtype=np.int64)
    if guide is not None:
        dist = np.abs(counts[:, problem.columns[guide.column]] - guide.target).sum(axis=1)
    size_err = int(((counts[:, 0] - problem.target) ** 2).sum())
    maxes = [float(x) for x in colmax.max(axis=1)] if k else []
    key = _compose(float(size_err), maxes, float(dist.sum()), float(sq.sum()), guide)
    return _State(counts, colmax, sq, dist, tuple(key))


def _better(new: Sequence[float], old: Sequence[float]) -> bool:
    """Lexicographic: exact on all parts but the last (the sum of squares), which needs a margin."""
    for mine, theirs in zip(new[:-1], old[:-1], strict=True):
        if mine != theirs:
            return mine < theirs
    return new[-1] < old[-1] - _SQ_REL_TOL * old[-1]


@dataclass(frozen=True)
class _Candidates:
    """Steps between splits a and b: type ``out_a`` leaves a for b, ``out_b`` leaves b for a
    (-1: none). ``delta`` is what split a loses and split b gains."""

    a: int
    b: int
    out_a: IntArray
    out_b: IntArray
    delta: IntArray


def _pair_candidates(
    problem: _Problem, m: IntArray, a: int, b: int, rng: np.random.Generator
) -> tuple[_Candidates, bool]:
    """Every move of one group and swap of two groups between a and b (swaps sampled if many)."""
    in_a = np.flatnonzero(m[:, a] > 0)
    in_b = np.flatnonzero(m[:, b] > 0)
    sampled = len(in_a) * len(in_b) > _SWAP_CAP
    sa, sb = in_a, in_b
    if sampled:
        side = math.isqrt(_SWAP_CAP)
        sa = np.sort(rng.permutation(in_a)[:side])
        sb = np.sort(rng.permutation(in_b)[:side])
    ta = np.repeat(sa, len(sb))
    tb = np.tile(sb, len(sa))
    keep = ta != tb
    ta, tb = ta[keep], tb[keep]
    none_a = np.full(len(in_b), -1, dtype=np.int64)
    none_b = np.full(len(in_a), -1, dtype=np.int64)
    out_a = np.concatenate([in_a, none_a, ta]).astype(np.int64)
    out_b = np.concatenate([none_b, in_b, tb]).astype(np.int64)
    ext = problem.ext
    delta = np.concatenate([ext[in_a], -ext[in_b], ext[ta] - ext[tb]]).astype(np.int64)
    return _Candidates(a, b, out_a, out_b, delta), sampled


def _score(problem: _Problem, state: _State, cand: _Candidates, guide: _Guide | None) -> FloatArray:
    """The key of every candidate, one row per key part."""
    a, b = cand.a, cand.b
    after_a = state.counts[a] - cand.delta
    after_b = state.counts[b] + cand.delta
    dev_a = _dev(after_a[:, 1:], after_a[:, 0], problem.p)
    dev_b = _dev(after_b[:, 1:], after_b[:, 0], problem.p)
    target, size_now = problem.target, state.counts[:, 0]
    size_rest = int(((size_now - target) ** 2).sum()) - int((size_now[a] - target[a]) ** 2)
    size_rest -= int((size_now[b] - target[b]) ** 2)
    size_err = size_rest + (after_a[:, 0] - target[a]) ** 2 + (after_b[:, 0] - target[b]) ** 2
    others = np.ones(state.colmax.shape[1], dtype=bool)
    others[[a, b]] = False
    maxes: list[FloatArray] = []
    for c, s in enumerate(problem.columns):
        rest = float(state.colmax[c, others].max()) if others.any() else 0.0
        cols = _features(s)
        new = np.maximum(dev_a[:, cols].max(axis=1), dev_b[:, cols].max(axis=1))
        maxes.append(np.maximum(new, rest))
    dist: Any = 0.0
    if guide is not None:
        s = problem.columns[guide.column]
        dist_rest = int(state.dist.sum() - state.dist[a] - state.dist[b])
        dist = dist_rest + (
            np.abs(after_a[:, s] - guide.target[a]).sum(axis=1)
            + np.abs(after_b[:, s] - guide.target[b]).sum(axis=1)
        )
    sq_rest = float(state.sq.sum() - state.sq[a] - state.sq[b])
    sq = sq_rest + (dev_a**2).sum(axis=1) + (dev_b**2).sum(axis=1)
    parts = _compose(size_err, maxes, dist, sq, guide)
    return np.vstack([np.broadcast_to(np.asarray(x, dtype=np.float64), sq.shape) for x in parts])


def _apply(m: IntArray, cand: _Candidates, i: int) -> None:
    ta, tb = int(cand.out_a[i]), int(cand.out_b[i])
    if ta >= 0:
        m[ta, cand.a] -= 1
        m[ta, cand.b] += 1
    if tb >= 0:
        m[tb, cand.b] -= 1
        m[tb, cand.a] += 1


_Step = tuple[_Candidates, int] | Literal["sampled-miss"] | None


def _lexmin(keys: FloatArray, rng: np.random.Generator) -> int:
    """The column with the least key (rows compared in order); the seed breaks exact ties,
    which are common (interchangeable swaps)."""
    alive = np.arange(keys.shape[1])
    for row in keys:
        values = row[alive]
        alive = alive[values == values.min()]
        if len(alive) == 1:
            break
    return int(alive[rng.integers(len(alive))])


def _best_step(
    problem: _Problem, m: IntArray, state: _State, rng: np.random.Generator, guide: _Guide | None
) -> _Step:
    """The best move or swap over all pairs of splits; None at a local optimum."""
    k = m.shape[1]
    found: list[tuple[_Candidates, FloatArray]] = []
    any_sampled = False
    for a in range(k):
        for b in range(a + 1, k):
            cand, sampled = _pair_candidates(problem, m, a, b, rng)
            any_sampled |= sampled
            if len(cand.delta):
                found.append((cand, _score(problem, state, cand, guide)))
    if not found:
        return None
    keys = np.concatenate([f[1] for f in found], axis=1)
    best = _lexmin(keys, rng)
    if not _better(tuple(float(x) for x in keys[:, best]), state.key):
        return "sampled-miss" if any_sampled else None
    for cand, part in found:
        if best < part.shape[1]:
            return cand, best
        best -= part.shape[1]
    raise AssertionError("unreachable")


def _descend(
    problem: _Problem, m: IntArray, rng: np.random.Generator, guide: _Guide | None
) -> IntArray:
    """Steepest descent over group moves and swaps until no step improves the key."""
    state = _state(problem, m, guide)
    misses = 0
    for _ in range(_MAX_STEPS):
        step = _best_step(problem, m, state, rng, guide)
        if step is None:
            break
        if step == "sampled-miss":
            misses += 1
            if misses >= _SAMPLED_MISSES:
                break
            continue
        _apply(m, *step)
        state = _state(problem, m, guide)
        misses = 0
    return m


def _column_target(problem: _Problem, m: IntArray, column: int) -> _Guide:
    """A count matrix for one stratify column that reaches its joint rounding bound at the
    current split sizes: what the guided phase steers to."""
    counts = m.T @ problem.ext
    sizes = counts[:, 0]
    used = np.flatnonzero(sizes > 0)
    totals = problem.totals[_features(problem.columns[column])]
    keep = np.flatnonzero(totals > 0)
    matrix = _joint_matrix([int(t) for t in totals[keep]], [int(sizes[k]) for k in used])
    target = np.zeros((len(sizes), len(totals)), dtype=np.int64)
    target[np.ix_(used, keep)] = np.array(matrix, dtype=np.int64).T
    return _Guide(column, target)


def _search(problem: _Problem, m: IntArray, rng: np.random.Generator) -> IntArray:
    """Settle sizes and a first balance, steer each stratify column in turn to a count matrix
    at its bound (moves and swaps alone can stall above it), then polish."""
    m = _descend(problem, m, rng, None)
    for column in range(len(problem.columns)):
        m = _descend(problem, m, rng, _column_target(problem, m, column))
    return _descend(problem, m, rng, None)


# --- greedy start ------------------------------------------------------------------------------


def _greedy(problem: _Problem, rng: np.random.Generator) -> IntArray:
    """Spread each type over the splits by the room left; leftovers go where they are lacking."""
    ext, target = problem.ext, problem.target
    n_types, k = len(ext), len(target)
    m = np.zeros((n_types, k), dtype=np.int64)
    counts = np.zeros((k, ext.shape[1]), dtype=np.int64)
    want = np.outer(target, np.concatenate([[1.0], problem.p]))  # split x (size, features)
    order = np.lexsort((rng.random(n_types), -ext[:, 0]))
    for t in order:
        row, size, left = ext[t], int(ext[t, 0]), int(problem.count[t])
        room = np.maximum(target - counts[:, 0], 0).astype(np.float64)
        weights = room / room.sum() if room.sum() > 0 else problem.shares
        base = np.floor(left * weights + 1e-9).astype(np.int64)
        m[t] += base
        counts += np.outer(base, row)
        for _ in range(left - int(base.sum())):
            lack = (want - counts) / (want + 1.0)
            score = lack[:, 1:] @ row[1:] / max(size * len(problem.columns), 1)
            score = score + (lack[:, 0] - size / (target + 1.0)) + 1e-9 * rng.random(k)
            best = int(np.argmax(score))
            m[t, best] += 1
            counts[best] += row
    return m


# --- from counts to groups ---------------------------------------------------------------------


def _materialize(m: IntArray, type_of: IntArray, rng: np.random.Generator) -> IntArray:
    """Pick, with the seed, which groups of each type fill each split's count of that type."""
    n_groups = len(type_of)
    order = np.lexsort((rng.random(n_groups), type_of))
    sorted_types = type_of[order]
    start = np.searchsorted(sorted_types, np.arange(m.shape[0]))
    position = np.arange(n_groups) - start[sorted_types]
    bounds = np.cumsum(m, axis=1)[sorted_types]
    split = np.empty(n_groups, dtype=np.int64)
    split[order] = (bounds <= position[:, None]).sum(axis=1)
    return split


def assign(subjects: pd.DataFrame, spec: SplitSpec) -> pd.Series:
    """Assign every subject to a split, whole groups at a time, balancing size and strata.

    Args:
        subjects: one row per subject with ``subject_id``, ``group_id`` (a missing one means the
            subject is its own group) and the ``spec.stratify`` columns; ``age_bin`` is derived
            from ``age`` when absent. Missing values form their own stratum, "missing".
        spec: the splits to make, the strata and the seed.

    Returns:
        The split name of each subject (dtype ``string``, name ``split``), indexed like
        ``subjects``. The same input, in any row order, and seed give the same result.

    Raises:
        InputError: a needed column is absent or subject ids repeat; or (code
            "too-few-subjects") there are fewer subjects than splits, or, when "stage" is
            stratified, a stage (1-7; "missing" is exempt) has fewer subjects than splits.
    """
    _check_subjects(subjects, spec)
    ids = subjects["subject_id"].astype("string")
    order = np.argsort(ids.to_numpy(dtype=str), kind="stable")
    table = subjects.iloc[order]
    labels: dict[str, pd.Series] = {}
    for name in spec.stratify:
        column = _column(table, name)
        assert column is not None
        labels[name] = column.reset_index(drop=True)
    _check_enough(labels, spec, len(table))
    own = table["subject_id"].astype("string")
    group = table["group_id"].astype("string").fillna(own).to_numpy(dtype=str)
    group_ids, group_codes = np.unique(group, return_inverse=True)
    group_codes = group_codes.reshape(-1).astype(np.int64)
    problem, type_of = _reduce(labels, group_codes, len(group_ids), spec)
    rng = np.random.default_rng(spec.seed)
    m = _search(problem, _greedy(problem, rng), rng)
    split_of_group = _materialize(m, type_of, rng)
    names = np.array(spec.names, dtype=object)[split_of_group[group_codes]]
    result = pd.Series(names, index=table.index, dtype="string", name="split")
    return result.reindex(subjects.index)


# --- quality -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quality:
    """How close a split came to its targets, beside the best integer counts allow.

    ``per_split`` (one row per split name): ``subjects``, ``groups``, ``share`` and
    ``target_share`` (fractions), ``size_dev_pp``, ``max_stage_dev_pp``, ``max_age_dev_pp``.
    ``stage_shares``: share of each stage (columns, "missing" last) in each split and
    ``overall`` (rows). Deviations are in percentage points; an empty split has NaN shares and
    is left out of the maxima. The bounds are :func:`rounding_bound` at the achieved sizes.
    """

    per_split: pd.DataFrame
    stage_shares: pd.DataFrame
    max_stage_dev_pp: float
    max_age_dev_pp: float
    max_size_dev_pp: float
    stage_bound_pp: float
    age_bound_pp: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready document with stable keys; NaN becomes None."""
        per_split = self.per_split.reset_index().to_dict(orient="records")
        shares = self.stage_shares.to_dict(orient="index")
        return {
            "per_split": [{str(k): plain(v) for k, v in row.items()} for row in per_split],
            "stage_shares": {
                str(split): {str(k): plain(v) for k, v in row.items()}
                for split, row in shares.items()
            },
            "max_stage_dev_pp": plain(self.max_stage_dev_pp),
            "max_age_dev_pp": plain(self.max_age_dev_pp),
            "max_size_dev_pp": plain(self.max_size_dev_pp),
            "stage_bound_pp": plain(self.stage_bound_pp),
            "age_bound_pp": plain(self.age_bound_pp),
        }


def _shares(labels: pd.Series, split: pd.Series, names: Sequence[str]) -> pd.DataFrame:
    """Share of each label per split (rows: names, then "overall"; columns: labels)."""
    values = _sorted_labels(labels)
    table = pd.crosstab(split, labels).reindex(index=list(names), columns=values, fill_value=0)
    sizes = table.sum(axis=1)
    shares = table.div(sizes.where(sizes > 0), axis=0)
    overall = labels.value_counts().reindex(values, fill_value=0) / len(labels)
    shares.loc["overall"] = overall
    shares.index.name = "split"
    shares.columns.name = None
    return shares.astype(float)


def _max_dev(shares: pd.DataFrame) -> pd.Series:
    rows = shares.drop(index="overall")
    return (rows - shares.loc["overall"]).abs().max(axis=1) * 100.0


def _bound(labels: pd.Series | None, sizes: Sequence[int]) -> float:
    if labels is None:
        return math.nan
    counts = {str(k): int(v) for k, v in labels.value_counts().items()}
    return rounding_bound(counts, sizes)


def quality(subjects: pd.DataFrame, split: pd.Series, spec: SplitSpec) -> Quality:
    """Measure a split: sizes, stage and age-bin deviations, and their rounding bounds.

    Stage deviations use the ``stage`` column and age deviations ``age_bin`` (or ``age``),
    whatever ``spec.stratify`` says; a table without them reports NaN.

    Raises:
        InputError: (code "usage") when ``split`` does not cover ``subjects`` or names a split
            that ``spec`` does not have.
    """
    if len(split) != len(subjects) or not split.index.equals(subjects.index):
        split = split.reindex(subjects.index)
    unknown = set(split.dropna().astype(str)) - set(spec.names)
    if bool(split.isna().any()) or unknown:
        raise _usage(
            "split must give every subject one of the spec's splits "
            f"({', '.join(spec.names)}); found {sorted(unknown) or 'missing values'}"
        )
    split = split.astype("string").rename("split")
    names = list(spec.names)
    n = len(subjects)
    counts = split.value_counts().reindex(names, fill_value=0).astype(int)
    share = counts / n if n else counts.astype(float)
    target = pd.Series(spec.shares, index=names)
    groups = subjects["group_id"].astype("string").fillna(subjects["subject_id"].astype("string"))
    n_groups = groups.groupby(split).nunique().reindex(names, fill_value=0).astype(int)
    stage = _column(subjects, "stage")
    age = _column(subjects, "age_bin")
    empty = pd.DataFrame(index=pd.Index([*names, "overall"], name="split"), dtype=float)
    stage_shares = _shares(stage, split, names) if stage is not None else empty
    age_shares = _shares(age, split, names) if age is not None else empty
    nan = pd.Series(math.nan, index=names)
    stage_dev = _max_dev(stage_shares) if stage is not None else nan
    age_dev = _max_dev(age_shares) if age is not None else nan
    size_dev = (share - target).abs() * 100.0
    per_split = pd.DataFrame(
        {
            "subjects": counts,
            "groups": n_groups,
            "share": share.astype(float),
            "target_share": target,
            "size_dev_pp": size_dev.astype(float),
            "max_stage_dev_pp": stage_dev.astype(float),
            "max_age_dev_pp": age_dev.astype(float),
        },
        index=pd.Index(names, name="split"),
    )
    sizes = [int(c) for c in counts]
    return Quality(
        per_split=per_split,
        stage_shares=stage_shares,
        max_stage_dev_pp=_nanmax(stage_dev),
        max_age_dev_pp=_nanmax(age_dev),
        max_size_dev_pp=_nanmax(size_dev),
        stage_bound_pp=_bound(stage, sizes),
        age_bound_pp=_bound(age, sizes),
    )


def _nanmax(values: pd.Series) -> float:
    known = values.dropna()
    return float(known.max()) if len(known) else math.nan


# --- datasets: make, read, check ----------------------------------------------------------------

#: Column names accepted in split files, canonical first.
SUBJECT_ALIASES = ("subject_id", "id", "subject", "person_id", "patient_id", "participant_id")
SPLIT_ALIASES = ("split", "fold", "set", "partition", "subset")


@dataclass(frozen=True)
class SplitResult:
    """What :func:`make` made: assignments, the quality table and what was left out, and why."""

    subjects: pd.DataFrame  # subject_id, split (or fold), group_id, stage, age_bin
    images: pd.DataFrame  # path, subject_id, view, split (or fold)
    quality: Quality
    spec: SplitSpec
    excluded: pd.DataFrame  # subject_id, reason
    merged_groups: int  # groups of more than one subject (shared duplicate photos)

    @property
    def column(self) -> str:
        """The assignment column of the output: ``fold`` for k folds, else ``split``."""
        return "fold" if self.spec.mode == "folds" else "split"

    def subject_table(self) -> pd.DataFrame:
        """One row per subject: subject_id, split or fold, group_id (what ``--out`` writes)."""
        return self.subjects[["subject_id", self.column, "group_id"]].reset_index(drop=True)

    def image_table(self) -> pd.DataFrame:
        """One row per image: path, subject_id, view, split or fold (what ``--images`` writes)."""
        return self.images[["path", "subject_id", "view", self.column]].reset_index(drop=True)

    def target_sizes(self) -> tuple[int, ...]:
        """The integer split sizes the ratios ask for."""
        return target_sizes(len(self.subjects), self.spec)

    def sizes_met(self) -> bool:
        """True when every split has exactly its target number of subjects."""
        got = self.quality.per_split["subjects"].tolist()
        return [int(x) for x in got] == list(self.target_sizes())

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document."""
        return {
            "mode": self.spec.mode,
            "names": list(self.spec.names),
            "ratios": list(self.spec.ratios) if self.spec.ratios else None,
            "folds": self.spec.folds,
            "stratify": list(self.spec.stratify),
            "seed": self.spec.seed,
            "subjects": len(self.subjects),
            "images": len(self.images),
            "target_sizes": list(self.target_sizes()),
            "sizes_met": self.sizes_met(),
            "merged_groups": self.merged_groups,
            "excluded": [
                {k: plain(v) for k, v in r.items()} for r in self.excluded.to_dict(orient="records")
            ],
            "quality": self.quality.to_dict(),
        }


def _id_sort(ids: Sequence[str]) -> list[str]:
    return sorted(ids, key=id_sort_key)


def _subject_groups(subject_ids: Sequence[str], pairs: pd.DataFrame) -> dict[str, str]:
    """Union of subjects that share a duplicate; a group is named by its first subject id."""
    parent = {s: s for s in subject_ids}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    order = {s: i for i, s in enumerate(_id_sort(list(subject_ids)))}
    for a, b in zip(pairs["subject_a"].astype(str), pairs["subject_b"].astype(str), strict=True):
        if a in parent and b in parent:
            ra, rb = root(a), root(b)
            if ra != rb:
                first, second = (ra, rb) if order[ra] < order[rb] else (rb, ra)
                parent[second] = first
    return {s: root(s) for s in subject_ids}


def duplicate_pairs_from_file(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Subject pairs from a ``dedupe --pairs`` or ``--groups`` file (CSV, Parquet or JSON)."""
    frame = read_table(path, "--dedupe")
    if {"subject_a", "subject_b"} <= set(frame.columns):
        cols = ["subject_a", "subject_b"] + [c for c in ("a", "b") if c in frame.columns]
        return frame[cols].astype("string")
    if {"group", "subject_id"} <= set(frame.columns):
        rows = []
        for _, g in frame.groupby("group", sort=True):
            members = g["subject_id"].astype(str).tolist()
            paths = g["path"].astype(str).tolist() if "path" in g.columns else [""] * len(g)
            rows += [
                {"subject_a": members[0], "subject_b": m, "a": paths[0], "b": p}
                for m, p in zip(members[1:], paths[1:], strict=True)
            ]
        return pd.DataFrame(rows, columns=["subject_a", "subject_b", "a", "b"]).astype("string")
    raise InputError(
        f"--dedupe {path}: expected a pairs file (columns subject_a, subject_b) or a groups file "
        f"(columns group, subject_id) from `norwoodkit dedupe`; found {', '.join(frame.columns)}",
        code="usage",
    )


def read_table(path: str | os.PathLike[str], option: str) -> pd.DataFrame:
    """A CSV, Parquet or JSON table as strings; clear errors for missing, empty or odd files."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{option} {p}: no such file", code="input-missing")
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".parquet", ".json"):
        raise InputError(
            f"{option} {p}: unknown file type '{p.suffix}'; use .csv, .parquet or .json",
            code="input-type",
        )
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(p)
        elif suffix == ".json":
            doc = json.loads(p.read_text(encoding="utf-8-sig") or "null")
            if isinstance(doc, dict) and all(not isinstance(v, (dict, list)) for v in doc.values()):
                doc = [{"subject_id": k, "split": v} for k, v in doc.items()]
            frame = pd.DataFrame(doc if isinstance(doc, list) else [])
        else:
            frame = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (ValueError, OSError, json.JSONDecodeError) as exc:
        raise InputError(
            f"{option} {p}: cannot read it as {suffix or 'CSV'} ({exc})", code="input-unreadable"
        ) from exc
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame()
    if frame.empty:
        raise InputError(
            f"{option} {p}: the file is empty; write a header and one row per subject",
            code="input-empty",
        )
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.astype("string")


def read_split_file(path: str | os.PathLike[str], option: str = "--check") -> pd.DataFrame:
    """A split file as ``subject_id``, ``split`` (and ``path`` for image-level files).

    Accepts norwoodkit's own files and others': the subject column may be named
    ``subject_id``, ``id``, ``subject``, ``person_id``, ...; the split column ``split``, ``fold``,
    ``set``, ``partition`` or ``subset``. Subject ids are canonicalised (``001`` is ``1``).
    """
    from norwoodkit.labels import canonical_id

    frame = read_table(path, option)
    lower = {c.lower(): c for c in frame.columns}
    subj = next((lower[a] for a in SUBJECT_ALIASES if a in lower), None)
    split_col = next((lower[a] for a in SPLIT_ALIASES if a in lower), None)
    if subj is None or split_col is None:
        raise InputError(
            f"{option} {path}: unknown header ({', '.join(frame.columns)}); a split file needs a "
            f"subject column ({', '.join(SUBJECT_ALIASES)}) and a split column "
            f"({', '.join(SPLIT_ALIASES)})",
            code="split-header",
        )
    out = pd.DataFrame(
        {
            "subject_id": [_canonical_or_raw(canonical_id, v) for v in frame[subj]],
            "split": frame[split_col].astype("string").str.strip(),
        }
    )
    if "path" in lower:
        out["path"] = frame[lower["path"]]
    return out


def _canonical_or_raw(fn: Any, value: Any) -> str:
    try:
        return str(fn(value))
    except NorwoodkitError:
        return "" if value is None or value is pd.NA else str(value)


def _excluded_by_list(
    table: pd.DataFrame, exclude: pd.DataFrame | None
) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    from norwoodkit.dedupe import excluded

    drop = excluded(table, exclude)
    gone = set(table.loc[drop, "subject_id"].astype(str))
    left = set(table.loc[~drop, "subject_id"].astype(str))
    notes = [
        {"subject_id": s, "reason": "listed in the exclude list"}
        for s in _id_sort(list(gone - left))
    ]
    return table[~drop], notes


def make(
    dataset: Dataset,
    spec: SplitSpec,
    *,
    duplicates: pd.DataFrame | None = None,
    exclude: pd.DataFrame | None = None,
) -> SplitResult:
    """Split a probed dataset's subjects (see ``probe.run``), whole duplicate groups at a time.

    Args:
        dataset: a probed Dataset.
        spec: ratios or folds, strata, seed.
        duplicates: subject pairs that share a photo (``subject_a``, ``subject_b``, optionally the
            image paths ``a``, ``b``); None: found now with ``dedupe.find`` (all tiers, so a
            leak is never missed; merging two look-alikes only costs a little balance).
        exclude: an exclude list (``path`` and/or ``subject_id`` columns) applied first; a pair
            whose image was excluded no longer joins its subjects.

    Raises:
        InputError: too few subjects for the splits, or none left after exclusions.
    """
    table = dataset.table
    table, notes = _excluded_by_list(table, exclude)
    usable = table[table["status"] == "ok"] if "status" in table.columns else table
    present = set(usable["subject_id"].astype(str))
    for sid in _id_sort(list(set(table["subject_id"].astype(str)) - present)):
        notes.append(
            {
                "subject_id": sid,
                "reason": "no usable image (validate: missing, empty or undecodable views)",
            }
        )
    table = table[table["subject_id"].astype(str).isin(present)]
    if table.empty:
        raise InputError(
            f"{dataset.root}: no subject with a usable image left to split", code="empty-dataset"
        )
    if duplicates is None:
        from norwoodkit.dedupe import find

        duplicates = find(dataset.with_table(table)).pairs
    pairs = duplicates
    if exclude is not None and {"a", "b"} <= set(pairs.columns):
        kept = set(table["path"].dropna().astype(str))
        pairs = pairs[pairs["a"].astype(str).isin(kept) & pairs["b"].astype(str).isin(kept)]
    subjects = dataset.with_table(table).subjects
    ids = subjects["subject_id"].astype(str).tolist()
    group_of = _subject_groups(ids, pairs)
    subjects = subjects.assign(
        subject_id=subjects["subject_id"].astype(str),
        group_id=[group_of[s] for s in ids],
        age_bin=age_bin_labels(subjects["age"]),
    )
    split = assign(subjects, spec)
    subjects = subjects.assign(split=split)
    if spec.mode == "folds":
        subjects["fold"] = fold_index(split, spec)
    order = {s: i for i, s in enumerate(_id_sort(ids))}
    subjects = subjects.sort_values("subject_id", key=lambda c: c.map(order)).reset_index(drop=True)
    q = quality(subjects, subjects["split"], spec)
    column = "fold" if spec.mode == "folds" else "split"
    images = table[table["path"].notna()][["path", "subject_id", "view"]].merge(
        subjects[["subject_id", column]], on="subject_id", how="left"
    )
    sizes = pd.Series(list(group_of.values())).value_counts()
    return SplitResult(
        subjects=subjects[
            [
                "subject_id",
                *(["fold"] if column == "fold" else []),
                "split",
                "group_id",
                "stage",
                "age_bin",
            ]
        ],
        images=images.reset_index(drop=True),
        quality=q,
        spec=spec,
        excluded=pd.DataFrame(notes, columns=["subject_id", "reason"]),
        merged_groups=int((sizes > 1).sum()),
    )


def check(
    dataset: Dataset, assignments: pd.DataFrame, duplicates: pd.DataFrame | None = None
) -> list[Finding]:
    """Audit a split file (ours or anyone's) against a probed dataset.

    Errors (leakage): a subject in two splits, the views of one subject in two splits (image-level
    files), a duplicate photo whose subjects sit in different splits (all dedupe tiers).
    Warnings: a stage with no subject in some split, ids the dataset does not have, dataset
    subjects the file leaves out.
    """
    found: list[Finding] = []
    name = "split file"
    known = set(dataset.table["subject_id"].astype(str))
    a = assignments.dropna(subset=["subject_id"])
    if "path" in a.columns:
        per_subject = a.groupby("subject_id")["split"].nunique()
        for sid in _id_sort([str(s) for s in per_subject[per_subject > 1].index]):
            splits = sorted(set(a[a["subject_id"] == sid]["split"].astype(str)))
            found.append(
                finding(
                    "split-views-apart",
                    f"subject {sid}: its images are in "
                    f"{', '.join(splits)}; all views of a person belong in one "
                    "split",
                    subject=sid,
                )
            )
        a = a.drop_duplicates(["subject_id", "split"])
    else:
        twice = a.groupby("subject_id")["split"].nunique()
        for sid in _id_sort([str(s) for s in twice[twice > 1].index]):
            splits = sorted(set(a[a["subject_id"] == sid]["split"].astype(str)))
            found.append(
                finding(
                    "split-subject-in-two-splits",
                    f"subject {sid} is in {', '.join(splits)}; a person must be in one split only",
                    subject=sid,
                )
            )
    unknown = _id_sort(list(set(a["subject_id"].astype(str)) - known))
    if unknown:
        found.append(
            finding(
                "split-unknown-subject",
                f"{len(unknown)} subject id(s) in the "
                f"{name} are not in the dataset: {_few(unknown)}; check that the "
                "file belongs to this dataset",
            )
        )
    missing = _id_sort(list(known - set(a["subject_id"].astype(str))))
    if missing:
        found.append(
            finding(
                "split-subject-missing",
                f"{len(missing)} dataset subject(s) are in "
                f"no split: {_few(missing)}; they will not be used",
            )
        )
    split_of = a.drop_duplicates("subject_id").set_index("subject_id")["split"].astype(str)
    if duplicates is None:
        from norwoodkit.dedupe import find

        duplicates = find(dataset).pairs
    cross = duplicates[duplicates["subject_a"].astype(str) != duplicates["subject_b"].astype(str)]
    for r in cross.itertuples(index=False):
        sa, sb = str(r.subject_a), str(r.subject_b)
        if sa in split_of and sb in split_of and split_of[sa] != split_of[sb]:
            what = f"{r.a} and {r.b}" if hasattr(r, "a") else "a photo"
            tier = f"{r.tier} " if hasattr(r, "tier") else ""
            found.append(
                finding(
                    "split-duplicate-across-splits",
                    f"subjects {sa} ({split_of[sa]}) and {sb} ({split_of[sb]}) share "
                    f"a {tier}duplicate ({what}): the same photo is in two splits; "
                    "put both subjects in one split",
                    subject=sb,
                )
            )
    stages = dataset.subjects[["subject_id", "stage"]].dropna()
    stages = stages.assign(subject_id=stages["subject_id"].astype(str))
    joined = stages.merge(split_of.rename("split").reset_index(), on="subject_id")
    all_stages = sorted(int(s) for s in stages["stage"].unique())
    for split_name in sorted(set(split_of)):
        have = set(int(s) for s in joined[joined["split"] == split_name]["stage"])
        for stage in all_stages:
            if stage not in have:
                found.append(
                    finding(
                        "split-stage-missing",
                        f"split {split_name!r} has no "
                        f"subject at stage {stage}; its metrics cannot cover that "
                        "stage - re-split with stratification",
                    )
                )
    return sort_findings(found)


def _few(ids: Sequence[str], limit: int = 10) -> str:
    return ", ".join(ids[:limit]) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")
