"""The action vocabulary: every layer's view of an action type comes from one declaration."""

from __future__ import annotations

import pytest

from actions.frames import CoordinateFrame
from actions.tool_calls import UnknownVerb, build_action
from actions.types import ACTION_TYPES, HoldKey, Scroll, SystemButton
from actions.vocabulary import SPECS, spec_of, supported_on
from agent.models.act_formats import uitars_call
from tasks.schema import ANDROID_ONLY, DESKTOP_ONLY, VERBS

FRAME = CoordinateFrame.for_image((1920, 1080), "ui-tars-1.5")


def test_each_action_type_is_declared_once() -> None:
    assert [spec.cls for spec in SPECS] != []
    assert sorted(spec.type for spec in SPECS) == sorted(
        cls.model_fields["type"].default for cls in ACTION_TYPES
    )


def test_a_pixel_scroll_is_written_for_ui_tars_by_its_sign() -> None:
    # before: `action.amount > 0` with amount None raised TypeError after the scroll was sent
    down = uitars_call(Scroll(x=960, y=540, pixels=-450), FRAME)
    up = uitars_call(Scroll(pixels=300, axis="horizontal"), FRAME)
    assert down.startswith("scroll(point='<point>") and down.endswith(", direction='down')")
    assert up == "scroll(direction='right')"


def test_an_action_ui_tars_cannot_say_is_an_error_not_a_wait() -> None:
    with pytest.raises(ValueError, match="UI-TARS-1.5 has no action for hold_key"):
        uitars_call(HoldKey(keys="shift", seconds=1), FRAME)


def test_unknown_model_verbs_are_refused_by_name() -> None:
    with pytest.raises(UnknownVerb, match="unknown action 'juggle'"):
        build_action("computer_use", {"action": "juggle"}, FRAME)


def test_platforms_and_task_verbs_come_from_the_declarations() -> None:
    assert "hold_key" in supported_on("desktop") and "hold_key" not in supported_on("android")
    assert "system_button" in supported_on("android") and "move" not in supported_on("android")
    assert DESKTOP_ONLY == ("double_click", "right_click", "hold_key")
    assert ANDROID_ONLY == ("swipe", "long_press")
    assert VERBS[0] == "launch" and VERBS[-3:] == ("wait_for", "assert", "goal")
    refusal = spec_of("system_button").refusal("desktop", SystemButton(button="back"))
    assert refusal == "system_button 'back' is a phone button; use key instead"
