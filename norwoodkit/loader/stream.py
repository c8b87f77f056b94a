"""One reader's epoch read from the shards: rows in plan order, resumed, skips replaced.

The plan (``partition``) says which stream position leaves the shuffle buffer next; this module
reads each needed row group once per run of the stream that lies in it, keeps the rows waiting
in the buffer, and makes samples as they leave. Positions before a resumed ``progress`` are
passed without reading or decoding them. A reader that skipped bad images takes replacements
from the start of its stream, so its count still matches what the plan promised.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from norwoodkit.errors import InputError
from norwoodkit.loader.options import Sample
from norwoodkit.loader.partition import BoolArray, EpochPlan
from norwoodkit.loader.samples import SampleMaker
from norwoodkit.loader.shards import OpenFiles, Row, ShardSplit

__all__ = ["read_epoch"]


def read_epoch(
    split: ShardSplit, plan: EpochPlan, progress: list[int], maker: SampleMaker
) -> Iterator[Sample]:
    """Yield the reader's samples from ``progress = [position, yielded]`` on, counting both."""
    files = OpenFiles(split)
    try:
        yield from _planned(plan, progress, maker, files)
        yield from _replacements(split, plan, progress, maker, files)
    finally:
        files.close()


def _planned(
    plan: EpochPlan, progress: list[int], maker: SampleMaker, files: OpenFiles
) -> Iterator[Sample]:
    """The plan's ``target`` positions, in output order, from ``progress[0]`` on."""
    target, base = plan.target, plan.base
    if progress[0] >= target:
        return
    needed = np.zeros(target, dtype=bool)
    needed[plan.order[progress[0] :]] = True
    pending: dict[int, Row] = {}
    entered = 0
    order = plan.order.tolist()
    while progress[0] < target:
        j = order[progress[0]]
        while entered <= j:
            entered = _enter(plan, entered, needed, pending, files, maker)
        row = pending.pop(j)
        progress[0] += 1
        sample = maker.make(row, padded=j >= base)
        if sample is not None:
            progress[1] += 1
            yield sample


def _enter(
    plan: EpochPlan,
    entered: int,
    needed: BoolArray,
    pending: dict[int, Row],
    files: OpenFiles,
    maker: SampleMaker,
) -> int:
    """Enter the next run of input positions that lie in one unit; read it if needed."""
    unit, n = plan.locate(entered)
    if needed[entered : entered + n].any():
        group = files.group(unit)
        for k in range(entered, entered + n):
            if needed[k]:
                pending[k] = group.row(unit, int(plan.row[k]), maker.copy)
    return entered + n


def _replacements(
    split: ShardSplit, plan: EpochPlan, progress: list[int], maker: SampleMaker, files: OpenFiles
) -> Iterator[Sample]:
    """Replacements for skipped images: the reader's stream again from its start."""
    misses = 0
    while progress[1] < plan.target:
        unit, i = plan.replacement(progress[0])
        row = files.group(unit).row(unit, i, maker.copy)
        progress[0] += 1
        sample = maker.make(row, padded=True)
        if sample is None:
            misses += 1
            if misses > plan.target:
                raise InputError(
                    f"{split.root}: no image of this reader's {plan.target} rows decodes",
                    code="image-undecodable-in-shard",
                )
            continue
        misses = 0
        progress[1] += 1
        yield sample
