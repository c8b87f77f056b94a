"""The ``--quality-thresholds`` file: thresholds set by hand, per measure and optionally per
view, read from JSON or YAML and checked key by key."""

from __future__ import annotations

import json
import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from norwoodkit.errors import InputError
from norwoodkit.labels import VIEWS
from norwoodkit.quality.measures import MEASURES, OTHER_VIEW, Measure, Side

#: The most a threshold file may hold on disk (a real one is a few hundred bytes).
MAX_BYTES = 64 * 1024

#: The key that holds per-view thresholds.
VIEWS_KEY = "views"

#: View names a threshold file may use: the five views, and ``other`` (files named no view).
VIEW_NAMES = (*(v.value for v in VIEWS), OTHER_VIEW)

_EXAMPLE = "sharpness: {min: 40}, or per view: views: {top: {sharpness: {min: 25}}}"


@dataclass(frozen=True)
class Overrides:
    """Thresholds set by hand: (view or None for every view, measure, side) -> value."""

    values: dict[tuple[str | None, str, Side], float] = field(default_factory=dict)
    source: str = ""

    def get(self, view: str, measure: str, side: Side) -> float | None:
        """The threshold set for ``view`` (or, failing that, for every view), else None."""
        own = self.values.get((view, measure, side))
        return own if own is not None else self.values.get((None, measure, side))


def read_thresholds(
    path: str | os.PathLike[str], parameter: str = "quality_thresholds"
) -> Overrides:
    """Thresholds from a JSON (``.json``) or YAML file.

    Raises:
        InputError: the file is missing, not a regular file, too large, not UTF-8, not valid
            JSON/YAML, or holds an unknown measure, view or side, a value that is not a number
            or one outside the measure's range; the message names the key and a valid example.
    """
    p = Path(path)
    doc = _parse(p, _read_small(p, parameter), parameter)
    if doc is None:
        return Overrides(source=p.name)
    if not isinstance(doc, dict):
        raise _bad(p, parameter, "", "is not a mapping of measures")
    values: dict[tuple[str | None, str, Side], float] = {}
    for key, body in doc.items():
        if key == VIEWS_KEY:
            _views(p, parameter, body, values)
        else:
            _measure(p, parameter, None, key, body, values)
    return Overrides(values=values, source=p.name)


def _views(
    p: Path, parameter: str, body: Any, values: dict[tuple[str | None, str, Side], float]
) -> None:
    if not isinstance(body, dict):
        raise _bad(p, parameter, VIEWS_KEY, "is not a mapping of view names")
    for view, measures in body.items():
        if view not in VIEW_NAMES:
            raise _bad(
                p,
                parameter,
                f"{VIEWS_KEY}.{view}",
                f"is not a view (use one of {', '.join(VIEW_NAMES)})",
            )
        if not isinstance(measures, dict):
            raise _bad(p, parameter, f"{VIEWS_KEY}.{view}", "is not a mapping of measures")
        for key, sides in measures.items():
            _measure(p, parameter, str(view), key, sides, values)


def _measure(
    p: Path,
    parameter: str,
    view: str | None,
    key: Any,
    body: Any,
    values: dict[tuple[str | None, str, Side], float],
) -> None:
    where = f"{VIEWS_KEY}.{view}.{key}" if view else str(key)
    measure = MEASURES.get(str(key)) if isinstance(key, str) else None
    if measure is None:
        raise _bad(
            p,
            parameter,
            where,
            f"is not a measure (use {', '.join(MEASURES)}, or '{VIEWS_KEY}')",
        )
    if not isinstance(body, dict) or not body:
        problem = "is not a mapping of 'min' and/or 'max' to numbers"
        raise _bad(p, parameter, where, problem, measure.example)
    for side_key, value in body.items():
        side = next((s for s in measure.codes if s.value == side_key), None)
        sides = " or ".join(f"'{s.value}'" for s in measure.codes)
        if side is None:
            problem = f"is not a side of {key} (use {sides})"
            raise _bad(p, parameter, f"{where}.{side_key}", problem, measure.example)
        here = f"{where}.{side_key}"
        values[(view, measure.name, side)] = _number(p, parameter, here, measure, value)


def _number(p: Path, parameter: str, where: str, measure: Measure, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad(p, parameter, where, f"{str(value)[:40]!r} is not a number", measure.example)
    number = float(value)
    lo, hi = measure.valid
    inside = math.isfinite(number) and lo <= number <= hi
    if measure.log:
        inside = inside and number > 0  # a log-scale measure has no threshold at 0
    if not inside:
        span = "above 0" if hi == math.inf else f"within {lo:g}..{hi:g}"
        problem = f"{number:g} is outside the measure's range ({span})"
        raise _bad(p, parameter, where, problem, measure.example)
    return number


def _parse(p: Path, text: str, parameter: str) -> Any:
    if p.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno} column {exc.colno}"
            raise _bad(p, parameter, "", f"is not valid JSON at {where} ({exc.msg})") from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise _bad(p, parameter, "", f"is not valid YAML{where} ({exc.problem})") from None
    except yaml.YAMLError:
        raise _bad(p, parameter, "", "is not valid YAML") from None


def _read_small(p: Path, parameter: str) -> str:
    """A regular file's UTF-8 text, at most ``MAX_BYTES`` (never a FIFO or a device)."""
    try:
        st = os.stat(p)
    except OSError:
        raise InputError(
            f"{p}: no such file; give a JSON or YAML threshold file, e.g. {_EXAMPLE}",
            code="input-missing",
            parameter=parameter,
        ) from None
    if not stat.S_ISREG(st.st_mode):
        raise _bad(p, parameter, "", "is not a regular file")
    if st.st_size > MAX_BYTES:
        raise _bad(p, parameter, "", f"is larger than {MAX_BYTES // 1024} KiB")
    try:
        with open(p, "rb") as fh:
            return fh.read(MAX_BYTES + 1).decode("utf-8-sig")
    except OSError as exc:
        raise _bad(p, parameter, "", f"cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise _bad(p, parameter, "", "is not UTF-8 text") from None


def _bad(p: Path, parameter: str, key: str, problem: str, example: str = _EXAMPLE) -> InputError:
    what = f"key {key!r} {problem}" if key else f"the file {problem}"
    return InputError(
        f"{p}: {what}; write e.g. {example}",
        code="quality-thresholds-invalid",
        parameter=parameter,
    )
