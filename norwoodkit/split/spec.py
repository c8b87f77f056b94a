"""What to make: ``SplitSpec`` (named ratios or k folds, the strata, the seed), read from values
or from the text a user typed, and the integer split sizes it asks for.

Every rule about a spec lives here and raises ``ParameterError`` naming the parameter at fault
(``ratios``, ``names``, ``folds``, ``stratify``, ``seed``), so the CLI only passes its options on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from norwoodkit.errors import LabelError, ParameterError
from norwoodkit.labels import check_split_name

__all__ = ["DEFAULT_STRATIFY", "Mode", "SplitSpec", "fold_index", "target_sizes"]

Mode = Literal["ratios", "folds"]

DEFAULT_STRATIFY: tuple[str, ...] = ("stage", "age_bin")
#: What a spec read from text gets when no ratios or folds are given.
DEFAULT_RATIOS = "70,15,15"

_RATIO_TOL = 1e-6
#: More folds than this is a typing slip, not a cross-validation (and each fold is a name).
MAX_FOLDS = 10_000
_EXAMPLES = {"ratios": DEFAULT_RATIOS, "names": "train,val,test", "stratify": "stage,age_bin"}


def _check_names(names: Sequence[str], count: int, what: str) -> tuple[str, ...]:
    out = tuple(names)
    if len(out) != count:
        raise ParameterError(
            "names",
            f"{count} {what} but {len(out)} names ({', '.join(out) or 'none'}): "
            "give exactly one name per split",
        )
    for name in out:
        if not isinstance(name, str) or not name.strip():
            raise ParameterError(
                "names", f"split name {name!r} is empty or not text: give each split a name"
            )
        try:
            check_split_name(name)
        except LabelError as exc:
            raise ParameterError("names", exc.message) from None
    dupes = sorted({n for n in out if out.count(n) > 1})
    if dupes:
        raise ParameterError(
            "names", f"split names must be unique, got {', '.join(dupes)} more than once"
        )
    return out


def _default_names(count: int) -> tuple[str, ...]:
    known = {2: ("train", "test"), 3: ("train", "val", "test")}
    return known.get(count, tuple(f"split{i}" for i in range(count)))


def _text_list(parameter: str, value: str) -> list[str]:
    """Comma-separated items; an empty one is a typo the user should see."""
    items = [v.strip() for v in value.split(",")]
    if not all(items):
        raise ParameterError(
            parameter, f"{value!r} has an empty item; write e.g. {_EXAMPLES[parameter]}"
        )
    return items


def _numbers(text: str) -> list[float]:
    out = []
    for item in _text_list("ratios", text):
        try:
            out.append(float(item))
        except ValueError:
            raise ParameterError(
                "ratios", f"{item!r} is not a number; write e.g. {DEFAULT_RATIOS}"
            ) from None
    return out


@dataclass(frozen=True)
class SplitSpec:
    """What to make: named splits with ratios, or k folds; the strata to balance; the seed.

    Build one with :meth:`from_ratios`, :meth:`k_folds` or, from a user's text, :meth:`parse`;
    they validate the input and say how to fix it. ``ratios`` are stored as fractions summing
    to 1.

    Raises:
        ParameterError: (parameter ratios, names, folds, stratify or seed) a spec that cannot
            be made.
    """

    names: tuple[str, ...]
    ratios: tuple[float, ...] | None
    folds: int | None
    stratify: tuple[str, ...] = DEFAULT_STRATIFY
    seed: int = 0

    def __post_init__(self) -> None:
        if (self.ratios is None) == (self.folds is None):
            raise ParameterError(
                "folds", "a split spec needs either ratios or a number of folds, not both"
            )
        count = len(self.ratios) if self.ratios is not None else self.folds
        assert count is not None
        if count < 2:
            parameter = "ratios" if self.ratios is not None else "folds"
            raise ParameterError(parameter, f"a split needs at least 2 parts, got {count}")
        _check_names(self.names, count, "splits")
        if self.ratios is not None and (
            any(not math.isfinite(r) or r <= 0 for r in self.ratios)
            or abs(sum(self.ratios) - 1.0) > _RATIO_TOL
        ):
            raise ParameterError(
                "ratios", f"ratios must be positive fractions summing to 1, got {self.ratios}"
            )
        if len(set(self.stratify)) != len(self.stratify):
            raise ParameterError(
                "stratify",
                f"columns repeat: {', '.join(self.stratify)}; name each column once, "
                f"e.g. {_EXAMPLES['stratify']}",
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ParameterError("seed", f"must be a non-negative integer, got {self.seed!r}")

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
            ParameterError: fewer than two ratios, a ratio that is not a positive number or
                ratios summing to neither 100 nor 1 ("ratios"); names that do not match
                ("names").
        """
        values = [float(r) for r in ratios]
        if len(values) < 2:
            raise ParameterError(
                "ratios",
                f"got {len(values)} ratio(s): a split needs at least two parts, "
                f"e.g. {DEFAULT_RATIOS}",
            )
        chosen = _check_names(
            _default_names(len(values)) if names is None else names, len(values), "ratios"
        )
        for name, value in zip(chosen, values, strict=True):
            if not math.isfinite(value) or value <= 0:
                raise ParameterError(
                    "ratios",
                    f"ratio {value:g} for split '{name}': every split needs a positive share; "
                    "drop the split or give it a share above 0",
                )
        total = math.fsum(values)
        if abs(total - 100.0) > _RATIO_TOL and abs(total - 1.0) > _RATIO_TOL:
            shown = ", ".join(f"{v:g}" for v in values)
            raise ParameterError(
                "ratios",
                f"ratios {shown} sum to {total:g}, not 100 (percent) or 1 (fractions): "
                "make them add up, e.g. 70,15,15 or 0.7,0.15,0.15",
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
            ParameterError: (parameter "folds") when ``k < 2`` or ``k > MAX_FOLDS``.
        """
        if isinstance(k, bool) or not isinstance(k, int) or k < 2:
            raise ParameterError(
                "folds",
                f"{k} is too few: k-fold cross-validation needs at least 2 folds; "
                "use 5 (or 10), or ratios for a single train/test split",
            )
        if k > MAX_FOLDS:
            raise ParameterError(
                "folds", f"{k} is too many; use at most {MAX_FOLDS:,} folds (5 or 10 is usual)"
            )
        return cls(
            names=tuple(f"fold{i}" for i in range(k)),
            ratios=None,
            folds=k,
            stratify=tuple(stratify),
            seed=seed,
        )

    @classmethod
    def parse(
        cls,
        ratios: str | None = None,
        names: str | None = None,
        folds: int | None = None,
        stratify: str = ",".join(DEFAULT_STRATIFY),
        seed: int = 0,
    ) -> SplitSpec:
        """A spec from text as a user types it: ``ratios="70,15,15"``, ``names="a,b,c"``,
        ``stratify="stage,age_bin"``; or ``folds=5`` (then ``names`` is not used).

        No ratios and no folds means ratios 70,15,15.

        Raises:
            ParameterError: both ratios and folds, an empty item in a list, a ratio that is not
                a number, or any spec that :meth:`from_ratios` or :meth:`k_folds` refuses.
        """
        if folds is not None and ratios is not None:
            raise ParameterError(
                "folds", "folds and ratios exclude each other; give one or the other"
            )
        columns = _text_list("stratify", stratify)
        if folds is not None:
            return cls.k_folds(folds, stratify=columns, seed=seed)
        values = _numbers(ratios if ratios is not None else DEFAULT_RATIOS)
        chosen = _text_list("names", names) if names is not None else None
        return cls.from_ratios(values, chosen, stratify=columns, seed=seed)

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
