"""Helpers for the hostile-input suites (tests/test_hostile_*.py).

Every hostile case checks the same four things, so they are written once here:

- the exit code is the one asked for (1: a finding, 2: a clear refusal; never 3);
- stderr carries the expected words and no traceback;
- the dataset tree is byte-identical afterwards (names, link targets, sha256 of every file);
- nothing was written outside the places the case allows (no stray temporary files).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner, Result

from norwoodkit.cli import app

_RUNNER = CliRunner()


def tree(root: Path) -> dict[str, str]:
    """Every entry under ``root`` by relative path: a file's sha256, a link's target, a kind.

    Links are never followed and special files are never opened, so a FIFO or a device in the
    tree cannot hang or flood the snapshot.
    """
    out: dict[str, str] = {}
    if not os.path.lexists(root):
        return out
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in [*dirnames, *filenames]:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            mode = os.lstat(full).st_mode
            if stat.S_ISLNK(mode):
                out[rel] = "link:" + os.readlink(full)
            elif stat.S_ISDIR(mode):
                out[rel] = "dir"
            elif stat.S_ISREG(mode):
                with open(full, "rb") as fh:
                    out[rel] = "sha256:" + hashlib.sha256(fh.read()).hexdigest()
            else:
                out[rel] = f"special:{stat.S_IFMT(mode):o}"
    return out


@dataclass
class Watch:
    """Snapshots of some folders taken before a command, compared after it."""

    roots: tuple[Path, ...]
    before: tuple[dict[str, str], ...] = ()

    def __post_init__(self) -> None:
        self.before = tuple(tree(r) for r in self.roots)

    def changed(self) -> list[str]:
        """Entries added, removed or changed under the watched folders."""
        out: list[str] = []
        for root, old in zip(self.roots, self.before, strict=True):
            new = tree(root)
            out += [f"{root}: {k}" for k in sorted(old.keys() ^ new.keys())]
            out += [
                f"{root}: {k} changed" for k in sorted(old.keys() & new.keys()) if old[k] != new[k]
            ]
        return out


def run(args: Sequence[str | os.PathLike[str]]) -> Result:
    """``norwoodkit ARGS`` in-process (stdout and stderr apart)."""
    return _RUNNER.invoke(app, [str(a) for a in args])


def check(
    result: Result,
    code: int,
    words: Iterable[str] = (),
    *,
    where: str = "stderr",
) -> None:
    """The exit code is ``code``, each of ``words`` is in stderr (or stdout), no traceback."""
    text = result.stderr if where == "stderr" else result.stdout
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert "internal error" not in result.stderr, result.stderr
    for w in words:
        assert w in text, (w, text)


def hostile(
    args: Sequence[str | os.PathLike[str]],
    code: int,
    words: Iterable[str] = (),
    *,
    untouched: Iterable[Path] = (),
    where: str = "stderr",
) -> Result:
    """Run a hostile case: ``check`` it, and every folder in ``untouched`` is byte-identical."""
    watch = Watch(tuple(untouched))
    result = run(args)
    check(result, code, words, where=where)
    assert watch.changed() == [], watch.changed()
    return result
