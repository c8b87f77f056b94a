"""The resume state: one frozen dataclass and its dict form (``state_dict`` / ``load_state_dict``).

Each reader counts the positions of its run it has passed (``position``) and the samples it has
yielded (``yielded``; they differ only when a bad image was skipped). With the epoch, the seed,
the readers' layout, the options that shape the plan and the segments read earlier in the epoch
by other layouts (``done``), that is enough to rebuild exactly which samples were passed, on
any number of readers. The dict form survives JSON (reader keys come back as strings) and
torch.save. ``dataset`` (the split's shards, by their manifest sha256) ties a state to the pack
it was saved from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from norwoodkit.errors import InputError
from norwoodkit.loader.partition import Segment

__all__ = ["STATE_FORMAT", "LoaderState", "Progress"]

STATE_FORMAT = 2


@dataclass(frozen=True)
class LoaderState:
    """Where each reader of one epoch stands; ``format`` is the layout's version."""

    split: str
    dataset: str
    epoch: int
    seed: int
    config: dict[str, Any]
    world_size: int | None = None
    num_workers: int | None = None
    position: dict[int, int] = field(default_factory=dict)
    yielded: dict[int, int] = field(default_factory=dict)
    done: tuple[Segment, ...] = ()
    format: int = STATE_FORMAT

    def to_dict(self) -> dict[str, Any]:
        """The state as ``state_dict()`` returns it."""
        return {
            "format": self.format,
            "split": self.split,
            "dataset": self.dataset,
            "epoch": self.epoch,
            "seed": self.seed,
            "config": dict(self.config),
            "done": [
                {
                    "world_size": s.world_size,
                    "num_workers": s.num_workers,
                    "position": dict(s.position),
                }
                for s in self.done
            ],
            "world_size": self.world_size,
            "num_workers": self.num_workers,
            "position": dict(self.position),
            "yielded": dict(self.yielded),
        }

    @classmethod
    def from_dict(cls, state: Any, *, expect: LoaderState) -> LoaderState:
        """Read a ``state_dict()`` for the dataset ``expect`` describes (split, pack, seed,
        options); what differs is named in the error.

        Raises:
            InputError: another or newer format, split, pack, seed or options; not a state.
        """
        if not isinstance(state, Mapping):
            raise _invalid(f"a {type(state).__name__}, not a dict")
        _check_format(state.get("format"))
        for key in ("split", "dataset", "seed", "config"):
            if key not in state:
                raise _invalid(f"no {key!r}")
            if state[key] != getattr(expect, key):
                raise InputError(_differs(key, state[key], expect), code="state-mismatch")
        try:
            done = tuple(_segment(s) for s in state["done"])
            world, workers = state["world_size"], state["num_workers"]
            position = _counts(state["position"])
            yielded = _counts(state["yielded"])
            epoch = _whole(state["epoch"])
            if (world is None) != (workers is None) or (world is None and position):
                raise ValueError("world_size and num_workers go together with positions")
            loaded = cls(
                split=expect.split,
                dataset=expect.dataset,
                epoch=epoch,
                seed=expect.seed,
                config=dict(expect.config),
                world_size=None if world is None else _positive(world),
                num_workers=None if workers is None else _positive(workers),
                position=position,
                yielded={r: yielded.get(r, p) for r, p in position.items()},
                done=done,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _invalid(str(exc)) from exc
        return loaded

    def resume(self) -> dict[int, tuple[int, int]]:
        """Reader -> (positions passed, samples yielded) in the current segment."""
        return {r: (p, self.yielded[r]) for r, p in self.position.items()}


def _check_format(value: Any) -> None:
    """Refuse a state of another layout version, saying what to do instead."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid(f"format {value!r} is not a version number")
    if value > STATE_FORMAT:
        raise InputError(
            f"the loader state has format {value}, written by a newer norwoodkit (this one "
            f"reads format {STATE_FORMAT}); upgrade norwoodkit to resume it",
            code="state-format",
        )
    if value < STATE_FORMAT:
        raise InputError(
            f"the loader state has format {value}, written by an older norwoodkit whose epoch "
            "partition differs, so its positions name other samples; finish that epoch with "
            "the version that saved it, or start the next epoch (set_epoch) with this one",
            code="state-format",
        )


def _differs(key: str, saved: Any, expect: LoaderState) -> str:
    """The message for a state saved by another dataset: what differs and the fix."""
    fixes = {
        "split": f"it is for split {saved!r}, this dataset reads {expect.split!r}",
        "dataset": (
            f"it was saved from another pack (split {expect.split!r} with shards digest "
            f"{str(saved)[:12]}..., this folder's is {expect.dataset[:12]}...); resume from "
            "the pack folder the state was saved with"
        ),
        "seed": f"it was saved with seed {saved!r}, this dataset has seed {expect.seed}; "
        f"construct it with seed={saved!r}",
        "config": _config_differs(saved, expect.config),
    }
    return "the loader state does not fit this dataset: " + fixes[key]


def _config_differs(saved: Any, config: Mapping[str, Any]) -> str:
    if not isinstance(saved, Mapping):
        return f"its config is {saved!r}, not a dict"
    keys = sorted(set(saved) | set(config))
    named = ", ".join(
        f"{k}={saved.get(k)!r} (this dataset: {config.get(k)!r})"
        for k in keys
        if saved.get(k) != config.get(k)
    )
    return f"it was saved with {named}; construct the dataset with the same options"


def _invalid(detail: str) -> InputError:
    return InputError(
        f"not a ShardDataset state ({detail}); pass what ShardDataset.state_dict() returned",
        code="state-invalid",
    )


def _whole(value: Any) -> int:
    """A non-negative int (a bool or a float is refused, not rounded)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{value!r} is not a count")
    return value


def _positive(value: Any) -> int:
    if _whole(value) == 0:
        raise ValueError("a reader count of 0")
    return int(value)


def _counts(value: Any) -> dict[int, int]:
    """Reader -> count; reader keys may be strings (JSON)."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{value!r} is not a dict of reader counts")
    return {_whole(int(k)): _whole(v) for k, v in value.items()}


def _segment(value: Any) -> Segment:
    if not isinstance(value, Mapping):
        raise TypeError(f"{value!r} is not a segment")
    return Segment(
        world_size=_positive(value["world_size"]),
        num_workers=_positive(value["num_workers"]),
        position=_counts(value["position"]),
    )


class Progress:
    """What one copy of the dataset has read this epoch, and where a loaded state resumes it.

    ``start`` decides, for the readers' layout of this run, the segments already read (``done``)
    and each reader's (position, yielded) in the current one: the same layout as the saved one
    continues its runs; another layout closes the saved segment and starts a new one.
    """

    def __init__(self) -> None:
        self.loaded: LoaderState | None = None
        self.done: tuple[Segment, ...] = ()
        self.layout: tuple[int, int] | None = None
        self.counts: dict[int, list[int]] = {}  # reader -> [position, yielded]

    def reset(self) -> None:
        """Forget the loaded state and the counts (a new epoch)."""
        self.loaded, self.done, self.layout, self.counts = None, (), None, {}

    def load(self, state: LoaderState) -> None:
        """Resume from ``state`` at the next ``start``."""
        self.loaded = state
        self.done = state.done
        self.layout = (
            None if state.world_size is None else (state.world_size, state.num_workers or 1)
        )
        self.counts = {r: [p, y] for r, (p, y) in state.resume().items()}

    def start(
        self, world_size: int, num_workers: int
    ) -> tuple[tuple[Segment, ...], dict[int, tuple[int, int]]]:
        """The segments already read and each reader's (position, yielded) for this layout.

        Raises:
            InputError: the saved layout differs and the state lacks some of its readers.
        """
        st = self.loaded
        if st is None:
            return (), {}
        if st.world_size is None or st.num_workers is None:
            return st.done, {}
        if (st.world_size, st.num_workers) == (world_size, num_workers):
            return st.done, st.resume()
        readers = st.world_size * st.num_workers
        missing = sorted(set(range(readers)) - set(st.position))
        if missing:
            raise InputError(
                f"the loader state was saved by {st.world_size} ranks x {st.num_workers} "
                f"workers and this run has {world_size} x {num_workers}; resuming on other "
                f"readers needs every reader's position, and readers {_ranges(missing)} of "
                f"{readers} are missing. Merge every rank's state_dict() (the union of their "
                "'position' and 'yielded'), or use state_after_batches()",
                code="state-incomplete",
            )
        saved = Segment(st.world_size, st.num_workers, dict(st.position))
        return (*st.done, saved), {}

    def begin(
        self,
        world_size: int,
        num_workers: int,
        done: tuple[Segment, ...],
        reader: int,
        at: tuple[int, int],
    ) -> list[int]:
        """Record that ``reader`` reads from ``at``; the returned list is counted up in place."""
        self.done = done
        self.layout = (world_size, num_workers)
        counts = [at[0], at[1]]
        self.counts = {reader: counts}
        return counts

    def state(self, expect: LoaderState) -> LoaderState:
        """The state now, in the dataset ``expect`` describes."""
        ordered = sorted(self.counts.items())
        world, workers = self.layout if self.layout else (None, None)
        return LoaderState(
            split=expect.split,
            dataset=expect.dataset,
            epoch=expect.epoch,
            seed=expect.seed,
            config=dict(expect.config),
            world_size=world,
            num_workers=workers,
            position={r: c[0] for r, c in ordered},
            yielded={r: c[1] for r, c in ordered},
            done=self.done,
        )


def _ranges(numbers: list[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``0-2, 5`` (a long list of readers stays one line)."""
    out: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        out.append(str(start) if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(out)
