"""sample: the vendor's layout, byte-identical for a seed, realistic distributions, safe writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from norwoodkit import dataset, sample
from norwoodkit.errors import OutputError, ParameterError
from norwoodkit.labels import VENDOR_FILENAMES


def files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def opts(**kw: object) -> sample.SampleOptions:
    base: dict[str, object] = {"subjects": 6, "size": "tiny", "workers": 1}
    base.update(kw)
    return sample.SampleOptions(**base)  # type: ignore[arg-type]


def test_vendor_layout(tmp_path: Path) -> None:
    result = sample.write(tmp_path / "s", opts())
    root = result.root
    assert result.subjects == 6 and result.images == 30
    assert sorted(p.name for p in (root / "1").iterdir()) == sorted(VENDOR_FILENAMES.values())
    records = json.loads((root / "annotation.json").read_text())
    assert records[0]["id"] == "1" and records[0]["Top-Down"] == "/1/Top-Down.jpg"
    assert records[0]["label"].startswith("Stage ")
    assert all(isinstance(v, str) for r in records for v in r.values())
    ds = dataset.load(root)
    assert ds.notes == () and len(ds.images) == 30


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    a = files(sample.write(tmp_path / "a", opts(seed=5, defects=False)).root)
    b = files(sample.write(tmp_path / "b", opts(seed=5, workers=2)).root)
    c = files(sample.write(tmp_path / "c", opts(seed=6)).root)
    assert a == b
    assert a.keys() == c.keys() and a != c
    assert a["1/Front.jpg"] != c["1/Front.jpg"]


def test_same_seed_same_defects(tmp_path: Path) -> None:
    a = files(sample.write(tmp_path / "a", opts(subjects=50, seed=2, defects=True)).root)
    b = files(sample.write(tmp_path / "b", opts(subjects=50, seed=2, defects=True)).root)
    assert a == b and "defects.json" in a


def test_distributions_look_like_the_card(tmp_path: Path) -> None:
    root = sample.write(tmp_path / "s", opts(subjects=300, size="48x32", workers=2)).root
    subjects = dataset.load(root).subjects
    assert subjects["age"].between(18, 80).all()
    assert 40 <= subjects["age"].mean() <= 50
    assert set(subjects["stage"]) == set(range(1, 8))
    shares = subjects["stage"].value_counts(normalize=True)
    assert shares.max() < 0.35 and shares.min() > 0.02
    by_stage = subjects.groupby("stage")["age"].mean()
    assert by_stage.loc[7] > by_stage.loc[1]  # older men, later stages


def test_photos_vary_in_size_and_some_are_rotated(tmp_path: Path) -> None:
    root = sample.write(tmp_path / "s", opts(subjects=40, size="small", workers=2)).root
    sizes, rotated = set(), 0
    for p in root.rglob("*.jpg"):
        with Image.open(p) as im:
            sizes.add(im.size)
            rotated += im.getexif().get(0x0112, 1) != 1
    assert len(sizes) > 10
    assert 0 < rotated < 40


@pytest.mark.parametrize(
    ("size", "expected"), [("small", (640, 480)), ("12mp", (4000, 3000)), ("800x600", (800, 600))]
)
def test_parse_size(size: str, expected: tuple[int, int]) -> None:
    assert sample.parse_size(size) == expected


@pytest.mark.parametrize("size", ["huge", "10x", "0x100", "100000x100"])
def test_bad_size(size: str) -> None:
    with pytest.raises(ParameterError, match=f"^size: {size!r} is not a size") as err:
        sample.parse_size(size)
    assert err.value.parameter == "size"
    with pytest.raises(ParameterError, match="WIDTHxHEIGHT"):
        opts(size=size)


def test_defects_need_enough_subjects(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="subjects: 10 is too few to plant the defects") as e:
        sample.write(tmp_path / "s", opts(subjects=10, defects=True))
    assert "50 or more" in e.value.problem
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("subjects", 0, "0 is too few"),
        ("quality", 0, "0 is outside 1..100"),
        ("quality", 101, "101 is outside 1..100"),
        ("seed", -1, "-1 is negative"),
    ],
)
def test_bad_options_name_their_parameter(field: str, value: int, problem: str) -> None:
    with pytest.raises(ParameterError, match=problem) as err:
        opts(**{field: value})
    assert err.value.parameter == field and "--" not in err.value.message


def test_existing_folder_is_refused_unless_it_is_a_sample(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "precious.txt").write_text("keep me")
    with pytest.raises(OutputError, match="already exists"):
        sample.write(mine, opts())
    with pytest.raises(OutputError, match="not a norwoodkit sample"):
        sample.write(mine, opts(), overwrite=True)
    assert (mine / "precious.txt").read_text() == "keep me"
    s = sample.write(tmp_path / "s", opts(seed=1)).root
    sample.write(s, opts(seed=2), overwrite=True)
    assert json.loads((s / "sample.json").read_text())["options"]["seed"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "s"]  # no temp folders left


def test_missing_parent(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="does not exist"):
        sample.write(tmp_path / "a" / "b", opts())


def test_no_two_clean_photos_look_alike_to_dedupe(tmp_path: Path) -> None:
    import numpy as np

    from norwoodkit import probe
    from norwoodkit.dedupe import hamming_u64, hashes_to_u64

    root = sample.write(tmp_path / "s", opts(subjects=120, workers=2)).root
    hashes = probe.run(dataset.load(root)).images["phash"]
    h = hashes_to_u64(hashes)
    d = hamming_u64(h[:, None], h[None, :])
    np.fill_diagonal(d, 64)
    assert int(d.min()) >= sample.MIN_PHASH_DISTANCE


# ------------------------------------------------------------- streaming to disk (issue 15)


@pytest.mark.parametrize("workers", [1, 2])
def test_an_interrupted_sample_leaves_nothing_behind(tmp_path: Path, workers: int) -> None:
    # Photos go to disk as they are rendered; a Ctrl-C after the fourth subject must take the
    # written ones away with the temporary folder, and must stop the pool (no hang here).
    taken: list[int] = []

    def stop(images: int) -> None:
        taken.append(images)
        if len(taken) == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sample.write(tmp_path / "s", opts(subjects=12, workers=workers), progress=stop)
    assert taken == [5, 5, 5, 5]
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_overwrite_keeps_the_earlier_sample(tmp_path: Path) -> None:
    s = sample.write(tmp_path / "s", opts(seed=1)).root
    before = files(s)

    def stop(images: int) -> None:
        raise RuntimeError("rendering failed")

    with pytest.raises(RuntimeError, match="rendering failed"):
        sample.write(s, opts(seed=2), overwrite=True, progress=stop)
    assert files(s) == before
    assert [p.name for p in tmp_path.iterdir()] == ["s"]


def test_progress_counts_every_image_once(tmp_path: Path) -> None:
    seen: list[int] = []
    sample.write(tmp_path / "s", opts(subjects=9, workers=2), progress=seen.append)
    assert sum(seen) == 45 and set(seen) == {5}


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_full_disk_is_an_output_error_and_leaves_nothing(tmp_path: Path, workers: str) -> None:
    # Without root no tmpfs can be mounted small; a file-size limit makes a photo's write fail
    # with EFBIG part way, the way ENOSPC would (Python ignores SIGXFSZ).
    limit = 20_000  # small photos are larger: the first one written fails
    code = (
        "import resource, sys; "
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit})); "
        "from norwoodkit.cli import main; sys.argv = ['norwoodkit', *sys.argv[1:]]; main()"
    )
    out = tmp_path / "s"
    args = [str(out), "--subjects", "10", "--size", "small", "--workers", workers, "-q"]
    proc = subprocess.run(
        [sys.executable, "-c", code, "sample", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "could not write" in proc.stderr and ".jpg" in proc.stderr
    assert "free some space" in proc.stderr and str(out) in proc.stderr
    assert list(tmp_path.iterdir()) == []
