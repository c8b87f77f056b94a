"""Options that several commands share, declared once.

The dataset-source options (ROOT, ``--annotations``, ``--field``, ``--cache``, ``--no-cache``,
``--workers``) are added to a command by :func:`reads_dataset` and reach it as one
:class:`~norwoodkit.source.DatasetSource`; ``--json`` and ``--quiet`` are plain aliases.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NewType, get_type_hints

import typer

from norwoodkit import memory
from norwoodkit.cli.app import progress_bar
from norwoodkit.engine import Engine, EngineChoice
from norwoodkit.paths import OutputKind, guard_output, guard_url
from norwoodkit.source import DatasetSource, parse_field_map
from norwoodkit.storage import Location, place

if TYPE_CHECKING:
    from norwoodkit.dataset import ProbedDataset

#: An option's text naming a local path or a URL (``s3://...``), kept as typed: a ``Path``
#: would fold ``s3://`` into ``s3:/``. :func:`output_place` turns it into a place.
PlaceText = NewType("PlaceText", str)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar on stderr.")]
WorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--workers", metavar="N", min=1, max=1024, help="Worker processes (default: one per core)."
    ),
]
RootArg = Annotated[
    PlaceText,
    typer.Argument(
        metavar="ROOT",
        parser=PlaceText,
        help="Dataset folder (annotation file + subject folders), or its URL (s3://bucket/prefix, "
        "gs://..., file://...; credentials from the store's standard config).",
    ),
]
AnnotationsOpt = Annotated[
    PlaceText | None,
    typer.Option(
        "--annotations",
        "-a",
        metavar="FILE",
        parser=PlaceText,
        help="Annotation file or its URL (default: annotation.json or the single .json/.csv at "
        "the root).",
    ),
]
FieldOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--field",
        "-f",
        metavar="CANONICAL=THEIRS",
        help="Map a field: canonical=theirs, e.g. label=hair_grade or front=img_face. Repeatable.",
    ),
]
CacheOpt = Annotated[
    Path | None,
    typer.Option(
        "--cache",
        metavar="DIR",
        help="Probe cache folder (default: the user cache folder, or $NORWOODKIT_CACHE_DIR).",
        file_okay=False,
    ),
]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the cache.")]
EngineOpt = Annotated[
    Engine,
    typer.Option(
        "--engine", help="Where the probe and pack's shards run: local processes, or Ray."
    ),
]
RayAddressOpt = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        metavar="ADDR",
        help="Ray cluster (ray://host:10001 or host:6379) for --engine ray (default: "
        "$RAY_ADDRESS, else a local instance).",
    ),
]

# The source options a dataset command gets after its own: (name, annotation, default).
_SOURCE_OPTIONS: tuple[tuple[str, Any, Any], ...] = (
    ("annotations", AnnotationsOpt, None),
    ("field", FieldOpt, None),
    ("cache", CacheOpt, None),
    ("no_cache", NoCacheOpt, False),
    ("workers", WorkersOpt, None),
    ("engine", EngineOpt, Engine.local),
    ("ray_address", RayAddressOpt, None),
)


def _source(root: str, values: dict[str, Any]) -> DatasetSource:
    # Text as typed: a local path (file:// included) stays a Path and every local rule applies
    # unchanged; a URL becomes a store's Location (a missing backend is named here).
    annotations = values["annotations"]
    return DatasetSource(
        root=place(root, parameter="root"),
        annotations=None if annotations is None else place(annotations, parameter="annotations"),
        fields=parse_field_map(values["field"] or []),
        cache_dir=values["cache"],
        use_cache=not values["no_cache"],
        workers=values["workers"],
        engine=EngineChoice(values["engine"], values["ray_address"]),
    )


def reads_dataset(fn: Callable[..., None]) -> Callable[..., None]:
    """Give a command the ROOT argument and the source options, handed over as ``source``.

    The command declares ``source: DatasetSource`` as its first parameter; Typer sees ``root``
    in its place and the source options after the command's own.
    """
    sig = inspect.signature(fn)
    hints = get_type_hints(fn, include_extras=True)
    own = [
        p.replace(annotation=hints.get(p.name, p.annotation))
        for p in sig.parameters.values()
        if p.name != "source"
    ]
    kw = inspect.Parameter.KEYWORD_ONLY
    params = [
        inspect.Parameter("root", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=RootArg),
        *(p.replace(kind=kw) for p in own),
        *(inspect.Parameter(n, kw, annotation=a, default=d) for n, a, d in _SOURCE_OPTIONS),
    ]

    @functools.wraps(fn)
    def wrapper(root: str, **kwargs: Any) -> None:
        values = {name: kwargs.pop(name) for name, _, _ in _SOURCE_OPTIONS}
        source = _source(root, values)
        _guard_cache(source)
        fn(source, **kwargs)

    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params} | {"return": None}
    return wrapper


def _guard_cache(source: DatasetSource) -> None:
    """The probe cache folder (given or default) is an output: never inside the dataset."""
    if not source.use_cache:
        return
    from norwoodkit.probe import default_cache_dir

    # The cache makes its own folders and only warns when it cannot write: parents may be missing.
    where = source.cache_dir if source.cache_dir is not None else default_cache_dir()
    guard_output(where, "cache_dir", dataset_root=source.root, kind="folder", make_parents=True)


def output_place(text: str | None, parameter: str) -> Path | Location | None:
    """An output option's text as a local ``Path`` or a URL's ``Location`` (None: not given)."""
    return None if text is None else place(text, parameter=parameter)


def guard(
    source: DatasetSource,
    path: Path | Location | None,
    parameter: str,
    kind: OutputKind = "file",
    inputs: tuple[Path | None, ...] = (),
) -> None:
    """``paths.guard_output`` (``guard_url`` for a URL) for one output option of a dataset
    command (None: not asked for).

    The dataset root and every file the command reads (the annotation file, ``inputs``) are
    refused as places to write.
    """
    if isinstance(path, Location):
        guard_url(
            path,
            parameter,
            dataset_root=source.root,
            kind=kind,
            inputs=(source.annotations, *inputs),
        )
    elif path is not None:
        guard_output(
            path,
            parameter,
            dataset_root=source.root,
            kind=kind,
            inputs=(source.annotations, *inputs),
        )


def load_probed(
    source: DatasetSource,
    quiet: bool,
    columns: Collection[str] | None = None,
) -> ProbedDataset:
    """Load and probe a dataset with a progress bar on stderr: the first step of most commands.

    ``columns``: the probe columns the command reads (None: all); see ``DatasetSource.probe``.
    """
    ds = source.load()
    memory.trim()  # loading's temporaries, before probing allocates its own
    n = int(ds.table["path"].notna().sum())
    with progress_bar(n, "probing images", quiet) as prog:
        probed = source.probe(ds, progress=prog, columns=columns)
    memory.trim()
    return probed
