"""The confirmation policy: what counts as risky, who is asked, what happens on no."""

from __future__ import annotations

import pytest

from actions.types import Click, Key, OpenApp, Type
from agent.safety import ConfirmPolicy, risk_of


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
        (Click(x=1, y=2), "delete everything", False),
    ],
)
def test_risk_of(action, context: str, risky: bool) -> None:
    assert (risk_of(action, context=context) is not None) is risky


def test_policy_asks_about_planned_risky_actions_only() -> None:
    questions: list[str] = []
    policy = ConfirmPolicy("risky", lambda q: questions.append(q) or False)
    assert policy.check("key(ctrl+s)", None, planned=True).allowed
    assert policy.check("key(ctrl+q)", "quits", planned=False).allowed  # the user wrote it
    decision = policy.check("key(ctrl+q)", "quits", planned=True)
    assert not decision.allowed and decision.asked and questions == ["key(ctrl+q) — quits"]


def test_always_asks_about_everything_and_never_asks_nothing() -> None:
    asked: list[str] = []
    always = ConfirmPolicy("always", lambda q: asked.append(q) or True)
    assert always.check("click(x=1, y=2)", None, planned=False).allowed and asked
    never = ConfirmPolicy("never", lambda q: pytest.fail("must not ask"))
    assert never.check("key(alt+f4)", "closes", planned=True).allowed


def test_nobody_to_ask_means_no() -> None:
    decision = ConfirmPolicy("risky", None).check("key(alt+f4)", "closes", planned=True)
    assert not decision.allowed and "--confirm never" in decision.reason
