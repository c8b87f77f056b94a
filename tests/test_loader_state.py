"""The resume state's one layout, without torch: round trips and what it refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest

from norwoodkit.errors import InputError
from norwoodkit.loader.partition import Segment
from norwoodkit.loader.state import STATE_FORMAT, LoaderState, Progress

CONFIG: dict[str, Any] = {
    "shuffle": True,
    "shuffle_buffer": 8,
    "uneven": "pad",
    "units": 12,
    "rows": 130,
}
EXPECT = LoaderState(split="train", dataset="ab" * 32, epoch=0, seed=4, config=dict(CONFIG))


def state(**changes: Any) -> dict[str, Any]:
    base = LoaderState(
        split="train",
        dataset="ab" * 32,
        epoch=2,
        seed=4,
        config=dict(CONFIG),
        world_size=2,
        num_workers=2,
        position={0: 10, 3: 7},
        yielded={0: 9, 3: 7},
        done=(Segment(1, 3, {0: 4, 1: 4, 2: 3}),),
    ).to_dict()
    return base | changes


def load(doc: Any) -> LoaderState:
    return LoaderState.from_dict(doc, expect=EXPECT)


def test_layout_is_the_documented_one() -> None:
    doc = state()
    assert list(doc) == [
        "format",
        "split",
        "dataset",
        "epoch",
        "seed",
        "config",
        "done",
        "world_size",
        "num_workers",
        "position",
        "yielded",
    ]
    assert doc["format"] == STATE_FORMAT == 2
    assert doc["done"] == [{"world_size": 1, "num_workers": 3, "position": {0: 4, 1: 4, 2: 3}}]


def test_round_trip_through_json() -> None:
    back = load(json.loads(json.dumps(state())))  # reader keys come back as strings
    assert back == load(state())
    assert back.resume() == {0: (10, 9), 3: (7, 7)}
    assert (back.epoch, back.seed, back.world_size, back.num_workers) == (2, 4, 2, 2)
    assert back.done == (Segment(1, 3, {0: 4, 1: 4, 2: 3}),)


def test_yielded_defaults_to_position() -> None:
    assert load(state(yielded={})).resume() == {0: (10, 10), 3: (7, 7)}


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"format": STATE_FORMAT + 1}, ["format 3", "newer norwoodkit", "upgrade"]),
        ({"format": 1}, ["format 1", "older norwoodkit", "set_epoch"]),
        ({"split": "test"}, ["split 'test'", "reads 'train'"]),
        ({"dataset": "cd" * 32}, ["another pack", "cdcdcdcdcdcd", "ababababab", "pack folder"]),
        ({"seed": 5}, ["seed 5", "has seed 4", "seed=5"]),
        ({"config": CONFIG | {"shuffle_buffer": 9}}, ["shuffle_buffer=9", "(this dataset: 8)"]),
    ],
)
def test_another_format_split_pack_seed_or_options_is_refused_naming_it(
    changes: dict[str, Any], words: list[str]
) -> None:
    with pytest.raises(InputError) as info:
        load(state(**changes))
    for w in words:
        assert w in str(info.value)


@pytest.mark.parametrize(
    "broken",
    [
        None,
        [1, 2],
        {"format": 2},
        {"format": "2"},
        {"position": [1, 2]},
        {"position": {"zero": 1}},
        {"position": {0: -1}},
        {"epoch": "two"},
        {"epoch": 1.5},
        {"world_size": 0},
        {"world_size": None},
        {"done": [{"world_size": 1}]},
        {"done": "x"},
    ],
)
def test_a_corrupt_state_is_refused(broken: Any) -> None:
    doc = state(**broken) if isinstance(broken, dict) and "format" not in broken else broken
    with pytest.raises(InputError, match="not a ShardDataset state") as info:
        load(doc)
    assert info.value.code == "state-invalid"


def test_progress_continues_on_the_same_layout_and_closes_the_segment_on_another() -> None:
    progress = Progress()
    progress.load(load(state(position={r: 5 for r in range(4)}, yielded={})))
    done, at = progress.start(2, 2)
    assert len(done) == 1 and at[3] == (5, 5)
    done, at = progress.start(1, 3)
    assert at == {} and done[-1] == Segment(2, 2, {r: 5 for r in range(4)})


def test_resuming_on_other_readers_needs_every_reader() -> None:
    progress = Progress()
    progress.load(load(state()))
    with pytest.raises(InputError, match=r"readers 1-2 of 4 are missing") as info:
        progress.start(1, 1)
    assert "state_after_batches" in str(info.value)
