"""text: the shared message helpers keep the wording their call sites had."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from norwoodkit.text import cell_text, few


def test_few_lists_everything_up_to_the_limit() -> None:
    assert few([]) == ""
    assert few(["3"]) == "3"
    assert few([str(i) for i in range(10)]) == "0, 1, 2, 3, 4, 5, 6, 7, 8, 9"


def test_few_counts_the_rest() -> None:
    ids = [str(i) for i in range(1, 13)]
    assert few(ids) == "1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 2 more"
    assert few(ids, limit=8) == "1, 2, 3, 4, 5, 6, 7, 8 and 4 more"
    assert few(iter([1, 2, 3]), limit=2) == "1, 2 and 1 more"  # any iterable, any item type


def test_cell_text_missing_cells_are_none() -> None:
    for missing in (None, pd.NA, math.nan, np.float64("nan")):
        assert cell_text(missing) is None
    column = pd.Series(["a", None], dtype="string")
    assert [cell_text(v) for v in column.tolist()] == ["a", None]


def test_cell_text_keeps_values_as_text() -> None:
    assert cell_text("JPEG") == "JPEG"
    assert cell_text("") == ""
    assert cell_text(6) == "6"
    assert cell_text(np.int64(3)) == "3"
    assert cell_text(2.5) == "2.5"
