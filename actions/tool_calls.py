"""Turn one Qwen tool call (function name + arguments) into an action.

Covers the verbs of both tools (computer_use and mobile_use, plus Qwen3-VL's
additions) and the real-world variants: the verb given as the function name
(``{"name": "left_click", "arguments": {"coordinate": [x, y]}}``) and the
arguments given as a bare point (``"arguments": [x, y]``). Coordinates are
mapped from model space to screenshot pixels through the frame, clamped.
"""

from __future__ import annotations

import math
from typing import Any

from actions.frames import CoordinateFrame
from actions.types import (
    Action,
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

Point = tuple[float, float]

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
TOOL_NAMES = ("computer_use", "mobile_use", "computer", "mobile")
MAX_SCROLL = 200
MAX_SCROLL_PIXELS = 100_000


class UnknownVerb(Exception):
    """The tool call names an action this toolkit does not know."""


def _point(value: Any, what: str) -> Point:
    if isinstance(value, dict):
        value = [value.get("x"), value.get("y")]
    if isinstance(value, str):
        import re

        value = [float(v) for v in re.findall(r"[-+]?\d+(?:\.\d+)?", value)]
    if (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        and all(math.isfinite(v) for v in value)
    ):
        return float(value[0]), float(value[1])
    raise UnknownVerb(f"{what} must be [x, y], got {value!r}")


def _number(value: Any, what: str, default: float | None = None) -> float:
    if value is None and default is not None:
        return default
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise UnknownVerb(f"{what} must be a number, got {value!r}")


def _nonzero(value: float, limit: int) -> int:
    """`value` rounded into -limit..limit, and never 0 (a scroll always moves)."""
    whole = int(max(-limit, min(limit, round(value))))
    return whole if whole else (1 if value > 0 else -1)


def build_action(
    name: str, args: Any, frame: CoordinateFrame, *, mobile: bool = False
) -> tuple[Action, list[Point]]:
    """Build the action a tool call describes.

    Returns:
        The action (screenshot pixels) and its raw model-space points.
    """
    if isinstance(args, (list, tuple)):
        args = {"coordinate": list(args)}
    if not isinstance(args, dict):
        raise UnknownVerb(f"tool call arguments must be an object, got {args!r}")
    verb = args.get("action")
    if not verb:
        verb = name if name and name not in TOOL_NAMES else ("click" if mobile else "left_click")
    verb = str(verb).strip().lower()
    points: list[Point] = []

    def at(key: str = "coordinate") -> Point:
        if key not in args:
            raise UnknownVerb(f"{verb} needs {key}")
        point = _point(args[key], key)
        points.append(point)
        return frame.model_to_image(*point)

    if verb in CLICK_VERBS:
        button, count = CLICK_VERBS[verb]
        x, y = at()
        return Click(x=x, y=y, button=button, count=count), points  # type: ignore[arg-type]
    if verb in ("mouse_move", "move", "hover"):
        x, y = at()
        return Move(x=x, y=y), points
    if verb in ("left_click_drag", "drag"):
        if "start_coordinate" in args or "coordinate2" in args:
            start_key = "start_coordinate" if "start_coordinate" in args else "coordinate"
            end_key = "coordinate" if start_key == "start_coordinate" else "coordinate2"
            sx, sy = at(start_key)
            ex, ey = at(end_key)
            return Drag(x=sx, y=sy, to_x=ex, to_y=ey), points
        ex, ey = at()
        return Drag(to_x=ex, to_y=ey), points
    if verb == "swipe":
        sx, sy = at()
        ex, ey = at("coordinate2")
        seconds = _number(args.get("time"), "time", 0.3)
        return Swipe(x=sx, y=sy, to_x=ex, to_y=ey, duration=min(max(seconds, 0.05), 60)), points
    if verb == "long_press":
        x, y = at()
        seconds = _number(args.get("time"), "time", 1.0)
        return LongPress(x=x, y=y, duration=min(max(seconds, 0.05), 60)), points
    if verb in ("scroll", "hscroll"):
        axis = "horizontal" if verb == "hscroll" else "vertical"
        if "pixels" in args:
            # computer_use asks for a distance in pixels of the image the model saw: the
            # action holds it in screenshot pixels, the env turns it into wheel notches.
            model_pixels = _number(args["pixels"], "pixels")
            side = 0 if axis == "horizontal" else 1
            pixels = model_pixels * frame.image_size[side] / frame.model_size[side]
            size: dict[str, int] = {"pixels": _nonzero(pixels, MAX_SCROLL_PIXELS)}
        else:  # UI-TARS' scroll(direction) and plain "amount": wheel notches
            size = {"amount": _nonzero(_number(args.get("amount"), "amount"), MAX_SCROLL)}
        if "coordinate" in args:
            x, y = at()
            return Scroll(x=x, y=y, axis=axis, **size), points
        return Scroll(axis=axis, **size), points
    if verb == "type":
        return Type(text=str(args.get("text", ""))), points
    if verb in ("key", "hotkey", "keypress"):
        keys = args.get("keys", args.get("text", args.get("key")))
        return Key(keys=keys), points
    if verb == "wait":
        return Wait(seconds=min(_number(args.get("time"), "time", 1.0), 3600)), points
    if verb in ("terminate", "answer", "finished"):
        status = str(args.get("status", "success")).lower()
        answer = args.get("answer", args.get("text"))
        return Terminate(
            status="failure" if status == "failure" else "success",
            answer=None if answer is None else str(answer),
        ), points
    if verb == "system_button":
        return SystemButton(button=str(args.get("button", ""))), points
    if verb in ("open", "open_app"):
        return OpenApp(app=str(args.get("text", args.get("app", args.get("app_name", ""))))), points
    raise UnknownVerb(f"unknown action {verb!r}")
