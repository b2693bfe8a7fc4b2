"""Profile answer formats: the real answer shapes of each model family (REFERENCE 8).

Expected points are computed here by hand: model value * screen side / model side
(absolute pixels) or / 1000 (0-1000 profiles).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actions.answer_formats import NOT_FOUND, parse_model_answer
from actions.frames import CoordinateSpace
from actions.types import Click, LongPress, Swipe, Terminate, Type
from agent.models.profiles import get_profile

SCREEN = (1920, 1080)


def frame(name: str, *, kind: str = "ground", mobile: bool = False, screen=SCREEN):
    profile = get_profile(name)
    low, high = profile.pixel_limits()
    return profile.frame_for(screen, min_pixels=low, max_pixels=high, kind=kind, mobile=mobile)


def read(name: str, text: str, **kw):
    profile = get_profile(name)
    return parse_model_answer(text, frame(name), profile.answer, grounding=True, **kw)


def test_mai_ui_reads_the_answer_tag_after_grounding_think():
    text = (
        "<grounding_think>The Save icon [x,y] is a floppy disk at the top left; it is at "
        "[12,34] in the toolbar.</grounding_think>\n<answer>\n"
        '{"coordinate": [500, 250]}\n</answer>'
    )
    parsed = read("mai-ui", text)
    assert parsed.ok and parsed.point == pytest.approx((960.0, 270.0))
    assert parsed.model_points == [(500.0, 250.0)] and parsed.raw == text


def test_ui_venus_15_point_and_refusal():
    parsed = read("ui-venus-1.5", "[250,750]")
    assert parsed.point == pytest.approx((480.0, 810.0))
    refused = read("ui-venus-1.5", "[-1,-1]")
    assert not refused.ok and refused.refused and refused.error == NOT_FOUND
    assert refused.point is None and refused.actions == []
    assert read("ui-venus-1.5", " [-1, -1] ").refused


def test_ui_venus_ground_box_gives_its_centre_in_resized_pixels():
    w, h = frame("ui-venus-ground").model_size
    sx, sy = 1920 / w, 1080 / h
    parsed = read("ui-venus-ground", "[100,200,300,400]")
    assert parsed.point == pytest.approx((200 * sx, 300 * sy))
    assert parsed.box == pytest.approx((100 * sx, 200 * sy, 300 * sx, 400 * sy))


def test_holo15_click_absolute_json_and_click_call():
    w, h = frame("holo1.5").model_size  # 1316x728
    parsed = read("holo1.5", '{"action": "click_absolute", "x": 658, "y": 364}')
    assert parsed.point == pytest.approx((658 * 1920 / w, 364 * 1080 / h))
    # Without guided decoding the model may follow the prompt's Click(x, y) wording.
    parsed = read("holo1.5", "Click(329, 182)")
    assert parsed.point == pytest.approx((329 * 1920 / w, 182 * 1080 / h))


def test_holo2_json_after_think_block_in_0_1000():
    text = '<think>\nThe calendar day 3.\n</think>\n{"x": 250, "y": 500}'
    parsed = read("holo2", text)
    assert parsed.point == pytest.approx((480.0, 540.0))
    # Cut off inside the thinking: no answer, a clear error.
    cut = read("holo2", "<think>\nThe calendar shows")
    assert not cut.ok and "<think>" in cut.error


def test_infigui_first_point_of_the_list_after_think():
    w, h = frame("infigui-g1").model_size
    text = (
        "<think>Two candidates: the toolbar icon and the menu item.</think>"
        '```json\n[{"point_2d": [100, 50]}, {"point_2d": [900, 600]}]\n```'
    )
    parsed = read("infigui-g1", text)
    assert parsed.point == pytest.approx((100 * 1920 / w, 50 * 1080 / h))


def test_gta1_point_among_text():
    w, h = frame("gta1").model_size
    parsed = read("gta1", "(658,364)")
    assert parsed.point == pytest.approx((658 * 1920 / w, 364 * 1080 / h))
    parsed = read("gta1", "The element is at (329, 182).")
    assert parsed.point == pytest.approx((329 * 1920 / w, 182 * 1080 / h))


def test_ui_tars_point_and_start_box_forms():
    w, h = frame("ui-tars-1.5").model_size
    point = read("ui-tars-1.5", "Action: click(point='<point>658 364</point>')")
    box = read("ui-tars-1.5", "Thought: the Save icon\nAction: click(start_box='(658,364)')")
    for parsed in (point, box):
        assert parsed.ok and parsed.point == pytest.approx((658 * 1920 / w, 364 * 1080 / h))


def test_qwen3_and_gui_owl_take_the_last_tool_call_in_0_1000():
    text = (
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "mouse_move", '
        '"coordinate": [100, 100]}}\n</tool_call>\n<tool_call>\n{"name": "computer_use", '
        '"arguments": {"action": "left_click", "coordinate": [500, 500]}}\n</tool_call>'
    )
    for name in ("qwen3-vl", "gui-owl-1.5"):
        parsed = read(name, text)
        assert parsed.point == pytest.approx((960.0, 540.0)), name
        assert parsed.model_points == [(500.0, 500.0)]
        assert isinstance(parsed.actions[0], Click)
    # The default profile keeps the first call's point (today's behaviour).
    assert read("qwen2.5-vl", text).model_points[0] == (100.0, 100.0)


def test_qwen25_fenced_bbox_json_and_prefilled_tool_call():
    w, h = frame("qwen2.5-vl").model_size
    fence = '```json\n[{"bbox_2d": [100, 100, 300, 200], "label": "Save"}]\n```'
    fenced = read("qwen2.5-vl", fence)
    assert fenced.point == pytest.approx((200 * 1920 / w, 150 * 1080 / h))
    plain = read("qwen2.5-vl", '[{"point_2d": [658, 364]}]')
    assert plain.point == pytest.approx((658 * 1920 / w, 364 * 1080 / h))


def test_a_refusal_is_never_a_click_at_the_origin_for_any_profile():
    for name in ("qwen2.5-vl", "gta1", "mai-ui", "holo2", "infigui-g1"):
        for text in ("[-1,-1]", "(-1, -1)", "<answer>[-1,-1]</answer>"):
            parsed = read(name, text)
            assert not parsed.ok and parsed.actions == [], (name, text)


def test_ui_tars_mobile_actions_in_goal_mode():
    f = frame("ui-tars-1.5", kind="act", mobile=True, screen=(1080, 2400))
    w, h = f.model_size
    text = (
        "Thought: open the menu by holding the icon\n"
        "Action: long_press(point='<point>336 742</point>')"
    )
    parsed = parse_model_answer(text, f, mobile=True)
    assert isinstance(parsed.actions[0], LongPress)
    press = parsed.actions[0]
    assert (press.x, press.y) == pytest.approx((336 * 1080 / w, 742 * 2400 / h))
    drag = "Action: drag(start_point='<point>300 1200</point>', end_point='<point>300 200</point>')"
    swipe = parse_model_answer(drag, f, mobile=True).actions[0]
    assert isinstance(swipe, Swipe) and swipe.y > swipe.to_y
    typed = parse_model_answer("Action: type(content='hello\\n')", f, mobile=True).actions[0]
    assert isinstance(typed, Type) and typed.text == "hello\n"
    done = parse_model_answer("Action: finished(content='done')", f, mobile=True).actions[0]
    assert isinstance(done, Terminate) and done.status == "success"


def test_qwen3_mobile_goal_answers_are_read_in_999_units():
    f = frame("qwen3-vl", kind="act", mobile=True, screen=(1080, 2400))
    assert f.space is CoordinateSpace.REL999
    text = (
        "Thought: tap search.\nAction: Tap the search box.\n<tool_call>\n"
        '{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [999, 333]}}\n'
        "</tool_call>"
    )
    click = parse_model_answer(text, f, mobile=True).actions[0]
    # x 999/999 of the side is the right edge: pulled 2 px inside it (frames.EDGE_MARGIN),
    # so that it never lands on a fail-safe corner column.
    assert (click.x, click.y) == pytest.approx((1080 - 1 - 2, 333 / 999 * 2400))


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=300), name=st.sampled_from(sorted(
    ["qwen2.5-vl", "qwen3-vl", "ui-tars-1.5", "gta1", "ui-venus-ground", "ui-venus-1.5",
     "gui-owl-1.5", "mai-ui", "holo1.5", "holo2", "infigui-g1"])))  # fmt: skip
def test_profile_parsers_never_raise(text, name):
    parsed = read(name, text)
    assert parsed.raw == text
    assert parsed.ok or parsed.error


@settings(max_examples=200, deadline=None)
@given(
    body=st.sampled_from(["[{x},{y}]", "<answer>{{\"coordinate\": [{x},{y}]}}</answer>",
                          "<think>{x}</think>{{\"x\": {x}, \"y\": {y}}}"]),
    x=st.integers(-5000, 5000),
    y=st.integers(-5000, 5000),
)  # fmt: skip
def test_points_always_land_on_the_screen(body, x, y):
    parsed = read("mai-ui", body.format(x=x, y=y))
    if parsed.ok:
        px, py = parsed.point
        assert 0 <= px <= 1919 and 0 <= py <= 1079
