"""Each gate's result as a ``Gate``: the checks that ran, their units, what fails.

One function per gate: ``validate``, ``dedupe --fail-on``, ``split --check`` (the audit), the
targets of ``split --strict``, and ``verify``. Each declares only the check groups its command
really ran, so no report shows a check that cannot fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from norwoodkit.findings import Finding, fails, finding, sort_findings
from norwoodkit.reporting.gate import Gate, Outcome
from norwoodkit.storage import Location

if TYPE_CHECKING:
    from norwoodkit.dedupe import DedupeResult, FailOn
    from norwoodkit.split import SplitResult
    from norwoodkit.validate import Report


def _root(root: str | os.PathLike[str] | Location) -> Path | Location:
    return root if isinstance(root, Location) else Path(root)


def validate_gate(
    report: Report,
    subject_ids: Iterable[str],
    root: str | os.PathLike[str] | Location,
    strict: bool = False,
) -> Gate:
    """``validate``: every check group it runs, for the dataset and each subject."""
    from norwoodkit.validate import GROUPS

    return Gate(
        command="validate",
        root=_root(root),
        groups=GROUPS,
        units=_ids(subject_ids),
        outcomes=tuple(Outcome(f, fails(f.severity, strict)) for f in report.findings),
    )


def audit_gate(
    report: Report,
    subject_ids: Iterable[str],
    root: str | os.PathLike[str] | Location,
    split_file: str | os.PathLike[str],
) -> Gate:
    """``split --check``: the split audit for the dataset and each subject; errors fail.

    Findings about no file (a subject in two splits, a stage missing from a split) are about
    the split file, named as it was given.
    """
    return Gate(
        command="split",
        root=_root(root),
        groups=("split",),
        units=_ids(subject_ids),
        outcomes=tuple(Outcome(f, fails(f.severity)) for f in report.findings),
        default_file=Path(split_file).as_posix(),
    )


def split_targets_gate(
    result: SplitResult, root: str | os.PathLike[str] | Location, strict: bool = False
) -> Gate:
    """``split --strict``: the split sizes and the stage balance, two checks of the dataset."""
    q = result.quality
    found = []
    if not result.sizes_met():
        got = [int(x) for x in q.per_split["subjects"]]
        found.append(
            finding(
                "split-sizes-off",
                f"split sizes {got} differ from the targets {list(result.target_sizes())} "
                "(duplicate groups too large to place exactly); merge fewer duplicates or "
                "change --ratios",
            )
        )
    if not result.balance_met():
        found.append(
            finding(
                "split-stage-above-bound",
                f"worst stage deviation {q.max_stage_dev_pp:.2f} pp is above its rounding bound "
                f"{q.stage_bound_pp:.2f} pp; try another --seed or fewer --stratify columns",
            )
        )
    return Gate(
        command="split",
        root=_root(root),
        groups=("split-sizes", "split-balance"),
        units=(),
        outcomes=tuple(Outcome(f, fails(f.severity, strict)) for f in found),
    )


def dedupe_gate(
    result: DedupeResult,
    subject_ids: Iterable[str],
    root: str | os.PathLike[str] | Location,
    fail_on: FailOn | None = None,
) -> Gate:
    """``dedupe``: one finding per pair, about its second image; ``fail_on``'s kind fails."""
    from norwoodkit.validate import DUPLICATE_CODES

    failing = set() if fail_on is None else set(result.failing(fail_on).index)
    outcomes = []
    for index, r in zip(result.pairs.index, result.pairs.itertuples(index=False), strict=True):
        mirrored = " (mirrored)" if bool(r.mirrored) else ""
        f = finding(
            DUPLICATE_CODES[(str(r.tier), str(r.kind))],
            f"{r.b} (subject {r.subject_b}) and {r.a} (subject {r.subject_a}): {r.tier} "
            f"duplicate{mirrored}, {r.kind}, phash distance {r.distance}; keep one (see "
            "--exclude-list)",
            subject=str(r.subject_b),
            path=str(r.b),
        )
        outcomes.append((f, index in failing))
    order = {id(f): i for i, f in enumerate(sort_findings(f for f, _ in outcomes))}
    outcomes.sort(key=lambda pair: order[id(pair[0])])
    return Gate(
        command="dedupe",
        root=_root(root),
        groups=("duplicates",),
        units=_ids(subject_ids),
        outcomes=tuple(Outcome(f, bad) for f, bad in outcomes),
    )


def verify_gate(findings: Iterable[Finding], out: str | os.PathLike[str]) -> Gate:
    """``verify``: one check of each shard the manifest lists (the rest is the pack folder's)."""
    from norwoodkit.pack import read_manifest

    manifest = read_manifest(out)
    shards = [s["path"] for split in manifest["splits"].values() for s in split["shards"]]
    return Gate(
        command="verify",
        root=_root(out),
        groups=("verify",),
        units=tuple(str(s) for s in shards),
        outcomes=tuple(Outcome(f, fails(f.severity)) for f in sort_findings(findings)),
        unit_field="path",
    )


def _ids(subject_ids: Iterable[str]) -> tuple[str, ...]:
    from norwoodkit.labels import id_sort_key

    return tuple(sorted({str(s) for s in subject_ids}, key=id_sort_key))
