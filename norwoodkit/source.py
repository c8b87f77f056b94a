"""DatasetSource: where a dataset is and how to read it, as one value every command shares.

A command that reads a dataset needs the same six facts: the root, the annotation file, the field
map, the probe cache folder (or none) and the worker count. They travel together as one frozen
value, so a new way to read a dataset (a URL, an engine) is one field here, not an option in
every command.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from norwoodkit.engine import EngineChoice
from norwoodkit.errors import ParameterError
from norwoodkit.storage import Location

if TYPE_CHECKING:  # the CLI builds a source before --help; pandas waits for load()
    from norwoodkit.dataset import Dataset, ProbedDataset

__all__ = ["DatasetSource", "parse_field_map"]


def parse_field_map(items: Iterable[str]) -> dict[str, str]:
    """``["label=hair_grade", ...]`` as ``{"label": "hair_grade"}`` (canonical = theirs).

    Raises:
        ParameterError: an item without ``=`` or with an empty side (parameter ``fields``).
    """
    mapping: dict[str, str] = {}
    for item in items:
        canonical, sep, theirs = item.partition("=")
        if not sep or not canonical.strip() or not theirs.strip():
            raise ParameterError(
                "fields", f"{item!r}: write canonical=theirs, e.g. label=hair_grade"
            )
        mapping[canonical.strip()] = theirs.strip()
    return mapping


@dataclass(frozen=True)
class DatasetSource:
    """A dataset folder and how to read it.

    Attributes:
        root: the dataset folder, or its place in an object store (``storage.place``).
        annotations: the annotation file (a path or a store's Location); None: found at the
            root (see ``dataset.load``).
        fields: ``canonical -> their field name`` for fields the aliases do not cover.
        cache_dir: the probe cache folder; None: the user cache folder.
        use_cache: False neither reads nor writes the probe cache.
        workers: processes for probing; None: one per CPU core.
        engine: where the expensive passes run (local processes, or Ray; see ``engine.py``).
    """

    root: Path | Location
    annotations: Path | Location | None = None
    fields: Mapping[str, str] = field(default_factory=dict)
    cache_dir: Path | None = None
    use_cache: bool = True
    workers: int | None = None
    engine: EngineChoice = field(default_factory=EngineChoice)

    def load(self) -> Dataset:
        """Read the annotation file and walk the folder (``dataset.load``)."""
        from norwoodkit import dataset

        return dataset.load(self.root, annotations=self.annotations, fields=self.fields)

    def probe(
        self,
        dataset: Dataset,
        *,
        progress: Callable[[int], None] | None = None,
        columns: Collection[str] | None = None,
    ) -> ProbedDataset:
        """Probe ``dataset`` (loaded from this source) with this source's cache and workers.

        ``columns``: the probe columns the caller reads, e.g. ``validate.PROBE_NEEDS`` (a warm
        run then reads only those from the cache); None: all (see ``probe.run``).
        """
        from norwoodkit.probe.runner import run

        return run(
            dataset,
            cache_dir=self.cache_dir,
            use_cache=self.use_cache,
            workers=self.workers,
            progress=progress,
            columns=columns,
            engine=self.engine,
        )

    def open(self, *, columns: Collection[str] | None = None) -> ProbedDataset:
        """Load and probe in one call (no progress report)."""
        return self.probe(self.load(), columns=columns)
