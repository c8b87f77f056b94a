"""Tests for norwoodkit.labels: stages, views, junk names, subject ids and category keys."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from norwoodkit.errors import LabelError, NorwoodkitError
from norwoodkit.labels import (
    ACCEPTED_STAGE_FORMS,
    IMAGE_EXTENSIONS,
    JUNK_NAMES,
    VENDOR_FILENAMES,
    VIEWS,
    Stage,
    View,
    canonical_id,
    category_key,
    is_junk,
    parse_stage,
    parse_view,
)

# --- constants ---------------------------------------------------------------------------------


def test_views_order_and_values() -> None:
    assert VIEWS == (View.FRONT, View.TOP, View.BACK, View.LEFT, View.RIGHT)
    assert list(View) == list(VIEWS)
    assert [v.value for v in VIEWS] == ["front", "top", "back", "left", "right"]
    assert View("top") is View.TOP
    assert isinstance(View.FRONT, str)


def test_vendor_filenames() -> None:
    assert VENDOR_FILENAMES == {
        View.FRONT: "Front.jpg",
        View.TOP: "Top-Down.jpg",
        View.BACK: "Back.jpg",
        View.LEFT: "Left.jpg",
        View.RIGHT: "Right.jpg",
    }
    for view, filename in VENDOR_FILENAMES.items():
        assert parse_view(filename) is view


def test_image_extensions() -> None:
    expected = {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
    assert expected | {".heic", ".heif"} <= IMAGE_EXTENSIONS
    assert all(ext == ext.lower() and ext.startswith(".") for ext in IMAGE_EXTENSIONS)


def test_junk_names_are_lower_case() -> None:
    assert {".ds_store", "thumbs.db", "desktop.ini", "__macosx"} <= JUNK_NAMES
    assert all(name == name.lower() for name in JUNK_NAMES)


# --- is_junk -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        ".DS_Store",
        ".ds_store",
        "Thumbs.db",
        "THUMBS.DB",
        "desktop.ini",
        "Desktop.INI",
        "__MACOSX",
        "__macosx",
        "._Front.jpg",
        "._foo.jpg",
        "~$notes.xlsx",
        "__MACOSX/1/Front.jpg",
        "1/._Top-Down.jpg",
        "1\\Thumbs.db",
    ],
)
def test_is_junk_true(name: str) -> None:
    assert is_junk(name)


@pytest.mark.parametrize(
    "name", ["Front.jpg", "1", "Top-Down.jpg", "annotations.csv", ".hidden_but_real", "_x.jpg", ""]
)
def test_is_junk_false(name: str) -> None:
    assert not is_junk(name)


# --- parse_stage: accepted spellings -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "number", "variant"),
    [
        # prefixes and separators
        ("Stage 3", 3, None),
        ("stage_3", 3, None),
        ("stage-3", 3, None),
        ("stage.3", 3, None),
        ("Stage3", 3, None),
        ("type_3", 3, None),
        ("norwood_3", 3, None),
        ("Norwood III", 3, None),
        ("Norwood-Hamilton 3", 3, None),
        ("norwood_hamilton_3", 3, None),
        ("Hamilton-Norwood VI", 6, None),
        ("Norwood stage 3", 3, None),
        ("NW3", 3, None),
        ("nw 3", 3, None),
        ("NW-3", 3, None),
        ("LEVEL_3", 3, None),
        ("class 3", 3, None),
        ("grade 2", 2, None),
        # bare numbers, arabic and roman
        ("3", 3, None),
        ("03", 3, None),
        ("  3  ", 3, None),
        ("1", 1, None),
        ("7", 7, None),
        ("I", 1, None),
        ("II", 2, None),
        ("III", 3, None),
        ("iii", 3, None),
        ("Iii", 3, None),
        ("IV", 4, None),
        ("iv", 4, None),
        ("V", 5, None),
        ("v", 5, None),
        ("VI", 6, None),
        ("VII", 7, None),
        ("vii", 7, None),
        ("\u2162", 3, None),  # ROMAN NUMERAL THREE, NFKC-normalised to "III"
        ("\uff13", 3, None),  # FULLWIDTH DIGIT THREE
        ("3.0", 3, None),
        ("+3", 3, None),
        # variant a
        ("IIa", 2, "a"),
        ("2A", 2, "a"),
        ("2a", 2, "a"),
        ("2 a", 2, "a"),
        ("IIIa", 3, "a"),
        ("Stage IIIa", 3, "a"),
        ("IVa", 4, "a"),
        ("Va", 5, "a"),
        ("VA", 5, "a"),
        ("type_4a", 4, "a"),
        ("NW 3a", 3, "a"),
        # vertex
        ("III vertex", 3, "vertex"),
        ("III Vertex", 3, "vertex"),
        ("III_vertex", 3, "vertex"),
        ("IIIvertex", 3, "vertex"),
        ("IIIv", 3, "vertex"),
        ("iiiV", 3, "vertex"),
        ("3V", 3, "vertex"),
        ("3v", 3, "vertex"),
        ("3 v", 3, "vertex"),
        ("3 vertex", 3, "vertex"),
        ("Norwood 3 vertex", 3, "vertex"),
        # numbers from JSON and spreadsheets
        (3, 3, None),
        (1, 1, None),
        (7, 7, None),
        (3.0, 3, None),
        (7.0, 7, None),
    ],
)
def test_parse_stage_accepts(value: object, number: int, variant: str | None) -> None:
    assert parse_stage(value) == Stage(number, variant)


@pytest.mark.parametrize("value", [pd.NA, pd.NaT])
def test_pandas_missing_markers(value: object) -> None:
    with pytest.raises(LabelError) as stage_info:
        parse_stage(value)
    assert stage_info.value.code == "stage-missing"
    with pytest.raises(LabelError) as id_info:
        canonical_id(value)
    assert id_info.value.code == "record-without-id"


def test_numpy_scalars_from_dataframes() -> None:
    frame = pd.DataFrame({"id": [1, 2], "stage": [3.0, 4.0]})
    assert [canonical_id(v) for v in frame["id"]] == ["1", "2"]
    assert [parse_stage(v) for v in frame["stage"]] == [Stage(3), Stage(4)]


def test_parse_stage_returns_stage_type() -> None:
    stage = parse_stage("Stage 3")
    assert isinstance(stage, Stage)
    assert type(stage.number) is int


# --- parse_stage: rejections -------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", " ", "\t\n", math.nan, float("nan")])
def test_parse_stage_missing(value: object) -> None:
    with pytest.raises(LabelError) as info:
        parse_stage(value)
    assert info.value.code == "stage-missing"


@pytest.mark.parametrize(
    "value",
    ["Stage 9", "0", "8", "VIII", "viii", "IX", "XIV", "type_12", "Stage -1", "-1", 9, 0, -1, 8.0],
)
def test_parse_stage_out_of_range(value: object) -> None:
    with pytest.raises(LabelError) as info:
        parse_stage(value)
    assert info.value.code == "stage-out-of-range"


@pytest.mark.parametrize(
    "value",
    [
        # ranges
        "3-4",
        "3 - 4",
        "3_4",
        "norwood_3_4",
        "III-IV",
        "III-V",
        "V+",
        "3+",
        "3/4",
        "3 to 4",
        "3,4",
        # variants where they do not exist
        "IVv",
        "IVV",
        "2 vertex",
        "2V",
        "Vv",
        "Ia",
        "1a",
        "VIa",
        "VIIa",
        "6a",
        # ambiguous roman letters
        "IIIV",
        "iiiv",
        "IIV",
        "III V",
        "IIII",
        # wrong types and unknown words
        True,
        False,
        3.5,
        "3.5",
        math.inf,
        "bald",
        "severe",
        "vertex",
        "stage",
        "Norwood",
        "a",
        "3b",
        "3 vertex a",
        [3],
        {"stage": 3},
        (3,),
        b"3",
    ],
)
def test_parse_stage_invalid(value: object) -> None:
    with pytest.raises(LabelError) as info:
        parse_stage(value)
    assert info.value.code == "stage-invalid"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("3-4", "ranges are not a stage"),
        ("norwood_3_4", "ranges are not a stage"),
        ("III-IV", "ranges are not a stage"),
        ("V+", "open-ended"),
        ("IVv", "vertex variant exists only for stage III"),
        ("2 vertex", "vertex variant exists only for stage III"),
        ("VIa", "'a' variant exists only for stages II-V"),
        ("IIIV", "III vertex"),
        ("III V", "III vertex"),
        (3.5, "whole stage"),
        (None, "missing"),
        ("Stage 9", "outside the Norwood scale 1-7"),
        ([3], "list"),
    ],
)
def test_parse_stage_reason(value: object, fragment: str) -> None:
    with pytest.raises(LabelError) as info:
        parse_stage(value)
    assert fragment in info.value.message


@pytest.mark.parametrize(
    "value", [None, "", "3-4", "Stage 9", "bald", "IVv", True, 3.5, 9, "a\nb", math.nan]
)
def test_parse_stage_message_quotes_value_and_forms(value: object) -> None:
    with pytest.raises(LabelError) as info:
        parse_stage(value)
    message = str(info.value)
    assert message == info.value.message
    assert repr(value) in message
    assert message.endswith(f"Accepted: {ACCEPTED_STAGE_FORMS}")
    assert "\n" not in message


def test_parse_stage_message_example() -> None:
    with pytest.raises(LabelError) as info:
        parse_stage("3-4")
    assert info.value.message.startswith(
        "cannot read Norwood stage '3-4': ranges are not a stage; write one stage. Accepted: "
    )


def test_parse_stage_long_value_is_shortened() -> None:
    with pytest.raises(LabelError) as info:
        parse_stage("x" * 500)
    assert len(info.value.message) < 500 + len(ACCEPTED_STAGE_FORMS)
    assert "..." in info.value.message


def test_label_error_is_value_error() -> None:
    with pytest.raises(ValueError):
        parse_stage("bald")
    with pytest.raises(NorwoodkitError):
        parse_stage("bald")


def test_accepted_forms_is_one_short_line() -> None:
    assert "\n" not in ACCEPTED_STAGE_FORMS
    assert len(ACCEPTED_STAGE_FORMS) < 300
    for example in ("3", "III", "Stage 3", "NW3", "IIa", "III vertex"):
        assert example in ACCEPTED_STAGE_FORMS


# --- Stage -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "name"),
    [
        (Stage(1, None), "I"),
        (Stage(2, None), "II"),
        (Stage(2, "a"), "IIa"),
        (Stage(3, None), "III"),
        (Stage(3, "a"), "IIIa"),
        (Stage(3, "vertex"), "III vertex"),
        (Stage(4, None), "IV"),
        (Stage(4, "a"), "IVa"),
        (Stage(5, None), "V"),
        (Stage(5, "a"), "Va"),
        (Stage(6, None), "VI"),
        (Stage(7, None), "VII"),
    ],
)
def test_stage_name(stage: Stage, name: str) -> None:
    assert stage.name == name
    # The clinical spelling reads back as the same stage.
    assert parse_stage(name) == stage


def test_stage_defaults_and_is_frozen_and_hashable() -> None:
    stage = Stage(3)
    assert stage.variant is None
    assert {Stage(3, None), parse_stage("III")} == {stage}
    with pytest.raises(AttributeError):
        stage.number = 4  # type: ignore[misc]


@pytest.mark.parametrize(
    ("number", "variant", "code"),
    [
        (0, None, "stage-out-of-range"),
        (8, None, "stage-out-of-range"),
        (1, "a", "stage-invalid"),
        (4, "vertex", "stage-invalid"),
        (3, "b", "stage-invalid"),
        (True, None, "stage-invalid"),
    ],
)
def test_stage_constructor_validates(number: int, variant: str | None, code: str) -> None:
    with pytest.raises(LabelError) as info:
        Stage(number, variant)
    assert info.value.code == code


# --- parse_view --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "view"),
    [
        ("Front", View.FRONT),
        ("front", View.FRONT),
        ("Full-face", View.FRONT),
        ("fullface", View.FRONT),
        ("full_face", View.FRONT),
        ("face", View.FRONT),
        ("frontal", View.FRONT),
        ("Top", View.TOP),
        ("Top-Down", View.TOP),
        ("top_down", View.TOP),
        ("topdown", View.TOP),
        ("Top Down", View.TOP),
        ("crown", View.TOP),
        ("top-view", View.TOP),
        ("Back", View.BACK),
        ("back-of-head", View.BACK),
        ("backhead", View.BACK),
        ("rear", View.BACK),
        ("Left", View.LEFT),
        ("left-side", View.LEFT),
        ("left_view", View.LEFT),
        ("Right", View.RIGHT),
        ("right-side", View.RIGHT),
        ("right_view", View.RIGHT),
        # file names with extensions and directories
        ("Front.jpg", View.FRONT),
        ("FRONT.JPEG", View.FRONT),
        ("front.jpe", View.FRONT),
        ("top-down.png", View.TOP),
        ("Top-Down.jpg", View.TOP),
        ("1/Top-Down.jpg", View.TOP),
        ("dataset/12/Back.webp", View.BACK),
        ("C:\\data\\3\\Left.TIFF", View.LEFT),
        ("Right.heic", View.RIGHT),
        ("crown.bmp", View.TOP),
        ("rear.gif", View.BACK),
        ("Left.tif", View.LEFT),
        ("Right.HEIF", View.RIGHT),
    ],
)
def test_parse_view(name: str, view: View) -> None:
    assert parse_view(name) is view


@pytest.mark.parametrize(
    "name",
    [
        "IMG_0001.jpg",
        "Front (1).jpg",
        "notes.txt",
        "Front.txt",
        "front.jpg.bak",
        "Frontside.jpg",
        "side",
        "",
        ".jpg",
        "1/",
        "annotations.csv",
        "Top-Down-2.jpg",
    ],
)
def test_parse_view_none(name: str) -> None:
    assert parse_view(name) is None


# --- canonical_id ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, "1"),
        ("1", "1"),
        ("001", "1"),
        (1.0, "1"),
        (" 12 ", "12"),
        ("000", "0"),
        (0, "0"),
        (120, "120"),
        ("P001", "P001"),
        (" P001 ", "P001"),
        ("subject 7", "subject 7"),
        ("1.5", "1.5"),
        ("Métis-01", "Métis-01"),
    ],
)
def test_canonical_id(value: object, expected: str) -> None:
    assert canonical_id(value) == expected


def test_canonical_id_spellings_agree() -> None:
    assert len({canonical_id(v) for v in (1, "1", "001", 1.0, " 1 ")}) == 1


@pytest.mark.parametrize(
    "value", [None, "", "   ", math.nan, True, False, 1.5, math.inf, [1], {"id": 1}, (1,), {1}]
)
def test_canonical_id_without_id(value: object) -> None:
    with pytest.raises(LabelError) as info:
        canonical_id(value)
    assert info.value.code == "record-without-id"
    assert repr(value) in info.value.message


@pytest.mark.parametrize("value", ["a/b", "a\\b", "/", ".", "..", " .. ", "../1", "1\x00", "a\tb"])
def test_canonical_id_invalid(value: str) -> None:
    with pytest.raises(LabelError) as info:
        canonical_id(value)
    assert info.value.code == "id-invalid"
    assert repr(value) in info.value.message


# --- category_key ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "key"),
    [
        (["Caucasians", "caucasian", "CAUCASIAN", " Caucasian "], "caucasian"),
        (["Asian", "Asians", "asian", "\uff21\uff53\uff49\uff41\uff4e"], "asian"),
        (
            ["Middle-Eastern", "middle eastern", "Middle_Eastern", "middle  -  eastern"],
            "middle eastern",
        ),
        (["Male", "male", "Males", "MALE"], "male"),
        (["Métis", "métis", "MÉTIS"], "méti"),
        (["中国人", " 中国人 "], "中国人"),
        (["Swiss", "swiss"], "swiss"),
        (["Arab", "arabs"], "arab"),
        (["yes"], "yes"),
    ],
)
def test_category_key(values: list[str], key: str) -> None:
    assert {category_key(v) for v in values} == {key}


@pytest.mark.parametrize(
    ("a", "b"), [("Asian", "Caucasian"), ("Male", "Female"), ("Métis", "Metis")]
)
def test_category_key_keeps_distinct_values_apart(a: str, b: str) -> None:
    assert category_key(a) != category_key(b)


def test_category_key_empty() -> None:
    assert category_key("") == ""
    assert category_key(" - _ ") == ""
