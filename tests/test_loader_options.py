"""The loader's option checks and bad-image policy, without torch: each names what is wrong."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from norwoodkit.errors import InputError, ParameterError
from norwoodkit.loader.badimage import HANDLERS, ImagePlace, raise_bad_image, skip_bad_image
from norwoodkit.loader.options import (
    check_choice,
    check_options,
    check_output,
    parse_size,
)

GOOD: dict[str, Any] = {
    "uneven": "pad",
    "decode": "cpu",
    "on_bad_image": "raise",
    "seed": 0,
    "buffer": 512,
}


@pytest.mark.parametrize(
    ("changes", "parameter"),
    [
        ({"uneven": "even"}, "uneven"),
        ({"decode": "gpu"}, "decode"),
        ({"on_bad_image": "warn"}, "on_bad_image"),
        ({"seed": -1}, "seed"),
        ({"buffer": -2}, "shuffle_buffer"),
    ],
)
def test_bad_option_names_its_parameter(changes: dict[str, Any], parameter: str) -> None:
    check_options(**GOOD)
    with pytest.raises(ParameterError) as info:
        check_options(**(GOOD | changes))
    assert info.value.parameter == parameter
    assert str(info.value).startswith(f"{parameter}: ")


def test_choice_lists_the_choices() -> None:
    with pytest.raises(ParameterError) as info:
        check_choice("uneven", "even")
    assert str(info.value) == "uneven: 'even' is not a choice; use one of 'pad', 'drop'"


@pytest.mark.parametrize(
    ("size", "want"), [(None, None), (32, (32, 32)), ((40, 56), (40, 56)), ([7, 9], (7, 9))]
)
def test_parse_size(size: Any, want: tuple[int, int] | None) -> None:
    assert parse_size(size) == want


@pytest.mark.parametrize("size", [0, (0, 4), (1, 2, 3), (5,)])
def test_bad_size_names_size(size: Any) -> None:
    with pytest.raises(ParameterError) as info:
        parse_size(size)
    assert info.value.parameter == "size"


@pytest.mark.parametrize(
    ("size", "transform", "decode", "layout", "parameter"),
    [
        (None, False, "cuda", "image", "size"),
        ((8, 8), True, "cuda", "image", "transform"),
        (None, False, "cpu", "subject", "size"),
    ],
)
def test_output_that_cannot_be_made(
    size: tuple[int, int] | None, transform: bool, decode: Any, layout: str, parameter: str
) -> None:
    with pytest.raises(ParameterError) as info:
        check_output(size, transform=transform, decode=decode, layout=layout)
    assert info.value.parameter == parameter
    check_output((8, 8), transform=False, decode=decode, layout=layout)
    check_output(None, transform=True, decode="cpu", layout="subject")


PLACE = ImagePlace(Path("shards"), "train/train-00000-of-00002.parquet", 1, 3, "17", "17/top.jpg")


def test_place_names_shard_row_group_row_subject_and_path() -> None:
    where = str(PLACE)
    assert where == (
        "shards/train/train-00000-of-00002.parquet row group 1 row 3 (subject 17, 17/top.jpg)"
    )
    view = ImagePlace(Path("s"), "a.parquet", 0, 2, "9", view="left")
    assert str(view) == "s/a.parquet row group 0 row 2 (subject 9, view left)"


def test_one_handler_per_policy(caplog: pytest.LogCaptureFixture) -> None:
    assert {"raise": raise_bad_image, "skip": skip_bad_image} == HANDLERS
    with pytest.raises(InputError) as info:
        HANDLERS["raise"](PLACE, OSError("truncated"))
    assert info.value.code == "image-undecodable-in-shard"
    msg = str(info.value)
    assert msg.startswith(str(PLACE)) and "OSError: truncated" in msg
    assert "norwoodkit verify shards --decode" in msg and "on_bad_image='skip'" in msg
    with caplog.at_level(logging.WARNING, logger="norwoodkit.loader"):
        HANDLERS["skip"](PLACE, OSError("truncated"))
    assert f"{PLACE}: cannot be decoded (truncated); skipped" in caplog.text
