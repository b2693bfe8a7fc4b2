"""smart_resize against REFERENCE 1's table; frame round trips and clamping for every family."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actions.frames import (
    EDGE_MARGIN,
    CoordinateFrame,
    ModelFamily,
    PointOutsideFrame,
    family_of,
    model_size_for,
    smart_resize,
    visual_tokens,
)
from actions.project_errors import InputError

MAX_1280 = 1280 * 28 * 28

# (screen, default max_pixels -> size, tokens, max_pixels=1280*28*28 -> size, tokens)
TABLE = [
    ((1920, 1080), (1932, 1092), 2691, (1316, 728), 1222),
    ((2560, 1440), (2548, 1428), 4641, (1316, 728), 1222),
    ((3840, 2160), (3836, 2156), 10549, (1316, 728), 1222),
    ((1080, 2400), (1092, 2408), 3354, (672, 1484), 1272),
]


@pytest.mark.parametrize(("screen", "size", "tokens", "size_1280", "tokens_1280"), TABLE)
def test_smart_resize_matches_reference_table(screen, size, tokens, size_1280, tokens_1280):
    assert smart_resize(*screen) == size
    assert visual_tokens(size) == tokens
    assert smart_resize(*screen, max_pixels=MAX_1280) == size_1280
    assert visual_tokens(size_1280) == tokens_1280


def test_small_screen_is_upsized_so_mapping_is_never_identity():
    assert smart_resize(1280, 800) == (1288, 812)
    frame = CoordinateFrame.for_image((1280, 800))
    x, y = frame.model_to_image(644, 406)
    assert (x, y) == pytest.approx((640.0, 400.0))


def test_min_pixels_scales_up_and_ceils():
    w, h = smart_resize(50, 40, min_pixels=56 * 56)
    assert w % 28 == 0 and h % 28 == 0 and w * h >= 56 * 56


def test_extreme_aspect_ratio_is_rejected():
    with pytest.raises(InputError, match="aspect ratio"):
        smart_resize(20100, 100)


def test_family_names_and_errors():
    assert family_of("Qwen2.5-VL") is ModelFamily.QWEN2_5_VL
    assert family_of("ui_tars") is ModelFamily.UI_TARS_1_5
    with pytest.raises(InputError, match="unknown model family"):
        family_of("gpt")


def test_ui_tars_uses_its_own_min_pixels():
    # A tiny screenshot is scaled up to UI-TARS' 100*28*28 minimum, not Qwen's 4*28*28.
    w, h = model_size_for((200, 150), "ui-tars-1.5")
    assert w * h >= 100 * 28 * 28
    assert model_size_for((200, 150), "qwen2.5-vl") == (196, 140)


@pytest.mark.parametrize(
    ("family", "model_point", "image_point"),
    [
        (ModelFamily.QWEN2_5_VL, (966, 546), (960.0, 540.0)),
        (ModelFamily.QWEN2_VL, (500, 500), (960.0, 540.0)),
        (ModelFamily.QWEN3_VL, (500, 500), (960.0, 540.0)),
        (ModelFamily.NORMALIZED, (0.5, 0.5), (960.0, 540.0)),
        (ModelFamily.UI_TARS_1_5, (966, 546), (960.0, 540.0)),
    ],
)
def test_model_to_image_per_family(family, model_point, image_point):
    frame = CoordinateFrame.for_image((1920, 1080), family)
    assert frame.model_to_image(*model_point) == pytest.approx(image_point)


@pytest.mark.parametrize("family", list(ModelFamily))
@given(x=st.floats(4, 1915), y=st.floats(4, 1075))  # the edge margin: 2 points = 4 px at 2x
def test_round_trip_model_screen_model(family, x, y):
    frame = CoordinateFrame.for_image((1920, 1080), family, scale=2.0, offset=(-1920, 0))
    mx, my = frame.image_to_model(x, y)
    sx, sy = frame.image_to_screen(*frame.model_to_image(mx, my))
    back = frame.image_to_model(*frame.screen_to_image(sx, sy))
    if family is ModelFamily.QWEN3_VL and (mx >= 999 or my >= 999):
        return  # the 0-999 cap is lossy on purpose at the far edge
    assert back == pytest.approx((mx, my), abs=1e-6)


def test_a_small_overshoot_lands_inside_never_on_a_fail_safe_corner():
    # Issue 15: (-3, -2) used to become (0, 0), the fail-safe corner, so the next action
    # stopped the run. Now it lands EDGE_MARGIN input units inside the edge.
    frame = CoordinateFrame.for_image((1920, 1080))
    assert frame.model_to_image(-3, -2) == (2.0, 2.0)
    assert frame.model_to_image(0, 0) == (2.0, 2.0)
    assert frame.model_to_image(1932 + 40, 1092 + 20) == (1917.0, 1077.0)  # 2 %, 1.8 % out
    assert frame.model_to_image(1932, 500)[0] == 1917.0
    corners = {(0, 0), (0, 1079), (1919, 0), (1919, 1079)}
    for mx in (-90, -1, 0, 1932, 2020):
        for my in (-50, 0, 1092, 1140):
            sx, sy = frame.image_to_screen(*frame.model_to_image(mx, my))
            assert (round(sx), round(sy)) not in corners
    # HiDPI: the margin is in input units (points), so 4 screenshot pixels at 2x.
    retina = CoordinateFrame.for_image((2880, 1800), scale=2.0, offset=(-1440.0, 0.0))
    ix, iy = retina.model_to_image(-5, -5)
    assert (ix, iy) == (2 * EDGE_MARGIN, 2 * EDGE_MARGIN)
    assert retina.image_to_screen(ix, iy) == (-1440.0 + EDGE_MARGIN, EDGE_MARGIN)


@pytest.mark.parametrize(
    ("family", "point"),
    [
        (ModelFamily.QWEN2_5_VL, (2800, 500)),  # an answer in original-screen pixels
        (ModelFamily.QWEN2_5_VL, (500, -60)),  # 5.5 % of 1092 above the top
        (ModelFamily.QWEN2_5_VL, (-30, 5000)),
        (ModelFamily.QWEN2_VL, (1100, 500)),  # 0-1000 units: 10 % past the right edge
        (ModelFamily.NORMALIZED, (0.5, 1.2)),
        (ModelFamily.QWEN2_5_VL, (float("nan"), 10)),
    ],
)
def test_a_point_far_outside_the_frame_is_unusable_not_an_edge_click(family, point):
    frame = CoordinateFrame.for_image((1920, 1080), family)
    with pytest.raises(PointOutsideFrame, match="far outside"):
        frame.model_to_image(*point)


def test_the_overshoot_tolerance_is_relative_to_each_side():
    # 5 % of the side: 96.6 units on the 1932-wide side, 54.6 on the 1092-high one.
    frame = CoordinateFrame.for_image((1920, 1080))
    assert frame.model_to_image(-96, 540)[0] == 2.0
    with pytest.raises(PointOutsideFrame):
        frame.model_to_image(-97, 540)
    assert frame.model_to_image(966, 1092 + 54)[1] == 1077.0
    with pytest.raises(PointOutsideFrame):
        frame.model_to_image(966, 1092 + 55)
    qwen2 = CoordinateFrame.for_image((1920, 1080), ModelFamily.QWEN2_VL)
    assert qwen2.model_to_image(1040, -40) == (1917.0, 2.0)


def test_box_corners_outside_are_clamped_to_the_image_not_refused():
    frame = CoordinateFrame.for_image((1920, 1080))
    assert frame.model_box_to_image((1800, 1000, 2600, 1300)) == pytest.approx(
        (1800 * 1920 / 1932, 1000 * 1080 / 1092, 1919.0, 1079.0)
    )


def test_hidpi_scale_and_monitor_offset():
    # A Retina-like monitor placed left of the primary: 2x pixels, origin at x=-1440.
    frame = CoordinateFrame.for_image((2880, 1800), scale=2.0, offset=(-1440.0, 0.0))
    assert frame.image_to_screen(2880 / 2, 1800 / 2) == (-720.0, 450.0)
    assert frame.screen_to_image(-720.0, 450.0) == (1440.0, 900.0)


def test_box_corners_are_normalised():
    frame = CoordinateFrame.for_image((1932, 1092))
    assert frame.model_box_to_image((300, 400, 100, 200)) == pytest.approx((100, 200, 300, 400))
