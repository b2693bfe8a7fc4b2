"""The confirmation policy: what counts as risky, who is asked, what happens on no."""

from __future__ import annotations

import time

import pytest

from actions.types import Click, Key, OpenApp, Type
from agent.provenance import Provenance
from agent.safety import (
    ConfirmPolicy,
    Surroundings,
    Typed,
    action_texts,
    is_terminal,
    risk_of,
)


@pytest.mark.parametrize(
    ("action", "context", "risky"),
    [
        (Key(keys="alt+f4"), "", True),
        (Key(keys="ctrl+q"), "", True),
        (Key(keys="Control+Shift+W"), "", True),
        (Key(keys="super+l"), "", True),
        (Key(keys="shift+Delete"), "", True),
        (Key(keys="ctrl+s"), "", False),
        (Key(keys="enter"), "", False),
        (Type(text="hunter2"), "the Password field", True),
        (Type(text="hunter2"), '{"action": "type", "text": "x"} into passcode box', True),
        (Type(text="hello"), "the Name field", False),
        (OpenApp(app="Settings"), "", True),
        (Click(x=1, y=2), "I will click 'Delete' to delete everything", True),
        (Click(x=1, y=2), "open the Order history tab", False),
        (Click(x=1, y=2), "", False),
        (Click(x=1, y=2, button="right"), "Delete", False),  # a context menu opens, no more
        (Key(keys="ctrl+alt+t"), "", True),
        (Key(keys="alt+F2"), "", True),
        (Key(keys="win+r"), "", True),
        (Key(keys="ctrl+alt+del"), "", True),
        (Key(keys="ctrl+alt+f3"), "", True),
        (Key(keys="super+l"), "", True),
        (Type(text="ls -la\n"), "", True),
        (Type(text="first line\r"), "", True),
        (Type(text="ls -la"), "", False),
    ],
)
def test_risk_of(action, context: str, risky: bool) -> None:
    assert (risk_of(action, context=context) is not None) is risky


@pytest.mark.parametrize(
    ("combo", "risky"),
    [
        # an extra modifier (or key) does not take a combo out of its rule (issue 19.10)
        ("ctrl+shift+alt+backspace", True),
        ("ctrl+alt+shift+delete", True),
        ("super+shift+l", True),
        ("ctrl+shift+alt+t", True),
        ("alt+shift+f4", True),
        ("ctrl+super+q", True),
        ("alt+f4+a", True),
        ("ctrl+shift+delete", True),
        # combos that contain no risky combo stay allowed
        ("ctrl+shift+t", False),
        ("ctrl+t", False),
        ("shift+tab", False),
        ("ctrl+shift+z", False),
        ("ctrl+alt+left", False),
        ("alt+tab", False),
        ("ctrl+backspace", False),
        ("super", False),
    ],
)
def test_combos_are_judged_by_what_they_hold(combo: str, risky: bool) -> None:
    assert (risk_of(Key(keys=combo)) is not None) is risky, combo


def test_the_largest_risky_combo_held_names_the_reason() -> None:
    assert "kills the display server" in str(risk_of(Key(keys="ctrl+shift+alt+backspace")))
    assert "deletes permanently" in str(risk_of(Key(keys="shift+delete")))


def test_enter_after_typed_text_is_one_submission() -> None:
    typed = Typed()
    assert risk_of(Key(keys="enter"), typed=typed.text) is None  # nothing typed: harmless
    typed.note(Type(text="rm -rf ~"))
    assert "right after typing text" in str(risk_of(Key(keys="enter"), typed=typed.text))
    assert risk_of(Key(keys="kp_enter"), typed=typed.text) is not None
    assert risk_of(Key(keys="ctrl+enter"), typed=typed.text) is not None
    assert risk_of(Key(keys="tab"), typed=typed.text) is None
    typed.note(Key(keys="tab"))  # focus moved on in the same form: Enter still submits it
    assert risk_of(Key(keys="enter"), typed=typed.text) is not None
    typed.note(Key(keys="enter"))  # submitted: the next Enter submits nothing typed
    assert risk_of(Key(keys="enter"), typed=typed.text) is None
    typed.note(Type(text="abc"))
    typed.note(Click(x=1, y=2))  # a click puts the focus elsewhere
    assert risk_of(Key(keys="enter"), typed=typed.text) is None
    typed.note(Type(text="first\n"))  # the line break already submitted it
    assert typed.text == ""
    typed.note(Type(text="a\nb"))
    assert typed.text == "b"


def test_policy_asks_about_planned_risky_actions_only() -> None:
    questions: list[str] = []
    policy = ConfirmPolicy("risky", lambda q: questions.append(q) or False)
    assert policy.check("key(ctrl+s)", None, Provenance.MODEL).allowed
    assert policy.check("key(ctrl+q)", "quits", Provenance.USER).allowed  # the user wrote it
    decision = policy.check("key(ctrl+q)", "quits", Provenance.MODEL)
    assert not decision.allowed and decision.asked and questions == ["key(ctrl+q) — quits"]


def test_always_asks_about_everything_and_never_asks_nothing() -> None:
    asked: list[str] = []
    always = ConfirmPolicy("always", lambda q: asked.append(q) or True)
    assert always.check("click(x=1, y=2)", None, Provenance.USER).allowed and asked
    never = ConfirmPolicy("never", lambda q: pytest.fail("must not ask"))
    assert never.check("key(alt+f4)", "closes", Provenance.MODEL).allowed


def test_nobody_to_ask_means_no() -> None:
    decision = ConfirmPolicy("risky", None).check("key(alt+f4)", "closes", Provenance.MODEL)
    assert not decision.allowed and "--confirm never" in decision.reason


def test_terminal_windows_are_recognised_by_their_wm_class() -> None:
    assert is_terminal(("xterm", "XTerm"))
    assert is_terminal(("gnome-terminal-server", "Gnome-terminal"))
    assert is_terminal(("kitty", "kitty")) and is_terminal(("Alacritty", "Alacritty"))
    assert not is_terminal(("Navigator", "firefox")) and not is_terminal(())
    into_terminal = Surroundings(window_class=("xterm", "XTerm"))
    assert "terminal" in risk_of(Type(text="ls"), seen=into_terminal)
    assert "terminal" in risk_of(Key(keys="enter"), seen=into_terminal)
    assert risk_of(Type(text="ls"), seen=Surroundings(window_class=("gedit", "Gedit"))) is None


def test_an_unreadable_label_fails_closed_and_says_why() -> None:
    hint = "rapidocr is not installed; install it with: pip install 'screenpilot[ocr]'"
    seen = Surroundings(label_unreadable=f"cannot read the label under the click: {hint}")
    why = risk_of(Click(x=5, y=5), seen=seen)
    assert why is not None and "screenpilot[ocr]" in why
    decision = ConfirmPolicy("risky", None).check("click(x=5, y=5)", why, Provenance.MODEL)
    assert not decision.allowed and "screenpilot[ocr]" in decision.reason


def test_each_action_of_an_answer_gets_its_own_words() -> None:
    raw = (
        'First I open the list.\n<tool_call>\n{"name": "computer_use", "arguments": '
        '{"action": "left_click", "coordinate": [10, 20]}}\n</tool_call>\n'
        'Then I press \'Delete\'.\n<tool_call>\n{"name": "computer_use", "arguments": '
        '{"action": "left_click", "coordinate": [30, 40]}}\n</tool_call>'
    )
    first, second = action_texts(raw, 2)
    assert "open the list" in first and "Delete" not in first
    assert "Delete" in second and "open the list" not in second
    assert risk_of(Click(x=10, y=20), context=first) is None
    assert risk_of(Click(x=30, y=40), context=second) is not None
    # blocks that do not line up with the actions: every action sees the whole answer
    assert action_texts(raw, 3) == [raw, raw, raw]


# -- on a real screen: Tk apps on Xvfb, a scripted model, confirm: risky, nobody to ask --------
LABELS = ("Delete", "Place order", "Order history", "删除", "Sign-out", "退出")
FRAME_SIZE = (1920, 1080)  # the session's Xvfb


def model_point(x: float, y: float) -> list[int]:
    from actions.frames import CoordinateFrame

    mx, my = CoordinateFrame.for_image(FRAME_SIZE).image_to_model(x, y)
    return [round(mx), round(my)]


def click_at(app, widget: str) -> str:
    from tests.test_loop import tool_call

    return tool_call("left_click", coordinate=model_point(*app.center(widget)))


def goal(env, answers: list[str], tmp_path, ask=None, name: str = "run") -> None:
    from agent.loop import run_goal
    from agent.session import Session
    from agent.trajectory import RunInfo, RunWriter
    from tests.test_loop import ScriptedModel, tool_call

    writer = RunWriter(tmp_path / name, RunInfo(name="safety", platform="desktop"))
    policy = ConfirmPolicy("risky", ask)
    model = ScriptedModel([*answers, tool_call("terminate", status="success")])
    run_goal(Session(env, model, writer=writer, policy=policy), "do it", max_steps=len(answers) + 1)


@pytest.fixture
def labelled_app(xvfb, tmp_path):
    pytest.importorskip("rapidocr")
    from tests.fixtures.display import start_event_app

    extra = tuple(arg for label in LABELS for arg in ("--button", label))
    app = start_event_app(tmp_path / "events.jsonl", display=xvfb.name, extra=extra)
    yield app
    app.stop()


@pytest.fixture
def desktop(xvfb):
    from env.desktop import DesktopEnv

    with DesktopEnv(settle=0.2) as env:
        yield env


def pressed(app, since: int = 0) -> list[str]:
    time.sleep(0.3)  # let the app log what it received
    return [e["widget"] for e in app.events("press", since)] + [
        e["name"] for e in app.events("button", since)
    ]


@pytest.mark.parametrize("label", ["Delete", "Place order", "删除", "Sign-out", "退出"])
def test_a_click_on_a_risky_label_is_refused_and_nothing_is_sent(
    labelled_app, desktop, tmp_path, label
) -> None:
    from agent.errors import ActionDenied

    with pytest.raises(ActionDenied) as info:
        goal(desktop, [click_at(labelled_app, f"button:{label}")], tmp_path)
    assert "nobody can be asked" in str(info.value) and "clicks a label that" in str(info.value)
    assert pressed(labelled_app) == []


def test_safe_labels_pass_and_a_yes_sends_a_risky_one(labelled_app, desktop, tmp_path) -> None:
    goal(desktop, [click_at(labelled_app, "button:Order history"), click_at(labelled_app, "ok")],
         tmp_path)  # fmt: skip
    assert pressed(labelled_app).count("Order history") == 1
    assert "ok" in pressed(labelled_app)
    asked: list[str] = []
    mark = labelled_app.mark()
    goal(desktop, [click_at(labelled_app, "button:Delete")], tmp_path,
         ask=lambda q: asked.append(q) or True, name="yes")  # fmt: skip
    assert len(asked) == 1 and "deletes ('Delete')" in asked[0]
    assert "Delete" in pressed(labelled_app, mark)


@pytest.mark.parametrize("combo", [["ctrl", "alt", "t"], ["alt", "f2"], ["super", "r"]])
def test_keys_that_open_a_shell_or_run_dialog_are_refused(
    labelled_app, desktop, tmp_path, combo
) -> None:
    from actions.types import Move
    from agent.errors import ActionDenied
    from tests.test_loop import tool_call

    desktop.act(Move(x=labelled_app.center("pad")[0], y=labelled_app.center("pad")[1]))
    mark = labelled_app.mark()
    with pytest.raises(ActionDenied, match="opens a"):
        goal(desktop, [tool_call("key", keys=combo)], tmp_path)
    time.sleep(0.3)
    assert labelled_app.events("key", mark) == []


def test_typing_into_a_terminal_window_is_refused_action_by_action(
    labelled_app, desktop, xvfb, tmp_path
) -> None:
    """One answer: move over a window whose WM_CLASS is XTerm's, then type. The move is
    sent, the typing is refused; typing into the ordinary app in the same way passes."""
    from agent.errors import ActionDenied
    from tests.fixtures.display import start_event_app
    from tests.test_loop import tool_call

    terminal = start_event_app(tmp_path / "terminal.jsonl", display=xvfb.name,
                               title="a terminal", geometry="560x420+1200+120",
                               extra=("--wm-class", "XTerm"))  # fmt: skip
    try:
        into_terminal = (
            tool_call("mouse_move", coordinate=model_point(*terminal.center("entry")))
            + "\n"
            + tool_call("type", text="rm -rf ~/tmp-stuff")
        )
        with pytest.raises(ActionDenied, match="terminal window"):
            goal(desktop, [into_terminal], tmp_path)
        time.sleep(0.3)
        assert terminal.events("key") == [] and terminal.text() is None
    finally:
        terminal.stop()
    into_app = click_at(labelled_app, "entry") + "\n" + tool_call("type", text="hello")
    goal(desktop, [into_app], tmp_path, name="app")
    labelled_app.wait_for(lambda e: e["event"] == "text" and e["value"] == "hello")


def test_text_with_a_line_break_is_refused(labelled_app, desktop, tmp_path) -> None:
    from agent.errors import ActionDenied
    from tests.test_loop import tool_call

    answer = click_at(labelled_app, "entry") + "\n" + tool_call("type", text="hello\n")
    with pytest.raises(ActionDenied, match="line break"):
        goal(desktop, [answer], tmp_path)
    time.sleep(0.3)
    assert labelled_app.events("key") == [] and labelled_app.text() is None


def test_typing_a_command_then_enter_in_two_actions_is_refused(
    labelled_app, desktop, tmp_path
) -> None:
    """`type "rm -rf ~"` then `key enter` as two answers: the Enter is judged with the text
    it submits, so it is refused and never reaches the app (issue 19.10)."""
    from agent.errors import ActionDenied
    from tests.test_loop import tool_call

    answers = [
        click_at(labelled_app, "entry") + "\n" + tool_call("type", text="rm -rf ~"),
        tool_call("key", keys=["enter"]),
    ]
    with pytest.raises(ActionDenied, match="right after typing text"):
        goal(desktop, answers, tmp_path)
    labelled_app.wait_for(lambda e: e["event"] == "text" and e["value"] == "rm -rf ~")
    time.sleep(0.3)
    keys = [e.get("keysym") or e.get("key") for e in labelled_app.events("key")]
    assert "Return" not in keys, keys
    # Enter alone, with nothing typed since the last click, is not a submission of text
    mark = labelled_app.mark()
    goal(desktop, [click_at(labelled_app, "entry"), tool_call("key", keys=["enter"])], tmp_path,
         name="plain")  # fmt: skip
    time.sleep(0.3)
    assert any("Return" in str(e) for e in labelled_app.events("key", mark))


def test_without_ocr_a_click_fails_closed_and_says_why(
    labelled_app, desktop, tmp_path, monkeypatch
) -> None:
    import collections
    import sys

    import agent.models.ocr as ocr
    from agent.errors import ActionDenied

    monkeypatch.setitem(sys.modules, "rapidocr", None)  # as if the ocr extra were missing
    monkeypatch.setattr(ocr, "_engine", None)
    monkeypatch.setattr(ocr, "_cache", collections.OrderedDict())
    with pytest.raises(ActionDenied) as info:
        goal(desktop, [click_at(labelled_app, "ok")], tmp_path)
    assert "cannot read the label" in str(info.value)
    assert "pip install 'screenpilot[ocr]'" in str(info.value)
    assert pressed(labelled_app) == []
