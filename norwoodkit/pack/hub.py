"""Hugging Face Hub naming for a pack: which split names the Hub accepts, the name each split
is written under, and the ``configs`` list that the manifest and the card's YAML share.

A pack folder must read the same through both of the Hub's routes: the card's ``configs``
(``load_dataset(DIR)``) and the file names alone (``load_dataset("parquet", data_dir=DIR)``,
which finds ``data/<split>-NNNNN-of-NNNNN.parquet``). So split names are settled here, once:
ASCII word characters (the Hub's split rule is ``\\w+(\\.\\w+)*``, and ``-`` separates the
name from the shard number in our file names), never ``all`` (the Hub's name for every split
together), ``val`` written ``validation`` (the Hub's canonical name), an unsplit pack written
``train``, and k folds written ``fold_<i>`` with one config per fold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from norwoodkit.errors import InputError
from norwoodkit.pack.layout import DATA_DIR

__all__ = [
    "DEFAULT_CONFIG",
    "HUB_SPLIT_NAME",
    "RENAMED",
    "RESERVED",
    "UNSPLIT",
    "SplitNaming",
    "configs",
    "fold_count",
    "name_splits",
    "shard_glob",
    "split_order",
]

#: A split name the Hub accepts and our file names can carry (``-`` is our separator).
HUB_SPLIT_NAME = re.compile(r"^[A-Za-z0-9_]+$")
#: Names the Hub keeps for itself: ``all`` is every split together.
RESERVED = frozenset({"all"})
#: Split-file names written under the Hub's canonical name.
RENAMED = {"val": "validation"}
#: The one split of a pack made without a split file (the Hub's name for an unsplit dataset).
UNSPLIT = "train"
DEFAULT_CONFIG = "default"

#: A fold's name in a split file: ``3`` (a ``fold`` column) or ``fold3`` / ``fold_3``.
_FOLD = re.compile(r"^(?:fold_?)?(0|[1-9]\d*)$")
#: Where the Hub lists its splits first; others follow in natural order (fold_2 before fold_10).
_KNOWN_ORDER = ("train", "validation", "test")


@dataclass(frozen=True)
class SplitNaming:
    """How the splits of a split file are written.

    Attributes:
        written: the split file's name -> the name written (file names, ``split`` column,
            manifest, card); empty for a pack made without a split file.
        folds: k when the split names are folds 0..k-1, else None.
    """

    written: dict[str, str]
    folds: int | None

    def name(self, source: str) -> str:
        """The written name of a split-file name (``UNSPLIT`` when there was no split file)."""
        return self.written[source] if self.written else UNSPLIT


def _fold_number(name: str) -> int | None:
    m = _FOLD.match(name)
    return None if m is None else int(m.group(1))


def fold_count(names: Iterable[str]) -> int | None:
    """k when ``names`` are exactly the folds 0..k-1 (k >= 2, as ``0`` or ``fold0``), else None."""
    numbers = [_fold_number(name) for name in names]
    k = len(numbers)
    if k < 2 or None in numbers:
        return None
    return k if sorted(n for n in numbers if n is not None) == list(range(k)) else None


def name_splits(names: Sequence[str] | None, *, source: str) -> SplitNaming:
    """The written name of each split of a split file (None: no split file, one ``train``).

    Args:
        names: the split file's split names.
        source: how the caller knows the split file (``--splits FILE``, ``splits``), to start
            each error message.

    Raises:
        InputError: (code split-name-hub) a name the Hub would reject or reserves, or two names
            that would be written alike; the message suggests a rename that works.
    """
    if names is None:
        return SplitNaming({}, None)
    folds = fold_count(names)
    if folds is not None:
        written = {n: f"fold_{_fold_number(n)}" for n in names}
        return SplitNaming(written, folds)
    for name in names:
        _check_name(name, names, source)
    written = {n: RENAMED.get(n, n) for n in names}
    seen: dict[str, str] = {}
    for name, out in written.items():
        if out in seen:
            raise InputError(
                f"{source}: split names {seen[out]!r} and {name!r} would both be written "
                f"{out!r}; merge them or rename one in the split file",
                code="split-name-hub",
            )
        seen[out] = name
    return SplitNaming(written, None)


def _check_name(name: str, names: Sequence[str], source: str) -> None:
    """Refuse a name the Hub would reject or reserves, with a rename that works."""
    if name in RESERVED:
        fix = UNSPLIT if len(names) == 1 else _free(f"{name}_subjects", names)
        why = "is reserved by the Hub (it means every split together)"
    elif not HUB_SPLIT_NAME.match(name):
        fix = _free(re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_") or "split", names)
        why = (
            "is not a Hub split name (ASCII letters, digits and '_' only; '-' separates a "
            "split from its shard number in the file names)"
        )
    else:
        return
    raise InputError(
        f"{source}: split name {name!r} {why}; rename it {fix!r} in the split file",
        code="split-name-hub",
    )


def _free(name: str, taken: Sequence[str]) -> str:
    """``name``, or ``name_2``, ``name_3`` ... when another split already has it."""
    if name in RESERVED:
        name += "_split"
    candidate, n = name, 1
    while candidate in taken or RENAMED.get(candidate) in taken:
        n += 1
        candidate = f"{name}_{n}"
    return candidate


def split_order(names: Iterable[str]) -> list[str]:
    """The written split names in the order a card lists them: train, validation, test, then
    the rest in natural order (``fold_2`` before ``fold_10``)."""

    def key(name: str) -> tuple[int, list[tuple[int, int | str]]]:
        known = _KNOWN_ORDER.index(name) if name in _KNOWN_ORDER else len(_KNOWN_ORDER)
        parts = re.split(r"(\d+)", name)
        return known, [(1, int(p)) if p.isdigit() else (0, p) for p in parts]

    return sorted(dict.fromkeys(names), key=key)


def shard_glob(split: str) -> str:
    """The files of one split, as a glob relative to the pack folder (``-`` ends the name, so
    ``fold_1-*`` never matches ``fold_10``'s files)."""
    return f"{DATA_DIR}/{split}-*.parquet"


def configs(splits: Sequence[str], folds: int | None) -> list[dict[str, Any]]:
    """The card's YAML ``configs`` (also the manifest's): ``default`` with every split; with k
    folds also ``fold_<i>`` per fold, ``train`` being the other folds' files and
    ``validation`` fold i's (no data copied)."""
    ordered = split_order(splits)
    out: list[dict[str, Any]] = [
        {
            "config_name": DEFAULT_CONFIG,
            "data_files": [{"split": s, "path": [shard_glob(s)]} for s in ordered],
        }
    ]
    if folds is None:
        return out
    for fold in ordered:
        others = [shard_glob(s) for s in ordered if s != fold]
        out.append(
            {
                "config_name": fold,
                "data_files": [
                    {"split": "train", "path": others},
                    {"split": "validation", "path": [shard_glob(fold)]},
                ],
            }
        )
    return out
