"""split on datasets: duplicate groups stay together, exclusions, files, --check and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import MakeDataset, jpeg_bytes, photo
from norwoodkit import dataset, probe, report, sample
from norwoodkit import split as splits
from norwoodkit.cli import app
from norwoodkit.errors import InputError, ParameterError
from norwoodkit.labels import View
from norwoodkit.split import Assignment

runner = CliRunner()


@pytest.fixture(scope="module")
def defect_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sp") / "defects"
    sample.write(root, sample.SampleOptions(subjects=240, seed=4, size="tiny", defects=True))
    return root


def probed(root: Path) -> dataset.ProbedDataset:
    return probe.run(dataset.load(root))


def planted_cross_pairs(root: Path) -> list[tuple[str, str]]:
    planted = json.loads((root / "defects.json").read_text())["defects"]
    return [
        (d["source"].split("/")[0], d["subject"])
        for d in planted
        if d["code"] in ("duplicate-bytes-cross-subject", "near-duplicate-cross-subject")
    ]


@pytest.mark.parametrize("folds", [None, 5])
def test_planted_duplicates_share_a_split(defect_sample: Path, folds: int | None) -> None:
    spec = splits.SplitSpec.k_folds(folds) if folds else splits.SplitSpec.from_ratios([70, 15, 15])
    result = splits.make(probed(defect_sample), spec)
    where = result.subjects.set_index("subject_id")["split"]
    pairs = planted_cross_pairs(defect_sample)
    assert len(pairs) == 3
    for a, b in pairs:
        assert where[a] == where[b]
        groups = result.subjects.set_index("subject_id")["group_id"]
        assert groups[a] == groups[b] == min(a, b, key=int)
    assert result.merged_groups == 3
    q = result.quality
    assert q.max_stage_dev_pp <= q.stage_bound_pp + 1e-9
    assert result.sizes_met() and result.meets_targets()
    assert result.assignment.to_dict() == dict(where.items())
    assert set(result.assignment.names) == set(spec.names)


def test_broken_subjects_are_excluded_with_a_note(make_dataset: MakeDataset) -> None:
    corrupt = {("3", v): b"" for v in View}
    result = splits.make(
        probed(make_dataset(14, corrupt=corrupt)),
        splits.SplitSpec.from_ratios([50, 50], stratify=["age_bin"]),
    )
    assert "3" not in set(result.subjects["subject_id"])
    assert result.excluded.to_dict("records") == [
        {
            "subject_id": "3",
            "reason": "no usable image (validate: missing, empty or undecodable views)",
        }
    ]


def test_exclude_list_removes_images_and_subjects(make_dataset: MakeDataset) -> None:
    shared = jpeg_bytes(photo(99))
    ds = probed(make_dataset(12, corrupt={("1", View.FRONT): shared, ("2", View.FRONT): shared}))
    spec = splits.SplitSpec.from_ratios([50, 50], stratify=["age_bin"])
    assert splits.make(ds, spec).merged_groups == 1
    # Excluding the copy unties the two subjects; excluding a subject removes it.
    exclude = pd.DataFrame({"path": ["2/Front.jpg", ""], "subject_id": ["2", "5"]})
    result = splits.make(ds, spec, exclude=exclude)
    assert result.merged_groups == 0
    assert "5" not in set(result.subjects["subject_id"])
    assert "2/Front.jpg" not in set(result.images["path"])
    assert {"subject_id": "5", "reason": "listed in the exclude list"} in result.excluded.to_dict(
        "records"
    )


def test_huge_duplicate_group_reports_sizes(make_dataset: MakeDataset) -> None:
    shared = jpeg_bytes(photo(7))
    corrupt = {(str(s), View.TOP): shared for s in range(1, 9)}  # 8 of 12 subjects in one group
    ds = probed(make_dataset(12, corrupt=corrupt))
    result = splits.make(ds, splits.SplitSpec.from_ratios([50, 50], stratify=["age_bin"]))
    assert not result.sizes_met() and not result.meets_targets()
    assert sorted(result.quality.per_split["subjects"]) == [4, 8]


def test_split_and_report_measure_balance_alike(make_dataset: MakeDataset) -> None:
    ds = probed(make_dataset(30))
    result = splits.make(ds, splits.SplitSpec.from_ratios([50, 50]))
    assert result.excluded.empty  # both measure the same subjects
    assert splits.check(ds, result.assignment) == []  # our own split passes our audit
    balance = report.split_balance(ds, result.assignment)["splits"].set_index("split")
    ours = result.quality.per_split
    for column in ("max_stage_dev_pp", "max_age_dev_pp"):
        assert balance[column].tolist() == ours.loc[list(balance.index), column].tolist()
    stage_shares = report.split_balance(ds, result.assignment)["stage_shares"].set_index("split")
    theirs = stage_shares.loc[list(result.quality.stage_shares.index)]
    pd.testing.assert_frame_equal(
        theirs[list(result.quality.stage_shares.columns)],
        result.quality.stage_shares,
        check_index_type=False,
    )


# ----------------------------------------------------------------------------- Assignment


def test_assignment_from_rows() -> None:
    got = Assignment.from_rows(
        ["002", 1, "2", "10", " 1"], ["test", "train", "test", "val", "train"]
    )
    assert got.to_dict() == {"2": "test", "1": "train", "10": "val"}
    assert got.names == ("test", "train", "val") and got.subjects == ("2", "1", "10")
    assert len(got) == 3 and "10" in got and got["1"] == "train" and got.get("7") is None
    ids = pd.Series(["0001", "7", "10"], index=[5, 6, 7])
    looked_up = got.lookup(ids)
    assert looked_up[5] == "train" and pd.isna(looked_up[6]) and looked_up[7] == "val"
    assert got.lookup(ids, default="none").tolist() == ["train", "none", "val"]
    assert got.lookup(ids).index.tolist() == [5, 6, 7]
    assert Assignment.of(got) is got
    table = pd.DataFrame({"subject_id": ["1", "2"], "split": ["a", "b"]})
    assert Assignment.of(table) == Assignment((("1", "a"), ("2", "b")))


@pytest.mark.parametrize(
    ("ids", "names", "code", "words"),
    [
        (
            ["1", "2", "001"],
            ["a", "b", "c"],
            "subject-in-two-splits",
            "subject 1 is in two splits (a and c)",
        ),
        (["1", "2"], ["a", " "], "bad-split", "subject 2 has no split name"),
        (["1", None], ["a", "b"], "bad-subject", "the id is missing"),
        (["1", "a/b"], ["a", "b"], "bad-subject", "cannot contain '/'"),
    ],
)
def test_assignment_rows_that_break_the_rule(
    ids: list[object], names: list[object], code: str, words: str
) -> None:
    with pytest.raises(InputError) as err:
        Assignment.from_rows(ids, names, source="my.csv")
    assert err.value.code == code
    assert err.value.message.startswith("my.csv: ") and words in err.value.message


def test_assignment_checks_pairs_given_directly() -> None:
    for pairs in (
        (("1", "a"), ("1", "b")),
        (("1", "a"), ("1", "a")),
        (("001", "a"),),
        (("1", ""),),
    ):
        with pytest.raises(ParameterError) as err:
            Assignment(pairs)
        assert err.value.parameter == "pairs"
    with pytest.raises(InputError, match="lacks column"):
        Assignment.from_table(pd.DataFrame({"subject_id": ["1"]}))


def test_read_split_file_shapes(tmp_path: Path) -> None:
    folds = tmp_path / "folds.json"
    folds.write_text(json.dumps([{"subject_id": 1, "fold": 0}, {"subject_id": 2, "fold": 1}]))
    read = splits.read_split_file(folds, "--check")
    assert read.assignment.to_dict() == {"1": "0", "2": "1"}
    assert not read.conflicts and not read.per_image and read.strict() is read.assignment
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"001": "train", "2": "test"}))
    assert splits.read_assignment(mapping).to_dict() == {"1": "train", "2": "test"}
    images = tmp_path / "images.parquet"
    pd.DataFrame(
        {
            "path": ["1/a.jpg", "1/b.jpg", "2/a.jpg", "2/b.jpg"],
            "subject_id": ["1", "1", "2", "2"],
            "set": ["x", "y", "x", "x"],
        }
    ).to_parquet(images)
    read = splits.read_split_file(images, "--splits")
    assert read.per_image and read.conflicts == (splits.Conflict("1", ("x", "y")),)
    assert read.assignment.to_dict() == {"1": "x", "2": "x"}  # a subject at its first split
    with pytest.raises(InputError, match="subject 1 is in two splits") as err:
        splits.read_assignment(images, "--splits")
    assert err.value.code == "subject-in-two-splits"
    assert err.value.message.startswith(f"--splits {images}: ")


# ----------------------------------------------------------------------------- CLI


def test_cli_same_seed_same_bytes(defect_sample: Path, tmp_path: Path) -> None:
    outs = []
    for name, seed in (("a.csv", 3), ("b.csv", 3), ("c.csv", 4)):
        r = runner.invoke(
            app,
            [
                "split",
                str(defect_sample),
                "--out",
                str(tmp_path / name),
                "--seed",
                str(seed),
                "--quiet",
            ],
        )
        assert r.exit_code == 0, r.output
        outs.append((tmp_path / name).read_bytes())
    assert outs[0] == outs[1] and outs[0] != outs[2]
    frame = pd.read_csv(tmp_path / "a.csv", dtype=str)
    assert list(frame.columns) == ["subject_id", "split", "group_id"]


def test_cli_folds_images_and_json(defect_sample: Path, tmp_path: Path) -> None:
    out, imgs = tmp_path / "folds.parquet", tmp_path / "images.json"
    r = runner.invoke(
        app,
        [
            "split",
            str(defect_sample),
            "--folds",
            "5",
            "--out",
            str(out),
            "--images",
            str(imgs),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["mode"] == "folds" and doc["sizes_met"] is True
    assert doc["quality"]["max_stage_dev_pp"] <= doc["quality"]["stage_bound_pp"] + 1e-9
    folds = pd.read_parquet(out)
    assert sorted(folds["fold"].unique().tolist()) == [0, 1, 2, 3, 4]
    per_image = pd.DataFrame(json.loads(imgs.read_text()))
    assert per_image.groupby("subject_id")["fold"].nunique().max() == 1
    assert set(per_image["subject_id"]) == set(folds["subject_id"])


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--ratios", "70,20,20"], "sum to 110"),
        (["--ratios", "70,0,30"], "positive share"),
        (["--folds", "1"], "at least 2 folds"),
        (["--folds", "40", "--strict"], "fewer"),
        (["--ratios", "a,b"], "--ratios: 'a' is not a number"),
        (["--folds", "3", "--ratios", "50,50"], "exclude each other"),
        (["--ratios", "70,,30"], "--ratios: '70,,30' has an empty item"),
        (["--names", "a,b"], "--names: 3 ratios but 2 names"),
        (["--stratify", "stage,"], "--stratify: 'stage,' has an empty item"),
        (["--stratify", ""], "--stratify: '' has an empty item; write e.g. stage,age_bin"),
        (["--stratify", "stage,stage"], "--stratify: columns repeat: stage, stage; name each"),
        (["--stratify", "stage,nope"], "--stratify: the subjects table has no column nope"),
        (["--seed", "-1"], "--seed: must be a non-negative integer"),
    ],
)
def test_cli_bad_specs(defect_sample: Path, tmp_path: Path, args: list[str], words: str) -> None:
    r = runner.invoke(app, ["split", str(defect_sample), "--out", str(tmp_path / "s.csv"), *args])
    assert r.exit_code == 2, r.output
    assert words in r.stderr
    assert not (tmp_path / "s.csv").exists()


def test_cli_strict_on_unreachable_sizes(make_dataset: MakeDataset, tmp_path: Path) -> None:
    shared = jpeg_bytes(photo(7))
    root = make_dataset(12, corrupt={(str(s), View.TOP): shared for s in range(1, 9)})
    base = [
        "split",
        str(root),
        "--ratios",
        "50,50",
        "--stratify",
        "age_bin",
        "--out",
        str(tmp_path / "s.csv"),
    ]
    r = runner.invoke(app, base)
    assert r.exit_code == 0 and "OFF" in r.stdout
    assert runner.invoke(app, [*base, "--strict"]).exit_code == 1


def test_check_flags_a_leaky_file(defect_sample: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    assert (
        runner.invoke(app, ["split", str(defect_sample), "--out", str(good), "-q"]).exit_code == 0
    )
    clean = runner.invoke(app, ["split", str(defect_sample), "--check", str(good), "--json"])
    doc = json.loads(clean.stdout)
    assert clean.exit_code == 0 and doc["counts"]["error"] == 0
    frame = pd.read_csv(good, dtype=str)
    _, b = planted_cross_pairs(defect_sample)[0]
    other = "test" if frame.loc[frame["subject_id"] == b, "split"].iloc[0] != "test" else "train"
    frame.loc[frame["subject_id"] == b, "split"] = other  # the duplicate pair now straddles
    twice = frame[frame["subject_id"] == "10"].assign(
        split="val" if frame.loc[frame["subject_id"] == "10", "split"].iloc[0] != "val" else "train"
    )
    leaky = pd.concat([frame, twice, pd.DataFrame([{"subject_id": "9999", "split": "train"}])])
    leaky = leaky[leaky["subject_id"] != "20"].rename(columns={"subject_id": "id", "split": "set"})
    path = tmp_path / "leaky.csv"
    leaky.to_csv(path, index=False)
    r = runner.invoke(app, ["split", str(defect_sample), "--check", str(path), "--json"])
    assert r.exit_code == 1, r.output
    codes = {(f["code"], f["subject"]) for f in json.loads(r.stdout)["findings"]}
    assert ("split-duplicate-across-splits", b) in codes
    assert ("split-subject-in-two-splits", "10") in codes
    assert ("split-unknown-subject", None) in codes
    assert ("split-subject-missing", None) in codes


def test_check_image_level_file(make_dataset: MakeDataset, tmp_path: Path) -> None:
    root = make_dataset(4)
    rows = [
        {"path": f"{s}/{v}.jpg", "subject_id": str(s), "split": "train" if s < 3 else "test"}
        for s in range(1, 5)
        for v in ("Front", "Back")
    ]
    rows[-1]["split"] = "train"  # one view of subject 4 lands in train
    path = tmp_path / "images.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    r = runner.invoke(app, ["split", str(root), "--check", str(path), "--json"])
    assert r.exit_code == 1
    codes = {f["code"] for f in json.loads(r.stdout)["findings"]}
    assert "split-views-apart" in codes


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("", "the file is empty"),
        ("subject_id,split\n", "the file is empty"),
        ("who,where\n1,train\n", "unknown header"),
        ("subject_id,split\n1,train\n,test\n", "the id is empty"),
    ],
)
def test_check_bad_files(
    make_dataset: MakeDataset, tmp_path: Path, content: str, words: str
) -> None:
    path = tmp_path / "s.csv"
    path.write_text(content)
    r = runner.invoke(app, ["split", str(make_dataset(2)), "--check", str(path)])
    assert r.exit_code == 2 and words in r.stderr


def test_dedupe_file_is_used(defect_sample: Path, tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.csv"
    assert (
        runner.invoke(app, ["dedupe", str(defect_sample), "--pairs", str(pairs), "-q"]).exit_code
        == 0
    )
    out = tmp_path / "s.csv"
    r = runner.invoke(
        app, ["split", str(defect_sample), "--pairs-from", str(pairs), "--out", str(out), "--json"]
    )
    assert r.exit_code == 0 and json.loads(r.stdout)["merged_groups"] == 3
    empty = tmp_path / "nopairs.csv"
    pd.DataFrame(columns=["subject_a", "subject_b"]).to_csv(empty, index=False)
    # A pairs file with a header and no rows is dedupe finding nothing: nothing is merged.
    r = runner.invoke(
        app, ["split", str(defect_sample), "--pairs-from", str(empty), "--out", str(out), "--json"]
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["merged_groups"] == 0


@pytest.mark.parametrize("suffix", [".csv", ".json", ".parquet"])
def test_empty_dedupe_outputs_feed_split_and_pack(
    suffix: str, make_dataset: MakeDataset, tmp_path: Path
) -> None:
    """When dedupe finds nothing, its pairs and exclude list are empty tables; split and pack
    take them as "nothing to merge or leave out", not as a broken file."""
    root = make_dataset(subjects=14)
    pairs, exclude = tmp_path / f"pairs{suffix}", tmp_path / f"exclude{suffix}"
    r = CliRunner().invoke(
        app, ["dedupe", str(root), "--pairs", str(pairs), "--exclude-list", str(exclude), "-q"]
    )
    assert r.exit_code == 0, r.output
    out = tmp_path / "s.csv"
    r = CliRunner().invoke(
        app,
        [
            "split",
            str(root),
            "--out",
            str(out),
            "--ratios",
            "50,50",
            "--stratify",
            "stage",
            "--pairs-from",
            str(pairs),
            "--exclude-from",
            str(exclude),
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    assert len(out.read_text().splitlines()) == 15
    r = CliRunner().invoke(
        app,
        [
            "pack",
            str(root),
            "--out",
            str(tmp_path / "shards"),
            "--splits",
            str(out),
            "--exclude-from",
            str(exclude),
            "-q",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["excluded"] == []
