"""The output folder: the guard on where shards go, which files are ours, and resume records.

We only ever delete files whose names say we wrote them (``SHARD_NAME`` in a folder of the same
split, ``TEMP_NAME``); files of anyone else in the folder stay. While a pack runs, each finished
shard's record goes to ``STATE_DIR``, so an interrupted run can be resumed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from norwoodkit.atomic import write_text_atomic
from norwoodkit.errors import OutputError
from norwoodkit.pack.layout import CARD, MANIFEST, SHARD_NAME, STATE_DIR, TEMP_NAME


def check_out(out: Path, root: Path, overwrite: bool, resume: bool) -> None:
    """Refuse an output folder inside the dataset, without a parent, a file, or busy.

    Raises:
        OutputError: codes output-inside-dataset, output-parent-missing, output-is-file,
            output-exists.
    """
    real_out, real_root = os.path.realpath(out), os.path.realpath(root)
    if real_out == real_root or real_out.startswith(real_root.rstrip(os.sep) + os.sep):
        raise OutputError(
            f"--out {out}: inside the dataset folder {root}; write the shards "
            "somewhere else (norwoodkit never writes into a dataset)",
            code="output-inside-dataset",
        )
    if not out.parent.is_dir():
        raise OutputError(
            f"--out {out}: folder {out.parent} does not exist; create it first",
            code="output-parent-missing",
        )
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out}: is a file; give a folder", code="output-is-file")
    if out.is_dir() and any(out.iterdir()) and not (overwrite or resume):
        raise OutputError(
            f"--out {out}: exists and is not empty; pass --resume to finish an "
            "interrupted pack, --overwrite to replace earlier shards (other files "
            "are left alone), or choose a new folder",
            code="output-exists",
        )


def open_folder(
    target: Path, *, overwrite: bool, resume: bool
) -> tuple[Path, dict[str, dict[str, Any]]]:
    """Make the output folder and its state folder, and clear what is stale.

    Returns:
        The state folder, and the records of shards an earlier run finished (by relative
        path; empty unless ``resume``).
    """
    target.mkdir(exist_ok=True)
    state = target / STATE_DIR
    state.mkdir(exist_ok=True)
    _remove_stale_temporaries(target)
    done = _load_done(target, state) if resume else {}
    if overwrite and not resume:
        for f in our_shard_files(target):
            f.unlink()
    return state, done


def reusable(prev: dict[str, Any], key: str, path: Path) -> bool:
    """Whether an earlier run's shard (its record ``prev``) is complete and has this content."""
    return bool(
        prev and prev["key"] == key and path.is_file() and file_sha256(path) == prev["sha256"]
    )


def save_record(state: Path, record: dict[str, Any]) -> None:
    """Record a finished shard in the state folder (what ``resume`` reads)."""
    write_text_atomic(
        state / (record["path"].replace("/", "__") + ".json"), json.dumps(record, sort_keys=True)
    )


def _load_done(target: Path, state: Path) -> dict[str, dict[str, Any]]:
    done: dict[str, dict[str, Any]] = {}
    manifest = target / MANIFEST
    if manifest.is_file():
        try:
            doc = json.loads(manifest.read_text())
            for s in doc.get("splits", {}).values():
                for rec in s.get("shards", []):
                    done[rec["path"]] = rec
        except (ValueError, KeyError, TypeError, AttributeError):
            pass  # a damaged manifest only means nothing can be reused
    for f in state.glob("*.json"):
        try:
            rec = json.loads(f.read_text())
            done[rec["path"]] = rec
        except (ValueError, KeyError):
            continue
    return done


def our_shard_files(target: Path) -> list[Path]:
    """Shard files in ``target`` that we wrote: ``SHARD_NAME`` inside its split's folder."""
    out = []
    for sub in target.iterdir():
        if sub.is_dir() and not sub.name.startswith("."):
            out += [
                f
                for f in sub.iterdir()
                if f.is_file() and (m := SHARD_NAME.match(f.name)) and m.group("split") == sub.name
            ]
    return out


def _remove_stale_temporaries(target: Path) -> None:
    """Temporary shards of a run that was killed (they are never valid): ours only."""
    for sub in target.iterdir():
        if sub.is_dir():
            for f in sub.iterdir():
                if TEMP_NAME.match(f.name):
                    f.unlink()


#: ``atomic``'s temporary names (``.<name>.<8 random>.tmp``) for the manifest and the card, in
#: the pack folder, and for the resume records, in its state folder.
_PACK_TEMP = re.compile(rf"^\.({re.escape(MANIFEST)}|{re.escape(CARD)})\.[a-z0-9_]{{8}}\.tmp$")
_RECORD_TEMP = re.compile(r"^\.[^/]+__[^/]+-\d{5}-of-\d{5}\.parquet\.json\.[a-z0-9_]{8}\.tmp$")


def remove_leftover_temporaries(target: Path) -> None:
    """The temporary manifest, card and resume records of a killed run: our names only, and
    regular files only (a link is never followed)."""
    for folder, pattern in ((target, _PACK_TEMP), (target / STATE_DIR, _RECORD_TEMP)):
        if not folder.is_dir() or folder.is_symlink():
            continue
        for f in folder.iterdir():
            if pattern.match(f.name) and f.is_file() and not f.is_symlink():
                f.unlink()


def remove_stale(target: Path, keep: set[str]) -> None:
    """Shards of ours that this plan no longer has (another shard count): delete them only."""
    for f in our_shard_files(target):
        if f.relative_to(target).as_posix() not in keep:
            f.unlink()


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read a megabyte at a time."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
