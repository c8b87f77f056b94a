"""Reading labels: Norwood-Hamilton stages, view names, subject ids and categorical values.

Annotation files for the Male Hair Loss dataset spell the same thing in many ways ("Stage 3",
"NW3", "III", 3.0 from JSON; "Top-Down.jpg", "top_down", "crown"). Everything that turns such a
spelling into one canonical value lives here, so every command agrees on what a label means.
Values that cannot be read raise ``LabelError`` with a finding code and a one-line message that
quotes the value and says what is accepted.
"""

from __future__ import annotations

import functools
import math
import numbers
import re
import unicodedata
from dataclasses import dataclass
from enum import Enum
from typing import NoReturn

from norwoodkit.errors import LabelError

__all__ = [
    "ACCEPTED_STAGE_FORMS",
    "IMAGE_EXTENSIONS",
    "JUNK_NAMES",
    "MAX_ID_LENGTH",
    "MAX_SPLIT_NAME_LENGTH",
    "VENDOR_FILENAMES",
    "VIEWS",
    "Stage",
    "View",
    "ascii_digits",
    "canonical_id",
    "category_key",
    "check_split_name",
    "is_junk",
    "parse_stage",
    "parse_view",
    "readable_name",
    "short_repr",
]


# The spec fixes the (str, Enum) base; StrEnum would change what str() and format() return.
class View(str, Enum):  # noqa: UP042
    """One of the five photographs taken of every subject."""

    FRONT = "front"
    TOP = "top"
    BACK = "back"
    LEFT = "left"
    RIGHT = "right"


#: The five views in the order reports and packed files list them.
VIEWS: tuple[View, ...] = (View.FRONT, View.TOP, View.BACK, View.LEFT, View.RIGHT)

#: File names the dataset vendor uses inside each subject folder.
VENDOR_FILENAMES: dict[View, str] = {
    View.FRONT: "Front.jpg",
    View.TOP: "Top-Down.jpg",
    View.BACK: "Back.jpg",
    View.LEFT: "Left.jpg",
    View.RIGHT: "Right.jpg",
}

#: Image file extensions, lower-case with the dot.
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".jpe",
        ".png",
        ".webp",
        ".bmp",
        ".tif",
        ".tiff",
        ".gif",
        ".heic",
        ".heif",
    }
)

#: Names (lower-case) that operating systems and archivers leave behind; never dataset content.
#: AppleDouble files ("._name") and Office lock files ("~$name") are matched by prefix in
#: ``is_junk``.
JUNK_NAMES: frozenset[str] = frozenset(
    {
        ".ds_store",
        "thumbs.db",
        "ehthumbs.db",
        "desktop.ini",
        "__macosx",
        ".spotlight-v100",
        ".trashes",
        ".fseventsd",
    }
)

_JUNK_PREFIXES = ("._", "~$")

ACCEPTED_STAGE_FORMS = (
    "one stage 1-7 as a number or Roman numeral (3, III), optionally after a prefix "
    "(Stage 3, Norwood III, Norwood-Hamilton 3, NW3, type_3, level 3, class 3), with the variant "
    "'a' for II-V (IIa, 3a) or 'vertex' for III (III vertex, IIIv, 3V)"
)

_ROMAN_DIGITS = {"i": 1, "v": 5, "x": 10}
_ROMAN_NAMES = ("I", "II", "III", "IV", "V", "VI", "VII")
# I, V and X (1-39) are enough to tell an out-of-range numeral (VIII, XII) from a malformed one.
_ROMAN_RE = re.compile(r"x{0,3}(?:ix|iv|v?i{0,3})")

_SEP = r"[\s_.\-]"
_STAGE_PREFIX_RE = re.compile(
    rf"(?:(?:norwood{_SEP}*hamilton|hamilton{_SEP}*norwood|norwood|nw){_SEP}*)?"
    rf"(?:(?:stage|type|level|class|grade){_SEP}*)?",
    re.IGNORECASE,
)
_NUMBER = r"(?:[0-9]+|[ivx]+)(?:a|vertex)?"
_RANGE_RE = re.compile(
    rf"{_NUMBER}\s*(?:[-\u2010-\u2015/\\~,&+_.]|to|or|and|\s)\s*{_NUMBER}", re.IGNORECASE
)
_OPEN_RANGE_RE = re.compile(rf"{_NUMBER}\s*(?:\+|plus|or more|and up)", re.IGNORECASE)
_DECIMAL_RE = re.compile(r"([0-9]+)\.([0-9]+)")
_SIGNED_INT_RE = re.compile(r"[+-][0-9]+")
_REPR_LIMIT = 60
#: Longer text is no stage (the longest spelling, "Norwood-Hamilton stage III vertex", is 33).
_MAX_STAGE_TEXT = 200

_VIEW_ALIASES: dict[str, View] = {
    "front": View.FRONT,
    "frontview": View.FRONT,
    "fullface": View.FRONT,
    "face": View.FRONT,
    "frontal": View.FRONT,
    "top": View.TOP,
    "topdown": View.TOP,
    "topview": View.TOP,
    "crown": View.TOP,
    "back": View.BACK,
    "backview": View.BACK,
    "backofhead": View.BACK,
    "backhead": View.BACK,
    "rear": View.BACK,
    "left": View.LEFT,
    "leftside": View.LEFT,
    "leftview": View.LEFT,
    "right": View.RIGHT,
    "rightside": View.RIGHT,
    "rightview": View.RIGHT,
}


@dataclass(frozen=True)
class Stage:
    """A Norwood-Hamilton stage: a number 1-7 and an optional variant ("a" or "vertex")."""

    number: int
    variant: str | None = None

    def __post_init__(self) -> None:
        # Constructing a Stage directly must not bypass the rules parse_stage enforces.
        if isinstance(self.number, bool) or not isinstance(self.number, int):
            raise LabelError(
                f"Stage number must be an int, got {self.number!r}", code="stage-invalid"
            )
        if not 1 <= self.number <= 7:
            raise LabelError(
                f"Stage number must be 1-7, got {self.number!r}", code="stage-out-of-range"
            )
        problem = _variant_problem(self.number, self.variant)
        if problem is not None:
            raise LabelError(
                f"Stage{(self.number, self.variant)!r}: {problem}", code="stage-invalid"
            )

    @property
    def name(self) -> str:
        """Clinical spelling: "III", "IIa", "III vertex", "VII"."""
        roman = _ROMAN_NAMES[self.number - 1]
        if self.variant == "a":
            return roman + "a"
        if self.variant == "vertex":
            return roman + " vertex"
        return roman


def _variant_problem(number: int, variant: str | None) -> str | None:
    if variant is None:
        return None
    if variant == "a":
        if 2 <= number <= 5:
            return None
        return f"the 'a' variant exists only for stages II-V, not {_ROMAN_NAMES[number - 1]}"
    if variant == "vertex":
        if number == 3:
            return None
        return f"the vertex variant exists only for stage III, not {_ROMAN_NAMES[number - 1]}"
    return f"unknown variant {variant!r}; use None, 'a' or 'vertex'"


def short_repr(value: object) -> str:
    """``repr(value)``, cut to 60 characters: how messages quote a value from a file."""
    if isinstance(value, int) and abs(value) >= 10**_REPR_LIMIT:
        # repr() of a number over 4,300 digits raises; none this long is worth quoting.
        return f"<a {value.bit_length()}-bit number>"
    text = repr(value)
    if len(text) > _REPR_LIMIT:
        return text[: _REPR_LIMIT - 3] + "..."
    return text


def _is_missing_marker(value: object) -> bool:
    # pandas.NA and NaT stand for a missing cell; recognised by type name so this module does
    # not import pandas.
    return type(value).__name__ in {"NAType", "NaTType"}


def _stage_error(value: object, reason: str, code: str) -> NoReturn:
    shown = short_repr(value)
    raise LabelError(
        f"cannot read Norwood stage {shown}: {reason}. Accepted: {ACCEPTED_STAGE_FORMS}", code=code
    )


def _roman_value(token: str) -> int | None:
    """Value of a Roman numeral made of I, V, X (any case), or None if it is not well formed."""
    low = token.casefold()
    if not low or _ROMAN_RE.fullmatch(low) is None:
        return None
    total = 0
    for i, ch in enumerate(low):
        digit = _ROMAN_DIGITS[ch]
        following = _ROMAN_DIGITS[low[i + 1]] if i + 1 < len(low) else 0
        total += -digit if digit < following else digit
    return total


def _finish_stage(value: object, number: int, variant: str | None) -> Stage:
    if not 1 <= number <= 7:
        _stage_error(value, f"{number} is outside the Norwood scale 1-7", "stage-out-of-range")
    problem = _variant_problem(number, variant)
    if problem is not None:
        _stage_error(value, problem, "stage-invalid")
    return Stage(number, variant)


def _split_number(value: object, body: str) -> tuple[int, str, bool, str | None] | None:
    """Split ``body`` into (number, rest, roman, attached variant), or None if no number leads.

    Raises for a run of Roman letters that is not a numeral, because no other reading of it
    could succeed.
    """
    digits = re.match(r"[0-9]+", body)
    if digits is not None:
        return int(digits.group()), body[digits.end() :], False, None
    letters = re.match(r"[ivxIVX]+", body)
    if letters is None:
        return None
    run = letters.group()
    # "IIIvertex": the v belongs to the word, not to the numeral.
    if body[len(run) - 1 :].casefold().startswith("vertex"):
        run = run[:-1]
        if not run:
            return None
    rest = body[len(run) :]
    number = _roman_value(run)
    if number is not None:
        return number, rest, True, None
    head = run[:-1]
    head_value = _roman_value(head)
    if run[-1] in "vV" and head_value is not None:
        # A lower-case v after an upper-case numeral ("IIIv") marks the vertex variant; in one
        # case throughout ("IIIV", "iiiv") it reads as part of the numeral, which is malformed.
        if run[-1].islower() != head[-1].islower():
            return head_value, rest, True, "vertex"
        if head_value == 3:
            _stage_error(
                value,
                f"{run!r} is not a Roman numeral; for the vertex variant write 'III vertex'",
                "stage-invalid",
            )
    _stage_error(value, f"{short_repr(run)} is not a Roman numeral", "stage-invalid")


def _parse_stage_body(value: object, body: str) -> Stage | None:
    """Parse the part after any prefix; None when the text has no stage shape at all."""
    split = _split_number(value, body)
    if split is None:
        return None
    number, rest, roman, variant = split
    if variant is not None:
        return _finish_stage(value, number, variant) if not rest else None
    if not rest:
        return _finish_stage(value, number, None)
    sep = re.match(rf"{_SEP}*", rest)
    separator = sep.group() if sep is not None else ""
    tail = rest[len(separator) :].casefold()
    if tail in {"a", "vertex"}:
        return _finish_stage(value, number, tail)
    if tail == "v":
        if not separator or not roman:
            return _finish_stage(value, number, "vertex")
        if "-" in separator:
            # "III-V" is a range, reported as such by the caller.
            return None
        _stage_error(
            value,
            "a separate 'V' after a Roman numeral could be the vertex variant or stage V; "
            "write 'III vertex' or one stage",
            "stage-invalid",
        )
    return None


def _parse_stage_text(value: object, raw: str) -> Stage:
    text = ascii_digits(unicodedata.normalize("NFKC", raw).strip())
    if not text:
        _stage_error(value, "the stage is missing", "stage-missing")
    if len(text) > _MAX_STAGE_TEXT:
        # Also keeps int() under Python's limit on the digits it converts.
        _stage_error(value, "too long to be a stage", "stage-invalid")
    if _SIGNED_INT_RE.fullmatch(text):
        number = int(text)
        if not 1 <= number <= 7:
            _stage_error(value, f"{number} is outside the Norwood scale 1-7", "stage-out-of-range")
        return Stage(number, None)
    prefix = _STAGE_PREFIX_RE.match(text)
    cut = prefix.end() if prefix is not None else 0
    body = text[cut:]
    # "Stage-3" uses the hyphen as a separator, but in "Stage -3" it is a minus sign.
    if re.search(r"\s-$", text[:cut]) and _SIGNED_INT_RE.fullmatch("-" + body):
        _stage_error(value, f"-{body} is outside the Norwood scale 1-7", "stage-out-of-range")
    if not body:
        _stage_error(value, "there is no stage number after the prefix", "stage-invalid")
    decimal = _DECIMAL_RE.fullmatch(body)
    if decimal is not None:
        if decimal.group(2).strip("0"):
            _stage_error(
                value, "a fractional stage is not a stage; write one whole stage", "stage-invalid"
            )
        return _finish_stage(value, int(decimal.group(1)), None)
    stage = _parse_stage_body(value, body)
    if stage is not None:
        return stage
    if _RANGE_RE.fullmatch(body):
        _stage_error(value, "ranges are not a stage; write one stage", "stage-invalid")
    if _OPEN_RANGE_RE.fullmatch(body):
        _stage_error(value, "open-ended ranges are not a stage; write one stage", "stage-invalid")
    _stage_error(value, "not a Norwood-Hamilton stage", "stage-invalid")


def parse_stage(value: object) -> Stage:
    """Read any spelling of a Norwood-Hamilton stage (text, int or integral float)."""
    if value is None or _is_missing_marker(value):
        _stage_error(value, "the stage is missing", "stage-missing")
    if isinstance(value, bool):
        _stage_error(value, "a boolean is not a stage", "stage-invalid")
    if isinstance(value, str):
        return _parse_stage_text(value, value)
    if isinstance(value, numbers.Integral):
        return _finish_stage(value, int(value), None)
    if isinstance(value, float):
        if math.isnan(value):
            _stage_error(value, "the stage is missing", "stage-missing")
        if math.isinf(value):
            _stage_error(value, "an infinite number is not a stage", "stage-invalid")
        if not value.is_integer():
            _stage_error(
                value, "a fractional stage is not a stage; write one whole stage", "stage-invalid"
            )
        return _finish_stage(value, int(value), None)
    _stage_error(
        value, f"expected text or a whole number, got {type(value).__name__}", "stage-invalid"
    )


_SLASHES = re.compile(r"[/\\]")
_VIEW_NOISE = re.compile(r"[\s_\-]+")


def parse_view(name: str) -> View | None:
    """The view a file name or annotation key names, or None if it names none."""
    return _view_of_base(_SLASHES.split(name)[-1])


@functools.lru_cache(maxsize=128)
def _view_of_base(base: str) -> View | None:
    # Cached: every subject folder repeats the same few file names.
    base = base.strip()
    dot = base.rfind(".")
    if dot > 0 and base[dot:].casefold() in IMAGE_EXTENSIONS:
        base = base[:dot]
    key = _VIEW_NOISE.sub("", unicodedata.normalize("NFKC", base).casefold())
    return _VIEW_ALIASES.get(key)


@functools.lru_cache(maxsize=128)
def is_junk(name: str) -> bool:
    """True for files and folders that operating systems or archivers leave behind (cached:
    every subject folder repeats the same few names)."""
    return any(_junk_part(part) for part in _SLASHES.split(name))


@functools.lru_cache(maxsize=128)
def _junk_part(part: str) -> bool:
    low = part.strip().casefold()
    return low in JUNK_NAMES or low.startswith(_JUNK_PREFIXES)


def _id_error(value: object, reason: str, code: str) -> NoReturn:
    raise LabelError(f"cannot use {short_repr(value)} as a subject id: {reason}", code=code)


def canonical_id(value: object) -> str:
    """One spelling per subject id: 1, "1", "001", " 1 " and 1.0 all become "1".

    An id made only of decimal digits is a number in any script (Arabic-Indic "001" is "1").
    """
    text = _id_text(value)
    if not text:
        _id_error(value, "the id is empty", "record-without-id")
    # Ids become folder names when the dataset is packed or split, so they must be one safe
    # path component.
    if "/" in text or "\\" in text or text in {".", ".."}:
        _id_error(
            value,
            "an id names a folder and cannot contain '/' or '\\' or be '.' or '..'",
            "id-invalid",
        )
    if not text.isprintable():
        _id_error(value, "an id names a folder and cannot contain control characters", "id-invalid")
    if text.isdecimal():
        text = ascii_digits(text).lstrip("0") or "0"
    if len(text) > MAX_ID_LENGTH:
        _id_error(
            value,
            f"an id names a folder and may have at most {MAX_ID_LENGTH} characters",
            "id-invalid",
        )
    return text


def _id_text(value: object) -> str:
    """The id as text (whole numbers written out), or a ``record-without-id`` LabelError."""
    if value is None or _is_missing_marker(value):
        _id_error(value, "the id is missing", "record-without-id")
    if isinstance(value, bool):
        _id_error(value, "a boolean is not an id", "record-without-id")
    if isinstance(value, numbers.Integral):
        if abs(int(value)) >= 10**MAX_ID_LENGTH:
            _id_error(value, f"an id may have at most {MAX_ID_LENGTH} characters", "id-invalid")
        return str(int(value))
    if isinstance(value, float):
        if math.isnan(value):
            _id_error(value, "the id is missing", "record-without-id")
        if math.isinf(value):
            _id_error(value, "an infinite number is not an id", "record-without-id")
        if not value.is_integer():
            _id_error(value, "a fractional number is not an id", "record-without-id")
        return str(int(value))
    if not isinstance(value, str):
        _id_error(
            value,
            f"expected text or a whole number, got {type(value).__name__}",
            "record-without-id",
        )
    return value.strip()


def ascii_digits(text: str) -> str:
    """``text`` with every decimal digit of any script written as its ASCII digit."""
    if text.isascii():
        return text
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)


def readable_name(name: str) -> bool:
    """True when a file name from the OS is valid UTF-8 (no undecodable bytes smuggled in)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


#: The longest subject id (ids name folders; file systems allow 255 bytes).
MAX_ID_LENGTH = 128
#: The longest split name (split names name folders of shards).
MAX_SPLIT_NAME_LENGTH = 64


def check_split_name(name: object) -> str:
    """``name`` when it can name a folder of its own, else a LabelError saying why.

    A split name becomes a path (``pack`` writes ``DIR/<split>/``), so it must be one plain
    path component: text, not empty, no '/' or '\\', not '.' or '..', no leading '.' or '-',
    no control characters, no spaces around it, at most ``MAX_SPLIT_NAME_LENGTH`` characters.
    """
    problem = _split_name_problem(name)
    if problem is not None:
        raise LabelError(
            f"split name {short_repr(name)} {problem}; use letters, digits, '_' and '-', "
            "e.g. train",
            code="split-name-invalid",
        )
    assert isinstance(name, str)
    return name


def _split_name_problem(name: object) -> str | None:
    if not isinstance(name, str):
        return "is not text"
    if not name.strip():
        return "is empty"
    if len(name) > MAX_SPLIT_NAME_LENGTH:
        return f"is longer than {MAX_SPLIT_NAME_LENGTH} characters"
    if "/" in name or "\\" in name:
        return "holds a path separator ('/' or '\\')"
    if name in {".", ".."}:
        return "names a folder's own or parent folder"
    if name.startswith((".", "-")):
        return "starts with '.' or '-' (a hidden file, or an option to other tools)"
    if not name.isprintable():
        return "holds control characters"
    if name != name.strip():
        return "has spaces around it"
    return None


@functools.lru_cache(maxsize=128)
def category_key(value: str) -> str:
    """Key that groups spelling variants of a categorical value ("Caucasians" ~ "caucasian").

    Cached: a column repeats a few spellings over every subject."""
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold()).strip()
    words = re.split(r"[\s_\-]+", text)
    # Only plural "s" is dropped: "ss" ends words like "Swiss" and is never a plural ending.
    return " ".join(
        w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words if w
    )


def id_sort_key(subject_id: str) -> tuple[int, int, str]:
    """Sort subject ids naturally: numbers by value ("2" before "10"), then other ids by text."""
    numeric = subject_id.isascii() and subject_id.isdigit()
    return (0, int(subject_id), "") if numeric else (1, 0, subject_id)
