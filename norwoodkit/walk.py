"""The one walk of the dataset folder: subject folders, their image files, and what else is there.

The only module that lists the dataset's folders; ``dataset.load`` is its caller. The walk keeps
image files as root-relative POSIX paths, per subject folder, and turns everything else into
notes (findings): operating-system junk, stray files, folders that cannot be subject ids, two
folders for one subject, links that lead outside the root (never followed), FIFOs, sockets and
devices (never opened), and names that are not valid UTF-8 (left out, so no later step meets an
undecodable name).
"""

from __future__ import annotations

import functools
import itertools
import os
import stat
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from norwoodkit.errors import InputError, LabelError
from norwoodkit.findings import Finding, finding
from norwoodkit.labels import IMAGE_EXTENSIONS, canonical_id, is_junk, readable_name
from norwoodkit.paths import inside, posix_rel

__all__ = [
    "FolderWalk",
    "candidate_image_root",
    "choose_image_root",
    "claim_folder",
    "escape_note",
    "is_image_name",
    "junk_note",
    "name_note",
    "sort_file",
    "special_note",
    "subject_folders",
    "walk",
]


@dataclass
class FolderWalk:
    """What one walk of the image root found: per subject folder, its files (relative paths)."""

    folders: dict[str, str] = field(default_factory=dict)  # subject id -> folder rel path
    files: dict[str, list[str]] = field(default_factory=dict)  # subject id -> file rel paths
    loose: list[str] = field(default_factory=list)  # images at the image root, outside folders


class Entry:
    """One listed name, with what the listing said it is (``kind``: ``d`` a folder, ``f`` a
    regular file, ``l`` a link, ``o`` anything else), answering as ``os.DirEntry`` does: a
    system call only for links and the rare other kinds. Made on the fly from a ``Listing``."""

    __slots__ = ("folder", "kind", "name")

    def __init__(self, folder: str, name: str, kind: str) -> None:
        self.folder, self.name, self.kind = folder, name, kind

    @property
    def path(self) -> str:
        return os.path.join(self.folder, self.name)

    def is_symlink(self) -> bool:
        return self.kind == "l"

    def is_dir(self, *, follow_symlinks: bool = True) -> bool:
        if self.kind == "l" and follow_symlinks:
            return os.path.isdir(self.path)
        return self.kind == "d"

    def is_file(self, *, follow_symlinks: bool = True) -> bool:
        if self.kind == "l" and follow_symlinks:
            return os.path.isfile(self.path)
        return self.kind == "f"


def _kind(entry: os.DirEntry[str]) -> str:
    try:
        if entry.is_symlink():
            return "l"
        if entry.is_dir(follow_symlinks=False):
            return "d"
        return "f" if entry.is_file(follow_symlinks=False) else "o"
    except OSError:
        return "o"  # gone since the listing: looked at again (and reported) by path


class Listing:
    """A folder's names, sorted, and their kinds: a tuple and a string per folder, not an
    ``os.DirEntry`` per name (a fourth of the memory while every subject folder is held)."""

    __slots__ = ("folder", "kinds", "names")

    def __init__(self, folder: str) -> None:
        with os.scandir(folder) as it:
            found = sorted((e.name, _kind(e)) for e in it)
        self.folder = folder
        self.names = tuple(name for name, _ in found)
        self.kinds = "".join(kind for _, kind in found)

    def __iter__(self) -> Iterator[Entry]:
        return map(Entry, itertools.repeat(self.folder), self.names, self.kinds)


class Listings:
    """Each folder listed once per load: choosing the image root lists the root's subfolders,
    and the walk then reads the same listings (a subject folder at the root is listed once, not
    twice); the walk lets each go once it has read it."""

    def __init__(self) -> None:
        self._seen: dict[str, Listing] = {}

    def entries(self, folder: str | os.PathLike[str]) -> Listing:
        """``folder``'s entries by name. Raises OSError when it cannot be listed."""
        key = os.fspath(folder)
        if key not in self._seen:
            self._seen[key] = Listing(key)
        return self._seen[key]

    def take(self, folder: str) -> Listing:
        """``entries``, forgotten here: for a folder read once more at most."""
        listing = self._seen.pop(folder, None)
        return listing if listing is not None else Listing(folder)


def choose_image_root(root: Path, ids: set[str], listings: Listings | None = None) -> Path:
    """The folder that holds the subject folders: the root, or one subfolder such as files/."""
    listed = listings or Listings()

    def score(folder: Path) -> int:
        try:
            entries = listed.entries(folder)
        except OSError:
            return 0
        return subject_folders((e.name for e in entries if e.is_dir(follow_symlinks=False)), ids)

    best, best_score = root, score(root)
    for entry in listed.entries(root):
        if entry.is_dir(follow_symlinks=False) and candidate_image_root(entry.name):
            s = score(Path(entry.path))
            if s > best_score:
                best, best_score = Path(entry.path), s
    return best


def subject_folders(names: Iterable[str], ids: set[str]) -> int:
    """How many of the folder ``names`` are subject folders: ids in ``ids`` (any number, when
    there are no ids) - the score that picks the image root, locally or in a store."""
    n = 0
    for raw in names:
        name = unicodedata.normalize("NFC", raw)
        try:
            sid = canonical_id(name)
        except LabelError:
            continue
        if sid in ids or (not ids and name.isdigit()):
            n += 1
    return n


def candidate_image_root(name: str) -> bool:
    """Whether a folder at the root may hold the subject folders (not hidden, not junk)."""
    return not name.startswith(".") and not is_junk(name)


@functools.lru_cache(maxsize=128)
def is_image_name(name: str) -> bool:
    """Whether a file name has an image extension (cached: folders repeat the same names)."""
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def junk_note(rel: str, sid: str | None = None) -> Finding:
    """The note for operating-system junk (a file or a folder): safe to delete."""
    return finding(
        "junk-file", f"{rel}: operating-system junk; safe to delete", subject=sid, path=rel
    )


def walk(
    root: Path, image_root: Path, notes: list[Finding], listings: Listings | None = None
) -> FolderWalk:
    """List the subject folders under ``image_root`` and their image files, once.

    ``listings``: the ones ``choose_image_root`` made (None: list afresh).

    Raises:
        InputError: the image root cannot be listed.
    """
    root_real = os.path.realpath(root)
    listed = listings or Listings()
    w = FolderWalk()
    try:
        top = listed.entries(image_root)
    except OSError as exc:
        raise InputError(
            f"{image_root}: cannot list the folder ({exc.strerror}); check its permissions",
            code="root-unreadable",
        ) from exc
    here = posix_rel(root, str(image_root))
    for entry in top:
        if not readable_name(entry.name):
            notes.append(name_note(here, entry.name))
            continue
        rel = entry.name if here == "." else f"{here}/{entry.name}"
        if is_junk(entry.name):
            notes.append(junk_note(rel))
            continue
        if entry.is_symlink() and not inside(root_real, entry.path):
            notes.append(escape_note(rel, entry.path))
            continue
        if entry.is_dir(follow_symlinks=False):
            if entry.name.startswith("."):
                continue  # hidden tool folders (.git, a --cache put here) are not subjects
            _add_folder(w, (root_real, listed), entry, rel, notes)
        elif entry.kind != "f" and (kind := _special(entry.path)) is not None:
            notes.append(special_note(rel, kind))
        elif entry.is_file() and is_image_name(entry.name):
            w.loose.append(rel)
    return w


def _add_folder(
    w: FolderWalk,
    where: tuple[str, Listings],
    entry: Entry,
    rel: str,
    notes: list[Finding],
) -> None:
    """One folder at the image root: a subject's, with its files, or a note saying why not."""
    sid = claim_folder(w, entry.name, rel, notes)
    if sid is not None:
        root_real, listed = where
        found: list[str] = []
        _files_under(_Walker(root_real, listed, sid, notes, found), entry.path, rel)
        w.files[sid] = found


def claim_folder(w: FolderWalk, name: str, rel: str, notes: list[Finding]) -> str | None:
    """The subject id of the folder ``name`` (at ``rel``), now in ``w.folders``; None, with a
    note, when the name is no subject id or another folder already holds that subject."""
    try:
        sid = canonical_id(unicodedata.normalize("NFC", name))
    except LabelError:
        notes.append(
            finding(
                "unexpected-file",
                f"{rel}/: folder name cannot be a subject id; rename or move it",
                path=rel,
            )
        )
        return None
    if sid in w.folders:
        notes.append(
            finding(
                "duplicate-id",
                f"{rel}/ and {w.folders[sid]}/ are both "
                f"subject {sid}; {rel}/ is left out - merge or renumber "
                "them",
                subject=sid,
                path=rel,
            )
        )
        return None
    w.folders[sid] = rel
    return sid


def escape_note(rel: str, path: str, sid: str | None = None) -> Finding:
    """The note for a link (at ``rel``) that leads outside the dataset root: it is not opened."""
    return finding(
        "path-escapes-root",
        f"{rel}: a link to {_shown(os.path.realpath(path))}, outside the dataset root; it is "
        "not opened - copy the file into the dataset instead",
        subject=sid,
        path=rel,
    )


_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def _special(path: str) -> str | None:
    """What a FIFO, socket or device at ``path`` (links followed) is; None for anything else.

    Only the inode is looked at (stat), so a FIFO cannot block and a device is never read.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None  # a broken link: the probe reports it as unreadable
    return _KINDS.get(stat.S_IFMT(mode))


def _kind_of(entry: Entry) -> tuple[bool, str | None]:
    """Whether a listed file is a link, and what FIFO, socket or device it is (links followed).

    The listing's file type answers both for a regular file, with no system call; a link costs
    one ``stat``, anything else one ``lstat``.
    """
    if entry.kind == "f":
        return False, None
    if entry.kind == "l":
        return True, _special(entry.path)
    try:
        return False, _KINDS.get(stat.S_IFMT(os.lstat(entry.path).st_mode))
    except OSError:
        return False, None  # gone since the listing: the probe reports it as unreadable


def special_note(rel: str, kind: str, sid: str | None = None) -> Finding:
    """The note for a FIFO, socket or device where files belong: it is never opened."""
    return finding(
        "special-file",
        f"{rel}: {kind}, not a file; it is not opened - remove it, or put the real file there",
        subject=sid,
        path=rel,
    )


def name_note(folder: str, name: str, sid: str | None = None) -> Finding:
    """The note for a name in ``folder`` that is not valid UTF-8, shown with its bytes escaped."""
    return finding(
        "name-not-utf8",
        f"{folder}/: holds '{_shown(name)}', a name that is not valid UTF-8; it is left out "
        "- rename it in UTF-8",
        subject=sid,
        path=folder,
    )


def _shown(name: str) -> str:
    """A name from the OS as text any output can hold: undecodable bytes as ``\\xff``."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


@dataclass
class _Walker:
    """What the walk of one subject folder carries down its subfolders."""

    root_real: str
    listings: Listings
    sid: str
    notes: list[Finding]
    found: list[str]

    def note(self, code: str, rel: str, text: str) -> None:
        self.notes.append(finding(code, f"{rel}: {text}", subject=self.sid, path=rel))


def _files_under(w: _Walker, folder: str, here: str) -> None:
    """Image files in one subject folder (recursively, files before subfolders, by name, as a
    top-down ``os.walk`` with sorted names gives) into ``w.found``; the rest become notes."""
    try:
        entries = list(w.listings.take(folder))
    except OSError:
        return  # as os.walk: a folder that cannot be listed is passed over
    dirs = [e for e in entries if e.is_dir()]
    for e in dirs:
        if not readable_name(e.name):
            w.notes.append(name_note(here, e.name, w.sid))
    below = []
    for e in dirs:
        if not readable_name(e.name):
            continue
        rel = f"{here}/{e.name}"
        if is_junk(e.name):
            w.notes.append(junk_note(rel, w.sid))
        elif e.is_symlink() and not inside(w.root_real, e.path):
            w.notes.append(escape_note(rel, e.path, w.sid))
        elif e.is_symlink():
            w.note("unexpected-file", rel, "a link to a folder; links are not followed")
        else:
            below.append((e.path, rel))
    for e in entries:
        if e.is_dir():
            continue
        if not readable_name(e.name):
            w.notes.append(name_note(here, e.name, w.sid))
            continue
        rel = f"{here}/{e.name}"
        link, kind = _kind_of(e)
        if not is_junk(e.name) and link and not inside(w.root_real, e.path):
            w.notes.append(escape_note(rel, e.path, w.sid))
        elif not is_junk(e.name) and kind is not None:
            w.notes.append(special_note(rel, kind, w.sid))
        elif sort_file(rel, e.name, w.sid, w.notes):
            w.found.append(rel)
    for path, rel in below:
        _files_under(w, path, rel)


def sort_file(rel: str, name: str, sid: str, notes: list[Finding]) -> bool:
    """A file in subject ``sid``'s folder: True for an image; junk and strays become notes."""
    if is_junk(name):
        notes.append(junk_note(rel, sid))
    elif is_image_name(name):
        return True
    else:
        notes.append(
            finding(
                "unexpected-file",
                f"{rel}: not an image; move it out of the subject folder",
                subject=sid,
                path=rel,
            )
        )
    return False
