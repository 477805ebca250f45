"""Resize, crop and pad planning: the spec's worked examples (§1.6) and its invariants."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediavault.errors import BadTransformation, TransformationLimit
from mediavault.media.transform.geometry import Plan, check_limits, plan_step
from mediavault.media.transform.params import parse_transformation


def plan(width: int, height: int, text: str) -> Plan:
    chain = parse_transformation(text)
    assert len(chain.steps) == 1, text
    return plan_step(width, height, chain.steps[0])


def output(width: int, height: int, text: str) -> tuple[int, int]:
    return plan(width, height, text).canvas


# Spec §1.6, input 1000x800, request w-300,h-200 and the rest of its table.
@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("w-300,h-200", (300, 200)),
        ("w-300,h-200,c-maintain_ratio", (300, 200)),
        ("w-300,h-200,c-force", (300, 200)),
        ("w-300,h-200,c-at_max", (250, 200)),
        ("w-300,h-200,c-at_max_enlarge", (250, 200)),
        ("w-300,h-200,c-at_least", (300, 240)),
        ("w-300,h-200,cm-pad_resize", (300, 200)),
        ("w-300,h-200,cm-pad_resize,fo-left", (300, 200)),
        ("w-300,h-200,cm-extract", (300, 200)),
        ("w-300,h-200,cm-extract,fo-bottom_right", (300, 200)),
        ("w-300,h-200,cm-extract,x-100,y-50", (300, 200)),
        ("w-300", (300, 240)),
        ("h-200", (250, 200)),
        ("w-0.5", (500, 400)),
        ("ar-4-3,w-400", (400, 300)),
        ("w-300,dpr-2", (600, 480)),
        # Enlarging, w-2000,h-1000
        ("w-2000,h-1000", (2000, 1000)),
        ("w-2000,h-1000,c-at_max", (1000, 800)),
        ("w-2000,h-1000,c-at_max_enlarge", (1250, 1000)),
        ("w-2000,h-1000,c-force", (2000, 1000)),
        ("w-2000,h-1000,cm-pad_extract", (2000, 1000)),
    ],
)
def test_the_spec_table_for_a_1000x800_input(text: str, size: tuple[int, int]) -> None:
    assert output(1000, 800, text) == size


def test_how_each_mode_gets_there() -> None:
    # maintain_ratio: scale 0.3 to 300x240, then 20 px cut from top and bottom.
    assert plan(1000, 800, "w-300,h-200") == Plan((300, 240), (300, 200), (0, -20))
    assert plan(1000, 800, "w-300,h-200,c-force") == Plan((300, 200), (300, 200), (0, 0))
    # pad_resize: 250x200 with 25 px bars left and right; fo-left puts one 50 px bar right.
    assert plan(1000, 800, "w-300,h-200,cm-pad_resize") == Plan((250, 200), (300, 200), (25, 0))
    assert plan(1000, 800, "w-300,h-200,cm-pad_resize,fo-left").offset == (0, 0)
    assert plan(1000, 800, "w-300,h-200,cm-pad_resize,fo-right").offset == (50, 0)
    # extract: pixels (350,300)-(650,500), not resized; bottom_right (700,600)-(1000,800).
    assert plan(1000, 800, "w-300,h-200,cm-extract") == Plan((1000, 800), (300, 200), (-350, -300))
    assert plan(1000, 800, "w-300,h-200,cm-extract,fo-bottom_right").offset == (-700, -600)
    assert plan(1000, 800, "w-300,h-200,cm-extract,x-100,y-50").offset == (-100, -50)
    assert plan(1000, 800, "w-300,h-200,cm-extract,xc-500,yc-400").offset == (-350, -300)
    # ar-4-3,w-400: 400x320, then 10 px cut top and bottom.
    assert plan(1000, 800, "ar-4-3,w-400") == Plan((400, 320), (400, 300), (0, -10))
    # pad_extract: the input centred, 500 px left and right, 100 px top and bottom.
    assert plan(1000, 800, "w-2000,h-1000,cm-pad_extract") == Plan(
        (1000, 800), (2000, 1000), (500, 100)
    )
    assert plan(1000, 800, "w-2000,h-1000,cm-pad_extract").pads
    assert not plan(1000, 800, "w-300,h-200").pads


def test_rounding_is_to_nearest_as_documented() -> None:
    # 640x865 (spec §1.6): 147.98 -> 148, 405.47 -> 405, 739.88 -> 740.
    assert output(640, 865, "w-300,h-200,c-at_max") == (148, 200)
    assert output(640, 865, "w-300,h-200,c-at_least") == (300, 405)
    assert output(640, 865, "w-850,h-1000,c-at_max_enlarge") == (740, 1000)


def test_focus_positions_for_crops_and_padding() -> None:
    # A tall 400x1000 image cut to 400x400: top, centre, bottom.
    assert plan(400, 1000, "w-400,h-400,fo-top").offset == (0, 0)
    assert plan(400, 1000, "w-400,h-400").offset == (0, -300)
    assert plan(400, 1000, "w-400,h-400,fo-bottom").offset == (0, -600)
    assert plan(1000, 400, "w-400,h-400,fo-right").offset == (-600, 0)
    # Padding moves to the side opposite the focus.
    assert plan(400, 1000, "w-400,h-400,cm-pad_resize,fo-top").offset == (120, 0)
    assert plan(400, 1000, "w-400,h-400,cm-pad_resize,fo-left").offset == (0, 0)
    assert plan(400, 1000, "w-400,h-400,cm-pad_resize,fo-bottom_right").offset == (240, 0)
    # Detectors this server does not have: the centre.
    assert plan(400, 1000, "w-400,h-400,fo-face") == plan(400, 1000, "w-400,h-400")
    assert plan(400, 1000, "w-400,h-400,fo-car") == plan(400, 1000, "w-400,h-400")
    # auto: saliency, found on the pixels.
    assert plan(400, 1000, "w-400,h-400,fo-auto").smart
    assert plan(1000, 800, "w-300,h-200,cm-extract,fo-auto").smart


def test_extract_boxes() -> None:
    # A focus-placed box larger than the image is clipped to it.
    assert plan(1000, 800, "w-1200,h-200,cm-extract").canvas == (1000, 200)
    # One side given: the other is the input's whole side.
    assert plan(1000, 800, "w-300,cm-extract") == Plan((1000, 800), (300, 800), (-350, 0))
    # A box placed by x/y or xc/yc must lie inside the image.
    with pytest.raises(BadTransformation, match="leaves the image"):
        plan(1000, 800, "w-300,h-200,cm-extract,x-800")
    with pytest.raises(BadTransformation, match="leaves the image"):
        plan(1000, 800, "w-300,h-200,cm-extract,xc-100")
    with pytest.raises(BadTransformation, match="leaves the image"):
        plan(1000, 800, "w-300,h-200,cm-extract,y-700")
    # One coordinate given: the other axis follows the focus.
    assert plan(1000, 800, "w-300,h-200,cm-extract,x-0").offset == (0, -300)
    # pad_extract may place the box past the edge: what is missing is padding.
    assert plan(1000, 800, "w-300,h-200,cm-pad_extract,x-800,y-700").offset == (-800, -700)
    with pytest.raises(BadTransformation, match="leaves the image"):
        plan(1000, 800, "w-300,h-200,cm-pad_extract,x-1000")  # but not miss it altogether
    # fo-auto does not move a box that x/y/xc/yc placed.
    assert not plan(1000, 800, "w-300,h-200,cm-extract,fo-auto,xc-500,yc-400").smart
    # pad_extract_no_shrink pads and never cuts.
    assert plan(1000, 800, "w-300,h-1000,cm-pad_extract_no_shrink") == Plan(
        (1000, 800), (1000, 1000), (0, 100)
    )


def test_modes_that_never_enlarge() -> None:
    assert output(1000, 800, "w-2000,h-1000,c-at_max") == (1000, 800)
    assert output(1000, 800, "w-2000,c-at_max") == (1000, 800)
    assert output(1000, 800, "w-500,c-at_max") == (500, 400)
    assert output(1000, 800, "w-2000,h-1000,c-maintain_ratio_no_enlarge") == (1000, 800)
    assert output(1000, 800, "w-500,h-100,c-maintain_ratio_no_enlarge") == (500, 100)
    assert plan(1000, 800, "w-2000,h-1000,cm-pad_resize_no_enlarge") == Plan(
        (1000, 800), (2000, 1000), (500, 100)
    )
    # The others enlarge.
    assert output(1000, 800, "w-2000") == (2000, 1600)
    assert output(1000, 800, "w-2000,h-2000,c-at_least") == (2500, 2000)
    assert output(100, 80, "w-300,h-200,cm-pad_resize") == (300, 200)
    assert plan(100, 80, "w-300,h-200,cm-pad_resize").resize == (250, 200)


def test_one_side_keeps_the_ratio_in_every_mode() -> None:
    for mode in ("c-force", "c-at_least", "c-at_max_enlarge", "cm-pad_resize"):
        assert output(1000, 800, f"w-300,{mode}") == (300, 240), mode
        assert output(1000, 800, f"h-200,{mode}") == (250, 200), mode


def test_dpr_and_fractions() -> None:
    assert output(1000, 800, "w-0.3,h-0.25,c-force") == (300, 200)
    assert output(1000, 800, "h-100,dpr-2.5") == (313, 250)
    # A result outside 1-5000 px ignores dpr (spec §1.5).
    assert output(1000, 800, "w-3000,dpr-2") == (3000, 2400)
    assert output(1000, 800, "w-1,dpr-0.5") == (1, 1)
    # No w/h: nothing to do.
    assert plan(1000, 800, "fo-left") == Plan((1000, 800), (1000, 800), (0, 0))


def test_limits_are_checked_on_every_size_a_step_makes() -> None:
    check_limits(plan(1000, 800, "w-300,h-200"), 16383, 100_000_000)
    with pytest.raises(TransformationLimit, match="at most 16383 px"):
        check_limits(plan(1000, 800, "w-20000"), 16383, 10**12)
    with pytest.raises(TransformationLimit, match="pixels"):
        check_limits(plan(1000, 800, "w-12000"), 16383, 100_000_000)
    # maintain_ratio's intermediate scale counts, not only the canvas.
    with pytest.raises(TransformationLimit):
        check_limits(plan(1000, 10, "w-10,h-1000"), 16383, 100_000_000)
    # Frames of an animation count together.
    with pytest.raises(TransformationLimit):
        check_limits(plan(1000, 800, "w-1000"), 16383, 1_000_000, frames=2)


_MODES = st.sampled_from(
    [
        "",
        ",c-force",
        ",c-at_max",
        ",c-at_max_enlarge",
        ",c-at_least",
        ",cm-pad_resize",
        ",cm-extract",
        ",cm-pad_extract",
    ]
)
_FOCUS = st.sampled_from(["", ",fo-left", ",fo-bottom_right", ",fo-top", ",fo-center"])


@given(
    st.integers(1, 5000),
    st.integers(1, 5000),
    st.integers(1, 5000),
    st.integers(1, 5000),
    _MODES,
    _FOCUS,
)
def test_every_plan_is_consistent(
    width: int, height: int, w: int, h: int, mode: str, focus: str
) -> None:
    result = plan(width, height, f"w-{w},h-{h}{mode}{focus}")
    (rw, rh), (cw, ch), (left, top) = result.resize, result.canvas, result.offset
    assert min(rw, rh, cw, ch) >= 1
    if mode in ("", ",c-force", ",cm-pad_resize", ",cm-pad_extract"):
        assert (cw, ch) == (w, h)  # exactly the requested box
    if mode in (",c-at_max", ",c-at_max_enlarge"):
        assert cw <= w and ch <= h and (cw == w or ch == h or (cw, ch) == (width, height))
    if mode == ",c-at_least":
        assert cw >= w and ch >= h
    if mode == ",cm-extract":
        assert (cw, ch) == (min(w, width), min(h, height))
    if mode in ("", ",cm-extract"):
        # A crop: the canvas lies inside the (scaled) image.
        assert left <= 0 and top <= 0 and -left + cw <= rw and -top + ch <= rh
    if mode == ",cm-pad_resize":
        # Padding: the scaled image lies inside the canvas.
        assert left >= 0 and top >= 0 and left + rw <= cw and top + rh <= ch
