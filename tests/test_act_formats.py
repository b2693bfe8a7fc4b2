"""Goal mode per profile: history in each model's own words, read back by the same parser,
and the refusal of a goal for a profile that cannot plan (before anything is sent)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from actions.answer_formats import parse_model_answer
from actions.frames import CoordinateFrame
from actions.project_errors import InputError
from actions.types import (
    Click,
    Key,
    LongPress,
    OpenApp,
    Scroll,
    Swipe,
    SystemButton,
    Terminate,
    Type,
)
from agent.loop import run_goal
from agent.models.act_formats import history_text, uitars_call
from agent.models.load import load_model
from agent.models.profiles import get_profile
from agent.models.spec import ModelSpec
from tests.test_models_openai import FakeServer


def frame(name: str, screen=(1920, 1080), mobile=False) -> CoordinateFrame:
    profile = get_profile(name)
    low, high = profile.pixel_limits()
    return profile.frame_for(screen, min_pixels=low, max_pixels=high, kind="act", mobile=mobile)


DESKTOP = [
    Click(x=100, y=200),
    Click(x=100, y=200, count=2),
    Click(x=100, y=200, button="right"),
    Type(text="it's\na test"),
    Key(keys=["ctrl", "s"]),
    Scroll(x=500, y=500, amount=-5),
    Terminate(status="success", answer="done"),
]
PHONE = [
    Click(x=540, y=1200),
    LongPress(x=540, y=1200),
    Swipe(x=540, y=1800, to_x=540, to_y=600),
    OpenApp(app="Settings"),
    SystemButton(button="home"),
    SystemButton(button="back"),
]


def same(a, b) -> bool:
    """The same action, points within one resized pixel's worth of the screen."""
    if type(a) is not type(b):
        return False
    da, db = a.model_dump(), b.model_dump()
    for key in da:
        if isinstance(da[key], float) and key in ("x", "y", "to_x", "to_y"):
            if abs(da[key] - db[key]) > 2.0:
                return False
        elif key not in ("duration", "seconds") and da[key] != db[key]:
            return False
    return True


@pytest.mark.parametrize("action", DESKTOP)
def test_ui_tars_history_reads_back_as_the_same_action(action):
    f = frame("ui-tars-1.5")
    text = history_text(get_profile("ui-tars-1.5"), action, f)
    assert text.startswith("Action: ")
    parsed = parse_model_answer(text, f)
    assert parsed.ok, (text, parsed.error)
    back = parsed.actions[0]
    if isinstance(action, Scroll):  # UI-TARS scrolls by direction: the sign survives
        assert isinstance(back, Scroll) and back.amount < 0 and back.x == pytest.approx(500, abs=2)
    else:
        assert same(back, action), (text, back)


@pytest.mark.parametrize("action", PHONE)
def test_ui_tars_mobile_history_reads_back(action):
    f = frame("ui-tars-1.5", (1080, 2400), mobile=True)
    text = history_text(get_profile("ui-tars-1.5"), action, f, mobile=True)
    back = parse_model_answer(text, f, mobile=True).actions[0]
    assert same(back, action), (text, back)


def test_ui_tars_points_are_resized_pixels():
    f = frame("ui-tars-1.5")  # 1920x1080 -> 1316x728
    text = uitars_call(Click(x=960, y=540), f)
    assert text == "click(point='<point>658 364</point>')"


@pytest.mark.parametrize("name", ["qwen3-vl", "gui-owl-1.5", "qwen2.5-vl"])
def test_tool_call_history_is_in_the_profile_space(name):
    f = frame(name)
    text = history_text(get_profile(name), Click(x=960, y=540), f)
    expected = "[658, 364]" if name == "qwen2.5-vl" else "[500, 500]"
    assert expected in text
    back = parse_model_answer(text, f).actions[0]
    assert (back.x, back.y) == pytest.approx((960, 540), abs=2)


def test_qwen3_mobile_history_uses_999_units():
    f = frame("qwen3-vl", (1080, 2400), mobile=True)
    text = history_text(get_profile("qwen3-vl"), Click(x=540, y=1200), f, mobile=True)
    assert '"coordinate": [500, 500]' in text  # 540/1080*999 = 499.5 -> 500
    assert '"name": "mobile_use"' in text


def test_a_goal_for_a_grounding_only_profile_sends_nothing():
    pytest.importorskip("openai")
    server = FakeServer()
    try:
        spec = ModelSpec(backend="openai", model="Tongyi-MAI/MAI-UI-8B", base_url=server.base_url)
        session = SimpleNamespace(model=load_model(spec), mobile=False)
        with pytest.raises(InputError, match="mai-ui cannot plan .* qwen2.5-vl, qwen3-vl"):
            run_goal(session, "Save the file")  # type: ignore[arg-type]
        assert server.requests == []
    finally:
        server.close()


def test_frames_written_before_profiles_still_load():
    old = {"family": "qwen3-vl", "image_size": [1920, 1080], "model_size": [1504, 832]}
    f = CoordinateFrame.model_validate(old)
    assert f.space.value == "rel1000" and f.factor == 32
    assert f.model_to_image(500, 500) == pytest.approx((960, 540))
    plain = CoordinateFrame.model_validate({"image_size": [10, 10], "model_size": [28, 28]})
    assert plain.space.value == "pixels" and plain.factor == 28
    with pytest.raises(Exception, match="unknown model family"):
        CoordinateFrame.model_validate({**old, "family": "gpt"})
