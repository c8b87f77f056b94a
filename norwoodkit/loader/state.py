"""The resume state: one frozen dataclass and its dict form (``state_dict`` / ``load_state_dict``).

Each reader counts the stream positions it has passed (``position``) and the samples it has
yielded (``yielded``; they differ only when a bad image was skipped). With the epoch, seed,
reader count and the options that shape the plan, that is enough to rebuild the same order and
yield exactly the samples an interrupted run had not yet yielded. The dict form survives JSON
(reader keys come back as strings) and torch.save.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from norwoodkit.errors import InputError

__all__ = ["STATE_FORMAT", "LoaderState"]

STATE_FORMAT = 1


@dataclass(frozen=True)
class LoaderState:
    """Where each reader of one epoch stands; ``format`` is the layout's version."""

    split: str
    epoch: int
    seed: int
    config: dict[str, Any]
    readers: int | None
    position: dict[int, int] = field(default_factory=dict)
    yielded: dict[int, int] = field(default_factory=dict)
    format: int = STATE_FORMAT

    def to_dict(self) -> dict[str, Any]:
        """The state as ``state_dict()`` returns it."""
        return {
            "format": self.format,
            "split": self.split,
            "epoch": self.epoch,
            "seed": self.seed,
            "config": self.config,
            "readers": self.readers,
            "position": dict(self.position),
            "yielded": dict(self.yielded),
        }

    @classmethod
    def from_dict(
        cls, state: Mapping[str, Any], *, split: str, config: Mapping[str, Any]
    ) -> LoaderState:
        """Read a ``state_dict()`` for a dataset reading ``split`` with ``config``.

        Raises:
            InputError: a newer format, another split or other options, or not a state.
        """
        try:
            if int(state["format"]) > STATE_FORMAT:
                raise InputError("the loader state was written by a newer norwoodkit")
            if state["split"] != split:
                raise InputError(
                    f"the loader state is for split {state['split']!r}, this dataset reads "
                    f"{split!r}"
                )
            if dict(state["config"]) != dict(config):
                raise InputError(
                    f"the loader state was saved with {state['config']}, this dataset has "
                    f"{dict(config)}; construct it with the same shards and options"
                )
            position = {int(k): int(v) for k, v in state["position"].items()}
            yielded = {int(k): int(v) for k, v in state["yielded"].items()}
            readers = state["readers"]
            return cls(
                split=split,
                epoch=int(state["epoch"]),
                seed=int(state["seed"]),
                config=dict(config),
                readers=None if readers is None else int(readers),
                position=position,
                yielded={r: yielded.get(r, p) for r, p in position.items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"not a ShardDataset state ({exc})", code="state-invalid") from exc

    def resume(self) -> dict[int, tuple[int, int]]:
        """Reader -> (positions passed, samples yielded)."""
        return {r: (p, self.yielded[r]) for r, p in self.position.items()}
