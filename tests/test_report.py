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
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import MakeDataset, jpeg_bytes, photo, snapshot
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
    rows = re.findall(r"<h3>(stage \d|no stage) <small>(\d+) subjects</small>", sheet)
    return [(name, int(count)) for name, count in rows]


def section(text: str, sid: str) -> str:
    return text.split(f'<section id="{sid}">')[1].split("</section>")[0]


def overlays(text: str) -> dict[str, str]:
    """Overlay id -> its markup."""
    tail = text.split("</main>", 1)[1]
    return dict(re.findall(r'<div class=zoom id="(zoom-\d+)">(.*?)</div>', tail, re.S))


def jpeg_of(markup: str) -> Image.Image:
    src = img_sources(markup)[0]
    with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as im:
        im.load()
        return im.copy()


def test_every_thumbnail_opens_one_overlay_per_photo(full_html: str) -> None:
    main = full_html.split("</main>", 1)[0]
    links = re.findall(r'<a(?: id="at-\d+")? class=zoomin href="#(zoom-\d+)"><img ', main)
    thumbs = [s for s in img_sources(main) if s.startswith("data:image/jpeg")]
    assert links and len(links) == len(thumbs)  # every photo on the page can be enlarged
    found = overlays(full_html)
    assert sorted(found) == sorted(set(links))  # one overlay per photo, however often shown
    for oid, markup in found.items():
        number = oid.split("-")[1]
        assert f'id="at-{number}"' in main  # the close link returns to where it was first shown
        assert f'href="#at-{number}"' in markup
        assert len(img_sources(markup)) == 1


def test_enlarged_photos_are_read_again_at_640_px(
    make_dataset: MakeDataset, tmp_path: Path
) -> None:
    root = make_dataset(subjects=2)
    big = Image.fromarray(
        np.random.default_rng(1).integers(0, 255, (750, 1000, 3), dtype=np.uint8), "RGB"
    )
    big.save(root / "1" / "Front.jpg", quality=90)
    ds = probe.run(dataset.load(root), cache_dir=tmp_path / "cache", workers=1)
    before = snapshot(root)
    text = report.build(ds, findings=())
    assert snapshot(root) == before  # read, never written
    sizes = {}
    for markup in overlays(text).values():
        path = re.search(r"<br>([^<]+?)(?:<p| <a)", markup)
        assert path
        sizes[path.group(1)] = jpeg_of(markup).size
    assert sizes["1/Front.jpg"] == (report.ENLARGED_SIZE, 480)  # 1000x750 shrunk to 640 px
    assert sizes["2/Front.jpg"] == (96, 72)  # never enlarged past the source
    sheet = section(text, "contact-sheet")
    thumb = jpeg_of(sheet.split('title="1/Front.jpg"')[1])
    assert thumb.size == (report.THUMBNAIL_SIZE, 120)  # from the same read, upright, 160 px
    assert jpeg_of(sheet.split('title="2/Front.jpg"')[1]).size == (96, 72)
    assert "nothumb" not in sheet and "not shown:" not in text


def test_photo_gone_or_replaced_since_the_probe_is_a_placeholder_saying_why(
    make_dataset: MakeDataset, tmp_path: Path
) -> None:
    root = make_dataset(subjects=2)
    ds = probe.run(dataset.load(root), cache_dir=tmp_path / "cache", workers=1)
    (root / "1" / "Front.jpg").unlink()
    (root / "2" / "Back.jpg").write_bytes(jpeg_bytes(photo(99)))
    (root / "2" / "Top-Down.jpg").write_bytes(b"\xff\xd8\xff not a jpeg any more")
    # The same bytes, but now behind a link out of the root: refused before it is opened.
    outside = tmp_path / "outside.jpg"
    outside.write_bytes((root / "2" / "Left.jpg").read_bytes())
    (root / "2" / "Left.jpg").unlink()
    (root / "2" / "Left.jpg").symlink_to(outside)
    before = snapshot(root)
    text = report.build(ds, findings=())
    assert snapshot(root) == before
    main = text.split("</main>", 1)[0]
    placeholders = re.findall(
        r'<figure class=thumb title="([^"]+)"><div class=nothumb>no photo</div>'
        r"<figcaption>[^<]*<br>not shown: ([^<]+)</figcaption>",
        main,
    )
    notes = dict(placeholders)
    assert sorted(notes) == ["1/Front.jpg", "2/Back.jpg", "2/Left.jpg", "2/Top-Down.jpg"]
    assert len(placeholders) == main.count("not shown:")  # every place each is shown
    assert "leads outside the dataset root" in notes["2/Left.jpg"]
    assert "file not found" in notes["1/Front.jpg"]
    assert "changed since the probe" in notes["2/Back.jpg"]
    assert "changed since the probe" in notes["2/Top-Down.jpg"]
    # Nothing of a changed photo is drawn: no thumbnail, no overlay, no link to one.
    shown = [re.search(r"<br>([^<]+?) <a", m).group(1) for m in overlays(text).values()]  # type: ignore[union-attr]
    assert len(shown) == 6 and not set(shown) & set(notes)
    assert len(set(re.findall(r'class=zoomin href="#(zoom-\d+)"', main))) == 6


def test_one_view_and_no_duplicates_leave_no_misleading_section(
    make_dataset: MakeDataset, tmp_path: Path
) -> None:
    root = make_dataset(subjects=4, paths_in_records=False)
    for f in root.glob("*/*.jpg"):
        if f.name != "Front.jpg":
            f.unlink()
    ds = probe.run(dataset.load(root), cache_dir=tmp_path / "cache", workers=1)
    text = report.build(ds, dedupe=dedupe.find(ds))
    sheet = section(text, "contact-sheet")
    assert "each with its 1 view." in sheet and "nothumb" not in sheet
    assert sheet.count("<figure class=thumb") == sheet.count("<div class=strip>") == 4
    dup = section(text, "duplicates")
    assert "No duplicate pairs among 4 compared images" in dup and "<table" not in dup
    assert_no_all_zero_columns(text)


def table_columns(text: str) -> list[tuple[str, list[str]]]:
    """(header, cells) of every column of every table on the page."""
    out: list[tuple[str, list[str]]] = []
    for table in re.findall(r"<table.*?</table>", text, re.S):
        head = re.findall(r"<th[^>]*>(.*?)</th>", table.split("</thead>")[0])
        body = table.split("<tbody>")[1]
        rows = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in re.findall(r"<tr>(.*?)</tr>", body)]
        out.extend((h, [r[i] for r in rows if i < len(r)]) for i, h in enumerate(head))
    return out


def assert_no_all_zero_columns(text: str) -> None:
    zero = {"0", "0.0 %", "0.00"}
    for head, cells in table_columns(text):
        assert not cells or not all(c in zero for c in cells), f"all-zero column {head!r}"


def test_no_all_zero_column_and_captions_add_to_titles(
    full_html: str, clean_sample: Path, tmp_path: Path
) -> None:
    clean = probe.run(dataset.load(clean_sample), cache_dir=tmp_path / "cache", workers=1)
    text = report.build(clean, findings=())
    # The clean sample has no subject without a stage or age: those columns are left out.
    assert "Left out, zero in every row: missing" in text
    for page in (text, full_html):
        assert_no_all_zero_columns(page)
        for name, title in report.PLOT_TITLES.items():
            caption = f"<b>{html.escape(title)}.</b> {html.escape(report.PLOT_CAPTIONS[name])}"
            assert caption in page and len(report.PLOT_CAPTIONS[name]) > 40


def test_image_sizes_plot_has_a_panel_per_view(probed: ProbedDataset) -> None:
    from matplotlib.figure import Figure

    from norwoodkit.report.plots import _plot_sizes

    fig = Figure()
    _plot_sizes(fig, probed)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    t = probed.table
    views = t.loc[t["path"].notna() & t["oriented_width"].notna(), "view"]
    want = [f"{v.value} ({int((views == v.value).sum())})" for v in VIEWS]
    assert titles[:5] == want and titles[5].startswith("(no view)")


def test_duplicate_pairs_side_by_side_and_leaks_marked(
    probed: ProbedDataset, splits: pd.DataFrame, full_html: str
) -> None:
    result = dedupe.find(probed)
    assert len(result.pairs)  # the defect sample plants duplicates
    part = full_html.split('<section id="duplicates">')[1].split("</section>")[0]
    assert part.count('<div class="pair') == min(len(result.pairs), report.MAX_PAIRS)
    cards = re.findall(r'<div class="pair.*?</div></div></div>', part, re.S)
    groups = result.groups.set_index("path")
    subjects = probed.subjects.set_index("subject_id")
    rows = probed.table.set_index("path")
    for card, pair in zip(cards, result.pairs.itertuples(), strict=False):
        assert f"distance {pair.distance} bits" in card
    for card in cards:
        for side in card.split("<div class=side>")[1:]:
            path = html.unescape(re.search(r'title="([^"]+)"', side).group(1))  # type: ignore[union-attr]
            sid = str(rows.at[path, "subject_id"])
            stage: Any = subjects.at[sid, "stage"]
            age: Any = subjects.at[sid, "age"]
            want_stage = f"stage {stage}" if pd.notna(stage) else "no stage"
            want_age = f"age {age}" if pd.notna(age) else "no age"
            assert f"subject {sid}, {want_stage}, {want_age}<br>" in side
            w: Any = rows.at[path, "oriented_width"]
            h: Any = rows.at[path, "oriented_height"]
            assert f"{w} x {h} px, " in side
            keeper = groups.at[path, "keeper"]
            if keeper:
                assert '<span class="mark keep">keep</span>' in side
            else:
                kept = groups[groups["group"] == groups.at[path, "group"]]
                name = kept.index[kept["keeper"]][0]
                assert f'<span class="mark drop">drop: dedupe keeps {html.escape(name)}' in side
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
                }
            )
    ds = ProbedDataset(root=Path("<evil>"), table=coerce(pd.DataFrame(rows), ALL_COLUMNS))
    splits = pd.DataFrame({"subject_id": ["<b>1", "2&3", "4"], "split": ["<i>a", "b", "b"]})
    text = report.build(ds, findings=validate(ds), splits=splits)
    assert "<script" not in text and "<b>1" not in text and "<i>a" not in text
    assert html.escape(evil) in text and "&lt;b&gt;1" in text and "2&amp;3" in text
    assert "Ἕλλην" in text and "&lt;evil&gt;" in text


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


class DevTools:
    """A headless chromium driven over the DevTools protocol: the page under test runs no script
    of ours, and console messages, CSP violations and exceptions arrive as events."""

    def __init__(self, binary: str, profile: Path) -> None:
        websocket = pytest.importorskip("websocket")
        self._log = (profile.parent / "chromium.log").open("wb")
        self._proc = subprocess.Popen(
            [*_chromium_args(binary, profile), "--remote-debugging-port=0", "about:blank"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not port_file.is_file() or not port_file.read_text().strip():
            assert self._proc.poll() is None and time.monotonic() < deadline, "no DevTools port"
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as answer:
            pages = [t for t in json.load(answer) if t["type"] == "page"]
        self._ws = websocket.create_connection(
            pages[0]["webSocketDebuggerUrl"], timeout=120, suppress_origin=True
        )
        self._next = 0
        self.events: list[dict[str, Any]] = []
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._next += 1
        self._ws.send(json.dumps({"id": self._next, "method": method, "params": params}))
        while True:
            message: dict[str, Any] = json.loads(self._ws.recv())
            if message.get("id") == self._next:
                assert "error" not in message, message
                return dict(message.get("result", {}))
            self.events.append(message)

    def wait_for(self, method: str) -> None:
        while not any(e.get("method") == method for e in self.events):
            self.events.append(json.loads(self._ws.recv()))

    def evaluate(self, expression: str) -> Any:
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"][
            "value"
        ]

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot")["data"]))

    def errors(self) -> list[str]:
        """Console errors and warnings, CSP violations and uncaught exceptions so far."""
        bad = []
        for e in self.events:
            p = e.get("params", {})
            if e.get("method") == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
                bad.append(p["entry"]["text"])
            elif e.get("method") == "Runtime.consoleAPICalled" and p["type"] in ("error", "warn"):
                bad.append(str(p["args"]))
            elif e.get("method") == "Runtime.exceptionThrown":
                bad.append(str(p["exceptionDetails"]))
        return bad

    def close(self) -> None:
        self._ws.close()
        self._proc.terminate()
        self._proc.wait(timeout=30)
        self._log.close()


#: Per page width: horizontal overflow, images that did not load, visible thumbnails not shown
#: at their stored size, and the thumbnails' smallest side.
_MEASURE = """JSON.stringify((function () {
  var imgs = Array.prototype.slice.call(document.images);
  var thumbs = imgs.filter(function (i) { return i.closest('figure.thumb'); });
  return {
    scroll: document.documentElement.scrollWidth,
    images: imgs.length,
    broken: imgs.filter(function (i) { return !i.complete || i.naturalWidth === 0; })
      .map(function (i) { return i.alt; }),
    shrunk: thumbs.filter(function (i) { return i.width !== i.naturalWidth; })
      .map(function (i) { return i.alt; }),
    visible_sizes: thumbs.map(function (i) { return Math.min(i.width, i.height); })
  };
})())"""

#: The first overlay, opened by its fragment: shown, its photo inside the viewport.
_ZOOM = """JSON.stringify((function () {
  var z = document.getElementById('zoom-1'), img = z.querySelector('img');
  var box = img.getBoundingClientRect();
  return {display: getComputedStyle(z).display, left: box.left, right: box.right,
          width: box.width, height: box.height, viewport: window.innerWidth};
})())"""


@pytest.fixture
def chromium() -> Iterator[str]:
    binary = _chromium()
    if binary is None:
        pytest.skip("chromium is not installed (apt-get install chromium); browser check not run")
    yield binary


@pytest.mark.parametrize("width", [1400, 400])
def test_report_reads_well_in_chromium(
    chromium: str, full_html: str, tmp_path: Path, width: int
) -> None:
    page = tmp_path / "report.html"
    report.write(page, full_html)
    browser = DevTools(chromium, tmp_path / "profile")
    try:
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=900,
            deviceScaleFactor=1,
            mobile=width < 600,
        )
        browser.call("Page.navigate", url=page.as_uri())
        browser.wait_for("Page.loadEventFired")
        seen = json.loads(browser.evaluate(_MEASURE))
        browser.screenshot(tmp_path / f"report-{width}.png")
        browser.evaluate("location.hash = '#zoom-1'; 1")
        zoom = json.loads(browser.evaluate(_ZOOM))
        browser.screenshot(tmp_path / f"zoom-{width}.png")
        errors = browser.errors()
    finally:
        browser.close()
    assert seen["scroll"] <= width, f"the page is {seen['scroll']} px wide in a {width} px window"
    assert seen["images"] == full_html.count("<img ")
    assert seen["broken"] == [] and seen["shrunk"] == []
    assert min(seen["visible_sizes"]) > 0
    assert errors == []
    assert zoom["display"] == "flex" and zoom["viewport"] == width
    assert zoom["left"] >= 0 and zoom["right"] <= width and zoom["width"] > report.THUMBNAIL_SIZE
    for name in (f"report-{width}.png", f"zoom-{width}.png"):
        with Image.open(tmp_path / name) as im:
            assert im.size == (width, 900)
            pixels = np.asarray(im.convert("L"), dtype=np.float64)
        assert pixels.std() > 10  # not a blank page
    with Image.open(tmp_path / f"zoom-{width}.png") as im:
        # The overlay darkens the page around the photo.
        assert np.asarray(im.convert("L"))[:, :8].mean() < 60
    keep = os.environ.get("NORWOODKIT_KEEP_SCREENSHOT")
    if keep:
        shutil.copyfile(tmp_path / f"report-{width}.png", f"{keep}-{width}.png")
