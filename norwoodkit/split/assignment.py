"""``Assignment``: which split each subject is in, one split per subject; and the split-file
reader that builds it.

"One subject, one split" is the rule that keeps a person's photos out of two splits. It is
checked in one place, :func:`_gather`, whenever rows (a file's, a table's) become an
Assignment: every row needs a subject id (made canonical: ``001`` is ``1``) and a split name; a
subject may repeat (a per-image file lists each view) but never with a second split. What an
Assignment holds has passed that check, so ``quality``, ``check``, ``pack`` and ``report`` use
it without checking again. ``split --check`` audits a file rather than refusing it, so it reads
a :class:`SplitFile`: the file's Assignment (each subject at its first split) beside the
subjects the file puts in more than one.

Split files come in many shapes: norwoodkit's own (``subject_id, split, group_id``; ``fold``
for k folds, whose fold numbers are the split names), per-image files with a ``path`` column,
and others' files whose columns are named ``id``, ``set``, ``partition``, ... (the aliases
below); CSV, Parquet or JSON (records, or one ``{subject_id: split}`` object); and the document
``split --json`` prints, whose Assignment also keeps how the split was made (``info``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import pandas as pd

from norwoodkit.errors import InputError, LabelError, ParameterError
from norwoodkit.labels import canonical_id, check_split_name, id_sort_key
from norwoodkit.split.document import SplitInfo
from norwoodkit.split.tables import read_split_table

__all__ = [
    "SPLIT_ALIASES",
    "SUBJECT_ALIASES",
    "Assignment",
    "Conflict",
    "SplitFile",
    "read_assignment",
    "read_split_file",
]

#: Column names accepted in split files, canonical first.
SUBJECT_ALIASES = ("subject_id", "id", "subject", "person_id", "patient_id", "participant_id")
SPLIT_ALIASES = ("split", "fold", "set", "partition", "subset")

# Conflicts named in one error message; the rest are counted.
_SHOWN = 8


@dataclass(frozen=True)
class Conflict:
    """A subject that rows put in more than one split (``splits`` sorted)."""

    subject_id: str
    splits: tuple[str, ...]


@dataclass(frozen=True)
class Assignment:
    """Subject id -> split name, every subject in exactly one split.

    Build one with :meth:`from_rows` or :meth:`from_table` (rows as a file has them), or read
    one with :func:`read_assignment`. ``pairs`` keep the order subjects first appeared in, and
    :attr:`names` the order splits did. ``info`` says how the split was made when the file
    said so (a ``split --json`` document), else None; it takes no part in equality.

    Raises:
        ParameterError: (parameter "pairs") when ``pairs`` given directly list a subject twice,
            or hold an id that is not canonical or a blank split name.
    """

    pairs: tuple[tuple[str, str], ...]
    info: SplitInfo | None = field(default=None, compare=False)
    _index: dict[str, str] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        index: dict[str, str] = {}
        for sid, name in self.pairs:
            if not _is_text(name) or _canonical_or_none(sid) != sid:
                raise ParameterError(
                    "pairs",
                    f"({sid!r}, {name!r}) needs a canonical subject id and a split name; "
                    "Assignment.from_rows makes both from rows as a file has them",
                )
            try:
                check_split_name(name)
            except LabelError as exc:
                raise ParameterError("pairs", f"subject {sid}: {exc.message}") from None
            if sid in index:
                raise ParameterError(
                    "pairs", f"subject {sid} is listed twice; Assignment.from_rows merges rows"
                )
            index[sid] = name
        object.__setattr__(self, "_index", index)

    @classmethod
    def from_rows(
        cls, subject_ids: Iterable[object], splits: Iterable[object], *, source: str = "splits"
    ) -> Assignment:
        """The assignment that rows make: ids are made canonical, repeats of a subject merged.

        Args:
            subject_ids: one per row (text or whole numbers; ``"001"`` is subject ``"1"``).
            splits: the split name of each row.
            source: what the rows are, to start each error message (a file's name).

        Raises:
            InputError: a row without a usable subject id (code "bad-subject") or split name
                ("bad-split"), or a subject in two splits ("subject-in-two-splits").
        """
        pairs, conflicts = _gather(subject_ids, splits, source)
        if conflicts:
            raise _conflict_error(source, conflicts)
        return cls(pairs)

    @classmethod
    def from_table(cls, table: pd.DataFrame, *, source: str = "split table") -> Assignment:
        """The assignment of a table with ``subject_id`` and ``split`` columns (see from_rows).

        Raises:
            InputError: a column is missing (code "missing-column"), or what from_rows raises.
        """
        missing = [c for c in ("subject_id", "split") if c not in table.columns]
        if missing:
            raise InputError(
                f"the {source} lacks column(s) {', '.join(missing)}; it has "
                f"{', '.join(map(str, table.columns)) or 'none'}; give one row per subject with "
                "subject_id and split",
                code="missing-column",
            )
        return cls.from_rows(table["subject_id"], table["split"], source=source)

    @classmethod
    def of(cls, splits: Assignment | pd.DataFrame, *, source: str = "split table") -> Assignment:
        """``splits`` itself, or the assignment of a table (:meth:`from_table`): what functions
        that take either call first.

        Raises:
            InputError: what :meth:`from_table` raises.
        """
        return splits if isinstance(splits, Assignment) else cls.from_table(splits, source=source)

    @property
    def subjects(self) -> tuple[str, ...]:
        """The subject ids, in the order they first appeared."""
        return tuple(sid for sid, _ in self.pairs)

    @property
    def names(self) -> tuple[str, ...]:
        """The split names, in the order they first appeared."""
        return tuple(dict.fromkeys(name for _, name in self.pairs))

    def __len__(self) -> int:
        return len(self.pairs)

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __contains__(self, subject_id: object) -> bool:
        return subject_id in self._index

    def __getitem__(self, subject_id: str) -> str:
        return self._index[subject_id]

    def get(self, subject_id: str, default: str | None = None) -> str | None:
        """The split of a subject id, or ``default`` when the assignment does not list it."""
        return self._index.get(subject_id, default)

    def to_dict(self) -> dict[str, str]:
        """``{subject_id: split}``, in first-appearance order."""
        return dict(self._index)

    def to_series(self) -> pd.Series:
        """The split of each subject: index ``subject_id``, name ``split``, dtype ``string``."""
        return pd.Series(
            [name for _, name in self.pairs],
            index=pd.Index(list(self.subjects), name="subject_id", dtype="string"),
            name="split",
            dtype="string",
        )

    def lookup(self, subject_ids: pd.Series, default: str | None = None) -> pd.Series:
        """The split of each of ``subject_ids`` (any spelling: ``"001"`` finds ``"1"``),
        ``default`` (null when None) where the assignment does not list it."""
        found = {
            raw: self._index.get(_canonical_or_none(raw) or "", default)
            for raw in pd.unique(subject_ids.to_numpy(dtype=object))
        }
        values = [found[raw] for raw in subject_ids.to_numpy(dtype=object)]
        return pd.Series(values, index=subject_ids.index, dtype="string", name="split")


@dataclass(frozen=True)
class SplitFile:
    """A split file as read, for an audit: its assignment and the subjects it gives two splits.

    ``assignment`` puts each subject at the first split the file gives it; ``conflicts`` lists
    the subjects the file also puts elsewhere (id order); ``per_image`` is true for a file with
    one row per image (a ``path`` column).
    """

    source: str
    assignment: Assignment
    conflicts: tuple[Conflict, ...]
    per_image: bool

    def strict(self) -> Assignment:
        """The assignment, when the file puts every subject in one split.

        Raises:
            InputError: (code "subject-in-two-splits") naming the subjects in two splits.
        """
        if self.conflicts:
            raise _conflict_error(self.source, self.conflicts)
        return self.assignment


def read_split_file(path: str | os.PathLike[str], parameter: str = "split file") -> SplitFile:
    """Read a split file (ours or anyone's) for an audit; see the module docstring for shapes.

    Args:
        path: a .csv, .parquet or .json file.
        parameter: how the caller knows the file (a parameter name, or the CLI's option), to
            start each error message.

    Raises:
        InputError: the file is missing, unreadable or empty, has no subject or no split
            column (code "split-header"), or a row lacks an id or a split name; a ``--json``
            document that is not a split, is newer, or has no assignment (``split.document``).
    """
    frame, info = read_split_table(path, parameter)
    lower = {c.lower(): c for c in frame.columns}
    subj = next((lower[a] for a in SUBJECT_ALIASES if a in lower), None)
    split_col = next((lower[a] for a in SPLIT_ALIASES if a in lower), None)
    if subj is None or split_col is None:
        raise InputError(
            f"{parameter} {path}: unknown header ({', '.join(frame.columns)}); a split file needs "
            f"a subject column ({', '.join(SUBJECT_ALIASES)}) and a split column "
            f"({', '.join(SPLIT_ALIASES)})",
            code="split-header",
        )
    source = f"{parameter} {path}"
    pairs, conflicts = _gather(frame[subj], frame[split_col], source)
    return SplitFile(source, Assignment(pairs, info), conflicts, per_image="path" in lower)


def read_assignment(path: str | os.PathLike[str], parameter: str = "split file") -> Assignment:
    """Read a split file into an Assignment (``read_split_file``, then every subject in one
    split).

    Raises:
        InputError: what ``read_split_file`` raises, or (code "subject-in-two-splits") a subject
            in two splits.
    """
    return read_split_file(path, parameter).strict()


def _gather(
    subject_ids: Iterable[object], splits: Iterable[object], source: str
) -> tuple[tuple[tuple[str, str], ...], tuple[Conflict, ...]]:
    """Rows -> each subject's first split (in first-appearance order) and the subjects whose
    rows name more than one split. The one place that applies "one subject, one split"."""
    first: dict[str, str] = {}
    seen: dict[str, set[str]] = {}
    for row, (raw_id, raw_name) in enumerate(zip(subject_ids, splits, strict=True), start=1):
        sid = _subject(raw_id, source)
        name = _split_name(raw_name, sid, source, row)
        if first.setdefault(sid, name) != name:
            seen.setdefault(sid, {first[sid]}).add(name)
    conflicts = tuple(
        Conflict(sid, tuple(sorted(seen[sid]))) for sid in sorted(seen, key=id_sort_key)
    )
    return tuple(first.items()), conflicts


def _subject(value: object, source: str) -> str:
    try:
        return canonical_id(value)
    except LabelError as exc:
        raise InputError(f"{source}: {exc.message}", code="bad-subject") from exc


def _split_name(value: object, sid: str, source: str, row: int) -> str:
    text = "" if value is None or value is pd.NA or value != value else str(value).strip()
    if not text:
        raise InputError(
            f"{source}: row {row}: subject {sid} has no split name; give every subject a split",
            code="bad-split",
        )
    try:
        # A split name becomes a folder when the split is packed: refused here, before any
        # command trusts it.
        return check_split_name(text)
    except LabelError as exc:
        raise InputError(
            f"{source}: row {row}, subject {sid}: {exc.message}", code="bad-split"
        ) from None


def _canonical_or_none(value: object) -> str | None:
    try:
        return canonical_id(value)
    except LabelError:
        return None


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip()) and value == value.strip()


_COUNT_WORDS = {2: "two", 3: "three", 4: "four"}


def _conflict_error(source: str, conflicts: tuple[Conflict, ...]) -> InputError:
    shown = "; ".join(
        f"subject {c.subject_id} is in {_COUNT_WORDS.get(len(c.splits), str(len(c.splits)))} "
        f"splits ({', '.join(c.splits[:-1])} and {c.splits[-1]})"
        for c in conflicts[:_SHOWN]
    )
    more = f"; and {len(conflicts) - _SHOWN} more" if len(conflicts) > _SHOWN else ""
    return InputError(
        f"{source}: {shown}{more}; a subject must be in one split only",
        code="subject-in-two-splits",
    )
