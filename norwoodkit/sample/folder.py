"""Writing a sample folder: photos, ``annotation.json``, ``defects.json`` and ``sample.json``,
built in a temporary folder beside the target and renamed into place when complete."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from norwoodkit.errors import OutputError
from norwoodkit.sample import people
from norwoodkit.sample.defects import Planter
from norwoodkit.sample.options import SampleOptions
from norwoodkit.sample.photos import Distinct, keep_distinct, render_all


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
        OutputError: ``out`` exists and is not an earlier sample, or its parent is missing.
    """
    opts = options or SampleOptions()
    target = Path(out)
    _check_target(target, overwrite)
    plan = people.plan(opts)
    seen = Distinct()
    photos = keep_distinct(opts, plan, render_all(opts, plan, progress), seen)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        defects = _fill(tmp, opts, plan, photos, seen)
        _move_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return SampleResult(
        root=target, subjects=len(plan), images=_count_images(target), defects=tuple(defects)
    )


def _check_target(target: Path, overwrite: bool) -> None:
    """Refuse a missing parent, and an existing folder unless ``overwrite`` and it is a sample."""
    if not target.parent.is_dir():
        raise OutputError(
            f"{target.parent}: folder does not exist; create it first", code="output-parent-missing"
        )
    if not target.exists():
        return
    if not overwrite:
        raise OutputError(
            f"{target}: already exists; choose a new folder or pass "
            "--overwrite to replace an earlier sample",
            code="output-exists",
        )
    if not (target / "sample.json").is_file():
        raise OutputError(
            f"{target}: exists and is not a norwoodkit sample (no sample.json); "
            "refusing to replace it",
            code="output-exists",
        )


def _fill(
    folder: Path,
    opts: SampleOptions,
    plan: list[people.Subject],
    photos: list[list[tuple[str, bytes]]],
    seen: Distinct,
) -> list[dict[str, Any]]:
    """Write the photos and JSON files into ``folder``; returns the planted defects."""
    for s, files in zip(plan, photos, strict=True):
        (folder / s.sid).mkdir()
        for name, data in files:
            (folder / s.sid / name).write_bytes(data)
    records = [people.record(s) for s in plan]
    defects: list[dict[str, Any]] = []
    if opts.defects:
        planter = Planter(folder, records, plan, opts, seen)
        planter.plant_all()
        defects = planter.defects
        _write_json(folder / "defects.json", {"seed": opts.seed, "defects": defects})
    _write_json(folder / "annotation.json", records)
    _write_json(folder / "sample.json", _provenance(opts))
    return defects


def _provenance(opts: SampleOptions) -> dict[str, Any]:
    """``sample.json``: what made the sample (worker count left out: it changes no byte)."""
    from norwoodkit import __version__

    return {
        "generator": "norwoodkit sample",
        "version": __version__,
        "options": {k: v for k, v in asdict(opts).items() if k != "workers"},
    }


def _move_into_place(tmp: Path, target: Path) -> None:
    """Rename the finished folder to ``target``, replacing an earlier sample there."""
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, target)


def _count_images(root: Path) -> int:
    return sum(1 for p in root.rglob("*") if p.is_file() and p.suffix.lower() in (".jpg", ".png"))


def _write_json(path: Path, doc: Any) -> None:
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
