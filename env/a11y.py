"""Accessibility elements: what an app says is on screen, and picking one by name.

GTK/Qt apps on Linux publish their widgets on the AT-SPI bus (`env.a11y_atspi`),
Android apps their view hierarchy (`env.a11y_android`). Both become `Element`s
with a box in *screenshot pixels* of the latest observation (the same frame the
model's points are in), so a step can act on a tree answer exactly as on a
model answer. `pick` answers only when exactly one usable element matches the
target; anything else falls through to the next locator with the reason.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LOCATORS: tuple[str, ...] = ("a11y", "cache", "model")
"""The default order in which a scripted target is looked for."""
DEFAULT_BUDGET = 0.5
"""Seconds one tree read may take before the step falls through to the next locator."""

# Target words that name a kind of widget, and the roles (AT-SPI role names, Android
# class tails) each one allows.
ROLE_WORDS: dict[str, tuple[str, ...]] = {
    "button": ("push button", "toggle button", "button", "imagebutton", "radio button"),
    "field": ("text", "entry", "password text", "edittext", "spin button", "combo box"),
    "box": ("text", "entry", "password text", "edittext", "combo box", "check box"),
    "checkbox": ("check box", "checkbox", "check menu item", "switch"),
    "switch": ("switch", "toggle button", "check box", "checkbox"),
    "tab": ("page tab", "tab"),
    "menu": ("menu", "menu item", "menu bar", "check menu item", "radio menu item"),
    "link": ("link", "textview"),
    "icon": ("icon", "image", "imageview", "imagebutton", "push button"),
    "slider": ("slider", "seekbar"),
}
ROLE_ALIASES = {"check box": "checkbox", "text field": "field", "menu item": "menu"}
_SPACE = re.compile(r"\s+")


class Element(BaseModel):
    """One widget as the app describes it.

    `box` is (x1, y1, x2, y2) in screenshot pixels; None when the app gave no
    extents (only names were read). `target` is the widget a label names (GTK
    LABEL_FOR, Android's nearest clickable ancestor), used instead of the label.
    """

    model_config = ConfigDict(extra="forbid")

    role: str
    name: str = ""
    description: str = ""
    states: list[str] = Field(default_factory=list)
    box: tuple[int, int, int, int] | None = None
    source: Literal["atspi", "android"]
    app: str = ""
    target: Element | None = None
    ref: str = Field("", exclude=True, description="reader's handle (bus name + path)")

    @property
    def center(self) -> tuple[float, float]:
        assert self.box is not None  # pick() only returns elements with a box
        return (self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2

    def usable(self, size: tuple[int, int]) -> bool:
        """Visible, showing, enabled and with its centre on the screenshot."""
        states = set(self.states)
        if self.source == "atspi" and not {"visible", "showing"} <= states:
            return False
        if "enabled" not in states and "sensitive" not in states:
            return False
        if self.box is None or self.box[2] <= self.box[0] or self.box[3] <= self.box[1]:
            return False
        x, y = self.center
        return 0 <= x < size[0] and 0 <= y < size[1]

    def summary(self) -> str:
        box = "" if self.box is None else " at ({},{})-({},{})".format(*self.box)
        return f"{self.role} {self.name!r}{box}"


class Located(BaseModel):
    """Where a step's point came from: the locator and, for the tree, the element."""

    model_config = ConfigDict(extra="forbid")

    by: Literal["a11y", "cache", "model"]
    role: str | None = None
    name: str | None = None
    description: str | None = None
    box: tuple[int, int, int, int] | None = None
    seconds: float = 0.0
    fell_through: list[str] = Field(
        default_factory=list, description="why earlier locators gave no answer"
    )


def normalize(text: str) -> str:
    """Case- and space-insensitive form of a name or target."""
    return _SPACE.sub(" ", text).strip().casefold()


def split_target(target: str) -> tuple[str, tuple[str, ...] | None]:
    """("Save", roles allowed) from 'the "Save" button'; roles None when none is named."""
    text = normalize(target)
    roles: tuple[str, ...] | None = None
    for alias, word in ROLE_ALIASES.items():
        if text.endswith(" " + alias):
            text, roles = text[: -len(alias) - 1], ROLE_WORDS[word]
            break
    else:
        last = text.rsplit(" ", 1)
        if len(last) == 2 and last[1] in ROLE_WORDS:
            text, roles = last[0], ROLE_WORDS[last[1]]
    if text.startswith("the "):
        text = text[4:]
    text = text.strip().strip("'\"“”‘’").strip()
    return text, roles


def _role_ok(role: str, roles: tuple[str, ...] | None) -> bool:
    if roles is None:
        return True
    role = role.casefold()
    return any(role == r or role.endswith("." + r) for r in roles)


def name_matches(element: Element, text: str) -> bool:
    """The element's name, description (or content-desc) equals the target text."""
    return text != "" and text in (normalize(element.name), normalize(element.description))


def pick(elements: list[Element], target: str, size: tuple[int, int]) -> tuple[Element | None, str]:
    """The one usable element `target` names, or None and why not.

    A label that names another widget stands for that widget. Two matches that
    resolve to the same box (a row and its text) count as one.
    """
    text, roles = split_target(target)
    if not text:
        return None, "a11y: empty target"
    named = [e for e in elements if name_matches(e, text)]
    if not named:
        return None, f"a11y: no element named {text!r}"
    found: dict[tuple[int, int, int, int], Element] = {}
    for element in named:
        chosen = element.target if element.target is not None else element
        if not _role_ok(chosen.role, roles) and not _role_ok(element.role, roles):
            continue
        if chosen.usable(size) and chosen.box is not None:
            found.setdefault(chosen.box, chosen)
    if not found:
        return None, f"a11y: {len(named)} element(s) named {text!r}, none usable on screen"
    if len(found) > 1:
        return None, f"a11y: {len(found)} elements named {text!r} (ambiguous)"
    return next(iter(found.values())), ""
