"""report: one self-contained, deterministic HTML file; it loads in a real browser with every
image displayed and no console error; files are written atomically."""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from norwoodkit import dataset, dedupe, probe, report
from norwoodkit.columns import ALL_COLUMNS, coerce
from norwoodkit.dataset import ProbedDataset
from norwoodkit.errors import InputError, OutputError
from norwoodkit.labels import VIEWS
from norwoodkit.stats import STAGE_LABELS, summarize
from norwoodkit.validate import validate

pytest.importorskip("matplotlib")

SPLITS = ("train", "val", "test")


@pytest.fixture(scope="module")
def probed(defect_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> ProbedDataset:
    # Module fixtures run before the per-test cache fixture: give this one its own cache.
    cache = tmp_path_factory.mktemp("cache")
    return probe.run(dataset.load(defect_sample), cache_dir=cache, workers=1)


@pytest.fixture(scope="module")
def splits(probed: ProbedDataset) -> pd.DataFrame:
    ids = probed.subjects["subject_id"].astype(str).tolist()
    return pd.DataFrame({"subject_id": ids, "split": [SPLITS[i % 3] for i in range(len(ids))]})


@pytest.fixture(scope="module")
def full_html(probed: ProbedDataset, splits: pd.DataFrame) -> str:
    return report.build(probed, dedupe=dedupe.find(probed), splits=splits)


def img_sources(text: str) -> list[str]:
    return re.findall(r'<img\b[^>]*\bsrc="([^"]*)"', text)


# --------------------------------------------------------------------------- content


def test_report_is_self_contained(full_html: str) -> None:
    sources = img_sources(full_html)
    assert len(sources) == full_html.count("<img ")
    assert sources and all(
        s.startswith(("data:image/png;base64,", "data:image/jpeg;base64,")) for s in sources
    )
    assert "<script" not in full_html and "<link" not in full_html
    assert not re.search(r"""(src|href)=["']?(https?:|//|file:)""", full_html)
    assert "url(" not in full_html
    assert "Content-Security-Policy" in full_html


def test_every_section_is_there(full_html: str, probed: ProbedDataset) -> None:
    for section in (
        "overview",
        "stages",
        "age",
        "demographics",
        "images",
        "contact-sheet",
        "findings",
        "duplicates",
        "splits",
    ):
        assert f'<section id="{section}">' in full_html
    for title in report.PLOT_TITLES.values():
        assert f'alt="{html.escape(title)}"' in full_html
    # The validation findings (run by build itself when none are given) are listed.
    for f in validate(probed).findings:
        assert html.escape(f.message) in full_html


def test_embedded_images_decode(full_html: str) -> None:
    sources = img_sources(full_html)
    assert sources
    for src in sources:
        data = base64.b64decode(src.split(",", 1)[1])
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            assert im.width > 0 and im.height > 0


def test_contact_sheet_has_a_few_thumbnails_per_stage_and_view(
    full_html: str, probed: ProbedDataset
) -> None:
    sheet = full_html.split('<section id="contact-sheet">')[1].split("</section>")[0]
    # A row for every stage, and one for subjects without a stage, each with its subject count.
    stage = probed.subjects["stage"]
    want = [(f"stage {s}", int((stage == s).sum())) for s in range(1, 8)]
    assert stage.isna().any()  # the defects sample has subjects without a stage
    want.append(("no stage", int(stage.isna().sum())))
    assert summarize_stages(sheet) == want
    n_thumbs = sheet.count("<img ")
    assert 0 < n_thumbs <= len(STAGE_LABELS) * len(VIEWS) * report.THUMBS_PER_CELL


def summarize_stages(sheet: str) -> list[tuple[str, int]]:
    rows = re.findall(r"<th>(stage \d|no stage)<br><small>(\d+) subjects</small>", sheet)
    return [(name, int(count)) for name, count in rows]


def test_duplicate_pairs_side_by_side_and_leaks_marked(
    probed: ProbedDataset, splits: pd.DataFrame, full_html: str
) -> None:
    result = dedupe.find(probed)
    assert len(result.pairs)  # the defect sample plants duplicates
    part = full_html.split('<section id="duplicates">')[1].split("</section>")[0]
    assert part.count('<div class="pair') == min(len(result.pairs), report.MAX_PAIRS)
    split_of = dict(zip(splits["subject_id"], splits["split"], strict=True))
    leaks = sum(
        split_of[a] != split_of[b]
        for a, b in zip(result.pairs["subject_a"], result.pairs["subject_b"], strict=True)
    )
    assert part.count('<div class="pair leak">') == leaks
    for a, b in zip(result.pairs["a"], result.pairs["b"], strict=True):
        assert html.escape(str(a)) in part and html.escape(str(b)) in part


def test_split_balance_agrees_with_pandas(probed: ProbedDataset, splits: pd.DataFrame) -> None:
    assignment = report.split_assignment(splits)
    balance = report.split_balance(probed, assignment)
    subjects = probed.subjects.assign(split=splits["split"].to_numpy())
    images = probed.table[probed.table["path"].notna()].merge(
        subjects[["subject_id", "split"]], on="subject_id"
    )
    frame = balance["splits"].set_index("split")
    assert list(frame.index) == list(SPLITS)
    stage = subjects["stage"].astype(object).where(subjects["stage"].notna(), "missing").astype(str)
    overall = stage.value_counts(normalize=True)
    for name in SPLITS:
        members = subjects[subjects["split"] == name]
        assert frame.at[name, "subjects"] == len(members)
        assert frame.at[name, "images"] == int((images["split"] == name).sum())
        assert frame.at[name, "age_mean"] == pytest.approx(
            members["age"].dropna().astype(float).mean()
        )
        shares = stage[members.index].value_counts(normalize=True)
        gaps = [abs(shares.get(s, 0.0) - overall.get(s, 0.0)) * 100 for s in STAGE_LABELS]
        assert frame.at[name, "max_stage_dev_pp"] == pytest.approx(max(gaps))
        row = balance["stage_shares"].set_index("split").loc[name]
        for s in STAGE_LABELS:
            assert row[s] == pytest.approx(shares.get(s, 0.0))


def test_split_table_checks(tmp_path: Path, probed: ProbedDataset) -> None:
    path = tmp_path / "splits.csv"
    path.write_text("subject_id,split\n001,train\n2,test\n2,test\n", encoding="utf-8")
    assignment = report.split_assignment(report.read_splits(path))
    assert assignment.to_dict() == {"1": "train", "2": "test"}
    balance = report.split_balance(probed, assignment)
    assert report.UNASSIGNED in set(balance["splits"]["split"])
    path.write_text("subject_id,split\n1,train\n1,test\n", encoding="utf-8")
    with pytest.raises(InputError, match="in two splits"):
        report.read_splits(path)
    path.write_text("id,fold\n1,0\n", encoding="utf-8")  # other names for the same columns
    assert report.split_assignment(report.read_splits(path)).to_dict() == {"1": "0"}
    path.write_text("who,where\n1,train\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown header"):
        report.read_splits(path)
    with pytest.raises(InputError, match="no such file"):
        report.read_splits(tmp_path / "nope.csv")
    (tmp_path / "s.txt").write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="unknown file type"):
        report.read_splits(tmp_path / "s.txt")
    parquet = tmp_path / "s.parquet"
    pd.DataFrame({"subject_id": ["1", "2"], "split": ["a", "b"]}).to_parquet(parquet)
    assert report.split_assignment(report.read_splits(parquet)).to_dict() == {"1": "a", "2": "b"}


def test_user_strings_are_escaped() -> None:
    evil = '<script>alert("x")</script>'
    rows = []
    for i, (sid, eth) in enumerate([("<b>1", evil), ("2&3", "Ἕλλην"), ("4", "a|b")]):
        for view in VIEWS:
            rows.append(
                {
                    "subject_id": sid,
                    "view": view.value,
                    "path": f"{sid}/{view.value}.jpg",
                    "in_annotation": True,
                    "stage": i + 1,
                    "age": 30 + i,
                    "gender": "male",
                    "ethnicity": eth,
                    "status": "ok",
                    "size": 1000,
                    "format": "JPEG",
                    "mode": "RGB",
                    "oriented_width": 100,
                    "oriented_height": 80,
                    "width": 100,
                    "height": 80,
                    "thumbnail": _jpeg(i),
                }
            )
    ds = ProbedDataset(root=Path("<evil>"), table=coerce(pd.DataFrame(rows), ALL_COLUMNS))
    splits = pd.DataFrame({"subject_id": ["<b>1", "2&3", "4"], "split": ["<i>a", "b", "b"]})
    text = report.build(ds, findings=validate(ds), splits=splits)
    assert "<script" not in text and "<b>1" not in text and "<i>a" not in text
    assert html.escape(evil) in text and "&lt;b&gt;1" in text and "2&amp;3" in text
    assert "Ἕλλην" in text and "&lt;evil&gt;" in text


def _jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (80, 100, 3), dtype=np.uint8), "RGB").save(buf, "JPEG")
    return buf.getvalue()


def test_without_thumbnails_the_report_says_so(probed: ProbedDataset) -> None:
    light = probe.run(dataset.load(probed.root), use_cache=False, workers=1, thumbnails=False)
    text = report.build(light, findings=())
    assert "probed with thumbnails=False" in text
    assert all(s.startswith("data:image/png") for s in img_sources(text))  # plots only
    assert "probed with thumbnails=False" not in report.build(probed, findings=())


def test_empty_dataset_raises(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    (root / "annotation.json").write_text("[]", encoding="utf-8")
    with pytest.raises(InputError, match="no subjects"):
        report.build(probe.run(dataset.load(root), use_cache=False))


# --------------------------------------------------------------------------- determinism, files


def test_same_data_same_html(probed: ProbedDataset, splits: pd.DataFrame, full_html: str) -> None:
    again = report.build(probed, dedupe=dedupe.find(probed), splits=splits)
    assert again == full_html


def test_plots_written_as_png_and_reproducible(probed: ProbedDataset, tmp_path: Path) -> None:
    plots = tmp_path / "plots"
    text = report.build(probed, findings=(), plots_dir=plots)
    names = sorted(p.name for p in plots.iterdir())
    assert names == sorted(f"{n}.png" for n in report.PLOT_TITLES)
    for name in report.PLOT_TITLES:
        data = (plots / f"{name}.png").read_bytes()
        assert data.startswith(b"\x89PNG")
        assert b"matplotlib" not in data.lower()  # no Software tag naming a version
        assert base64.b64encode(data).decode("ascii") in text
    again = report.render_plots(probed, summarize(probed))
    assert again == {n: (plots / f"{n}.png").read_bytes() for n in report.PLOT_TITLES}
    with pytest.raises(OutputError, match="does not exist"):
        report.build(probed, findings=(), plots_dir=tmp_path / "no" / "plots")


def test_write_refuses_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="does not exist") as info:
        report.write(tmp_path / "missing" / "report.html", "<html></html>")
    assert info.value.exit_code == 2
    assert not (tmp_path / "missing").exists()


def test_write_replaces_an_existing_file_atomically(tmp_path: Path, full_html: str) -> None:
    target = tmp_path / "report.html"
    target.write_text("old report " * 1000, encoding="utf-8")
    report.write(target, full_html)
    assert target.read_text(encoding="utf-8") == full_html
    assert os.listdir(tmp_path) == ["report.html"]  # no temporary file left behind
    with pytest.raises(OutputError, match="is a folder"):
        report.write(tmp_path, full_html)


def test_missing_matplotlib_names_the_extra(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from pathlib import Path\n"
        "from norwoodkit import report\n"
        "from norwoodkit.dataset import Dataset\n"
        "from norwoodkit.errors import NorwoodkitError\n"
        "import pandas as pd\n"
        "try:\n"
        "    report.build(Dataset(root=Path('x'), table=pd.DataFrame()))\n"
        "except NorwoodkitError as exc:\n"
        "    print(type(exc).__name__, exc.exit_code, exc.message)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert "NorwoodkitError 2" in done.stdout
    assert "pip install 'norwoodkit[report]'" in done.stdout


# --------------------------------------------------------------------------- in a browser


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


_PROBE_SCRIPT = """<script>
window.__nkErrors = [];
window.addEventListener('error', function (e) {
  var where = e.target && e.target.tagName ? e.target.tagName : '';
  window.__nkErrors.push('error ' + where + ': ' + (e.message || ''));
}, true);
document.addEventListener('securitypolicyviolation', function (e) {
  window.__nkErrors.push('csp: ' + e.blockedURI + ' ' + e.violatedDirective);
});
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var bad = imgs.filter(function (i) {
    var box = i.getBoundingClientRect();
    return !i.complete || i.naturalWidth === 0 || box.width === 0 || box.height === 0;
  });
  var out = document.createElement('pre');
  out.id = 'nk-result';
  out.textContent = JSON.stringify({
    images: imgs.length,
    bad: bad.map(function (i) { return i.alt; }),
    errors: window.__nkErrors
  });
  document.body.appendChild(out);
});
</script>"""


def _chromium_args(binary: str, profile: Path) -> list[str]:
    return [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
    ]


@pytest.fixture
def chromium() -> Iterator[str]:
    binary = _chromium()
    if binary is None:
        pytest.skip("chromium is not installed (apt-get install chromium); browser check not run")
    yield binary


def test_report_loads_in_chromium(chromium: str, full_html: str, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    report.write(page, full_html)
    # A copy with a probe script; the policy gains only inline scripts, so a non-data: image or
    # any other fetch is still blocked, and reported as a violation.
    probe_copy = tmp_path / "probe.html"
    csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    assert csp in full_html
    probed_text = full_html.replace(csp, csp + "; script-src 'unsafe-inline'", 1).replace(
        "</head>", _PROBE_SCRIPT + "</head>", 1
    )
    probe_copy.write_text(probed_text, encoding="utf-8")
    done = subprocess.run(
        [
            *_chromium_args(chromium, tmp_path / "profile1"),
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            "--virtual-time-budget=5000",
            probe_copy.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    match = re.search(r'<pre id="nk-result">(.*?)</pre>', done.stdout, re.S)
    assert match, f"no result in the DOM dump; chromium said:\n{done.stderr[-3000:]}"
    result: dict[str, Any] = json.loads(html.unescape(match.group(1)))
    assert result["images"] == full_html.count("<img ")
    assert result["bad"] == []
    assert result["errors"] == []
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []

    shot = tmp_path / "report.png"
    subprocess.run(
        [
            *_chromium_args(chromium, tmp_path / "profile2"),
            f"--screenshot={shot}",
            "--window-size=1400,3000",
            "--virtual-time-budget=5000",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert shot.is_file(), "chromium wrote no screenshot"
    with Image.open(shot) as im:
        assert im.size == (1400, 3000)
        pixels = np.asarray(im.convert("L"), dtype=np.float64)
    assert pixels.std() > 10  # not a blank page
    keep = os.environ.get("NORWOODKIT_KEEP_SCREENSHOT")
    if keep:
        shutil.copyfile(shot, keep)
