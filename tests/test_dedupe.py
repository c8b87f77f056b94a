"""dedupe: the blockwise search, tiers and kinds, complete-linkage groups, outputs and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageEnhance
from typer.testing import CliRunner

from conftest import MakeDataset, jpeg_bytes, photo, snapshot
from norwoodkit import dataset, dedupe, probe
from norwoodkit.cli import app
from norwoodkit.dataset import ProbedDataset
from norwoodkit.errors import ParameterError
from norwoodkit.labels import View

runner = CliRunner()


def probed(root: Path) -> ProbedDataset:
    return probe.run(dataset.load(root), workers=1)


# ----------------------------------------------------------------------------- distance


def test_hamming_counts_differing_bits() -> None:
    zero, ones = "0" * 16, "f" * 16
    assert dedupe.hamming(zero, zero) == 0
    assert dedupe.hamming(zero, ones) == 64
    assert dedupe.hamming(zero, "0000000000000001") == 1
    assert dedupe.hamming("8000000000000000", "0000000000000001") == 2
    assert dedupe.hamming("00ff00ff00ff00ff", "ff00ff00ff00ff00") == 64


def test_vectorised_hamming_agrees_with_the_scalar_one() -> None:
    rng = np.random.default_rng(3)
    h = rng.integers(0, np.iinfo(np.uint64).max, 40, dtype=np.uint64, endpoint=True)
    hexes = dedupe.u64_to_hex(h)
    assert all(len(x) == 16 for x in hexes)
    assert (dedupe.hashes_to_u64(hexes) == h).all()  # the round trip is lossless
    d = dedupe.hamming_u64(h[:, None], h[None, :])
    assert d.dtype == np.uint8 and d.shape == (40, 40)
    for a in range(40):
        for b in range(40):
            assert int(d[a, b]) == dedupe.hamming(hexes[a], hexes[b])
    xor, out = np.empty((40, 40), np.uint64), np.empty((40, 40), np.uint8)
    assert dedupe.hamming_u64(h[:, None], h[None, :], out=(xor, out)) is out
    assert (out == d).all()


# ----------------------------------------------------------------------------- search


def naive(h: np.ndarray, t: int, others: np.ndarray | None = None) -> set[tuple[int, int, int]]:
    out: dict[tuple[int, int], int] = {}
    for i in range(len(h)):
        for j in range(len(h)):
            if i == j or (others is None and j < i):
                continue
            d = int(dedupe.hamming_u64(h[i], (others if others is not None else h)[j]))
            if d <= t:
                key = (min(i, j), max(i, j))
                out[key] = min(d, out.get(key, 99))
    return {(a, b, d) for (a, b), d in out.items()}


@pytest.mark.parametrize(("rows", "cols"), [(1, 1), (3, 5), (7, 64), (64, 4096)])
def test_hamming_pairs_matches_brute_force(rows: int, cols: int) -> None:
    rng = np.random.default_rng(1)
    h = rng.integers(0, 2**63, 150, dtype=np.int64).astype(np.uint64) << np.uint64(1)
    # Plant near neighbours: flip a few bits of some hashes.
    for k in range(0, 150, 10):
        bits = rng.choice(64, size=int(rng.integers(0, 12)), replace=False)
        flipped = h[k]
        for b in bits:
            flipped ^= np.uint64(1) << np.uint64(int(b))
        h[k + 1] = flipped
    i, j, d = dedupe.hamming_pairs(h, 10, block_rows=rows, block_cols=cols)
    assert set(zip(i.tolist(), j.tolist(), d.tolist(), strict=True)) == naive(h, 10)
    assert (i < j).all()


def test_hamming_pairs_with_mirror_hashes() -> None:
    rng = np.random.default_rng(2)
    h = rng.integers(0, 2**62, 60, dtype=np.int64).astype(np.uint64)
    m = rng.integers(0, 2**62, 60, dtype=np.int64).astype(np.uint64)
    m[7] = h[30] ^ np.uint64(0b101)  # image 7 is a mirrored copy of image 30
    i, j, d = dedupe.hamming_pairs(h, 10, others=m, block_rows=8, block_cols=16)
    assert set(zip(i.tolist(), j.tolist(), d.tolist(), strict=True)) == naive(h, 10, m)
    assert (7, 30, 2) in set(zip(i.tolist(), j.tolist(), d.tolist(), strict=True))


def test_empty_and_single() -> None:
    for n in (0, 1):
        i, j, d = dedupe.hamming_pairs(np.zeros(n, np.uint64), 10)
        assert len(i) == len(j) == len(d) == 0


# ----------------------------------------------------------------------------- on datasets


def test_every_planted_duplicate_found_with_its_kind_and_nothing_else(defect_sample: Path) -> None:
    planted = json.loads((defect_sample / "defects.json").read_text())["defects"]
    dups = {
        d["path"]: d for d in planted if d["code"].startswith(("duplicate-bytes", "near-duplicate"))
    }
    assert len(dups) == 5  # exact and altered, cross and within
    result = dedupe.find(probed(defect_sample))
    found = {}
    for r in result.pairs.itertuples(index=False):
        found[r.b] = (r.tier, r.kind, r.a)
    assert set(found) == set(dups)
    for path, d in dups.items():
        tier, kind, source = found[path]
        assert kind == ("cross-subject" if "cross" in d["code"] else "within-subject")
        assert tier == ("exact" if d["code"].startswith("duplicate-bytes") else "same")
        assert source == d["source"]


def test_unreadable_images_are_listed_as_not_compared(defect_sample: Path) -> None:
    result = dedupe.find(probed(defect_sample))
    nc = result.not_compared.set_index("path")
    planted = json.loads((defect_sample / "defects.json").read_text())["defects"]
    broken = {
        d["path"]
        for d in planted
        if d["code"] in ("image-empty", "image-truncated", "image-undecodable", "image-too-large")
    }
    assert set(nc.index) == broken
    assert all("no perceptual hash" in r for r in nc["reason"])
    assert result.compared + len(nc) == result.images


def test_one_image(make_dataset: MakeDataset) -> None:
    root = make_dataset(1, records=None)
    ds = probed(root)
    one = ds.with_table(ds.table.iloc[:1])
    result = dedupe.find(one)
    assert result.pairs.empty and result.groups.empty and result.images == 1


def test_all_images_identical(make_dataset: MakeDataset) -> None:
    same = jpeg_bytes(photo(3))
    corrupt = {(str(s), v): same for s in (1, 2, 3) for v in View}
    result = dedupe.find(probed(make_dataset(3, corrupt=corrupt)))
    assert len(result.pairs) == 15 * 14 // 2
    assert set(result.pairs["tier"]) == {"exact"}
    assert result.groups["group"].nunique() == 1
    keeper = result.groups[result.groups["keeper"]]["path"].tolist()
    assert keeper == ["1/Back.jpg"]  # equal pixels and bytes: the first path wins
    assert len(result.exclude_list()) == 14


def _table(hashes: list[int], subjects: list[str]) -> ProbedDataset:
    n = len(hashes)
    h = np.array(hashes, np.uint64)
    t = pd.DataFrame(
        {
            "subject_id": subjects,
            "view": ["front"] * n,
            "path": [f"{s}/{k}.jpg" for k, s in enumerate(subjects)],
            "status": ["ok"] * n,
            "error": [None] * n,
            "sha256": [f"{k:064x}" for k in range(n)],
            "phash": dedupe.u64_to_hex(h),
            "phash_mirror": dedupe.u64_to_hex(~h),
            "oriented_width": [100] * n,
            "oriented_height": [100] * n,
            "size": [1000] * n,
        }
    )
    return ProbedDataset(root=Path("."), table=t)


def test_chains_are_split_by_complete_linkage() -> None:
    a = 0
    b = a ^ 0b111111  # 6 bits from a
    c = b ^ (0b111111 << 6)  # 6 bits from b, 12 from a
    result = dedupe.find(_table([a, b, c], ["1", "2", "3"]))
    assert len(result.pairs) == 2  # a-b and b-c; a-c is 12 bits apart
    summary = result.group_summary()
    assert len(summary) == 1 and bool(summary["split_from_chain"].iloc[0])
    members = result.groups["path"].tolist()
    assert len(members) == 2 and result.groups["max_distance"].max() <= 10
    assert result.chains_split == 1


def test_tiers_and_thresholds() -> None:
    base = 0
    result = dedupe.find(
        _table([base, base ^ 0b111, base ^ 0b11111111], ["1", "1", "2"]),
        dedupe.DedupeOptions(same=4, near=10),
    )
    tiers = {(r.a, r.b): r.tier for r in result.pairs.itertuples(index=False)}
    assert tiers[("1/0.jpg", "1/1.jpg")] == "same"
    assert tiers[("1/0.jpg", "2/2.jpg")] == "near"
    strict = dedupe.find(
        _table([base, base ^ 0b111], ["1", "2"]), dedupe.DedupeOptions(same=2, near=2)
    )
    assert strict.pairs.empty


@pytest.mark.parametrize(
    ("same", "near", "parameter", "match"),
    [
        (-1, 10, "same", "runs from 0"),
        (4, 65, "near", "runs from 0"),
        (8, 4, "same", "larger than near"),
    ],
)
def test_bad_thresholds(same: int, near: int, parameter: str, match: str) -> None:
    with pytest.raises(ParameterError, match=match) as err:
        dedupe.DedupeOptions(same=same, near=near)
    assert err.value.parameter == parameter and "--" not in err.value.message


@pytest.mark.parametrize("parameter", ["block_rows", "block_cols"])
def test_bad_block_sizes(parameter: str) -> None:
    with pytest.raises(ParameterError, match="positive") as err:
        dedupe.DedupeOptions(**{parameter: 0})  # type: ignore[arg-type]
    assert err.value.parameter == parameter


def test_bad_fail_on_names_the_parameter_and_the_choices() -> None:
    assert dedupe.FailOn("within-subject") is dedupe.FailOn.WITHIN
    with pytest.raises(ParameterError, match="cross-subject, within-subject, any") as err:
        dedupe.FailOn("everything")
    assert err.value.parameter == "fail_on"


def test_mirrored_copies_only_with_mirror(make_dataset: MakeDataset) -> None:
    img = photo(21, (160, 120))
    flipped = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    root = make_dataset(
        2, corrupt={("1", View.LEFT): jpeg_bytes(img), ("2", View.RIGHT): jpeg_bytes(flipped)}
    )
    ds = probed(root)
    plain = dedupe.find(ds)
    assert not ((plain.pairs["a"] == "1/Left.jpg") & (plain.pairs["b"] == "2/Right.jpg")).any()
    mirrored = dedupe.find(ds, dedupe.DedupeOptions(mirror=True))
    row = mirrored.pairs[
        (mirrored.pairs["a"] == "1/Left.jpg") & (mirrored.pairs["b"] == "2/Right.jpg")
    ]
    assert len(row) == 1 and bool(row["mirrored"].iloc[0])
    assert row["kind"].iloc[0] == "cross-subject"
    assert bool(mirrored.group_summary()["mirrored"].any())


def test_altered_copy_is_same_tier(make_dataset: MakeDataset) -> None:
    img = photo(31, (400, 300))
    bright = ImageEnhance.Brightness(img).enhance(1.15)
    root = make_dataset(
        2, corrupt={("1", View.TOP): jpeg_bytes(img, 95), ("2", View.TOP): jpeg_bytes(bright, 60)}
    )
    result = dedupe.find(probed(root))
    row = result.pairs[result.pairs["b"] == "2/Top-Down.jpg"]
    assert row["tier"].tolist() == ["same"] and row["kind"].tolist() == ["cross-subject"]


# ----------------------------------------------------------------------------- CLI


def test_cli_outputs_and_fail_on(defect_sample: Path, tmp_path: Path) -> None:
    before = snapshot(defect_sample)
    pairs, groups, excl = tmp_path / "p.parquet", tmp_path / "g.csv", tmp_path / "x.csv"
    result = runner.invoke(
        app,
        [
            "dedupe",
            str(defect_sample),
            "--json",
            "--pairs",
            str(pairs),
            "--groups",
            str(groups),
            "--exclude-list",
            str(excl),
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["counts"]["groups"] == 5 and len(doc["not_compared"]) == 4
    p = pd.read_parquet(pairs)
    assert list(p.columns) == dedupe.PAIR_COLUMNS and len(p) == 5
    assert len(pd.read_csv(groups)) == 10
    x = pd.read_csv(excl, dtype=str)
    assert list(x.columns) == ["path", "subject_id", "reason"] and len(x) == 5
    for kind, code in (("cross-subject", 1), ("within-subject", 1), ("any", 1)):
        r = runner.invoke(app, ["dedupe", str(defect_sample), "--fail-on", kind, "--quiet"])
        assert r.exit_code == code, r.output
    assert snapshot(defect_sample) == before  # never deletes, moves or rewrites an image


def test_cli_fail_on_clean(make_dataset: MakeDataset) -> None:
    r = runner.invoke(app, ["dedupe", str(make_dataset(2)), "--fail-on", "any"])
    assert r.exit_code == 0, r.output


def test_cli_calibrate(defect_sample: Path) -> None:
    r = runner.invoke(app, ["dedupe", str(defect_sample), "--calibrate", "--json"])
    cal = json.loads(r.stdout)["calibration"]
    assert cal["different_person_same_view"]["pairs"] > 1000
    assert len(cal["same_person_different_view"]["histogram"]) == 65
    text = runner.invoke(app, ["dedupe", str(defect_sample), "--calibrate"]).stdout
    assert "different person same view" in text


def test_cli_bad_thresholds_and_paths(make_dataset: MakeDataset, tmp_path: Path) -> None:
    root = str(make_dataset(1))
    r = runner.invoke(app, ["dedupe", root, "--same", "-1"])
    assert r.exit_code == 2 and "--same: -1 is outside" in r.stderr and "runs from 0" in r.stderr
    r = runner.invoke(app, ["dedupe", root, "--same", "8", "--near", "6"])
    assert r.exit_code == 2 and "--same: 8" in r.stderr and "same <= near" in r.stderr
    r = runner.invoke(app, ["dedupe", root, "--near", "20"])
    assert r.exit_code == 0 and "unrelated photos" in r.stderr
    r = runner.invoke(app, ["dedupe", root, "--pairs", str(tmp_path / "nope" / "p.csv")])
    assert r.exit_code == 2 and "does not exist" in r.stderr
    r = runner.invoke(app, ["dedupe", root, "--pairs", str(tmp_path / "p.txt")])
    assert r.exit_code == 2 and "unknown file type" in r.stderr


def test_exclude_list_written_twice_is_atomic(defect_sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "exclude.csv"
    for _ in range(2):
        r = runner.invoke(app, ["dedupe", str(defect_sample), "--exclude-list", str(out), "-q"])
        assert r.exit_code == 0
    assert len(pd.read_csv(out)) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exclude.csv"]


def test_hex_hashes_parse_as_int_parses_them() -> None:
    # The vectorised path takes exactly 16 hex digits (either case, as a list or an Arrow
    # column); anything else is parsed (or refused) one by one, as int(text, 16) does.
    rng = np.random.default_rng(4)
    h = rng.integers(0, np.iinfo(np.uint64).max, 3000, dtype=np.uint64, endpoint=True)
    hexes = dedupe.u64_to_hex(h)
    assert (dedupe.hashes_to_u64(pd.Series(hexes, dtype="string[pyarrow]")) == h).all()
    assert (dedupe.hashes_to_u64([x.upper() for x in hexes]) == h).all()
    odd = ["0x1f", "abc", "ffffffffffffffff", " 0000000000000010"]
    assert dedupe.hashes_to_u64(odd).tolist() == [int(x, 16) for x in odd]
    assert dedupe.hashes_to_u64([]).dtype == np.uint64
    for bad in (["00000000000000zz"], [None], ["é" * 16]):
        with pytest.raises(ValueError, match="base 16"):
            dedupe.hashes_to_u64(bad)
    with pytest.raises(OverflowError):
        dedupe.hashes_to_u64(["1" * 17])
