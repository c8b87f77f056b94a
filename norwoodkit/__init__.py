"""norwoodkit: prepare the Male Hair Loss (Norwood-Hamilton) multi-view dataset for training.

The Python API mirrors the commands::

    import norwoodkit as nk
    source = nk.DatasetSource(Path("data/"))  # where the dataset is and how to read it
    ds = source.load()                    # Dataset: root + one table
    ds = source.probe(ds)                 # ProbedDataset: adds the probe columns (cached)
    report = nk.validate.validate(ds)     # Report with findings
    nk.sample.write("demo/", nk.SampleOptions(subjects=50, defects=True))

Each job is a module (``dataset``, ``probe``, ``validate``, ``sample``, ...); the names below are
the ones most scripts need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from norwoodkit._version import __version__

if TYPE_CHECKING:
    from norwoodkit import dataset, labels, probe, sample, validate
    from norwoodkit.dataset import Dataset, ProbedDataset, load
    from norwoodkit.errors import (
        AnnotationError,
        InputError,
        LabelError,
        NorwoodkitError,
        OutputError,
        ParameterError,
    )
    from norwoodkit.findings import CODES, Finding, Severity
    from norwoodkit.labels import VIEWS, Stage, View, parse_stage, parse_view
    from norwoodkit.sample import SampleOptions
    from norwoodkit.source import DatasetSource
    from norwoodkit.validate import Report, ValidateOptions

# Each public name and the module that defines it. They are imported on first use, not here:
# ``norwoodkit --help`` imports this package, and the data-frame stack behind most names
# (pandas, pyarrow, numpy, Pillow) would cost it most of a second.
_HOMES = {
    "Dataset": "dataset",
    "ProbedDataset": "dataset",
    "load": "dataset",
    "AnnotationError": "errors",
    "InputError": "errors",
    "LabelError": "errors",
    "NorwoodkitError": "errors",
    "OutputError": "errors",
    "ParameterError": "errors",
    "CODES": "findings",
    "Finding": "findings",
    "Severity": "findings",
    "VIEWS": "labels",
    "Stage": "labels",
    "View": "labels",
    "parse_stage": "labels",
    "parse_view": "labels",
    "SampleOptions": "sample",
    "DatasetSource": "source",
    "Report": "validate",
    "ValidateOptions": "validate",
}
_SUBMODULES = frozenset({"dataset", "labels", "probe", "sample", "validate"})


if not TYPE_CHECKING:  # mypy sees the imports above; an unknown name stays an error for it

    def __getattr__(name: str) -> Any:
        """Import a public name on first use and keep it, so the next use is a plain lookup."""
        if name in _SUBMODULES:
            value: Any = importlib.import_module(f"norwoodkit.{name}")
        elif name in _HOMES:
            value = getattr(importlib.import_module(f"norwoodkit.{_HOMES[name]}"), name)
        else:
            raise AttributeError(f"module 'norwoodkit' has no attribute {name!r}")
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    """The public names, whether imported yet or not."""
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "CODES",
    "VIEWS",
    "AnnotationError",
    "Dataset",
    "DatasetSource",
    "Finding",
    "InputError",
    "LabelError",
    "NorwoodkitError",
    "OutputError",
    "ParameterError",
    "ProbedDataset",
    "Report",
    "SampleOptions",
    "Severity",
    "Stage",
    "ValidateOptions",
    "View",
    "__version__",
    "dataset",
    "labels",
    "load",
    "parse_stage",
    "parse_view",
    "probe",
    "sample",
    "validate",
]
