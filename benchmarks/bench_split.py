"""Split balance against scikit-learn, beside the integer-rounding bound, and split speed.

    python benchmarks/bench_split.py [--subjects 480] [--folds 5] [--seeds 20] [--big 100000]

For each seed, simulates ``--subjects`` men with 7 imbalanced Norwood stages (shares .13 .20 .22
.17 .12 .09 .07) and ages 18-80 that rise with the stage, each his own group, then makes
``--folds`` folds three ways:

- ours: ``split.assign`` with ``SplitSpec.k_folds(folds, seed=seed)``;
- ``StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)``, y = stage,
  groups = subject;
- ``GroupShuffleSplit(n_splits=folds, test_size=1/folds, random_state=seed)``: its test sets
  overlap, so each one is scored as if it were a fold (the fold analogue).

For each, the max over folds and stages of ``|c_vk / N_k - n_v / N|`` (pp), the same over age
bins, and the time per run; median and max over seeds, with the joint rounding bound at our fold
sizes beside them. Then times ours at ``--big`` subjects (folds and 70/15/15).

This is a benchmark, not a test: it never fails on speed.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sklearn  # type: ignore[import-not-found, import-untyped, unused-ignore]
from sklearn.model_selection import (  # type: ignore[import-not-found, import-untyped, unused-ignore]
    GroupShuffleSplit,
    StratifiedGroupKFold,
)

from norwoodkit.split import SplitSpec, assign, quality, rounding_bound
from norwoodkit.strata import age_bin_labels

STAGE_SHARES = (0.13, 0.20, 0.22, 0.17, 0.12, 0.09, 0.07)
IntArray = np.ndarray[tuple[int], np.dtype[np.int64]]


def simulate(n: int, seed: int) -> pd.DataFrame:
    """``n`` subjects, each his own group; ages rise with the stage, clipped to 18-80."""
    rng = np.random.default_rng(seed)
    stage = rng.choice(np.arange(1, 8), size=n, p=STAGE_SHARES)
    age = np.clip(np.rint(rng.normal(22 + 6 * stage, 9)), 18, 80).astype(int)
    ids = [f"{i:06d}" for i in range(n)]
    return pd.DataFrame(
        {
            "subject_id": pd.array(ids, dtype="string"),
            "group_id": pd.array(ids, dtype="string"),
            "stage": pd.array(stage, dtype="Int64"),
            "age": pd.array(age, dtype="Int64"),
        }
    )


def max_dev_pp(labels: pd.Series, parts: Iterable[IntArray]) -> float:
    """max over parts and labels of |share in part - overall share|, in pp."""
    overall = labels.value_counts(normalize=True)
    worst = 0.0
    for rows in parts:
        within = labels.iloc[rows].value_counts(normalize=True)
        within = within.reindex(overall.index, fill_value=0.0)
        worst = max(worst, float((within - overall).abs().max()) * 100)
    return worst


@dataclass
class Runs:
    """Per-seed figures for one method."""

    stage: list[float] = field(default_factory=list)
    age: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


Method = Callable[[pd.DataFrame, int, int], list[IntArray]]


def ours(table: pd.DataFrame, folds: int, seed: int) -> list[IntArray]:
    split = assign(table, SplitSpec.k_folds(folds, seed=seed)).to_numpy(dtype=str)
    return [np.flatnonzero(split == f"fold{i}") for i in range(folds)]


def sgkf(table: pd.DataFrame, folds: int, seed: int) -> list[IntArray]:
    cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    y = table["stage"].to_numpy(dtype=np.int64)
    groups = table["group_id"].to_numpy(dtype=str)
    return [np.asarray(test) for _, test in cv.split(np.zeros(len(table)), y, groups)]


def gss(table: pd.DataFrame, folds: int, seed: int) -> list[IntArray]:
    cv = GroupShuffleSplit(n_splits=folds, test_size=1 / folds, random_state=seed)
    groups = table["group_id"].to_numpy(dtype=str)
    return [np.asarray(test) for _, test in cv.split(np.zeros(len(table)), groups=groups)]


METHODS: dict[str, Method] = {
    "ours": ours,
    "StratifiedGroupKFold": sgkf,
    "GroupShuffleSplit (fold analogue)": gss,
}


def run_seeds(n: int, folds: int, seeds: int) -> tuple[dict[str, Runs], Runs, int]:
    """Score every method on every seed; returns runs, the bounds (as Runs) and bound hits."""
    runs = {name: Runs() for name in METHODS}
    bounds = Runs()
    at_bound = 0
    for seed in range(seeds):
        table = simulate(n, seed)
        stage = table["stage"].astype("string")
        ages = age_bin_labels(table["age"])
        for name, method in METHODS.items():
            t0 = time.perf_counter()
            parts = method(table, folds, seed)
            runs[name].seconds.append(time.perf_counter() - t0)
            runs[name].stage.append(max_dev_pp(stage, parts))
            runs[name].age.append(max_dev_pp(ages, parts))
            if name == "ours":
                sizes = [len(p) for p in parts]
                bounds.stage.append(rounding_bound(stage.value_counts().to_dict(), sizes))
                bounds.age.append(rounding_bound(ages.value_counts().to_dict(), sizes))
                at_bound += runs[name].stage[-1] <= bounds.stage[-1] + 1e-9
    return runs, bounds, at_bound


def row(label: str, values: list[str]) -> str:
    return f"{label:<36}" + "".join(f"{v:>11}" for v in values)


def report(runs: dict[str, Runs], bounds: Runs, at_bound: int, seeds: int) -> None:
    med, mx = statistics.median, max
    ref_stage, ref_age = med(runs["ours"].stage), med(runs["ours"].age)
    print(
        row(
            "", ["stage med", "stage max", "age med", "age max", "stage/ours", "age/ours", "ms/run"]
        )
    )
    print(
        row(
            "integer-rounding bound",
            [f"{f(v):.3f}" for v in (bounds.stage, bounds.age) for f in (med, mx)] + ["-"] * 3,
        )
    )
    for name, r in runs.items():
        print(
            row(
                name,
                [
                    f"{med(r.stage):.3f}",
                    f"{mx(r.stage):.3f}",
                    f"{med(r.age):.3f}",
                    f"{mx(r.age):.3f}",
                    f"{med(r.stage) / ref_stage:.1f}x",
                    f"{med(r.age) / ref_age:.1f}x",
                    f"{1000 * med(r.seconds):.1f}",
                ],
            )
        )
    print(f"(deviations in pp; ours reached the stage bound in {at_bound}/{seeds} seeds;")
    print(" ratios compare medians with ours; ms/run is the median wall time)")


def big(n: int) -> None:
    table = simulate(n, 0)
    for spec in (SplitSpec.k_folds(5, seed=0), SplitSpec.from_ratios([70, 15, 15], seed=0)):
        t0 = time.perf_counter()
        split = assign(table, spec)
        seconds = time.perf_counter() - t0
        q = quality(table, split, spec)
        shape = f"{spec.folds} folds" if spec.folds else "70/15/15"
        print(
            f"{n:,} subjects, {shape:<8}: assign {seconds:6.2f} s   "
            f"stage {q.max_stage_dev_pp:.4f} pp (bound {q.stage_bound_pp:.4f})   "
            f"age {q.max_age_dev_pp:.4f} pp (bound {q.age_bound_pp:.4f})   "
            f"size {q.max_size_dev_pp:.4f} pp"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--subjects", type=int, default=480)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--big", type=int, default=100_000, help="0 skips the large run")
    args = ap.parse_args()
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
        f"scikit-learn {sklearn.__version__}, {platform.machine()}"
    )
    print(f"{args.subjects} subjects (each his own group), {args.folds} folds, {args.seeds} seeds")
    print()
    report(*run_seeds(args.subjects, args.folds, args.seeds), args.seeds)
    if args.big:
        print()
        big(args.big)


if __name__ == "__main__":
    main()
