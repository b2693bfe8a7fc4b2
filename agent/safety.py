"""The confirmation policy: which actions need a person's yes before they are sent.

``confirm: never | risky | always``. Risky means an action whose effect is
hard to undo or leaves the task's scope: key combos that close, quit, delete or
log out; typing into a field the model or the step calls a password; opening
or launching an app. The policy covers what the *model* decides (goal mode);
scripted steps were written by the user, so they are asked about only under
``always``. The question is put by an `ask` callback (the CLI asks on the
terminal); without one, or when the answer is no, the action is not sent and
the step ends as "denied".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel

from actions.types import Action

ConfirmMode = Literal["never", "risky", "always"]
Ask = Callable[[str], bool]

# Combos are compared as sets of canonical key names (actions.keys).
RISKY_COMBOS: dict[frozenset[str], str] = {
    frozenset(k): why
    for k, why in (
        (("alt", "f4"), "closes the window"),
        (("ctrl", "q"), "quits the application"),
        (("super", "q"), "quits the application"),
        (("ctrl", "w"), "closes the window or tab"),
        (("ctrl", "shift", "w"), "closes the window"),
        (("ctrl", "shift", "q"), "quits the application"),
        (("ctrl", "f4"), "closes the document"),
        (("delete",), "deletes"),
        (("shift", "delete"), "deletes permanently"),
        (("ctrl", "delete"), "deletes"),
        (("super", "l"), "locks the session"),
        (("ctrl", "alt", "l"), "locks the session"),
        (("ctrl", "alt", "delete"), "logs out or restarts"),
        (("ctrl", "alt", "backspace"), "kills the display server"),
        (("ctrl", "alt", "end"), "logs out"),
        (("ctrl", "shift", "delete"), "clears browsing data"),
        (("power",), "turns the screen or device off"),
        (("sleep",), "suspends the device"),
    )
}
_PASSWORD = re.compile(r"pass\s*word|passwd|passcode|passphrase|\bpin\b|secret", re.IGNORECASE)


class Decision(BaseModel):
    """Whether an action may be sent, and whether someone was asked."""

    allowed: bool
    asked: bool = False
    reason: str | None = None


def risk_of(action: Action, *, context: str = "") -> str | None:
    """Why `action` is risky, or None. `context`: the model's answer or the step's words."""
    kind = action.type
    if kind == "key":
        why = RISKY_COMBOS.get(frozenset(action.keys))  # type: ignore[union-attr]
        return f"key {'+'.join(action.keys)} {why}" if why else None  # type: ignore[union-attr]
    if kind == "type" and _PASSWORD.search(context or ""):
        return "types into a field described as a password"
    if kind == "open_app":
        return f"opens the app {action.app!r}"  # type: ignore[union-attr]
    return None


class ConfirmPolicy:
    """Decides, and asks when the mode says so."""

    def __init__(self, mode: ConfirmMode = "risky", ask: Ask | None = None) -> None:
        self.mode: ConfirmMode = mode
        self.ask = ask

    def needs_asking(self, reason: str | None, *, planned: bool) -> bool:
        if self.mode == "never":
            return False
        if self.mode == "always":
            return True
        return planned and reason is not None

    def check(self, description: str, reason: str | None, *, planned: bool) -> Decision:
        """Ask about an action when needed.

        Args:
            description: what would be done, e.g. ``key(ctrl+q)``.
            reason: why it is risky (`risk_of`), or None.
            planned: True when the model chose the action (goal mode).
        """
        if not self.needs_asking(reason, planned=planned):
            return Decision(allowed=True, reason=reason)
        question = f"{description}" + (f" — {reason}" if reason else "")
        if self.ask is None:
            return Decision(
                allowed=False,
                reason=f"needs confirmation ({question}) and nobody can be asked; "
                "run with --confirm never to allow such actions",
            )
        answer = bool(self.ask(question))
        return Decision(
            allowed=answer, asked=True, reason=None if answer else "denied: " + question
        )


def launch_reason(target: str | list[str]) -> str:
    shown = target if isinstance(target, str) else " ".join(target)
    return f"opens an app: {shown}"
