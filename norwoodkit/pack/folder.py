"""The output folder: the guard on where shards go, which files are ours, and resume records.

We only ever delete files that a manifest of ours lists: ``manifest.json`` of an earlier run,
or the records (``STATE_DIR``) of a run that was interrupted; files of anyone else in the
folder stay, and a ``README.md`` we would replace without a manifest of ours beside it is
refused. Symbolic links are never followed: one at the top of the folder, or on the way to a
listed file, stops the run before anything is deleted.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from norwoodkit.atomic import write_text_atomic
from norwoodkit.errors import OutputError
from norwoodkit.pack.croissant import CROISSANT
from norwoodkit.pack.layout import CARD, MANIFEST, STATE_DIR, TEMP_NAME, shard_split
from norwoodkit.paths import guard_output, safe_relpath
from norwoodkit.storage import Location

#: The largest manifest or state record we read (a manifest of a million images is ~300 MB).
MAX_RECORD_BYTES = 1 << 30


def check_out(out: Path, root: Path | Location, overwrite: bool, resume: bool) -> None:
    """Refuse an output folder inside the dataset, without a parent, not a folder, busy, or
    (with ``overwrite``/``resume``) not provably ours.

    Raises:
        OutputError: codes of ``paths.guard_output``, and output-exists, output-not-ours,
            output-link, output-listing.
    """
    guard_output(out, "out", dataset_root=root, kind="folder")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not (overwrite or resume):
        raise OutputError(
            f"{out}: exists and is not empty; pass --resume to finish an "
            "interrupted pack, --overwrite to replace earlier shards (other files "
            "are left alone), or choose a new folder",
            code="output-exists",
            parameter="out",
        )
    for entry in out.iterdir():
        if entry.is_symlink():
            raise _refused(
                f"{entry}: is a symbolic link inside the output folder; norwoodkit never "
                "follows links there: remove it or choose a new folder",
                "output-link",
            )
    # The card and croissant.json are written just before the manifest, so an interrupted run
    # of ours can leave them with no manifest: its resume records (STATE_DIR) then vouch.
    vouched = os.path.lexists(out / MANIFEST) or (out / STATE_DIR).is_dir()
    for name in (CARD, CROISSANT):
        if os.path.lexists(out / name) and not vouched:
            raise _refused(
                f"{out / name}: not written by `norwoodkit pack` (the folder has no {MANIFEST} "
                "and no records of an interrupted pack), and pack would replace it; move it "
                "away or choose a new folder",
                "output-not-ours",
            )
    if not vouched:
        _refuse_foreign_shards(out)
    ours(out)  # a listing we cannot trust stops the run now, before any work


def _refuse_foreign_shards(out: Path) -> None:
    """In a folder no pack of ours ever wrote (no manifest, no records), files named like our
    shards (Hugging Face's ``train-00000-of-00001.parquet`` names are the same) are someone
    else's: writing a shard of that name would replace one, so refuse."""
    for sub in sorted(out.iterdir()):
        if not sub.is_dir() or sub.is_symlink():
            continue
        for entry in sorted(sub.iterdir()):
            if _shard_path(f"{sub.name}/{entry.name}"):
                raise _refused(
                    f"{entry}: a shard file that no manifest or resume record of "
                    "`norwoodkit pack` lists (this folder has neither), which pack could "
                    "replace; move it away or choose a new folder",
                    "output-not-ours",
                )


def _refused(problem: str, code: str) -> OutputError:
    return OutputError(problem, code=code, parameter="out")


def ours(target: Path) -> list[Path]:
    """The existing shard files that our manifest or our resume records list (never followed
    through a link; a listed path that is not a shard path of this folder is refused).

    Raises:
        OutputError: codes output-link, output-listing.
    """
    found = []
    for rel, listed_in in _listed(target):
        if not (safe_relpath(rel) and _shard_path(rel)):
            raise _refused(
                f"{listed_in}: lists {rel!r}, which is not a shard of this folder; "
                "refusing to delete anything: remove the folder yourself or choose a new one",
                "output-listing",
            )
        path = target / rel
        for part in (path.parent, path):
            if os.path.islink(part):
                raise _refused(
                    f"{part}: is a symbolic link inside the output folder; norwoodkit never "
                    "follows links there: remove it or choose a new folder",
                    "output-link",
                )
        if os.path.lexists(path):
            if not stat.S_ISREG(os.lstat(path).st_mode):
                raise _refused(
                    f"{path}: listed in {listed_in} but not a regular file; remove it yourself",
                    "output-listing",
                )
            found.append(path)
    return found


def _shard_path(rel: str) -> bool:
    """True for ``data/<split>-NNNNN-of-NNNNN.parquet`` and, from format 1 packs,
    ``<split>/<split>-NNNNN-of-NNNNN.parquet``: the only files pack deletes."""
    return shard_split(rel) is not None


def _listed(target: Path) -> list[tuple[str, Path]]:
    """(relative path, the file that lists it) for every shard our manifest and records list."""
    out: list[tuple[str, Path]] = []
    manifest = target / MANIFEST
    if os.path.lexists(manifest):
        doc = _read_record(manifest)
        try:
            for s in doc["splits"].values():
                out += [(rec["path"], manifest) for rec in s["shards"]]
        except (KeyError, TypeError, AttributeError):
            raise _unreadable(manifest) from None
    state = target / STATE_DIR
    if os.path.lexists(state):
        if not stat.S_ISDIR(os.lstat(state).st_mode):
            raise _unreadable(state)
        for f in sorted(state.iterdir()):
            if f.suffix == ".json":
                rec = _read_record(f)
                if not isinstance(rec, dict) or "path" not in rec:
                    raise _unreadable(f)
                out.append((rec["path"], f))
    return out


def _read_record(path: Path) -> Any:
    """A JSON file of ours: a regular file (never a FIFO or a link), of a sane size, parsed."""
    st = os.lstat(path)
    if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_RECORD_BYTES:
        raise _unreadable(path)
    try:
        return json.loads(path.read_bytes())
    except (ValueError, OSError):
        raise _unreadable(path) from None


def _unreadable(path: Path) -> OutputError:
    return _refused(
        f"{path}: cannot be read as a record of an earlier `norwoodkit pack`, so which files "
        "are ours cannot be told; refusing to replace anything: choose a new folder",
        "output-listing",
    )


def open_folder(
    target: Path, *, overwrite: bool, resume: bool
) -> tuple[Path, dict[str, dict[str, Any]]]:
    """Make the output folder and its state folder, and clear what is stale.

    With ``overwrite``, the shards our earlier manifest or records list are deleted (and the
    records); nothing else.

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
        _delete(target, ours(target))
        for f in state.glob("*.json"):
            f.unlink()
    return state, done


def _delete(target: Path, files: list[Path]) -> None:
    """Delete our shard files, then each folder that held them if that left it empty (a
    format 1 pack's split folders; ``rmdir`` never removes a folder with anything in it)."""
    for f in files:
        f.unlink()
    for folder in sorted({f.parent for f in files}):
        if folder != target and not any(folder.iterdir()):
            folder.rmdir()


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
    """Files in ``target`` named like our shards (``data/<split>-...`` or a format 1
    ``<split>/<split>-...``), listed or not."""
    out = []
    for sub in target.iterdir():
        if sub.is_dir() and not sub.name.startswith("."):
            out += [
                f
                for f in sub.iterdir()
                if f.is_file() and shard_split(f"{sub.name}/{f.name}") is not None
            ]
    return sorted(out)


def _remove_stale_temporaries(target: Path) -> None:
    """Temporary shards of a run that was killed (they are never valid): ours only."""
    for sub in target.iterdir():
        if sub.is_dir():
            for f in sub.iterdir():
                if TEMP_NAME.match(f.name):
                    f.unlink()


#: ``atomic``'s temporary names (``.<name>.<8 random>.tmp``) for the manifest, the card and
#: croissant.json, in the pack folder, and for the resume records, in its state folder.
_PACK_TEMP = re.compile(
    rf"^\.({re.escape(MANIFEST)}|{re.escape(CARD)}|{re.escape(CROISSANT)})\.[a-z0-9_]{{8}}\.tmp$"
)
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
    """Shards our earlier manifest or records list that this plan no longer has: delete them."""
    _delete(target, [f for f in ours(target) if f.relative_to(target).as_posix() not in keep])


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read a megabyte at a time."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
