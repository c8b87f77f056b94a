"""The resume state's one layout, without torch: round trips and what it refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest

from norwoodkit.errors import InputError
from norwoodkit.loader.state import STATE_FORMAT, LoaderState

CONFIG: dict[str, Any] = {
    "shuffle": True,
    "shuffle_buffer": 8,
    "uneven": "pad",
    "units": 12,
    "rows": 130,
}


def state(**changes: Any) -> dict[str, Any]:
    base = LoaderState(
        split="train",
        epoch=2,
        seed=4,
        config=dict(CONFIG),
        readers=4,
        position={0: 10, 3: 7},
        yielded={0: 9, 3: 7},
    ).to_dict()
    return base | changes


def load(doc: Any) -> LoaderState:
    return LoaderState.from_dict(doc, split="train", config=CONFIG)


def test_layout_is_the_documented_one() -> None:
    doc = state()
    assert list(doc) == [
        "format",
        "split",
        "epoch",
        "seed",
        "config",
        "readers",
        "position",
        "yielded",
    ]
    assert doc["format"] == STATE_FORMAT


def test_round_trip_through_json() -> None:
    back = load(json.loads(json.dumps(state())))  # reader keys come back as strings
    assert back == load(state())
    assert back.resume() == {0: (10, 9), 3: (7, 7)}
    assert (back.epoch, back.seed, back.readers) == (2, 4, 4)


def test_yielded_defaults_to_position() -> None:
    assert load(state(yielded={})).resume() == {0: (10, 10), 3: (7, 7)}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format": STATE_FORMAT + 1}, "newer norwoodkit"),
        ({"split": "test"}, "for split 'test', this dataset reads 'train'"),
        ({"config": CONFIG | {"shuffle_buffer": 9}}, "same shards and options"),
    ],
)
def test_other_format_split_or_options_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        load(state(**changes))


@pytest.mark.parametrize("broken", [{}, {"position": [1, 2]}, {"epoch": "two"}, {"readers": "x"}])
def test_not_a_state(broken: dict[str, Any]) -> None:
    doc = state(**broken) if broken else {"format": 1}
    with pytest.raises(InputError, match="not a ShardDataset state") as info:
        load(doc)
    assert info.value.code == "state-invalid"
