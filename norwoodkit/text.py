"""Small text helpers that messages share: a few items of a long list, a table cell as text.

Each was written more than once across the package; one home keeps the wording the same.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd

__all__ = ["cell_text", "few"]


def few(items: Iterable[object], limit: int = 10) -> str:
    """The first ``limit`` items, comma-separated, then "and N more" for the rest."""
    shown = [str(item) for item in items]
    rest = len(shown) - limit
    return ", ".join(shown[:limit]) + (f" and {rest} more" if rest > 0 else "")


def cell_text(value: object) -> str | None:
    """A table cell as text; None for a missing cell (None, pandas NA, NaN)."""
    if type(value) is str:  # most cells: no test below can match
        return value
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)
