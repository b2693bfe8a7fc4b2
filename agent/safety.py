"""The confirmation policy: which actions need a person's yes before they are sent.

``confirm: never | risky | always``. The policy judges every step whose
provenance is not the user's own (`agent.provenance`: a model's answer, an MCP
client, a folder from elsewhere); the user's scripted steps are asked about
only under ``always``. Under ``risky`` a judged action is risky (`risk_of`)
when it

* clicks a label that deletes, sends, pays, buys, orders, transfers, submits,
  uninstalls, formats, resets, signs out or throws work away, in English or
  Chinese (`agent.risk_labels`: the label under the point, read by OCR, or
  the model's own words for this action);
* presses a key combo that closes, quits, deletes, locks or ends the session,
  or opens a shell or a run dialog (`RISKY_COMBOS`), with or without more keys
  held (ctrl+shift+alt+backspace still holds ctrl+alt+backspace: `combo_risk`);
* presses Enter right after typing text (`Typed`): typing and submitting in two
  actions is judged as the one submission it is, like text with a line break;
* types or presses keys into a terminal window (the focused window's X11
  WM_CLASS, `TERMINAL_CLASSES`), types text with a line break (Enter submits
  or runs it), or types into a field the model calls a password;
* opens or launches an app.

When the label under a click cannot be read (no OCR extra), the click counts
as risky and the reason says so: the rule fails closed. Each action of a
multi-action answer is judged on its own (`action_texts`). The question is
put by an `ask` callback (the CLI asks on the terminal); without one, or when
the answer is no, the action is not sent and the step ends as "denied".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from actions.types import Action, Click, KeyCombo, Type
from actions.vocabulary import SPECS, spec_of
from agent.provenance import Provenance, trust

if TYPE_CHECKING:
    from env.base import Env

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
        (("ctrl", "alt", "t"), "opens a terminal"),
        (("super", "t"), "opens a terminal"),
        (("super", "enter"), "opens a terminal"),
        (("alt", "f2"), "opens a run-command dialog"),
        (("super", "r"), "opens a run-command dialog"),
        (("super", "x"), "opens the system menu (shell, shutdown)"),
        (("ctrl", "shift", "escape"), "opens the task manager"),
        (("super", "shift", "e"), "ends the session"),
        (("super", "shift", "q"), "closes the window"),
        (("power",), "turns the screen or device off"),
        (("sleep",), "suspends the device"),
        *((("ctrl", "alt", f"f{i}"), "switches to a text console") for i in range(1, 13)),
    )
}
SUBMIT_KEY = "enter"
_PASSWORD = re.compile(r"pass\s*word|passwd|passcode|passphrase|\bpin\b|secret", re.IGNORECASE)
TERMINAL_CLASSES = frozenset(
    name.lower()
    for name in (
        "xterm uxterm rxvt urxvt urxvt-unicode aterm eterm st st-256color gnome-terminal "
        "gnome-terminal-server org.gnome.terminal org.gnome.console kgx org.gnome.ptyxis "
        "ptyxis konsole xfce4-terminal lxterminal qterminal mate-terminal terminator tilix "
        "com.gexperts.tilix alacritty kitty foot footclient wezterm org.wezfurlong.wezterm "
        "sakura guake tilda terminology yakuake cool-retro-term deepin-terminal "
        "io.elementary.terminal blackbox com.raggesilver.blackbox contour"
    ).split()
)


def combo_risk(keys: list[str] | tuple[str, ...]) -> str | None:
    """Why pressing `keys` together is risky, or None.

    A combo is judged by what it holds, not by its exact set: pressing extra keys
    with a risky combo (another modifier, a second key) still sends that combo
    (ctrl+alt+shift+delete is ctrl+alt+delete to the system), so any combo that
    contains a risky one is risky; the largest risky combo it contains names the
    reason. Harmless combos stay harmless (ctrl+shift+t contains none).
    """
    pressed = frozenset(keys)
    found = [(combo, why) for combo, why in RISKY_COMBOS.items() if combo <= pressed]
    if not found:
        return None
    combo, why = max(found, key=lambda f: len(f[0]))
    return why


KEEPS_TYPED = frozenset(spec.type for spec in SPECS if spec.keeps_typed)
"""Action types after which an Enter still submits what was typed (their entries say so)."""


class Typed:
    """Text typed since the last submission or click: what an Enter would submit.

    The one place this state lives (a `Session` holds one). `note` follows every
    action judged; `risk_of(..., typed=...)` reads `text`.
    """

    def __init__(self) -> None:
        self.text = ""

    def note(self, action: Action) -> None:
        kind = getattr(action, "type", None)
        if kind == "type":
            text = self.text + action.text  # type: ignore[union-attr]
            self.text = re.split(r"[\r\n]", text)[-1]  # a line break submitted what came before
        elif kind == "key":
            if SUBMIT_KEY in action.keys:  # type: ignore[union-attr]
                self.text = ""
        elif kind not in KEEPS_TYPED:
            self.text = ""  # a click, a drag, an app opened: the focus is elsewhere


def is_terminal(wm_class: tuple[str, ...] | None) -> bool:
    """Whether a window's WM_CLASS (instance, class) is a terminal emulator's."""
    return any(
        part.lower() in TERMINAL_CLASSES or "terminal" in part.lower() for part in wm_class or ()
    )


class Surroundings(BaseModel):
    """What the rules look at besides the action itself (see `look_around`)."""

    label_risk: str | None = None
    """Why the label under a click is risky (`agent.risk_labels.click_risk`)."""
    label_unreadable: str | None = None
    """Why the label under a click could not be read: the click then counts as risky."""
    window_class: tuple[str, ...] | None = None
    """WM_CLASS of the window that has the keyboard (X11), when it was read."""
    window_unreadable: str | None = None


def action_texts(raw: str, count: int) -> list[str]:
    """The part of a model answer behind each of its `count` actions, to judge each alone.

    With one ``<tool_call>`` block per action, action *i* gets its own block and
    the words written just before it; otherwise (one action, or blocks that do
    not line up with the actions) every action is judged by the whole answer.
    """
    parts = raw.split("<tool_call>")
    if count <= 1 or len(parts) - 1 != count:
        return [raw] * count
    texts = []
    for i in range(count):
        before = parts[i].split("</tool_call>", 1)[-1]
        texts.append(before + "<tool_call>" + parts[i + 1].split("</tool_call>", 1)[0])
    return texts


def look_around(env: Env | None, image: Any, action: Action) -> Surroundings:
    """Read what the rules for `action` need: the label under a click, the focused window.

    Costs an OCR of a strip around the point for clicks (0.6-1 s measured on two
    busy cores) and one X11 round trip for keys and typing; called only when the
    policy judges the action.
    """
    seen = Surroundings()
    if isinstance(action, Click) and action.button != "right" and image is not None:
        from agent.risk_labels import click_risk

        seen.label_risk, seen.label_unreadable = click_risk(image, action.x, action.y)
    if spec_of(action).keystrokes and env is not None:
        try:
            seen.window_class = env.focused_window_class()
        except Exception as exc:  # no X connection: say so rather than guess
            seen.window_unreadable = f"cannot tell which window has the keyboard: {exc}"
    return seen


class Decision(BaseModel):
    """Whether an action may be sent, and whether someone was asked."""

    allowed: bool
    asked: bool = False
    reason: str | None = None


def risk_of(
    action: Action, *, context: str = "", seen: Surroundings | None = None, typed: str = ""
) -> str | None:
    """Why `action` is risky, or None.

    Args:
        context: the model's words for this action (`action_texts`), or the step's words.
        seen: what `look_around` read on the screen; without it only the action and
            the words are judged.
        typed: text typed since the last submission or click (`Typed.text`): an
            Enter after it submits it.
    """
    seen = seen or Surroundings()
    if isinstance(action, (Type, KeyCombo)):
        if is_terminal(seen.window_class):
            return f"sends keys to a terminal window ({'/'.join(seen.window_class or ())})"
        if seen.window_unreadable:
            return seen.window_unreadable
    if isinstance(action, KeyCombo):  # a held combo does what a pressed one does
        why = combo_risk(action.keys)
        if why:
            return f"key {action.combo} {why}"
        if SUBMIT_KEY in action.keys and typed:
            return f"key {action.combo} right after typing text submits or runs what was typed"
        return None
    if isinstance(action, Type):
        if re.search(r"[\r\n]", action.text):
            return "types a line break (Enter submits or runs what was typed)"
        if _PASSWORD.search(context or ""):
            return "types into a field described as a password"
        return None
    if isinstance(action, Click) and action.button != "right":
        if seen.label_risk:
            return seen.label_risk
        from agent.risk_labels import text_risk

        said = text_risk(context or "")
        if said:
            return f"clicks what the model describes as: {said}"
        if seen.label_unreadable:
            return f"{seen.label_unreadable} (a click on an unread label counts as risky)"
        return None
    if action.type == "open_app":
        return f"opens the app {action.app!r}"  # type: ignore[union-attr]
    return None


class ConfirmPolicy:
    """Decides, and asks when the mode says so."""

    def __init__(self, mode: ConfirmMode = "risky", ask: Ask | None = None) -> None:
        self.mode: ConfirmMode = mode
        self.ask = ask

    def judges(self, provenance: Provenance) -> bool:
        """Whether an action's risk decides (so that `look_around` is worth its cost)."""
        return self.mode == "risky" and trust(provenance).judged

    def needs_asking(self, reason: str | None, provenance: Provenance) -> bool:
        if self.mode == "never":
            return False
        if self.mode == "always":
            return True
        return trust(provenance).judged and reason is not None

    def check(self, description: str, reason: str | None, provenance: Provenance) -> Decision:
        """Ask about an action when needed.

        Args:
            description: what would be done, e.g. ``key(ctrl+q)``.
            reason: why it is risky (`risk_of`), or None.
            provenance: where the action came from; only the user's own steps go
                unjudged under ``risky``.
        """
        if not self.needs_asking(reason, provenance):
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
