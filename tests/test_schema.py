"""The computer_use / mobile_use tool text, derived from the action types."""

from __future__ import annotations

import json

import pytest

from actions.frames import CoordinateFrame
from actions.parse import parse_answer
from actions.tool_prompt import COMPUTER_VERBS, MOBILE_VERBS, system_prompt, to_tool_call, tool_spec
from actions.types import (
    Click,
    Drag,
    Key,
    LongPress,
    Move,
    OpenApp,
    Scroll,
    Swipe,
    SystemButton,
    Terminate,
    Type,
    Wait,
)


def test_system_prompt_has_the_cookbook_structure_and_announces_the_resized_size():
    text = system_prompt((1092, 2408), mobile=True)
    assert text.startswith("You are a helpful assistant.\n\n# Tools\n\n")
    assert "<tools>\n" in text and "\n</tools>\n\n" in text
    assert text.endswith(
        '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
    )
    tool = json.loads(text.split("<tools>\n", 1)[1].split("\n</tools>", 1)[0])
    assert tool["function"]["name"] == "mobile_use"
    assert "The screen's resolution is 1092x2408." in tool["function"]["description"]


def test_computer_use_enum_matches_qwen25_training_order():
    action = tool_spec((1932, 1092))["function"]["parameters"]["properties"]["action"]
    assert action["enum"] == [
        "key",
        "type",
        "mouse_move",
        "left_click",
        "left_click_drag",
        "right_click",
        "middle_click",
        "double_click",
        "scroll",
        "wait",
        "terminate",
    ]
    mobile = tool_spec((1092, 2408), mobile=True)["function"]["parameters"]["properties"]
    assert mobile["action"]["enum"] == [
        "key",
        "click",
        "long_press",
        "swipe",
        "type",
        "system_button",
        "open",
        "wait",
        "terminate",
    ]


def test_every_desktop_and_phone_action_type_has_a_verb():
    desktop = {t for v in COMPUTER_VERBS for t in v.produces}
    phone = {t for v in MOBILE_VERBS for t in v.produces}
    assert desktop == {Click, Move, Drag, Scroll, Type, Key, Wait, Terminate}
    assert phone == {Click, LongPress, Swipe, Type, Key, SystemButton, OpenApp, Wait, Terminate}


DESKTOP = [
    Click(x=100, y=200),
    Click(x=100, y=200, button="right"),
    Click(x=100, y=200, count=2),
    Move(x=5, y=6),
    Drag(to_x=300, to_y=400),
    Scroll(amount=-3),
    Scroll(x=10, y=10, amount=2),
    Scroll(x=10, y=10, pixels=-495),
    Type(text="héllo\nworld"),
    Key(keys="ctrl+s"),
    Wait(seconds=2),
    Terminate(status="failure"),
]
PHONE = [
    Click(x=540, y=1200),
    LongPress(x=540, y=1200, duration=2),
    Swipe(x=540, y=1800, to_x=540, to_y=600),
    Type(text="héllo; 你好"),
    Key(keys="volume_up"),
    SystemButton(button="home"),
    OpenApp(app="Settings"),
    Wait(seconds=1),
    Terminate(),
]


@pytest.mark.parametrize("action", DESKTOP)
def test_tool_call_round_trip_desktop(action):
    frame = CoordinateFrame.for_image((1920, 1080))
    parsed = parse_answer(to_tool_call(action, frame), frame)
    assert parsed.ok, parsed.error
    got = parsed.actions[0]
    assert got.type == action.type
    for (x, y), (gx, gy) in zip(action.points(), got.points(), strict=True):
        assert abs(gx - x) <= 1 and abs(gy - y) <= 1  # model space is integer pixels
    if isinstance(action, Scroll) and action.pixels is not None:
        assert got.pixels == action.pixels  # the history shows the model its own pixels


@pytest.mark.parametrize("action", PHONE)
def test_tool_call_round_trip_phone(action):
    frame = CoordinateFrame.for_image((1080, 2400))
    text = to_tool_call(action, frame, mobile=True)
    assert '"name": "mobile_use"' in text
    got = parse_answer(text, frame, mobile=True).actions[0]
    assert got.type == action.type
    flat = [v for point in got.points() for v in point]
    assert flat == pytest.approx([v for point in action.points() for v in point], abs=1)
