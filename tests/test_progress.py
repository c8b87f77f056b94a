"""tqdm_progress: the library's progress callbacks as a tqdm.auto bar, for Python API users."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import MakeDataset
from norwoodkit import DatasetSource, pack
from norwoodkit.progress import tqdm_progress


def _final(text: str) -> str:
    """The last state a text bar drew (tqdm redraws in place with carriage returns)."""
    return text.replace("\n", "\r").rstrip("\r").rsplit("\r", 1)[-1]


def test_a_probe_fills_the_bar_to_its_total(make_dataset: MakeDataset) -> None:
    root = make_dataset(subjects=4)
    source = DatasetSource(root, workers=1)
    ds = source.load()
    out = io.StringIO()
    with tqdm_progress(len(ds.images), "probing", file=out) as update:
        probed = source.probe(ds, progress=update)
    assert len(probed.images) == 20
    final = _final(out.getvalue())
    assert final.startswith("probing: 100%"), final
    assert "20/20" in final


def test_a_cached_probe_reports_its_hits_too(make_dataset: MakeDataset) -> None:
    """The second probe decodes nothing; the bar still reaches its total (cache hits count)."""
    root = make_dataset(subjects=2)
    source = DatasetSource(root, workers=1)
    source.open()
    ds = source.load()
    out = io.StringIO()
    with tqdm_progress(len(ds.images), "probing", file=out) as update:
        source.probe(ds, progress=update)
    assert "10/10" in _final(out.getvalue())


def test_without_a_total_it_counts(clean_sample: Path, tmp_path: Path) -> None:
    """``verify`` reports rows as it reads them; with no total the bar is a plain count."""
    source = DatasetSource(clean_sample, workers=1)
    pack.write(source.open(), tmp_path / "shards", pack.PackOptions())
    out = io.StringIO()
    with tqdm_progress(desc="verifying", unit="row", file=out) as update:
        assert pack.verify(tmp_path / "shards", progress=update) == []
    final = _final(out.getvalue())
    assert final.startswith("verifying: 150row"), final
    assert "%" not in final


def test_the_bar_is_closed_when_the_call_fails() -> None:
    out = io.StringIO()
    with (
        pytest.raises(RuntimeError, match="stop"),
        tqdm_progress(10, "work", file=out) as update,
    ):
        update(3)
        raise RuntimeError("stop")
    # close() draws the bar's last state and ends its line: nothing is left half-drawn.
    assert out.getvalue().endswith("\n")
    assert "3/10" in _final(out.getvalue())


def test_disabled_draws_nothing() -> None:
    out = io.StringIO()
    with tqdm_progress(5, "quiet", disable=True, file=out) as update:
        update(5)
    assert out.getvalue() == ""


def test_the_cli_and_the_package_do_not_load_tqdm() -> None:
    """The CLI keeps its Rich bars: tqdm is loaded only by those who import norwoodkit.progress."""
    code = (
        "import sys, norwoodkit, norwoodkit.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'tqdm'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
