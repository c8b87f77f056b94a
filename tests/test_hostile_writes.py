"""Hostile writes: outputs safe to open (CSV cells, JUnit XML, HTML), writes that fail (file too
large, no permission, a folder in the way) and Ctrl-C. Each case checks the exit code, the
message, no traceback, the dataset untouched and no temporary file left behind."""

from __future__ import annotations

import csv
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import xml.dom.minidom
from collections.abc import Callable, Sequence
from pathlib import Path
from xml.etree import ElementTree as ET

import pandas as pd
import pytest
from hostile import Watch, hostile, tree

from conftest import jpeg_bytes, photo, vendor_record, write_annotation
from norwoodkit.atomic import neutralise_cell, restore_cell, write_table_atomic
from norwoodkit.labels import VENDOR_FILENAMES, VIEWS, View
from norwoodkit.split import read_table

REPO = Path(__file__).resolve().parents[1]

#: Subject ids a spreadsheet would run as formulas (they are valid folder names).
FORMULA_IDS = ["=1+2", "+1", "@SUM(A1)", "-cmd", "'=3", "<script>", "x]]>y"]
#: Ethnicity values: a formula with a link, and markup that would close the report's style.
FORMULA_ETHNICITY = '=HYPERLINK("http://x")'
MARKUP_ETHNICITY = "</style><script>alert(1)</script>"
DANGEROUS_STARTS = ("=", "+", "@", "\t", "\r")


@pytest.fixture(scope="module")
def hostile_ds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset whose ids and values are formulas and markup, one photo shared across two
    subjects (so dedupe writes pairs), and a stray folder with a control character."""
    root = tmp_path_factory.mktemp("hostile") / "ds"
    root.mkdir()
    records = []
    for k, sid in enumerate(FORMULA_IDS):
        (root / sid).mkdir()
        for j, view in enumerate(VIEWS):
            (root / sid / VENDOR_FILENAMES[view]).write_bytes(jpeg_bytes(photo(k * 10 + j)))
        ethnicity = FORMULA_ETHNICITY if k % 2 else MARKUP_ETHNICITY
        records.append(vendor_record(sid, stage="Stage 3", ethnicity=ethnicity))
    shared = (root / FORMULA_IDS[0] / VENDOR_FILENAMES[View.FRONT]).read_bytes()
    (root / FORMULA_IDS[1] / VENDOR_FILENAMES[View.FRONT]).write_bytes(shared)
    (root / "stray\x01\x1b[31m]]>").mkdir()
    write_annotation(root, records)
    return root


def _cells(folder: Path) -> list[str]:
    cells: list[str] = []
    for f in sorted(folder.rglob("*.csv")):
        with open(f, newline="", encoding="utf-8") as fh:
            cells += [c for row in csv.reader(fh) for c in row]
    return cells


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


CSV_OUTPUTS = [
    pytest.param(["split", "--out", "{out}/s.csv", "--images", "{out}/i.csv"], id="split-csv"),
    pytest.param(["dedupe", "--pairs", "{out}/p.csv"], id="dedupe-pairs"),
    pytest.param(["dedupe", "--groups", "{out}/g.csv"], id="dedupe-groups"),
    pytest.param(["dedupe", "--exclude-list", "{out}/x.csv"], id="dedupe-exclude-list"),
    pytest.param(["stats", "--csv", "{out}/stats"], id="stats-csv"),
]


@pytest.mark.parametrize("args", CSV_OUTPUTS)
def test_csv_cells_are_neutralised(args: list[str], hostile_ds: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    command = [args[0], str(hostile_ds), *(a.format(out=out) for a in args[1:]), "--workers", "1"]
    hostile(command, 0, untouched=[hostile_ds])
    cells = _cells(out)
    assert cells, "no CSV written"
    assert not [c for c in cells if c.startswith(DANGEROUS_STARTS)]
    assert not [c for c in cells if c.startswith("-") and not _is_number(c)]
    if args[0] != "stats":
        assert any(c.startswith("'") for c in cells)  # the hostile ids did reach the file


def test_split_file_round_trips(hostile_ds: Path, tmp_path: Path) -> None:
    split_file = tmp_path / "s.csv"
    hostile(["split", hostile_ds, "--out", split_file, "--workers", "1"], 0)
    assert set(read_table(split_file, "s")["subject_id"]) == set(FORMULA_IDS)
    hostile(["split", hostile_ds, "--check", split_file, "--workers", "1"], 0)


@pytest.mark.parametrize(
    "value",
    ["=1", "+1", "-1", "@A", "\t=1", "\r=1", "'=1", "''", "'x", "'", "plain", "", "a=b"],
)
def test_neutralising_is_undone_exactly(value: str) -> None:
    assert restore_cell(neutralise_cell(value)) == value
    assert not neutralise_cell(value).startswith(DANGEROUS_STARTS)


def test_numbers_are_not_touched(tmp_path: Path) -> None:
    frame = pd.DataFrame({"n": [-1, 2], "x": [-0.5, 1.5], "t": ["-1", "=2"]})
    write_table_atomic(frame, tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text().splitlines() == ["n,x,t", "-1,-0.5,'-1", "2,1.5,'=2"]


def test_carriage_return_in_a_cell_round_trips(tmp_path: Path) -> None:
    frame = pd.DataFrame({"subject_id": ["a\rb", "\r=1"], "split": ["train", "test"]})
    write_table_atomic(frame, tmp_path / "t.csv")
    assert read_table(tmp_path / "t.csv", "t")["subject_id"].tolist() == ["a\rb", "\r=1"]


def test_junit_is_well_formed(hostile_ds: Path, tmp_path: Path) -> None:
    junit = tmp_path / "j.xml"
    hostile(["validate", hostile_ds, "--junit", junit, "--workers", "1"], 1, untouched=[hostile_ds])
    text = junit.read_text(encoding="utf-8")
    ET.fromstring(text.split("\n", 1)[1])  # after the declaration, which fromstring refuses
    xml.dom.minidom.parseString(junit.read_bytes())
    assert "\ufffd" in text and "\x01" not in text and "\x1b" not in text


def test_html_report_escapes_every_value(hostile_ds: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    page = tmp_path / "r.html"
    hostile(["report", hostile_ds, "--out", page, "--workers", "1"], 0, untouched=[hostile_ds])
    html = page.read_text(encoding="utf-8")
    assert "<script" not in html and "</style><" not in html
    assert "&lt;script&gt;" in html and "\x01" not in html


# --------------------------------------------------------------------------- failed writes


def _cli(args: Sequence[str | os.PathLike[str]]) -> list[str]:
    return [sys.executable, "-m", "norwoodkit", *(str(a) for a in args)]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _no_big_files() -> None:
    """In the child: every write to a regular file fails with EFBIG (a full disk, for us)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


def _run(
    args: Sequence[str | os.PathLike[str]], before: Callable[[], None] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _cli(args), env=_env(), capture_output=True, text=True, timeout=300, preexec_fn=before
    )


def _temporaries(*folders: Path) -> list[str]:
    return [k for f in folders for k in tree(f) if k.endswith(".tmp") or "/.tmp" in k]


FULL_DISK = [
    pytest.param(["validate", "{ds}", "--junit", "{out}/j.xml"], "j.xml", id="junit"),
    pytest.param(["dedupe", "{ds}", "--pairs", "{out}/p.csv"], "p.csv", id="pairs"),
    pytest.param(["dedupe", "{ds}", "--groups", "{out}/g.parquet"], "g.parquet", id="groups"),
    pytest.param(["dedupe", "{ds}", "--exclude-list", "{out}/x.json"], "x.json", id="exclude"),
    pytest.param(
        ["split", "{ds}", "--out", "{out}/s.csv", "--ratios", "50,50", "--stratify", "gender"],
        "s.csv",
        id="split-out",
    ),
    pytest.param(["stats", "{ds}", "--markdown", "{out}/s.md"], "s.md", id="stats-markdown"),
    pytest.param(["stats", "{ds}", "--csv", "{out}/csv"], "facts.csv", id="stats-csv"),
    pytest.param(["report", "{ds}", "--out", "{out}/r.html"], "r.html", id="report"),
    pytest.param(["pack", "{ds}", "--out", "{out}/shards"], "shards", id="pack-shards"),
]


@pytest.mark.parametrize(("args", "name"), FULL_DISK)
def test_full_disk_is_exit_2(
    args: list[str], name: str, clean_sample: Path, tmp_path: Path
) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    out.mkdir()
    if args[0] == "report":
        pytest.importorskip("matplotlib")
    command = [a.format(ds=clean_sample, out=out) for a in args]
    watch = Watch((clean_sample,))
    result = _run([*command, "--cache", cache, "--workers", "1"], _no_big_files)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert name in result.stderr and "File too large" in result.stderr
    assert "cannot write the probe cache" in result.stderr  # only a warning
    assert _temporaries(out, cache) == []
    assert watch.changed() == []


def test_full_disk_sample_is_exit_2(tmp_path: Path) -> None:
    args: list[str | Path] = ["sample", tmp_path / "s", "--subjects", "1", "--size", "tiny"]
    result = _run([*args, "--workers", "1"], _no_big_files)
    assert result.returncode == 2, result.stderr
    assert "File too large" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("name", ["manifest.json", "README.md"])
def test_pack_file_in_the_way_is_exit_2(name: str, clean_sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "shards"
    (out / name).mkdir(parents=True)
    args: list[str | Path] = ["pack", clean_sample, "--out", out, "--overwrite", "--workers", "1"]
    hostile(args, 2, [name, "choose a"], untouched=[clean_sample])
    assert _temporaries(out) == []


def _setpriv_works(folder: Path) -> bool:
    probe = subprocess.run(
        ["setpriv", "--bounding-set=-all", "touch", str(folder / "x")], capture_output=True
    )
    return shutil.which("setpriv") is not None and probe.returncode != 0


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["validate", "{ds}", "--junit", "{out}/j.xml"], id="junit"),
        pytest.param(["split", "{ds}", "--out", "{out}/s.csv"], id="split"),
        pytest.param(["pack", "{ds}", "--out", "{out}/shards"], id="pack"),
    ],
)
def test_folder_without_permission_is_exit_2(
    args: list[str], clean_sample: Path, tmp_path: Path
) -> None:
    out = tmp_path / "locked"
    out.mkdir(mode=0o555)
    if shutil.which("setpriv") is None or not _setpriv_works(out):
        pytest.skip("setpriv cannot drop the capabilities that bypass file permissions here")
    command = [a.format(ds=clean_sample, out=out) for a in args]
    result = subprocess.run(
        ["setpriv", "--bounding-set=-all", *_cli([*command, "--no-cache", "--workers", "1"])],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr
    assert str(out) in result.stderr and "Traceback" not in result.stderr
    assert tree(out) == {}


# --------------------------------------------------------------------------- Ctrl-C


@pytest.fixture(scope="module")
def slow_ds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset whose probe takes a few seconds on one worker (large photos)."""
    root = tmp_path_factory.mktemp("slow") / "ds"
    root.mkdir()
    img = photo(1, size=(1600, 1200))
    for i in range(1, 31):
        (root / str(i)).mkdir()
        for j, view in enumerate(VIEWS):
            data = jpeg_bytes(img.rotate(i * 5 + j), quality=95)
            (root / str(i) / VENDOR_FILENAMES[view]).write_bytes(data)
    write_annotation(root, [vendor_record(str(i)) for i in range(1, 31)])
    return root


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["validate", "{ds}", "--junit", "{out}/j.xml"], id="validate"),
        pytest.param(["dedupe", "{ds}", "--pairs", "{out}/p.csv"], id="dedupe"),
        pytest.param(["split", "{ds}", "--out", "{out}/s.csv"], id="split"),
    ],
)
def test_ctrl_c_exits_130_and_leaves_no_temporary(
    args: list[str], slow_ds: Path, tmp_path: Path
) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    out.mkdir()
    command = [a.format(ds=slow_ds, out=out) for a in args]
    watch = Watch((slow_ds,))
    proc = subprocess.Popen(
        _cli([*command, "--cache", cache, "--workers", "2"]),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not _temporaries(cache) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)  # wait until the probe is writing its cache
    time.sleep(1.0)  # and its workers have started (see the report: a forkserver that is still
    # importing when Ctrl-C comes prints a traceback of its own)
    assert proc.poll() is None, "the command ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert _temporaries(out, cache) == []
    assert tree(out) == {}
    assert watch.changed() == []
