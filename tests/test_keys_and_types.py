"""The action union: validation that users and models run into."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from actions.keys import KeyNameError, normalize_key, parse_combo
from actions.types import Click, Drag, Key, Scroll, Swipe, SystemButton, parse_action


@pytest.mark.parametrize(
    ("combo", "keys"),
    [
        ("ctrl+shift+t", ["ctrl", "shift", "t"]),
        ("Control+S", ["ctrl", "s"]),
        ("ctrl++", ["ctrl", "+"]),
        ("alt tab", ["alt", "tab"]),
        ("Return", ["enter"]),
        ("KEYCODE_VOLUME_UP", ["volume_up"]),
        (["cmd", "c"], ["super", "c"]),
        (["ctrl+c"], ["ctrl", "c"]),
        ("F5", ["f5"]),
    ],
)
def test_combos_normalise(combo, keys):
    assert parse_combo(combo) == keys
    assert Key(keys=combo).keys == keys


@pytest.mark.parametrize("bad", ["", "   ", "ctrl+blorp", [], ["ctrl", ""]])
def test_bad_combos_are_rejected(bad):
    with pytest.raises((KeyNameError, ValidationError)):
        Key(keys=bad)


def test_single_characters_fold_case():
    assert normalize_key("A") == "a"
    assert normalize_key(" ") == "space"


def test_union_picks_the_class_by_tag():
    action = parse_action({"type": "click", "x": 5, "y": 6, "button": "right"})
    assert isinstance(action, Click) and action.button == "right"
    assert parse_action({"type": "system_button", "button": "Back"}) == SystemButton(button="back")


@pytest.mark.parametrize(
    "data",
    [
        {"type": "click", "x": -1, "y": 5},
        {"type": "click", "x": 1, "y": 5, "count": 4},
        {"type": "click", "x": 1, "y": 5, "colour": "red"},
        {"type": "scroll", "amount": 0},
        {"type": "scroll", "x": 3, "amount": 2},
        {"type": "type", "text": ""},
        {"type": "wait", "seconds": -1},
        {"type": "fly", "x": 1},
        {"type": "system_button", "button": "volume"},
    ],
)
def test_invalid_actions_fail_validation(data):
    with pytest.raises(ValidationError):
        parse_action(data)


def test_points_and_mapping():
    drag = Drag(x=1, y=2, to_x=3, to_y=4)
    assert drag.points() == [(1, 2), (3, 4)]
    moved = drag.map_points(lambda x, y: (x * 10, y * 10))
    assert moved.points() == [(10, 20), (30, 40)]
    assert Drag(to_x=3, to_y=4).points() == [(3, 4)]
    assert Scroll(amount=3).points() == []
    swipe = Swipe(x=0, y=0, to_x=9, to_y=9).map_points(lambda x, y: (x + 1, y + 1))
    assert swipe.points() == [(1, 1), (10, 10)]
