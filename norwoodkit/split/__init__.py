"""Seeded, subject-grouped, stratified splits: named ratios (train/val/test) or k folds.

Every subject of a group (a person, merged with the other persons who share a duplicate photo)
lands in the same split. Within that rule the splits match the requested sizes and the overall
distribution of each stratify column (by default the Norwood stage and the age bin, labelled by
``norwoodkit.strata``) as closely as integer counts allow, and the result says how close that
is to the best any assignment with those sizes could do.

One module per job:

- ``spec``: ``SplitSpec``, what to make (ratios or folds, names, strata, seed), from values or
  from a user's text, and the integer target sizes;
- ``problem``: a subjects table checked, its strata labelled (too-small stages and age bins
  merged with a neighbour, see ``strata.merge_small``) and its groups reduced to types, what the
  search works on;
- ``search``: ``assign``, the seeded descent over group moves and swaps;
- ``bound``: ``rounding_bound``, the best balance integer counts allow (a small max-flow);
- ``balance``: ``Quality`` and ``quality``; ``shares`` and ``max_deviation_pp``, the one
  balance computation that the HTML report uses too;
- ``assignment``: ``Assignment`` (subject -> split, one split per subject, checked when built)
  and the split-file reader;
- ``tables``: reading side tables (exclude lists, duplicate pairs or groups);
- ``document``: the ``split --json`` document read as a split file, and ``SplitInfo`` (how the
  split was made), which an Assignment read from it keeps;
- ``result``: ``make`` (a probed dataset -> ``SplitResult``);
- ``audit``: ``check``, the audit of any split file.
"""

from __future__ import annotations

from norwoodkit.split.assignment import (
    SPLIT_ALIASES,
    SUBJECT_ALIASES,
    Assignment,
    Conflict,
    SplitFile,
    read_assignment,
    read_split_file,
)
from norwoodkit.split.audit import check
from norwoodkit.split.balance import OVERALL, Quality, max_deviation_pp, quality, shares
from norwoodkit.split.bound import BoundKind, rounding_bound
from norwoodkit.split.document import SplitInfo
from norwoodkit.split.result import SplitResult, make
from norwoodkit.split.search import assign
from norwoodkit.split.spec import DEFAULT_STRATIFY, Mode, SplitSpec, fold_index, target_sizes
from norwoodkit.split.tables import duplicate_pairs_from_file, read_exclude_list, read_table
from norwoodkit.strata import AGE_BINS, MISSING, OUT_OF_RANGE, StratumMerge, age_bin_labels

__all__ = [
    "AGE_BINS",
    "DEFAULT_STRATIFY",
    "MISSING",
    "OUT_OF_RANGE",
    "OVERALL",
    "SPLIT_ALIASES",
    "SUBJECT_ALIASES",
    "Assignment",
    "BoundKind",
    "Conflict",
    "Mode",
    "Quality",
    "SplitFile",
    "SplitInfo",
    "SplitResult",
    "SplitSpec",
    "StratumMerge",
    "age_bin_labels",
    "assign",
    "check",
    "duplicate_pairs_from_file",
    "fold_index",
    "make",
    "max_deviation_pp",
    "quality",
    "read_assignment",
    "read_exclude_list",
    "read_split_file",
    "read_table",
    "rounding_bound",
    "shares",
    "target_sizes",
]
