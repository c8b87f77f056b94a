"""The command table: each command's name and where its function lives, imported on first use.

``norwoodkit validate ...`` imports and builds the ``validate`` command only; ``--help``, shell
completion and a mistyped name look the others up through the same table (issue 15: start-up).
The table's order is the order ``--help`` lists the commands in.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typer import _click as click

__all__ = ["TABLE", "Commands", "function"]

#: command name -> (module, function): the ``norwoodkit`` commands, in their ``--help`` order.
TABLE: dict[str, tuple[str, str]] = {
    "validate": ("norwoodkit.cli.validate", "validate"),
    "dedupe": ("norwoodkit.cli.dedupe", "dedupe"),
    "split": ("norwoodkit.cli.split", "split"),
    "pack": ("norwoodkit.cli.pack", "pack"),
    "verify": ("norwoodkit.cli.pack", "verify"),
    "stats": ("norwoodkit.cli.stats", "stats"),
    "report": ("norwoodkit.cli.report", "report"),
    "bench-load": ("norwoodkit.cli.bench_load", "bench_load"),
    "sample": ("norwoodkit.cli.sample", "sample"),
}


def function(name: str) -> Callable[..., Any]:
    """The function of command ``name``, its module imported now."""
    module, attribute = TABLE[name]
    fn: Callable[..., Any] = getattr(importlib.import_module(module), attribute)
    return fn


class Commands(MutableMapping[str, "click.Command"]):
    """A group's commands by name: those already built, and the table's, built when looked up.

    Names are listed without building anything, so a mistyped command's suggestions cost no
    import; a lookup builds that one command with ``build`` and keeps it.
    """

    def __init__(
        self,
        built: MutableMapping[str, click.Command],
        build: Callable[[Callable[..., Any]], click.Command],
    ) -> None:
        self._built = built
        self._build = build

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._built:
            if name not in TABLE:
                raise KeyError(name)
            self._built[name] = self._build(function(name))
        return self._built[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*TABLE, *self._built]))

    def __len__(self) -> int:
        return len({*TABLE, *self._built})
