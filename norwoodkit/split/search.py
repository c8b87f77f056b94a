"""The seeded search: which split each group goes to, on counts of group types.

It works on ``M[type, split]`` (see ``problem``):

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
   column's joint rounding bound (see ``bound``; a max-flow builds it). With single-subject
   groups a swap that shortens the distance always exists, so the stage bound is always
   reached. A last plain descent polishes;
4. the seed picks which groups of each type fill the counts (and breaks ties above), so the
   output is the same for the same input and seed, whatever the input's row order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from norwoodkit.split.bound import joint_matrix
from norwoodkit.split.problem import FloatArray, IntArray, Problem, prepare
from norwoodkit.split.spec import SplitSpec

__all__ = ["assign"]

# The search stops at a local optimum; the budget only guards against pathological inputs.
_MAX_STEPS = 20_000
# Swap candidates per pair of splits; beyond it a seeded sample of group types is tried.
_SWAP_CAP = 65_536
# Sampled swap rounds that may find nothing before the search gives up.
_SAMPLED_MISSES = 8
# The sum of squares is not recomputed from scratch for candidates: demand a real decrease.
_SQ_REL_TOL = 1e-9


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


def _state(problem: Problem, m: IntArray, guide: _Guide | None) -> _State:
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
    problem: Problem, m: IntArray, a: int, b: int, rng: np.random.Generator
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


def _score(problem: Problem, state: _State, cand: _Candidates, guide: _Guide | None) -> FloatArray:
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
    problem: Problem, m: IntArray, state: _State, rng: np.random.Generator, guide: _Guide | None
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
    problem: Problem, m: IntArray, rng: np.random.Generator, guide: _Guide | None
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


def _column_target(problem: Problem, m: IntArray, column: int) -> _Guide:
    """A count matrix for one stratify column that reaches its joint rounding bound at the
    current split sizes: what the guided phase steers to."""
    counts = m.T @ problem.ext
    sizes = counts[:, 0]
    used = np.flatnonzero(sizes > 0)
    totals = problem.totals[_features(problem.columns[column])]
    keep = np.flatnonzero(totals > 0)
    matrix = joint_matrix([int(t) for t in totals[keep]], [int(sizes[k]) for k in used])
    target = np.zeros((len(sizes), len(totals)), dtype=np.int64)
    target[np.ix_(used, keep)] = np.array(matrix, dtype=np.int64).T
    return _Guide(column, target)


def _search(problem: Problem, m: IntArray, rng: np.random.Generator) -> IntArray:
    """Settle sizes and a first balance, steer each stratify column in turn to a count matrix
    at its bound (moves and swaps alone can stall above it), then polish."""
    m = _descend(problem, m, rng, None)
    for column in range(len(problem.columns)):
        m = _descend(problem, m, rng, _column_target(problem, m, column))
    return _descend(problem, m, rng, None)


# --- greedy start ------------------------------------------------------------------------------


def _greedy(problem: Problem, rng: np.random.Generator) -> IntArray:
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


def assign(subjects: pd.DataFrame, spec: SplitSpec, *, strict: bool = False) -> pd.Series:
    """Assign every subject to a split, whole groups at a time, balancing size and strata.

    Args:
        subjects: one row per subject with ``subject_id``, ``group_id`` (a missing one means the
            subject is its own group) and the ``spec.stratify`` columns; ``age_bin`` is derived
            from ``age`` when absent. Missing values form their own stratum, "missing".
        spec: the splits to make, the strata and the seed.
        strict: refuse a stage with fewer subjects than splits instead of merging it with a
            neighbour, and merge no age bin either (``problem.strata`` makes the merges).

    Returns:
        The split name of each subject (dtype ``string``, name ``split``), indexed like
        ``subjects``. The same input, in any row order, and seed give the same result.

    Raises:
        InputError: a needed column is absent or subject ids repeat; or (code
            "too-few-subjects") there are fewer subjects than splits, or, with ``strict`` and
            "stage" stratified, a stage (1-7; "missing" is exempt) has fewer subjects than splits.
        ParameterError: (parameter "stratify") a stratify column the table lacks.
    """
    prepared = prepare(subjects, spec, strict=strict)
    problem = prepared.problem
    rng = np.random.default_rng(spec.seed)
    m = _search(problem, _greedy(problem, rng), rng)
    split_of_group = _materialize(m, prepared.type_of, rng)
    names = np.array(spec.names, dtype=object)[split_of_group[prepared.group_codes]]
    result = pd.Series(names, index=prepared.index, dtype="string", name="split")
    return result.reindex(subjects.index)
