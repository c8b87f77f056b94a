"""split on small or skewed data: strata too small for every split are merged with a neighbour
(stages, then age bins), told on stderr and recorded; --strict refuses instead."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from hostile import check, hostile, run
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import jpeg_bytes, photo, vendor_record, write_annotation
from norwoodkit.errors import InputError
from norwoodkit.labels import VENDOR_FILENAMES, VIEWS
from norwoodkit.split import SplitSpec, assign, rounding_bound
from norwoodkit.split.problem import strata
from norwoodkit.strata import MISSING, OUT_OF_RANGE, StratumMerge, age_bin_labels, merge_small

# --- the merge rule, on labels -----------------------------------------------------------------


def labels(counts: dict[str, int], name: str = "stage") -> pd.Series:
    """A label column with ``counts[label]`` subjects per label."""
    values = [label for label, n in counts.items() for _ in range(n)]
    return pd.Series(values, dtype="string", name=name)


def test_the_smallest_stage_joins_its_neighbour() -> None:
    column = labels({"1": 10, "2": 9, "3": 8, "4": 7, "5": 5, "6": 2, "7": 1})
    merged, records = merge_small(column, "stage", 3)
    assert records == (StratumMerge("stage", "6-7", (("6", 2), ("7", 1)), 3),)
    assert merged.value_counts().to_dict() == {
        "1": 10,
        "2": 9,
        "3": 8,
        "4": 7,
        "5": 5,
        "6-7": 3,
    }
    assert merged.name == "stage" and merged.index.equals(column.index)
    line = records[0].explain()
    for words in ("stage 6 (2 subjects) and 7 (1 subject)", "into stage 6-7 (3 subjects)"):
        assert words in line
    assert "6, 7 each have fewer subjects than the 3 splits" in line


def test_a_small_stage_joins_the_smaller_neighbour() -> None:
    merged, records = merge_small(labels({"3": 10, "4": 1, "5": 4}), "stage", 3)
    assert [r.label for r in records] == ["4-5"]
    assert "4 has fewer subjects than the 3 splits" in records[0].explain()
    assert set(merged) == {"3", "4-5"}


def test_merges_chain_until_every_stratum_is_big_enough() -> None:
    """folds=5 with a stage of 3: 7 (3) joins 6 (2) first, then 5 joins the pair."""
    merged, records = merge_small(labels({"1": 9, "4": 8, "5": 1, "6": 2, "7": 3}), "stage", 5)
    assert [(r.label, r.members) for r in records] == [("5-7", (("5", 1), ("6", 2), ("7", 3)))]
    assert merged.value_counts().min() >= 5


def test_age_bins_merge_into_one_range() -> None:
    column = labels({"18-29": 6, "30-39": 9, "40-49": 8, "50-59": 5, "60-80": 1}, "age_bin")
    merged, records = merge_small(column, "age_bin", 3)
    assert [r.label for r in records] == ["50-80"]
    assert records[0].title == "age bin 50-80"
    assert "merged age bin 50-59 (5 subjects) and 60-80 (1 subject)" in records[0].explain()
    assert (merged == "50-80").sum() == 6


def test_missing_and_out_of_range_are_never_merged() -> None:
    column = labels({"30-39": 8, "40-49": 7, OUT_OF_RANGE: 1, MISSING: 1}, "age_bin")
    merged, records = merge_small(column, "age_bin", 3)
    assert records == () and merged is column


def test_strata_too_few_together_end_as_one() -> None:
    merged, records = merge_small(labels({"2": 1, "5": 1, MISSING: 9}), "stage", 3)
    assert [r.label for r in records] == ["2-5"]
    assert set(merged) == {"2-5", MISSING}


# --- the split on tables ---------------------------------------------------------------------


def table(stages: list[int | None], ages: list[int | None]) -> pd.DataFrame:
    n = len(stages)
    return pd.DataFrame(
        {
            "subject_id": pd.array([str(i + 1) for i in range(n)], dtype="string"),
            "group_id": pd.array([None] * n, dtype="string"),
            "stage": pd.array(stages, dtype="Int64"),
            "age": pd.array(ages, dtype="Int64"),
        }
    )


def sixty() -> pd.DataFrame:
    """60 people: stage 6 has 2, stage 7 has 1, the age bin 60-80 has 1."""
    counts = {1: 12, 2: 14, 3: 14, 4: 10, 5: 7, 6: 2, 7: 1}
    stages = [s for s, n in counts.items() for _ in range(n)]
    ages = [20 + (i * 7) % 39 for i in range(59)] + [70]
    return table(list(stages), list(ages))


@pytest.mark.parametrize(
    ("spec", "merged"),
    [
        (SplitSpec.from_ratios([70, 15, 15]), {"stage": "6-7", "age_bin": "50-80"}),
        (SplitSpec.k_folds(5), {"stage": "5-7", "age_bin": "50-80"}),
    ],
)
def test_sixty_people_split_with_merged_strata(spec: SplitSpec, merged: dict[str, str]) -> None:
    subjects = sixty()
    split = assign(subjects, spec)
    assert split.notna().all() and set(split) == set(spec.names)
    made = strata(subjects, spec)
    assert {m.column: m.label for m in made.merges} == merged
    assert [m.column for m in made.merges] == ["stage", "age_bin"]
    with pytest.raises(InputError, match="Without --strict") as err:
        assign(subjects, spec, strict=True)
    assert err.value.code == "too-few-subjects"


# --- property: always a partition, deterministic for a seed -------------------------------------

_STAGES = st.one_of(st.none(), st.integers(1, 7))
_AGES = st.one_of(st.none(), st.integers(15, 90))


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(st.tuples(_STAGES, _AGES), min_size=6, max_size=40),
    k=st.integers(2, 6),
    folds=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_always_a_partition_and_deterministic(
    rows: list[tuple[int | None, int | None]], k: int, folds: bool, seed: int
) -> None:
    subjects = table([s for s, _ in rows], [a for _, a in rows])
    if len(subjects) < k:
        return
    spec = (
        SplitSpec.k_folds(k, seed=seed)
        if folds
        else SplitSpec.from_ratios([100 / k] * k, seed=seed)
    )
    first = assign(subjects, spec)
    assert first.index.equals(subjects.index)
    assert first.notna().all() and set(first) <= set(spec.names)
    shuffled = subjects.sample(frac=1.0, random_state=seed)
    again = assign(shuffled, spec).reindex(subjects.index)
    assert first.tolist() == again.tolist()
    for name, column in strata(subjects, spec).labels.items():
        kept = column[~column.isin([MISSING, OUT_OF_RANGE])]
        sizes = kept.value_counts()
        # After merging, a stratum is only still too small when it is the only one left.
        assert len(sizes) <= 1 or sizes.min() >= k, (name, sizes.to_dict())


# --- the CLI on a real 60-person dataset --------------------------------------------------------


@pytest.fixture(scope="module")
def skewed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 60 people of :func:`sixty` as a vendor dataset on disk."""
    root = tmp_path_factory.mktemp("strata") / "skewed"
    people = sixty()
    records = []
    for row in people.itertuples(index=False):
        sid = str(row.subject_id)
        records.append(vendor_record(sid, stage=f"Stage {row.stage}", age=str(row.age)))
        (root / sid).mkdir(parents=True)
        for j, view in enumerate(VIEWS):
            (root / sid / VENDOR_FILENAMES[view]).write_bytes(jpeg_bytes(photo(int(sid) * 10 + j)))
    write_annotation(root, records)
    return root


def test_cli_merges_tells_and_records(skewed: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    result = hostile(
        ["split", skewed, "--out", out, "--json", "-q"],
        0,
        [
            "note: merged stage 6 (2 subjects) and 7 (1 subject) into stage 6-7 (3 subjects)",
            "into age bin 50-80",
            "fewer subjects than the 3 splits",
        ],
        untouched=[skewed],
    )
    assert result.stderr.count("note: merged") == 2
    doc = json.loads(result.stdout)
    fifties = int((age_bin_labels(sixty()["age"]) == "50-59").sum())
    assert doc["strata_merges"] == [
        {
            "column": "stage",
            "label": "6-7",
            "members": ["6", "7"],
            "member_subjects": [2, 1],
            "subjects": 3,
            "minimum": 3,
        },
        {
            "column": "age_bin",
            "label": "50-80",
            "members": ["50-59", "60-80"],
            "member_subjects": [fifties, 1],
            "subjects": fifties + 1,
            "minimum": 3,
        },
    ]
    # The balance is measured on the merged strata, beside their own rounding bound.
    quality = doc["quality"]
    assert set(quality["stage_shares"]["overall"]) == {"1", "2", "3", "4", "5", "6-7"}
    sizes = [row["subjects"] for row in quality["per_split"]]
    merged = {"1": 12, "2": 14, "3": 14, "4": 10, "5": 7, "6-7": 3}
    assert quality["stage_bound_pp"] == pytest.approx(rounding_bound(merged, sizes))
    assert quality["max_stage_dev_pp"] <= quality["stage_bound_pp"] + 1e-9
    written = pd.read_csv(out, dtype=str)
    assert list(written.columns) == [
        "subject_id",
        "split",
        "group_id",
        "stage_stratum",
        "age_bin_stratum",
    ]
    assert len(written) == 60 and written["subject_id"].is_unique
    assert set(written.loc[written["subject_id"] == "60", "stage_stratum"]) == {"6-7"}
    assert set(written.loc[written["subject_id"] == "60", "age_bin_stratum"]) == {"50-80"}


def test_cli_merged_file_reads_in_check_and_pack(skewed: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    check(run(["split", skewed, "--out", out, "-q"]), 0, ["note: merged stage 6"])
    check(run(["split", skewed, "--check", out, "-q"]), 0)
    shards = tmp_path / "shards"
    check(run(["pack", skewed, "--out", shards, "--splits", out, "-q"]), 0)
    manifest = json.loads((shards / "manifest.json").read_text())
    assert set(manifest["splits"]) == {"train", "validation", "test"}


def test_cli_folds_merge_further(skewed: Path, tmp_path: Path) -> None:
    out = tmp_path / "folds.json"
    result = run(["split", skewed, "--folds", "5", "--out", out])
    check(result, 0, ["and 7 (1 subject) into stage 5-7 (10 subjects)", "than the 5 splits"])
    assert "balanced on merged strata: stage 5-7; age bin" in result.stdout
    rows = json.loads(out.read_text())
    assert sorted({r["fold"] for r in rows}) == [0, 1, 2, 3, 4]
    assert {r["stage_stratum"] for r in rows if r["subject_id"] in ("59", "60")} == {"5-7"}


def test_cli_strict_still_refuses(skewed: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    hostile(
        ["split", skewed, "--out", out, "--strict"],
        2,
        [
            "error: stage 6 has 2 subjects; stage 7 has 1 subject",
            "Merge stage 6, 7 with a neighbouring stage",
            "Without --strict",
        ],
        untouched=[skewed],
    )
    assert not out.exists()


def test_cli_no_merge_no_trace(skewed: Path, tmp_path: Path) -> None:
    """Gender is no ordered stratum and every stratum there is big enough: nothing is merged,
    and the file and the document are as they always were."""
    out = tmp_path / "s.csv"
    args: list[str | Path] = ["split", skewed, "--stratify", "gender", "--out", out]
    result = run(args)
    check(result, 0)
    assert "merged" not in result.stderr and "merged strata" not in result.stdout
    assert pd.read_csv(out, dtype=str).columns.tolist() == ["subject_id", "split", "group_id"]
    assert "strata_merges" not in json.loads(run([*args, "--json"]).stdout)
