"""How each action type is read from and written in the models' own words.

The readers build an action from one tool call's arguments (Qwen computer_use /
mobile_use, UI-TARS translated to them); the writers render an action back as a tool
call or a UI-TARS call. `actions.vocabulary` names them in each type's entry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actions.call_args import (
    MAX_SCROLL,
    MAX_SCROLL_PIXELS,
    CallArgs,
    model_point,
    nonzero,
    uitars_point,
)
from actions.frames import CoordinateFrame
from actions.types import (
    Action,
    Click,
    Drag,
    HoldKey,
    Key,
    LongPress,
    Move,
    Scroll,
    Swipe,
    SystemButton,
    Terminate,
)

Reader = Callable[[CallArgs], Action]
"""Builds the action from one tool call's arguments (the verb is `CallArgs.verb`)."""
Writer = Callable[[Any, CoordinateFrame], dict[str, Any]]
"""The tool-call arguments that describe an action, in the model's space."""
UitarsWriter = Callable[[Any, CoordinateFrame], str]
"""The action as a UI-TARS-1.5 call (``click(point='<point>x y</point>')``)."""


CLICK_VERBS: dict[str, tuple[str, int]] = {
    "left_click": ("left", 1),
    "click": ("left", 1),
    "tap": ("left", 1),
    "right_click": ("right", 1),
    "middle_click": ("middle", 1),
    "double_click": ("left", 2),
    "double_tap": ("left", 2),
    "triple_click": ("left", 3),
}
CLICK_NAMES = {
    ("left", 1): "left_click",
    ("left", 2): "double_click",
    ("left", 3): "triple_click",
    ("right", 1): "right_click",
    ("middle", 1): "middle_click",
}
PHONE_BUTTONS = {"back": "Back", "home": "Home", "menu": "Menu", "enter": "Enter"}


def read_click(c: CallArgs) -> Click:
    button, count = CLICK_VERBS[c.verb]
    x, y = c.at()
    return Click(x=x, y=y, button=button, count=count)  # type: ignore[arg-type]


def uitars_click(a: Click, f: CoordinateFrame) -> str:
    verb = "right_single" if a.button == "right" else {2: "left_double"}.get(a.count, "click")
    return f"{verb}(point='{uitars_point(f, a.x, a.y)}')"


def read_move(c: CallArgs) -> Move:
    x, y = c.at()
    return Move(x=x, y=y)


def read_drag(c: CallArgs) -> Drag:
    if c.has("start_coordinate") or c.has("coordinate2"):
        start_key = "start_coordinate" if c.has("start_coordinate") else "coordinate"
        end_key = "coordinate" if start_key == "start_coordinate" else "coordinate2"
        sx, sy = c.at(start_key)
        ex, ey = c.at(end_key)
        return Drag(x=sx, y=sy, to_x=ex, to_y=ey)
    ex, ey = c.at()
    return Drag(to_x=ex, to_y=ey)


def uitars_drag(a: Drag | Swipe, f: CoordinateFrame) -> str:
    if a.x is None or a.y is None:
        raise ValueError("UI-TARS has no drag without a start point")
    start, end = uitars_point(f, a.x, a.y), uitars_point(f, a.to_x, a.to_y)
    return f"drag(start_point='{start}', end_point='{end}')"


def read_swipe(c: CallArgs) -> Swipe:
    sx, sy = c.at()
    ex, ey = c.at("coordinate2")
    seconds = min(max(c.number("time", 0.3), 0.05), 60)
    return Swipe(x=sx, y=sy, to_x=ex, to_y=ey, duration=seconds)


def read_long_press(c: CallArgs) -> LongPress:
    x, y = c.at()
    return LongPress(x=x, y=y, duration=min(max(c.number("time", 1.0), 0.05), 60))


def read_scroll(c: CallArgs) -> Scroll:
    axis = "horizontal" if c.verb == "hscroll" else "vertical"
    side = 0 if axis == "horizontal" else 1
    if c.has("pixels"):
        # computer_use asks for a distance in pixels of the image the model saw: the
        # action holds it in screenshot pixels, the env turns it into wheel notches.
        pixels = c.number("pixels") * c.frame.image_size[side] / c.frame.model_size[side]
        size: dict[str, int] = {"pixels": nonzero(pixels, MAX_SCROLL_PIXELS)}
    else:  # UI-TARS' scroll(direction) and plain "amount": wheel notches
        size = {"amount": nonzero(c.number("amount"), MAX_SCROLL)}
    if c.has("coordinate"):
        x, y = c.at()
        return Scroll(x=x, y=y, axis=axis, **size)
    return Scroll(axis=axis, **size)


def computer_scroll(a: Scroll, f: CoordinateFrame) -> dict[str, Any]:
    if a.pixels is not None:  # back into pixels of the image the model saw
        side = 0 if a.axis == "horizontal" else 1
        pixels = round(a.pixels * f.model_size[side] / f.image_size[side])
    else:
        pixels = a.amount
    args: dict[str, Any] = {"action": "scroll", "pixels": pixels}
    if a.x is not None and a.y is not None:
        args["coordinate"] = model_point(f, a.x, a.y)
    return args


def uitars_scroll(a: Scroll, f: CoordinateFrame) -> str:
    # UI-TARS scrolls by direction: a distance in pixels keeps only its sign
    positive = (a.amount if a.amount is not None else a.pixels or 0) > 0
    if a.axis == "horizontal":
        direction = "right" if positive else "left"
    else:
        direction = "up" if positive else "down"
    where = f"point='{uitars_point(f, a.x, a.y)}', " if a.x is not None and a.y is not None else ""
    return f"scroll({where}direction='{direction}')"


def read_key(c: CallArgs) -> Key:
    return Key(keys=c.get("keys", c.get("text", c.get("key"))))


def read_hold_key(c: CallArgs) -> HoldKey:
    keys = c.get("keys", c.get("text", c.get("key")))
    return HoldKey(keys=keys, seconds=min(max(c.number("time", 1.0), 0.05), 60))


def read_terminate(c: CallArgs) -> Terminate:
    status = str(c.get("status", "success")).lower()
    answer = c.get("answer", c.get("text"))
    return Terminate(
        status="failure" if status == "failure" else "success",
        answer=None if answer is None else str(answer),
    )


def mobile_system_button(a: SystemButton, f: CoordinateFrame) -> dict[str, Any]:
    if a.button not in PHONE_BUTTONS:
        return {"action": "key", "text": a.button}
    return {"action": "system_button", "button": PHONE_BUTTONS[a.button]}


def uitars_system_button(a: SystemButton, f: CoordinateFrame) -> str:
    return {"home": "press_home()", "back": "press_back()"}.get(
        a.button, f"hotkey(key='{a.button}')"
    )


def short(text: str) -> str:
    return f"{text[:60]!r}" + ("..." if len(text) > 60 else "")


def point_args(verb: str) -> Writer:
    return lambda a, f: {"action": verb, "coordinate": model_point(f, a.x, a.y)}
