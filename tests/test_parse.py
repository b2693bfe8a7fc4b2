"""Parsing real model output: the formats of REFERENCE 2 and 1581 real Qwen2-VL answers."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actions.frames import CoordinateFrame, ModelFamily
from actions.parse import parse_answer
from actions.types import Click, Drag, Key, LongPress, OpenApp, Scroll, Swipe, SystemButton, Type
from tests.conftest import REAL_RESULTS

FRAME = CoordinateFrame.for_image((1920, 1080))  # model size 1932x1092
CALL = '<tool_call>\n{{"name": "computer_use", "arguments": {args}}}\n</tool_call>'


def call(args: str) -> str:
    return CALL.format(args=args)


@pytest.mark.parametrize(
    "text",
    [
        call('{"action": "left_click", "coordinate": [966, 546]}'),
        # the verb as the function name
        '<tool_call>\n{"name": "left_click", "arguments": {"coordinate": [966, 546]}}\n'
        "</tool_call>",
        # arguments given as the bare point
        '<tool_call>\n{"name": "computer_use", "arguments": [966, 546]}\n</tool_call>',
        # an extra closing brace
        call('{"action": "left_click", "coordinate": [966, 546]}').replace("}}", "}}}"),
        # a missing closing brace
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", '
        '"coordinate": [966, 546]}\n</tool_call>',
        # extra keys
        call('{"action": "left_click", "coordinate": [966, 546], "element": "OK", "why": 1}'),
        # cut off right after the coordinate (max_new_tokens reached)
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", '
        '"coordinate": [966, 546]',
        # the ScreenSpot-Pro prefill + completion, no closing tag
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", '
        '"coordinate": [966, 546]}}',
        # no tags at all
        '{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [966, 546]}}',
    ],
)
def test_tool_call_variants_give_the_same_click(text):
    parsed = parse_answer(text, FRAME)
    assert parsed.ok, parsed.error
    assert parsed.actions == [Click(x=960.0, y=540.0)]
    assert parsed.model_points == [(966.0, 546.0)]
    assert parsed.raw == text


def test_text_cut_inside_a_number_is_an_error_not_a_wrong_click():
    parsed = parse_answer(
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", '
        '"coordinate": [966, 54',
        FRAME,
    )
    assert not parsed.ok and parsed.error


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            '{"action": "right_click", "coordinate": [966, 546]}',
            Click(x=960, y=540, button="right"),
        ),
        ('{"action": "double_click", "coordinate": [966, 546]}', Click(x=960, y=540, count=2)),
        ('{"action": "left_click_drag", "coordinate": [966, 546]}', Drag(to_x=960, to_y=540)),
        # pixels of the 1932x1092 image the model saw -> screenshot pixels (x 1080/1092)
        ('{"action": "scroll", "pixels": -500}', Scroll(pixels=-495)),
        (
            '{"action": "scroll", "pixels": 5, "coordinate": [966, 546]}',
            Scroll(x=960, y=540, pixels=5),
        ),
        ('{"action": "hscroll", "pixels": 966}', Scroll(pixels=960, axis="horizontal")),
        ('{"action": "type", "text": "héllo 你好"}', Type(text="héllo 你好")),
        ('{"action": "key", "keys": ["ctrl", "shift", "t"]}', Key(keys=["ctrl", "shift", "t"])),
        ('{"action": "key", "keys": ["Return"]}', Key(keys=["enter"])),
    ],
)
def test_computer_use_actions(args, expected):
    parsed = parse_answer(call(args), FRAME)
    assert parsed.actions == [expected]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ('{"action": "click", "coordinate": [546, 1204]}', Click(x=540, y=1200)),
        (
            '{"action": "long_press", "coordinate": [546, 1204], "time": 2}',
            LongPress(x=540, y=1200, duration=2),
        ),
        (
            '{"action": "swipe", "coordinate": [546, 1204], "coordinate2": [546, 602]}',
            Swipe(x=540, y=1200, to_x=540, to_y=600),
        ),
        ('{"action": "system_button", "button": "Back"}', SystemButton(button="back")),
        ('{"action": "open", "text": "Settings"}', OpenApp(app="Settings")),
        ('{"action": "key", "text": "volume_up"}', Key(keys=["volume_up"])),
    ],
)
def test_mobile_use_actions(args, expected):
    phone = CoordinateFrame.for_image((1080, 2400))  # announced as 1092x2408
    text = f'<tool_call>\n{{"name": "mobile_use", "arguments": {args}}}\n</tool_call>'
    parsed = parse_answer(text, phone, mobile=True)
    assert parsed.ok, parsed.error
    assert parsed.actions == [expected]


def test_several_tool_calls_in_one_answer():
    text = (
        call('{"action": "left_click", "coordinate": [966, 546]}')
        + "\n"
        + call('{"action": "type", "text": "hi"}')
    )
    assert [a.type for a in parse_answer(text, FRAME).actions] == ["click", "type"]


@pytest.mark.parametrize(
    ("text", "point", "box"),
    [
        (
            '```json\n[\n\t{"bbox_2d": [100, 200, 300, 400], "label": "Save"}\n]\n```',
            (200, 300),
            (100, 200, 300, 400),
        ),
        (
            '[{"bbox_2d": [300, 400, 100, 200], "label": "swapped corners"}]',
            (200, 300),
            (100, 200, 300, 400),
        ),
        (
            '```json\n[\n\t{"bbox_2d": [100, 200, 300, 400], "label": "a"},\n\t{"bbox_2d": [5, 6',
            (200, 300),
            (100, 200, 300, 400),
        ),
        ('{"point_2d": [200, 300], "label": "Save"}', (200, 300), None),
        ('<points x1="200" y1="300" alt="Save">Save</points>', (200, 300), None),
        ("(200, 300)", (200, 300), None),
        ("[100, 200, 300, 400]", (200, 300), (100, 200, 300, 400)),
    ],
)
def test_grounding_formats(text, point, box):
    frame = CoordinateFrame(image_size=(1000, 1000), model_size=(1000, 1000))
    parsed = parse_answer(text, frame)
    assert parsed.ok, parsed.error
    assert parsed.point == pytest.approx(point)
    assert parsed.actions == [Click(x=point[0], y=point[1])]
    assert parsed.box == (pytest.approx(box) if box else None)


@pytest.mark.parametrize(
    ("text", "kind", "detail"),
    [
        ("Thought: the button.\nAction: click(start_box='(500,300)')", "click", (500, 300)),
        ("Action: left_double(start_box='<|box_start|>(500,300)<|box_end|>')", "click", (500, 300)),
        ("Action: click(point='<point>500 300</point>')", "click", (500, 300)),
        ("Action: drag(start_box='(10,20)', end_box='(500,300)')", "drag", (500, 300)),
        ("Action: type(content='hello\\'s\\n')", "type", "hello's\n"),
        ("Action: hotkey(key='ctrl c')", "key", ["ctrl", "c"]),
        ("Action: scroll(start_box='(500,300)', direction='down')", "scroll", -5),
        ("Action: finished(content='done')", "terminate", "done"),
        ("Action: press_back()", "system_button", "back"),
        ("Action: open_app(app_name='Settings')", "open_app", "Settings"),
    ],
)
def test_ui_tars_actions(text, kind, detail):
    frame = CoordinateFrame(
        family=ModelFamily.UI_TARS_1_5, image_size=(1000, 1000), model_size=(1000, 1000)
    )
    parsed = parse_answer(text, frame)
    assert parsed.ok, parsed.error
    action = parsed.actions[0]
    assert action.type == kind
    if kind == "click":
        assert (action.x, action.y) == detail
    elif kind == "drag":
        assert (action.to_x, action.to_y) == detail
    elif kind == "type":
        assert action.text == detail
    elif kind == "key":
        assert action.keys == detail
    elif kind == "scroll":
        assert action.amount == detail
    elif kind == "terminate":
        assert action.answer == detail
    elif kind == "system_button":
        assert action.button == detail
    elif kind == "open_app":
        assert action.app == detail


@pytest.mark.parametrize(
    "text",
    [
        "",
        "I cannot see a save button.",
        "<|object_ref_start|><|object_ref_start|><|object_ref_start|>",
        call('{"action": "launch_rockets"}'),
        call('{"action": "left_click"}'),
        call('{"action": "key", "keys": ["hyperdrive"]}'),
        call('{"action": "left_click", "coordinate": ["a", "b"]}'),
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "type", '
        '"text": "unterminated',
        "(1e999, 5)",
    ],
)
def test_unusable_answers_are_error_values(text):
    parsed = parse_answer(text, FRAME)
    assert not parsed.ok
    assert parsed.error
    assert parsed.raw == text


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_parser_never_raises_on_arbitrary_text(text):
    parsed = parse_answer(text, FRAME)
    assert parsed.ok or parsed.error


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "<tool_call>",
                "</tool_call>",
                "{",
                "}",
                "[",
                "]",
                '"name"',
                ":",
                ",",
                '"arguments"',
                '"action"',
                '"left_click"',
                '"coordinate"',
                "12",
                "-3.5",
                '"',
                "<|box_start|>",
                "<|box_end|>",
                "(",
                ")",
                "Action:",
                "click(",
                "start_box='",
                "'",
                "bbox_2d",
                "\n",
            ]
        ),
        max_size=40,
    )
)
def test_parser_never_raises_on_near_miss_syntax(tokens):
    text = "".join(tokens)
    parsed = parse_answer(text, FRAME)
    assert parsed.ok or parsed.error
    for action in parsed.actions:
        for x, y in action.points():
            assert 0 <= x <= 1919 and 0 <= y <= 1079


OFFICIAL_BOX = re.compile(r"<\|box_start\|\>\((\d+),(\d+)\),\((\d+),(\d+)\)<\|box_end\|\>")


def test_real_qwen2vl_answers_parse_like_the_official_harness():
    """1581 real answers: a complete box gives its centre (last box wins), the rest an error."""
    rows = json.loads(REAL_RESULTS.read_text())["details"]
    assert len(rows) == 1581
    boxes = errors = 0
    for row in rows:
        raw = row["raw_response"]
        matches = OFFICIAL_BOX.findall(raw)
        unit = CoordinateFrame(
            family=ModelFamily.QWEN2_VL, image_size=(1000, 1000), model_size=(1000, 1000)
        )
        parsed = parse_answer(raw, unit)
        if matches:
            boxes += 1
            x1, y1, x2, y2 = (float(v) for v in matches[-1])
            assert parsed.ok, (raw, parsed.error)
            assert parsed.model_points == [((x1 + x2) / 2, (y1 + y2) / 2)]
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            if cx > 0 and cy > 0:
                # Recover the screenshot size from the harness's own pixel prediction and
                # check that our mapping lands on exactly the same pixel.
                width = round(row["pred"][0] * 1000 / cx)
                height = round(row["pred"][1] * 1000 / cy)
                frame = CoordinateFrame(
                    family=ModelFamily.QWEN2_VL,
                    image_size=(width, height),
                    model_size=(width, height),
                )
                assert parse_answer(raw, frame).point == pytest.approx(row["pred"], abs=1e-6)
        else:
            errors += 1
            assert not parsed.ok and parsed.error, raw
    assert boxes == 1422 and errors == 159
