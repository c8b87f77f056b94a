"""The annotation file's bytes, read safely, as text and (for JSON) as a checked document.

One job: get from a path to values without trusting the file. The path must be a regular file
(never a FIFO, socket, device or folder) that stays inside the dataset root when it lies there
(a link out of the root is refused before it is opened); it is opened without blocking and read
up to ``MAX_ANNOTATION_BYTES``. The text must be UTF-8 (a Latin-1 file is read with an error
finding; UTF-16/32 and NUL bytes are refused). JSON is parsed with repeated keys kept (the first
value wins and each repeat is reported), ``NaN``/``Infinity`` refused, numbers too long to be
values kept as text, nesting bounded and lone surrogates refused, so nothing later meets a value
that cannot be written back out. A refused file's content is never echoed.

An annotation object in a store (a :class:`~norwoodkit.storage.Location`) takes the same path
from its bytes on: the same ceiling (asked of the store before the body is fetched, and checked
on what came), the same decoding and parsing; a store has no links, FIFOs or devices to refuse.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from norwoodkit.errors import AnnotationError, ParameterError
from norwoodkit.findings import Finding, finding
from norwoodkit.paths import inside
from norwoodkit.storage import Location, storage_error

__all__ = [
    "MAX_ANNOTATION_BYTES",
    "MAX_JSON_DEPTH",
    "JsonObject",
    "Repeat",
    "Where",
    "check_regular",
    "parse_json",
    "read_text",
]

#: The largest annotation file read (256 MiB): about a hundred times the biggest delivery seen.
MAX_ANNOTATION_BYTES = 256 * 2**20
#: How deep JSON may nest (records sit two or three levels down; 64 leaves room for extras).
MAX_JSON_DEPTH = 64
#: A JSON escape of a UTF-16 surrogate (paired or not).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
#: Digits in a JSON number kept as a number; longer ones stay text (no id, age or stage is longer).
_MAX_INT_DIGITS = 40

_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}
_RESAVE = "re-save it as UTF-8"

#: Where an annotation file is: a local path, or an object in a store.
Where = Path | Location


def _refuse(path: Where, problem: str, code: str, given: bool) -> ParameterError | AnnotationError:
    """The error for a file refused before reading: about the argument when the user named it."""
    if given:
        return ParameterError("annotations", f"{path}: {problem}", code=code)
    return AnnotationError(f"{path}: {problem}", code=code)


def check_regular(path: Path, root: Where, given: bool) -> None:
    """Refuse ``path`` unless it is a regular file that stays inside ``root`` when it lies there
    (a local file never lies in a store's ``root``).

    Raises:
        ParameterError: (parameter "annotations", when ``given``) or AnnotationError otherwise.
    """
    root_real = os.path.realpath(root) if isinstance(root, Path) else ""
    # Where the name itself lies (its folder resolved, not the name): a link found in the root,
    # or named there, must not lead out of it.
    place = os.path.join(os.path.realpath(path.parent), path.name)
    lies_inside = bool(root_real) and place.startswith(root_real.rstrip(os.sep) + os.sep)
    if lies_inside and not inside(root_real, str(path)):
        raise _refuse(
            path,
            "a link that leads outside the dataset root; it is not opened - copy the "
            "annotation file into the dataset, or name the real file",
            "annotation-escapes-root",
            given,
        )
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise _refuse(
            path, f"cannot read it ({exc.strerror}); check the path", "annotation-unreadable", given
        ) from exc
    if not stat.S_ISREG(mode):
        kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
        raise _refuse(
            path,
            f"is {kind}, not a file; it is not opened - pass the path of the annotation file",
            "annotation-not-file",
            given,
        )


def read_text(path: Where, notes: list[Finding]) -> str:
    """The file's text: UTF-8 (BOM or none), else Latin-1 with an ``annotation-encoding`` note.

    Raises:
        AnnotationError: unreadable, not a regular file, over ``MAX_ANNOTATION_BYTES``, empty,
            UTF-16/32, or holding a NUL byte.
    """
    data = _read_bounded(path) if isinstance(path, Path) else _fetch_bounded(path)
    if not data.strip():
        raise AnnotationError(
            f"{path}: the annotation file is empty; restore it from the dataset delivery",
            code="annotation-empty",
        )
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise AnnotationError(
                f"{path}: the file is {name} (byte-order mark); {_RESAVE}",
                code="annotation-encoding",
            )
    nul = data.find(b"\x00")
    if nul >= 0:
        raise AnnotationError(
            f"{path}: a NUL byte at offset {nul} (UTF-16 without a byte-order mark, or not a "
            f"text file); {_RESAVE}, or name the right file",
            code="annotation-encoding",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        notes.append(
            finding(
                "annotation-encoding",
                f"{path.name}: not valid UTF-8 (byte {exc.start}); read as Latin-1 - check "
                f"accented values, and {_RESAVE}",
                path=path.name,
            )
        )
        return data.decode("latin-1")


def _too_big(path: Where) -> AnnotationError:
    return AnnotationError(
        f"{path}: larger than the {MAX_ANNOTATION_BYTES // 2**20} MiB an annotation file "
        "may have; split it, or check that it is the annotation file",
        code="annotation-too-large",
    )


def _fetch_bounded(where: Location) -> bytes:
    """The bytes of an annotation object, refused before the fetch when the store says it is
    over ``MAX_ANNOTATION_BYTES`` (and after it, should it have grown since)."""
    try:
        size = where.fs.size(where.path)
        if size is not None and size > MAX_ANNOTATION_BYTES:
            raise _too_big(where)
        data = where.fs.cat_file(where.path, start=0, end=MAX_ANNOTATION_BYTES + 1)
    except AnnotationError:
        raise
    except Exception as exc:  # the store's exception, as one message naming the URL
        raise storage_error(exc, where, "read") from None
    if len(data) > MAX_ANNOTATION_BYTES:
        raise _too_big(where)
    return bytes(data)


def _read_bounded(path: Path) -> bytes:
    """At most ``MAX_ANNOTATION_BYTES`` from a regular file, opened so that nothing can block."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(os.path.realpath(path), flags)
    except OSError as exc:
        raise AnnotationError(
            f"{path}: cannot read the annotation file ({exc.strerror}); check its permissions",
            code="annotation-unreadable",
        ) from exc
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        # Checked again on the open file: the path may have been swapped since check_regular.
        if not stat.S_ISREG(st.st_mode):
            raise AnnotationError(
                f"{path}: not a regular file; pass the path of the annotation file",
                code="annotation-not-file",
            )
        too_big = _too_big(path)
        if st.st_size > MAX_ANNOTATION_BYTES:
            raise too_big
        try:
            # The size fstat gave and one byte more (to meet the end at once), then the rest of
            # a file that grew, up to the limit: never a buffer of the limit's size up front.
            data = fh.read(st.st_size + 1)
            if len(data) > st.st_size:
                data += fh.read(MAX_ANNOTATION_BYTES + 1 - len(data))
        except OSError as exc:
            raise AnnotationError(
                f"{path}: cannot read the annotation file ({exc.strerror})",
                code="annotation-unreadable",
            ) from exc
    if len(data) > MAX_ANNOTATION_BYTES:
        raise too_big
    return data


# --------------------------------------------------------------------------- JSON


class JsonObject(dict[str, Any]):
    """A JSON object whose first value per key is kept; ``entries()`` gives every entry as
    written, repeats included.

    Only an object that repeats a key keeps its list of entries (``pairs``): for the others it
    is the dict's own items, and keeping a second copy of every record's entries would cost
    megabytes on a large annotation file.
    """

    __slots__ = ("pairs",)
    pairs: list[tuple[str, Any]] | None

    def entries(self) -> list[tuple[str, Any]]:
        """Every entry as written, in order, repeats included."""
        return self.pairs if self.pairs is not None else list(self.items())


@dataclass(frozen=True)
class Repeat:
    """A key written twice in one JSON object: where the object is, and the object."""

    where: str
    key: str
    obj: dict[str, Any]


def _object(pairs: list[tuple[str, Any]]) -> JsonObject:
    obj = JsonObject()
    for key, value in pairs:
        obj.setdefault(key, value)
    obj.pairs = pairs if len(obj) != len(pairs) else None
    return obj


def _number(text: str) -> int | str:
    # Python refuses to convert over 4,300 digits (ValueError); no real value is that long.
    return int(text) if len(text.lstrip("-")) <= _MAX_INT_DIGITS else text


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(path: Where, text: str) -> tuple[Any, list[Repeat]]:
    """The document, and every key an object repeats (in document order).

    Raises:
        AnnotationError: not JSON (NaN and Infinity included), nested deeper than
            ``MAX_JSON_DEPTH``, or text holding a lone surrogate.
    """
    fix = "fix the file or name the right one"
    try:
        doc = json.loads(
            text, object_pairs_hook=_object, parse_int=_number, parse_constant=_constant
        )
    except json.JSONDecodeError as exc:
        raise AnnotationError(
            f"{path}: not valid JSON at line {exc.lineno} column {exc.colno} ({exc.msg}); {fix}",
            code="annotation-not-json",
        ) from exc
    except RecursionError:
        _too_deep(path, "the file")
    except ValueError as exc:
        raise AnnotationError(
            f"{path}: not valid JSON ({exc}); write null for a missing value",
            code="annotation-not-json",
        ) from exc
    # A value can hold a lone surrogate only from a \uD800-\uDFFF escape, or from the text
    # itself: without either, no value needs the check.
    return doc, _check_document(path, doc, texts=_may_hold_surrogates(text))


def _may_hold_surrogates(text: str) -> bool:
    if _SURROGATE_ESCAPE.search(text) is not None:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _too_deep(path: Where, where: str) -> NoReturn:
    raise AnnotationError(
        f"{path}: {where} nests deeper than {MAX_JSON_DEPTH} levels; an annotation holds "
        "records of plain values - fix the file or name the right one",
        code="annotation-too-deep",
    )


#: Where a value sits in the document: "$", or (where its container sits, its index or key).
#: Rendered as text (``$['records'][3]``) only for a message.
_At = str | tuple[Any, Any]


def _at_text(at: _At) -> str:
    parts: list[Any] = []
    while not isinstance(at, str):
        at, part = at
        parts.append(part)
    return at + "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in reversed(parts))


def _check_document(path: Where, doc: Any, texts: bool = True) -> list[Repeat]:
    """Walk ``doc`` without recursion: bounded depth, no lone surrogates (when ``texts``);
    collect repeats."""
    repeats: list[Repeat] = []
    stack: list[tuple[Any, _At, int]] = [(doc, "$", 0)]
    while stack:
        value, at, depth = stack.pop()
        if isinstance(value, str):
            if texts:
                _check_text(path, value, at)
        elif isinstance(value, (dict, list)):
            if depth >= MAX_JSON_DEPTH:
                _too_deep(path, _at_text(at))
            if isinstance(value, list):
                stack.extend((v, (at, i), depth + 1) for i, v in enumerate(value))
                continue
            pairs = value.entries() if isinstance(value, JsonObject) else list(value.items())
            if len(pairs) != len(value):  # a key written twice
                seen: set[str] = set()
                for key, _ in pairs:
                    if key in seen:
                        repeats.append(Repeat(_at_text(at), key, value))
                    seen.add(key)
            for key, item in pairs:
                if texts:
                    _check_text(path, key, at)
                stack.append((item, (at, key) if len(key) < 40 else at, depth + 1))
    return repeats


def _check_text(path: Where, text: str, at: _At) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise AnnotationError(
            f"{path}: a text at {_at_text(at)} holds a lone UTF-16 surrogate escape "
            "(\\ud800-\\udfff), which no UTF-8 output can hold; fix the escape",
            code="annotation-not-json",
        ) from None
