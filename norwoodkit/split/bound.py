"""The integer-rounding bound: the best stratum balance any split with given sizes can reach.

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
default, "joint", is the one ``quality`` reports and the search reaches (it steers to the
matrix :func:`joint_matrix` builds). Nor is the best rounding always floor or ceil: a large
split can absorb a unit that would cost a small one more.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any, Literal

from norwoodkit.errors import ParameterError

__all__ = ["BoundKind", "joint_matrix", "rounding_bound"]

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


def joint_matrix(counts: list[int], sizes: list[int]) -> list[list[int]]:
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
        ParameterError: (parameter "counts") when the counts and sizes disagree on the total.
    """
    values = [int(c) for c in counts.values() if int(c) != 0]
    sizes = [int(s) for s in split_sizes]
    if sum(values) != sum(sizes) or any(v < 0 for v in values + sizes):
        raise ParameterError(
            "counts",
            f"stratum counts sum to {sum(values)} but split sizes to {sum(sizes)}; "
            "count the same subjects in both",
        )
    used = [s for s in sizes if s > 0]
    if not used:
        return 0.0
    return 100.0 * float(_least_tau(values, used, kind))
