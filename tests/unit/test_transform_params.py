"""Transformation strings: parsing, validation (ImageKit's 400s) and the canonical form."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediavault.api.errors import answer_for, status_for
from mediavault.errors import BadTransformation, InvalidRequest, TransformationLimit
from mediavault.media.transform.named import NamedTransformations, thumbnail_chain
from mediavault.media.transform.params import (
    FLAT,
    Chain,
    Dimension,
    parse_transformation,
    split_parameter,
)

NAMED = NamedTransformations(200, {"banner": "w-1200,h-400,fo-auto", "two": "w-100:rt-90"})


def canonical(text: str) -> str:
    return parse_transformation(text, NAMED).text


# What the SDKs send (spec §1.12) parses, and its canonical form is itself.
@pytest.mark.parametrize(
    "text",
    [
        "w-300,h-200,c-at_max",
        "w-300,h-200:rt-90",
        "pr-true",
        "t-10",
        "e-grayscale",
        "dpr-2,w-300",
        "w-0.5",
        "w-300,h-200,cm-pad_resize,bg-F3F3F3",
        "w-300,h-200,cm-extract,x-100,y-50",
        "w-300,h-200,cm-extract,xc-500,yc-400",
        "w-400,ar-4-3",
        "r-max",
        "r-5_10_15_20",
        "b-5_FFF000",
        "bl-10",
        "fl-h",
        "rt-auto",
        "q-50,f-webp",
        "f-avif,lo-true",
        "bg-blurred_30_N20,w-300,h-200,cm-pad_resize",
        "bg-dominant,w-300,h-200,cm-pad_resize",
        "fo-top_left,w-300,h-200",
        "fo-face,w-300,h-300",
    ],
)
def test_what_the_sdks_send_is_accepted(text: str) -> None:
    chain = parse_transformation(text)
    assert parse_transformation(chain.text).text == chain.text


def test_parameters_of_a_step_are_a_set_and_steps_keep_their_order() -> None:
    assert canonical("w-300,h-200") == canonical("h-200,w-300") == "w-300,h-200"
    assert canonical("fo-left,cm-pad_resize,h-200,w-300,bg-red") == (
        "w-300,h-200,cm-pad_resize,fo-left,bg-FF0000"
    )
    assert canonical("rt-90:w-300") != canonical("w-300:rt-90")
    assert canonical("w-400,h-300:rt-90") == "w-400,h-300:rt-90"


def test_equivalent_spellings_share_one_canonical_form() -> None:
    assert canonical("w-300,c-maintain_ratio,fo-center,q-80,f-auto,dpr-1,pr-false") == "w-300"
    assert canonical("f-jpeg") == canonical("f-jpg") == "f-jpg"
    assert canonical("rt-N90") == canonical("rt-270") == canonical("rt-630") == "rt-270"
    assert canonical("rt-0") == canonical("rt-360") == ""
    assert canonical("fl-v_h") == canonical("fl-h_v") == "fl-h_v"
    assert canonical("bg-red") == canonical("bg-FF0000") == canonical("bg-ff0000") == "bg-FF0000"
    assert canonical("bg-FF000050") == "bg-FF000050"
    assert canonical("w-300.0") == canonical("w-300") == "w-300"
    assert canonical("w-299.5") == "w-300"  # pixels round to nearest, halves up
    assert canonical("e-grayscale-true") == canonical("e-grayscale") == "e-grayscale"
    assert canonical("t-true") == "t-10"
    assert canonical("r-7") == canonical("r-7_7_7_7") == "r-7_7_7_7"
    assert canonical("w-300,,h-200") == canonical("w-300,h-200")
    assert canonical("tr:w-300") == canonical("w-300")  # the path form's prefix
    assert canonical("w-300::") == canonical("w-300")


def test_output_options_belong_to_the_chain_and_the_last_wins() -> None:
    assert canonical("w-300,f-webp:rt-90") == canonical("w-300:rt-90,f-webp")
    assert canonical("w-300,f-webp:rt-90") == "w-300:rt-90:f-webp"
    assert canonical("f-png:f-webp,q-40") == "f-webp,q-40"
    chain = parse_transformation("w-10,q-50,pr-true,lo-true,f-jpg")
    assert (chain.output.format, chain.output.quality) == ("jpg", 50)
    assert chain.output.progressive and chain.output.lossless


def test_what_imagekit_ignores_is_dropped() -> None:
    # Dimensions above 65535 are ignored (spec §1.6); dpr needs w or h; ar needs exactly one.
    assert canonical("w-70000,h-200") == "h-200"
    assert canonical("dpr-2") == ""
    assert canonical("w-300,h-200,ar-4-3") == "w-300,h-200"
    assert canonical("ar-4-3") == ""
    # x/y/xc/yc place an extract box only.
    assert canonical("w-300,x-10,y-20") == "w-300"
    assert canonical("w-300,cm-extract,x-10") == "w-300,cm-extract,x-10"


def test_fractions_and_pixels() -> None:
    step = parse_transformation("w-0.25,h-40").steps[0]
    assert step.width == Dimension(0.25, fraction=True)
    assert step.height == Dimension(40, fraction=False)
    assert parse_transformation("w-1").steps[0].width == Dimension(1, fraction=False)


def test_parameter_keys_follow_the_spec_rule() -> None:
    assert split_parameter("ar-4-3") == ("ar", "4-3")
    assert split_parameter("fo-top_left") == ("fo", "top_left")
    assert split_parameter("e-grayscale") == ("e-grayscale", "")
    assert split_parameter("e-sharpen-10") == ("e-sharpen", "10")
    assert split_parameter("orig") == ("orig", "")


INVALID = [
    ("w-0", "invalid value '0' for the parameter 'w'"),
    ("w-abc", "invalid value 'abc' for the parameter 'w'"),
    ("w-auto", "invalid value 'auto' for the parameter 'w'"),
    ("w-iw_div_2", "invalid value 'iw_div_2' for the parameter 'w'"),
    ("w--5", "invalid value '-5' for the parameter 'w'"),
    ("w-1e3", "invalid value '1e3' for the parameter 'w'"),
    ("w-nan", "invalid value 'nan' for the parameter 'w'"),
    ("w", "invalid value '' for the parameter 'w'"),
    ("h-1_000", "invalid value '1_000' for the parameter 'h'"),
    ("ar-4", "invalid value '4' for the parameter 'ar'"),
    ("ar-0-3", "invalid value '0-3' for the parameter 'ar'"),
    ("c-stretch", "invalid value 'stretch' for the parameter 'c'"),
    ("cm-crop", "invalid value 'crop' for the parameter 'cm'"),
    ("fo-middle", "invalid value 'middle' for the parameter 'fo'"),
    ("x-N5", "invalid value 'N5' for the parameter 'x'"),
    ("q-0", "invalid value '0' for the parameter 'q'"),
    ("q-101", "invalid value '101' for the parameter 'q'"),
    ("f-tiff", "invalid value 'tiff' for the parameter 'f'"),
    ("bg-GGGGGG", "invalid value 'GGGGGG' for the parameter 'bg'"),
    ("bg-FF000", "invalid value 'FF000' for the parameter 'bg'"),
    ("bg-FF0000AA", "invalid value 'FF0000AA' for the parameter 'bg'"),
    ("bg-Red", "invalid value 'Red' for the parameter 'bg'"),
    ("bg-blurred_101", "invalid value 'blurred_101' for the parameter 'bg'"),
    ("bg-gradient_dominant", "invalid value 'gradient_dominant' for the parameter 'bg'"),
    ("bl-0", "invalid value '0' for the parameter 'bl'"),
    ("bl-101", "invalid value '101' for the parameter 'bl'"),
    ("e-grayscale-2", "invalid value '2' for the parameter 'e-grayscale'"),
    ("rt-left", "invalid value 'left' for the parameter 'rt'"),
    ("fl-x", "invalid value 'x' for the parameter 'fl'"),
    ("r-0", "invalid value '0' for the parameter 'r'"),
    ("r-1_2", "invalid value '1_2' for the parameter 'r'"),
    ("dpr-6", "invalid value '6' for the parameter 'dpr'"),
    ("dpr-0.05", "invalid value '0.05' for the parameter 'dpr'"),
    ("dpr-auto", "invalid value 'auto' for the parameter 'dpr'"),
    ("pr-yes", "invalid value 'yes' for the parameter 'pr'"),
    ("lo-1", "invalid value '1' for the parameter 'lo'"),
    ("t-100", "invalid value '100' for the parameter 't'"),
    ("b-5", "invalid value '5' for the parameter 'b'"),
    ("b-x_FF0000", "invalid value 'x_FF0000' for the parameter 'b'"),
    ("ar-4-x", "invalid value '4-x' for the parameter 'ar'"),
    ("r-1_2_x_4", "invalid value '1_2_x_4' for the parameter 'r'"),
    ("orig-maybe", "invalid value 'maybe' for the parameter 'orig'"),
    ("w-1,w-2", "the parameter 'w' is given twice in a step"),
    ("foo-1", "unknown transformation parameter 'foo'"),
    ("aspectRatio-4-3", "unknown transformation parameter 'aspectRatio'"),
    ("z-0.5", "unsupported transformation parameter 'z'"),
    ("e-sharpen-10", "unsupported transformation parameter 'e-sharpen'"),
    ("l-text,i-hi,l-end", "unsupported transformation parameter 'l'"),
    ("n-doesnotexist", "unknown named transformation 'doesnotexist'"),
    (":".join(["w-10"] * 17), "a transformation can have at most 16 steps"),
    ("w-1," * 700, "the transformation is longer than 2048 characters"),
]


@pytest.mark.parametrize(("text", "detail"), INVALID)
def test_invalid_transformations_are_imagekits_400(text: str, detail: str) -> None:
    with pytest.raises(BadTransformation) as raised:
        parse_transformation(text, NAMED)
    error = raised.value
    assert error.detail == detail
    assert error.message == "Bad Image Transformation Request"
    assert error.ik_error == f"EINVALID - {detail}"
    assert isinstance(error, InvalidRequest) and status_for(error) == 400
    answer = answer_for(error, "GET", "/media/x.jpg")
    assert answer.status == 400
    assert answer.body["message"] == "Bad Image Transformation Request"


def test_limit_errors_are_400_with_elimit() -> None:
    error = TransformationLimit("too big")
    assert status_for(error) == 400
    assert error.ik_error == "ELIMIT - too big"


def test_user_text_in_an_error_is_safe_for_a_header() -> None:
    with pytest.raises(BadTransformation) as raised:
        parse_transformation("x\r\nSet-Cookie: a=b\u00e9" + "y" * 100 + "-1")
    shown = raised.value.ik_error
    assert shown.isascii() and "\r" not in shown and "\n" not in shown
    assert len(shown) < 120
    shown.encode("latin-1")


def test_dpr_limit_is_a_setting() -> None:
    assert parse_transformation("w-10,dpr-3", max_dpr=3).steps[0].dpr == 3
    with pytest.raises(BadTransformation):
        parse_transformation("w-10,dpr-3.5", max_dpr=3)


def test_orig_true_wins_over_everything_else() -> None:
    chain = parse_transformation("w-300,orig-true:rt-90")
    assert chain.original and chain.text == "orig-true" and not chain.auto_format
    assert not parse_transformation("orig-false,w-3").original


def test_named_transformations_expand_in_place() -> None:
    assert canonical("n-banner") == "w-1200,h-400,fo-auto"
    assert canonical("n-two:fl-h") == "w-100:rt-90:fl-h"
    # Parameters beside n- join its last step; given twice, they win.
    assert canonical("n-two,bl-5") == "w-100:rt-90,bl-5"
    assert canonical("n-banner,w-600") == "w-600,h-400,fo-auto"
    thumbnail = parse_transformation("n-ik_ml_thumbnail", NAMED)
    assert thumbnail.text == f"w-200,h-200,c-at_max:f-{FLAT}"
    assert thumbnail.placeholder and not thumbnail.auto_format
    assert parse_transformation("n-media_library_thumbnail", NAMED).text == thumbnail.text
    assert parse_transformation("n-ik_ml_thumbnail,f-webp", NAMED).output.format == "webp"


def test_only_lone_named_steps_make_a_named_only_chain() -> None:
    assert parse_transformation("n-ik_ml_thumbnail", NAMED).named_only
    assert parse_transformation("n-banner:n-two", NAMED).named_only
    assert not parse_transformation("n-banner,w-10", NAMED).named_only
    assert not parse_transformation("n-banner:w-10", NAMED).named_only
    assert not parse_transformation("w-10", NAMED).named_only
    assert not parse_transformation("", NAMED).named_only


def test_the_builtin_thumbnail_follows_the_size_setting() -> None:
    assert thumbnail_chain(320).text == f"w-320,h-320,c-at_max:f-{FLAT}"
    assert NamedTransformations(64)["ik_ml_thumbnail"].steps[0].width == Dimension(64, False)


def test_operator_named_transformations_file(tmp_path: Path) -> None:
    path = tmp_path / "named.json"
    path.write_text(json.dumps({"square": "w-300,h-300:r-max", "hero-2x": "w-800,dpr-2"}))
    named = NamedTransformations.load(200, path)
    assert parse_transformation("n-square", named).text == "w-300,h-300:r-max"
    assert parse_transformation("n-hero-2x", named).text == "w-800,dpr-2"
    assert NamedTransformations.load(200, None).keys() == {
        "ik_ml_thumbnail",
        "media_library_thumbnail",
    }


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ('{"a": "w-abc"}', "named transformation 'a': invalid value 'abc' for the parameter 'w'"),
        ('{"a": "n-b", "b": "w-1"}', "named transformation 'a': unknown named transformation"),
        ('{"ik_ml_thumbnail": "w-1"}', "named transformation 'ik_ml_thumbnail': a built-in"),
        ('{"a b": "w-1"}', "named transformation 'a b': names are"),
        ('{"a": 5}', "named transformation 'a': the value must be a string"),
        ('["w-1"]', "not a JSON object"),
        ("{", "named transformations file"),
    ],
)
def test_mistakes_in_the_named_file_stop_the_start(
    tmp_path: Path, content: str, error: str
) -> None:
    path = tmp_path / "named.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=error.replace("(", r"\(")):
        NamedTransformations.load(200, path)


def test_a_missing_named_file_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="named transformations file"):
        NamedTransformations.load(200, tmp_path / "absent.json")


# Property: the canonical form is a fixed point, and shuffling a step changes nothing.
_PARAMETERS = st.sampled_from(
    [
        "w-300",
        "h-200",
        "w-0.5",
        "ar-4-3",
        "dpr-2",
        "c-at_max",
        "c-force",
        "cm-pad_resize",
        "cm-extract",
        "fo-left",
        "fo-auto",
        "x-10",
        "yc-40",
        "t-20",
        "rt-90",
        "rt-N45",
        "fl-h",
        "bl-3",
        "e-grayscale",
        "r-max",
        "r-1_2_3_4",
        "b-2_00FF00",
        "bg-blurred_auto_N10",
        "bg-FF000050",
        "q-70",
        "f-webp",
        "pr-true",
        "lo-true",
    ]
)
_STEP = st.lists(_PARAMETERS, min_size=1, max_size=6, unique_by=lambda p: p.split("-")[0])


@given(st.lists(st.tuples(_STEP, st.randoms()), min_size=1, max_size=4))
def test_canonical_form_is_stable(steps: list[tuple[list[str], object]]) -> None:
    text = ":".join(",".join(step) for step, _ in steps)
    shuffled = []
    for step, rng in steps:
        copy = list(step)
        rng.shuffle(copy)  # type: ignore[attr-defined]
        shuffled.append(",".join(copy))
    chain = parse_transformation(text)
    assert parse_transformation(chain.text).text == chain.text
    assert parse_transformation(":".join(shuffled)).text == chain.text


def test_an_empty_transformation_is_the_identity_in_the_best_format() -> None:
    chain = parse_transformation("")
    assert chain == Chain() and chain.text == "" and chain.auto_format


_ALPHABET = st.sampled_from(list("whcmfoxyqbglrtdpnaeiz-_:,.N0123456789 \r\u00e9%"))


@given(st.text(_ALPHABET, max_size=60) | st.from_regex(r"[a-z]{1,3}-[A-Za-z0-9_.\-]{0,12}"))
def test_any_text_parses_or_is_a_bad_transformation(text: str) -> None:
    try:
        chain = parse_transformation(text, NAMED)
    except BadTransformation as error:
        error.ik_error.encode("latin-1")  # always fit for a header
        assert "\r" not in error.ik_error and "\n" not in error.ik_error
    else:
        assert parse_transformation(chain.text, NAMED).text == chain.text
