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

from importlib.metadata import PackageNotFoundError, version

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

try:
    __version__ = version("norwoodkit")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

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
