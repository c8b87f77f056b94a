"""The dataset card's "How the split was made" section, from the manifest alone.

What a pack always knows is each split's subjects and stages, so every card measures each
split's stage gap itself. How the split was made (ratios or folds, seed, strata and the balance
the split run measured against its rounding bound, duplicate-aware grouping, merged strata) is
known only when the split file said so: a ``split --json`` document, recorded in the manifest's
``split_info``. Without it the card says plainly what is not known and how to record it.
"""

from __future__ import annotations

from typing import Any

from norwoodkit.strata import StratumMerge

__all__ = ["split_section"]

# A deviation within float noise of its bound is at the bound (as ``split --strict`` judges it).
_BOUND_TOL = 1e-9

_NOT_KNOWN = (
    "Not known to this pack: the requested ratios, the seed, the strata (`norwoodkit split` "
    "stratifies by stage and age bin unless told otherwise), the balance it measured and "
    "which subjects it kept together because they share a duplicate photo. They are in the "
    "output of the "
    "`norwoodkit split` run that wrote the split file (`--json`); pack received only each "
    "subject's split. To have them stated here, pack from that document: `norwoodkit split "
    "DATA --json > split.json`, then `norwoodkit pack DATA --splits split.json`. Age balance is "
    "not measured here; every row carries `age`.\n"
)


def split_section(manifest: dict[str, Any]) -> str:
    """How subjects were split: the method, achieved shares and stage gaps, and how the split
    was made when the manifest knows it (``split_info``), else what is not known."""
    splits = manifest["splits"]
    head = "## How the split was made\n\n"
    if len(splits) == 1:
        name = next(iter(splits))
        return head + (
            f"Not split: all {splits[name]['subjects']} subjects are in `{name}`. Make a "
            "subject-level, stratified split with `norwoodkit split` and pack again with "
            "`--splits FILE`.\n"
        )
    info = manifest.get("split_info")
    folds = manifest.get("folds")
    method = (
        f"{folds}-fold cross-validation over whole subjects. Config `fold_<i>` trains on the "
        "other folds and validates on fold i; `default` lists every fold as a split."
        if folds
        else f"Subjects were split into {', '.join(f'`{n}`' for n in splits)}."
    )
    return (
        head
        + method
        + " Each subject's images are all in one split (pack refuses a split file that puts "
        "a subject in two), so no person is on both sides of an evaluation.\n\n"
        + _balance_table(splits)
        + "\nThe stage gap is each split's largest difference, in percentage points, between "
        "a stage's share of its subjects and that stage's share of all subjects.\n\n"
        + (_NOT_KNOWN if info is None else _how_made(info))
    )


def _balance_table(splits: dict[str, Any]) -> str:
    """Per split: subjects, share of all subjects, largest stage-share gap (pp)."""
    import pandas as pd

    from norwoodkit.split.balance import max_deviation_pp, shares

    labels: list[str] = []
    names: list[str] = []
    for name, s in splits.items():
        for stage, count in s["stage_counts"].items():
            labels += [stage] * int(count)
            names += [name] * int(count)
    table = shares(pd.Series(labels), pd.Series(names), list(splits))
    gaps = max_deviation_pp(table)
    total = sum(s["subjects"] for s in splits.values()) or 1
    rows = "\n".join(
        f"| {name} | {s['subjects']} | {100 * s['subjects'] / total:.1f} % | "
        f"{gaps.get(name, float('nan')):.1f} |"
        for name, s in splits.items()
    )
    return (
        "| split | subjects | share of subjects | stage gap (pp) |\n|---|---|---|---|\n"
        + rows
        + "\n"
    )


def _how_made(info: dict[str, Any]) -> str:
    """The split run's parameters and measurements, as the manifest's ``split_info`` has them."""
    return "\n".join(
        [
            _parameters(info),
            _strata(info),
            _run_table(info),
            _merges(info),
            _grouping(info),
        ]
    )


def _parameters(info: dict[str, Any]) -> str:
    """Ratios or folds, seed, target sizes, subjects the run left out."""
    names = ", ".join(f"`{n}`" for n in info["names"])
    if info["mode"] == "folds":
        asked = f"`norwoodkit split --folds {info['folds']}` made the folds {names}"
    else:
        ratios = " / ".join(f"{100 * r:.4g}" for r in info["ratios"])
        asked = f"`norwoodkit split` made {names} at ratios {ratios} (percent of subjects)"
    sizes = " / ".join(str(n) for n in info["target_sizes"])
    met = "met" if info["sizes_met"] else "not met (a duplicate group too large to place)"
    left = info["excluded_subjects"]
    excluded = (
        f" It left out {left} subject{'s' if left != 1 else ''} (no usable image, or in its "
        "exclude list)."
        if left
        else ""
    )
    return (
        f"{asked} with seed {info['seed']}, over {info['subjects']} subjects: target sizes "
        f"{sizes}, {met}.{excluded} The same dataset, options and seed give the same split.\n"
    )


def _strata(info: dict[str, Any]) -> str:
    """What was balanced, and the worst deviations against their rounding bounds."""
    columns = info["stratify"]
    q = info["quality"]
    what = (
        "Stratified on " + ", ".join(f"`{c}`" for c in columns) + ": the run matched each "
        "split's share of every stratum to the whole as closely as whole subjects allow."
        if columns
        else "Not stratified: the run matched the split sizes only."
    )
    return (
        f"{what} Measured by that run: the largest stage deviation is "
        f"{_against(q['max_stage_dev_pp'], q['stage_bound_pp'])}, the largest age-bin "
        f"deviation {_against(q['max_age_dev_pp'], q['age_bound_pp'])}. A rounding bound is "
        "the smallest worst deviation any assignment with these split sizes can reach. The run "
        "measured the strata it balanced (merged strata as one), over its subjects; the stage "
        "gap above is measured on the packed subjects and the seven stages.\n"
    )


def _against(value: float | None, bound: float | None) -> str:
    """``4.17 pp against a rounding bound of 4.17 pp (at the bound)``, or not measured."""
    if value is None:
        return "not measured (no such column)"
    if bound is None:
        return f"{value:.2f} pp"
    where = "at the bound" if value <= bound + _BOUND_TOL else f"{value - bound:.2f} pp above it"
    return f"{value:.2f} pp against a rounding bound of {bound:.2f} pp ({where})"


def _run_table(info: dict[str, Any]) -> str:
    """Per split, as the run measured it: subjects, target share, size, stage, age deviations."""

    def pp(value: float | None, scale: float = 1.0) -> str:
        return "-" if value is None else f"{scale * value:.2f}"

    rows = "\n".join(
        f"| {r['split']} | {r['subjects']} | {pp(r['target_share'], 100)} % | "
        f"{pp(r['size_dev_pp'])} | {pp(r['max_stage_dev_pp'])} | {pp(r['max_age_dev_pp'])} |"
        for r in info["quality"]["per_split"]
    )
    return (
        "| split | subjects (split run) | target share | size deviation (pp) | stage deviation "
        "(pp) | age-bin deviation (pp) |\n|---|---|---|---|---|---|\n" + rows + "\n"
    )


def _merges(info: dict[str, Any]) -> str:
    """Strata too small for the splits, balanced with a neighbour."""
    merges = [
        StratumMerge(
            column=m["column"],
            label=m["label"],
            members=tuple(zip(m["members"], m["member_subjects"], strict=True)),
            minimum=m["minimum"],
        )
        for m in info["strata_merges"]
    ]
    if not merges:
        return "No stratum was merged: each had at least one subject per split.\n"
    return (
        "Strata with fewer subjects than splits were balanced together with a neighbour:\n\n"
        + "\n".join(f"- {m.explain()}" for m in merges)
        + "\n"
    )


def _grouping(info: dict[str, Any]) -> str:
    """Duplicate-aware grouping: how many subjects were kept together, in how many groups."""
    groups, subjects = info["merged_groups"], info["grouped_subjects"]
    how = (
        "(any `norwoodkit dedupe` tier: exact, same or near; or the pairs of the run's "
        "`--pairs-from` file)"
    )
    if not groups:
        return (
            f"Duplicate-aware grouping: no two subjects shared a duplicate photo {how}, so "
            "every subject was placed on its own.\n"
        )
    return (
        f"Duplicate-aware grouping: {subjects} subjects who share a duplicate photo {how} were "
        f"kept together, in {groups} group{'s' if groups != 1 else ''}: each group is in one "
        "split, so no photo of theirs is on both sides of an evaluation.\n"
    )
