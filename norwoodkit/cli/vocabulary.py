"""One vocabulary for options: the table of renamed flags and the command class that honours it.

An option name means one thing, with one type, in every command. Where a name used to disagree
it was renamed; :data:`RENAMES` lists each old spelling once, per command, and
:class:`Command` (every command's Click class) keeps it working for one release: the old
spelling is rewritten to the new one before parsing, with
``warning: --old is deprecated; use --new`` on stderr (never stdout: ``--json`` stays one
document). Old spellings are not declared, so ``--help`` never shows them.

The same class tidies the help that Typer draws: no ``<bool>`` beside a flag, ``ROOT`` rather
than ``{ROOT}`` in the usage line, and the command's examples (:mod:`norwoodkit.cli.examples`)
as its epilog.

:class:`Group` finds its commands through :mod:`norwoodkit.cli.commands`: a command not on the
Typer app is built from the table when first looked up, so a run builds only the one it invokes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from norwoodkit.cli import commands, examples

if TYPE_CHECKING:
    from typer import _click as click

__all__ = ["RENAMES", "Command", "Group", "modernise"]

#: command -> {old spelling: new spelling}. Remove an entry one release after it was added.
RENAMES: Mapping[str, Mapping[str, str]] = {
    "validate": {"--expect-views": "--expect-images"},
    "split": {"--dedupe": "--pairs-from", "--exclude-list": "--exclude-from"},
    "pack": {"--exclude-list": "--exclude-from"},
    "stats": {"--folds": "--check-folds"},
    "bench-load": {"--workers": "--worker-counts", "--size": "--crop", "--decode": "--device"},
}


def _value_follows(arg: str, takes_value: frozenset[str]) -> bool:
    """Whether the word after ``arg`` is its value, not an option (``--out FILE``, ``-qa FILE``)."""
    if arg.startswith("--"):
        return "=" not in arg and arg in takes_value
    if not arg.startswith("-") or arg == "-":
        return False
    # A cluster of short flags: the first one that takes a value eats the rest of the word,
    # or, when it is the last letter, the next word.
    for i, letter in enumerate(arg[1:], start=1):
        if f"-{letter}" in takes_value:
            return i == len(arg) - 1
    return False


def modernise(
    args: Iterable[str], renames: Mapping[str, str], takes_value: frozenset[str]
) -> tuple[list[str], list[str]]:
    """``args`` with each old option spelling replaced, and the old spellings met (in order).

    Only option words are rewritten: an option's value and everything after ``--`` are kept
    as given, so a file named ``--dedupe`` passed as a value stays a file name.
    """
    out: list[str] = []
    met: list[str] = []
    words = list(args)
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--":
            out.extend(words[i:])
            break
        name, eq, value = word.partition("=")
        if name.startswith("--") and name in renames:
            met.append(name)
            word = renames[name] + eq + value
        out.append(word)
        if _value_follows(word, takes_value) and i + 1 < len(words):
            out.append(words[i + 1])
            i += 1
        i += 1
    return out, list(dict.fromkeys(met))


class Command(TyperCommand):
    """A norwoodkit command: renamed options still parse (with a warning), tidy help."""

    def __init__(self, name: str | None, **kwargs: Any) -> None:
        if kwargs.get("epilog") is None and name is not None:
            kwargs["epilog"] = examples.epilog(name)
        super().__init__(name, **kwargs)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Rewrite old option spellings to the new ones, warning once for each, then parse."""
        renames = RENAMES.get(self.name or "", {})
        if renames:
            args, met = modernise(args, renames, self._takes_value())
            if not ctx.resilient_parsing:  # shell completion parses too: stay silent then
                for old in met:
                    sys.stderr.write(f"warning: {old} is deprecated; use {renames[old]}\n")
        return super().parse_args(ctx, args)

    def _takes_value(self) -> frozenset[str]:
        """Every spelling of every option that reads the next word as its value."""
        return frozenset(
            opt
            for p in self.params
            if isinstance(p, TyperOption) and not p.is_flag and not p.count
            for opt in (*p.opts, *p.secondary_opts)
        )

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        """``[OPTIONS] ROOT``: arguments by their plain names (Typer draws ``{ROOT}``)."""
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = param.display_name_raw
                pieces.append(name if param.required else f"[{name}]")
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces

    def get_params(self, ctx: Any) -> list[Any]:
        """The parameters, ``--help`` included, with flags drawn without ``<bool>``."""
        return _quiet_flags(super().get_params(ctx))


def _quiet_flags(params: list[Any]) -> list[Any]:
    """Flags with an empty type column: ``--strict`` rather than ``--strict <bool>``."""
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""
    return params


class Group(TyperGroup):
    """The ``norwoodkit`` group: commands built on first use, flags drawn without ``<bool>``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.commands = commands.Commands(self.commands, self._build)

    def _build(self, function: Callable[..., Any]) -> click.Command:
        """``function`` as a click command, exactly as the Typer app would register it."""
        from typer.main import get_command_from_info
        from typer.models import CommandInfo

        from norwoodkit.cli.app import app

        info = CommandInfo(cls=Command, callback=function)
        return get_command_from_info(
            info,
            pretty_exceptions_short=app.pretty_exceptions_short,
            rich_markup_mode=self.rich_markup_mode,
        )

    def list_commands(self, ctx: Any) -> list[str]:
        """The command names in ``--help`` order, none of them built."""
        return list(self.commands)

    def get_params(self, ctx: Any) -> list[Any]:
        """The parameters (``--version``, completion, ``--help``), flags without ``<bool>``."""
        return _quiet_flags(super().get_params(ctx))
