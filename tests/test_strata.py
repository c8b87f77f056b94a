"""Tests for norwoodkit.strata: one vocabulary of age bins and stage labels for every command."""

from __future__ import annotations

import pandas as pd
import pytest

from norwoodkit import split, stats, strata
from norwoodkit.errors import ParameterError
from norwoodkit.strata import (
    AGE_BINS,
    MISSING,
    OUT_OF_RANGE,
    STAGE_LABELS,
    age_bin_labels,
    age_bin_order,
    label_key,
    parse_age_bins,
    sorted_labels,
    stage_labels,
    stratum_column,
    stratum_labels,
)


def test_every_command_uses_the_one_vocabulary() -> None:
    # Re-exported, not copied: a second definition is how the age bins drifted once.
    for module in (split, stats):
        assert module.age_bin_labels is strata.age_bin_labels
        assert module.AGE_BINS is strata.AGE_BINS
        assert module.MISSING is strata.MISSING
    assert stats.parse_age_bins is strata.parse_age_bins
    assert stats.STAGE_LABELS is strata.STAGE_LABELS


def test_missing_and_out_of_range_are_apart() -> None:
    ages = pd.Series([17, 200, None, "abc", 18, 80, 80.5, 81], index=list("abcdefgh"))
    got = age_bin_labels(ages)
    assert got.tolist() == [
        OUT_OF_RANGE,
        OUT_OF_RANGE,
        MISSING,
        MISSING,
        "18-29",
        "60-80",
        "60-80",
        OUT_OF_RANGE,
    ]
    assert list(got.index) == list("abcdefgh") and got.dtype == "string"
    bins = parse_age_bins("18-39,40-80")
    assert age_bin_labels(pd.Series([39, 40, 10]), bins).tolist() == [
        "18-39",
        "40-80",
        OUT_OF_RANGE,
    ]
    assert age_bin_order(bins) == ["18-39", "40-80", OUT_OF_RANGE, MISSING]
    assert age_bin_order()[0] == "18-29" and len(age_bin_order()) == len(AGE_BINS) + 2


def test_stage_and_other_labels() -> None:
    stages = pd.Series([3, None, 7], dtype="Int64")
    assert stage_labels(stages).tolist() == ["3", MISSING, "7"]
    assert STAGE_LABELS[-1] == MISSING and STAGE_LABELS[0] == "1"
    # A float column with gaps holds whole numbers: labelled like integers.
    assert stratum_labels(pd.Series([1.0, None, 2.0])).tolist() == ["1", MISSING, "2"]
    assert stratum_labels(pd.Series([1.5, None])).tolist() == ["1.5", MISSING]
    table = pd.DataFrame({"age": [25, 300], "stage": [1, 2]})
    derived = stratum_column(table, "age_bin")
    assert derived is not None and derived.tolist() == ["18-29", OUT_OF_RANGE]
    assert stratum_column(table, "ethnicity") is None


def test_labels_sort_naturally_with_the_odd_ones_last() -> None:
    labels = ["missing", "10", "out of range", "2", "30-39", "18-29", "asian"]
    assert sorted(labels, key=label_key) == [
        "2",
        "10",
        "18-29",
        "30-39",
        "asian",
        "out of range",
        "missing",
    ]
    assert sorted_labels(pd.Series(["b", "a", "b", MISSING])) == ["a", "b", MISSING]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "at least one bin"),
        ("18-29,abc", "cannot read 'abc'"),
        ("30-18", "ends before it starts"),
        ("18-40,30-50", "overlap"),
        ("40-49,18-29", "out of order"),
    ],
)
def test_bad_age_bins_name_the_parameter(text: str, words: str) -> None:
    with pytest.raises(ParameterError, match=words) as info:
        parse_age_bins(text)
    assert info.value.code == "usage"
    assert info.value.parameter == "age_bins"
    assert "--" not in info.value.problem
