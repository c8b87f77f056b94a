"""Writing a sample folder: photos, ``annotation.json``, ``defects.json`` and ``sample.json``,
built in a temporary folder beside the target and renamed into place when complete.

Photos go to disk subject by subject as the pool renders them, so memory stays flat at any
number of subjects; an error or Ctrl-C part way removes the temporary folder, and the target is
never touched before the rename.

``sample.json`` lists every file the sample wrote (path, size, sha256): ``overwrite`` replaces a
folder only when that list proves it is an earlier sample, unchanged and holding nothing else,
and then deletes exactly those files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from norwoodkit import interrupts
from norwoodkit.errors import OutputError
from norwoodkit.paths import guard_output, safe_relpath
from norwoodkit.sample import people
from norwoodkit.sample.defects import Planter
from norwoodkit.sample.options import SampleOptions
from norwoodkit.sample.photos import Distinct, keep_distinct, render_stream
from norwoodkit.text import few

log = logging.getLogger(__name__)

#: The sample's own record: how it was made and the files it wrote.
RECORD = "sample.json"
#: The largest ``sample.json`` we read back (a million files list in about 150 MB).
MAX_RECORD_BYTES = 1 << 30


@dataclass(frozen=True)
class SampleResult:
    """What ``write`` made."""

    root: Path
    subjects: int
    images: int
    defects: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document."""
        return {
            "root": str(self.root),
            "subjects": self.subjects,
            "images": self.images,
            "defects": list(self.defects),
        }


def write(
    out: str | os.PathLike[str],
    options: SampleOptions | None = None,
    *,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> SampleResult:
    """Write a sample dataset to ``out`` (built in a temporary folder, renamed when complete).

    Raises:
        OutputError: ``out`` is not a folder, its parent is missing, or it exists and is not
            (with ``overwrite``: provably) an earlier, unchanged sample.
    """
    opts = options or SampleOptions()
    target = Path(out)
    _check_target(target, overwrite)
    plan = people.plan(opts)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError as exc:
        raise _write_error(target, target.parent, exc) from None
    try:
        defects = _fill(tmp, target, opts, plan, progress)
        _move_into_place(tmp, target, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return SampleResult(
        root=target, subjects=len(plan), images=_count_images(target), defects=tuple(defects)
    )


def _check_target(target: Path, overwrite: bool) -> None:
    """Refuse a bad place, and an existing folder unless ``overwrite`` and it is our sample."""
    guard_output(target, "out", dataset_root=None, kind="folder")
    if not os.path.lexists(target):
        return
    if not overwrite:
        raise OutputError(
            f"{target}: already exists; choose a new folder or pass "
            "--overwrite to replace an earlier sample",
            code="output-exists",
            parameter="out",
        )
    _proven_files(target)


def _refused(target: Path, problem: str) -> OutputError:
    return OutputError(
        f"{target}: {problem}; refusing to replace it (remove it yourself or choose a new folder)",
        code="output-not-ours",
        parameter="out",
    )


def _listed(target: Path) -> dict[str, tuple[int, str]]:
    """``sample.json``'s file list, ``{path: (size, sha256)}``; refused when it is not ours."""
    record = target / RECORD
    try:
        st = os.lstat(record)
    except OSError:
        raise _refused(target, f"exists and is not a norwoodkit sample (no {RECORD})") from None
    if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_RECORD_BYTES:
        raise _refused(target, f"{RECORD} is not a regular file of ours")
    try:
        files = json.loads(record.read_bytes())["files"]
        listed = {f["path"]: (int(f["size"]), str(f["sha256"])) for f in files}
    except (ValueError, KeyError, TypeError, OSError):
        raise _refused(
            target, f"{RECORD} lists no files (an older norwoodkit, or not a sample)"
        ) from None
    bad = [p for p in listed if not safe_relpath(p) or p == RECORD]
    if bad:
        raise _refused(target, f"{RECORD} lists paths outside the folder: {few(map(repr, bad))}")
    return listed


def _proven_files(target: Path) -> list[str]:
    """The files an earlier sample wrote in ``target``, proven: each listed in its
    ``sample.json``, unchanged, no other file and no link in the folder.

    Raises:
        OutputError: code output-not-ours, naming what is not ours.
    """
    listed = _listed(target)
    extra: list[str] = []
    changed: list[str] = []
    present: list[str] = []
    for dirpath, dirnames, filenames in os.walk(target):
        for name in sorted([*dirnames, *filenames]):
            full = os.path.join(dirpath, name)
            rel = Path(full).relative_to(target).as_posix()
            mode = os.lstat(full).st_mode
            if stat.S_ISLNK(mode):
                raise _refused(target, f"{rel} is a symbolic link, which sample never writes")
            if stat.S_ISDIR(mode) or rel == RECORD:
                continue
            if rel not in listed:
                extra.append(rel)
            elif not stat.S_ISREG(mode) or _digest(Path(full)) != listed[rel]:
                changed.append(rel)
            else:
                present.append(rel)
    if extra:
        raise _refused(target, f"holds files sample did not write: {few(extra, 5)}")
    if changed:
        raise _refused(target, f"files changed since sample wrote them: {few(changed, 5)}")
    return present


def _digest(path: Path) -> tuple[int, str]:
    """(size, sha256) of a file."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
            size += len(block)
    return size, h.hexdigest()


def _file_list(folder: Path) -> list[dict[str, Any]]:
    """Every file in ``folder`` but ``sample.json``: path, size and sha256, sorted by path."""
    out = []
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            full = Path(dirpath) / name
            size, sha = _digest(full)
            out.append({"path": full.relative_to(folder).as_posix(), "size": size, "sha256": sha})
    return sorted(out, key=lambda f: str(f["path"]))


def _fill(
    folder: Path,
    target: Path,
    opts: SampleOptions,
    plan: list[people.Subject],
    progress: Callable[[int], None] | None,
) -> list[dict[str, Any]]:
    """Write the photos (as they are rendered) and JSON files into ``folder``; returns the
    planted defects.

    Raises:
        OutputError: a write failed (a full disk, a quota): names the file and the fix.
    """
    seen = Distinct()
    try:
        with contextlib.closing(render_stream(opts, plan, progress)) as rendered:
            # Closed on the way out, error or not: the pool stops before the folder goes.
            for index, (s, files) in enumerate(zip(plan, rendered, strict=True), start=1):
                (folder / s.sid).mkdir()
                for name, data in keep_distinct(opts, index, s, files, seen):
                    _write_bytes(folder / s.sid / name, data)
        records = [people.record(s) for s in plan]
        defects: list[dict[str, Any]] = []
        if opts.defects:
            planter = Planter(folder, records, plan, opts, seen)
            planter.plant_all()
            defects = planter.defects
            _write_json(folder / "defects.json", {"seed": opts.seed, "defects": defects})
        _write_json(folder / "annotation.json", records)
        _write_json(folder / RECORD, {**_provenance(opts), "files": _file_list(folder)})
    except OSError as exc:
        raise _write_error(target, Path(exc.filename or folder), exc) from None
    return defects


def _write_error(target: Path, path: Path, exc: OSError) -> OutputError:
    """A failed write while making the sample, as the error a user can act on."""
    return OutputError(
        f"{target}: could not write {path} ({exc.strerror or exc}); {target} was left as it "
        "was - free some space (or choose a folder on another disk) and run again",
        code="output-write-failed",
        parameter="out",
    )


def _write_bytes(path: Path, data: bytes) -> None:
    """``path.write_bytes(data)``, its error naming the file (a failed write() names none)."""
    try:
        path.write_bytes(data)
    except OSError as exc:
        if exc.filename is not None:
            raise
        raise OSError(exc.errno, exc.strerror, str(path)) from exc


def _provenance(opts: SampleOptions) -> dict[str, Any]:
    """``sample.json``: what made the sample (worker count left out: it changes no byte)."""
    from norwoodkit import __version__

    return {
        "generator": "norwoodkit sample",
        "version": __version__,
        "options": {k: v for k, v in asdict(opts).items() if k != "workers"},
    }


def _move_into_place(tmp: Path, target: Path, overwrite: bool) -> None:
    """Rename the finished folder to ``target``; an earlier sample there (proven again now,
    after the rendering) is moved aside and only the files it listed are deleted."""
    interrupts.check()
    if not os.path.lexists(target):
        os.replace(tmp, target)
        return
    if not overwrite:  # made while we rendered: not ours
        raise OutputError(
            f"{target}: appeared while the sample was made; choose a new folder",
            code="output-exists",
            parameter="out",
        )
    ours = _proven_files(target)
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    os.replace(target, old)
    os.replace(tmp, target)
    _delete_listed(old, [*ours, RECORD])


def _delete_listed(folder: Path, files: list[str]) -> None:
    """Delete ``files`` (relative paths) from ``folder``, then the folders left empty."""
    for rel in files:
        with contextlib.suppress(FileNotFoundError):
            (folder / rel).unlink()
    for dirpath, _, _ in os.walk(folder, topdown=False):  # children before their parents
        with contextlib.suppress(OSError):  # not empty: someone else's file, kept
            os.rmdir(dirpath)
    if folder.exists():
        log.warning("%s: kept, it holds files the earlier sample did not write", folder)


def _count_images(root: Path) -> int:
    return sum(1 for p in root.rglob("*") if p.is_file() and p.suffix.lower() in (".jpg", ".png"))


def _write_json(path: Path, doc: Any) -> None:
    _write_bytes(path, (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
