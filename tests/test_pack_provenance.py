"""How the split was made, from split to card: `pack --splits` (and `split --check`,
`report --splits`) read the `split --json` document; the manifest's `split_info` and the card
state its parameters and measurements; the CSV of the same split packs the same shards; bad
documents are refused with exit 2."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hostile import check, hostile, run
from huggingface_hub import DatasetCard
from hypothesis import given
from hypothesis import strategies as st

from conftest import MakeDataset, jpeg_bytes, photo
from norwoodkit.cli.contract import SCHEMA_VERSION
from norwoodkit.errors import NorwoodkitError
from norwoodkit.labels import View
from norwoodkit.pack import card
from norwoodkit.pack.manifest import split_info_record
from norwoodkit.split import read_assignment, read_split_file
from norwoodkit.split.document import SPLIT_DOCUMENT_VERSION

#: Each split the issue names: split command arguments.
SPLITS: dict[str, list[str]] = {
    "ratios": ["--ratios", "70,15,15"],
    "folds": ["--folds", "3"],
}


def _split(root: Path, folder: Path, name: str, args: list[str]) -> tuple[Path, Path]:
    """One `split` run writing both the CSV (--out) and the --json document; their paths."""
    csv, doc = folder / f"{name}.csv", folder / f"{name}.json"
    r = run(["split", root, "--out", csv, "--json", "-q", *args])
    assert r.exit_code == 0, r.stderr
    doc.write_text(r.stdout)
    return csv, doc


def _pack(root: Path, out: Path, splits: Path, *extra: str | Path) -> dict[str, Any]:
    r = run(["pack", root, "--out", out, "--splits", splits, "-q", *extra])
    assert r.exit_code == 0, r.stderr
    manifest: dict[str, Any] = json.loads((out / "manifest.json").read_text())
    return manifest


def _hub_name(name: str) -> str:
    """The written name of a split document's name, as docs/formats.md states the rule."""
    return "validation" if name == "val" else name.replace("fold", "fold_")


@pytest.fixture(scope="module")
def packs(
    clean_sample: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    """Per split kind: the document, and the packs from it and from the CSV of the same run."""
    base = tmp_path_factory.mktemp("provenance")
    out: dict[str, dict[str, Any]] = {}
    for name, args in SPLITS.items():
        csv, doc = _split(clean_sample, base, name, args)
        out[name] = {
            "doc": json.loads(doc.read_text()),
            "doc_path": doc,
            "csv_path": csv,
            "json": base / f"{name}-json",
            "csv": base / f"{name}-csv",
        }
        _pack(clean_sample, base / f"{name}-json", doc)
        _pack(clean_sample, base / f"{name}-csv", csv)
    return out


def _manifest(folder: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((folder / "manifest.json").read_text())
    return doc


@pytest.mark.parametrize("kind", list(SPLITS))
def test_manifest_records_the_documents_parameters(
    packs: dict[str, dict[str, Any]], kind: str
) -> None:
    doc = packs[kind]["doc"]
    info = _manifest(packs[kind]["json"])["split_info"]
    for key in ("mode", "ratios", "folds", "stratify", "seed", "subjects", "target_sizes"):
        assert info[key] == doc[key], key
    for key in ("sizes_met", "merged_groups"):
        assert info[key] == doc[key], key
    assert info["names"] == [_hub_name(n) for n in doc["names"]]
    assert info["strata_merges"] == doc.get("strata_merges", [])
    assert info["strata_merges"], "the 30-subject sample merges small strata"
    for key in ("max_stage_dev_pp", "stage_bound_pp", "max_age_dev_pp", "age_bound_pp"):
        assert info["quality"][key] == doc["quality"][key], key
    runs = doc["quality"]["per_split"]
    assert [r["split"] for r in info["quality"]["per_split"]] == [
        _hub_name(r["split"]) for r in runs
    ]
    assert [r["subjects"] for r in info["quality"]["per_split"]] == [r["subjects"] for r in runs]
    # The names split_info uses are the splits the pack wrote.
    assert set(info["names"]) == set(_manifest(packs[kind]["json"])["splits"])


def test_card_states_ratios_seed_strata_and_deviations(
    packs: dict[str, dict[str, Any]],
) -> None:
    doc = packs["ratios"]["doc"]
    text = DatasetCard.load(packs["ratios"]["json"] / "README.md").text
    q = doc["quality"]
    assert "made `train`, `validation`, `test` at ratios 70 / 15 / 15" in text
    assert f"with seed {doc['seed']}, over {doc['subjects']} subjects" in text
    assert "Stratified on `stage`, `age_bin`" in text
    stage = f"{q['max_stage_dev_pp']:.2f} pp against a rounding bound of {q['stage_bound_pp']:.2f}"
    age = f"{q['max_age_dev_pp']:.2f} pp against a rounding bound of {q['age_bound_pp']:.2f}"
    assert stage in text and age in text
    for r in q["per_split"]:
        assert f"| {_hub_name(r['split'])} | {r['subjects']} | {100 * r['target_share']:.2f} %" in (
            text
        )
    for m in doc["strata_merges"]:
        assert f"into {m['column'].replace('_', ' ')} {m['label']}" in text
    assert "Duplicate-aware grouping: no two subjects shared a duplicate photo" in text
    assert "Not known to this pack" not in text


def test_card_states_folds(packs: dict[str, dict[str, Any]]) -> None:
    doc = packs["folds"]["doc"]
    text = DatasetCard.load(packs["folds"]["json"] / "README.md").text
    assert "3-fold cross-validation over whole subjects" in text
    assert "`norwoodkit split --folds 3` made the folds `fold_0`, `fold_1`, `fold_2`" in text
    assert f"with seed {doc['seed']}" in text
    sizes = " / ".join(str(n) for n in doc["target_sizes"])
    assert f"target sizes {sizes}, met" in text


@pytest.mark.parametrize("kind", list(SPLITS))
def test_csv_of_the_same_split_packs_the_same_shards(
    packs: dict[str, dict[str, Any]], kind: str
) -> None:
    from_json, from_csv = packs[kind]["json"], packs[kind]["csv"]
    shards = sorted(p.relative_to(from_json) for p in (from_json / "data").iterdir())
    assert shards == sorted(p.relative_to(from_csv) for p in (from_csv / "data").iterdir())
    for rel in shards:
        a, b = (from_json / rel).read_bytes(), (from_csv / rel).read_bytes()
        assert hashlib.sha256(a).digest() == hashlib.sha256(b).digest(), rel
    with_info, without = _manifest(from_json), _manifest(from_csv)
    assert without["split_info"] is None
    assert with_info["split_info"] is not None
    with_info.pop("split_info"), without.pop("split_info")
    assert with_info == without  # only split_info (and the card) tell them apart
    assert (from_json / "README.md").read_text() != (from_csv / "README.md").read_text()


def test_csv_card_says_what_is_not_known_and_how_to_record_it(
    packs: dict[str, dict[str, Any]],
) -> None:
    text = DatasetCard.load(packs["ratios"]["csv"] / "README.md").text
    assert "Not known to this pack: the requested ratios, the seed" in text
    assert "`norwoodkit split DATA --json > split.json`" in text
    assert "`norwoodkit pack DATA --splits split.json`" in text
    assert "at ratios" not in text


@pytest.mark.parametrize("kind", list(SPLITS))
def test_every_reader_takes_the_document_as_the_csv(
    packs: dict[str, dict[str, Any]], kind: str
) -> None:
    doc_path, csv_path = packs[kind]["doc_path"], packs[kind]["csv_path"]
    from_doc, from_csv = read_assignment(doc_path), read_assignment(csv_path)
    assert from_doc == from_csv
    assert from_csv.info is None and from_doc.info is not None
    assert from_doc.info.spec.seed == packs[kind]["doc"]["seed"]
    audit = read_split_file(doc_path, "--check")
    assert audit.assignment == from_csv and not audit.conflicts


def test_split_check_and_report_read_the_document(
    clean_sample: Path, packs: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    doc_path = packs["ratios"]["doc_path"]
    audit = run(["split", clean_sample, "--check", doc_path, "--json", "-q"])
    check(audit, 0)
    by_csv = run(["split", clean_sample, "--check", packs["ratios"]["csv_path"], "--json", "-q"])
    assert json.loads(audit.stdout)["findings"] == json.loads(by_csv.stdout)["findings"]
    report = run(["report", clean_sample, "--out", tmp_path / "r.html", "--splits", doc_path, "-q"])
    check(report, 0)
    assert (tmp_path / "r.html").stat().st_size > 0


def test_duplicate_aware_grouping_is_counted(make_dataset: MakeDataset, tmp_path: Path) -> None:
    # Subject 2's front photo is subject 1's, byte for byte: split must keep them together.
    root = make_dataset(12, corrupt={("2", View.FRONT): jpeg_bytes(photo(10))})
    _, doc = _split(root, tmp_path, "dup", ["--ratios", "50,50", "--stratify", "age_bin"])
    assert json.loads(doc.read_text())["merged_groups"] == 1
    info = _pack(root, tmp_path / "p", doc)["split_info"]
    assert (info["merged_groups"], info["grouped_subjects"]) == (1, 2)
    text = DatasetCard.load(tmp_path / "p" / "README.md").text
    assert "Duplicate-aware grouping: 2 subjects who share a duplicate photo" in text
    assert "kept together, in 1 group:" in text


def test_card_words_for_unstratified_unmet_and_unmeasured(
    packs: dict[str, dict[str, Any]],
) -> None:
    manifest = _manifest(packs["ratios"]["json"])
    info = manifest["split_info"]
    info["stratify"] = []
    info["sizes_met"] = False
    info["excluded_subjects"] = 1
    info["quality"]["max_age_dev_pp"] = None
    info["quality"]["max_stage_dev_pp"] = info["quality"]["stage_bound_pp"] + 1.5
    text = card.dataset_card(manifest)
    assert "Not stratified: the run matched the split sizes only." in text
    assert "not met (a duplicate group too large to place)" in text
    assert "It left out 1 subject (no usable image" in text
    assert "the largest age-bin deviation not measured" in text
    assert "(1.50 pp above it)" in text


def test_the_reader_knows_the_schema_the_cli_writes() -> None:
    assert SPLIT_DOCUMENT_VERSION == SCHEMA_VERSION


# --- bad documents ------------------------------------------------------------------------------


def _edited(doc: dict[str, Any], edit: str) -> dict[str, Any]:
    """A copy of a real split document with one hand edit."""
    d = copy.deepcopy(doc)
    if edit == "newer":
        d["schema_version"] = SCHEMA_VERSION + 1
    elif edit == "moved-subject":
        d["assignment"][0]["split"] = "test" if d["assignment"][0]["split"] != "test" else "train"
    elif edit == "seed-text":
        d["seed"] = "zero"
    elif edit == "mode-folds":
        d["mode"] = "folds"
    elif edit == "no-rows":
        d["assignment"] = []
    elif edit == "rows-not-objects":
        d["assignment"] = ["1,train"]
    elif edit == "bad-name":
        d["names"][1] = "../evil"
    elif edit == "ratios-sum":
        d["ratios"] = [0.5, 0.5, 0.5]
    elif edit == "merge-label":
        d["strata_merges"][0]["label"] = "6`\n# heading"
    elif edit == "ratios-huge":
        d["ratios"] = [10**400, 1, 1]
    elif edit == "quality-nan":
        d["quality"]["max_stage_dev_pp"] = float("nan")
    return d


BAD_EDITS = {
    "newer": ["newer norwoodkit", f"schema_version {SCHEMA_VERSION + 1}", "upgrade norwoodkit"],
    "moved-subject": ["`assignment` puts", "changed after `norwoodkit split` wrote it"],
    "seed-text": ["`seed` is missing or not a whole number"],
    "mode-folds": ["do not describe one split"],
    "no-rows": ["`assignment` is not a list of one object per subject"],
    "rows-not-objects": ["`assignment` is not a list of one object per subject"],
    "bad-name": ["its parameters are not a split `norwoodkit split` makes"],
    "ratios-sum": ["its parameters are not a split `norwoodkit split` makes"],
    "merge-label": ["`label` is missing or not a stratum label"],
    "ratios-huge": ["`ratios` is missing or not a list of numbers or null"],
    "quality-nan": ["`max_stage_dev_pp` is missing or not a number or null"],
}


@pytest.mark.parametrize("edit", list(BAD_EDITS))
def test_pack_refuses_an_edited_document(
    clean_sample: Path, packs: dict[str, dict[str, Any]], tmp_path: Path, edit: str
) -> None:
    bad = tmp_path / "split.json"
    bad.write_text(json.dumps(_edited(packs["ratios"]["doc"], edit)))
    words = ["--splits", str(bad), *BAD_EDITS[edit]]
    hostile(
        ["pack", clean_sample, "--out", tmp_path / "p", "--splits", bad],
        2,
        words,
        untouched=[clean_sample],
    )
    assert not (tmp_path / "p" / "manifest.json").exists()


@pytest.fixture(scope="module")
def other_documents(
    clean_sample: Path, packs: dict[str, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """Real documents that are not a split: validate's, a `split --check` audit, a failed run."""
    base = tmp_path_factory.mktemp("other-docs")
    runs = {
        "validate": ["validate", clean_sample, "--json", "-q"],
        "check": ["split", clean_sample, "--check", packs["ratios"]["csv_path"], "--json", "-q"],
        "failed": ["split", clean_sample, "--json", "-q", "--ratios", "50"],
    }
    out = {}
    for name, args in runs.items():
        r = run(args)
        assert json.loads(r.stdout)["command"] in ("validate", "split"), r.stdout
        out[name] = base / f"{name}.json"
        out[name].write_text(r.stdout)
    return out


OTHER = {
    "validate": ["a `norwoodkit validate --json` document, not a split"],
    "check": ["a `split` document without `assignment`", "`split --check`"],
    "failed": ["a `split` document without `assignment`", "a run that failed"],
}
READERS = {
    "pack": lambda root, f, tmp: ["pack", root, "--out", tmp / "p", "--splits", f],
    "split --check": lambda root, f, tmp: ["split", root, "--check", f],
    "report": lambda root, f, tmp: ["report", root, "--out", tmp / "r.html", "--splits", f],
}


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("kind", list(OTHER))
def test_every_reader_refuses_documents_that_are_not_a_split(
    clean_sample: Path, other_documents: dict[str, Path], tmp_path: Path, reader: str, kind: str
) -> None:
    path = other_documents[kind]
    option = "--check" if reader == "split --check" else "--splits"
    words = [option, str(path), *OTHER[kind], "norwoodkit split DATA --json > FILE"]
    hostile(READERS[reader](clean_sample, path, tmp_path), 2, words, untouched=[clean_sample])
    assert not (tmp_path / "p").exists() and not (tmp_path / "r.html").exists()


def test_an_exclude_list_is_never_a_document(
    clean_sample: Path, packs: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    # Read as a table, a --json document used to be an empty one: nothing excluded, silently.
    doc = packs["ratios"]["doc_path"]
    args = ["pack", clean_sample, "--out", tmp_path / "p", "--exclude-from", doc]
    hostile(
        args,
        2,
        ["--exclude-from", str(doc), "a norwoodkit `--json` document, not a table"],
        untouched=[clean_sample],
    )


_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=12),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value: keys of objects and indexes of lists."""
    out = [prefix]
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else []
    )
    for k, v in items:
        out += _paths(v, (*prefix, k))
    return out


@given(data=st.data())
def test_fuzz_any_field_of_a_real_document(
    packs: dict[str, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    # Any one place of a real document replaced by any JSON value: read, or a NorwoodkitError.
    doc = copy.deepcopy(packs[data.draw(st.sampled_from(list(SPLITS)))]["doc"])
    where = data.draw(st.sampled_from(_paths(doc)[1:]))
    parent = doc
    for step in where[:-1]:
        parent = parent[step]
    parent[where[-1]] = data.draw(_values)
    path = tmp_path_factory.mktemp("fuzz") / "split.json"
    path.write_text(json.dumps(doc))
    try:
        assignment = read_assignment(path, "--splits")
    except NorwoodkitError:
        return
    assert assignment.info is not None
    try:
        record = split_info_record(assignment.info)
    except NorwoodkitError:
        return
    # Whatever was read is stated on a card without an error.
    manifest = {**_manifest(packs["ratios"]["json"]), "split_info": record}
    assert "## How the split was made" in card.dataset_card(manifest)
